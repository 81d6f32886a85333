"""Exact resume: every mux, mode, dist and map continues from ``state_dict()`` as if never stopped."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from resume_cases import CASES, CHANGES, MAX_ITER, finite, functions
from resume_harness import (
    counters,
    load,
    plain,
    reference,
    resume_in_fresh_process,
    run_test_save_load_state,
    same_items,
    save,
)

from muxlab import RoundRobinMux, ShuffledMux, StochasticMux, Streamer
from muxlab.lifetimes import DISTS
from muxlab.mux.stochastic import MODES
from muxlab.state import NotResumableError, StateMismatchError


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(CASES))
def test_resume_at_every_checkpoint_in_this_process(name):
    make = CASES[name]
    items, _, states = run_test_save_load_state(make, max_iter=MAX_ITER[name], changes=CHANGES.get(name))
    assert len(items) > 20, "the case should yield enough items to checkpoint inside it"
    assert len(states) >= 5


@pytest.mark.timeout(300)
def test_resume_in_a_fresh_process():
    jobs, expected = [], []
    for name in sorted(CASES):
        make, max_iter, changes = CASES[name], MAX_ITER[name], CHANGES.get(name, {})
        items, final, _ = reference(make, max_iter, changes)
        m = (max(changes) + 3) if changes else len(items) // 3
        before, state = save(make, m, max_iter, changes)
        jobs.append([name, state])
        _, _, live = load(make, state)
        expected.append((name, m, items, final, live))
    results = resume_in_fresh_process(jobs)
    for (name, m, items, final, live), (after, got, got_live) in zip(expected, results):
        assert after == plain(items[m:]), f"{name}: items after {m} differ in a fresh process"
        assert got == final, f"{name}: counters differ in a fresh process"
        assert got_live == live


def test_live_changes_are_part_of_the_state():
    make = CASES["mux-k-lam"]
    changes = CHANGES["mux-k-lam"]
    _, state = save(make, 80, MAX_ITER["mux-k-lam"], changes)
    mux = make()
    assert (mux.k, mux.lam) == (2, 5)
    it = mux.iterate(state=json.loads(state))
    assert (mux.k, mux.lam) == (1, 2)
    next(it)
    assert len(mux.stats.active) == 1


@pytest.mark.parametrize("at", sorted(CHANGES["mux-k-lam"]))
def test_a_state_taken_between_a_live_change_and_the_next_item_resumes_exactly(at):
    make, changes, max_iter = CASES["mux-k-lam"], CHANGES["mux-k-lam"], MAX_ITER["mux-k-lam"]
    items, final, _ = reference(make, max_iter, changes)
    mux = make()
    it = mux.iterate(max_iter=max_iter)
    before = []
    for i in range(at):
        if i in changes:
            changes[i](mux)
        before.append(next(it))
    changes[at](mux)  # the pass applies it before its next item: the state must carry it as pending
    state = json.dumps(it.state_dict())
    after, got, _ = load(make, state, at, {i: c for i, c in changes.items() if i != at})
    assert same_items(before + after, items) and got == final


def test_counters_and_flags_round_trip_at_every_width_and_length():
    from muxlab.state import decode_bits, decode_ints, encode_bits, encode_ints

    values = [0, -1, 127, -128, 128, -129, 32767, -32769, 2**31, -(2**31) - 1, 2**40, -(2**40)]
    for end in range(1, len(values) + 1):
        assert decode_ints(encode_ints(values[:end]), end).tolist() == values[:end]
    with pytest.raises(StateMismatchError, match="has 3 entries; this mux has 4 streams"):
        decode_ints(encode_ints([1, 2, 3]), 4)
    for n in (1, 7, 8, 9, 13):
        flags = bytearray((i * 5) % 3 == 0 for i in range(n))
        assert decode_bits(encode_bits(flags), n).tolist() == [bool(f) for f in flags]


def test_a_mux_of_muxes_resumes_exactly_after_its_k_was_lowered_and_raised():
    # A slot closed by lowering k must take its activation with it: the inner passes left must be the ones saved.
    changes = {20: lambda m: setattr(m, "k", 1), 60: lambda m: setattr(m, "k", 3)}
    run_test_save_load_state(CASES["nested"], max_iter=MAX_ITER["nested"], changes=changes)


def test_load_state_dict_applies_to_the_next_iter():
    make = CASES["stochastic-weights"]
    items, final, _ = reference(make, 150)
    before, state = save(make, 60, 150)
    mux = make()
    mux.load_state_dict(json.loads(state))
    assert same_items(before + list(iter(mux)), items)
    assert counters(mux) == final
    assert len(list(mux(max_iter=5))) == 5  # used once: the next pass starts afresh


def test_states_taken_twice_continue_alike():
    mux = CASES["nested"]()
    it = mux.iterate(max_iter=200)
    for _ in range(50):
        next(it)
    first = it.state_dict()
    assert json.dumps(first) == json.dumps(it.state_dict())
    rest = list(it)
    assert same_items(list(CASES["nested"]().iterate(state=first)), rest)


@pytest.mark.parametrize("name", ["stochastic-with_replacement-poisson", "shuffled", "round-robin-permuted_cycle", "nested"])
def test_a_resumed_pass_can_be_checkpointed_and_resumed_again(name):
    make = CASES[name]
    items, final, _ = reference(make, 150)
    it = make().iterate(max_iter=150)
    got = [next(it) for _ in range(20)]
    for _ in range(3):  # stop and resume three times, a few items apart
        state = json.loads(json.dumps(it.state_dict()))
        mux = make()
        it = mux.iterate(state=state)
        got += [x for _, x in zip(range(7), it)]
    got += list(it)
    assert same_items(got, items)
    assert counters(mux) == final


def test_state_of_a_pass_not_started_starts_it_afresh():
    make = CASES["stochastic-exhaustive-binomial"]
    items, _, _ = reference(make)
    state = make().iterate().state_dict()
    assert same_items(list(make().iterate(state=json.loads(json.dumps(state)))), items)


def test_max_iter_zero_and_a_different_limit():
    mux = CASES["chain-cycle"]()
    it = mux.iterate(max_iter=0)
    assert list(it) == [] and mux.stats.passes == 0
    assert list(mux.iterate(state=it.state_dict())) == []
    it = mux.iterate(max_iter=10)
    next(it)
    with pytest.raises(ValueError, match=r"max_iter=5 differs .* \(max_iter=10\)"):
        mux.iterate(max_iter=5, state=it.state_dict())


@pytest.mark.parametrize(
    "make_other, difference",
    [
        (lambda: StochasticMux(finite(), 3, 4, mode="single_active", random_state=5), "mode="),
        (lambda: StochasticMux(finite()[:-1], 3, 4, random_state=5), "n_streams="),
        (lambda: StochasticMux(finite(), 3, 4, random_state=6), "random_state="),
        (lambda: RoundRobinMux(finite()), "class="),
    ],
)
def test_a_state_from_another_configuration_is_refused(make_other, difference):
    mux = StochasticMux(finite(), 3, 4, random_state=5)
    it = mux.iterate(max_iter=40)
    next(it)
    state = it.state_dict()
    with pytest.raises(StateMismatchError, match=difference):
        make_other().iterate(state=state)


def test_a_state_from_another_version_is_refused():
    it = CASES["shuffled"]().iterate()
    next(it)
    state = it.state_dict()
    with pytest.raises(StateMismatchError, match="format version 0"):
        CASES["shuffled"]().iterate(state=dict(state, version=0))
    with pytest.raises(StateMismatchError, match="muxlab '0.0.1'"):
        CASES["shuffled"]().iterate(state=dict(state, muxlab="0.0.1"))
    with pytest.raises(StateMismatchError, match="not a muxlab pass state"):
        CASES["shuffled"]().iterate(state={"items": 3})


def test_a_one_shot_iterator_makes_state_dict_raise_unless_approximate():
    mux = StochasticMux(
        [Streamer(iter(range(100))), Streamer([1, 2, 3] * 30)], 2, 50, mode="single_active", random_state=0
    )
    it = mux.iterate(max_iter=20)
    for _ in range(5):
        next(it)
    with pytest.raises(NotResumableError, match=r"one-shot iterator \(range_iterator\).*approximate=True"):
        it.state_dict()
    state = it.state_dict(approximate=True)
    assert len(list(mux.iterate(state=json.loads(json.dumps(state))))) == 15


def test_knob_values_are_restored_and_a_change_inside_an_activation_is_named():
    make = CASES["knob"]
    mux = make()
    knob = mux.streamers[0].args[1]
    it = mux.iterate(max_iter=60)
    for _ in range(10):
        next(it)
    knob.value = 5
    next(it)
    with pytest.raises(NotResumableError, match="Knob argument changed while this activation ran"):
        it.state_dict()
    # Once every activation that saw the change has ended, the state is exact again.
    got = [next(it) for _ in range(30)]
    assert all(n == 5 for _, _, n in got[-5:])
    state = json.dumps(it.state_dict())
    rest = list(it)
    again = make()
    assert again.streamers[0].args[1].value == 2
    assert list(map(tuple, again.iterate(state=json.loads(state)))) == rest
    assert again.streamers[0].args[1].value == 5


def test_streams_over_sequences_restore_by_index_without_replaying():
    reads = []

    class Recorded(list):
        def __getitem__(self, i):
            reads.append(i)
            return super().__getitem__(i)

    mux = StochasticMux([Streamer(Recorded(range(1000)))], 1, None, random_state=0)
    it = mux.iterate()
    for _ in range(500):
        next(it)
    state = it.state_dict()
    assert state["pass"]["slots"]["slots"][0]["at"] == {"n": 500}
    assert next(mux.iterate(state=state)) == 500


def spawned_list(seq, n):
    """A plain function (not a generator) that spawns its child when called."""
    return np.random.default_rng(seq.spawn(1)[0]).integers(0, 1000, n).tolist()


def test_functions_over_seed_sequences_resume_at_the_child_they_had():
    def make():
        return StochasticMux(
            [Streamer(spawned_list, np.random.SeedSequence(i), 6) for i in range(3)], 2, 3, random_state=2
        )

    run_test_save_load_state(make, max_iter=60, points=[0, 7, 31, 59])


def test_loader_streams_resume_exactly(tiny):
    from muxlab.loaders import streams

    def make():
        return StochasticMux(streams("npz_copy", tiny, 4, random_state=0), 3, 5, random_state=1)

    run_test_save_load_state(make, max_iter=80, points=[0, 13, 41, 80])


@pytest.mark.timeout(120)
@pytest.mark.parametrize("n_streams", [1_000, 100_000])
def test_state_is_small_and_does_not_grow_with_items(n_streams, capsys):
    mux = StochasticMux([Streamer(range(10**9)) for _ in range(n_streams)], 32, 16, random_state=0)
    it = mux.iterate()
    sizes, taken = {}, 0
    for m in (1_000, 100_000, 300_000):
        for _ in range(m - taken):
            next(it)
        taken = m
        sizes[m] = len(json.dumps(it.state_dict()))
    with capsys.disabled():
        print(f"\nstate bytes at {n_streams} streams, k=32: {sizes}")
    assert readme_state_sizes()[n_streams] == sizes, f"the README's table of state sizes should read {sizes}"
    # The per-stream counters (two compressed int arrays) take at most a few bytes per stream;
    # everything else is bounded by k and the block sizes, whatever the number of items.
    assert max(sizes.values()) < 20_000 + 5 * n_streams
    if n_streams == 1_000:  # every stream has been active by 100,000 items: the size stays put
        assert sizes[300_000] < 1.25 * sizes[100_000]


README = Path(__file__).resolve().parents[1] / "README.md"


def readme_state_sizes():
    """The README's table of state sizes: {streams: {items: bytes}}."""
    lines = README.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| streams (k=32, lam=16) |"))

    def cells(line):
        return [c.strip().replace(",", "") for c in line.strip().strip("|").split("|")]

    items = [int(h.split()[1]) for h in cells(lines[start])[1:]]  # "after 1000 items"
    table = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        row = cells(line)
        table[int(row[0])] = dict(zip(items, map(int, row[1:])))
    return table


