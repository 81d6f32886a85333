"""The comparison dashboard's axes, read from the figure (not its pixels): words and units, one colour per strategy."""

import matplotlib.colors
import numpy as np
import pandas as pd
import pytest

from muxlab.comparison import Comparison
from muxlab.plots import plot_activations, plot_comparison
from muxlab.units import MiB

STRATEGIES = ["npz", "npy_mmap"]


def synthetic_comparison():
    """A fast strategy (20 ms) and a slow one (7 s), as compare() reports them."""
    timeline = pd.concat([
        pd.DataFrame({"strategy": "npz", "t": np.linspace(0, 7, 50), "samples": np.linspace(0, 2000, 50),
                      "rss": 220 * MiB, "rss_anon": np.linspace(20, 200, 50) * MiB, "rss_file": 18 * MiB}),
        pd.DataFrame({"strategy": "npy_mmap", "t": [0.0, 0.01, 0.02], "samples": [np.nan, 1000, 2000],
                      "rss": 60 * MiB, "rss_anon": 18 * MiB, "rss_file": [20 * MiB, 30 * MiB, 40 * MiB]}),
    ], ignore_index=True)
    summary = pd.DataFrame({"strategy": STRATEGIES, "windows_per_s": [290.0, 43_000.0],
                            "peak_rss": [200 * MiB, 58 * MiB], "rss_anon": [182 * MiB, 18 * MiB],
                            "rss_file": [18 * MiB, 39 * MiB]})
    activations = pd.DataFrame({"strategy": np.repeat(STRATEGIES, 4), "stream": np.tile(np.arange(4), 2),
                                "activations": [3, 1, 2, 2] * 2, "samples": [40, 9, 30, 21] * 2})
    params = dict(k=32, lam=16, n=16, max_batches=2000, retain=32, cache="warm")
    return Comparison(summary, timeline, activations, params)


@pytest.mark.timeout(60)
def test_dashboard_axes_speak_words_with_units_and_one_colour_per_strategy():
    import matplotlib.pyplot as plt

    fig = plot_comparison(synthetic_comparison())
    (memory, steady), (throughput, counts) = np.reshape(fig.axes, (2, 2))
    # memory against windows drawn, not seconds: the 20 ms run spans the same axis as the 7 s one
    assert memory.get_xlabel() == "windows drawn"
    lines = {line.get_label(): line for line in memory.get_lines()}
    assert set(lines) == set(STRATEGIES)
    assert lines["npy_mmap"].get_xdata().max() == lines["npz"].get_xdata().max() == 2000
    assert lines["npy_mmap"].get_xdata()[0] == 0  # a reading before the first window is drawn at 0
    for ax in (memory, steady):
        assert ax.get_ylabel().endswith("(MiB)"), ax.get_ylabel()
    np.testing.assert_allclose(lines["npz"].get_ydata().max(), 200)
    assert throughput.get_ylabel().startswith("windows per second")
    assert "_" not in "".join(ax.get_xlabel() + ax.get_ylabel() for ax in fig.axes)  # words, not column names
    # a colour means a strategy in every panel
    line_colours = {name: matplotlib.colors.to_hex(line.get_color()) for name, line in lines.items()}
    bar_colours = {tick.get_text(): matplotlib.colors.to_hex(patch.get_facecolor(), keep_alpha=False)
                   for tick, patch in zip(throughput.get_xticklabels(), throughput.patches)}
    assert line_colours == bar_colours and len(set(line_colours.values())) == len(STRATEGIES)
    plt.close(fig)


@pytest.mark.timeout(60)
def test_count_axes_have_integer_ticks():
    import matplotlib.pyplot as plt

    frame = pd.DataFrame({"stream": np.arange(3), "activations": [1, 2, 3], "samples": [2, 3, 4]})
    fig, ax = plt.subplots()
    plot_activations(frame, ax=ax)
    fig.canvas.draw()
    for axis in (ax.xaxis, ax.yaxis):
        ticks = axis.get_majorticklocs()
        assert len(ticks) >= 2 and np.all(ticks == np.round(ticks)), ticks
    plt.close(fig)
