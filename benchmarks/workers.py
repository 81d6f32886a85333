"""Workers case: ``muxlab.background`` against the same mux in-process (overlap, transport, scaling in workers).

Every contender is a Mux (k=32, lam=16, seed 0) over one loader stream per
item of the ``demo`` collection (10,000 x 128 float32 per item), windows of
16 x 128 float32 (8 KiB) plus their 16 labels. Contenders alternate in one
process, round by round, and each round's ratio is taken against the
in-process contender of the same round; a background contender's timing
starts after its first item (worker start-up is reported apart).

- **Overlap**: the consumer spends, per window, as much CPU as loading the
  window costs in-process (measured first, then a busy loop of that length).
  In-process, loading and consuming take turns; ``background(workers=1)``
  loads in a second process while the consumer works, so the limit is 2x.
  Loader: ``npz_copy`` (whole-member reads: loading dominates transport).
- **Transport**: no consumer work, loader ``npy_mmap`` (the fastest seed
  loader): items/s of ``background(mux, workers=1)`` vs in-process, and the
  transport's bytes/s against an in-process copy of the same windows.
- **Scaling**: no consumer work, loader ``npz_copy``: items/s with 1, 2 and 4
  workers vs in-process (the machine may have 2 cores: 4 workers share them).
"""

import os
import time
from dataclasses import dataclass

import numpy as np

import muxlab
from muxlab import fixtures, loaders

from .report import Section, Target, fmt, fmt_rate, fmt_spread
from .timing import alternate, median, progress, ratio_stats

K, LAM, N, SEED = 32, 16, 16, 0
COPYING = "in-process, copying each window"
OVERLAP_TARGET = 1.6
TRANSPORT_TARGET = 0.5


@dataclass(frozen=True)
class WorkerSizes:
    preset: str
    rounds: int
    seconds: float  # aimed length of one timing
    workers: tuple


def worker_sizes(settings):
    if settings.is_quick:
        return WorkerSizes(preset="tiny", rounds=2, seconds=0.05, workers=(1, 2))
    return WorkerSizes(preset="demo", rounds=settings.rounds, seconds=max(0.5, settings.seconds), workers=(1, 2, 4))


def make_mux(root, strategy):
    return muxlab.Mux(loaders.streams(strategy, root, N, random_state=SEED), k=K, lam=LAM, random_state=SEED)


