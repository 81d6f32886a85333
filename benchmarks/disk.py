"""Disk case: windows/s of every loader strategy against an in-RAM baseline, and its memory through ``muxlab.compare``.

Every contender is the same Mux (k=32, lam=16, seed 0) over one stream per
item of the ``demo`` collection, windows of n=16 rows, read by the same
consumer (:func:`consume`: ``float(batch['X'].sum())`` for every batch, as
``muxlab.compare``'s child does). The in-RAM baseline's streams slice numpy
arrays loaded once, outside the timing (:func:`sample_in_ram`, built like
``muxlab.loaders.sample_npy_mmap``), seeded the way :func:`muxlab.loaders.streams`
seeds the loaders: every contender draws exactly the same windows.

The collection is first settled in the page cache (:func:`settle`: dropped,
then read back in 4 MiB reads, so that memory maps of it cost the same
whatever happened to the files before). Warm rows read the strategy's files
once more first; cold rows drop them from the page cache (``fdatasync`` then ``posix_fadvise(DONTNEED)``, read-only) before
each timing. The memory table runs ``muxlab.compare`` (one fresh child
process per strategy) warm and cold. ``benchmarks/disk_scaling.py`` varies k,
n and the number of files.
"""

import io
import os
from dataclasses import dataclass, field
from time import perf_counter

import numpy as np

import muxlab
from muxlab import fixtures, loaders, page_cache

from .report import Section, Target, fmt, fmt_rate, fmt_spread
from .timing import alternate, calibrate, median, progress, ratio_stats

BASELINE = "in-RAM"
CACHES = ("warm", "cold")
MiB = 2**20
TARGET_STRATEGY = "npy_mmap"
TARGET_RATIO = 0.70


@dataclass(frozen=True)
class DiskSizes:
    """Sizes of the disk cases for one run of the suite (from :func:`disk_sizes`)."""

    preset: str  # the collection every disk case streams from (except the files axis)
    k: int
    lam: float
    n: int
    seed: int
    fast_seconds: float  # one timing of an npy strategy
    slow_seconds: float  # one timing of an npz strategy (~400 windows/s: N stays small)
    baseline_seconds: float  # one timing of the in-RAM baseline
    memory_batches: int  # windows per child process in the memory table
    retain: int  # batches the compare consumer keeps alive
    # disk scaling
    scaling_strategies: tuple
    scaling_rounds: int
    scaling_seconds: float
    scaling_ks: tuple
    scaling_ns: tuple
    scaling_files: tuple
    files_rows: int  # rows per item of the presets made for the files axis
    files_features: int
    scaling_batches: dict = field(default_factory=dict)  # strategy -> windows per compare child

    def seconds(self, strategy):
        return self.slow_seconds if loaders.STRATEGIES[strategy].files == ("npz",) else self.fast_seconds


def disk_sizes(settings):
    """Full: the ``demo`` collection; quick: the committed ``tiny`` one, a few windows per timing."""
    if settings.is_quick:
        return DiskSizes(
            preset="tiny",
            k=32,
            lam=16,
            n=16,
            seed=0,
            fast_seconds=settings.seconds,
            slow_seconds=settings.seconds,
            baseline_seconds=settings.seconds,
            memory_batches=100,
            retain=32,
            scaling_strategies=("npy_mmap", "npz_copy"),
            scaling_rounds=settings.rounds,
            scaling_seconds=settings.seconds,
            scaling_ks=(1, 16),
            scaling_ns=(1,),  # one point on the n and files axes: each point costs two child processes
            scaling_files=(2,),
            files_rows=64,
            files_features=8,
            scaling_batches={"npy_mmap": 100, "npz_copy": 100},
        )
    return DiskSizes(
        preset="demo",
        k=32,
        lam=16,
        n=16,
        seed=0,
        fast_seconds=settings.seconds,
        slow_seconds=0.3,
        baseline_seconds=0.1,
        memory_batches=2000,
        retain=32,
        scaling_strategies=("npy_mmap", "npz_copy"),
        scaling_rounds=min(settings.rounds, 5),
        scaling_seconds=0.1,
        scaling_ks=settings.scaling_ks,
        scaling_ns=(1, 16, 256, 4096),
        scaling_files=(4, 16, 64),
        files_rows=10_000,
        files_features=128,
        scaling_batches={"npy_mmap": 2000, "npz_copy": 120},
    )


# -- files and the page cache ---------------------------------------------------
def strategy_files(root, strategy):
    """The files ``strategy`` reads in the collection at ``root``."""
    return page_cache.strategy_files(strategy, root)


