"""Property-based tests: over random k, lam, weights, modes, dists and stream lengths (zero included),
every run ends, nothing is yielded twice where it must not be, and the counters add up.

Streams are finite lists of distinct items ``(stream, position)``, so every item says where it came
from. Runs are deterministic (the ``muxlab`` Hypothesis profile of ``conftest.py``, which also sets a
deadline per example) and sized to keep the file under about 15 s.
"""

import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from streams import endless_streams, finite_streams

from muxlab import ChainMux, Mux, RoundRobinMux, ShuffledMux, StochasticMux
from muxlab.lifetimes import DISTS

MODES = ("with_replacement", "single_active", "exhaustive")


@st.composite
def stochastic_setups(draw):
    n = draw(st.integers(1, 6))
    lengths = draw(st.lists(st.integers(0, 8), min_size=n, max_size=n))
    mode = draw(st.sampled_from(MODES))
    k = draw(st.integers(1, n if mode != "with_replacement" else n + 3))
    rate = draw(st.one_of(st.none(), st.integers(1, 12).map(float), st.floats(1, 12, allow_nan=False)))
    weights = draw(
        st.one_of(
            st.none(),
            st.lists(st.one_of(st.just(0.0), st.floats(0.01, 5)), min_size=n, max_size=n).filter(lambda w: sum(w) > 0),
        )
    )
    return dict(
        lengths=lengths,
        n_active=k,
        rate=rate,
        weights=weights,
        mode=mode,
        dist=draw(st.sampled_from(DISTS)),
        prune_empty_streams=draw(st.booleans()),
        random_state=draw(st.integers(0, 2**32 - 1)),
    )


def build(setup, on_event=None):
    args = dict(setup)
    lengths = args.pop("lengths")
    return StochasticMux(finite_streams(lengths), on_event=on_event, **args), lengths


def can_end(setup):
    """A pass ends by itself in exhaustive mode, or when no stream that may be chosen has items."""
    w = setup["weights"] or [1] * len(setup["lengths"])
    return setup["mode"] == "exhaustive" or all(n == 0 for n, wi in zip(setup["lengths"], w) if wi > 0)


def check_counters(mux, items, lengths, weights):
    per_stream = Counter(i for i, _ in items)
    assert mux.stats.samples.tolist() == [per_stream[i] for i in range(len(lengths))]
    assert mux.stats.activations.sum() >= len(per_stream)
    assert sum(mux.stats.retirements.values()) <= mux.stats.activations.sum()
    assert mux.stats.running == 0 and mux.stats.active.size == 0
    assert all(0 <= j < lengths[i] for i, j in items)
    if weights is not None:
        assert all(mux.stats.activations[i] == 0 for i, w in enumerate(weights) if w == 0)


@pytest.mark.timeout(60)
@settings(max_examples=600)
@given(setup=stochastic_setups(), max_iter=st.integers(0, 200))
def test_stochastic_mux_runs_end_and_counters_add_up(setup, max_iter):
    in_use = Counter()
    clashes = []
    lives = []

    def track(event):
        if event.kind == "activate":
            if setup["mode"] == "single_active" and in_use[event.stream]:
                clashes.append(event)
            in_use[event.stream] += 1
        else:
            in_use[event.stream] -= 1
            if event.reason == "lifetime":
                lives.append(event.samples)

    mux, lengths = build(setup, on_event=track)
    bounded = list(mux(max_iter=max_iter))
    assert len(bounded) <= max_iter
    if not can_end(setup):
        assert len(bounded) == max_iter  # endless: the limit is what stops it
    check_counters(mux, bounded, lengths, setup["weights"])
    assert not clashes, "single_active put one stream in two slots"
    assert all(life >= 1 for life in lives)
    if setup["dist"] == "constant" and setup["rate"] is not None:
        rate = setup["rate"]
        assert all(life in (math.floor(rate), math.ceil(rate)) for life in lives), (rate, lives)

    if can_end(setup):  # and unbounded: it must end by itself
        mux.stats.reset()
        items = list(mux)
        check_counters(mux, items, lengths, setup["weights"])
        if setup["mode"] == "exhaustive":
            assert len(items) == len(set(items)), "exhaustive yielded an item twice"
            assert mux.stats.activations.max(initial=0) <= 1
            # each stream contributes a prefix of itself, in order
            for i in set(i for i, _ in items):
                assert [j for s, j in items if s == i] == list(range(sum(1 for s, _ in items if s == i)))
            if setup["rate"] is None:
                w = setup["weights"] or [1] * len(lengths)
                expected = {(i, j) for i, n in enumerate(lengths) if w[i] > 0 for j in range(n)}
                assert set(items) == expected
        else:
            assert items == []


