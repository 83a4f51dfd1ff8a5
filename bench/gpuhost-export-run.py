"""Runs one export (the command after the label) and prints, on one line: its wall seconds,
GB/s of COPY, user and system CPU apart, CPU-s per GB, peak RSS, Parquet bytes, decoder,
context switches and minor faults (from wait4's rusage of the child); then the lines of its
stderr that count the CUDA library's calls and pinned memory ($PGPARQUET_CUDA_CALLSTATS),
warnings and CUDA errors, and the end of its stderr when it failed.
Usage: python3 bench/gpuhost-export-run.py LABEL COMMAND... (the GPU-host scripts, session 14)."""
import json, resource, subprocess, sys, time

label, argv = sys.argv[1], sys.argv[2:]
before = resource.getrusage(resource.RUSAGE_CHILDREN)
t = time.time()
r = subprocess.run(argv, capture_output=True, text=True)
wall = time.time() - t
u = resource.getrusage(resource.RUSAGE_CHILDREN)
user, sys_ = u.ru_utime - before.ru_utime, u.ru_stime - before.ru_stime
doc = {}
try:
    doc = json.loads(r.stdout)
except Exception:
    pass
gb = doc.get('copy_bytes', 0) / 1e9
files = doc.get('files') if isinstance(doc.get('files'), list) else []
print(f"{label}: rc {r.returncode} {wall:.2f} s, {gb / wall:.3f} GB/s, user {user:.2f} s, system {sys_:.2f} s, "
      f"{(user + sys_) / max(gb, 1e-9):.2f} CPU-s/GB, RSS {u.ru_maxrss / 1048576:.2f} GiB, "
      f"parquet {sum(f.get('bytes', 0) for f in files) / 1e9:.3f} GB, decoder {doc.get('decoder')}, "
      f"voluntary switches {u.ru_nvcsw - before.ru_nvcsw}, involuntary {u.ru_nivcsw - before.ru_nivcsw}, "
      f"minor faults {u.ru_minflt - before.ru_minflt}")
for line in r.stderr.splitlines():
    if line.startswith(("CUDA call", "cuda", "pgpq_", "nvCOMP", "stream", "open/", "pinned")) or "CUDA error" in line or "level=WARN" in line:
        print("   ", line[:300])
if r.returncode:
    print(r.stderr[-2000:])