def warm(files):
    """Read every file once, so that its pages are in the page cache."""
    page_cache.warm(files)


def all_files(root):
    """Every data file of the collection at ``root`` (both layouts)."""
    return [path for item in fixtures.load_manifest(root)["items"] for path in fixtures.item_paths(root, item).values()]


def settle(files):
    """Drop the files from the page cache, then read them back in 4 MiB reads, as ``muxlab.compare`` warms them.

    How a file's pages entered the page cache changes what a memory map of it
    costs: in a trial, ``npy_mmap`` on files just written, or read back by
    ``np.load`` right after a drop, had 113 to 162 MiB file-backed where the
    same files read back in 4 MiB reads (or faulted in through a map) had
    41 MiB. Settling first puts every page in the cache the same way, whatever
    happened to the files before.
    """
    drop(files)
    warm(files)


def drop(files):
    """Drop the files' pages from the page cache, after letting go of the read-only maps kept for them.

    The kernel does not drop pages a process has mapped, and ``npy_mmap_readonly``
    keeps its maps for the process (``muxlab.loaders.release_shared_maps``).
    """
    loaders.release_shared_maps()
    page_cache.drop(files)


def read_ahead_kb(path):
    """The read-ahead (kB) of the block device holding ``path``, or None if /sys does not say.

    A fault on a memory map of an uncached file reads up to this much around the faulting page.
    """
    dev = os.stat(path).st_dev
    base = f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}"
    for candidate in (f"{base}/queue/read_ahead_kb", f"{base}/../queue/read_ahead_kb"):
        try:
            with open(candidate) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            continue
    return None


def files_mb(files):
    """Total size of ``files`` in MiB (2^20 bytes)."""
    return sum(os.path.getsize(p) for p in files) / MiB


def read_bytes():
    """Bytes this process has caused to be fetched from storage (``/proc/self/io``), or 0."""
    return page_cache.read_io_bytes() or 0


# -- the in-RAM baseline --------------------------------------------------------
def read_npy(path):
    """The array in the .npy file at ``path``, read in 4 MiB reads (``np.load`` on the file itself reads it
    in a pattern that leaves its pages in the page cache differently: see :func:`settle`)."""
    buf = io.BytesIO()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            buf.write(chunk)
    buf.seek(0)
    return np.load(buf, allow_pickle=False)


def load_arrays(root):
    """``[(X, Y)]`` of every item of the collection at ``root``, read into memory (from the .npy files)."""
    items = fixtures.load_manifest(root)["items"]
    out = []
    for item in items:
        paths = fixtures.item_paths(root, item)
        out.append((read_npy(paths["npy_x"]), read_npy(paths["npy_y"])))
    return out


def sample_in_ram(X, Y, n, random_state):
    """Yield windows of ``n`` rows of arrays already in memory, as ``sample_npy_mmap`` does from its maps.

    Offsets are drawn in blocks of 256 from a Generator; ``random_state`` is
    the stream's SeedSequence, spawned once per activation, as the loaders do.

    >>> X, Y = np.arange(80.0).reshape(40, 2), np.arange(40)
    >>> batch = next(sample_in_ram(X, Y, 16, np.random.SeedSequence(0)))
    >>> batch['X'].shape, bool((np.diff(batch['Y']) == 1).all())
    ((16, 2), True)
    """
    rng = np.random.default_rng(random_state.spawn(1)[0])
    span = len(X) - n + 1
    while True:
        for i in rng.integers(span, size=loaders.OFFSET_BLOCK).tolist():
            yield dict(X=X[i : i + n], Y=Y[i : i + n])


def in_ram_streams(arrays, n, random_state):
    """One Streamer of :func:`sample_in_ram` per item, seeded as :func:`muxlab.loaders.streams` seeds its loaders."""
    seeds = np.random.SeedSequence(random_state).spawn(len(arrays))
    return [muxlab.Streamer(sample_in_ram, X, Y, n, random_state=s) for (X, Y), s in zip(arrays, seeds, strict=True)]


def stream_maker(strategy, root, n, seed, arrays=None):
    """A function making fresh streams (same seed every time) for ``strategy`` or for the baseline."""
    if strategy == BASELINE:
        return lambda: in_ram_streams(arrays, n, seed)
    return lambda: loaders.streams(strategy, root, n, random_state=seed)


