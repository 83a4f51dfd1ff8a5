# Writes bench/results/gpuhost-h200-2026-12-01-s22.{json,png} from session 22's closing call
# (gpuhost-h200-2026-12-01-s22d.log: source limit, GPU writer, CPU path, DuckDB 1.5.5 and a
# sidecar request in one call, two rounds, HEAD's code: ranges that shrink in rounds, largest
# first; figures copied here by hand), bench/cpusplit's stage split of its round-1 profiles,
# and the plan comparison of s22a and s22b (a source limit before each round).
import json, os, sys
sys.path.insert(0, os.path.dirname(__file__))
from gpuhost_chart import derive, plot
GB = {"lineorder": 6.8105, "wide": 4.4385}
# The sidecar's RSS is its peak (VmHWM) over the whole call: seven exports, both tables.
one_call = {
  "lineorder": {"source_limit_gbps": 1.364,
                "gpu_writer": {"wall_s": 5.25, "cpu_s": 9.4, "rss_gb": 0.80, "parquet_gb": 0.628},
                "sidecar": {"wall_s": 5.032, "cpu_s": 8.8, "rss_gb": 0.97, "parquet_gb": 0.628},
                "cpu": {"wall_s": 6.65, "cpu_s": 41.0, "rss_gb": 0.69, "parquet_gb": 0.616},
                "duckdb_1.5.5": {"wall_s": 8.52, "cpu_s": 54.2, "rss_gb": 1.92, "parquet_gb": 0.677}},
  "wide": {"source_limit_gbps": 1.355,
           "gpu_writer": {"wall_s": 3.45, "cpu_s": 8.3, "rss_gb": 0.91, "parquet_gb": 0.664},
           "sidecar": {"wall_s": 3.187, "cpu_s": 7.7, "rss_gb": 0.97, "parquet_gb": 0.664},
           "cpu": {"wall_s": 4.46, "cpu_s": 30.2, "rss_gb": 0.87, "parquet_gb": 0.616},
           "duckdb_1.5.5": {"wall_s": 7.05, "cpu_s": 40.6, "rss_gb": 3.25, "parquet_gb": 0.620}},
}
derive(one_call, GB)
round1 = {
  "lineorder": {"source_limit_gbps": 1.364,
                "gpu_writer": {"wall_s": 5.24, "cpu_s": 9.4, "rss_gb": 0.79},
                "sidecar": {"wall_s": 5.234, "cpu_s": 9.0},
                "cpu": {"wall_s": 6.48, "cpu_s": 40.0, "rss_gb": 0.69},
                "duckdb_1.5.5": {"wall_s": 9.12, "cpu_s": 57.0, "rss_gb": 1.98}},
  "wide": {"source_limit_gbps": 1.355,
           "gpu_writer": {"wall_s": 4.04, "cpu_s": 9.9, "rss_gb": 0.98},
           "sidecar": {"wall_s": 3.240, "cpu_s": 8.0},
           "cpu": {"wall_s": 4.67, "cpu_s": 32.0, "rss_gb": 0.88},
           "duckdb_1.5.5": {"wall_s": 7.98, "cpu_s": 45.0, "rss_gb": 3.11}}}
derive(round1, GB)
# s22a (three rounds) and s22b (four): GB/s of equal ranges and of ranges in rounds (HEAD) on
# the GPU writer, and receive_idle_s, in the order the rounds ran.
plans = {
  "lineorder GPU writer": {"equal_gbps": [1.251, 1.277, 1.308, 1.238, 1.256, 1.248, 1.266],
                           "rounds_gbps": [1.370, 1.333, 1.412, 1.269, 1.328, 1.269, 1.305],
                           "equal_idle_s": [0.495, 0.316, 0.482, 0.272, 0.360, 0.441, 0.416],
                           "rounds_idle_s": [0.127, 0.167, 0.114, 0.136, 0.163, 0.120, 0.132]},
  "wide GPU writer": {"equal_gbps": [1.207, 1.125, 1.158, 1.044, 1.130, 1.150, 1.201],
                      "rounds_gbps": [1.147, 1.189, 1.086, 1.176, 1.125, 1.161, 1.221],
                      "equal_idle_s": [0.177, 0.280, 0.267, 0.304, 0.256, 0.191, 0.240],
                      "rounds_idle_s": [0.110, 0.111, 0.087, 0.098, 0.095, 0.121, 0.084]},
  "lineorder CPU path (s22a)": {"equal_gbps": [1.062, 0.981, 1.073], "rounds_gbps": [1.061, 1.025, 1.143]},
  "wide CPU path (s22a)": {"equal_gbps": [0.898, 0.901, 0.889], "rounds_gbps": [0.918, 0.880, 1.009]}}
doc = {
  "host": "GPU host: 1x NVIDIA H200, 16 cores; PostgreSQL 15 on the same host (source limits 1.364 and 1.355 GB/s, measured once per table)",
  "date": "2026-12-01", "parallel": 16, "codec": "zstd", "rss_unit": "GiB (ru_maxrss / 2^20 KiB; the sidecar's VmHWM); 1 GiB = 1.074 GB",
  "code": "session 22 (6f751c6 on): snapshot.Plan's ranges shrink in rounds of one per worker, largest first; otherwise session 21's",
  "tables": {"lineorder": {"rows": 40000000, "copy_bytes": 6810548906},
             "wide": {"rows": 10000000, "copy_bytes": 4438469161, "shape": "bench/load --shape wide"}},
  "sidecar": "one request per table and round to a sidecar running through the call (bench/gpuhost-sidecar.sh): wall from the request's created_at (the INSERT) to finished_at (published); CPU-s from /proc",
  "one_call (s22d round 2; round 1 had CPU profiles on)": one_call,
  "one_call_round_1": round1,
  "cpu_s_per_gb_by_stage (bench/cpusplit, round-1 profiles)": {
    "lineorder gpu_writer": {"receive": 0.43, "encode": 0.22, "decode": 0.18, "write": 0.18, "runtime": 0.13, "compress": 0.04, "arrow": 0.01},
    "wide gpu_writer": {"encode": 0.63, "receive": 0.41, "decode": 0.41, "write": 0.27, "runtime": 0.14, "compress": 0.11, "arrow": 0.02},
    "lineorder cpu": {"compress": 2.13, "decode": 1.29, "encode": 1.15, "boundaries": 0.56, "receive": 0.32, "write": 0.13, "arrow": 0.10, "runtime": 0.09},
    "wide cpu": {"compress": 3.40, "encode": 1.62, "decode": 1.13, "boundaries": 0.25, "write": 0.20, "receive": 0.18, "arrow": 0.18, "runtime": 0.09}},
  "plans (s22a, s22b)": plans,
}
base = "bench/results/gpuhost-h200-2026-12-01-s22"
json.dump(doc, open(base + ".json", "w"), indent=1)
plot(one_call, base + ".png", "pgparquet on one H200 + 16 cores, P=16, zstd (2026-12-01, s22d round 2)")
print("ok")
