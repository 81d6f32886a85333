"""Disk scaling: windows/s (against the in-RAM baseline) and memory of two strategies as k, n and the number of files change.

One parameter moves at a time from the disk case's point (k=32, n=16, the
32 items of ``demo``): ``k`` (active streams; more than the number of items is
fine in ``with_replacement`` mode), ``n`` (rows per window) and the number of
files (collections of 10,000 x 128 items made in a temporary folder). For each
point and strategy: windows/s alternating with the in-RAM baseline over the
same items (warm page cache), then one ``muxlab.compare`` child (warm) for the
memory.
"""

import tempfile
from pathlib import Path

import muxlab
from muxlab import fixtures

from .disk import (
    BASELINE,
    MiB,
    all_files,
    disk_sizes,
    load_arrays,
    n_windows,
    rate_contender,
    rows_text,
    settle,
    stream_maker,
    strategy_files,
    timed_pass,
    warm,
)
from .report import Section, fmt, fmt_rate, fmt_spread
from .timing import alternate, median, progress, ratio_stats

AXES = ("k", "n", "files")


def files_preset(sizes, items):
    """The collection of ``items`` files for the files axis (seed 1; items of ``sizes.files_rows`` rows)."""
    return fixtures.Preset(
        f"bench-files-{items}", items=items, rows=(sizes.files_rows,), features=sizes.files_features, seed=1
    )


def points(sizes, demo_root, files_roots):
    """``[(axis, value, k, n, root, items)]``: one parameter moved at a time from ``(k, n, demo)``."""
    items = len(fixtures.load_manifest(demo_root)["items"])
    out = [("k", k, k, sizes.n, demo_root, items) for k in sizes.scaling_ks]
    out += [("n", n, sizes.k, n, demo_root, items) for n in sizes.scaling_ns]
    out += [("files", f, sizes.k, sizes.n, files_roots[f], f) for f in sizes.scaling_files]
    return out


def measure(settings, sizes, strategy, k, n, root, arrays):
    """Windows/s of ``strategy`` vs the baseline at one point (alternating), then its memory via ``muxlab.compare``."""
    seed = sizes.seed
    run = timed_pass(stream_maker(strategy, root, n, seed), k, sizes.lam, seed)
    base_run = timed_pass(stream_maker(BASELINE, root, n, seed, arrays), k, sizes.lam, seed)
    warm(strategy_files(root, strategy))
    windows, base_windows = n_windows(run, sizes.scaling_seconds), n_windows(base_run, sizes.scaling_seconds)
    rates = alternate(
        {BASELINE: rate_contender(base_run, base_windows), strategy: rate_contender(run, windows)},
        sizes.scaling_rounds,
        warmup=False,
    )
    s = ratio_stats(rates[strategy], rates[BASELINE])
    summary = muxlab.compare(
        root=root,
        strategies=[strategy],
        k=k,
        lam=sizes.lam,
        n=n,
        max_batches=sizes.scaling_batches[strategy],
        retain=sizes.retain,
        cache="warm",
        random_state=seed,
    ).summary.iloc[0]
    return {
        "rate": median(rates[strategy]),
        "base_rate": median(rates[BASELINE]),
        "ratio": s,
        "windows": windows,
        "anon": summary["rss_anon"] / MiB,
        "peak": summary["peak_rss"] / MiB,
        "file": summary["rss_file"] / MiB,
        "compare_rate": summary["windows_per_s"],
    }