def rows_text(rows):
    """The rows per item of a preset record, as text.

    >>> rows_text([10000]), rows_text([300, 40, 128])
    ('10,000', '40 to 300')
    """
    return f"{rows[0]:,}" if len(set(rows)) == 1 else f"{min(rows):,} to {max(rows):,}"


# -- timing ---------------------------------------------------------------------
def consume(batches):
    """The consumer every contender shares: read every row of every batch's X, as a training step would."""
    total = 0.0
    for batch in batches:
        total += float(batch["X"].sum())
    return total


def timed_pass(make_streams, k, lam, seed):
    """``run(windows)``: seconds for a fresh pass of the Mux to deliver ``windows`` batches to :func:`consume`.

    Streams and the Mux are made before the clock starts; the clock covers
    the whole pass, its first ``k`` activations included.
    """

    def run(windows):
        mux = muxlab.Mux(make_streams(), k=k, lam=lam, random_state=seed)
        t0 = perf_counter()
        consume(mux.iterate(max_iter=windows))
        return perf_counter() - t0

    return run


def rate_contender(run, windows, files=None, cache="warm", io=None):
    """A contender for :func:`alternate`: windows/s of ``run(windows)``; cold drops ``files`` first.

    With ``io`` (a list), the MiB fetched from storage during each timing are appended to it.
    """

    def contender():
        if cache == "cold":
            drop(files)
        before = read_bytes()
        t = run(windows)
        if io is not None:
            io.append((read_bytes() - before) / MiB)
        return windows / t

    return contender


def n_windows(run, seconds):
    """The number of windows for which ``run`` takes about ``seconds`` (starting small: npz is slow)."""
    return calibrate(run, seconds, n0=16)


def same_windows(root, strategy, arrays, sizes, windows=256):
    """True if ``strategy`` and the baseline deliver the same windows (compared by their Y labels)."""

    def labels(make):
        mux = muxlab.Mux(make(), k=sizes.k, lam=sizes.lam, random_state=sizes.seed)
        return [b["Y"].copy() for b in mux.iterate(max_iter=windows)]

    a = labels(stream_maker(strategy, root, sizes.n, sizes.seed))
    b = labels(stream_maker(BASELINE, root, sizes.n, sizes.seed, arrays))
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


# -- the cases -------------------------------------------------------------------
def run_rates(settings, sizes, root, arrays):
    """Windows/s of every strategy, warm and cold, alternating with the in-RAM baseline."""
    strategies = list(loaders.STRATEGIES)
    base_run = timed_pass(stream_maker(BASELINE, root, sizes.n, sizes.seed, arrays), sizes.k, sizes.lam, sizes.seed)
    base_windows = n_windows(base_run, sizes.baseline_seconds)
    columns = [
        "strategy",
        "cache",
        "windows per timing",
        "strategy windows/s",
        "in-RAM windows/s",
        "ratio strategy/in-RAM",
        "spread strategy/in-RAM",
        "MiB read from storage per timing",
    ]
    rows, targets = [], []
    chart = {"rates": {}, "baseline": []}
    windows_of, undropped = {}, []
    for strategy in strategies:
        files = strategy_files(root, strategy)
        run = timed_pass(stream_maker(strategy, root, sizes.n, sizes.seed), sizes.k, sizes.lam, sizes.seed)
        warm(files)
        windows = windows_of[strategy] = n_windows(run, sizes.seconds(strategy))  # also warms the code paths
        for cache in CACHES:
            progress(f"disk: {strategy}, {cache} page cache, {windows} windows per timing, {settings.rounds} rounds")
            if cache == "warm":
                warm(files)
            io = []
            rates = alternate(
                {
                    BASELINE: rate_contender(base_run, base_windows),
                    strategy: rate_contender(run, windows, files, cache, io),
                },
                settings.rounds,
                warmup=False,
            )
            s = ratio_stats(rates[strategy], rates[BASELINE])
            rows.append(
                [
                    f"`{strategy}`",
                    cache,
                    f"{windows:,}",
                    fmt_rate(median(rates[strategy])),
                    fmt_rate(median(rates[BASELINE])),
                    fmt(s.median),
                    fmt_spread(s),
                    fmt(median(io)),
                ]
            )
            if cache == "cold" and median(io) < 0.05 * files_mb(files):
                undropped.append(strategy)
            chart["rates"].setdefault(strategy, {})[cache] = median(rates[strategy])
            chart["baseline"] += rates[BASELINE]
            if strategy == TARGET_STRATEGY and cache == "warm":
                targets.append(
                    Target.check(
                        f"{TARGET_STRATEGY} warm vs in-RAM",
                        f"windows/s ratio {TARGET_STRATEGY}/in-RAM, warm page cache",
                        s,
                        ">=",
                        TARGET_RATIO,
                    )
                )
    chart["baseline"] = median(chart["baseline"])
    return rows, columns, targets, chart, windows_of, undropped


