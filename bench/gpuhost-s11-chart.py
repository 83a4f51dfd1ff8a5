# Writes bench/results/gpuhost-h200-2026-11-30-s11.{json,png} from session 11's calls
# (gpuhost-h200-2026-11-30-s11*.log there; figures copied here by hand) and bench/cpusplit's
# stage split of s11i's and s11k's profiles. "one_call" is s11i (bench/gpuhost-s11i.sh: source
# limit, GPU writer, CPU path and DuckDB per table, round 1; round 2 beside it), run with one
# sealed row group per lane, the default at the time; s11k measured the GPU writer as committed
# (no sealed row group) on another host, with its own source limit.
import json, os, sys
sys.path.insert(0, os.path.dirname(__file__))
from gpuhost_chart import derive, plot
GB = {"lineorder": 6.8105, "wide": 4.4385}
one_call = {
  "lineorder": {"source_limit_gbps": 1.753,
                "gpu_writer": {"wall_s": 4.80, "cpu_s": 10.1, "rss_gb": 1.23, "parquet_gb": 0.655},
                "cpu": {"wall_s": 6.93, "cpu_s": 53.0, "rss_gb": 1.33, "parquet_gb": 0.648},
                "duckdb_1.5.5": {"wall_s": 6.85, "cpu_s": 42.0, "rss_gb": 1.93, "parquet_gb": 0.689}},
  "wide": {"source_limit_gbps": 1.804,
           "gpu_writer": {"wall_s": 3.86, "cpu_s": 18.9, "rss_gb": 2.03, "parquet_gb": 0.669},
           "cpu": {"wall_s": 6.42, "cpu_s": 57.2, "rss_gb": 1.50, "parquet_gb": 0.625},
           "duckdb_1.5.5": {"wall_s": 6.98, "cpu_s": 36.7, "rss_gb": 3.19, "parquet_gb": 0.620}},
}
derive(one_call, GB)
round2 = {
  "lineorder": {"gpu_writer": {"wall_s": 4.21, "cpu_s": 9.4, "rss_gb": 1.23}, "cpu": {"wall_s": 6.34, "cpu_s": 48.2, "rss_gb": 1.39},
                "duckdb_1.5.5": {"wall_s": 6.26, "cpu_s": 39.2, "rss_gb": 2.26}},
  "wide": {"gpu_writer": {"wall_s": 4.34, "cpu_s": 20.6, "rss_gb": 2.01}, "cpu": {"wall_s": 6.80, "cpu_s": 60.8, "rss_gb": 1.49},
           "duckdb_1.5.5": {"wall_s": 6.60, "cpu_s": 35.5, "rss_gb": 3.20}}}
committed = {
  "lineorder": {"source_limit_gbps": 1.575, "gpu_writer": {"wall_s": 4.85, "cpu_s": 11.3, "rss_gb": 1.02, "parquet_gb": 0.657},
                "gpu_writer_round_2": {"wall_s": 4.97, "cpu_s": 11.2, "rss_gb": 1.03, "parquet_gb": 0.658}},
  "wide": {"source_limit_gbps": 1.712, "gpu_writer": {"wall_s": 4.31, "cpu_s": 21.0, "rss_gb": 1.86, "parquet_gb": 0.669},
           "gpu_writer_round_2": {"wall_s": 4.40, "cpu_s": 21.4, "rss_gb": 1.85, "parquet_gb": 0.669}}}
derive(committed, GB)
sealed = {"lineorder": {"source_limit_gbps": 1.592, "gpu_writer": {"wall_s": 4.82, "cpu_s": 11.5, "rss_gb": 1.23},
                        "gpu_writer_round_2": {"wall_s": 4.52, "cpu_s": 10.9, "rss_gb": 1.24}}}
