"""Activation cost: time to the first sample of a fresh mux, and memory taken by activating.

pescador deep-copies the mux (its streamers and their arguments) when a pass
starts; muxlab keeps a pass's state apart from its configuration and copies
nothing. The memory case runs each library in its own fresh child process.
"""

import json
import subprocess
import sys
from time import perf_counter

import muxlab

from .engine import RATE, endless
from .report import NOT_INSTALLED, Section, Target, fmt, fmt_spread
from .timing import alternate, load_pescador, median, progress, ratio_stats, value_stats

K = 32


def first_sample(lib, streams):
    """A contender: make a fresh mux over ``streams`` (not timed), time ``next(iter(mux))``."""

    def run():
        mux = lib.StochasticMux(streams, K, RATE, random_state=0)
        t0 = perf_counter()
        it = iter(mux)
        next(it)
        t = perf_counter() - t0
        it.close()
        return t

    return run


def bare_first_sample():
    """The bare limit: open ``K`` generators and take one item."""
    t0 = perf_counter()
    nexts = [endless().__next__ for _ in range(K)]
    nexts[0]()
    return perf_counter() - t0


def run_latency(settings):
    pescador = load_pescador()
    columns = [
        "streamers",
        "muxlab first sample",
        "pescador first sample",
        "bare first sample",
        "ratio muxlab/pescador (time)",
        "spread muxlab/pescador",
        "ratio muxlab/bare (time)",
        "spread muxlab/bare",
    ]
    rows, notes, targets = [], [], []
    latency = {"muxlab": [], "bare": []} | ({"pescador": []} if pescador else {})
    for n in settings.latency_sizes:
        progress(f"activation: first sample, {n} streamers")
        contenders = {"muxlab": first_sample(muxlab, [muxlab.Streamer(endless) for _ in range(n)])}
        skipped = ""
        if pescador:
            pes = first_sample(pescador, [pescador.Streamer(endless) for _ in range(n)])
            t = pes()  # this trial also warms it up
            if t > settings.pescador_latency_limit:
                skipped = f"skipped: first trial took {t:.1f} s > {settings.pescador_latency_limit:g} s"
                notes.append(f"pescador at {n} streamers {skipped}.")
            else:
                contenders["pescador"] = pes
        contenders["bare"] = bare_first_sample
        times = alternate(contenders, settings.rounds)
        vs_bare = ratio_stats(times["muxlab"], times["bare"])
        row = [f"{n:,}", f"{fmt(median(times['muxlab']) * 1e3)} ms"]
        if "pescador" in times:
            vs_pes = ratio_stats(times["muxlab"], times["pescador"])
            row += [f"{fmt(median(times['pescador']) * 1e3)} ms"]
        else:
            vs_pes = None
            row += [skipped or NOT_INSTALLED]
        row += [f"{fmt(median(times['bare']) * 1e3)} ms"]
        row += [fmt(vs_pes.median), fmt_spread(vs_pes)] if vs_pes else ["n/a", "n/a"]
        row += [fmt(vs_bare.median), fmt_spread(vs_bare)]
        rows.append(row)
        for who, values in times.items():
            latency[who].append((n, median(values)))
        if n == 100_000 or n == settings.latency_sizes[-1]:
            ms = [t * 1e3 for t in times["muxlab"]]
            stats = value_stats(ms)
            target = Target.check(
                f"first sample at {n:,} streamers",
                "muxlab time to first sample, ms"
                + (f" (muxlab/pescador time ratio {fmt(vs_pes.median)})" if vs_pes else f" (muxlab/bare time ratio {fmt(vs_bare.median)})"),
                stats,
                "<=",
                2.0,
            )
            if n != 100_000:
                target.name += " (quick run: target is stated for 100,000)"
            targets.append(target)
    notes += [
        f"Time of `next(iter(mux))` on a fresh StochasticMux (k={K}, rate={RATE}, endless streams); "
        "the mux is made before the clock starts; the streamer list is made once per size.",
        "Time ratios: below 1 means muxlab is faster. pescador deep-copies the whole mux (every streamer) "
        "at the start of a pass, so its time grows with the number of streamers.",
        f"Bare: open {K} generators and take one item (the least any mux must do).",
    ]
    return Section(
        "activation", "Activation: time to first sample", columns, rows, notes, targets, {"latency": latency}
    )


