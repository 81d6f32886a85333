"""Compare loader strategies on memory and speed, each in a fresh child process.

Strategies run one after another in one process contaminate each other: the
peak sticks, freed heap is kept by the allocator, the page cache carries over.
So :func:`compare` starts one child per strategy (``muxlab.comparison_child``)
with the same seed and the same Mux, and a consumer that reads every window
and keeps the last ``retain`` alive, as a shuffle buffer or a prefetch queue
does. The
parent samples the child's memory from outside (reading ``/proc/PID/status``
on its own thread, about 20 µs a tick, so the streaming child is not slowed),
and the child reports its own steady state and the kernel's peak at the end,
while the mux, its streams and the retained windows are still alive.
"""

import json
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from . import comparison_child, fixtures, loaders, page_cache
from . import memory_limit as memory_limit_module
from .collection import Collection
from .compare_params import CACHE_MODES, CompareParams
from .comparison_child import PREFIX
from .errors import DataError, DataWarning, MuxlabError, ParameterError, ParameterTypeError
from .memory_probe import MemoryProbe
from .units import MiB
from .validation import check_int, check_positive_number

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
    "bytes_read_per_window",
    "major_faults",
    "seconds",
    "windows",
    "retained_rows",
    "cache",
    "memory_limit",
    "group_peak",
    "warm_windows_per_s",
    "warm_bytes_read_per_window",
    "warm_major_faults",
]
_TEXT_COLUMNS = ("strategy", "cache")


@dataclass
class Comparison:
    """What :func:`compare` measured, as tidy pandas DataFrames (memory in bytes).

    ``summary``: one row per strategy run: ``windows_per_s``, ``peak_rss``
    (the kernel's peak), the steady state at the end (``rss_anon``,
    ``rss_file``, ``uss``, ``rss``), ``rss_anon_start`` (before streaming),
    ``bytes_read`` from storage (and ``bytes_read_per_window``),
    ``major_faults`` (page faults that waited for storage), and the run's
    size. Under a ``memory_limit``: the limit, ``group_peak`` (the control
    group's peak, page cache included) and the same strategy's unlimited warm
    run (``warm_windows_per_s``, ``warm_bytes_read_per_window``,
    ``warm_major_faults``). ``timeline``: the parent's readings of each child
    (``t``, ``rss``, ``rss_anon``, ``rss_file``, ``samples``).
    ``activations``: per strategy and stream, ``activations`` and ``samples``.
    ``not_run``: ``{strategy: why}`` for strategies the collection's layout
    does not allow (the memory-mapped ones need one ``.npy`` per array).
    """

    summary: object
    timeline: object
    activations: object
    params: dict = field(default_factory=dict)
    not_run: dict = field(default_factory=dict)
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
        """The summary as a short text table in MiB, for printing, then one line per strategy not run."""
        s = self.summary.copy()
        mb = ("peak_rss", "rss_anon", "rss_file", "uss", "rss_anon_start")
        for col in mb:
            s[col] = (s[col] / MiB).round(1)
        s = s.rename(columns={c: f"{c} MiB" for c in mb})
        s["windows_per_s"] = s["windows_per_s"].round(0).astype("Int64")
        s["read/window kB"] = (s["bytes_read_per_window"] / 1e3).round(1)
        s["major faults"] = s["major_faults"].astype("Int64")
        cols = ["strategy", "windows_per_s", "peak_rss MiB", "rss_anon MiB", "rss_file MiB", "uss MiB", "rss_anon_start MiB",
                "read/window kB", "major faults"]
        if s["memory_limit"].notna().any():
            s["group peak MiB"] = (s["group_peak"] / MiB).round(1)
            s["warm windows_per_s"] = s["warm_windows_per_s"].round(0).astype("Int64")
            s["warm read/window kB"] = (s["warm_bytes_read_per_window"] / 1e3).round(1)
            s["warm major faults"] = s["warm_major_faults"].astype("Int64")
            cols = ["strategy", "windows_per_s", "read/window kB", "major faults", "peak_rss MiB", "group peak MiB",
                    "warm windows_per_s", "warm read/window kB", "warm major faults"]
        text = s[cols].to_string(index=False) if len(s) else "(no strategy ran)"
        if self.params.get("memory_limit"):
            text = f"under memory_limit={self.params['memory_limit']} (page cache included); warm = unlimited\n" + text
        for strategy, why in self.not_run.items():
            text += f"\n{strategy}: not run: {why}"
        return text


