"""Engine throughput: items/s of each mux, muxlab vs pescador vs the bare-loop limit; and scaling in k.

The streams are trivial and endless (a generator yielding a constant), so
what is measured is the mux itself. The bare loop is the limit for any
Python mux: ``next()`` on pre-made generators at pre-drawn indices, nothing else.
"""

from time import perf_counter

import numpy as np

import muxlab

from .report import NOT_INSTALLED, Section, Target, fmt, fmt_rate, fmt_spread
from .timing import alternate, load_pescador, median, progress, ratio_stats, throughput

N_STREAMS = 1000
K = 32
RATE = 16


def endless():
    """A trivial endless stream: the same constant, forever."""
    while True:
        yield 1


def bare_loop(k):
    """``run(n)``: the bare-loop limit, ``n`` calls of ``next()`` on ``k`` generators at pre-drawn indices."""

    def run(n):
        nexts = [endless().__next__ for _ in range(k)]
        idx = np.random.default_rng(0).integers(0, k, n).tolist()
        t0 = perf_counter()
        for i in idx:
            nexts[i]()
        return perf_counter() - t0

    return run


def consume(mux):
    """``run(n)``: time a plain ``for x in mux(max_iter=...): pass`` loop over ``n`` items.

    The pass is started and its first item taken before the clock starts, so
    the rate is the steady state, whatever ``n`` is (pescador's deep copy at
    the start of a pass is measured by the activation case instead).
    """

    def run(n):
        it = mux(max_iter=n + 1)
        next(it)
        t0 = perf_counter()
        for x in it:  # noqa: B007
            pass
        return perf_counter() - t0

    return run


def stochastic(lib, dist, k=K, n_streams=N_STREAMS, mode="with_replacement", **kwargs):
    streams = [lib.Streamer(endless) for _ in range(n_streams)]
    return lib.StochasticMux(streams, k, RATE, mode=mode, dist=dist, random_state=0, **kwargs)


#: name -> (what it is, factory(lib)). The same parameters for muxlab and pescador.
ENGINE_CASES = {
    f"StochasticMux {dist}": (
        f"{N_STREAMS} streams, n_active={K}, rate={RATE}, dist={dist}, mode=with_replacement",
        lambda lib, dist=dist: stochastic(lib, dist),
    )
    for dist in ("binomial", "poisson", "constant")
}
ENGINE_CASES |= {
    "StochasticMux single_active": (
        f"{N_STREAMS} streams, n_active={K}, rate={RATE}, dist=binomial, mode=single_active",
        lambda lib: stochastic(lib, "binomial", mode="single_active"),
    ),
    "ShuffledMux": ("32 streams", lambda lib: lib.ShuffledMux([lib.Streamer(endless) for _ in range(K)], random_state=0)),
    "RoundRobinMux cycle": (
        "32 streams, mode=cycle",
        lambda lib: lib.RoundRobinMux([lib.Streamer(endless) for _ in range(K)], mode="cycle"),
    ),
    "ChainMux cycle": (
        "32 streams, mode=cycle (endless streams: the first one serves every item)",
        lambda lib: lib.ChainMux([lib.Streamer(endless) for _ in range(K)], mode="cycle"),
    ),
}


