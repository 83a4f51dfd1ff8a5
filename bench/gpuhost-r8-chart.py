# Writes bench/results/gpuhost-h200-2026-11-29-r8.{json,png} from bench/gpuhost-r8.sh's and
# gpuhost-r8b.sh's logs (r8-*.log there) and bench/cpusplit's stage split of their profiles
# (figures copied here by hand). The "one call" figures are the last call's: source limit, GPU
# writer, CPU path and DuckDB, per table, in one call.
import json, os, sys
sys.path.insert(0, os.path.dirname(__file__))
from gpuhost_chart import derive, plot
GB = {"lineorder": 6.8105, "wide": 4.4385}
one_call = {
  "lineorder": {"source_limit_gbps": 1.558,
                "gpu_writer": {"wall_s": 5.10, "cpu_s": 13.7, "rss_gb": 1.39, "parquet_gb": 0.656},
                "cpu": {"wall_s": 7.65, "cpu_s": 60.1, "rss_gb": 1.58, "parquet_gb": 0.649},
                "duckdb_1.5.5": {"wall_s": 7.85, "cpu_s": 47.4, "rss_gb": 2.07, "parquet_gb": 0.687}},
  "wide": {"source_limit_gbps": 1.573,
           "gpu_writer": {"wall_s": 6.18, "cpu_s": 30.8, "rss_gb": 2.26, "parquet_gb": 0.678},
           "cpu": {"wall_s": 7.24, "cpu_s": 67.0, "rss_gb": 1.62, "parquet_gb": 0.664},
           "duckdb_1.5.5": {"wall_s": 6.36, "cpu_s": 34.4, "rss_gb": 2.80, "parquet_gb": 0.619}},
}
derive(one_call, GB)
doc = {
  "host": "GPU host: 1x NVIDIA H200, 16 cores; PostgreSQL 15 on the same host",
  "date": "2026-11-29", "parallel": 16, "codec": "zstd",
  "tables": {"lineorder": {"rows": 40000000, "copy_bytes": 6810548906},
             "wide": {"rows": 10000000, "copy_bytes": 4438469161, "shape": "bench/load --shape wide"}},
  "one_call": one_call,
  "earlier_call_two_rounds": {
    "lineorder": {"source_limit_gbps": 1.500,
                  "gpu_writer": {"wall_s": [5.38, 5.20], "cpu_s": [13.8, 13.0], "rss_gb": [1.40, 1.39], "parquet_gb": 0.656},
                  "gpu_decode_arrow_go": {"wall_s": [8.38, 8.45], "cpu_s": [30.0, 30.8], "rss_gb": [1.59, 1.48], "parquet_gb": 0.682},
                  "cpu": {"wall_s": [8.25, 8.23], "cpu_s": [62.4, 63.4], "rss_gb": [1.64, 1.58], "parquet_gb": 0.649}},
    "wide": {"source_limit_gbps": 1.298,
             "gpu_writer": {"wall_s": [7.08, 6.74], "cpu_s": [36.2, 34.4], "rss_gb": [2.26, 2.26], "parquet_gb": 0.678},
             "gpu_decode_arrow_go": {"wall_s": [7.72, 7.44], "cpu_s": [42.8, 40.2], "rss_gb": [2.23, 2.25], "parquet_gb": 0.686},
             "cpu": {"wall_s": [8.23, 7.72], "cpu_s": [76.4, 71.6], "rss_gb": [1.62, 1.64], "parquet_gb": 0.664}}},
  "pipeline_alone": {
    "what": "export.test TestPipelineAlone: COPY buffers received first into pinned memory, then the 16 lanes decode, encode, compress and write to /dev/shm",
    "lineorder": {"gbps": 1.88, "wall_s": 3.63, "cpu_s": 9.4, "cpu_s_per_gb": 1.39, "receive_alone_gbps": 1.11},
    "wide": {"gbps": 0.98, "wall_s": 4.55, "cpu_s": 28.4, "cpu_s_per_gb": 6.40, "receive_alone_gbps": 1.44}},
  "gogc_lineorder_gpu_writer": {"GOGC=50": {"wall_s": 4.83, "cpu_s": 12.5, "rss_gb": 1.24}, "GOGC=25": {"wall_s": 4.80, "cpu_s": 13.6, "rss_gb": 1.14}},
  "peak_rss_breakdown_lineorder_gpu_writer_gib": {"anonymous (Go heap, cgo malloc)": 0.772, "/dev/zero (CUDA pinned host memory)": 0.531,
                                                  "/dev/nvidiactl": 0.068, "binary": 0.039, "libcuda": 0.011,
                                                  "go_heap_mb": {"largest_at_gc_start": 896, "largest_live": 458}},
  "cpu_s_by_stage_sampled": {
    "lineorder gpu_writer": {"receive": 2.4, "decode": 2.3, "encode": 1.7, "write": 1.2, "compress": 1.1, "runtime": 0.9, "arrow": 0.1, "boundaries": 0.1},
    "lineorder pipeline alone": {"decode": 3.2, "encode": 2.2, "write": 1.5, "compress": 1.3, "runtime": 0.6, "arrow": 0.2},
    "lineorder cpu": {"compress": 26.5, "encode": 14.5, "decode": 7.3, "boundaries": 4.8, "arrow": 4.7, "receive": 2.7, "write": 0.9, "runtime": 0.6},
    "wide gpu_decode_arrow_go": {"encode": 20.2, "arrow": 9.1, "decode": 6.5, "runtime": 1.9, "receive": 1.9, "write": 1.1, "compress": 0.9, "boundaries": 0.2},
    "wide cpu": {"compress": 31.3, "encode": 20.7, "arrow": 10.4, "decode": 7.5, "runtime": 1.7, "boundaries": 1.7, "receive": 1.7, "write": 0.9}},
  "logs": ["gpuhost-h200-2026-11-29-r8.log", "gpuhost-h200-2026-11-29-r8-b.log", "gpuhost-h200-2026-11-29-r8-c.log"],
  "profiles": ["gpuhost-h200-2026-11-29-r8-lineorder-gpu-writer.pprof", "gpuhost-h200-2026-11-29-r8-lineorder-pipeline.pprof",
               "gpuhost-h200-2026-11-29-r8-wide-gpu-arrow.pprof"],
}
# What limits the pipeline alone (bench/gpuhost-r8d.sh, gpuhost-r8e.sh).
doc["pipeline_alone"]["by_receive_buffer (r8-d)"] = {"4MiB": {"gbps": 1.92, "cpu_s_per_gb": 1.30}, "16MiB": {"gbps": 2.68, "cpu_s_per_gb": 0.90}, "64MiB": {"gbps": 2.19, "cpu_s_per_gb": 0.94}}
doc["pipeline_alone"]["block_profile_4MiB (r8-d)"] = "lanes blocked 17.2 s of 58.9 lane-s in flushPages waiting for the batcher at row-group ends; the rest of the non-CPU time is inside device calls (decode, uniques, encode)"
doc["pipeline_alone"]["by_zstd_batch MiB,batchers (r8-e)"] = {"16,4 (default)": 1.90, "64,4": 1.96, "16,8": 1.87, "32,8": 1.79, "64,8": 1.83}
doc["export_by_buffer_size (r8-d, one run each)"] = {"4MiB": {"gbps": 1.101, "cpu_s": 15.1, "rss_gb": 1.35}, "16MiB": {"gbps": 1.100, "cpu_s": 15.1, "rss_gb": 3.29}, "64MiB": {"gbps": 0.912, "cpu_s": 17.4, "rss_gb": 5.97}}
doc["export_by_zstd_batch (r8-e, 2 rounds)"] = {"16,4 (default)": {"gbps": [1.030, 0.940], "cpu_s": [15.9, 16.2], "rss_gb": [1.40, 1.39]}, "64,8": {"gbps": [0.873, 0.838], "cpu_s": [16.7, 17.1], "rss_gb": [2.36, 2.49]}}
doc["note_hosts"] = "each call may land on another host: the GPU writer on lineorder measured 1.27-1.34 GB/s in the r8/r8-b/r8-c calls and 0.94-1.10 in r8-d/r8-e; compare within one call"
doc["one_page_buffer_per_column (r8-f, same host, 2 rounds)"] = {"gpu_writer": {"gbps": [1.223, 1.225], "cpu_s": [14.3, 13.7], "rss_gb": [1.37, 1.38]},
    "cpu": {"gbps": 0.926, "cpu_s": 56.5, "rss_gb": 1.63}, "rss_breakdown_gib": {"anonymous": 0.713, "/dev/zero (pinned)": 0.541, "/dev/nvidiactl": 0.068},
    "go_heap_mb": {"largest_at_gc_start": 735, "largest_live": 381}}
doc["logs"] += ["gpuhost-h200-2026-11-29-r8-d.log", "gpuhost-h200-2026-11-29-r8-e.log", "gpuhost-h200-2026-11-29-r8-f.log"]
doc["profiles"].append("gpuhost-h200-2026-11-29-r8-d-pipeline.block")
base = "bench/results/gpuhost-h200-2026-11-29-r8"
json.dump(doc, open(base + ".json", "w"), indent=1)
plot(one_call, base + ".png", "pgparquet on one H200 + 16 cores, P=16, zstd (2026-11-29, r8)")
print("ok")
