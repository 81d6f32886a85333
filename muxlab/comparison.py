"""Compare loader strategies on memory and speed, each in a fresh child process.

Strategies run one after another in one process contaminate each other: the
peak sticks, freed heap is kept by the allocator, the page cache carries over.
So :func:`compare` starts one child per strategy (``muxlab.comparison_child``)
with the same seed and the same Mux, and a consumer that reads every batch
and keeps the last ``retain`` alive, as a shuffle buffer or a prefetch queue
does. The
parent samples the child's memory from outside (reading ``/proc/PID/status``
on its own thread, about 20 µs a tick, so the streaming child is not slowed),
and the child reports its own steady state and the kernel's peak at the end,
while the mux, its streams and the retained batches are still alive.
"""

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import fixtures, loaders, page_cache
from .comparison_child import PREFIX
from .errors import DataError, MuxlabError, ParameterError, ParameterTypeError
from .instrument import MemoryProbe
from .validation import check_choice, check_int, check_positive_number

CACHE_MODES = ("warm", "cold")

_SUMMARY_COLUMNS = [
    "strategy",
    "windows_per_s",
    "peak_rss",
    "rss_anon",
    "rss_file",
    "uss",
    "rss",
    "rss_anon_start",
    "bytes_read",
    "seconds",
    "windows",
    "retained_rows",
    "cache",
]


