"""Pickle, deepcopy and copy of every Streamer, mux, map and loader stream."""

import copy
import multiprocessing
import pickle

import numpy as np
import pytest
from streams import endless

import muxlab
from muxlab import (
    ChainMux,
    Knob,
    Mux,
    NotPicklableError,
    RoundRobinMux,
    ShuffledMux,
    StochasticMux,
    Streamer,
    loaders,
    maps,
    streamable,
)
from muxlab.fixtures import ensure
from muxlab.stats import MuxStats


def counting(n, offset=0):
    yield from range(offset, offset + n)


def labelled(label, n):
    for i in range(n):
        yield (label, i)


@streamable
def decorated(n):
    yield from range(n)


def pickled(obj):
    return pickle.loads(pickle.dumps(obj))


COPIES = {"pickle": pickled, "deepcopy": copy.deepcopy, "copy": copy.copy}

# Every mux class, with options that make it draw at random where it can.
MUXES = {
    "StochasticMux": lambda s, **kw: StochasticMux(s, n_active=3, rate=4, **kw),
    "StochasticMux-single_active": lambda s, **kw: StochasticMux(s, 3, 4, mode="single_active", dist="poisson", **kw),
    "StochasticMux-exhaustive": lambda s, **kw: StochasticMux(s, 2, None, mode="exhaustive", **kw),
    "Mux": lambda s, **kw: Mux(s, k=3, lam=4, dist="constant", **kw),
    "ShuffledMux": lambda s, **kw: ShuffledMux(s, weights=np.arange(1, len(s) + 1), **kw),
    "RoundRobinMux": lambda s, **kw: RoundRobinMux(s, mode="permuted_cycle", **kw),
    "ChainMux": lambda s, **kw: ChainMux(s, mode="cycle", **kw),
}


def streams(n=6, length=7):
    return [Streamer(labelled, i, length) for i in range(n)]


# -- Streamers, maps and loader streams ------------------------------------------------


def tiny_streams(n):
    return loaders.streams("npz_copy", ensure("tiny"), n, random_state=7)


STREAMERS = {
    "generator function": lambda: Streamer(counting, 5, offset=3),
    "iterable": lambda: Streamer([1, 2, 3]),
    "nested": lambda: Streamer(Streamer("abc")),
    "streamable": lambda: decorated(4),
    "buffer_stream": lambda: Streamer(maps.buffer_stream, [np.arange(i, i + 2) for i in range(7)], 3, partial=True),
    "tuples": lambda: Streamer(maps.tuples, [{"x": 1, "y": 2}] * 3, "y", "x"),
    "keras_tuples": lambda: Streamer(maps.keras_tuples, [{"x": 1, "y": 2}] * 3, inputs="x", outputs=["y"]),
    "cache": lambda: Streamer(maps.cache, Streamer(counting, 40), 4, prob=0.3, random_state=5),
    "loader": lambda: tiny_streams(16)[0],
    "loader with a Knob": lambda: tiny_streams(Knob(8))[1],
}


