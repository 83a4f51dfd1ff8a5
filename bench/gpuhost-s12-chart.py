# Writes bench/results/gpuhost-h200-2026-11-30-s12.{json,png} from session 12's calls
# (gpuhost-h200-2026-11-30-s12*.log there; figures copied here by hand) and bench/cpusplit's
# stage split of s12f's profiles. "one_call" is s12f (bench/gpuhost-s12f.sh: source limit, GPU
# writer and CPU path per table, round 1; round 2 beside it), as committed at the session's end;
# s12e measured the code before numeric text in one pass and pqfile.writeDictLeaf, on a slower
# host. DuckDB did not run in these calls (its wheels did not fit beside the kit); s11i's
# figures for it are in gpuhost-h200-2026-11-30-s11.json, on another host.
import json, os, sys
sys.path.insert(0, os.path.dirname(__file__))
from gpuhost_chart import derive, plot
GB = {"lineorder": 6.8105, "wide": 4.4385}
one_call = {
  "lineorder": {"source_limit_gbps": 1.498,
                "gpu_writer": {"wall_s": 5.23, "cpu_s": 11.5, "rss_gb": 1.02, "parquet_gb": 0.654},
                "cpu": {"wall_s": 7.73, "cpu_s": 59.8, "rss_gb": 1.35, "parquet_gb": 0.649}},
  "wide": {"source_limit_gbps": 1.548,
           "gpu_writer": {"wall_s": 4.44, "cpu_s": 17.0, "rss_gb": 1.91, "parquet_gb": 0.669},
           "cpu": {"wall_s": 6.82, "cpu_s": 61.3, "rss_gb": 1.50, "parquet_gb": 0.625}},
}
derive(one_call, GB)
round2 = {
  "lineorder": {"source_limit_gbps": 1.498, "gpu_writer": {"wall_s": 5.30, "cpu_s": 11.9, "rss_gb": 1.02},
                "cpu": {"wall_s": 7.99, "cpu_s": 61.9, "rss_gb": 1.34}},
  "wide": {"source_limit_gbps": 1.548, "gpu_writer": {"wall_s": 4.25, "cpu_s": 16.2, "rss_gb": 1.78},
           "cpu": {"wall_s": 6.88, "cpu_s": 59.8, "rss_gb": 1.50}}}
