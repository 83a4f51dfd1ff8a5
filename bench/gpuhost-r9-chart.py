# Writes bench/results/gpuhost-h200-2026-11-30-r9.{json,png} from the session-9 calls' logs
# (gpuhost-h200-2026-11-30-r9*.log there; figures copied here by hand) and bench/cpusplit's
# stage split of the last call's profiles. The "one call" figures are the last call's (r9-f:
# bench/gpuhost-r8.sh with REUSE=1 on the warm host of r9-d and r9-e): source limit, GPU
# writer, CPU path and DuckDB, per table, in one call.
import json, os, sys
sys.path.insert(0, os.path.dirname(__file__))
from gpuhost_chart import derive, plot
GB = {"lineorder": 6.8105, "wide": 4.4385}
one_call = {
  "lineorder": {"source_limit_gbps": 2.137,
                "gpu_writer": {"wall_s": 3.87, "cpu_s": 8.5, "rss_gb": 0.98, "parquet_gb": 0.657},
                "cpu": {"wall_s": 5.77, "cpu_s": 44.5, "rss_gb": 1.62, "parquet_gb": 0.650},
                "duckdb_1.5.5": {"wall_s": 6.01, "cpu_s": 37.2, "rss_gb": 2.08, "parquet_gb": 0.693}},
  "wide": {"source_limit_gbps": 1.661,
           "gpu_writer": {"wall_s": 6.30, "cpu_s": 24.3, "rss_gb": 2.07, "parquet_gb": 0.682},
           "cpu": {"wall_s": 6.03, "cpu_s": 54.0, "rss_gb": 1.61, "parquet_gb": 0.669},
           "duckdb_1.5.5": {"wall_s": 5.34, "cpu_s": 28.6, "rss_gb": 3.45, "parquet_gb": 0.621}},
}
derive(one_call, GB)
doc = {
  "host": "GPU host: 1x NVIDIA H200, 16 cores; PostgreSQL 15 on the same host",
  "date": "2026-11-30", "parallel": 16, "codec": "zstd", "rss_unit": "GiB (ru_maxrss / 2^20 KiB)",
  "tables": {"lineorder": {"rows": 40000000, "copy_bytes": 6810548906},
             "wide": {"rows": 10000000, "copy_bytes": 4438469161, "shape": "bench/load --shape wide"}},
  "one_call": one_call,
  "other_calls_same_code": {
    "what": "the GPU writer and the CPU path on lineorder in the calls before the last (each call may be another host; the source limit is the same call's)",
    "r9-c": {"source_limit_gbps": 1.327, "gpu_writer": {"gbps": [1.233, 1.230], "cpu_s_per_gb": [1.79, 1.83], "rss_gb": [1.05, 1.02]},
             "cpu": {"gbps": 0.777, "cpu_s_per_gb": 9.83, "rss_gb": 1.56}},
    "r9-d": {"source_limit_gbps": 1.600, "gpu_writer": {"gbps": 1.294, "cpu_s_per_gb": 1.70, "rss_gb": 0.98}},
    "r9-e": {"source_limit_gbps": 1.646, "gpu_writer": {"gbps": 1.347, "cpu_s_per_gb": 1.54, "rss_gb": 0.98},
             "cpu": {"gbps": 1.026, "cpu_s_per_gb": 7.43, "rss_gb": 1.65},
             "wide": {"source_limit_gbps": 1.748, "gpu_writer": {"gbps": 0.690, "cpu_s_per_gb": 5.97, "rss_gb": 2.13},
                      "cpu": {"gbps": 0.685, "cpu_s_per_gb": 13.0, "rss_gb": 1.66}}}},
  "encoder_io (r9-a, r9-b: $PGPARQUET_GPU_ENC_IO, lineorder GPU writer, same call each)": {
    "r9-b": {"outputs written in place (mapped)": {"gbps": [0.893, 0.901, 0.888], "cpu_s_per_gb": [2.02, 2.01, 2.09]},
             "every buffer copied (now the default)": {"gbps": 1.268, "cpu_s_per_gb": 1.79}},
    "r9-a": {"inputs and outputs in place (mapped)": {"gbps": [0.954, 0.950, 0.933], "cpu_s_per_gb": [1.91, 1.92, 1.87]},
             "every buffer copied": {"gbps": 1.179, "cpu_s_per_gb": 1.92}}},
  "tcp_vs_unix_socket (r9-c, lineorder)": {"gpu_writer tcp": {"gbps": [1.233, 1.230], "cpu_s_per_gb": [1.79, 1.83]},
                                          "gpu_writer unix": {"gbps": [1.113, 1.125], "cpu_s_per_gb": [1.94, 1.96]},
                                          "cpu tcp": {"gbps": 0.777, "cpu_s_per_gb": 9.83}, "cpu unix": {"gbps": 0.784, "cpu_s_per_gb": 9.63}},
  "gomaxprocs_lineorder_gpu_writer (r9-h, one call, rounds interleaved)": {
    "source_limit_gbps": [1.428, 1.370],
    "16": {"gbps": [1.179, 1.288], "cpu_s_per_gb": [1.79, 1.71], "rss_gb": [0.97, 0.98]},
    "8": {"gbps": [1.220, 1.259], "cpu_s_per_gb": [1.70, 1.70], "rss_gb": [0.95, 0.93]},
    "4": {"gbps": [1.277, 1.311], "cpu_s_per_gb": [1.58, 1.56], "rss_gb": [0.91, 0.92]}},
  "pipeline_alone (r9-d)": {
    "what": "export.test TestPipelineAlone: COPY buffers (4 MiB) received first into pinned memory, then the 16 lanes decode, encode, compress and write to /dev/shm",
    "lineorder": {"gbps": 2.21, "wall_s": 3.08, "cpu_s": 4.1, "cpu_s_per_gb": 0.60, "receive_alone_gbps": 1.37},
    "wide": {"gbps": 0.86, "wall_s": 5.15, "cpu_s": 21.2, "cpu_s_per_gb": 4.77, "receive_alone_gbps": 1.67}},
  "peak_rss_breakdown_lineorder_gpu_writer_gib (r9-e)": {"anonymous (Go heap, cgo malloc)": 0.434, "/dev/zero (CUDA pinned host memory)": 0.424,
                                                        "/dev/nvidiactl": 0.068, "binary": 0.040, "libcuda": 0.011,
                                                        "go_heap_mb": {"largest_at_gc_start": 448, "largest_live": 232}},
  "cpu_s_by_stage_sampled (r9-f profiles, bench/cpusplit)": {
    "lineorder gpu_writer": {"receive": 2.8, "decode": 1.1, "runtime": 1.0, "write": 0.8, "encode": 0.5, "compress": 0.1, "arrow": 0.1, "boundaries": 0.1},
    "lineorder cpu": {"compress": 18.2, "encode": 9.5, "decode": 5.1, "arrow": 4.1, "boundaries": 3.6, "receive": 2.0, "write": 0.9, "runtime": 0.6},
    "wide gpu_writer": {"encode": 10.7, "decode": 5.0, "arrow": 3.8, "receive": 1.6, "runtime": 1.2, "write": 0.9, "compress": 0.3},
    "wide cpu": {"compress": 21.5, "encode": 15.5, "arrow": 7.5, "decode": 4.5, "boundaries": 1.4, "receive": 1.3, "runtime": 1.0, "write": 0.9}},
  "logs": ["gpuhost-h200-2026-11-30-r9-a.log", "gpuhost-h200-2026-11-30-r9-b.log", "gpuhost-h200-2026-11-30-r9-c.log",
           "gpuhost-h200-2026-11-30-r9-d.log", "gpuhost-h200-2026-11-30-r9-e.log", "gpuhost-h200-2026-11-30-r9-f.log",
           "gpuhost-h200-2026-11-30-r9-g.log", "gpuhost-h200-2026-11-30-r9-h.log"],
  "profiles": ["gpuhost-h200-2026-11-30-r9-f-lineorder-gpu-writer.pprof", "gpuhost-h200-2026-11-30-r9-f-wide-gpu-writer.pprof",
               "gpuhost-h200-2026-11-30-r9-d-lineorder-pipeline.pprof"],
}
base = "bench/results/gpuhost-h200-2026-11-30-r9"
json.dump(doc, open(base + ".json", "w"), indent=1)
plot(one_call, base + ".png", "pgparquet on one H200 + 16 cores, P=16, zstd (2026-11-30, r9)")
print("ok")
