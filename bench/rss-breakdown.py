"""Runs a command and samples its /proc/PID/smaps every 0.2 s; at the end prints, for the
sample of highest total RSS, the RSS by kind of mapping: the Go heap and other anonymous
memory, NVIDIA device files (pinned host memory and the driver's mappings), shared libraries
by name, and the rest. Usage: rss-breakdown.py COMMAND... (its stdout goes to /dev/null, its
stderr to $RSS_STDERR or /dev/null; its exit code, wall time and CPU time (user + sys, from
wait4) are printed), and its CPU time by thread name (/proc/PID/task/*/stat at each sample,
each thread's last: a thread's time after its last sample is missed). For the GPU host's
benchmark scripts."""
import collections, os, subprocess, sys, time


def sample(pid):
    kinds = collections.Counter()
    name = "?"
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 5 and "-" in parts[0] and ":" in parts[3]:
                    name = parts[5] if len(parts) >= 6 else "[anon]"
                elif parts and parts[0] == "Rss:":
                    kb = int(parts[1])
                    if name.startswith("/dev/nvidia"):
                        k = "nvidia device mappings (" + name + ")"
                    elif name in ("[anon]", "[heap]"):
                        k = "anonymous (Go heap, cgo malloc, pinned host memory)"
                    elif ".so" in name:
                        k = "library " + name.rsplit("/", 1)[-1]
                    else:
                        k = name
                    kinds[k] += kb
    except (FileNotFoundError, ProcessLookupError):
        return None
    return kinds


def thread_cpu(pid, seen):
    """Records in seen[tid] = (name, CPU seconds) each thread of pid's user + sys time."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except (FileNotFoundError, ProcessLookupError):
        return
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except (FileNotFoundError, ProcessLookupError):
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        seen[tid] = (name, (int(fields[11]) + int(fields[12])) / tick)


err = open(os.environ["RSS_STDERR"], "w") if os.environ.get("RSS_STDERR") else subprocess.DEVNULL
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=err)
best, best_total = None, 0
threads = {}
t0 = time.monotonic()
while True:
    thread_cpu(p.pid, threads)
    s = sample(p.pid)
    if s is not None and sum(s.values()) > best_total:
        best, best_total = s, sum(s.values())
    pid, status, ru = os.wait4(p.pid, os.WNOHANG)
    if pid == p.pid:
        break
    time.sleep(0.2)
wall = time.monotonic() - t0
print(f"rc {os.waitstatus_to_exitcode(status)}; {wall:.2f} s, {ru.ru_utime + ru.ru_stime:.2f} CPU-s; peak sampled RSS {best_total/1048576:.2f} GiB:")
for k, kb in (best or {}).most_common(12):
    print(f"    {kb/1048576:7.3f} GiB  {k}")
by_name = collections.Counter()
for name, cpu in threads.values():
    by_name[name] += cpu
print("    CPU-s by thread name (sampled): " + ", ".join(f"{n} {c:.2f} ({sum(1 for v in threads.values() if v[0] == n)})" for n, c in by_name.most_common(8)))
