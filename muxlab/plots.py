"""Charts of what the engine and the comparison measured. They take DataFrames and draw; they never compute.

Memory is shown in MiB (2**20 bytes). In the comparison dashboard a colour
means a strategy, in every panel; memory kinds are told apart by shade and
hatching, not by colour.
"""

from .units import MiB

#: Words for the memory columns of a comparison.
MEMORY_LABELS = {
    "rss": "resident memory",
    "rss_anon": "anonymous memory",
    "rss_file": "file-backed memory",
    "peak_rss": "peak resident memory (kernel)",
    "uss": "unique memory",
}


def _new_axes(nrows, ncols, figsize, **kwargs):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, layout="constrained", **kwargs)
    return fig, axes


def strategy_colors(strategies):
    """One colour per strategy, in order, from matplotlib's ``tab10`` cycle.

    >>> strategy_colors(["npz", "npy_mmap"])["npy_mmap"]
    'tab:orange'
    """
    cycle = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
             "tab:olive", "tab:cyan"]
    return {name: cycle[i % len(cycle)] for i, name in enumerate(dict.fromkeys(strategies))}


def plot_memory_timeline(timeline, ax=None, column="rss_anon", title=None, colors=None):
    """Memory against windows drawn, one line per strategy (``column`` of a comparison's ``timeline``).

    The x axis is the number of windows the child had drawn at each reading,
    not time: a fast strategy's run of a few milliseconds and a slow one's of
    seconds then share one axis. Readings without a window count (before the
    first window) are drawn at 0.
    """
    if ax is None:
        _, ax = _new_axes(1, 1, (6, 3.5))
    strategies = list(dict.fromkeys(timeline["strategy"]))
    colors = colors or strategy_colors(strategies)
    for strategy, group in timeline.groupby("strategy", sort=False):
        windows = group["samples"].fillna(0)
        ax.plot(windows, group[column] / MiB, label=strategy, color=colors[strategy], marker=".", markersize=3)
    ax.set_xlabel("windows drawn")
    ax.set_ylabel(f"{MEMORY_LABELS.get(column, column)} (MiB)")
    ax.set_ylim(bottom=0)
    ax.set_title(title or f"{MEMORY_LABELS.get(column, column)} while streaming")
    ax.legend(fontsize="small")
    return ax


def plot_steady_memory(summary, ax=None, colors=None):
    """Anonymous and file-backed memory at the end, and the kernel's peak, per strategy (MiB)."""
    import numpy as np

    if ax is None:
        _, ax = _new_axes(1, 1, (6, 3.5))
    colors = colors or strategy_colors(summary["strategy"])
    columns = [("rss_anon", "anonymous (end)", 1.0, None), ("rss_file", "file-backed (end)", 0.45, None),
               ("peak_rss", "peak (kernel)", 0.15, "///")]
    x = np.arange(len(summary))
    width = 0.8 / len(columns)
    face = [colors[s] for s in summary["strategy"]]
    for i, (col, label, alpha, hatch) in enumerate(columns):
        ax.bar(x + (i - 1) * width, summary[col] / MiB, width, color=face, alpha=alpha, hatch=hatch,
               edgecolor="black", linewidth=0.5)
        ax.bar(0, 0, color="gray", alpha=alpha, hatch=hatch, edgecolor="black", linewidth=0.5, label=label)
    ax.set_xticks(x, summary["strategy"])
    ax.tick_params(axis="x", labelrotation=15)
    ax.set_xlabel("strategy")
    ax.set_ylabel("resident memory (MiB)")
    ax.set_title("memory at the end of the run, and the peak")
    top = max(summary[col].max() for col, *_ in columns) / MiB
    ax.set_ylim(0, 1.3 * top if top > 0 else 1)  # room for the legend above the bars
    ax.legend(fontsize="small", ncols=3, loc="upper center")
    return ax


def plot_activations(activations, ax=None, column="activations"):
    """Per-stream activation (or sample) counts, one series per strategy or a single bar chart."""
    from matplotlib.ticker import MaxNLocator

    if ax is None:
        _, ax = _new_axes(1, 1, (6, 3.5))
    title = f"{column} per stream"
    if "strategy" in activations:
        groups = list(activations.groupby("strategy", sort=False))
        first = groups[0][1][column].to_numpy()
        if all(len(g) == len(first) and (g[column].to_numpy() == first).all() for _, g in groups):
            # Same seed, same Mux: every strategy activated the same streams.
            activations = groups[0][1]
            title += " (identical for every strategy)"
        else:
            colors = strategy_colors([s for s, _ in groups])
            for strategy, group in groups:
                ax.plot(group["stream"], group[column], label=strategy, color=colors[strategy], marker="o",
                        markersize=3, linewidth=1)
            ax.legend(fontsize="small")
            activations = None
    if activations is not None:
        ax.bar(activations["stream"], activations[column], color="tab:gray")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("stream")
    ax.set_ylabel({"activations": "activations", "samples": "samples (items drawn)"}.get(column, column))
    ax.set_title(title)
    return ax


def plot_throughput(summary, ax=None, colors=None):
    """Windows per second per strategy, on a log scale."""
    if ax is None:
        _, ax = _new_axes(1, 1, (6, 3.5))
    colors = colors or strategy_colors(summary["strategy"])
    bars = ax.bar(summary["strategy"], summary["windows_per_s"], color=[colors[s] for s in summary["strategy"]])
    ax.bar_label(bars, labels=[f"{v:,.0f}" for v in summary["windows_per_s"]], fontsize="small")
    ax.set_yscale("log")
    ax.tick_params(axis="x", labelrotation=15)
    ax.set_xlabel("strategy")
    ax.set_ylabel("windows per second (log scale)")
    ax.set_title("throughput")
    return ax


def plot_comparison(comparison, fig=None):
    """The dashboard: memory against windows drawn, memory at the end, throughput, activations per stream.

    A colour means one strategy in every panel.
    """
    if fig is None:
        fig, axes = _new_axes(2, 2, (12, 7.5))
    else:
        axes = fig.subplots(2, 2)
    colors = strategy_colors(comparison.summary["strategy"])
    plot_memory_timeline(comparison.timeline, ax=axes[0, 0], colors=colors)
    plot_steady_memory(comparison.summary, ax=axes[0, 1], colors=colors)
    plot_throughput(comparison.summary, ax=axes[1, 0], colors=colors)
    plot_activations(comparison.activations, ax=axes[1, 1])
    p = comparison.params
    if p:
        fig.suptitle(
            f"k={p['k']} lam={p['lam']:g} n={p['n']} windows={p['max_batches']} retain={p['retain']} cache={p['cache']}"
        )
    return fig
