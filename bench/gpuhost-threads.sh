# Sourced by the GPU-host scripts from session 9 on (bench/gpuhost-r9*.sh).
# tmeasure LABEL COMMAND...: runs one pgparquet export as measure (bench/gpuhost-measure.sh)
# does (wall s, CPU s, peak RSS of the child, GB/s of COPY, Parquet bytes, stage timings), and
# also splits its CPU time by thread name: /proc/PID/task/*/stat polled every 50 ms, each
# thread's last utime+stime kept. Go's threads carry the binary's name; CUDA's and nvCOMP's
# their own ("cuda-EvtHandlr", ...): CPU that Go's profiler does not see (threads it did not
# make) shows there.
tmeasure() {
  python3 - "$@" <<'PY'
import os, resource, subprocess, sys, time, json, collections
label, argv = sys.argv[1], sys.argv[2:]
tick = os.sysconf('SC_CLK_TCK')
t = time.time()
p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
threads = {}
import threading
out = {}
def drain(name, f): out[name] = f.read()
ts = [threading.Thread(target=drain, args=(n, f)) for n, f in (('out', p.stdout), ('err', p.stderr))]
for x in ts: x.start()
peak = 0
while p.poll() is None:
    try:
        for tid in os.listdir(f'/proc/{p.pid}/task'):
            try:
                with open(f'/proc/{p.pid}/task/{tid}/stat') as f: s = f.read()
            except OSError: continue
            name = s[s.index('(') + 1:s.rindex(')')]
            fields = s[s.rindex(')') + 2:].split()
            threads[tid] = (name, (int(fields[11]) + int(fields[12])) / tick)
        with open(f'/proc/{p.pid}/status') as f:
            for line in f:
                if line.startswith('VmRSS:'): peak = max(peak, int(line.split()[1]))
    except OSError: pass
    time.sleep(0.05)
for x in ts: x.join()
wall = time.time() - t
u = resource.getrusage(resource.RUSAGE_CHILDREN)
doc = {}
try: doc = json.loads(out['out'])
except Exception: pass
files = doc.get('files') if isinstance(doc.get('files'), list) else []
size = sum(f.get('bytes', 0) for f in files)
cpu = u.ru_utime + u.ru_stime
gb = doc.get('copy_bytes', 0) / 1e9
print(f"{label}: rc {p.returncode} {wall:.2f} s, {cpu:.1f} CPU-s ({cpu / gb if gb else 0:.2f} per GB), RSS {u.ru_maxrss/1048576:.2f} GB, "
      f"{gb/wall:.3f} GB/s, decoder {doc.get('decoder')}, rows {doc.get('rows')}, files {len(files)}, "
      f"parquet {size/1e9:.3f} GB, timings {doc.get('timings')}")
by = collections.Counter()
n = collections.Counter()
for name, s in threads.values():
    by[name] += s; n[name] += 1
print('   threads (CPU-s as last polled): ' + ', '.join(f'{k} x{n[k]} {v:.2f}' for k, v in by.most_common()))
if p.returncode: print(out['err'][-2000:])
for line in out['err'].splitlines():
    if 'compression' in line or 'CUDA' in line or 'WARN' in line: print('   ', line[:300])
PY
}