@pytest.mark.timeout(60)
@settings(max_examples=150)
@given(setup=stochastic_setups(), max_iter=st.integers(1, 100))
def test_an_int_seed_repeats_every_pass(setup, max_iter):
    mux, _ = build(setup)
    first = list(mux(max_iter=max_iter))
    assert list(mux(max_iter=max_iter)) == first
    again, _ = build(setup)
    assert list(again(max_iter=max_iter)) == first


@pytest.mark.timeout(60)
@settings(max_examples=200)
@given(
    lengths=st.lists(st.integers(0, 6), min_size=1, max_size=6),
    data=st.data(),
    max_iter=st.integers(0, 200),
    seed=st.integers(0, 2**32 - 1),
)
def test_shuffled_mux_runs_end_and_counters_add_up(lengths, data, max_iter, seed):
    n = len(lengths)
    weights = data.draw(
        st.one_of(st.none(), st.lists(st.one_of(st.just(0.0), st.floats(0.01, 5)), min_size=n, max_size=n).filter(
            lambda w: sum(w) > 0)), label="weights")
    mux = ShuffledMux(finite_streams(lengths), weights=weights, random_state=seed)
    w = weights or [1] * n
    endless = any(length > 0 and wi > 0 for length, wi in zip(lengths, w))
    items = list(mux(max_iter=max_iter))
    assert len(items) == (max_iter if endless else 0)
    check_counters(mux, items, lengths, weights)
    if not endless:
        assert list(mux) == []


@pytest.mark.timeout(60)
@settings(max_examples=200)
@given(lengths=st.lists(st.integers(0, 6), min_size=1, max_size=6), max_iter=st.integers(0, 100),
       seed=st.integers(0, 2**32 - 1))
def test_ordered_muxes_yield_exactly_their_order(lengths, max_iter, seed):
    everything = sum(lengths)
    rr = list(RoundRobinMux(finite_streams(lengths)))
    expected_rr = [(i, j) for j in range(max(lengths)) for i, n in enumerate(lengths) if j < n]
    assert rr == expected_rr
    chain = list(ChainMux(finite_streams(lengths)))
    assert chain == [(i, j) for i, n in enumerate(lengths) for j in range(n)]
    for mux in (
        RoundRobinMux(finite_streams(lengths), mode="cycle"),
        RoundRobinMux(finite_streams(lengths), mode="permuted_cycle", random_state=seed),
        ChainMux(finite_streams(lengths), mode="cycle"),
    ):
        items = list(mux(max_iter=max_iter))
        assert len(items) == (max_iter if everything else 0)
        check_counters(mux, items, lengths, None)
        # every full round yields each item exactly once
        rounds = len(items) // everything if everything else 0
        assert all(count >= rounds for count in Counter(items).values())
        if not everything:
            assert list(mux) == []


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("k"), st.integers(1, 12)),
        st.tuples(st.just("lam"), st.one_of(st.none(), st.floats(1, 30))),
        st.tuples(st.just("weights"), st.lists(st.floats(0, 3), min_size=5, max_size=5).filter(lambda w: sum(w) > 0)),
        st.tuples(st.just("take"), st.integers(0, 40)),
    ),
    max_size=25,
)


@pytest.mark.timeout(60)
@settings(max_examples=300)
@given(ops=OPS, seed=st.integers(0, 2**32 - 1))
def test_live_changes_keep_slots_equal_to_k_and_counts_exact(ops, seed):
    mux = Mux(endless_streams(5), k=3, lam=4, random_state=seed)
    it = iter(mux)
    yielded = []
    yielded.append(next(it))
    for op, value in ops:
        if op == "take":
            yielded += [next(it) for _ in range(value)]
            continue
        setattr(mux, op, value)
        yielded.append(next(it))  # a change applies before the next item
        assert len(mux.stats.active) == mux.k
        if op == "weights":
            allowed = {i for i, w in enumerate(value) if w > 0}
            # new activations come only from streams with weight
            before = mux.stats.activations.copy()
            yielded += [next(it) for _ in range(30)]
            grew = {i for i in range(5) if mux.stats.activations[i] > before[i]}
            assert grew <= allowed
    assert mux.stats.samples.tolist() == [yielded.count(i) for i in range(5)]
    it.close()
    assert mux.stats.running == 0
