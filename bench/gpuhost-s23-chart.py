# Writes bench/results/gpuhost-h200-2026-12-01-s23.{json,png} from session 23's closing call
# (gpuhost-h200-2026-12-01-s23g.log: source limit, GPU writer, CPU path, DuckDB 1.5.5 and a
# sidecar request in one call, two rounds, the code of 85410a8: string pages in pinned chunks,
# list levels in passes, uuids in one copy; figures copied here by hand), bench/cpusplit's
# stage split of its round-1 profiles, and the session's comparisons: pinned chunks (s23d) and
# files that start with the CPU twin while the GPU starts (s23a, not kept).
import json, os, sys
sys.path.insert(0, os.path.dirname(__file__))
from gpuhost_chart import derive, plot
GB = {"lineorder": 6.8105, "wide": 4.4385}
# The sidecar's RSS is its peak (VmHWM) over the whole call: five exports, both tables.
one_call = {
  "lineorder": {"source_limit_gbps": 1.432,
                "gpu_writer": {"wall_s": 5.23, "cpu_s": 9.4, "rss_gb": 0.80, "parquet_gb": 0.633},
                "sidecar": {"wall_s": 5.309, "cpu_s": 10.9, "rss_gb": 0.94, "parquet_gb": 0.633},
                "cpu": {"wall_s": 7.55, "cpu_s": 48.0, "rss_gb": 0.69, "parquet_gb": 0.628},
                "duckdb_1.5.5": {"wall_s": 9.93, "cpu_s": 61.4, "rss_gb": 2.09, "parquet_gb": 0.690}},
  "wide": {"source_limit_gbps": 1.323,
           "gpu_writer": {"wall_s": 4.02, "cpu_s": 8.9, "rss_gb": 0.90, "parquet_gb": 0.664},
           "sidecar": {"wall_s": 3.515, "cpu_s": 8.2, "rss_gb": 0.94, "parquet_gb": 0.664},
           "cpu": {"wall_s": 5.14, "cpu_s": 34.3, "rss_gb": 0.88, "parquet_gb": 0.617},
           "duckdb_1.5.5": {"wall_s": 7.59, "cpu_s": 41.8, "rss_gb": 3.04, "parquet_gb": 0.621}},
}
derive(one_call, GB)
round1 = {
  "lineorder": {"source_limit_gbps": 1.432,
                "gpu_writer": {"wall_s": 4.97, "cpu_s": 9.4, "rss_gb": 0.79},
                "sidecar": {"wall_s": 5.012, "cpu_s": 8.9},
                "cpu": {"wall_s": 6.73, "cpu_s": 42.5, "rss_gb": 0.68},
                "duckdb_1.5.5": {"wall_s": 8.66, "cpu_s": 54.5, "rss_gb": 1.93}},
  "wide": {"source_limit_gbps": 1.323,
           "gpu_writer": {"wall_s": 4.27, "cpu_s": 10.3, "rss_gb": 0.95},
           "sidecar": {"wall_s": 3.552, "cpu_s": 7.8},
           "cpu": {"wall_s": 5.22, "cpu_s": 34.5, "rss_gb": 0.87},
           "duckdb_1.5.5": {"wall_s": 8.71, "cpu_s": 49.8, "rss_gb": 3.22}}}
derive(round1, GB)
# s23d: wide, four rounds after a source limit each (1.501, 1.540, 1.460, 1.596 GB/s), the
# order reversed in every other: string pages in Go memory, in pinned chunks (HEAD), and in
# pinned chunks with GOGC=50.
chunks = {"go_memory": {"gbps": [1.157, 1.286, 1.264, 1.309], "cpu_s": [9.1, 8.2, 8.2, 8.0], "rss_gib": [0.96, 0.97, 0.97, 0.94]},
          "pinned": {"gbps": [1.200, 1.281, 1.327, 1.296], "cpu_s": [8.3, 7.8, 7.7, 7.8], "rss_gib": [0.92, 0.93, 0.93, 0.92]},
          "pinned_gogc50": {"gbps": [1.232, 1.302, 1.288, 1.290], "cpu_s": [8.0, 7.5, 7.5, 7.6], "rss_gib": [0.94, 0.94, 0.92, 0.95]}}
