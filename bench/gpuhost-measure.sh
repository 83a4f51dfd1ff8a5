# Sourced by the GPU-host scripts (bench/gpuhost-ab.sh, bench/gpuhost-zstd.sh).
# measure LABEL COMMAND...: runs one pgparquet export and prints its wall s, CPU s and peak RSS
# (of the child), GB/s of COPY, decoder, rows, Parquet bytes and stage timings, the command's
# stderr when it failed, and its log lines about compression; with GODEBUG=gctrace=1, the
# number of collections, the largest heap and the largest live heap they saw.
measure() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time, json
label, argv = sys.argv[1], sys.argv[2:]
t = time.time(); r = subprocess.run(argv, capture_output=True, text=True); wall = time.time() - t
u = resource.getrusage(resource.RUSAGE_CHILDREN)
doc = {}
try: doc = json.loads(r.stdout)
except Exception: pass
files = doc.get('files') if isinstance(doc.get('files'), list) else []
out = sum(f.get('bytes', 0) for f in files)
print(f"{label}: rc {r.returncode} {wall:.2f} s, {u.ru_utime + u.ru_stime:.1f} CPU-s, RSS {u.ru_maxrss/1048576:.2f} GB, "
      f"{doc.get('copy_bytes', 0)/1e9/wall:.3f} GB/s, decoder {doc.get('decoder')}, rows {doc.get('rows')}, files {len(files)}, "
      f"parquet {out/1e9:.3f} GB, timings {doc.get('timings')}")
import re
gcs = [tuple(map(int, m.groups())) for m in re.finditer(r' (\d+)->(\d+)->(\d+) MB', r.stderr)]
if gcs: print(f"    gctrace: {len(gcs)} collections, heap at most {max(g[0] for g in gcs)} MB, live after one at most {max(g[2] for g in gcs)} MB")
if r.returncode: print(r.stderr[-2000:])
for line in r.stderr.splitlines():
    if 'compression' in line: print('   ', line[:300])
PY
}