def compare(
    source=None,
    strategies=None,
    k=32,
    lam=16,
    n=16,
    max_batches=2000,
    retain=32,
    cache="warm",
    random_state=0,
    *,
    root=None,
    keys=None,
    npy=None,
    memory_limit=None,
    preset="demo",
    interval=0.01,
    progress=None,
    workers=None,
):
    """Run each loader strategy in a fresh child process and measure its memory and speed.

    Parameters
    ----------
    source : Collection, folder, glob or list of files, optional
        What to stream from: your own archives (scanned with ``keys``, see
        :meth:`muxlab.Collection.scan`) or a folder muxlab generated. Default:
        the ``preset`` collection, generated on first use (see
        :func:`muxlab.fixtures.ensure`). ``root=`` is the former name and is
        still accepted.
    strategies : list of str, optional
        Names from :data:`muxlab.loaders.STRATEGIES`; default: all of them
        (first the three of pescador's "Sampling from disk" chapter, ``npz``,
        ``npz_copy`` and ``npy_mmap``, then the extras).
        Strategies needing a layout the collection lacks are not run and are
        listed in ``not_run`` (the memory-mapped ones need the ``.npy``
        layout: ``muxlab convert``, then ``npy=``).
    k, lam : the Mux's active streams and mean samples per activation.
    n : rows per window (items with fewer rows are left out, with one warning).
    max_batches : windows drawn per strategy.
    retain : the consumer keeps the last ``retain`` windows alive.
    cache : ``'warm'`` reads the strategy's files once before its run, so they
        are in the page cache; ``'cold'`` drops them from the page cache first
        (``posix_fadvise(DONTNEED)``, no root needed) and ``bytes_read`` shows
        what came from storage. Ignored under ``memory_limit``.
    random_state : int, the seed of the Mux and of the window offsets.
    keys : sequence of str, optional
        The arrays of every item (default ``('X', 'Y')``, or a Collection's own).
    npy : folder, optional
        Where the ``.npy`` layout of ``source`` is (what ``muxlab convert``
        wrote); its items are matched to the source's by name.
    memory_limit : int or str, optional
        Run each strategy's child in a memory control group limited to this
        much (``'256MiB'``), page cache included, after dropping its files
        from the page cache: a collection larger than the limit cannot stay
        cached, as on a machine with less RAM. Each strategy then also runs
        once unlimited and warm, for comparison. Raises
        :class:`~muxlab.memory_limit.MemoryLimitError` when no limit can be set.
    preset : the fixture preset used when ``source`` is None.
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
    if source is not None and root is not None:
        raise ParameterError(f"compare: source={source!r} and root={root!r} given; root is the former name of source")
    source = root if source is None else source
    checked = CompareParams(strategies, k, lam, n, max_batches, retain, cache, random_state, owner=owner)
    strategies = list(checked.strategies or loaders.STRATEGIES)
    k, lam, n, max_batches = checked.k, checked.lam, checked.n, checked.max_batches
    retain, cache, random_state = checked.retain, checked.cache, checked.random_state
    interval = check_positive_number(owner, "interval", interval, minimum=1e-4)
    limit = None
    if memory_limit is not None:
        limit = memory_limit_module.parse_size(owner, "memory_limit", memory_limit)
        memory_limit_module.check_available()
    if source is None:
        source = Path(fixtures.ensure(preset))
    collection = loaders.collection_of(source, keys, owner=owner)
    if npy is not None:
        collection = collection.add_layouts(Collection.scan(npy, keys=collection.keys))
    runnable, not_run = check_runnable(strategies, collection, n, owner=owner)

    usable = collection.usable(n)
    params = dict(root=str(collection.root), k=k, lam=lam, n=n, max_batches=max_batches, retain=retain,
                  random_state=random_state)
    if workers is not None:
        params["workers"] = check_int(owner, "workers", workers, minimum=1)
    processes = []
    report = _progress_reporter(progress, runnable, max_batches)
    rows, timelines, activations = [], [], []
    try:
        for strategy in runnable:
            layout = loaders.STRATEGIES[strategy].layout
            files = usable.files(layout)
            child = dict(params, strategy=strategy, collection=usable.spec(layout))
            # Every run starts from the same state: the files dropped from the page cache
            # (how a freshly written file sits in the cache changes what a map costs).
            page_cache.drop(files)
            if limit is None:
                if cache == "warm":
                    page_cache.warm(files)
                result, timeline = _run_child(child, interval, report, strategy)
                row = _summary_row(strategy, result, cache)
            else:
                page_cache.warm(files)
                warm, _ = _run_child(child, interval, report, f"{strategy} warm")
                page_cache.drop(files)
                with memory_limit_module.MemoryGroup(limit) as group:
                    result, timeline = _run_child(dict(child, cgroup_procs=group.procs), interval, report,
                                                  f"{strategy} limited", group=group)
                    group_stats = group.stats()
                row = _summary_row(strategy, result, "dropped")
                row.update(
                    memory_limit=limit,
                    group_peak=group_stats["group_peak"],
                    warm_windows_per_s=_throughput(warm),
                    warm_bytes_read_per_window=_per_window(warm, "bytes_read"),
                    warm_major_faults=warm["major_faults"],
                )
            rows.append(row)
            timelines.append(timeline.assign(strategy=strategy))
            activations.append(_activation_rows(strategy, result))
            processes += [dict(r, strategy=strategy) for r in result.get("processes", ())]
    finally:
        report.close()

    import pandas as pd

    numeric = {c: "float64" for c in _SUMMARY_COLUMNS if c not in _TEXT_COLUMNS}
    summary = pd.DataFrame(rows, columns=_SUMMARY_COLUMNS).astype(numeric)  # None (no /proc) -> NaN
    timeline = pd.concat(timelines, ignore_index=True)
    timeline = timeline[["strategy", "t", "rss", "rss_anon", "rss_file", "samples"]]
    extra = dict(cache=cache, keys=list(collection.keys), items=len(usable),
                 memory_limit=None if limit is None else memory_limit_module.format_size(limit))
    comparison = Comparison(summary, timeline, pd.concat(activations, ignore_index=True), dict(params, **extra), not_run)
    if workers is not None:
        comparison.processes = pd.DataFrame(processes)
    return comparison


def check_runnable(strategies, collection, n, owner="compare"):
    """Return ``(runnable, not_run)``: the strategies the collection's layout allows, and why the others are not.

    Every runnable strategy's files are checked (headers only), so a bad
    file is named before any child starts; items shorter than ``n`` are left
    out with one warning, and a collection with no item of ``n`` rows raises
    :class:`~muxlab.DataError`, as does one where no strategy can run.
    """
    not_run = {}
    runnable = []
    for strategy in strategies:
        why = loaders.missing_layout(strategy, collection)
        if why is None:
            runnable.append(strategy)
        else:
            not_run[strategy] = why
    if not runnable:
        raise DataError(
            f"{owner}: no strategy can run on {collection!r}: "
            + "; ".join(f"{s} {why}" for s, why in not_run.items())
        )
    longest = max(collection, key=lambda item: item.rows, default=None)
    if longest is not None and longest.rows < n:
        raise DataError(f"{owner}: every item has fewer than n={n} rows (the longest, {longest.path!r}, has "
                        f"{longest.rows}); expected 1 <= n <= {longest.rows}")
    _check_files(runnable, collection, n, owner)
    return runnable, not_run


def _check_files(strategies, collection, n, owner):
    """Check every strategy's files (headers only); warn once about items shorter than ``n``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        for strategy in strategies:
            loaders.streams(strategy, collection, n)
    shown = set()
    for w in caught:
        if issubclass(w.category, DataWarning):
            text = str(w.message).split(": ", 1)[-1]
            if text not in shown:
                shown.add(text)
                warnings.warn(f"{owner}: {text}", DataWarning, stacklevel=4)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _run_child(params, interval, report, label, group=None):
    """Start the child for one strategy, probe it until it reports, and return (result, timeline)."""
    cmd = [sys.executable, comparison_child.__file__]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        proc.stdin.write(json.dumps(params) + "\n")
        proc.stdin.flush()
    except OSError:
        pass  # the child died at once: its exit status tells why, below
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
                report(label, done[0])
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
        if group is not None and proc.returncode is not None and proc.returncode < 0:
            stats = group.stats()
            raise MuxlabError(
                f"compare: the child process for {params['strategy']!r} was killed (signal {-proc.returncode}) "
                f"under memory_limit={memory_limit_module.format_size(group.limit)} "
                f"(OOM kills in its group: {stats['oom_kills']}, peak {stats['group_peak']} bytes): "
                "the limit is below what the process itself needs; raise it"
            )
        raise MuxlabError(
            f"compare: the child process for {params['strategy']!r} exited with status {proc.returncode}: {tail[0]}"
        )
    timeline = probe.to_frame()
    return result, timeline


def _throughput(r):
    """Windows per second of a child's run."""
    return r["windows"] / r["seconds"] if r["seconds"] > 0 else float("nan")


def _per_window(r, key):
    return None if r.get(key) is None or not r["windows"] else r[key] / r["windows"]


def _summary_row(strategy, r, cache):
    return {
        "strategy": strategy,
        "windows_per_s": _throughput(r),
        "peak_rss": r["peak_rss"],
        "rss_anon": r["rss_anon"],
        "rss_file": r["rss_file"],
        "uss": r["uss"],
        "rss": r["rss"],
        "rss_anon_start": r["rss_anon_start"],
        "bytes_read": r["bytes_read"],
        "bytes_read_per_window": _per_window(r, "bytes_read"),
        "major_faults": r.get("major_faults"),
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

    def __call__(self, label, done):
        self.callback(label.split(" ")[0], done, self.total)  # the strategy's name, also for "npz warm"

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
