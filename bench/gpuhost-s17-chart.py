# Writes bench/results/gpuhost-h200-2026-11-30-s17.{json,png} from session 17's closing calls
# (gpuhost-h200-2026-11-30-s17c-r8.log: source limit, GPU writer, CPU path and DuckDB 1.5.5 in
# one call, two rounds; -s17g-r8.log: the same code on another host, without DuckDB; figures
# copied here by hand) and bench/cpusplit's stage split of their round-1 profiles.
import json, os, sys
sys.path.insert(0, os.path.dirname(__file__))
from gpuhost_chart import derive, plot
GB = {"lineorder": 6.8105, "wide": 4.4385}
one_call = {
  "lineorder": {"source_limit_gbps": 1.208,
                "gpu_writer": {"wall_s": 6.22, "cpu_s": 11.2, "rss_gb": 0.81, "parquet_gb": 0.660},
                "cpu": {"wall_s": 9.32, "cpu_s": 70.4, "rss_gb": 0.86, "parquet_gb": 0.652},
                "duckdb_1.5.5": {"wall_s": 9.68, "cpu_s": 60.2, "rss_gb": 1.84, "parquet_gb": 0.692}},
  "wide": {"source_limit_gbps": 1.238,
           "gpu_writer": {"wall_s": 4.49, "cpu_s": 10.4, "rss_gb": 0.90, "parquet_gb": 0.669},
           "cpu": {"wall_s": 6.37, "cpu_s": 51.2, "rss_gb": 0.94, "parquet_gb": 0.623},
           "duckdb_1.5.5": {"wall_s": 7.60, "cpu_s": 43.0, "rss_gb": 3.14, "parquet_gb": 0.619}},
}
derive(one_call, GB)
round1 = {
  "lineorder": {"source_limit_gbps": 1.208,
                "gpu_writer": {"wall_s": 6.40, "cpu_s": 11.6, "rss_gb": 0.79},
                "cpu": {"wall_s": 9.33, "cpu_s": 71.6, "rss_gb": 0.85},
                "duckdb_1.5.5": {"wall_s": 9.40, "cpu_s": 58.4, "rss_gb": 1.85}},
  "wide": {"source_limit_gbps": 1.238,
           "gpu_writer": {"wall_s": 4.68, "cpu_s": 10.8, "rss_gb": 0.92},
           "cpu": {"wall_s": 6.37, "cpu_s": 51.1, "rss_gb": 0.93},
           "duckdb_1.5.5": {"wall_s": 8.48, "cpu_s": 48.6, "rss_gb": 2.95}}}
derive(round1, GB)
s17g = {
  "lineorder": {"source_limit_gbps": 1.315,
                "gpu_writer": {"wall_s": 5.43, "cpu_s": 10.4, "rss_gb": 0.77, "parquet_gb": 0.649},
                "gpu_writer_round_1": {"wall_s": 6.49, "cpu_s": 11.5, "rss_gb": 0.77},
                "cpu": {"wall_s": 8.35, "cpu_s": 63.9, "rss_gb": 0.85, "parquet_gb": 0.641},
                "cpu_round_1": {"wall_s": 9.11, "cpu_s": 68.1, "rss_gb": 0.86}},
  "wide": {"source_limit_gbps": 1.352,
           "gpu_writer": {"wall_s": 4.31, "cpu_s": 9.8, "rss_gb": 0.92, "parquet_gb": 0.669},
           "gpu_writer_round_1": {"wall_s": 4.21, "cpu_s": 9.8, "rss_gb": 0.89},
           "cpu": {"wall_s": 6.16, "cpu_s": 49.2, "rss_gb": 0.93, "parquet_gb": 0.623},
           "cpu_round_1": {"wall_s": 6.30, "cpu_s": 50.4, "rss_gb": 0.94}},
}
derive(s17g, GB)
doc = {
  "host": "GPU host: 1x NVIDIA H200, 16 cores; PostgreSQL 15 on the same host (each call a fresh host: source limits 1.21-1.24 GB/s in s17c, 1.32-1.35 in s17g)",
  "date": "2026-11-30", "parallel": 16, "codec": "zstd", "rss_unit": "GiB (ru_maxrss / 2^20 KiB)",
  "code": "session 17 (73b052a): GOMAXPROCS 4 while the GPU writer exports with GPU compression (export/procs.go); receive buffers cut where a message does not fit; empty byte-array values kept in arrow-go's min",
  "tables": {"lineorder": {"rows": 40000000, "copy_bytes": 6810548906},
             "wide": {"rows": 10000000, "copy_bytes": 4438469161, "shape": "bench/load --shape wide"}},
  "one_call (s17c round 2; round 1 had CPU profiles on)": one_call,
  "one_call_round_1": round1,
  "s17g (another host, round 2; round 1 with CPU profiles)": s17g,
  "cpu_s_per_gb_by_stage (bench/cpusplit, round-1 profiles)": {
    "s17c lineorder gpu_writer": {"receive": 0.57, "write": 0.23, "encode": 0.22, "decode": 0.15, "runtime": 0.15, "compress": 0.04},
    "s17c wide gpu_writer": {"encode": 0.59, "receive": 0.54, "decode": 0.38, "write": 0.29, "runtime": 0.20, "compress": 0.09},
    "s17c lineorder cpu": {"compress": 4.49, "encode": 3.04, "decode": 1.31, "boundaries": 0.75, "receive": 0.38},
    "s17c wide cpu": {"compress": 6.78, "encode": 1.98, "decode": 1.31, "boundaries": 0.38, "receive": 0.32},
    "s17g lineorder gpu_writer": {"receive": 0.54, "write": 0.23, "encode": 0.23, "runtime": 0.19, "decode": 0.18, "compress": 0.03},
    "s17g wide gpu_writer": {"encode": 0.52, "receive": 0.50, "decode": 0.34, "write": 0.25, "runtime": 0.18, "compress": 0.09}},
}
base = "bench/results/gpuhost-h200-2026-11-30-s17"
json.dump(doc, open(base + ".json", "w"), indent=1)
plot(one_call, base + ".png", "pgparquet on one H200 + 16 cores, P=16, zstd (2026-11-30, s17c round 2)")
print("ok")