# -- memory, one child process per library and round ------------------------
MEMORY_CHILD = r"""
import json, sys
import numpy as np
from muxlab.instrument import read_memory

lib = __import__(sys.argv[1])
n_streams, mib, n_samples, k, rate = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])

def hold(arr):
    while True:
        yield arr[0]

arrays = [np.ones(int(mib * 2**20) // 8) for _ in range(n_streams)]  # written, hence resident
mux = lib.StochasticMux([lib.Streamer(hold, a) for a in arrays], k, rate, random_state=0)
before = read_memory()
it = iter(mux)
for _ in range(n_samples):
    next(it)
after = read_memory()  # the pass is still running: whatever it copied is still held
print(json.dumps({"increase": after.rss - before.rss, "peak_increase": after.peak_rss - before.rss}))
"""


def memory_child(lib_name, settings):
    """RSS increase (bytes) of one fresh child process after activating and drawing samples."""
    argv = [lib_name, settings.memory_streams, settings.memory_mib, settings.memory_samples, K, RATE]
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, *map(str, argv)], capture_output=True, text=True, timeout=300
    )
    if done.returncode:
        raise RuntimeError(f"memory child for {lib_name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_memory(settings):
    pescador = load_pescador()
    names = ["muxlab"] + (["pescador"] if pescador else [])
    results = {name: [] for name in names}

    def contender(name):
        def run():
            r = memory_child(name, settings)
            results[name].append(r)
            return r["increase"] / 2**20

        return run

    progress(f"activation: memory, {settings.memory_rounds} child process(es) per library")
    mib = alternate({name: contender(name) for name in names}, settings.memory_rounds, warmup=False)
    held = settings.memory_streams * settings.memory_mib
    columns = [
        "muxlab RSS increase",
        "pescador RSS increase",
        "muxlab peak increase",
        "pescador peak increase",
        "ratio muxlab/pescador (RSS increase)",
        "spread muxlab/pescador",
    ]
    rows, targets = [], []

    def mib_of(name, key="increase"):
        if name not in results:
            return NOT_INSTALLED
        values = [r[key] / 2**20 for r in results[name]]
        return f"{fmt(median(values))} MiB ({fmt(min(values))}–{fmt(max(values))})"

    row = [mib_of("muxlab"), mib_of("pescador"), mib_of("muxlab", "peak_increase"), mib_of("pescador", "peak_increase")]
    if pescador:
        vs_pes = ratio_stats(mib["muxlab"], mib["pescador"])
        rows.append(row + [fmt(vs_pes.median), fmt_spread(vs_pes)])
        targets.append(Target.check("activation copies no argument", "RSS increase ratio muxlab/pescador", vs_pes, "<=", 0.05))
    else:
        rows.append(row + ["n/a", "n/a"])
        targets.append(
            Target("activation copies no argument", "RSS increase ratio muxlab/pescador", None, None, None, "<= 0.05", None, NOT_INSTALLED)
        )
    notes = [
        f"{settings.memory_streams} streamers, each holding one {fmt(settings.memory_mib)} MiB numpy array argument "
        f"({fmt(held)} MiB in all); StochasticMux k={K}, rate={RATE}; VmRSS (muxlab.instrument.read_memory) "
        f"read before `iter(mux)` and after {settings.memory_samples} samples, with the pass still running.",
        "Each library runs in its own fresh child process (`sys.executable -c`), alternately, one per round.",
        "Increases are medians over the child processes, (min–max) in brackets. "
        "Peak increase: VmHWM after the samples minus VmRSS before them.",
        "Ratio below 0.05 counts as 'copies nothing' (a copy of the arguments would give a ratio near 1).",
        "pescador copies the arguments twice over: the whole mux (every streamer and its array) when the pass "
        f"starts, then each activated streamer again when a slot opens it, so about (streamers + k) x "
        f"{fmt(settings.memory_mib)} MiB is held while the pass runs.",
    ]
    return Section("memory", "Activation: memory taken by a pass", columns, rows, notes, targets)


def run_activation(settings):
    """Both activation measurements: first-sample latency, then memory."""
    return [run_latency(settings), run_memory(settings)]