@pytest.fixture(scope="module")
def tiny():
    from muxlab.fixtures import ensure

    return ensure("tiny")


# -- random configurations and checkpoints -------------------------------------------


@st.composite
def configurations(draw):
    n = draw(st.integers(1, 6))
    lengths = draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))
    kind = draw(st.sampled_from(["finite", "functions"]))
    mode = draw(st.sampled_from(MODES))
    k = draw(st.integers(1, n if mode != "with_replacement" else 8))
    rate = draw(st.one_of(st.none(), st.floats(1, 8)))
    dist = draw(st.sampled_from(DISTS))
    weights = draw(st.one_of(st.none(), st.lists(st.floats(0.1, 5), min_size=n, max_size=n)))
    prune = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    return dict(lengths=lengths, kind=kind, mode=mode, k=k, rate=rate, dist=dist, weights=weights, prune=prune, seed=seed)


def build(c):
    streams = (finite if c["kind"] == "finite" else functions)(c["lengths"])
    return StochasticMux(
        streams, c["k"], c["rate"], weights=c["weights"], mode=c["mode"], dist=c["dist"],
        prune_empty_streams=c["prune"], random_state=c["seed"],
    )


@pytest.mark.timeout(300)
@settings(max_examples=60, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
@given(configurations(), st.floats(0, 1), st.one_of(st.none(), st.tuples(st.floats(0, 1), st.integers(1, 6), st.floats(1, 6))))
def test_random_configurations_resume_exactly(c, where, change):
    changes = {}
    if change is not None:
        at, new_k, new_rate = change
        if c["mode"] != "with_replacement":
            new_k = min(new_k, len(c["lengths"]))
        changes[int(at * 40)] = lambda m, k=new_k, r=new_rate: (setattr(m, "k", k), setattr(m, "lam", r))
    make = lambda: build(c)  # noqa: E731
    items, final, _ = reference(make, 60, changes)
    m = int(where * len(items))
    before, state = save(make, m, 60, changes)
    after, got, _ = load(make, state, m, changes)
    assert same_items(before + after, items)
    assert got == final


# -- maps over a pass ------------------------------------------------------------------


def _map_pipelines():
    from muxlab import buffer_stream, keras_tuples, tuples
    from resume_cases import records

    def mux():
        return StochasticMux([Streamer(records, n) for n in (9, 4, 13, 0, 7)], 2, 3, random_state=21)

    return {
        "buffer_stream": (mux, lambda it, state=None: buffer_stream(it, 4, partial=True, state=state)),
        "tuples": (mux, lambda it, state=None: tuples(it, "z", "y", state=state)),
        "keras_tuples": (mux, lambda it, state=None: keras_tuples(it, inputs="x", outputs=["y", "z"], state=state)),
        # buffer_stream refuses tuples (they are not data), so the nested case batches first.
        "tuples over buffer_stream": (
            mux,
            lambda it, state=None: tuples(
                buffer_stream(it, 3, state=None if state is None else state["stream"]), "y", state=state
            ),
        ),
    }


def _resume_map(make_mux, wrap, state):
    inner = state
    while "map" in inner:
        inner = inner["stream"]
    return wrap(make_mux().iterate(state=inner), state)


@pytest.mark.parametrize("name", sorted(_map_pipelines()))
def test_maps_over_a_pass_resume_exactly(name):
    make_mux, wrap = _map_pipelines()[name]
    reference_mux = make_mux()
    items = list(wrap(reference_mux.iterate(max_iter=90)))
    final = counters(reference_mux)
    assert len(items) > 5
    for m in sorted({0, 1, len(items) // 2, len(items) - 1, len(items)}):
        mux = make_mux()
        it = wrap(mux.iterate(max_iter=90))
        before = [next(it) for _ in range(m)]
        state = json.loads(json.dumps(it.state_dict()))
        again = make_mux()
        after = list(_resume_map(lambda: again, wrap, state))
        assert same_items(before + after, items), f"{name}: resumed after {m} items"
        assert counters(again) == final


def test_a_cache_over_a_pass_refuses_a_state_unless_approximate():
    from muxlab import cache

    it = cache(CASES["chain-cycle"]().iterate(max_iter=50), 4, prob=0.5, random_state=0)
    next(it)
    with pytest.raises(NotResumableError, match=r"cache: a cache over a mux cannot be checkpointed.*Streamer\(cache"):
        it.state_dict()
    assert it.state_dict(approximate=True)["approximate"] is True


def test_a_map_refuses_the_state_of_another_map():
    from muxlab import buffer_stream, tuples

    it = tuples(CASES["chain-cycle"]().iterate(max_iter=50), 0)
    with pytest.raises(ValueError, match="is not the state of a buffer_stream map"):
        buffer_stream(CASES["chain-cycle"]().iterate(), 2, state=it.state_dict())


# -- resume with pickling and with a ChainMux over a stream of streamers -----------------


def _letters(letters, n):
    for c in letters:
        yield Streamer(c * n)


def _endless_letters():
    while True:
        yield Streamer("ab")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("source", ["finite", "endless", "nested"])
def test_a_chain_over_a_stream_of_streamers_is_not_resumable_and_says_why(source):
    import muxlab
    from muxlab import ChainMux

    if source == "finite":
        mux = ChainMux(Streamer(_letters, "xyz", 2))
    elif source == "endless":
        mux = ChainMux(_endless_letters)
    else:
        mux = RoundRobinMux([ChainMux(Streamer(_letters, "xyz", 2)), Streamer("0123")])
    it = mux.iterate(max_iter=5)
    first = [next(it), next(it)]
    for approximate in (False, True):
        with pytest.raises(muxlab.NotResumableError, match="stream of streamers cannot be checkpointed"):
            it.state_dict(approximate=approximate)
    # The pass goes on unharmed, and a state cannot be loaded into such a mux either.
    assert len(first + list(it)) == 5
    with pytest.raises(muxlab.NotResumableError, match="list of streamers"):
        mux.load_state_dict({})
    assert mux.stats.running == 0


def test_a_chain_over_a_list_still_resumes_exactly():
    from muxlab import ChainMux

    def make():
        return ChainMux([Streamer("abc"), Streamer([]), Streamer("de")], mode="cycle")

    reference = make()
    expected = list(reference(max_iter=11))
    assert "".join(expected) == "abcdeabcdea"
    for m in range(11):
        it = make().iterate(max_iter=11)
        before = [next(it) for _ in range(m)]
        state = json.loads(json.dumps(it.state_dict()))
        again = make()
        assert before + list(again.iterate(state=state)) == expected
        assert again.stats.samples.tolist() == reference.stats.samples.tolist() == [7, 0, 4]
        assert again.stats.activations.tolist() == reference.stats.activations.tolist()


def test_a_pickled_mux_has_its_own_registry_and_resumes_a_state_of_the_original():
    import copy
    import pickle

    import muxlab

    mux = StochasticMux([Streamer(range(i, 40 + i)) for i in range(5)], 2, 4, random_state=8)
    expected = list(copy.deepcopy(mux)(max_iter=60))
    it = mux.iterate(max_iter=60)
    before = [next(it) for _ in range(25)]
    with pytest.raises(muxlab.NotPicklableError, match="a pass over it is running"):
        pickle.dumps(mux)
    state = it.state_dict()
    live = mux.stats.activations.copy(), mux.stats.samples.copy()
    # A MuxStats pickled on its own holds the running pass's live counts.
    snapshot = pickle.loads(pickle.dumps(mux.stats))
    np.testing.assert_array_equal(snapshot.activations, live[0])
    np.testing.assert_array_equal(snapshot.samples, live[1])
    assert snapshot.running == 0
    it.close()
    sent = pickle.loads(pickle.dumps(mux))
    assert sent.passes is not mux.passes and len(sent.passes) == 0
    assert sent.stats.samples.sum() == 0
    assert before + list(sent.iterate(state=state)) == expected
    assert sent.stats.samples.sum() == 60
    # A state waiting in load_state_dict stays with the mux it was given to.
    mux.load_state_dict(state)
    assert list(pickle.loads(pickle.dumps(mux))(max_iter=60)) == expected
    assert before + list(mux) == expected


# -- a random_state object: later passes draw on as in an uninterrupted run ----------------


def _source_muxes(kind, source):
    """A mux of each kind seeded with ``source()`` (a fresh RandomState, Generator or SeedSequence at its seed)."""
    if kind == "stochastic":
        return StochasticMux(functions(), 3, 2.5, random_state=source())
    if kind == "shuffled":
        return ShuffledMux(finite([5, 0, 9, 2]), random_state=source())
    if kind == "round-robin":
        return RoundRobinMux(functions(), mode="permuted_cycle", random_state=source())
    inner = [
        StochasticMux(finite([4, 6, 2]), 2, 3, random_state=source()),
        ShuffledMux(functions([4, 4]), random_state=source()),
    ]
    return StochasticMux(inner + finite([3, 5]), 2, 4, random_state=source())


@pytest.mark.parametrize("source", ["RandomState", "Generator", "SeedSequence"])
@pytest.mark.parametrize("kind", ["stochastic", "shuffled", "round-robin", "nested"])
def test_later_passes_draw_as_an_uninterrupted_runs_would(kind, source):
    make_source = {
        "RandomState": np.random.RandomState,
        "Generator": np.random.default_rng,
        "SeedSequence": np.random.SeedSequence,
    }[source]

    def make():
        seeds = iter(range(100, 200))  # every build seeds its muxes alike
        return _source_muxes(kind, lambda: make_source(next(seeds)))

    reference = make()
    passes = [list(reference.iterate(max_iter=120)) for _ in range(4)]
    assert passes[1] != passes[2], "passes over a shared random_state object differ"
    first, later = passes[1], passes[2:]
    for m in (0, 1, 17, 90, 120):
        mux = make()
        assert list(mux.iterate(max_iter=120)) == passes[0]
        it = mux.iterate(max_iter=120)  # the checkpoint is taken in the second pass
        before = [next(it) for _ in range(m)]
        state = json.loads(json.dumps(it.state_dict()))
        again = make()
        assert before + list(again.iterate(state=state)) == first, f"resumed after {m}"
        assert [list(again.iterate(max_iter=120)) for _ in range(2)] == later, f"passes after resuming at {m}"
        assert counters(again) == counters(reference)


@pytest.mark.parametrize("change", ["lam", "k", "weights"])
def test_a_change_between_iterate_state_and_the_first_item_applies(change):
    def make():
        return StochasticMux(finite([1, 5, 3]), 1, None, random_state=0)

    apply = {
        "lam": lambda m: setattr(m, "lam", 1.0),
        "k": lambda m: setattr(m, "k", 3),
        "weights": lambda m: setattr(m, "weights", [0.1, 0.1, 0.8]),
    }[change]
    changes = {3: apply}
    items, final, _ = reference(make, 40, changes)
    before, state = save(make, 3, 40, changes)
    after, got, live = load(make, state, 3, changes)
    assert same_items(before + after, items)
    assert got == final


def test_a_seed_sequence_that_spawned_more_than_the_checkpoint_is_refused():
    from muxlab import StateMismatchError

    mux = StochasticMux(functions(), 3, 2.5, random_state=np.random.SeedSequence(4))
    list(mux.iterate(max_iter=5))
    it = mux.iterate(max_iter=50)
    next(it)
    state = json.loads(json.dumps(it.state_dict()))
    used = np.random.SeedSequence(4)
    used.spawn(3)
    again = StochasticMux(functions(), 3, 2.5, random_state=used)
    with pytest.raises(StateMismatchError, match="spawned 3 children, more than the 2"):
        list(again.iterate(state=state))


# -- errors of skipped streams -----------------------------------------------------------


class Broken(Exception):
    pass


def _breaks_after(n, label):
    for j in range(n):
        yield (label, j)
    raise Broken(f"stream {label} broke after {n} items")


def described(errors):
    """``stats.errors`` as (stream, class name, message), whether restored or raised in this process."""
    from muxlab import RestoredError

    return [
        (s, e.type_name, e.message) if isinstance(e, RestoredError)
        else (s, f"{type(e).__module__}.{type(e).__qualname__}", str(e))
        for s, e in errors
    ]


@pytest.mark.parametrize("m", [0, 9, 60, 149])
def test_errors_of_skipped_streams_are_restored_as_restored_errors(m):
    def make():
        streams = [Streamer(_breaks_after, n, label) for label, n in enumerate([2, 5, 0, 3])] + finite([40, 40])
        return StochasticMux(streams, 3, 4, on_error="skip", random_state=31)

    reference = make()
    items = list(reference.iterate(max_iter=150))
    assert len(reference.stats.errors) > 10
    mux = make()
    it = mux.iterate(max_iter=150)
    before = [next(it) for _ in range(m)]
    state = json.loads(json.dumps(it.state_dict()))
    again = make()
    assert before + list(again.iterate(state=state)) == items
    assert described(again.stats.errors) == described(reference.stats.errors)
    assert again.stats.retirements["error"] == reference.stats.retirements["error"]
    import muxlab

    restored = [e for _, e in again.stats.errors if isinstance(e, muxlab.RestoredError)]
    assert len(restored) == len(mux.stats.errors)  # those before the checkpoint come back as RestoredError


def test_restored_errors_keep_the_last_thousand_and_a_message_prefix():
    from muxlab.state import MESSAGE_CHARS, decode_errors, encode_errors

    errors = [(i % 7, ValueError("x" * 500 + str(i))) for i in range(1000)]
    text = encode_errors(errors)
    back = decode_errors(json.loads(json.dumps(text)))
    assert [s for s, _ in back] == [s for s, _ in errors]
    assert all(e.type_name == "builtins.ValueError" and e.message == "x" * MESSAGE_CHARS for _, e in back)
    assert len(text) < 5_000  # repeated messages compress: the state stays small
    assert f"the first {MESSAGE_CHARS} characters of its message" in README.read_text()