def busy(seconds):
    """Spend ``seconds`` of CPU in this thread (the consumer's work on a batch)."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def rate_in_process(mux, n, work=0.0, copy=False):
    """Items/s of ``n`` items of ``mux`` read here, with ``work`` seconds of CPU per item (and a copy of its arrays)."""
    it = iter(mux)
    next(it)
    t = time.perf_counter()
    for _ in range(n):
        item = next(it)
        if copy:
            item["X"].copy()
            item["Y"].copy()
        if work:
            busy(work)
    del item
    return n / (time.perf_counter() - t)


def rate_background(mux, n, workers, work=0.0, startups=None):
    """Items/s of ``n`` items of ``background(mux, workers)`` after its first item."""
    t0 = time.perf_counter()
    it = iter(muxlab.background(mux, workers=workers))
    next(it)
    t = time.perf_counter()
    if startups is not None:
        startups.append(t - t0)
    for _ in range(n):
        item = next(it)
        if work:
            busy(work)
    elapsed = time.perf_counter() - t
    del item
    it.close()
    return n / elapsed


def copy_rate(mux, n):
    """Bytes/s of copying ``n`` windows of ``mux`` in-process (windows drawn first, outside the timing)."""
    items = list(mux.iterate(n))
    nbytes = sum(x["X"].nbytes + x["Y"].nbytes for x in items)
    t = time.perf_counter()
    for x in items:
        x["X"].copy()
        x["Y"].copy()
    return nbytes / (time.perf_counter() - t), nbytes / n, items[0]["X"]


def count_for(rate, seconds):
    return max(20, int(rate * seconds))


def run_workers(settings):
    """Overlap, transport and scaling of ``muxlab.background`` against the in-process mux."""
    sizes = worker_sizes(settings)
    root = fixtures.ensure(sizes.preset)
    progress(f"workers: {sizes.preset} collection, {sizes.rounds} rounds, ~{sizes.seconds} s per timing")
    sections = [overlap(root, sizes), transport(root, sizes), scaling(root, sizes)]
    return sections


def overlap(root, sizes):
    mux = make_mux(root, "npz_copy")
    # The cost of loading one window here, to give the consumer as much work per window.
    probe = rate_in_process(mux, count_for(400, sizes.seconds / 2))
    load = 1.0 / probe
    n = count_for(1.0 / (2 * load), sizes.seconds)
    startups = []
    rates = alternate(
        {
            "in-process": lambda: rate_in_process(mux, n, work=load),
            "background(workers=1)": lambda: rate_background(mux, n, 1, work=load, startups=startups),
        },
        sizes.rounds,
    )
    s = ratio_stats(rates["background(workers=1)"], rates["in-process"])
    rows = [
        ["in-process", fmt_rate(median(rates["in-process"])), "1", "1–1"],
        ["background(workers=1)", fmt_rate(median(rates["background(workers=1)"])), fmt(s.median), fmt_spread(s)],
    ]
    return Section(
        key="workers_overlap",
        title="Workers: overlap of loading and consuming",
        columns=["contender", "windows/s", "ratio to in-process (median)", "spread"],
        rows=rows,
        notes=[
            f"Loader `npz_copy`, consumer work {load * 1e3:.2f} ms of CPU per window (the in-process loading "
            f"cost measured first), {n} windows per timing, {sizes.rounds} rounds; the limit is 2x.",
            f"Worker start-up (fork to first item): median {median(startups) * 1e3:.0f} ms, not timed.",
            f"Load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} logical cores.",
        ],
        targets=[
            Target.check(
                "overlap: background(workers=1) vs in-process",
                "windows/s ratio with consumer CPU = load cost",
                s,
                ">=",
                OVERLAP_TARGET,
            )
        ],
    )


def transport(root, sizes):
    mux = make_mux(root, "npy_mmap")
    n = count_for(rate_in_process(mux, 2000), sizes.seconds)
    rates = alternate(
        {
            "in-process": lambda: rate_in_process(mux, n),
            COPYING: lambda: rate_in_process(mux, n, copy=True),
            "background(workers=1)": lambda: rate_background(mux, n, 1),
        },
        sizes.rounds,
    )
    copies = [copy_rate(mux, min(n, 5000)) for _ in range(3)]
    copy_bps = median([c[0] for c in copies])
    item_bytes, window = copies[0][1], copies[0][2]
    s = ratio_stats(rates["background(workers=1)"], rates["in-process"])
    c = ratio_stats(rates[COPYING], rates["in-process"])
    bg = median(rates["background(workers=1)"])
    rows = [
        ["in-process", fmt_rate(median(rates["in-process"])), "", "1", "1–1"],
        [COPYING, fmt_rate(median(rates[COPYING])), "", fmt(c.median), fmt_spread(c)],
        [
            "background(workers=1)",
            fmt_rate(bg),
            f"{bg * item_bytes / 2**20:.0f} MiB/s ({bg * item_bytes / copy_bps:.3f} of an in-process copy)",
            fmt(s.median),
            fmt_spread(s),
        ],
    ]
    return Section(
        key="workers_transport",
        title="Workers: transport (no consumer work)",
        columns=["contender", "windows/s", "bytes/s through shared memory", "ratio to in-process (median)", "spread"],
        rows=rows,
        notes=[
            f"Loader `npy_mmap`, windows of {' x '.join(map(str, window.shape))} {window.dtype} with their labels "
            f"({item_bytes:.0f} bytes), {n} "
            f"windows per timing, {sizes.rounds} rounds.",
            f"In-process copy of the same windows (`ndarray.copy`): {copy_bps / 2**20:.0f} MiB/s.",
            "The in-process mux hands out views of the mapped files and never reads a window's bytes; "
            f"`{COPYING}` reads them once, as any transport must (a copy of each array, page faults included): "
            "it bounds the ratio a worker can reach.",
        ],
        targets=[
            Target.check(
                "transport: background(workers=1) vs in-process",
                "windows/s ratio, no consumer work",
                s,
                ">=",
                TRANSPORT_TARGET,
            )
        ],
    )


def scaling(root, sizes):
    mux = make_mux(root, "npz_copy")
    n = count_for(rate_in_process(mux, 50), sizes.seconds)
    contenders = {"in-process": lambda: rate_in_process(mux, n)}
    for w in sizes.workers:
        contenders[f"workers={w}"] = lambda w=w: rate_background(mux, n, w)
    rates = alternate(contenders, sizes.rounds)
    rows = []
    for name, values in rates.items():
        s = ratio_stats(values, rates["in-process"])
        rows.append([name, fmt_rate(median(values)), fmt(s.median), fmt_spread(s)])
    return Section(
        key="workers_scaling",
        title="Workers: scaling in the number of workers (no consumer work)",
        columns=["contender", "windows/s", "ratio to in-process (median)", "spread"],
        rows=rows,
        notes=[
            f"Loader `npz_copy` (CPU-bound: each window re-reads a 5 MB member), {n} windows per timing, "
            f"{sizes.rounds} rounds. {os.cpu_count()} logical cores: more workers than cores share them, and the "
            f"consumer process takes its share.",
            f"Load average at the end: {os.getloadavg()[0]:.2f}.",
        ],
    )