# s23a: four rounds, GPU writer: files that wait for the GPU's start (as HEAD) against files
# that start with the CPU twin and take the GPU's encoder at a later row group (not kept).
interim = {"lineorder": {"wait_gbps": [1.329, 1.481, 1.342, 1.278], "twin_first_gbps": [1.474, 1.415, 1.389, 1.424],
                         "wait_rss_gib": [0.76, 0.80, 0.83, 0.78], "twin_first_rss_gib": [1.01, 1.10, 1.07, 1.13],
                         "source_limit_gbps": [1.292, 1.504, 1.494, 1.706]},
           "wide": {"wait_gbps": [1.307, 1.260, 1.263, 1.192], "twin_first_gbps": [1.305, 1.199, 1.312, 1.146],
                    "wait_rss_gib": [0.94, 0.95, 0.94, 0.95], "twin_first_rss_gib": [1.11, 1.14, 1.07, 1.16],
                    "source_limit_gbps": [1.529, 1.561, 1.514, 1.358]}}
doc = {
  "host": "GPU host: 1x NVIDIA H200, 16 cores; PostgreSQL 15 on the same host (source limits 1.432 and 1.323 GB/s, measured once per table)",
  "date": "2026-12-01", "parallel": 16, "codec": "zstd", "rss_unit": "GiB (ru_maxrss / 2^20 KiB; the sidecar's VmHWM); 1 GiB = 1.074 GB",
  "code": "85410a8: session 22's, with the GPU writer's string pages in pinned chunks (device.PageEncoder.ChunkPool), list levels in passes over runs of rows and their hybrid encoding 8 bytes at a time, uuids in one copy",
  "tables": {"lineorder": {"rows": 40000000, "copy_bytes": 6810548906},
             "wide": {"rows": 10000000, "copy_bytes": 4438469161, "shape": "bench/load --shape wide"}},
  "sidecar": "one request per table and round to a sidecar running through the call (bench/gpuhost-sidecar.sh): wall from the request's created_at (the INSERT) to finished_at (published); CPU-s from /proc",
  "one_call (s23g round 2; round 1 had CPU profiles on)": one_call,
  "one_call_round_1": round1,
  "cpu_s_per_gb_by_stage (bench/cpusplit, round-1 profiles)": {
    "lineorder gpu_writer": {"receive": 0.51, "write": 0.21, "encode": 0.15, "decode": 0.15, "runtime": 0.12, "compress": 0.03, "arrow": 0.01},
    "wide gpu_writer": {"receive": 0.54, "encode": 0.47, "decode": 0.36, "write": 0.32, "runtime": 0.20, "compress": 0.11, "arrow": 0.05},
    "lineorder cpu": {"compress": 2.39, "decode": 1.37, "encode": 1.17, "boundaries": 0.56, "receive": 0.32, "write": 0.13, "arrow": 0.10, "runtime": 0.09},
    "wide cpu": {"compress": 3.72, "encode": 1.55, "decode": 1.26, "boundaries": 0.29, "write": 0.25, "receive": 0.23, "arrow": 0.20, "runtime": 0.09}},
  "string pages' chunks (s23d, wide, GPU writer)": chunks,
  "CPU twin while the GPU starts (s23a, not kept)": interim,
}
base = "bench/results/gpuhost-h200-2026-12-01-s23"
json.dump(doc, open(base + ".json", "w"), indent=1)
plot(one_call, base + ".png", "pgparquet on one H200 + 16 cores, P=16, zstd (2026-12-01, s23g round 2)")
print("ok")
