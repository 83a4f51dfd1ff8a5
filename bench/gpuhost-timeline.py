"""Runs one CLI export of TABLE on the GPU host (P=16, --log-format json, into OUT) and prints
each log line's message with its time from the launch (this host's wall clock), then the exit
and the result's timings. ONLY (comma-separated messages) keeps those lines alone.
Usage: python3 bench/gpuhost-timeline.py BIN TABLE CUDA_LIB OUT [ONLY] (GPU-host scripts, sessions 22-23)."""
import datetime, json, subprocess, sys, time

bin, t, lib, out = sys.argv[1:5]
only = set(sys.argv[5].split(',')) if len(sys.argv) > 5 else None
t0 = time.time()
r = subprocess.run([bin, "export", "--dsn", "postgres://postgres@127.0.0.1:5432/postgres", "--table", t,
                    "--output-dir", out, "--overwrite", "--parallel", "16", "--gpu-lib", lib,
                    "--no-progress", "--log-format", "json"], capture_output=True, text=True)
t1 = time.time()
for line in r.stderr.splitlines():
    try:
        d = json.loads(line)
    except Exception:
        print("   ", line[:200]); continue
    ts = datetime.datetime.fromisoformat(d.pop("time").replace("Z", "+00:00")).timestamp()
    d.pop("level", None)
    msg = d.pop('msg')
    if only is None or msg in only:
        print(f"  {ts - t0:7.3f} s  {msg}  {json.dumps(d)[:200]}")
doc = json.loads(r.stdout) if r.stdout.strip() else {}
print(f"  {t1 - t0:7.3f} s  exit rc {r.returncode}; timings {doc.get('timings')}")
