"""The alternating runner and the ratio statistics every case uses.

A comparison runs its contenders in turn in one process (A B C A B C ...),
so that a slow patch of a shared machine hits every contender alike, and
compares them round by round: the ratio of round ``i`` is A's value over B's
value in round ``i``. We report the median of those ratios and their spread
(min-max).

>>> s = ratio_stats([2.0, 4.0, 6.0], [1.0, 2.0, 2.0])
>>> s.median, s.lo, s.hi
(2.0, 2.0, 3.0)
"""

import gc
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import NamedTuple

perf_counter = time.perf_counter


@dataclass(frozen=True)
class Settings:
    """Sizes of one run of the suite (``full()`` or ``quick()``)."""

    is_quick: bool
    rounds: int  # rounds of every alternating comparison
    seconds: float  # length aimed at for one timing of a throughput contender
    latency_sizes: tuple  # numbers of streamers for the first-sample latency
    pescador_latency_limit: float  # seconds: skip pescador at a size whose first trial takes longer
    memory_streams: int  # streamers each holding one array argument
    memory_mib: float  # size of each array argument
    memory_samples: int  # samples drawn before reading the memory
    memory_rounds: int  # child processes per library
    scaling_ks: tuple = field(default=(1, 4, 16, 64, 256))

    @classmethod
    def full(cls):
        return cls(
            is_quick=False,
            rounds=11,
            seconds=0.2,
            latency_sizes=(100, 1_000, 10_000, 100_000),
            pescador_latency_limit=5.0,
            memory_streams=100,
            memory_mib=1.0,
            memory_samples=1000,
            memory_rounds=3,
        )

    @classmethod
    def quick(cls):
        return cls(
            is_quick=True,
            rounds=3,
            seconds=0.004,
            latency_sizes=(100, 1_000),
            pescador_latency_limit=1.0,
            memory_streams=8,
            memory_mib=1.0,
            memory_samples=100,
            memory_rounds=1,
            scaling_ks=(1, 16),
        )


class RatioStats(NamedTuple):
    """Median and min-max spread of the round-by-round ratios of two contenders."""

    median: float
    lo: float
    hi: float
    n: int


def ratio_stats(a, b):
    """Statistics of ``a[i] / b[i]`` over the rounds ``i`` (values from :func:`alternate`)."""
    ratios = [x / y for x, y in zip(a, b, strict=True)]
    return RatioStats(statistics.median(ratios), min(ratios), max(ratios), len(ratios))


def value_stats(values):
    """Median and min-max of plain values (for a target stated in absolute units)."""
    return RatioStats(statistics.median(values), min(values), max(values), len(values))


def median(values):
    return statistics.median(values)


def alternate(contenders, rounds, warmup=True):
    """Call each contender once per round, always in the same order; return ``{name: [values]}``.

    ``contenders`` maps a name to a callable taking no argument and returning
    the number it measured (a rate, or seconds). With ``warmup`` every
    contender runs once first, unrecorded.
    """
    if warmup:
        for fn in contenders.values():
            fn()
    values = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            gc.collect()
            values[name].append(fn())
    return values


def calibrate(run, seconds, n0=1000, n_max=50_000_000):
    """The item count ``n`` for which ``run(n)`` (which returns its elapsed seconds) takes about ``seconds``."""
    n = n0
    while True:
        t = run(n)
        if t >= seconds / 4 or n >= n_max:
            return max(1, min(n_max, round(n * seconds / max(t, 1e-9))))
        n *= 4


def throughput(run, seconds, n0=1000):
    """A contender for :func:`alternate` measuring items/s of ``run(n)``, with ``n`` calibrated to ``seconds``."""
    n = calibrate(run, seconds, n0)
    return lambda: n / run(n)


_PESCADOR = []


def load_pescador():
    """Import pescador (a benchmark-only extra) on first use; None if it is not installed."""
    if not _PESCADOR:
        try:
            import pescador
        except ImportError:
            pescador = None
        _PESCADOR.append(pescador)
    return _PESCADOR[0]


def progress(text):
    """Say what runs now, on stderr (stdout carries the markdown)."""
    print(f"[benchmarks] {text}", file=sys.stderr, flush=True)
