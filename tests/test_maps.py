"""Tests for muxlab.maps: buffer_stream, tuples, keras_tuples and cache."""

import itertools
import math

import numpy as np
import pytest

from muxlab import Streamer
from muxlab.errors import DataError, MissingKeyError, ParameterError, ParameterTypeError
from muxlab.maps import buffer_stream, cache, keras_tuples, tuples


def dict_items(n, width=3):
    """``n`` dict items: 'x' of shape (width,), 'y' a 0-d int array, 'z' of shape (2, width)."""
    return [
        {
            "x": np.arange(width) + 10 * i,
            "y": np.asarray(i % 2),
            "z": np.full((2, width), float(i)),
        }
        for i in range(n)
    ]


class Counting:
    """An iterator over ``items`` that counts how many were taken."""

    def __init__(self, items):
        self._it = iter(items)
        self.taken = 0

    def __iter__(self):
        return self

    def __next__(self):
        item = next(self._it)
        self.taken += 1
        return item


# -- buffer_stream ---------------------------------------------------------------------


def test_buffer_axis_none_stacks_along_new_axis():
    batches = list(buffer_stream(dict_items(8), 4))
    assert len(batches) == 2
    for b, batch in enumerate(batches):
        assert set(batch) == {"x", "y", "z"}
        assert batch["x"].shape == (4, 3)
        assert batch["y"].shape == (4,)
        assert batch["z"].shape == (4, 2, 3)
        np.testing.assert_array_equal(batch["x"][:, 0], 10 * np.arange(4 * b, 4 * b + 4))
        np.testing.assert_array_equal(batch["y"], [0, 1, 0, 1])


def test_buffer_axis_0_concatenates_existing_axis():
    items = [{"z": item["z"]} for item in dict_items(6)]
    batches = list(buffer_stream(items, 3, axis=0))
    assert [b["z"].shape for b in batches] == [(6, 3), (6, 3)]
    np.testing.assert_array_equal(batches[1]["z"][:, 0], [3, 3, 4, 4, 5, 5])


def test_buffer_axis_1_and_negative_axis():
    items = [{"z": item["z"]} for item in dict_items(6)]
    batches = list(buffer_stream(items, 3, axis=1))
    assert [b["z"].shape for b in batches] == [(2, 9), (2, 9)]
    np.testing.assert_array_equal(batches[0]["z"][0], [0, 0, 0, 1, 1, 1, 2, 2, 2])
    last = list(buffer_stream(items, 3, axis=-1))
    np.testing.assert_array_equal(last[1]["z"], batches[1]["z"])


def test_buffer_arrays_without_dicts():
    arrays = [np.full(2, i) for i in range(4)]
    assert [b.shape for b in buffer_stream(arrays, 2)] == [(2, 2), (2, 2)]
    assert [b.tolist() for b in buffer_stream(arrays, 2, axis=0)] == [[0, 0, 1, 1], [2, 2, 3, 3]]
    scalars = [np.float32(i) for i in range(5)]
    assert [b.tolist() for b in buffer_stream(scalars, 2, partial=True)] == [[0, 1], [2, 3], [4]]


@pytest.mark.parametrize("axis", [None, 0])
@pytest.mark.parametrize("items", [[1, 2, 3, 4], [[1], [2]], [(np.zeros(2), 0)] * 2, ["ab", "cd"]])
def test_buffer_refuses_items_that_are_not_data(items, axis):
    # As in pescador: an item is a dict of arrays (or, in muxlab, a numpy array).
    with pytest.raises(DataError, match=r"stream item 0 is .* which is not data; expected a dict of arrays"):
        list(buffer_stream(items, 2, axis=axis))


@pytest.mark.parametrize("n, size, partial, expected", [
    (10, 4, False, [4, 4]),
    (10, 4, True, [4, 4, 2]),
    (8, 4, True, [4, 4]),  # no empty batch at the end
    (3, 4, False, []),
    (3, 4, True, [3]),
    (0, 4, True, []),
    (5, 1, False, [1] * 5),
])
def test_buffer_partial(n, size, partial, expected):
    batches = list(buffer_stream(dict_items(n), size, partial=partial))
    assert [len(b["x"]) for b in batches] == expected
    for batch in batches:
        assert {len(v) for v in batch.values()} == {len(batch["x"])}


