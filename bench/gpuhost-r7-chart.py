# Writes bench/results/gpuhost-h200-2026-11-29-r7.{json,png} from the figures of bench/gpuhost-r7.sh's
# logs and bench/cpusplit's stage split of their profiles (copied here by hand).
import json, sys
# matplotlib: pip install --target /tmp/mpl matplotlib (not a test requirement)
sys.path.insert(0, "/tmp/mpl")
doc = {
  "host": "GPU host: 1x NVIDIA H200, 16 cores; PostgreSQL 15 on the same host",
  "date": "2026-11-29",
  "table": "lineorder", "rows": 40000000, "copy_bytes": 6.81e9, "parallel": 16, "codec": "zstd",
  "source_limit_gbps_from_issue": [1.37, 1.41],
  "note": "source limit not measured in these calls; the issue's figure for the same table on the same host",
  "calls": {
    "r7b (final code, 1 round)": {
      "gpu_writer": {"wall_s": 5.35, "gbps": 1.273, "cpu_s": 17.5, "rss_gb": 1.57, "parquet_gb": 0.658},
      "gpu_decode_arrow_go": {"wall_s": 8.04, "gbps": 0.847, "cpu_s": 27.6, "rss_gb": 1.51, "parquet_gb": 0.681}},
    "r7 (128 KiB frames, before pinned uniques output; 2 rounds)": {
      "gpu_writer": {"wall_s": [6.39, 6.12], "gbps": [1.067, 1.112], "cpu_s": [19.8, 19.3], "rss_gb": [1.56, 1.57], "parquet_gb": 0.660},
      "gpu_decode_arrow_go": {"wall_s": [8.54, 8.61], "gbps": [0.798, 0.791], "cpu_s": [31.6, 30.9], "rss_gb": [1.50, 1.50], "parquet_gb": 0.683},
      "cpu": {"wall_s": [8.06, 8.27], "gbps": [0.845, 0.824], "cpu_s": [61.2, 63.9], "rss_gb": [1.61, 1.62], "parquet_gb": 0.653}}},
  "cpu_s_by_stage_sampled": {
    "gpu_writer (r7b)": {"encode": 5.1, "receive": 3.3, "decode": 2.2, "runtime": 1.4, "compress": 1.2, "write": 1.2, "arrow": 0.6},
    "gpu_decode_arrow_go (r7b)": {"encode": 12.0, "receive": 3.9, "runtime": 3.7, "arrow": 3.5, "decode": 1.2, "write": 1.0, "compress": 0.9, "boundaries": 0.2},
    "cpu (r7 round 2)": {"compress": 28.4, "encode": 13.7, "decode": 7.7, "arrow": 4.7, "boundaries": 4.4, "receive": 2.7, "write": 1.0, "runtime": 0.7}},
  "profiles": ["gpuhost-h200-2026-11-29-r7b-gpu-writer.pprof", "gpuhost-h200-2026-11-29-r7b-gpu-arrow.pprof", "gpuhost-h200-2026-11-29-r7-cpu.pprof"],
  "logs": ["gpuhost-h200-2026-11-29-r7.log", "gpuhost-h200-2026-11-29-r7b.log"],
}
base = "bench/results/gpuhost-h200-2026-11-29-r7"
json.dump(doc, open(base + ".json", "w"), indent=1)
import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
fig, ax = plt.subplots(1, 2, figsize=(10, 4))
names = ["GPU writer", "GPU decode\n+ arrow-go", "CPU"]
gbps = [1.273, 0.847, (0.845 + 0.824) / 2]
cpg = [17.5 / 6.81, 27.6 / 6.81, (61.2 + 63.9) / 2 / 6.81]
ax[0].bar(names, gbps, color=["#2a7", "#888", "#c55"]); ax[0].axhline(1.39, ls="--", c="k"); ax[0].text(2.4, 1.41, "source limit (issue)", ha="right")
ax[0].axhline(0.9 * 1.39, ls=":", c="k"); ax[0].set_ylabel("GB/s of COPY bytes"); ax[0].set_title("lineorder 40M, P=16, zstd, H200")
stages = ["encode", "compress", "decode", "arrow", "receive", "write", "runtime", "boundaries"]
runs = list(doc["cpu_s_by_stage_sampled"].values())
bottom = [0, 0, 0]
for st in stages:
    vals = [r.get(st, 0) / 6.81 for r in runs]
    ax[1].bar(names, vals, bottom=bottom, label=st); bottom = [b + v for b, v in zip(bottom, vals)]
ax[1].axhline(1.5, ls="--", c="k"); ax[1].set_ylabel("CPU-s per GB (sampled)"); ax[1].legend(fontsize=7); ax[1].set_title("CPU by stage")
fig.tight_layout(); fig.savefig(base + ".png", dpi=90)
print("ok")