def run_disk(settings):
    """Disk windows/s per strategy (warm, cold) against the in-RAM baseline, and memory through ``muxlab.compare``."""
    sizes = disk_sizes(settings)
    root = fixtures.ensure(sizes.preset)
    manifest = fixtures.load_manifest(root)
    progress(f"disk: settling the {sizes.preset} files in the page cache, loading the arrays for the in-RAM baseline")
    settle(all_files(root))
    arrays = load_arrays(root)
    identical = same_windows(root, TARGET_STRATEGY, arrays, sizes)
    rows, columns, targets, chart, windows_of, undropped = run_rates(settings, sizes, root, arrays)
    p = manifest["preset"]
    ratio = next((t for t in targets), None)
    notes = [
        f"`{sizes.preset}` collection: {p['items']} items of {rows_text(p['rows'])} rows x {p['features']} float32 "
        f"(plus int64 labels); `muxlab.Mux(streams, k={sizes.k}, lam={sizes.lam:g}, random_state={sizes.seed})` over "
        f"`muxlab.loaders.streams(strategy, root, n={sizes.n}, random_state={sizes.seed})`.",
        "Consumer (every contender): `total += float(batch['X'].sum())` for every batch, i.e. every row and column "
        "of X is read, as `muxlab.compare`'s child does; Y is not read.",
        f"In-RAM baseline: the same Mux over streams whose generator slices the items' X and Y arrays, loaded into "
        f"memory once before any timing; offsets drawn in blocks of {loaders.OFFSET_BLOCK} from a Generator seeded "
        "per activation exactly as the loaders are, so it yields the same windows "
        f"({'checked' if identical else 'NOT the same: check failed'}: identical Y labels over the first 256 windows "
        f"of `{TARGET_STRATEGY}` and the baseline).",
        f"Each timing is a fresh pass from `iter(mux)` to the N-th window (the first k activations included); "
        f"streams are rebuilt with the same seed, so every timing draws the same windows. N per strategy is "
        f"calibrated (warm) so that one timing lasts about {fmt(sizes.fast_seconds)} s (npy) or "
        f"{fmt(sizes.slow_seconds)} s (npz); the cold rows use the same N. The baseline's N "
        f"({fmt(sizes.baseline_seconds)} s) is its own: rates, not times, are compared.",
        "Warm: every file of the collection is dropped from the page cache and read back (4 MiB reads) once "
        "before the first timing, and the strategy's files are read again before its comparison. Cold: `os.fdatasync` then "
        "`os.posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)` on each of the strategy's files (opened read-only) "
        "before each of its timings. MiB read: `read_bytes` of `/proc/self/io` over the timing (median).",
        "Ratios: strategy windows/s over the baseline's in the same round (baseline first, then the strategy).",
    ]
    ra = read_ahead_kb(root)
    if ra is not None:
        notes.append(
            f"Read-ahead of the device holding the files: {ra} kB. A fault on a map of an uncached file reads up to "
            "that much around the faulting page, so a cold `npy_mmap` pass reads whole items (4.9 MiB of X each in "
            "`demo`), not just the 8 KiB windows: the MiB read column shows it."
        )
    if undropped:
        notes.append(
            "Cold rows of " + ", ".join(f"`{s}`" for s in undropped) + " read almost nothing from storage: the drop "
            "did not take, because a process had the files mapped (the kernel keeps mapped pages) or read them "
            "meanwhile (the machine is shared). Treat those rows as warm."
        )
    if ratio is not None and not ratio.passed:
        reason = diagnose_mmap(settings, sizes, root, arrays, windows_of[TARGET_STRATEGY])
        notes.append(f"`{TARGET_STRATEGY}` warm reaches {fmt(ratio.median)} of the baseline (target {TARGET_RATIO}: MISS). {reason}")
    del arrays
    rates_section = Section(
        "disk", "Disk: windows/s per strategy vs in-RAM baseline", columns, rows, notes, targets, chart
    )
    return [rates_section, run_memory(settings, sizes, root)]


# -- why npy_mmap misses (run only on a MISS) -----------------------------------
_MAPS = {}


