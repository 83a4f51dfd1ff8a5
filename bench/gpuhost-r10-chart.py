# Writes bench/results/gpuhost-h200-2026-11-30-r10.{json,png} from session 10's calls
# (gpuhost-h200-2026-11-30-r10-*.log there; figures copied here by hand) and bench/cpusplit's
# stage split of r10-i's profiles. "one_call" is r10-i (bench/gpuhost-r8.sh, two rounds, on
# the warm host of r10-h): source limit, GPU writer and CPU path per table, round 1 (round 2
# beside it); DuckDB was not run
# this session (r9's figures: 0.53x and 0.50x of their call's source limit).
import json, os, sys
sys.path.insert(0, os.path.dirname(__file__))
from gpuhost_chart import derive, plot
GB = {"lineorder": 6.8105, "wide": 4.4385}
one_call = {
  "lineorder": {"source_limit_gbps": 1.642,
                "gpu_writer": {"wall_s": 4.68, "cpu_s": 10.7, "rss_gb": 0.98, "parquet_gb": 0.656},
                "cpu": {"wall_s": 6.58, "cpu_s": 51.2, "rss_gb": 1.32, "parquet_gb": 0.649}},
  "wide": {"source_limit_gbps": 1.832,
           "gpu_writer": {"wall_s": 5.43, "cpu_s": 24.1, "rss_gb": 1.97, "parquet_gb": 0.671},
           "cpu": {"wall_s": 6.47, "cpu_s": 57.1, "rss_gb": 1.50, "parquet_gb": 0.628}},
}
derive(one_call, GB)
doc = {
  "host": "GPU host: 1x NVIDIA H200, 16 cores; PostgreSQL 15 on the same host",
  "date": "2026-11-30", "parallel": 16, "codec": "zstd", "rss_unit": "GiB (ru_maxrss / 2^20 KiB)",
  "code": "r10-i: 4 zstd batchers of 32 MiB, packed output, gathering while busy, 4 ms linger under load, 64 KiB frames for single pages (32 KiB committed after, measured in the pipeline alone only)",
  "tables": {"lineorder": {"rows": 40000000, "copy_bytes": 6810548906},
             "wide": {"rows": 10000000, "copy_bytes": 4438469161, "shape": "bench/load --shape wide"}},
  "one_call": one_call,
  "one_call_round_2": {"lineorder": {"gpu_writer": {"wall_s": 4.30, "cpu_s": 9.9, "rss_gb": 0.98}, "cpu": {"wall_s": 6.66, "cpu_s": 50.5, "rss_gb": 1.36}},
                           "wide": {"gpu_writer": {"wall_s": 5.57, "cpu_s": 25.0, "rss_gb": 1.97}, "cpu": {"wall_s": 6.76, "cpu_s": 61.4, "rss_gb": 1.50}}},
  "pipeline_alone": {
    "what": "export.test TestPipelineAlone: COPY buffers (4 MiB) received first into pinned memory, then the 16 lanes decode, encode, compress and write to /dev/shm",
    "session 9 (r9-d)": {"lineorder_gbps": 2.21, "wide_gbps": 0.86},
    "r10-d (lineorder; packed output, gathering while busy; MIB,BATCHERS)": {"16,2": 2.23, "32,2": 3.56, "64,2": 3.89, "32,4": 4.60, "64,4": 4.53, "128,4": 4.48},
    "r10-h (as committed but the single-page frames)": {"lineorder": {"gbps": 4.42, "cpu_s_per_gb": 0.75}, "wide": {"gbps": 1.03, "cpu_s_per_gb": 5.06}},
    "r10-h 500 us linger under load": {"lineorder": {"gbps": 4.27, "cpu_s_per_gb": 0.70}, "wide": {"gbps": 1.10, "cpu_s_per_gb": 5.21}},
    "r10-h 32 KiB single-page frames (as committed)": {"lineorder": {"gbps": 4.47, "cpu_s_per_gb": 0.74, "parquet_gb": 0.656}, "wide": {"gbps": 1.22, "cpu_s_per_gb": 5.00, "parquet_gb": 0.673}},
    "measured and dropped": {
      "decoding ahead (r10-a, r10-b)": "lineorder pipeline 2.18 GB/s (2.21 before), GPU writer RSS 1.28-1.30 GB (0.98 before)",
      "256 KiB pages compressed while the lane goes on (r10-f, r10-g)": "lineorder pipeline 3.15-4.07 GB/s against 4.42-4.60 with 1 MiB pages compressed at the row group's end"}},
  "cpu_s_per_gb_by_stage (r10-i round-1 profiles, bench/cpusplit, CPU-s sampled / GB of COPY)": {
    "lineorder gpu_writer": {"receive": 0.37, "decode": 0.21, "write": 0.16, "runtime": 0.12, "encode": 0.10, "compress": 0.03, "arrow": 0.01},
    "lineorder cpu": {"compress": 3.19, "encode": 1.62, "decode": 0.85, "arrow": 0.65, "boundaries": 0.56, "receive": 0.38, "write": 0.13, "runtime": 0.09},
    "wide gpu_writer": {"encode": 2.05, "decode": 1.31, "arrow": 0.92, "runtime": 0.32, "receive": 0.32, "write": 0.23, "compress": 0.07},
    "wide cpu": {"compress": 5.47, "encode": 2.79, "arrow": 2.14, "decode": 1.33, "receive": 0.34, "boundaries": 0.32, "write": 0.18, "runtime": 0.16}},
  "logs": ["gpuhost-h200-2026-11-30-r10-%s.log" % c for c in "abcdefghij"] + ["gpuhost-h200-2026-11-30-r10-traces.txt"],
  "profiles": ["gpuhost-h200-2026-11-30-r10-i-lineorder-gpu-writer.pprof", "gpuhost-h200-2026-11-30-r10-i-wide-gpu-writer.pprof"],
}
base = "bench/results/gpuhost-h200-2026-11-30-r10"
json.dump(doc, open(base + ".json", "w"), indent=1)
plot(one_call, base + ".png", "pgparquet on one H200 + 16 cores, P=16, zstd (2026-11-30, r10-i)")
print("ok")