derive(round2, GB)
s12e = {
  "lineorder": {"source_limit_gbps": 1.352,
                "gpu_writer": {"wall_s": 5.89, "cpu_s": 13.4, "rss_gb": 1.06, "parquet_gb": 0.657},
                "gpu_writer_round_2": {"wall_s": 5.77, "cpu_s": 13.0, "rss_gb": 1.03},
                "cpu": {"wall_s": 8.46, "cpu_s": 65.2, "rss_gb": 1.32, "parquet_gb": 0.651},
                "cpu_round_2": {"wall_s": 8.63, "cpu_s": 66.1, "rss_gb": 1.32}},
  "wide": {"source_limit_gbps": 1.358,
           "gpu_writer": {"wall_s": 4.53, "cpu_s": 18.3, "rss_gb": 1.83, "parquet_gb": 0.669},
           "gpu_writer_round_2": {"wall_s": 4.35, "cpu_s": 17.8, "rss_gb": 1.83},
           "cpu": {"wall_s": 7.07, "cpu_s": 62.6, "rss_gb": 1.49, "parquet_gb": 0.625},
           "cpu_round_2": {"wall_s": 6.62, "cpu_s": 58.2, "rss_gb": 1.50}},
}
derive(s12e, GB)
doc = {
  "host": "GPU host: 1x NVIDIA H200, 16 cores (Intel Xeon, sha_ni); PostgreSQL 15 on the same host (each call a fresh host; source limits 1.35-1.36 GB/s in s12e, 1.50-1.55 in s12f)",
  "date": "2026-11-30", "parallel": 16, "codec": "zstd", "rss_unit": "GiB (ru_maxrss / 2^20 KiB)",
  "code": "session 12: one-dimensional arrays decoded without arrow-go's builders (gpuparse/list.go), text[] elements in the lanes' dictionaries (export/dictionary.go) with marked statistics (pqfile.writeDictLeaf), numeric text in one pass (gpuparse/numeric.go)",
  "tables": {"lineorder": {"rows": 40000000, "copy_bytes": 6810548906},
             "wide": {"rows": 10000000, "copy_bytes": 4438469161, "shape": "bench/load --shape wide"}},
  "one_call (s12f round 1)": one_call,
  "one_call_round_2": round2,
  "s12e (before numeric text in one pass and pqfile.writeDictLeaf; a slower host)": s12e,
  "s12g (CPU path on the CPU twins, the default without a GPU since, against arrow-go's FileWriter; the fastest host seen)": {
    "lineorder": {"source_limit_gbps": 2.140,
                  "gpu_writer": [{"wall_s": 3.98, "cpu_s": 9.3, "rss_gb": 1.03}, {"wall_s": 4.76, "cpu_s": 10.2, "rss_gb": 1.03}],
                  "cpu_twins": [{"wall_s": 6.53, "cpu_s": 51.7, "rss_gb": 1.40}, {"wall_s": 6.21, "cpu_s": 46.9, "rss_gb": 1.37}],
                  "cpu_arrow_go": [{"wall_s": 6.81, "cpu_s": 52.3, "rss_gb": 1.32}, {"wall_s": 6.44, "cpu_s": 49.2, "rss_gb": 1.34}]},
    "wide": {"source_limit_gbps": 1.657,
             "gpu_writer": [{"wall_s": 3.52, "cpu_s": 13.4, "rss_gb": 1.90}, {"wall_s": 3.30, "cpu_s": 12.5, "rss_gb": 1.89}],
             "cpu_twins": [{"wall_s": 4.54, "cpu_s": 36.9, "rss_gb": 1.49}, {"wall_s": 4.57, "cpu_s": 37.6, "rss_gb": 1.48}],
             "cpu_arrow_go": [{"wall_s": 5.02, "cpu_s": 44.2, "rss_gb": 1.49}, {"wall_s": 5.55, "cpu_s": 48.5, "rss_gb": 1.50}]},
    "cpu_s_per_gb_by_stage round 1": {
      "wide gpu_writer": {"encode": 0.88, "decode": 0.74, "receive": 0.34, "write": 0.25, "arrow": 0.20, "runtime": 0.11, "compress": 0.07},
      "wide cpu_twins": {"compress": 4.84, "encode": 1.58, "decode": 0.74, "arrow": 0.25, "receive": 0.25, "boundaries": 0.25, "write": 0.20, "runtime": 0.11},
      "wide cpu_arrow_go": {"compress": 4.46, "encode": 2.50, "arrow": 1.42, "decode": 0.72, "boundaries": 0.27, "receive": 0.20, "write": 0.16, "runtime": 0.14},
      "lineorder gpu_writer": {"receive": 0.34, "decode": 0.18, "write": 0.15, "runtime": 0.10, "encode": 0.09, "compress": 0.01, "arrow": 0.01},
      "lineorder cpu_twins": {"compress": 3.35, "encode": 2.03, "decode": 0.94, "boundaries": 0.51, "receive": 0.32, "arrow": 0.21, "write": 0.13, "runtime": 0.03},
      "lineorder cpu_arrow_go": {"compress": 3.36, "encode": 1.57, "decode": 0.91, "arrow": 0.65, "boundaries": 0.57, "receive": 0.34, "write": 0.12, "runtime": 0.07}}},
  "pipeline_alone (lineorder 40M, TestPipelineAlone, P=16, GB/s; rounds of one call side by side)": {
    "s12a stream priorities on / off": {"on": [4.26, 4.56], "off": [4.57, 4.27], "on, P=32": [3.12]},
    "s12b default / 64 KiB zstd frames (Parquet 0.654 / 0.680 GB)": {"default": [4.38, 4.41], "64 KiB frames": [5.44, 5.35]},
    "s12c compression in a green context of 72 SMs (nvCOMP failed in such streams: status 1000)": {
      "default": [4.39, 4.45], "72 SMs": [4.72, 4.41], "72 SMs, 1 sealed row group": [4.22, 4.00], "1 sealed row group": [3.85, 3.72]},
    "s12d decoder outputs in one copy / one per buffer": {"one copy": [4.17, 4.41], "per buffer": [4.35, 4.33],
      "one copy, 1 sealed": [3.85, 4.36], "per buffer, 1 sealed": [3.85, 4.08]},
    "s12d wide (as committed)": {"gbps": 2.38, "cpu_s_per_gb": 4.37}},
  "nvcomp_zstd_ms_per_batch (s12a TestGPUZstdLatency, one runner alone; 4 runners at once in brackets)": {
    "32 KiB x 1": 5.03, "32 KiB x 256 (8 MiB)": [6.87, 8.44], "64 KiB x 1": 9.24, "64 KiB x 256 (16 MiB)": [13.37, 17.35],
    "128 KiB x 1": 15.53, "128 KiB x 256 (32 MiB)": [23.75, 30.35]},
  "cpu_s_per_gb_by_stage (bench/cpusplit, CPU-s sampled / GB of COPY, s12f round 1)": {
    "lineorder gpu_writer": {"receive": 0.38, "decode": 0.22, "write": 0.18, "runtime": 0.13, "encode": 0.10, "compress": 0.04, "arrow": 0.01},
    "lineorder cpu": {"compress": 3.83, "encode": 1.91, "decode": 1.06, "arrow": 0.66, "boundaries": 0.60, "receive": 0.37, "write": 0.18, "runtime": 0.09},
    "wide gpu_writer": {"encode": 1.26, "decode": 0.97, "receive": 0.34, "write": 0.32, "arrow": 0.27, "runtime": 0.16, "compress": 0.09},
    "wide cpu": {"compress": 6.22, "encode": 3.42, "arrow": 1.87, "decode": 1.06, "boundaries": 0.36, "receive": 0.32, "write": 0.23, "runtime": 0.20}},
  "cpu_s_per_gb_by_stage (bench/cpusplit, s12e round 1)": {
    "lineorder gpu_writer": {"receive": 0.37, "write": 0.28, "decode": 0.23, "runtime": 0.22, "encode": 0.13, "compress": 0.04, "arrow": 0.01, "boundaries": 0.01},
    "lineorder cpu": {"compress": 4.24, "encode": 2.07, "decode": 1.07, "boundaries": 0.72, "arrow": 0.69, "receive": 0.41, "write": 0.16, "runtime": 0.09},
    "wide gpu_writer": {"encode": 1.33, "decode": 1.26, "receive": 0.29, "write": 0.29, "arrow": 0.23, "runtime": 0.18, "compress": 0.07, "boundaries": 0.02},
    "wide cpu": {"compress": 6.56, "encode": 3.06, "arrow": 1.80, "decode": 1.33, "receive": 0.41, "boundaries": 0.38, "runtime": 0.23, "write": 0.23}},
  "logs": ["gpuhost-h200-2026-11-30-s12%s.log" % c for c in "abcdefg"] + ["gpuhost-h200-2026-11-30-s12-traces.txt"],
  "profiles": ["gpuhost-h200-2026-11-30-s12e-lineorder-gpu-writer.pprof", "gpuhost-h200-2026-11-30-s12e-wide-gpu-writer.pprof",
               "gpuhost-h200-2026-11-30-s12f-wide-gpu-writer.pprof"],
}
base = "bench/results/gpuhost-h200-2026-11-30-s12"
json.dump(doc, open(base + ".json", "w"), indent=1)
plot(one_call, base + ".png", "pgparquet on one H200 + 16 cores, P=16, zstd (2026-11-30, s12f)")
print("ok")