def sample_kept_maps(npy_x, npy_y, n, random_state):
    """As ``sample_npy_mmap``, but with one read-only map per file kept for the whole process (a diagnostic)."""
    rng = np.random.default_rng(random_state.spawn(1)[0])
    maps = []
    for path in (npy_x, npy_y):
        if path not in _MAPS:
            _MAPS[path] = np.load(path, mmap_mode="r", allow_pickle=False).view(np.ndarray)
        maps.append(_MAPS[path])
    X, Y = maps
    span = len(X) - n + 1
    while True:
        for i in rng.integers(span, size=loaders.OFFSET_BLOCK).tolist():
            yield dict(X=X[i : i + n], Y=Y[i : i + n])


def profiled(run, windows):
    """cProfile one ``run(windows)``; return ``(pstats.Stats, minor page faults per window)`` (faults counted unprofiled)."""
    import cProfile
    import pstats
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    run(windows)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / windows
    profile = cProfile.Profile()
    profile.runcall(run, windows)
    return pstats.Stats(profile), faults


def _entry(stats, name, file_end=""):
    """``(calls, tottime, cumtime)`` summed over the profile entries named ``name`` (in a file ending ``file_end``)."""
    calls = tt = ct = 0
    for (filename, _, func), (_, nc, t, c, _) in stats.stats.items():
        if func == name and filename.endswith(file_end):
            calls, tt, ct = calls + nc, tt + t, ct + c
    return calls, tt, ct


def diagnose_mmap(settings, sizes, root, arrays, windows):
    """Profile ``npy_mmap`` against the baseline and try kept maps; return a note saying where the time goes."""
    progress("disk: npy_mmap missed its target: profiling it (cProfile) and trying kept maps")
    runs = {
        TARGET_STRATEGY: timed_pass(stream_maker(TARGET_STRATEGY, root, sizes.n, sizes.seed), sizes.k, sizes.lam, sizes.seed),
        BASELINE: timed_pass(stream_maker(BASELINE, root, sizes.n, sizes.seed, arrays), sizes.k, sizes.lam, sizes.seed),
    }
    warm(strategy_files(root, TARGET_STRATEGY))
    found = {}
    for name, run in runs.items():
        stats, faults = profiled(run, windows)
        found[name] = {
            "faults": faults,
            "sum_us": _entry(stats, "<method 'reduce' of 'numpy.ufunc' objects>")[1] / windows * 1e6,
            "maps": _entry(stats, "_memmap", "loaders.py"),
            "activations": _entry(stats, "_activation_rng", "loaders.py")[0],
        }
    mm, base = found[TARGET_STRATEGY], found[BASELINE]
    map_calls, _, map_time = mm["maps"]
    seeds = np.random.SeedSequence(sizes.seed).spawn(len(arrays))
    items = [fixtures.item_paths(root, item) for item in fixtures.load_manifest(root)["items"]]
    kept = [muxlab.Streamer(sample_kept_maps, p["npy_x"], p["npy_y"], sizes.n, random_state=s) for p, s in zip(items, seeds)]
    kept_run = timed_pass(lambda: kept, sizes.k, sizes.lam, sizes.seed)
    kept_run(windows)  # maps made and pages mapped once, as a long-lived process would have them
    rates = alternate(
        {BASELINE: rate_contender(runs[BASELINE], windows), "kept maps": rate_contender(kept_run, windows)},
        min(settings.rounds, 5),
        warmup=False,
    )
    kept_ratio = ratio_stats(rates["kept maps"], rates[BASELINE])
    _MAPS.clear()
    per_activation = map_time / max(mm["activations"], 1) * 1e6
    return (
        f"Profile (cProfile, one warm pass of {windows:,} windows each): `npy_mmap` makes "
        f"{map_calls / max(mm['activations'], 1):.1f} `np.memmap` per activation "
        f"({fmt(per_activation)} µs per activation in `_memmap`: `open`, `seek`, `mmap`, numpy's Python "
        f"`memmap.__new__`; {fmt(per_activation / (windows / max(mm['activations'], 1)))} µs per window at "
        f"{fmt(windows / max(mm['activations'], 1))} windows per activation). Because every activation's map is "
        f"new, reading a window takes minor page faults: {fmt(mm['faults'])} per window "
        f"(baseline {fmt(base['faults'])}), paid inside the consumer's `X.sum()`: {fmt(mm['sum_us'])} µs per "
        f"window there against {fmt(base['sum_us'])} µs on the in-RAM arrays. The SeedSequence spawn per "
        "activation is paid by both. Diagnostic: the same generator keeping one read-only map per file for "
        "the process (maps made and pages mapped once before timing) reaches "
        f"{fmt(kept_ratio.median)} ({fmt_spread(kept_ratio)}) of the baseline. That is what "
        "`npy_mmap_readonly` does (its row above); `npy_mmap` cannot: its maps are copy-on-write, so a map "
        "shared across activations would let a consumer's write into one batch show in every later window of "
        "that file, and keep the written pages as anonymous memory for the life of the process. Its map per "
        "activation is the design of pescador's chapter, and its cost."
    )


