"""What bench/gpuhost-r8-chart.py and gpuhost-r9-chart.py share: the figures derived from one
call's wall and CPU seconds, and the chart of throughput and CPU per GB by tool."""
import sys

# matplotlib: pip install --target /tmp/mpl matplotlib (not a test requirement)
sys.path.insert(0, "/tmp/mpl")


def derive(one_call, gb):
    """Adds GB/s, the fraction of the call's source limit and CPU-s per GB of COPY to each
    tool's figures in one_call ({table: {"source_limit_gbps": x, tool: {"wall_s", "cpu_s"}}});
    gb is each table's COPY bytes in GB."""
    for t, r in one_call.items():
        for v in r.values():
            if isinstance(v, dict):
                v["gbps"] = round(gb[t] / v["wall_s"], 3)
                v["x_source_limit"] = round(v["gbps"] / r["source_limit_gbps"], 2)
                v["cpu_s_per_gb"] = round(v["cpu_s"] / gb[t], 2)


def plot(one_call, path, title):
    """Writes the PNG at path: GB/s (the source limit dashed) and CPU-s per GB (the issue's
    targets dotted) of the GPU writer, the sidecar, the CPU path and DuckDB (those the call
    ran), lineorder and wide."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    palette = {"gpu_writer": "#2a7", "sidecar": "#7c3", "cpu": "#c55", "duckdb_1.5.5": "#57c"}
    names = [n for n in palette if any(n in one_call[t] for t in ("lineorder", "wide"))]
    w = len(names) + 1  # bars per table, and a gap
    for k, t in enumerate(["lineorder", "wide"]):
        r = one_call[t]
        for j, n in enumerate(names):
            if n not in r:  # a tool the call did not run
                continue
            ax[0].bar(k * w + j, r[n]["gbps"], color=palette[n], label=n if k == 0 else None)
            ax[1].bar(k * w + j, r[n]["cpu_s_per_gb"], color=palette[n], label=n if k == 0 else None)
        ax[0].hlines(r["source_limit_gbps"], k * w - 0.5, k * w + w - 1.5, colors="k", linestyles="--")
    for a, sub, yl in ((ax[0], "throughput (dashed: source limit, same call)", "GB/s of COPY bytes"),
                       (ax[1], "client CPU (issue target 1.5 lineorder, 3 wide)", "CPU-s per GB of COPY")):
        a.set_xticks([(w - 2) / 2, w + (w - 2) / 2]); a.set_xticklabels(["lineorder 40M", "wide 10M"]); a.set_title(sub, fontsize=9)
        a.set_ylabel(yl); a.legend(fontsize=7)
    ax[1].hlines([1.5, 3], [-0.5, w - 0.5], [w - 1.5, 2 * w - 1.5], colors="k", linestyles=":")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(); fig.savefig(path, dpi=90)