def test_buffer_reads_only_what_a_batch_needs():
    source = Counting(dict_items(20))
    batches = buffer_stream(source, 4)
    assert source.taken == 0  # nothing read at call time
    next(batches)
    assert source.taken == 4


def test_buffer_key_mismatch_names_index_and_keys():
    items = dict_items(6)
    del items[5]["y"]
    batches = buffer_stream(items, 3)
    next(batches)  # items 0..2 are fine
    with pytest.raises(DataError) as info:
        next(batches)
    message = str(info.value)
    assert "item 5" in message and "item 3" in message
    assert "['x', 'z']" in message and "['x', 'y', 'z']" in message


def test_buffer_extra_key_is_a_mismatch_too():
    items = dict_items(2)
    items[1]["w"] = np.zeros(3)
    with pytest.raises(DataError, match=r"item 1 has keys \['x', 'y', 'z', 'w'\]"):
        list(buffer_stream(items, 2))


def test_buffer_key_order_does_not_matter():
    items = dict_items(2)
    items[1] = {k: items[1][k] for k in ("z", "y", "x")}
    (batch,) = buffer_stream(items, 2)
    assert list(batch) == ["x", "y", "z"]


def test_buffer_mismatch_in_dropped_tail_is_not_read_as_a_batch():
    # As in pescador: the short tail is never stacked when partial=False.
    items = dict_items(6)
    items[5] = {"other": 1}
    assert len(list(buffer_stream(items, 4))) == 1
    with pytest.raises(DataError, match=r"item 5 has keys \['other'\], but item 4"):
        list(buffer_stream(items, 4, partial=True))


def test_buffer_mixed_dicts_and_arrays():
    with pytest.raises(DataError, match=r"stream item 1 is a ndarray"):
        list(buffer_stream([{"x": 1}, np.zeros(2)], 2))
    with pytest.raises(DataError, match=r"stream item 1 is a dict with keys \['x'\]"):
        list(buffer_stream([np.zeros(2), {"x": 1}], 2))


def test_buffer_shape_mismatch_names_key_and_shapes():
    items = [{"x": np.zeros(3)}, {"x": np.zeros(4)}]
    with pytest.raises(DataError, match=r"stack key 'x' of items 0\.\.1 \(shapes \(3,\), \(4,\)\)"):
        list(buffer_stream(items, 2))
    with pytest.raises(DataError, match=r"concatenate key 'x' of items 0\.\.1 along axis=0"):
        list(buffer_stream([{"x": np.asarray(1)}, {"x": np.asarray(2)}], 2, axis=0))
    with pytest.raises(DataError, match="axis=2"):
        list(buffer_stream(dict_items(2), 2, axis=2))


def test_buffer_wrapped_in_streamer_restarts():
    s = Streamer(buffer_stream, Streamer(dict_items, 5), 2, partial=True)
    first = [b["y"].tolist() for b in s]
    assert first == [[0, 1], [0, 1], [0]]
    assert [b["y"].tolist() for b in s] == first


def _as_lists(batches):
    return [
        {k: (v.shape, v.dtype, v.tolist()) for k, v in b.items()} if isinstance(b, dict) else b
        for b in batches
    ]


