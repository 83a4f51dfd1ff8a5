"""Runs one CLI export of TABLE on the GPU host (P=16, --log-format json, into OUT) and prints
each log line's message with its time from the launch (this host's wall clock), then when the
result reached stdout (export.Run has returned: its files, decoder and connections closed),
the exit with the process's CPU-s and the result's timings. ONLY (comma-separated messages) keeps those lines alone.
Usage: python3 bench/gpuhost-timeline.py BIN TABLE CUDA_LIB OUT [ONLY] (GPU-host scripts, sessions 22-24)."""
import datetime, json, os, subprocess, sys, threading, time

bin, t, lib, out = sys.argv[1:5]
only = set(sys.argv[5].split(',')) if len(sys.argv) > 5 and sys.argv[5] else None
t0 = time.time()
p = subprocess.Popen([bin, "export", "--dsn", "postgres://postgres@127.0.0.1:5432/postgres", "--table", t,
                      "--output-dir", out, "--overwrite", "--parallel", "16", "--gpu-lib", lib,
                      "--no-progress", "--log-format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
got = {}


def read_stdout():
    first = p.stdout.read(1)
    got["result_t"] = time.time()
    got["stdout"] = first + p.stdout.read()


th = threading.Thread(target=read_stdout)
th.start()
stderr = p.stderr.read()
_, status, ru = os.wait4(p.pid, 0)
rc = os.waitstatus_to_exitcode(status)
t1 = time.time()
th.join()
for line in stderr.splitlines():
    try:
        d = json.loads(line)
    except Exception:
        print("   ", line[:200]); continue
    ts = datetime.datetime.fromisoformat(d.pop("time").replace("Z", "+00:00")).timestamp()
    d.pop("level", None)
    msg = d.pop('msg')
    if only is None or msg in only:
        print(f"  {ts - t0:7.3f} s  {msg}  {json.dumps(d)[:200]}")
out = got.get("stdout", "")
doc = json.loads(out) if out.strip() else {}
if "result_t" in got:
    print(f"  {got['result_t'] - t0:7.3f} s  result on stdout")
print(f"  {t1 - t0:7.3f} s  exit rc {rc}; {ru.ru_utime + ru.ru_stime:.1f} CPU-s, peak RSS {ru.ru_maxrss / 2**20:.2f} GiB; "
      f"timings {doc.get('timings')}")