@dataclass
class Comparison:
    """What :func:`compare` measured, as tidy pandas DataFrames (memory in bytes).

    ``summary``: one row per strategy: ``windows_per_s``, ``peak_rss`` (the
    kernel's peak), the steady state at the end (``rss_anon``, ``rss_file``,
    ``uss``, ``rss``), ``rss_anon_start`` (before streaming), ``bytes_read``
    from storage, and the run's size. ``timeline``: the parent's readings of
    each child (``t``, ``rss``, ``rss_anon``, ``rss_file``, ``samples``).
    ``activations``: per strategy and stream, ``activations`` and ``samples``.
    """

    summary: object
    timeline: object
    activations: object
    params: dict = field(default_factory=dict)
    #: With ``workers``: per strategy and process (consumer, worker 0, ...) the memory read from
    #: ``/proc`` at the end (``anon``, ``file``, ``uss``, ``pss``, ``pss_anon``, ``pss_file``, ``peak``).
    processes: object = None

    def plot(self, fig=None):
        """Draw the dashboard figure (see :func:`muxlab.plots.plot_comparison`)."""
        from .plots import plot_comparison

        return plot_comparison(self, fig=fig)

    def save(self, out):
        """Write ``summary.csv``, ``timeline.csv``, ``activations.csv`` and ``dashboard.png`` into ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        self.summary.to_csv(out / "summary.csv", index=False)
        self.timeline.to_csv(out / "timeline.csv", index=False)
        self.activations.to_csv(out / "activations.csv", index=False)
        fig = self.plot()
        fig.savefig(out / "dashboard.png", dpi=110)
        if self.processes is not None:
            from .process_plots import plot_process_memory

            self.processes.to_csv(out / "processes.csv", index=False)
            plot_process_memory(self.processes).savefig(out / "workers.png", dpi=110)
        return out

    def table(self):
        """The summary as a short text table in MB, for printing."""
        s = self.summary.copy()
        for col in ("peak_rss", "rss_anon", "rss_file", "uss", "rss_anon_start"):
            s[col] = (s[col] / 2**20).round(1)
        s["windows_per_s"] = s["windows_per_s"].round(0).astype("int64")
        s = s.rename(columns={c: f"{c} MB" for c in ("peak_rss", "rss_anon", "rss_file", "uss", "rss_anon_start")})
        cols = ["strategy", "windows_per_s", "peak_rss MB", "rss_anon MB", "rss_file MB", "uss MB", "rss_anon_start MB"]
        return s[cols].to_string(index=False)


def compare(
    root=None,
    strategies=None,
    k=32,
    lam=16,
    n=16,
    max_batches=2000,
    retain=32,
    cache="warm",
    random_state=0,
    *,
    preset="demo",
    interval=0.01,
    progress=None,
    workers=None,
):
    """Run each loader strategy in a fresh child process and measure its memory and speed.

    Parameters
    ----------
    root : path, optional
        A fixture folder (with ``manifest.json``). Default: the ``preset``
        collection, generated on first use (see :func:`muxlab.fixtures.ensure`).
    strategies : list of str, optional
        Names from :data:`muxlab.loaders.STRATEGIES`; default: all of them
        (the seed's ``npz``, ``npz_copy``, ``npy_mmap``, then the extras).
    k, lam : the Mux's active streams and mean samples per activation.
    n : rows per window.
    max_batches : windows drawn per strategy.
    retain : the consumer keeps the last ``retain`` batches alive.
    cache : ``'warm'`` reads the strategy's files once before its run, so they
        are in the page cache; ``'cold'`` drops them from the page cache first
        (``posix_fadvise(DONTNEED)``, no root needed) and ``bytes_read`` shows
        what came from storage.
    random_state : int, the seed of the Mux and of the window offsets.
    preset : the fixture preset used when ``root`` is None.
    interval : seconds between the parent's readings of the child.
    progress : None, True (a tqdm bar) or a callable ``(strategy, done, total)``.
    workers : int, optional
        Run the mux through ``muxlab.background(mux, workers=workers)`` in the
        child and measure the whole process tree: ``Comparison.processes``
        has one row per process (consumer and workers) and ``save()`` writes
        ``processes.csv`` and ``workers.png`` (summed and per worker). The
        summary and timeline stay those of the consumer process.

    Returns
    -------
    Comparison
    """
    owner = "compare"
    strategies = _check_strategies(strategies)
    k = check_int(owner, "k", k, minimum=1)
    lam = check_positive_number(owner, "lam", lam, minimum=1)
    n = check_int(owner, "n", n, minimum=1)
    max_batches = check_int(owner, "max_batches", max_batches, minimum=1)
    retain = check_int(owner, "retain", retain, minimum=0)
    cache = check_choice(owner, "cache", cache, CACHE_MODES)
    random_state = check_int(owner, "random_state", random_state, minimum=0)
    interval = check_positive_number(owner, "interval", interval, minimum=1e-4)
    root = Path(fixtures.ensure(preset)) if root is None else Path(root)
    for strategy in strategies:  # headers only: bad files are named before any child starts
        loaders.streams(strategy, root, n)

    params = dict(root=str(root), k=k, lam=lam, n=n, max_batches=max_batches, retain=retain, random_state=random_state)
    if workers is not None:
        params["workers"] = check_int(owner, "workers", workers, minimum=1)
    processes = []
    report = _progress_reporter(progress, strategies, max_batches)
    rows, timelines, activations = [], [], []
    try:
        for strategy in strategies:
            files = page_cache.strategy_files(strategy, root)
            # Both start from the same state: the files dropped from the page cache
            # (how a freshly written file sits in the cache changes what a map costs).
            page_cache.drop(files)
            if cache == "warm":
                page_cache.warm(files)
            result, timeline = _run_child(dict(params, strategy=strategy), interval, report)
            rows.append(_summary_row(strategy, result, cache))
            timelines.append(timeline.assign(strategy=strategy))
            activations.append(_activation_rows(strategy, result))
            processes += [dict(r, strategy=strategy) for r in result.get("processes", ())]
    finally:
        report.close()

    import pandas as pd

    numeric = {c: "float64" for c in _SUMMARY_COLUMNS if c not in ("strategy", "cache")}
    summary = pd.DataFrame(rows, columns=_SUMMARY_COLUMNS).astype(numeric)  # None (no /proc) -> NaN
    timeline = pd.concat(timelines, ignore_index=True)
    timeline = timeline[["strategy", "t", "rss", "rss_anon", "rss_file", "samples"]]
    comparison = Comparison(summary, timeline, pd.concat(activations, ignore_index=True), dict(params, cache=cache))
    if workers is not None:
        comparison.processes = pd.DataFrame(processes)
    return comparison


def _check_strategies(strategies):
    if strategies is None:
        return list(loaders.STRATEGIES)
    if isinstance(strategies, str):
        strategies = [s for s in strategies.split(",") if s]
    if not isinstance(strategies, (list, tuple)):
        raise ParameterTypeError(f"compare: strategies={strategies!r} is not a list; expected names from {tuple(loaders.STRATEGIES)}")
    if not strategies:
        raise ParameterError(f"compare: strategies is empty; expected names from {tuple(loaders.STRATEGIES)}")
    for s in strategies:
        check_choice("compare", "strategies", s, tuple(loaders.STRATEGIES))
    return list(strategies)


def _run_child(params, interval, report):
    """Start the child for one strategy, probe it until it reports, and return (result, timeline)."""
    cmd = [sys.executable, "-m", "muxlab.comparison_child", json.dumps(params)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = [0]
    probe = MemoryProbe(pid=proc.pid, interval=interval, uss_every=10**9, counter=lambda: done[0])
    result = error = None
    try:
        probe.start()
        for line in proc.stdout:
            if not line.startswith(PREFIX):
                continue
            kind, _, payload = line[len(PREFIX) :].strip().partition(" ")
            if kind == "progress":
                done[0] = int(payload)
                report(params["strategy"], done[0])
            elif kind == "result":
                result = json.loads(payload)
                break
            elif kind == "error":
                error = json.loads(payload)
                break
        time.sleep(min(interval * 3, 0.05))  # a few readings of the plateau while everything is held
    finally:
        probe.stop()
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        stderr = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
    if error is not None:
        cls = DataError if error["type"] == "DataError" else MuxlabError
        raise cls(f"compare: strategy {params['strategy']!r} failed in its child process: {error['message']}")
    if result is None:
        tail = stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise MuxlabError(
            f"compare: the child process for {params['strategy']!r} exited with status {proc.returncode}: {tail[0]}"
        )
    timeline = probe.to_frame()
    return result, timeline


def _summary_row(strategy, r, cache):
    return {
        "strategy": strategy,
        "windows_per_s": r["windows"] / r["seconds"] if r["seconds"] > 0 else float("nan"),
        "peak_rss": r["peak_rss"],
        "rss_anon": r["rss_anon"],
        "rss_file": r["rss_file"],
        "uss": r["uss"],
        "rss": r["rss"],
        "rss_anon_start": r["rss_anon_start"],
        "bytes_read": r["bytes_read"],
        "seconds": r["seconds"],
        "windows": r["windows"],
        "retained_rows": r["rows"],
        "cache": cache,
    }


def _activation_rows(strategy, r):
    import pandas as pd

    return pd.DataFrame(
        {
            "strategy": strategy,
            "stream": range(len(r["activations"])),
            "activations": r["activations"],
            "samples": r["samples"],
        }
    )


class _NoProgress:
    def __call__(self, strategy, done):
        pass

    def close(self):
        pass


class _TqdmProgress:
    """One tqdm bar per strategy."""

    def __init__(self, total):
        self.total = total
        self.bar = None
        self.strategy = None

    def __call__(self, strategy, done):
        from tqdm.auto import tqdm

        if strategy != self.strategy:
            self.close()
            self.strategy = strategy
            self.bar = tqdm(total=self.total, desc=f"{strategy:>17}", unit="win", leave=True)
        self.bar.update(done - self.bar.n)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class _CallbackProgress:
    def __init__(self, callback, total):
        self.callback = callback
        self.total = total

    def __call__(self, strategy, done):
        self.callback(strategy, done, self.total)

    def close(self):
        pass


def _progress_reporter(progress, strategies, total):
    if progress is None or progress is False:
        return _NoProgress()
    if progress is True:
        return _TqdmProgress(total)
    if callable(progress):
        return _CallbackProgress(progress, total)
    raise ParameterTypeError(f"compare: progress={progress!r} is not accepted; expected None, True or a callable")