@pytest.mark.parametrize("n, size, partial, axis", [
    (10, 3, False, None),
    (10, 3, True, None),
    (9, 3, True, None),
    (10, 4, True, 0),
    (7, 2, False, 1),
    (7, 7, True, -1),
    (1, 1, False, None),
])
def test_buffer_matches_pescador(n, size, partial, axis):
    pmaps = pytest.importorskip("pescador.maps")
    items = dict_items(n)
    if axis is not None:
        items = [{"x": item["x"][None, :], "z": item["z"]} for item in items]
    ours = list(buffer_stream(iter(items), size, partial=partial, axis=axis))
    theirs = list(pmaps.buffer_stream(iter(items), size, partial=partial, axis=axis))
    assert len(ours) == len(theirs)
    assert _as_lists(ours) == _as_lists(theirs)
    assert all(type(b) is dict for b in ours)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(buffer_size=0), ParameterError, ["buffer_size=0", ">= 1"]),
    (dict(buffer_size=-3), ParameterError, ["buffer_size=-3", ">= 1"]),
    (dict(buffer_size=2.0), ParameterTypeError, ["buffer_size=2.0", "integer"]),
    (dict(buffer_size="4"), ParameterTypeError, ["buffer_size='4'", "integer"]),
    (dict(buffer_size=True), ParameterTypeError, ["buffer_size=True", "integer"]),
    (dict(buffer_size=None), ParameterTypeError, ["buffer_size=None", "integer"]),
    (dict(buffer_size=2, axis=1.0), ParameterTypeError, ["axis=1.0", "int", "None"]),
    (dict(buffer_size=2, axis="0"), ParameterTypeError, ["axis='0'", "int", "None"]),
    (dict(buffer_size=2, axis=False), ParameterTypeError, ["axis=False", "int", "None"]),
    (dict(buffer_size=2, partial="yes"), ParameterTypeError, ["partial='yes'", "True or False"]),
    (dict(buffer_size=2, partial=None), ParameterTypeError, ["partial=None", "True or False"]),
])
def test_buffer_bad_arguments_raise_at_call_time(kwargs, error, words):
    with pytest.raises(error) as info:
        buffer_stream(dict_items(4), **kwargs)  # no next(): must fail at call time
    assert str(info.value).startswith("buffer_stream: ")
    for word in words:
        assert word in str(info.value)


def test_buffer_accepts_numpy_ints_and_bools():
    batches = list(buffer_stream(dict_items(5), np.int64(2), partial=np.bool_(True), axis=None))
    assert [len(b["x"]) for b in batches] == [2, 2, 1]
    batches = list(buffer_stream([np.zeros((1, 2))] * 2, 2, axis=np.int32(1)))
    assert batches[0].shape == (1, 4)


@pytest.mark.parametrize("make", [
    lambda s: buffer_stream(s, 2),
    lambda s: tuples(s, "x"),
    lambda s: keras_tuples(s, "x"),
    lambda s: cache(s, 2),
])
def test_non_iterable_stream_raises_at_call_time(make):
    with pytest.raises(ParameterTypeError, match=r"stream=5 \(int\) is not iterable"):
        make(5)


# -- tuples ----------------------------------------------------------------------------


def test_tuples_orders_values_by_keys():
    items = dict_items(3)
    out = list(tuples(items, "y", "x"))
    assert len(out) == 3
    for item, pair in zip(items, out):
        assert type(pair) is tuple and len(pair) == 2
        assert pair[0] is item["y"] and pair[1] is item["x"]
    assert list(tuples([{"a": 1}], "a")) == [(1,)]
    assert list(tuples([{"a": 1}], "a", "a")) == [(1, 1)]


def test_tuples_missing_key_names_key_and_item_keys():
    items = [{"x": 1, "y": 2}, {"x": 3}]
    out = tuples(items, "x", "y")
    assert next(out) == (1, 2)
    with pytest.raises(DataError) as info:
        next(out)
    assert str(info.value) == "tuples: stream item 1 has no key 'y'; its keys are ['x']"


def test_tuples_non_dict_item():
    with pytest.raises(DataError, match=r"stream item 0 \(list\) cannot be indexed by key 'x'"):
        list(tuples([[1, 2]], "x"))
    with pytest.raises(DataError, match=r"stream item 0 \(ndarray\)"):
        list(tuples([np.zeros(2)], "x"))


def test_tuples_without_keys_raises_at_call_time():
    with pytest.raises(ParameterError, match="no keys given"):
        tuples(dict_items(2))


def test_tuples_match_pescador():
    pmaps = pytest.importorskip("pescador.maps")
    items = dict_items(4)
    ours = list(tuples(iter(items), "z", "x"))
    theirs = list(pmaps.tuples(iter(items), "z", "x"))
    assert len(ours) == len(theirs) == 4
    for a, b in zip(ours, theirs):
        assert type(a) is type(b) is tuple
        assert all(u is v for u, v in zip(a, b))