derive(sealed, GB)
doc = {
  "host": "GPU host: 1x NVIDIA H200, 16 cores; PostgreSQL 15 on the same host (each call a fresh host; their speeds differ: lineorder's source limit 1.30-1.75 GB/s)",
  "date": "2026-11-30", "parallel": 16, "codec": "zstd", "rss_unit": "GiB (ru_maxrss / 2^20 KiB)",
  "code": "session 11: pages handed to compression without waiting (16 MiB per lane), arrow-go's pages held and compressed with the GPU writer's, pqfile.ByteColumn for PLAIN strings and JSON, CPU columns of the GPU decoder decoded together",
  "tables": {"lineorder": {"rows": 40000000, "copy_bytes": 6810548906},
             "wide": {"rows": 10000000, "copy_bytes": 4438469161, "shape": "bench/load --shape wide"}},
  "one_call (s11i, one sealed row group per lane)": one_call,
  "one_call_round_2": round2,
  "as committed (s11k, no sealed row group)": committed,
  "one sealed row group per lane (s11k, same call)": sealed,
  "values (s11i)": "GPU writer and CPU path files of each table read by DuckDB 1.5.5: same row counts, EXCEPT ALL empty both ways",
  "pipeline_alone": {
    "what": "export.test TestPipelineAlone: COPY buffers (4 MiB) received first into pinned memory, then the 16 lanes decode, encode, compress and write to /dev/shm",
    "session 10 (r10-h, as committed then)": {"lineorder": {"gbps": 4.47, "cpu_s_per_gb": 0.74}, "wide": {"gbps": 1.22, "cpu_s_per_gb": 5.00}},
    "s11c (async flights)": {"lineorder": {"gbps": 4.05, "cpu_s_per_gb": 0.93}, "wide": {"gbps": 1.69, "cpu_s_per_gb": 6.32}},
    "s11e (and 2 sealed row groups)": {"lineorder": {"gbps": 3.58, "cpu_s_per_gb": 0.91}, "wide": {"gbps": 2.07, "cpu_s_per_gb": 5.62}},
    "s11f lineorder sweep (ZSTD_BATCH MIB,BATCHERS / MiB in flight per lane)": {"default/32": 3.75, "64,4/64": 4.05, "128,4/64": 3.83, "64,8/64": 3.57, "128,8/128": 3.68, "32,8/64": 3.63},
    "s11j (ByteColumn, fused CPU decode)": {"lineorder": {"gbps": 3.90, "cpu_s_per_gb": 0.72, "parquet_gb": 0.655}, "wide": {"gbps": 2.59, "cpu_s_per_gb": 4.27, "parquet_gb": 0.669}},
    "s11j lineorder, nvCOMP off (zstd on the CPU)": {"gbps": 3.14, "cpu_s_per_gb": 4.06, "parquet_gb": 0.647}},
  "cpu_s_per_gb_by_stage (bench/cpusplit, CPU-s sampled / GB of COPY)": {
    "lineorder gpu_writer (s11i)": {"receive": 0.26, "write": 0.25, "decode": 0.22, "encode": 0.09, "runtime": 0.09, "compress": 0.03, "arrow": 0.0},
    "lineorder gpu_writer (s11k, as committed)": {"receive": 0.37, "write": 0.23, "decode": 0.22, "runtime": 0.12, "encode": 0.10, "compress": 0.04, "arrow": 0.01},
    "lineorder cpu (s11i)": {"compress": 3.23, "encode": 1.79, "decode": 0.98, "arrow": 0.60, "boundaries": 0.57, "receive": 0.31, "write": 0.16, "runtime": 0.06},
    "wide gpu_writer (s11i)": {"encode": 1.55, "decode": 1.13, "arrow": 0.61, "receive": 0.29, "write": 0.23, "runtime": 0.16, "compress": 0.07},
    "wide gpu_writer (s11k, as committed)": {"encode": 1.69, "decode": 1.22, "arrow": 0.63, "receive": 0.36, "write": 0.25, "runtime": 0.18, "compress": 0.09},
    "wide cpu (s11i)": {"compress": 5.41, "encode": 3.00, "arrow": 1.94, "decode": 1.49, "boundaries": 0.32, "receive": 0.32, "runtime": 0.16, "write": 0.16}},
  "logs": ["gpuhost-h200-2026-11-30-s11%s.log" % c for c in "abcdefghijk"] + ["gpuhost-h200-2026-11-30-s11-traces.txt"],
  "profiles": ["gpuhost-h200-2026-11-30-s11i-lineorder-gpu-writer.pprof", "gpuhost-h200-2026-11-30-s11i-wide-gpu-writer.pprof"],
}
base = "bench/results/gpuhost-h200-2026-11-30-s11"
json.dump(doc, open(base + ".json", "w"), indent=1)
plot(one_call, base + ".png", "pgparquet on one H200 + 16 cores, P=16, zstd (2026-11-30, s11i)")
print("ok")