def same_items(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if isinstance(x, dict):
            assert x.keys() == y.keys()
            for key in x:
                np.testing.assert_array_equal(x[key], y[key])
        else:
            np.testing.assert_array_equal(np.asarray(x, dtype=object), np.asarray(y, dtype=object))


@pytest.mark.parametrize("how", COPIES)
@pytest.mark.parametrize("kind", STREAMERS)
def test_every_streamer_copies_and_yields_the_same_items(kind, how):
    original = STREAMERS[kind]()
    # A shallow copy shares the argument objects, a loader's SeedSequence too
    # (each activation spawns the next child seed): compare it with a deep copy.
    reference = copy.deepcopy(original) if how == "copy" else original
    duplicate = COPIES[how](original)
    assert duplicate is not original
    assert type(duplicate) is type(original)
    same_items(list(duplicate.iterate(max_iter=12)), list(reference.iterate(max_iter=12)))


def test_copy_copy_shares_argument_arrays_and_deepcopy_copies_them():
    big = np.arange(1000.0)
    s = Streamer(counting, 3, offset=big)
    shallow = copy.copy(s)
    assert shallow.kwargs["offset"] is big and shallow.streamer is s.streamer and shallow.kwargs is s.kwargs
    deep = copy.deepcopy(s)
    assert deep.kwargs["offset"] is not big
    np.testing.assert_array_equal(deep.kwargs["offset"], big)
    for cls in MUXES.values():
        mux = cls([Streamer(counting, 3, big) for _ in range(3)], random_state=0)
        shallow = copy.copy(mux)
        assert shallow.streamers is not mux.streamers
        assert all(a is b for a, b in zip(shallow.streamers, mux.streamers))
        assert shallow.streamers[0].args[1] is big
        assert copy.deepcopy(mux).streamers[0].args[1] is not big


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_a_generator_object_cannot_be_pickled_and_the_error_says_why(how):
    s = Streamer(counting(3))
    with pytest.raises(NotPicklableError, match=r"generator object \(counting\).*Streamer\(counting, \*args") as info:
        COPIES[how](s)
    assert isinstance(info.value, TypeError)
    # In a mux the error names the stream.
    mux = StochasticMux([Streamer(counting, 3), counting(4)], 1, 2)
    with pytest.raises(NotPicklableError, match=r"StochasticMux: streamers\[1\]: cannot pickle or copy"):
        COPIES[how](mux)
    # A shallow copy shares the generator, which is harmless.
    assert copy.copy(s).streamer is s.streamer


# -- muxes ------------------------------------------------------------------------------


@pytest.mark.parametrize("how", COPIES)
@pytest.mark.parametrize("name", MUXES)
def test_a_copy_of_an_int_seeded_mux_yields_the_same_sequence(name, how):
    mux = MUXES[name](streams(), random_state=42)
    expected = list(mux(max_iter=200))
    duplicate = COPIES[how](mux)
    assert type(duplicate) is type(mux) and duplicate is not mux
    assert list(duplicate(max_iter=200)) == expected
    assert list(mux(max_iter=200)) == expected


@pytest.mark.parametrize("how", COPIES)
@pytest.mark.parametrize("name", MUXES)
def test_a_copy_has_fresh_counters_lock_and_random_source(name, how):
    mux = MUXES[name](streams(), random_state=np.random.default_rng(3))
    list(mux(max_iter=50))
    before = (mux.stats.activations.copy(), mux.stats.samples.copy())
    duplicate = COPIES[how](mux)
    assert duplicate.stats is not mux.stats
    assert duplicate.passes is not mux.passes and duplicate.passes.lock is not mux.passes.lock
    assert duplicate.stats.samples.sum() == 0 and duplicate.stats.activations.sum() == 0
    assert duplicate.stats.passes == 0 and duplicate.stats.running == 0
    assert duplicate.random_source is not mux.random_source
    assert duplicate.random_state is not mux.random_state
    # The copy starts from the generator's state at the time of the copy, and
    # drawing from it does not advance the original's generator.
    got = list(duplicate(max_iter=100))
    assert list(mux(max_iter=100)) == got
    assert mux.stats.samples.sum() == before[1].sum() + len(got)
    assert duplicate.stats.samples.sum() == len(got)


@pytest.mark.parametrize(
    "random_state",
    [None, 5, np.random.SeedSequence(5), np.random.default_rng(5), np.random.RandomState(5)],
    ids=["None", "int", "SeedSequence", "Generator", "RandomState"],
)
def test_every_random_state_survives_a_round_trip(random_state):
    mux = StochasticMux(streams(), 3, 4, random_state=random_state)
    duplicate = pickled(mux)
    a, b = list(duplicate(max_iter=300)), list(mux(max_iter=300))
    if random_state is None:
        # No seed: each copy draws fresh entropy, so copies sent to workers differ.
        assert a != b
    else:
        assert a == b


@pytest.mark.parametrize("how", COPIES)
def test_live_parameters_are_copied_at_their_current_values(how):
    mux = Mux(streams(), k=3, lam=4, random_state=0)
    mux.k, mux.lam, mux.weights = 2, 9, [1, 1, 1, 1, 0, 0]
    duplicate = COPIES[how](mux)
    assert (duplicate.k, duplicate.lam) == (2, 9)
    np.testing.assert_allclose(duplicate.weights, [0.25] * 4 + [0, 0])
    assert {label for label, _ in duplicate(max_iter=300)} == {0, 1, 2, 3}
    duplicate.k = 1
    duplicate.weights = [0, 0, 0, 0, 1, 1]
    assert mux.k == 2 and mux.weights[4] == 0
    assert {label for label, _ in mux(max_iter=300)} == {0, 1, 2, 3}
    assert mux.mode == duplicate.mode and mux.dist == duplicate.dist


@pytest.mark.parametrize("how", COPIES)
@pytest.mark.parametrize("name", MUXES)
def test_a_mux_in_the_middle_of_a_pass_is_refused_then_accepted_once_it_ends(name, how):
    mux = MUXES[name](streams(), random_state=1)
    it = iter(mux)
    COPIES[how](mux)  # made but not started: no pass is running yet
    next(it)
    with pytest.raises(NotPicklableError, match="while a pass over it is running") as info:
        COPIES[how](mux)
    assert isinstance(info.value, TypeError)
    second = mux(max_iter=5)
    next(second)
    with pytest.raises(NotPicklableError, match="while 2 passes over it are running"):
        COPIES[how](mux)
    list(second)
    it.close()
    assert COPIES[how](mux).stats.running == 0


def test_a_mux_inside_a_running_mux_is_refused():
    inner = ShuffledMux(streams(2), random_state=0)
    outer = StochasticMux([inner, Streamer(endless, "x")], 2, None, mode="single_active", random_state=0)
    it = outer(max_iter=100)
    items = [next(it) for _ in range(40)]
    assert any(isinstance(i, tuple) for i in items)  # the inner mux is active
    with pytest.raises(NotPicklableError, match="ShuffledMux"):
        pickle.dumps(inner)
    it.close()
    assert len(list(pickled(outer)(max_iter=10))) == 10


def test_mux_of_muxes_round_trip():
    inner = [RoundRobinMux(streams(2)), ShuffledMux(streams(3), random_state=2)]
    outer = StochasticMux(inner + [ChainMux(streams(2))], 2, 5, random_state=9)
    expected = list(outer(max_iter=300))
    for how in COPIES.values():
        assert list(how(outer)(max_iter=300)) == expected


def test_shared_objects_stay_shared_within_one_deepcopy():
    rng = np.random.default_rng(0)
    a = StochasticMux(streams(), 2, 3, random_state=rng)
    b = ShuffledMux(streams(), random_state=rng)
    a2, b2 = copy.deepcopy([a, b])
    assert a2.random_state is b2.random_state is not rng


def test_stats_pickle_as_a_snapshot_even_during_a_pass():
    mux = StochasticMux(streams(), 2, 3, random_state=0)
    it = iter(mux)
    for _ in range(25):
        next(it)
    snap = pickled(mux.stats)
    assert isinstance(snap, MuxStats)
    np.testing.assert_array_equal(snap.samples, mux.stats.samples)
    assert snap.samples.sum() == 25 and snap.running == 0
    np.testing.assert_array_equal(snap.activations, mux.stats.activations)
    assert snap.retirements == mux.stats.retirements
    next(it)
    assert snap.samples.sum() == 25
    it.close()


def test_knob_copies_hold_the_value_and_a_lock_of_their_own():
    n = Knob(16, validate=int)
    n.value = 12
    for how in COPIES.values():
        k = how(n)
        assert k.value == 12 and k.version == n.version
        if how is not copy.copy:
            assert k._lock is not n._lock
        k.value = "3"
        assert k.value == 3 and n.value == 12


def _run_in_child(mux):
    return [x["X"].copy() for x in mux(max_iter=40)]


@pytest.mark.timeout(60)
def test_a_mux_of_loader_streams_runs_the_same_in_a_spawned_process():
    mux = StochasticMux(tiny_streams(Knob(4)), 3, 5, random_state=11)
    expected = _run_in_child(copy.deepcopy(mux))
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        got = pool.apply(_run_in_child, (mux,))
    assert len(got) == len(expected) == 40
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)
    assert mux.stats.samples.sum() == 0  # the parent's mux never ran


def test_public_names():
    assert muxlab.NotPicklableError is NotPicklableError
    assert issubclass(NotPicklableError, muxlab.MuxlabError)


def streams_of(letters):
    for c in letters:
        yield Streamer(c * 2)


@pytest.mark.parametrize("how", COPIES)
def test_a_chain_over_a_stream_of_streamers_copies(how):
    mux = ChainMux(Streamer(streams_of, "abc"), mode="cycle")
    assert "".join(mux(max_iter=8)) == "aabbccaa"
    duplicate = COPIES[how](mux)
    assert "".join(duplicate(max_iter=8)) == "aabbccaa"
    assert duplicate.stats.samples.sum() == 8 and mux.stats.samples.sum() == 8
    with pytest.raises(NotPicklableError, match=r"ChainMux: streamers: cannot pickle or copy"):
        pickle.dumps(ChainMux(Streamer(streams_of("ab"))))