# -- keras_tuples ----------------------------------------------------------------------


@pytest.mark.parametrize("inputs, outputs, expected", [
    ("x", "y", (10, 1)),
    (["x", "z"], "y", ([10, 20], 1)),
    ("x", ["y"], (10, [1])),
    (["x"], None, ([10], None)),
    (None, ["z", "x"], (None, [20, 10])),
    ("x", None, (10, None)),
    (None, "y", (None, 1)),
    (("x", "y"), [], ([10, 1], None)),
    ("", "y", (None, 1)),  # pescador treats '' like None
])
def test_keras_tuples_shapes(inputs, outputs, expected):
    items = [{"x": 10, "y": 1, "z": 20}]
    assert list(keras_tuples(items, inputs=inputs, outputs=outputs)) == [expected]


def test_keras_tuples_positional_and_identity():
    items = dict_items(2)
    out = list(keras_tuples(items, "x", "y"))
    assert [type(pair) for pair in out] == [tuple, tuple]
    assert out[1][0] is items[1]["x"] and out[1][1] is items[1]["y"]


@pytest.mark.parametrize("inputs, outputs", [
    ("x", "y"), (["x", "z"], "y"), ("x", ["y", "z"]), (None, "y"), (["x"], None),
])
def test_keras_tuples_match_pescador(inputs, outputs):
    pmaps = pytest.importorskip("pescador.maps")
    items = dict_items(3)

    ours = list(keras_tuples(iter(items), inputs, outputs))
    theirs = list(pmaps.keras_tuples(iter(items), inputs, outputs))
    assert len(ours) == len(theirs) == 3
    for a, b in zip(ours, theirs):
        for u, v in zip(a, b):
            assert type(u) is type(v)
            if isinstance(u, list):
                assert [id(e) for e in u] == [id(e) for e in v]
            else:
                assert u is v


def test_keras_tuples_missing_key():
    with pytest.raises(DataError, match=r"keras_tuples: stream item 0 has no key 'w'; its keys are \['x'\]"):
        list(keras_tuples([{"x": 1}], inputs="x", outputs="w"))


@pytest.mark.parametrize("inputs, outputs, error, words", [
    (None, None, ParameterError, ["inputs=None", "outputs=None", "at least one key"]),
    ([], None, ParameterError, ["inputs=[]", "at least one key"]),
    ("", "", ParameterError, ["at least one key"]),
    (3, None, ParameterTypeError, ["inputs=3", "None, a key (str) or a list of keys"]),
    ("x", ["y", 2], ParameterTypeError, ["outputs=['y', 2]", "a list of keys"]),
    ({"x"}, None, ParameterTypeError, ["inputs={'x'}"]),
])
def test_keras_tuples_bad_arguments_raise_at_call_time(inputs, outputs, error, words):
    with pytest.raises(error) as info:
        keras_tuples(dict_items(1), inputs=inputs, outputs=outputs)
    assert str(info.value).startswith("keras_tuples: ")
    for word in words:
        assert word in str(info.value)


# -- cache -----------------------------------------------------------------------------


def test_cache_same_int_seed_same_output():
    a = list(cache(range(500), n_cache=8, prob=0.3, random_state=42))
    b = list(cache(range(500), n_cache=8, prob=0.3, random_state=42))
    c = list(cache(range(500), n_cache=8, prob=0.3, random_state=43))
    assert a == b
    assert a != c
    assert len(a) > 500  # some items were replayed


def test_cache_generator_keeps_drawing():
    rng = np.random.default_rng(5)
    first = list(cache(range(300), 4, 0.5, random_state=rng))
    second = list(cache(range(300), 4, 0.5, random_state=rng))
    assert first != second
    again = list(cache(range(300), 4, 0.5, random_state=np.random.default_rng(5)))
    assert again == first


