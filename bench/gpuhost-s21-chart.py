# Writes bench/results/gpuhost-h200-2026-12-01-s21.{json,png} from session 21's closing call
# (gpuhost-h200-2026-12-01-s21h.log: source limit, GPU writer, CPU path and DuckDB 1.5.5 in one
# call, two rounds, HEAD's code: receive buffers of 4 MiB where the GPU decodes, 2 MiB on the
# CPU; figures copied here by hand), bench/cpusplit's stage split of its round-1 profiles, and
# the receive-buffer comparison of s21g (GPU writer, three rounds, a source limit before each).
import json, os, sys
sys.path.insert(0, os.path.dirname(__file__))
from gpuhost_chart import derive, plot
GB = {"lineorder": 6.8105, "wide": 4.4385}
one_call = {
  "lineorder": {"source_limit_gbps": 1.993,
                "gpu_writer": {"wall_s": 4.68, "cpu_s": 8.3, "rss_gb": 0.78, "parquet_gb": 0.635},
                "cpu": {"wall_s": 5.56, "cpu_s": 33.8, "rss_gb": 0.72, "parquet_gb": 0.633},
                "duckdb_1.5.5": {"wall_s": 7.34, "cpu_s": 44.4, "rss_gb": 2.27, "parquet_gb": 0.696}},
  "wide": {"source_limit_gbps": 1.632,
           "gpu_writer": {"wall_s": 3.49, "cpu_s": 7.7, "rss_gb": 0.93, "parquet_gb": 0.665},
           "cpu": {"wall_s": 3.38, "cpu_s": 22.1, "rss_gb": 0.90, "parquet_gb": 0.617},
           "duckdb_1.5.5": {"wall_s": 5.73, "cpu_s": 29.1, "rss_gb": 3.31, "parquet_gb": 0.621}},
}
derive(one_call, GB)
round1 = {
  "lineorder": {"source_limit_gbps": 1.993,
                "gpu_writer": {"wall_s": 4.18, "cpu_s": 7.4, "rss_gb": 0.79},
                "cpu": {"wall_s": 4.80, "cpu_s": 29.6, "rss_gb": 0.74},
                "duckdb_1.5.5": {"wall_s": 6.78, "cpu_s": 40.9, "rss_gb": 2.09}},
  "wide": {"source_limit_gbps": 1.632,
           "gpu_writer": {"wall_s": 3.37, "cpu_s": 7.5, "rss_gb": 0.99},
           "cpu": {"wall_s": 3.88, "cpu_s": 25.1, "rss_gb": 0.86},
           "duckdb_1.5.5": {"wall_s": 6.22, "cpu_s": 32.7, "rss_gb": 3.15}}}
derive(round1, GB)
# s21g: x source limit of the same round, CPU-s per GB, peak RSS GiB; rounds 1, 2, 3.
buffers = {
  "lineorder": {"source_limit_gbps": [1.752, 1.883, 1.877],
                "4MiB x2 (HEAD on the GPU)": {"x_source_limit": [0.94, 0.92, 0.93], "cpu_s_per_gb": [1.10, 1.01, 1.04], "rss_gb": [0.79, 0.81, 0.81]},
                "2MiB x2": {"x_source_limit": [0.89, 0.83, 0.91], "cpu_s_per_gb": [1.17, 1.17, 1.08], "rss_gb": [0.58, 0.57, 0.57]},
                "2MiB x3": {"x_source_limit": [0.87, 0.86, 0.92], "cpu_s_per_gb": [1.16, 1.13, 1.08], "rss_gb": [0.65, 0.64, 0.62]}},
  "wide": {"source_limit_gbps": [1.957, 1.856, 1.834],
           "4MiB x2 (HEAD on the GPU)": {"x_source_limit": [0.75, 0.79, 0.81], "cpu_s_per_gb": [1.53, 1.63, 1.58], "rss_gb": [0.97, 0.94, 0.97]},
           "2MiB x2": {"x_source_limit": [0.69, 0.75, 0.76], "cpu_s_per_gb": [1.83, 1.70, 1.72], "rss_gb": [0.83, 0.87, 0.86]},
           "2MiB x3": {"x_source_limit": [0.71, 0.79, 0.77], "cpu_s_per_gb": [1.69, 1.66, 1.71], "rss_gb": [0.91, 0.91, 0.93]}}}
doc = {
  "host": "GPU host: 1x NVIDIA H200, 16 cores; PostgreSQL 15 on the same host (source limits 1.993 and 1.632 GB/s, measured once per table)",
  "date": "2026-12-01", "parallel": 16, "codec": "zstd", "rss_unit": "GiB (ru_maxrss / 2^20 KiB); 1 GiB = 1.074 GB",
  "code": "session 21 (e376b22): receive buffers of 4 MiB where the GPU may decode, 2 MiB on the CPU decoder; otherwise session 20's",
  "tables": {"lineorder": {"rows": 40000000, "copy_bytes": 6810548906},
             "wide": {"rows": 10000000, "copy_bytes": 4438469161, "shape": "bench/load --shape wide"}},
  "one_call (s21h round 2; round 1 had CPU profiles on)": one_call,
  "one_call_round_1": round1,
  "cpu_s_per_gb_by_stage (bench/cpusplit, round-1 profiles)": {
    "lineorder gpu_writer": {"receive": 0.37, "write": 0.15, "decode": 0.13, "encode": 0.12, "runtime": 0.12, "arrow": 0.03, "compress": 0.03},
    "wide gpu_writer": {"encode": 0.45, "decode": 0.32, "receive": 0.29, "write": 0.23, "runtime": 0.09, "compress": 0.05, "arrow": 0.02},
    "lineorder cpu": {"compress": 1.48, "encode": 1.01, "decode": 0.82, "boundaries": 0.47, "receive": 0.26, "write": 0.09, "arrow": 0.07, "runtime": 0.06},
    "wide cpu": {"compress": 2.61, "encode": 1.31, "decode": 0.81, "receive": 0.25, "boundaries": 0.20, "write": 0.20, "arrow": 0.09, "runtime": 0.05}},
  "gpu_writer_by_receive_buffers (s21g)": buffers,
  "pipeline_alone (s21e, lineorder)": {"2MiB buffers": {"gbps": 3.37, "cpu_s_per_gb": 0.54}, "4MiB buffers": {"gbps": 3.45, "cpu_s_per_gb": 0.44}},
}
base = "bench/results/gpuhost-h200-2026-12-01-s21"
json.dump(doc, open(base + ".json", "w"), indent=1)
plot(one_call, base + ".png", "pgparquet on one H200 + 16 cores, P=16, zstd (2026-12-01, s21h round 2)")
print("ok")
