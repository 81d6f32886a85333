"""Named pipelines for the resume tests, importable by a fresh process (``main()`` reads jobs on stdin)."""

import json
import sys

import numpy as np

from muxlab import ChainMux, Knob, Mux, RoundRobinMux, ShuffledMux, StochasticMux, Streamer
from muxlab import buffer_stream, cache, keras_tuples, tuples
from muxlab.lifetimes import DISTS
from muxlab.mux.stochastic import MODES

LENGTHS = [7, 0, 12, 3, 25, 9, 1, 16]


def finite(lengths=LENGTHS):
    """Stream ``i`` is a list of the distinct items ``100 * i + j``."""
    return [Streamer([100 * i + j for j in range(n)]) for i, n in enumerate(lengths)]


def counting(start, n, step=1):
    """A generator function: reopened with its arguments and fast-forwarded."""
    for j in range(n):
        yield start + j * step


def functions(lengths=LENGTHS):
    return [Streamer(counting, 1000 * i, n) for i, n in enumerate(lengths)]


def records(n):
    for j in range(n):
        yield {"x": np.full(2, j, dtype=np.int64), "y": j % 3, "z": -j}


CASES = {}


def case(name):
    def register(make):
        CASES[name] = make
        return make

    return register


for _mode in MODES:
    for _dist in DISTS:
        CASES[f"stochastic-{_mode}-{_dist}"] = (
            lambda mode=_mode, dist=_dist: StochasticMux(finite(), 3, 4, mode=mode, dist=dist, random_state=5)
        )


@case("stochastic-weights")
def _():
    return StochasticMux(functions(), 3, 2.5, weights=[1, 0, 3, 1, 5, 0.5, 2, 1], random_state=1)


@case("stochastic-rate-none")
def _():
    return StochasticMux(finite(), 2, None, mode="single_active", random_state=2)


@case("stochastic-no-prune")
def _():
    return StochasticMux(finite([0, 4, 0, 6]), 2, 3, prune_empty_streams=False, random_state=3)


@case("stochastic-generator")
def _():
    return StochasticMux(functions(), 4, 3, dist="poisson", random_state=np.random.default_rng(11))


@case("mux-k-lam")
def _():
    return Mux(finite(), k=2, lam=5, dist="constant", random_state=4)


@case("shuffled")
def _():
    return ShuffledMux(finite([5, 0, 9, 2]), weights=[1, 1, 2, 0.5], random_state=6)


for _mode in ("exhaustive", "cycle", "permuted_cycle"):
    CASES[f"round-robin-{_mode}"] = lambda mode=_mode: RoundRobinMux(functions(), mode=mode, random_state=7)

for _mode in ("exhaustive", "cycle"):
    CASES[f"chain-{_mode}"] = lambda mode=_mode: ChainMux(finite(), mode=mode)


@case("nested")
def _():
    inner = [
        StochasticMux(finite([4, 6, 2]), 2, 3, random_state=8),
        RoundRobinMux(functions([3, 5]), mode="cycle"),
        ChainMux(finite([2, 0, 3])),
        ShuffledMux(functions([4, 4]), random_state=9),
    ]
    return StochasticMux(inner, 2, 6, random_state=10)


@case("maps")
def _():
    streams = [
        Streamer(buffer_stream, Streamer(records, 11), 3, partial=True),
        Streamer(tuples, Streamer(records, 7), "z", "y"),
        Streamer(keras_tuples, Streamer(records, 9), inputs="x", outputs=["y"]),
        Streamer(cache, Streamer(counting, 5000, 13), 4, prob=0.4, random_state=12),
    ]
    return StochasticMux(streams, 2, 4, random_state=13)


@case("knob")
def _():
    # One Knob shared by every stream: the window length of a stream's items.
    knob = _KNOB[0] = Knob(2)
    return StochasticMux([Streamer(_windows, i, knob) for i in range(5)], 2, 3, dist="constant", random_state=14)


_KNOB = [None]


def _windows(i, n):
    """Items ``(i, j, n)`` where ``n`` is read from a Knob at every item."""
    j = 0
    while j < 8:
        yield (i, j, n.value)
        j += 1


#: Live changes per case: item number -> change, applied before that item is asked for.
CHANGES = {
    "stochastic-weights": {40: lambda m: setattr(m, "weights", [0, 0, 1, 1, 1, 1, 1, 1]), 90: lambda m: setattr(m, "k", 5)},
    "mux-k-lam": {30: lambda m: setattr(m, "lam", 2), 70: lambda m: setattr(m, "k", 1)},
}

#: max_iter per case (the with_replacement and cycling ones would not end by themselves).
MAX_ITER = {name: 150 for name in CASES}


def main():
    from resume_harness import counters, live_params

    jobs = json.load(sys.stdin)
    results = []
    for name, state_text in jobs:
        from resume_harness import plain

        mux = CASES[name]()
        it = mux.iterate(state=json.loads(state_text))
        items = [plain(x) for x in it]
        results.append([items, counters(mux), live_params(mux)])
    json.dump(results, sys.stdout)


if __name__ == "__main__":  # pragma: no cover
    main()