def test_cache_leaves_numpy_global_state_alone():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    list(cache(range(200), 4, 0.5))
    list(cache(range(200), 4, 0.5, random_state=7))
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_cache_emits_only_stream_items_and_each_of_them():
    n = 400
    source = [object() for _ in range(n)]
    position = {id(obj): i for i, obj in enumerate(source)}
    out = list(cache(iter(source), n_cache=5, prob=0.4, random_state=0))
    assert all(id(obj) in position for obj in out)
    assert {id(obj) for obj in out} == set(position)  # every stream item appears
    # First appearances come in stream order: the stream is read in order.
    seen, order = set(), []
    for i in (position[id(obj)] for obj in out):
        if i not in seen:
            seen.add(i)
            order.append(i)
    assert order == list(range(n))


def live_intervals_ok(out, n_cache):
    """Check that replays are consistent with a cache of ``n_cache`` slots.

    ``out`` comes from caching ``itertools.count()``, so a value one above the
    newest so far is fresh, and the newest value names the current "window".
    An item that appears in window ``w`` sat in the cache from its arrival to
    ``w``, so at every window at most ``n_cache`` such arrival-to-last-sighting
    intervals may overlap. Return the largest overlap.
    """
    newest = n_cache - 1
    last = {}
    for value in out[n_cache:]:
        if value == newest + 1:
            newest = value
        else:
            assert value <= newest, f"{value} replayed before it was read"
        last[value] = newest
    overlap = np.zeros(newest + 2, dtype=int)
    for value, seen in last.items():
        overlap[max(value, n_cache - 1)] += 1
        overlap[seen + 1] -= 1
    return int(np.cumsum(overlap).max())


@pytest.mark.parametrize("n_cache, prob, seed", [(3, 0.5, 1), (4, 0.05, 9), (16, 0.2, 4)])
def test_cache_replays_only_items_still_in_cache(n_cache, prob, seed):
    out = list(itertools.islice(cache(itertools.count(), n_cache, prob, random_state=seed), 5000))
    assert out[:n_cache] == list(range(n_cache))
    assert live_intervals_ok(out, n_cache) <= n_cache


def test_live_interval_check_catches_a_cache_that_never_evicts():
    # The check above can fail: an unbounded cache replays old items.
    rng = np.random.default_rng(0)
    out, store = [0, 1, 2], [0, 1, 2]
    for _ in range(2000):
        if rng.random() < 0.3:
            store.append(len(store))
            out.append(store[-1])
        else:
            out.append(store[rng.integers(len(store))])
    assert live_intervals_ok(out, 3) > 3


def test_cache_fresh_item_replaces_an_entry():
    # With a single slot, every replay is the newest item.
    out = list(itertools.islice(cache(itertools.count(), 1, 0.3, random_state=3), 2000))
    newest = -1
    for value in out:
        assert value in (newest, newest + 1)
        newest = value
    assert len(set(out)) < len(out)


def test_cache_first_items_in_order_and_short_streams():
    assert list(cache(range(3), n_cache=5, prob=0.5, random_state=0)) == [0, 1, 2]
    assert list(cache([], n_cache=2)) == []
    out = list(cache(range(4), n_cache=4, prob=0.5, random_state=0))
    assert out[:4] == [0, 1, 2, 3] and set(out) == {0, 1, 2, 3}


def test_cache_prob_one_is_the_stream():
    assert list(cache(range(100), 7, prob=1.0, random_state=0)) == list(range(100))


@pytest.mark.timeout(10)
@pytest.mark.parametrize("prob", [0, 0.0, np.float64(0)])
def test_cache_refuses_prob_zero_which_would_never_end(prob):
    # As in pescador, prob must be in (0, 1]: with 0 a finite stream would be replayed forever.
    with pytest.raises(ParameterError, match=r"prob=0.0 would never take a fresh item.*> 0 \(at most 1\)"):
        cache(range(10), 5, prob=prob)


def test_cache_is_lazy():
    source = Counting(range(10))
    it = cache(source, 3, random_state=0)
    assert source.taken == 0
    assert next(it) == 0 and source.taken == 1


def fresh_count(prob, n_cache, steps, seed):
    """Number of fresh items among ``steps`` outputs after warm-up, for an endless stream."""
    out = itertools.islice(cache(itertools.count(), n_cache, prob, random_state=seed), n_cache + steps)
    out = list(out)[n_cache:]
    newest, fresh = n_cache - 1, 0
    for value in out:
        if value == newest + 1:
            newest, fresh = value, fresh + 1
    return fresh


