"""What muxlab's counters and events cost per sample.

Samples per stream are read from the per-slot lifetime lists (``life - rem``)
that the engine keeps anyway to retire activations, so the counters cost a
few operations per activation and nothing per sample. Measured here: counters
on against ``counters=False``, reading ``mux.stats`` while streaming, and the
optional ``on_event`` callback. Only the first has a target (counters cost at
most 10%); what a read or an event costs depends on how often they happen, so
those rows are reported without one.
"""

from time import perf_counter

import muxlab

from .engine import consume, stochastic
from .report import Section, Target, fmt, fmt_rate, fmt_spread
from .timing import alternate, median, progress, ratio_stats, throughput


def noop(event):
    """An ``on_event`` callback that does nothing."""


def consume_reading(mux, read, every=1000):
    """``run(n)``: the plain loop with a countdown; with ``read``, ``mux.stats.samples`` is read every ``every`` items."""

    def run(n):
        c = 0
        it = mux(max_iter=n + 1)
        next(it)  # as in engine.consume: steady state only
        t0 = perf_counter()
        for x in it:  # noqa: B007
            c += 1
            if c == every:
                c = 0
                if read:
                    mux.stats.samples  # noqa: B018
        return perf_counter() - t0

    return run


def run_counters(settings):
    columns = ["comparison", "normal items/s", "variant items/s", "ratio variant/normal", "spread"]
    rows, targets = [], []
    comparisons = {
        "counters on (variant) vs counters=False (normal)": (
            consume(stochastic(muxlab, "binomial", counters=False)),
            consume(stochastic(muxlab, "binomial")),
        ),
        "read mux.stats.samples every 1000 items": (
            consume_reading(stochastic(muxlab, "binomial"), read=False),
            consume_reading(stochastic(muxlab, "binomial"), read=True),
        ),
        "on_event = no-op callback": (consume(stochastic(muxlab, "binomial")), consume(stochastic(muxlab, "binomial", on_event=noop))),
    }
    for name, (normal, variant) in comparisons.items():
        progress(f"counters: {name}")
        rates = alternate(
            {"normal": throughput(normal, settings.seconds), "variant": throughput(variant, settings.seconds)},
            settings.rounds,
            warmup=False,
        )
        s = ratio_stats(rates["variant"], rates["normal"])
        rows.append([name, fmt_rate(median(rates["normal"])), fmt_rate(median(rates["variant"])), fmt(s.median), fmt_spread(s)])
        if name.startswith("counters on"):
            targets.append(Target.check(f"cost of {name} <= 10%", "items/s ratio variant/normal", s, ">=", 0.9))
    notes = [
        "StochasticMux over 1000 endless streams, n_active=32, rate=16, dist=binomial, mode=with_replacement.",
        "Counters: samples per stream come from the per-slot lifetime lists the engine keeps anyway to retire "
        "activations (summed when read); an activation adds to three counters. `counters=False` skips those.",
        "on_event (no target: off by default): the callback is called at every activation and retirement (2 events per activation of "
        "16 items on average here), and each event builds a MuxEvent, reads the clock and adds up the items "
        "yielded so far; its cost per item falls as the rate (items per activation) grows.",
        "Reading: both loops count down to 1000 in the same way; only the variant reads `mux.stats.samples` (a read converts the per-stream lists to an array: a few µs per thousand streams; a chart reads a few times a second).",
    ]
    return Section("counters", "Counters and events cost", columns, rows, notes, targets)
