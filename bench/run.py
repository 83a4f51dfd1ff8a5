#!/usr/bin/env python3
"""pgparquet benchmark harness (issue 6).

On one PostgreSQL server, for each benchmark table and each connection count P:
  1. the source limit: P connections stream the exporter's own ctid-range COPY BINARY and
     discard it (bin/bench-sourcelimit);
  2. pgparquet export, CPU path (--gpu off) and GPU path (--gpu on; reported as not run with the
     reason when this build or host cannot);
  3. the peers a user would pick instead (bench/peers/*.py, pg2parquet).
Every tool runs as a child process; its wall time is measured here, its CPU-seconds and peak
RSS come from wait4's rusage of the child (which includes the children it waited for, such as
psql in the CSV baseline). Throughput of every tool is expressed in GB/s of COPY BINARY bytes
of the table (the source limit's count), so all tools share one yardstick.

Writes bench/results/<host>-<date>.json and .png (if matplotlib imports) and prints a Markdown
table last. Only the standard library is needed to run; peers and the chart need the packages
of bench/requirements.txt in the interpreter given by --python (default: this one).
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Integer column each table's partitioned peers split their query on.
PARTITION_ON = {"lineorder": "lo_orderkey", "wide": "id"}


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_child(argv, timeout, env=None, cwd=None):
    """Runs argv as a child in its own process group; returns dict(rc, seconds, cpu_s, rss_mib,
    stdout, stderr). rusage comes from wait4 of this child alone."""
    out_path, err_path = os.path.join(WORK, "child.out"), os.path.join(WORK, "child.err")
    with open(out_path, "wb") as so, open(err_path, "wb") as se:
        t0 = time.monotonic()
        try:
            p = subprocess.Popen(argv, stdout=so, stderr=se, env=env, cwd=cwd, start_new_session=True)
        except OSError as e:
            return {"rc": -1, "seconds": 0, "cpu_s": 0, "rss_mib": 0, "stdout": "", "stderr": str(e)}
        deadline = t0 + timeout
        timed_out = False
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                os.killpg(p.pid, signal.SIGKILL)
                timed_out = True
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.02)
        secs = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    with open(out_path, errors="replace") as f:
        stdout = f.read()
    with open(err_path, errors="replace") as f:
        stderr = f.read()
    if timed_out:
        stderr += f"\n(killed after {timeout} s)"
    return {"rc": p.returncode, "seconds": secs, "cpu_s": ru.ru_utime + ru.ru_stime, "rss_mib": ru.ru_maxrss / 1024,
            "stdout": stdout, "stderr": stderr}


def last_json(text):
    """The JSON document a tool printed: all of stdout, else its last line that is an object."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON line in output")


def tail(text, n=400):
    text = " ".join(text.strip().split())
    return text[-n:]


def dir_bytes(path):
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(d, f))
    return total