def run_memory(settings, sizes, root):
    """Memory and windows/s of every strategy, warm and cold, through ``muxlab.compare`` (one child per strategy)."""
    columns = [
        "strategy",
        "cache",
        "windows/s",
        "peak MiB",
        "anonymous MiB",
        "file-backed MiB",
        "anonymous at start MiB",
        "MiB read from storage",
    ]
    rows, chart = [], {"memory": {}}
    for cache in CACHES:
        progress(f"disk memory: muxlab.compare, {cache} page cache, {sizes.memory_batches} windows per strategy")
        if cache == "warm":
            drop(all_files(root))  # compare's own warm-up then reads every file back the same way (see settle)
        result = muxlab.compare(
            root=root,
            k=sizes.k,
            lam=sizes.lam,
            n=sizes.n,
            max_batches=sizes.memory_batches,
            retain=sizes.retain,
            cache=cache,
            random_state=sizes.seed,
        )
        for r in result.summary.to_dict("records"):
            read = r["bytes_read"]
            rows.append(
                [
                    f"`{r['strategy']}`",
                    cache,
                    fmt_rate(r["windows_per_s"]),
                    fmt(r["peak_rss"] / MiB),
                    fmt(r["rss_anon"] / MiB),
                    fmt(r["rss_file"] / MiB),
                    fmt(r["rss_anon_start"] / MiB),
                    "n/a" if read is None or read != read else fmt(read / MiB),
                ]
            )
            chart["memory"][(r["strategy"], cache)] = {
                "peak": r["peak_rss"] / MiB,
                "anon": r["rss_anon"] / MiB,
                "file": r["rss_file"] / MiB,
                "rate": r["windows_per_s"],
            }
    undropped = [
        row[0] for row in rows if row[1] == "cold" and row[-1] != "n/a" and float(row[-1]) < 0.05 * files_mb(
            strategy_files(root, row[0].strip("`"))
        )
    ]
    # strategy-major order: warm then cold next to each other
    order = {f"`{s}`": i for i, s in enumerate(loaders.STRATEGIES)}
    rows.sort(key=lambda row: (order[row[0]], CACHES.index(row[1])))
    notes = [
        f"`muxlab.compare(root={sizes.preset}, k={sizes.k}, lam={sizes.lam:g}, n={sizes.n}, "
        f"max_batches={sizes.memory_batches}, retain={sizes.retain}, cache=...)`: each strategy streams in its own "
        "fresh child process; its consumer sums every batch's X and keeps the last "
        f"{sizes.retain} batches alive. One child per strategy and cache mode: single measurements, no spread.",
        "Warm: the collection's files are dropped from the page cache first, so that compare's warm-up reads "
        "every file back the same way (4 MiB reads): how pages entered the cache changes the file-backed memory of "
        "the npy strategies (in trials on 4 files: 162 MiB right after writing them, 113 MiB after a drop and "
        "`np.load`, 41 MiB after a drop and 4 MiB reads; see `benchmarks.disk.settle`).",
        "MiB = 2^20 bytes. Peak: the kernel's VmHWM of the child; anonymous and file-backed: RssAnon and RssFile at "
        "the end, with the mux, its streams and the retained batches still alive; anonymous at start: before "
        "streaming (the interpreter with numpy). MiB read: `read_bytes` of the child's `/proc/self/io`.",
        "windows/s here is the child's own single run (with the retained batches), not an alternating median: "
        "the table above is the speed comparison.",
    ]
    if undropped:
        notes.append(
            "Cold rows of " + ", ".join(undropped) + " read (almost) nothing from storage: `compare` dropped the "
            "files, but another process had them mapped or read them meanwhile (the machine is shared, and other "
            "runs use the same `./muxlab-data` collection). Treat those rows as warm."
        )
    return Section("disk_memory", "Disk: memory per strategy (muxlab.compare)", columns, rows, notes, [], chart)
