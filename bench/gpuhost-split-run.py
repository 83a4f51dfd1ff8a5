"""Runs one pgparquet export (the command after the label; it must log JSON, --log-format json)
and prints, on one line: its wall seconds, GB/s of COPY, its CPU-s (wait4's rusage of the
child) and the whole host's busy CPU-s over the same time (/proc/stat: PostgreSQL's backends
included), peak RSS, Parquet GB, and where the wall time went: launch to the log's "export
started", started to "export finished", finished to the result's write (the mtime of the
stdout file), result to the process's exit.
Usage: python3 bench/gpuhost-split-run.py LABEL COMMAND... (GPU-host scripts, session 21)."""
import datetime, json, os, resource, subprocess, sys, tempfile, time


def host_busy():
    with open('/proc/stat') as f:
        v = list(map(int, f.readline().split()[1:]))
    # user nice system idle iowait irq softirq steal: busy = all but idle and iowait
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf('SC_CLK_TCK')


label, argv = sys.argv[1], sys.argv[2:]
res_path = tempfile.mktemp(dir='/dev/shm', suffix='.json')
before = resource.getrusage(resource.RUSAGE_CHILDREN)
h0 = host_busy()
t0 = time.time()
with open(res_path, 'w') as out:
    r = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE, text=True)
t3 = time.time()
h1 = host_busy()
u = resource.getrusage(resource.RUSAGE_CHILDREN)
tj = os.stat(res_path).st_mtime
doc = {}
try:
    doc = json.load(open(res_path))
except Exception:
    pass
os.unlink(res_path)
ts, fin = {}, {}
for line in r.stderr.splitlines():
    try:
        d = json.loads(line)
    except Exception:
        continue
    if d.get('msg') in ('export started', 'export finished'):
        ts[d['msg']] = datetime.datetime.fromisoformat(d['time'].replace('Z', '+00:00')).timestamp()
    if d.get('msg') == 'export finished':
        fin = d
wall = t3 - t0
gb = doc.get('copy_bytes', 0) / 1e9
files = doc.get('files') if isinstance(doc.get('files'), list) else []
cpu = u.ru_utime + u.ru_stime - before.ru_utime - before.ru_stime
s, f = ts.get('export started', t0), ts.get('export finished', t0)
tim = doc.get('timings') or {}
print(f"{label}: rc {r.returncode} {wall:.2f} s, {gb / wall:.3f} GB/s, {cpu:.1f} CPU-s ({cpu / max(gb, 1e-9):.2f}/GB), "
      f"host busy {h1 - h0:.1f} CPU-s, RSS {u.ru_maxrss / 1048576:.2f} GiB, parquet {sum(x.get('bytes', 0) for x in files) / 1e9:.3f} GB, "
      f"decoder {doc.get('decoder')}; copy_s {tim.get('copy_s', 0):.3f} receive_s {tim.get('receive_s', 0):.3f} idle_s {tim.get('receive_idle_s', 0):.3f} wait_s {tim.get('receive_wait_s', 0):.2f} (buffers {fin.get('waited_for_buffers_s', 0):.2f}, writers {fin.get('waited_for_writers_s', 0):.2f}); launch-started {s - t0:.3f}, started-finished {f - s:.3f}, "
      f"finished-result {tj - f:.3f}, result-exit {t3 - tj:.3f}")
for line in r.stderr.splitlines():
    if '"WARN"' in line or 'CUDA error' in line:
        print('   ', line[:300])
if r.returncode:
    print(r.stderr[-2000:])