def parquet_rows(path):
    """Rows in the Parquet files under path (None when pyarrow is not importable here)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return None
    rows = 0
    for d, _, files in os.walk(path):
        for f in sorted(files):
            if f.endswith(".parquet"):
                rows += pq.ParquetFile(os.path.join(d, f)).metadata.num_rows
    return rows


def fresh_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    return path


def version_of(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


def host_info(args):
    info = {"host": args.host, "platform": platform.platform(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu_model"] = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
        with open("/proc/meminfo") as f:
            info["mem_gib"] = round(int(f.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    if shutil.which("nvidia-smi"):
        info["gpu"] = version_of(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"])
    return info


def measure_tool(row, argv, out, timeout, env=None, summary_is_json=True):
    """Runs one tool REPEAT times, keeps the fastest successful run in row (all wall times in
    row["all_seconds"]) and returns its parsed JSON output; a failure stops the repeats."""
    best, best_doc, times = None, None, []
    for _ in range(REPEAT):
        r = dict(row)
        doc = measure_once(r, argv, out, timeout, env, summary_is_json)
        times.append(round(r.get("seconds", 0), 3))
        if r.get("status") != "ok":
            best, best_doc = r, doc
            break
        if best is None or r["seconds"] < best["seconds"]:
            best, best_doc = r, doc
    row.update(best, all_seconds=times)
    return best_doc


def measure_once(row, argv, out, timeout, env, summary_is_json):
    """Runs one tool into out, fills row with the measurements, returns the parsed JSON line."""
    fresh_dir(out)
    os.makedirs(out, exist_ok=True)
    r = run_child(argv, timeout, env=env)
    row.update(seconds=r["seconds"], cpu_s=r["cpu_s"], peak_rss_mib=r["rss_mib"])
    doc = None
    if r["rc"] != 0:
        row.update(status="failed", error=f"exit {r['rc']}: {tail(r['stderr'] or r['stdout'])}")
    else:
        if summary_is_json:
            try:
                doc = last_json(r["stdout"])
            except ValueError as e:
                row.update(status="failed", error=f"{e}: {tail(r['stdout'] + r['stderr'])}")
        row["output_bytes"] = dir_bytes(out)
        row["rows_written"] = parquet_rows(out)
        if row.get("status") != "failed":
            row["status"] = "ok"
    shutil.rmtree(out, ignore_errors=True)
    return doc


def derive(row, copy_bytes, rows, source):
    """Adds the yardstick figures: GB/s of the table's COPY BINARY bytes, fraction of the source
    limit at the same P, rows/s, CPU-seconds per GB of COPY bytes."""
    if row.get("status") != "ok" or not row.get("seconds"):
        return
    gb = copy_bytes / 1e9
    row["gb_per_s"] = gb / row["seconds"]
    row["rows_per_s"] = rows / row["seconds"]
    row["cpu_s_per_gb"] = row["cpu_s"] / gb
    lim = source.get(row["parallel"])
    if lim:
        row["fraction_of_source"] = row["gb_per_s"] / lim
    if row.get("rows_written") not in (None, rows):
        row["status"] = "wrong rows"
        row["error"] = f"wrote {row['rows_written']} rows, table has {rows}"


def bench_table(args, table, load_info):
    rows_out = []
    ps = args.parallel
    log(f"{table}: source limit, P={ps}")
    r = run_child([BIN("bench-sourcelimit"), "--dsn", args.dsn, "--table", table, "--parallel", ",".join(map(str, ps * args.repeat))], args.timeout)
    if r["rc"] != 0:
        raise SystemExit(f"source limit on {table} failed: {r['stderr']}")
    best = {}
    for s in (json.loads(l) for l in r["stdout"].splitlines() if l.strip()):
        best.setdefault(s["parallel"], []).append(s)
    source_runs = []
    for p in ps:
        fastest = max(best[p], key=lambda s: s["gb_per_s"])
        fastest["all_seconds"] = [round(s["seconds"], 3) for s in best[p]]
        source_runs.append(fastest)
    copy_bytes, rows = source_runs[0]["copy_bytes"], source_runs[0]["rows"]
    source = {s["parallel"]: s["gb_per_s"] for s in source_runs}
    for s in source_runs:
        rows_out.append({"table": table, "tool": "source limit", "parallel": s["parallel"], "status": "ok",
                         "seconds": s["seconds"], "cpu_s": s["cpu_s"], "gb_per_s": s["gb_per_s"], "fraction_of_source": 1.0,
                         "rows_per_s": s["rows"] / s["seconds"], "cpu_s_per_gb": s["cpu_s"] / (s["copy_bytes"] / 1e9), "all_seconds": s["all_seconds"],
                         "version": "bin/bench-sourcelimit", "options": f"{s['tasks']} ctid ranges, bytes counted and discarded"})
        log(f"  P={s['parallel']}: {s['gb_per_s']:.3f} GB/s ({s['copy_bytes']/1e6:.0f} MB, {s['rows']} rows)")

    out = os.path.join(WORK, "out")
    pgp_version = version_of([BIN("pgparquet"), "--version"])
    gpu_reason = None
    for path in (["cpu", "gpu"] if args.gpu != "off" else ["cpu"]):
        for p in ps:
            row = {"table": table, "tool": f"pgparquet {path.upper()}", "parallel": p, "version": pgp_version,
                   "options": f"--parallel {p} --gpu {'off' if path == 'cpu' else 'on'} (zstd, 4 ranges per worker)"}
            rows_out.append(row)
            if gpu_reason and path == "gpu":
                row.update(status="not run", error=gpu_reason)
                continue
            log(f"{table}: pgparquet {path} P={p}")
            doc = measure_tool(row, [BIN("pgparquet"), "export", "--dsn", args.dsn, "--table", table, "--output-dir", out,
                                     "--parallel", str(p), "--no-progress", "--gpu", "off" if path == "cpu" else "on"], out, args.timeout)
            if doc:
                row.update(decoder=doc.get("decoder"), timings=doc.get("timings"), summary_copy_bytes=doc.get("copy_bytes"),
                           output_bytes=doc.get("output_bytes", row.get("output_bytes")))
                if doc.get("rows") != rows:
                    row.update(status="wrong rows", error=f"summary says {doc.get('rows')} rows, table has {rows}")
            elif path == "gpu":
                gpu_reason = f"--gpu on could not run here: {row.get('error')}"
                row.update(status="not run", error=gpu_reason)
            derive(row, copy_bytes, rows, source)

    peers = {
        "ConnectorX + pyarrow": ("connectorx", True),
        "Polars": ("polars", True),
        "DuckDB postgres ext": ("duckdb", True),
        "pg2parquet": ("pg2parquet", False),
        "psql CSV + pyarrow": ("csv", False),
    }
    # No __pycache__ in the source tree (bench/peers is tracked; .gitignore is not ours).
    env = dict(os.environ, BENCH_PSQL=args.psql, PGPASSWORD=os.environ.get("PGPASSWORD", "unused"), PYTHONDONTWRITEBYTECODE="1")
    for name, (key, parallel) in peers.items():
        if key not in args.peers:
            continue
        for p in (ps if parallel else [1]):
            row = {"table": table, "tool": name, "parallel": p}
            rows_out.append(row)
            log(f"{table}: {name} P={p}")
            if key == "pg2parquet":
                exe = args.pg2parquet
                if not exe or not os.path.exists(exe):
                    row.update(status="not run", error=f"pg2parquet binary not found ({exe or 'not on PATH'}); build it with `make bench-pg2parquet`")
                    continue
                u = dsn_parts(args.dsn)
                row["version"] = version_of([exe, "--version"])
                row["options"] = "one connection (it has no parallel option), --compression zstd (level 3)"
                argv = [exe, "export", "-H", u["host"], "-p", u["port"], "-U", u["user"], "-d", u["db"], "-t", table,
                        "--sslmode", "disable", "--quiet", "-o", os.path.join(out, "part-0.parquet"), "--compression", "zstd"]
                measure_tool(row, argv, out, args.timeout, env=env, summary_is_json=False)
                if row.get("status") == "ok" and row.get("rows_written") is None:
                    row["rows_written"] = rows  # pyarrow missing here: trust it
            else:
                argv = [args.python, os.path.join(HERE, "peers", f"{key}_peer.py"), "--dsn", args.dsn, "--table", table,
                        "--parallel", str(p), "--partition-on", PARTITION_ON.get(table, ""), "--out", out]
                doc = measure_tool(row, argv, out, args.timeout, env=env)
                if doc:
                    row.update(version=doc["version"], options=doc["options"])
                    if row.get("rows_written") is None:
                        row["rows_written"] = doc["rows"]
            derive(row, copy_bytes, rows, source)
    return {"table": table, "load": load_info, "copy_bytes": copy_bytes, "rows": rows, "source_limit": source_runs, "runs": rows_out}


def dsn_parts(dsn):
    from urllib.parse import urlparse
    u = urlparse(dsn)
    return {"host": u.hostname or "127.0.0.1", "port": str(u.port or 5432), "user": u.username or "postgres",
            "db": (u.path or "/postgres").lstrip("/") or "postgres"}


def fmt(v, spec):
    return "" if v is None else format(v, spec)


def markdown(doc):
    lines = []
    for t in doc["tables"]:
        lines.append(f"\n### {t['table']}: {t['rows']:,} rows, {t['copy_bytes']/1e9:.3f} GB of COPY BINARY "
                     f"(host {doc['host']['host']}, {doc['host']['cpus']} CPUs)\n")
        lines.append("| tool | P | status | seconds | GB/s | of source limit | Mrows/s | Parquet MB | CPU-s | CPU-s/GB | peak RSS MiB | setup / copy / decode / encode / finalize s |")
        lines.append("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for r in t["runs"]:
            tm = r.get("timings") or {}
            stages = " / ".join(fmt(tm.get(k), ".2f") for k in ("setup_s", "copy_s", "decode_s", "encode_s", "finalize_s")) if tm else ""
            frac = r.get("fraction_of_source")
            lines.append("| " + " | ".join([
                r["tool"], str(r["parallel"]), r.get("status", ""), fmt(r.get("seconds"), ".2f") if r.get("status") == "ok" else "",
                fmt(r.get("gb_per_s"), ".3f"), "" if frac is None else f"{frac:.0%}", fmt(r.get("rows_per_s") and r["rows_per_s"] / 1e6, ".2f"),
                fmt(r.get("output_bytes") and r["output_bytes"] / 1e6, ".1f"), fmt(r.get("cpu_s") if r.get("status") == "ok" else None, ".1f"),
                fmt(r.get("cpu_s_per_gb"), ".1f"), fmt(r.get("peak_rss_mib") if r.get("status") == "ok" else None, ".0f"), stages]) + " |")
        fails = [r for r in t["runs"] if r.get("status") != "ok"]
        if fails:
            lines.append("\nNot run or failed:")
            for r in fails:
                lines.append(f"- {r['tool']} P={r['parallel']}: {r.get('error', '')}")
    if doc.get("headline"):
        lines.append("\n### Headline\n")
        for h in doc["headline"]:
            lines.append(f"- {h}")
    vers = {}
    for t in doc["tables"]:
        for r in t["runs"]:
            if r.get("version"):
                vers[r["tool"]] = (r["version"], r.get("options"))  # the last, largest P
    lines.append(f"\n### Versions and options (at the largest P; best of {doc.get('repeat', 1)} runs each)\n")
    for tool, (v, o) in vers.items():
        lines.append(f"- {tool}: {v}; {json.dumps(o) if isinstance(o, dict) else o}")
    return "\n".join(lines)


def headline(doc):
    out = []
    for t in doc["tables"]:
        runs = [r for r in t["runs"] if r.get("status") == "ok"]
        pmax = max(r["parallel"] for r in runs if r["tool"] == "source limit")
        ours = [r for r in runs if r["tool"] == "pgparquet CPU" and r["parallel"] == pmax]
        peers = [r for r in runs if not r["tool"].startswith(("pgparquet", "source"))]
        if not ours:
            out.append(f"{t['table']}: pgparquet CPU did not run at P={pmax}")
            continue
        o = ours[0]
        s = f"{t['table']}: pgparquet CPU at P={pmax}: {o['gb_per_s']:.3f} GB/s = {o['fraction_of_source']:.0%} of the source limit"
        if peers:
            best = max(peers, key=lambda r: r["gb_per_s"])
            s += (f"; best peer {best['tool']} (P={best['parallel']}) {best['gb_per_s']:.3f} GB/s: "
                  f"pgparquet is {o['gb_per_s']/best['gb_per_s']:.2f}x its throughput at "
                  f"{o['cpu_s_per_gb']/best['cpu_s_per_gb']:.2f}x its CPU-s/GB")
        out.append(s)
    return out


def chart(doc, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        log(f"no chart: {e}")
        return None
    tables = doc["tables"]
    fig, axes = plt.subplots(len(tables), 2, figsize=(14, 0.9 + 0.34 * max(len(t["runs"]) for t in tables) * len(tables) + 0.6 * len(tables)),
                             squeeze=False)
    colors = {"source limit": "#999999", "pgparquet CPU": "#1f77b4", "pgparquet GPU": "#17becf"}
    for i, t in enumerate(tables):
        runs = [r for r in t["runs"] if r.get("status") == "ok"][::-1]
        labels = [f"{r['tool']}  P={r['parallel']}" for r in runs]
        c = [colors.get(r["tool"], "#ff7f0e") for r in runs]
        for j, (key, title) in enumerate([("gb_per_s", "GB/s of COPY bytes, higher is better"),
                                          ("cpu_s_per_gb", "client CPU-s per GB, lower is better")]):
            ax = axes[i][j]
            vals = [r.get(key) or 0 for r in runs]
            bars = ax.barh(range(len(runs)), vals, color=c)
            ax.set_yticks(range(len(runs)))
            ax.set_yticklabels(labels, fontsize=9)
            ax.set_title(f"{t['table']} ({t['copy_bytes']/1e9:.2f} GB): {title}", fontsize=10)
            ax.bar_label(bars, labels=[f"{v:.3f}" if key == "gb_per_s" else f"{v:.1f}" for v in vals], fontsize=8, padding=2)
            ax.set_xlim(0, max(vals + [1e-9]) * 1.18)
            ax.grid(axis="x", alpha=0.3)
    h = doc["host"]
    fig.suptitle(f"pgparquet benchmark on {h['host']} ({h['cpus']} CPUs{', ' + h['gpu'] if h.get('gpu') else ''}), {doc['date']}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def main():
    global WORK, BIN, REPEAT
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dsn", default=os.environ.get("BENCH_DSN", ""), help="postgres:// URI of the server (default $BENCH_DSN)")
    ap.add_argument("--tables", default="lineorder,wide", help="shapes to load and measure: lineorder, wide")
    ap.add_argument("--gb", type=float, default=0.4, help="lineorder size in GB of COPY BINARY")
    ap.add_argument("--wide-gb", type=float, default=None, help="wide table size in GB (default: --gb)")
    ap.add_argument("--reuse", action="store_true", help="keep tables already loaded by an earlier run")
    ap.add_argument("--parallel", default="1,2", help="connection counts P")
    ap.add_argument("--peers", default="connectorx,polars,duckdb,pg2parquet,csv", help="peers to run (empty: none)")
    ap.add_argument("--gpu", default="try", choices=["try", "off"], help="try: also run --gpu on and report why it could not run")
    ap.add_argument("--bin-dir", default=os.path.join(ROOT, "bin"), help="pgparquet, bench-load, bench-sourcelimit")
    ap.add_argument("--python", default=sys.executable, help="interpreter with bench/requirements.txt installed, for the peers")
    ap.add_argument("--pg2parquet", default=os.path.join(HERE, "work", "cargo", "bin", "pg2parquet"))
    ap.add_argument("--psql", default=shutil.which("psql") or "psql")
    ap.add_argument("--work", default=os.path.join(HERE, "work", "run"), help="scratch directory for outputs")
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    ap.add_argument("--host", default=socket.gethostname())
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per tool run")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each measurement; the fastest is kept, all wall times recorded")
    args = ap.parse_args()
    if not args.dsn:
        ap.error("no --dsn and no BENCH_DSN")
    args.parallel = [int(p) for p in args.parallel.split(",")]
    args.peers = [p for p in args.peers.split(",") if p]
    if not os.path.exists(args.pg2parquet) and shutil.which("pg2parquet"):
        args.pg2parquet = shutil.which("pg2parquet")
    WORK, REPEAT = args.work, max(args.repeat, 1)
    args.repeat = REPEAT
    os.makedirs(WORK, exist_ok=True)
    BIN = lambda name: os.path.join(args.bin_dir, name)  # noqa: E731

    date = datetime.datetime.now(datetime.timezone.utc)
    doc = {"benchmark": "pgparquet vs source limit vs peers", "date": date.strftime("%Y-%m-%dT%H:%M:%SZ"),
           "host": host_info(args), "parallel": args.parallel, "repeat": args.repeat, "tables": []}
    doc["postgres"] = version_of([args.psql, "-X", "-At", "-d", args.dsn, "-c", "SELECT version()"])
    log(f"server: {doc['postgres']}")
    for shape in args.tables.split(","):
        gb = args.gb if shape == "lineorder" or args.wide_gb is None else args.wide_gb
        log(f"load {shape}: {gb} GB of COPY BINARY")
        r = run_child([BIN("bench-load"), "--dsn", args.dsn, "--shape", shape, "--gb", str(gb)] + (["--reuse"] if args.reuse else []), args.timeout)
        if r["rc"] != 0:
            raise SystemExit(f"load {shape} failed: {r['stderr']}")
        load_info = last_json(r["stdout"])
        log(f"  {load_info['rows']} rows in {load_info['seconds']:.1f} s")
        doc["tables"].append(bench_table(args, shape, load_info))
    doc["headline"] = headline(doc)

    os.makedirs(args.results, exist_ok=True)
    base = os.path.join(args.results, f"{args.host}-{date.strftime('%Y-%m-%d')}")
    doc["chart"] = os.path.basename(base + ".png") if chart(doc, base + ".png") else None
    doc["markdown"] = markdown(doc)
    with open(base + ".json", "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    with open(base + ".md", "w") as f:
        f.write(doc["markdown"].lstrip() + "\n")
    log(f"wrote {base}.json, .md{', .png' if doc['chart'] else ''}")
    print(doc["markdown"])


WORK = BIN = REPEAT = None

if __name__ == "__main__":
    main()