@pytest.mark.parametrize("prob, seed", [(0.5, 0), (0.1, 1), (0.85, 2)])
def test_cache_fraction_of_fresh_items_is_prob(prob, seed):
    # After warm-up each step is fresh with probability prob independently, so
    # the count is Binomial(steps, prob); allow 4 standard deviations.
    steps = 20000
    count = fresh_count(prob, 8, steps, seed)
    sd = math.sqrt(steps * prob * (1 - prob))
    assert abs(count - steps * prob) <= 4 * sd


def test_cache_replays_slots_uniformly():
    # prob tiny (no fresh item in these steps with this seed): each step replays slot j with
    # probability 1/n_cache. Counts are multinomial; each is Binomial(steps, 1/n_cache); allow
    # 4 standard deviations.
    n_cache, steps = 5, 20000
    out = list(itertools.islice(cache(itertools.count(), n_cache, 1e-9, random_state=11), n_cache + steps))
    assert max(out) == n_cache - 1
    counts = np.bincount(out[n_cache:], minlength=n_cache)
    p = 1 / n_cache
    sd = math.sqrt(steps * p * (1 - p))
    assert np.all(np.abs(counts - steps * p) <= 4 * sd), counts


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(n_cache=0), ParameterError, ["n_cache=0", ">= 1"]),
    (dict(n_cache=-1), ParameterError, ["n_cache=-1", ">= 1"]),
    (dict(n_cache=2.5), ParameterTypeError, ["n_cache=2.5", "integer"]),
    (dict(n_cache=None), ParameterTypeError, ["n_cache=None", "integer"]),
    (dict(n_cache=2, prob=-0.1), ParameterError, ["prob=-0.1", "a finite number > 0 (at most 1)"]),
    (dict(n_cache=2, prob=1.5), ParameterError, ["prob=1.5", "a finite number > 0 (at most 1)"]),
    (dict(n_cache=2, prob=float("nan")), ParameterError, ["prob=nan", "a finite number > 0 (at most 1)"]),
    (dict(n_cache=2, prob="0.5"), ParameterTypeError, ["prob='0.5'", "a finite number > 0 (at most 1)"]),
    (dict(n_cache=2, prob=True), ParameterTypeError, ["prob=True", "a finite number > 0 (at most 1)"]),
    (dict(n_cache=2, prob=None), ParameterTypeError, ["prob=None", "a finite number > 0 (at most 1)"]),
    (dict(n_cache=2, random_state=-1), ParameterError, ["random_state=-1"]),
    (dict(n_cache=2, random_state="seed"), ParameterTypeError, ["random_state='seed'"]),
    (dict(n_cache=2, random_state=1.0), ParameterTypeError, ["random_state=1.0"]),
])
def test_cache_bad_arguments_raise_at_call_time(kwargs, error, words):
    with pytest.raises(error) as info:
        cache(range(10), **kwargs)  # no next(): must fail at call time
    assert str(info.value).startswith("cache: ")
    for word in words:
        assert word in str(info.value)


def test_cache_accepts_edge_and_numpy_arguments():
    assert list(cache(range(5), np.int64(2), np.float64(1.0), random_state=np.random.RandomState(0))) == list(
        range(5)
    )
    assert list(cache(range(5), 1, 1)) == list(range(5))  # int prob


def test_a_missing_key_is_a_data_error_and_the_key_error_pescador_raises():
    for make, owner in (
        (lambda: tuples([{"x": 1}], "x", "y"), "tuples"),
        (lambda: keras_tuples([{"x": 1}], inputs="x", outputs=["y"]), "keras_tuples"),
    ):
        with pytest.raises(KeyError) as info:
            list(make())
        assert isinstance(info.value, DataError) and isinstance(info.value, MissingKeyError)
        # Not quoted as a plain KeyError's message would be.
        assert str(info.value) == f"{owner}: stream item 0 has no key 'y'; its keys are ['x']"