def run_disk_scaling(settings):
    """Windows/s and memory of the scaling strategies as k, n and the number of files change."""
    sizes = disk_sizes(settings)
    demo_root = fixtures.ensure(sizes.preset)
    results = {}  # (strategy, axis, value) -> measurement
    with tempfile.TemporaryDirectory(prefix="muxlab-bench-files-") as tmp:
        files_roots = {}
        for f in sizes.scaling_files:
            progress(f"disk scaling: making a collection of {f} items in {tmp}")
            files_roots[f] = fixtures.make(Path(tmp) / f"files-{f}", files_preset(sizes, f))
        todo = points(sizes, demo_root, files_roots)
        for root in dict.fromkeys(p[4] for p in todo):  # settle and load each collection once
            settle(all_files(root))
            arrays = load_arrays(root)
            for axis, value, k, n, point_root, _ in todo:
                if point_root != root:
                    continue
                for strategy in sizes.scaling_strategies:
                    progress(f"disk scaling: {strategy}, {axis}={value} (k={k}, n={n})")
                    results[strategy, axis, value] = measure(settings, sizes, strategy, k, n, root, arrays)
            del arrays
    columns = [
        "strategy",
        "varied",
        "k",
        "n",
        "files",
        "windows per timing",
        "strategy windows/s",
        "in-RAM windows/s",
        "ratio strategy/in-RAM",
        "spread strategy/in-RAM",
        "anonymous at end MiB",
        "peak MiB",
        "file-backed MiB",
    ]
    rows, chart = [], {"points": []}
    for strategy in sizes.scaling_strategies:
        for axis, value, k, n, _, items in todo:
            r = results[strategy, axis, value]
            rows.append(
                [
                    f"`{strategy}`",
                    axis,
                    k,
                    n,
                    items,
                    f"{r['windows']:,}",
                    fmt_rate(r["rate"]),
                    fmt_rate(r["base_rate"]),
                    fmt(r["ratio"].median),
                    fmt_spread(r["ratio"]),
                    fmt(r["anon"]),
                    fmt(r["peak"]),
                    fmt(r["file"]),
                ]
            )
            chart["points"].append(dict(r, strategy=strategy, axis=axis, value=value, ratio=r["ratio"].median))
    demo = fixtures.load_manifest(demo_root)["preset"]
    batches = ", ".join(f"{s} {b}" for s, b in sizes.scaling_batches.items() if s in sizes.scaling_strategies)
    notes = [
        f"One parameter moves at a time from k={sizes.k}, n={sizes.n}, files={demo['items']} (the `{sizes.preset}` "
        f"collection, {rows_text(demo['rows'])} rows x {demo['features']} per item); lam={sizes.lam:g}, seed {sizes.seed}, "
        "mode with_replacement (k may exceed the number of files: a file is then active in several slots).",
        f"Files axis: collections made for the run in a temporary folder (`muxlab.fixtures.make`, "
        f"`Preset('bench-files-N', items=N, rows=({sizes.files_rows:,},), features={sizes.files_features}, seed=1)`), "
        "removed afterwards.",
        "Every collection (demo included) is settled before its points: its files are dropped from the page cache "
        "and read back in 4 MiB reads, as `muxlab.compare` warms them. How pages entered the page cache changes "
        "what `npy_mmap` maps per fault: in trials on 4 files, `npy_mmap` showed 162 MiB file-backed right after "
        "the files were written and 113 MiB after a drop and `np.load` of each file, but 41 MiB after a drop and "
        "4 MiB reads (or after a cold run, whose own faults read the pages in). Without settling, the files axis "
        "(fresh files) was not comparable with the demo points.",
        f"windows/s: as in the disk case (same consumer, same in-RAM baseline over the same items, warm page cache), "
        f"{sizes.scaling_rounds} alternating rounds, N calibrated per contender and point to about "
        f"{fmt(sizes.scaling_seconds)} s per timing.",
        f"Memory: one `muxlab.compare(strategies=[strategy], k, n, max_batches=..., retain={sizes.retain}, "
        f"cache='warm')` child per point ({batches} windows); MiB = 2^20 bytes; anonymous and file-backed at the end "
        "of the run, peak = the kernel's VmHWM; the interpreter with numpy alone is about 17.5 MiB anonymous.",
    ]
    return Section(
        "disk_scaling", "Disk scaling: windows/s and memory vs k, n and files", columns, rows, notes, [], chart
    )
