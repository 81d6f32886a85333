"""Charts of what the engine and the comparison measured. They take DataFrames and draw; they never compute."""

from .units import MB


def _new_axes(nrows, ncols, figsize):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, layout="constrained")
    return fig, axes


def plot_memory_timeline(timeline, ax=None, column="rss_anon", title=None):
    """Memory over time, one line per strategy (``column`` of a comparison's ``timeline``)."""
    if ax is None:
        _, ax = _new_axes(1, 1, (6, 3.5))
    for strategy, group in timeline.groupby("strategy", sort=False):
        ax.plot(group["t"], group[column] / MB, label=strategy, marker=".", markersize=3)
    ax.set_xlabel("seconds since the child process started")
    ax.set_ylabel(f"{column} (MB)")
    ax.set_title(title or column)
    ax.legend(fontsize="small")
    return ax


def plot_steady_memory(summary, ax=None):
    """Anonymous, file-backed and peak resident memory per strategy, as grouped bars."""
    import numpy as np

    if ax is None:
        _, ax = _new_axes(1, 1, (6, 3.5))
    columns = [("rss_anon", "anonymous (end)"), ("rss_file", "file-backed (end)"), ("peak_rss", "peak (kernel)")]
    x = np.arange(len(summary))
    width = 0.8 / len(columns)
    for i, (col, label) in enumerate(columns):
        ax.bar(x + (i - 1) * width, summary[col] / MB, width, label=label)
    ax.set_xticks(x, summary["strategy"])
    ax.tick_params(axis="x", labelrotation=15)
    ax.set_ylabel("MB")
    ax.set_title("resident memory")
    top = max(summary[col].max() for col, _ in columns) / MB
    ax.set_ylim(0, 1.3 * top if top > 0 else 1)  # room for the legend above the bars
    ax.legend(fontsize="small", ncols=3, loc="upper center")
    return ax


def plot_activations(activations, ax=None, column="activations"):
    """Per-stream activation (or sample) counts, one series per strategy or a single bar chart."""
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
            for strategy, group in groups:
                ax.plot(group["stream"], group[column], label=strategy, marker="o", markersize=3, linewidth=1)
            ax.legend(fontsize="small")
            activations = None
    if activations is not None:
        ax.bar(activations["stream"], activations[column])
    ax.set_xlabel("stream")
    ax.set_ylabel(column)
    ax.set_title(title)
    return ax


def plot_throughput(summary, ax=None):
    """Windows per second per strategy, on a log scale."""
    if ax is None:
        _, ax = _new_axes(1, 1, (6, 3.5))
    bars = ax.bar(summary["strategy"], summary["windows_per_s"], color="tab:green")
    ax.bar_label(bars, labels=[f"{v:,.0f}" for v in summary["windows_per_s"]], fontsize="small")
    ax.set_yscale("log")
    ax.tick_params(axis="x", labelrotation=15)
    ax.set_ylabel("windows / s")
    ax.set_title("throughput")
    return ax


def plot_comparison(comparison, fig=None):
    """The dashboard: anonymous memory over time, steady and peak memory, throughput, activations per stream."""
    if fig is None:
        fig, axes = _new_axes(2, 2, (12, 7.5))
    else:
        axes = fig.subplots(2, 2)
    plot_memory_timeline(comparison.timeline, ax=axes[0, 0], title="anonymous memory over time")
    plot_steady_memory(comparison.summary, ax=axes[0, 1])
    plot_throughput(comparison.summary, ax=axes[1, 0])
    plot_activations(comparison.activations, ax=axes[1, 1])
    p = comparison.params
    if p:
        fig.suptitle(
            f"k={p['k']} lam={p['lam']:g} n={p['n']} windows={p['max_batches']} retain={p['retain']} cache={p['cache']}"
        )
    return fig
