# Writes bench/results/gpuhost-h200-2026-12-01-s20.{json,png} from session 20's closing call
# (gpuhost-h200-2026-12-01-s20h.log: source limit, GPU writer, CPU path and DuckDB 1.5.5 in one
# call, two rounds, HEAD's code: libzstd on the CPU, the GPU writer's fixed-width pages in 256
# KiB zstd frames; figures copied here by hand) and bench/cpusplit's stage split of its round-1
# profiles.
import json, os, sys
sys.path.insert(0, os.path.dirname(__file__))
from gpuhost_chart import derive, plot
GB = {"lineorder": 6.8105, "wide": 4.4385}
one_call = {
  "lineorder": {"source_limit_gbps": 1.375,
                "gpu_writer": {"wall_s": 4.73, "cpu_s": 8.5, "rss_gb": 0.77, "parquet_gb": 0.634},
                "cpu": {"wall_s": 5.94, "cpu_s": 36.4, "rss_gb": 0.82, "parquet_gb": 0.632},
                "duckdb_1.5.5": {"wall_s": 8.06, "cpu_s": 49.7, "rss_gb": 2.07, "parquet_gb": 0.687}},
  "wide": {"source_limit_gbps": 1.472,
           "gpu_writer": {"wall_s": 3.90, "cpu_s": 9.1, "rss_gb": 0.96, "parquet_gb": 0.664},
           "cpu": {"wall_s": 4.43, "cpu_s": 29.6, "rss_gb": 0.96, "parquet_gb": 0.616},
           "duckdb_1.5.5": {"wall_s": 7.15, "cpu_s": 39.6, "rss_gb": 2.69, "parquet_gb": 0.620}},
}
derive(one_call, GB)
round1 = {
  "lineorder": {"source_limit_gbps": 1.375,
                "gpu_writer": {"wall_s": 5.77, "cpu_s": 10.9, "rss_gb": 0.81},
                "cpu": {"wall_s": 6.47, "cpu_s": 39.9, "rss_gb": 0.82},
                "duckdb_1.5.5": {"wall_s": 8.35, "cpu_s": 50.9, "rss_gb": 2.29}},
  "wide": {"source_limit_gbps": 1.472,
           "gpu_writer": {"wall_s": 3.98, "cpu_s": 9.2, "rss_gb": 0.96},
           "cpu": {"wall_s": 4.84, "cpu_s": 31.8, "rss_gb": 0.99},
           "duckdb_1.5.5": {"wall_s": 7.62, "cpu_s": 41.5, "rss_gb": 2.70}}}
derive(round1, GB)
doc = {
  "host": "GPU host: 1x NVIDIA H200, 16 cores; PostgreSQL 15 on the same host (a slow host: source limits 1.375 and 1.472 GB/s)",
  "date": "2026-12-01", "parallel": 16, "codec": "zstd", "rss_unit": "GiB (ru_maxrss / 2^20 KiB)",
  "code": "session 20 (8565e7b): libzstd 1.5.7 on the CPU (DataDog/zstd), the GPU writer's fixed-width pages in 256 KiB zstd frames, its other pages in 128 KiB",
  "tables": {"lineorder": {"rows": 40000000, "copy_bytes": 6810548906},
             "wide": {"rows": 10000000, "copy_bytes": 4438469161, "shape": "bench/load --shape wide"}},
  "one_call (s20h round 2; round 1 had CPU profiles on)": one_call,
  "one_call_round_1": round1,
  "cpu_s_per_gb_by_stage (bench/cpusplit, round-1 profiles)": {
    "lineorder gpu_writer": {"receive": 0.54, "encode": 0.22, "write": 0.19, "decode": 0.19, "runtime": 0.16, "compress": 0.04},
    "wide gpu_writer": {"encode": 0.56, "decode": 0.41, "receive": 0.36, "write": 0.23, "runtime": 0.16, "compress": 0.07},
    "lineorder cpu": {"compress": 2.20, "decode": 1.23, "encode": 1.03, "boundaries": 0.68, "receive": 0.29},
    "wide cpu": {"compress": 3.29, "encode": 1.46, "decode": 1.24, "boundaries": 0.29, "receive": 0.25}},
}
base = "bench/results/gpuhost-h200-2026-12-01-s20"
json.dump(doc, open(base + ".json", "w"), indent=1)
plot(one_call, base + ".png", "pgparquet on one H200 + 16 cores, P=16, zstd (2026-12-01, s20h round 2)")
print("ok")