def run_engine(settings):
    """Items/s of every engine case, muxlab vs pescador vs bare loop, with targets for StochasticMux."""
    pescador = load_pescador()
    columns = [
        "case",
        "parameters",
        "muxlab items/s",
        "pescador items/s",
        "bare items/s",
        "ratio muxlab/pescador",
        "spread muxlab/pescador",
        "ratio muxlab/bare",
        "spread muxlab/bare",
    ]
    rows, targets = [], []
    chart = {"cases": [], "rates": {"muxlab": [], "bare": []} | ({"pescador": []} if pescador else {})}
    for name, (params, make) in ENGINE_CASES.items():
        progress(f"engine: {name}")
        contenders = {
            "muxlab": throughput(consume(make(muxlab)), settings.seconds),
            "bare": throughput(bare_loop(K), settings.seconds),
        }
        if pescador:
            contenders["pescador"] = throughput(consume(make(pescador)), settings.seconds, n0=200)
        rates = alternate(contenders, settings.rounds, warmup=False)  # calibration warmed them up
        vs_bare = ratio_stats(rates["muxlab"], rates["bare"])
        row = [name, params, fmt_rate(median(rates["muxlab"]))]
        if pescador:
            vs_pes = ratio_stats(rates["muxlab"], rates["pescador"])
            row += [fmt_rate(median(rates["pescador"]))]
        else:
            row += [NOT_INSTALLED]
        row += [fmt_rate(median(rates["bare"]))]
        row += [fmt(vs_pes.median), fmt_spread(vs_pes)] if pescador else ["n/a", "n/a"]
        row += [fmt(vs_bare.median), fmt_spread(vs_bare)]
        rows.append(row)
        chart["cases"].append(name)
        for who, values in rates.items():
            chart["rates"][who].append(median(values))
        if name.startswith("StochasticMux"):
            quantity = f"{name}: items/s ratio"
            if pescador:
                targets.append(Target.check(f"{name} vs pescador", quantity + " muxlab/pescador", vs_pes, ">=", 50))
            else:
                targets.append(Target(f"{name} vs pescador", quantity, None, None, None, ">= 50", None, NOT_INSTALLED))
            targets.append(Target.check(f"{name} vs bare loop", quantity + " muxlab/bare", vs_bare, ">=", 0.12))
    notes = [
        "Each stream is a generator function yielding a constant forever; items are consumed with a plain "
        "`for x in mux(max_iter=N): pass` loop (inside a function); N is chosen per contender so that one timing lasts about "
        f"{settings.seconds} s, so rates (items/s) are compared, not times.",
        f"Bare loop: inside a function, `idx = rng.integers(0, {K}, N).tolist(); for i in idx: nexts[i]()` over "
        f"{K} pre-made generators (index drawing not timed): the limit for a Python mux.",
        "Counters are on in every muxlab row (their cost is the counters case).",
        "Each timing starts a fresh pass of the same mux object and takes its first item before the clock "
        "starts: the rates are steady-state rates, comparable across different N (pescador's deep copy of the "
        "mux at the start of a pass is in the activation case).",
    ]
    if not pescador:
        notes.append("pescador is not installed (`pip install -e '.[bench]'`): its columns are empty.")
    return Section("engine", "Engine throughput (items/s)", columns, rows, notes, targets, chart)


def run_scaling(settings):
    """Items/s of StochasticMux as ``k`` grows, against the bare loop over ``k`` generators."""
    columns = ["k", "muxlab items/s", "bare items/s", "ratio muxlab/bare", "spread muxlab/bare"]
    rows = []
    for k in settings.scaling_ks:
        progress(f"scaling: k={k}")
        contenders = {
            "muxlab": throughput(consume(stochastic(muxlab, "binomial", k=k)), settings.seconds),
            "bare": throughput(bare_loop(k), settings.seconds),
        }
        rates = alternate(contenders, settings.rounds, warmup=False)
        s = ratio_stats(rates["muxlab"], rates["bare"])
        rows.append([k, fmt_rate(median(rates["muxlab"])), fmt_rate(median(rates["bare"])), fmt(s.median), fmt_spread(s)])
    notes = [
        f"StochasticMux over {N_STREAMS} endless streams, rate={RATE}, dist=binomial, mode=with_replacement, "
        "counters on; the bare loop at each k calls `next()` on k pre-made generators at pre-drawn indices.",
        f"An activation lasts {RATE} items on average whatever k is, so activation work per item stays the same.",
    ]
    return Section("scaling", "Scaling in k (StochasticMux items/s vs bare loop)", columns, rows, notes)
