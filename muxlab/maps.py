"""Stream transforms: batching, reformatting as tuples, and stochastic caching.

These are drop-in replacements for ``pescador.maps``: same names, same
arguments, same items out. Each map takes an iterable of items (a
:class:`~muxlab.Streamer`, a generator, a list) and returns a generator, not a
``Streamer``. Arguments are checked when the map is called, before any item is
read. To get a re-startable stream, wrap the map in a ``Streamer``, which calls
it anew on each activation:

>>> from muxlab import Streamer
>>> items = [{'x': np.array([i])} for i in range(5)]
>>> batches = Streamer(buffer_stream, items, 2, partial=True)
>>> [b['x'].tolist() for b in batches]
[[[0], [1]], [[2], [3]], [[4]]]

A map over a mux's pass can be checkpointed with the pass: its
``state_dict()`` holds the pass's state under ``'stream'``, and the map
continues when called again with ``state=`` over the pass resumed from it
(``cache`` holds items, not positions, so it refuses; as a stream of a mux,
``Streamer(cache, ...)``, it resumes exactly):

>>> from muxlab import RoundRobinMux
>>> low, high = list(np.arange(0, 5)), list(np.arange(10, 15))
>>> mux = RoundRobinMux([Streamer(low), Streamer(high)])
>>> it = buffer_stream(mux.iterate(), 3)
>>> next(it).tolist()
[0, 10, 1]
>>> sd = it.state_dict()
>>> again = RoundRobinMux([Streamer(low), Streamer(high)])
>>> [b.tolist() for b in buffer_stream(again.iterate(state=sd['stream']), 3, state=sd)]
[[11, 2, 12], [3, 13, 4]]
"""

import itertools
from collections.abc import Mapping

import numpy as np

from .errors import DataError, MissingKeyError, ParameterError, ParameterTypeError
from .random_state import RandomSource
from .state import NotResumableError
from .validation import check_bool, check_int, check_key_or_keys, check_positive_number, short_repr

__all__ = ["buffer_stream", "tuples", "keras_tuples", "cache"]

# How many coin flips and cache slots `cache` draws per numpy call.
_DRAW_BLOCK = 1024


def buffer_stream(stream, buffer_size, partial=False, axis=None, *, state=None):
    """Group every ``buffer_size`` consecutive items of ``stream`` into one batch.

    Items are dicts of arrays (all with the same keys), as in pescador, or
    numpy arrays. A dict batch has the items' keys, each holding the items'
    values stacked along a new leading axis (``axis=None``) or concatenated
    along ``axis``. Other items (numbers, lists, tuples) are not data:
    they raise :class:`~muxlab.DataError`, as in pescador.

    Parameters
    ----------
    stream : iterable
        The items to buffer.
    buffer_size : int >= 1
        The number of items per batch.
    partial : bool, default=False
        If True, yield the last, shorter batch when the stream runs out;
        otherwise drop it.
    axis : int or None, default=None
        None stacks items along a new axis 0 (``np.stack``). An int
        concatenates along that existing axis (``np.concatenate``), which is
        what you want when the items already are small batches.
    state : dict, optional
        Continue from the ``state_dict()`` of a map taken earlier (see
        resuming a map, in the ``muxlab.maps`` module docstring).

    Returns
    -------
    generator of dict or numpy.ndarray
        The batches, each built from ``buffer_size`` items (fewer for a
        final partial batch).

    Raises
    ------
    ParameterError, ParameterTypeError
        At call time, if an argument is not accepted.
    DataError
        When a batch is built from items that are not data (neither a dict
        nor a numpy array) or that do not fit together: dicts with different
        keys, dicts mixed with arrays, or values whose shapes cannot be
        stacked or concatenated. Items are numbered from 0 in stream order in
        the message.

    Examples
    --------
    >>> items = [{'x': np.array([i, i]), 'y': i % 2} for i in range(5)]
    >>> batch = next(buffer_stream(items, 3))
    >>> batch['x'].shape, batch['y'].tolist()
    ((3, 2), [0, 1, 0])

    Items that already are small batches are joined along their axis 0:

    >>> minis = [np.array([i, i]) for i in range(5)]
    >>> [b.tolist() for b in buffer_stream(minis, 3, partial=True, axis=0)]
    [[0, 0, 1, 1, 2, 2], [3, 3, 4, 4]]
    """
    owner = "buffer_stream"
    items = _iterate(owner, stream)
    buffer_size = check_int(owner, "buffer_size", buffer_size, minimum=1)
    partial = check_bool(owner, "partial", partial)
    axis = check_int(owner, "axis", axis, allow_none=True)
    where = _Position(owner, state)
    return _resumable(stream, where, _buffer(items, buffer_size, partial, axis, where))


def _buffer(items, buffer_size, partial, axis, where):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == buffer_size:
            out = _stack(batch, axis, where.n)
            where.n += buffer_size
            batch = []
            yield out
    if batch and partial:
        out = _stack(batch, axis, where.n)
        where.n += len(batch)
        yield out


def _stack(batch, axis, start):
    """Join one batch of items; ``start`` is the stream index of ``batch[0]``."""
    head = batch[0]
    if isinstance(head, Mapping):
        keys = head.keys()
        for offset in range(1, len(batch)):
            item = batch[offset]
            if not isinstance(item, Mapping):
                raise DataError(
                    f"buffer_stream: stream item {start + offset} is a {type(item).__name__}, but item {start} "
                    f"(the first of its batch) is a dict with keys {short_repr(list(keys))}; "
                    f"expected every item of a batch to be a dict with the same keys"
                )
            if item.keys() != keys:
                raise DataError(
                    f"buffer_stream: stream item {start + offset} has keys {short_repr(list(item.keys()))}, but item "
                    f"{start} (the first of its batch) has keys {short_repr(list(keys))}; "
                    f"expected every item of a batch to have the same keys"
                )
        return {key: _join([item[key] for item in batch], axis, start, key) for key in keys}
    for offset in range(len(batch)):
        item = batch[offset]
        if isinstance(item, Mapping):
            raise DataError(
                f"buffer_stream: stream item {start + offset} is a dict with keys {short_repr(list(item.keys()))}, "
                f"but item {start} (the first of its batch) is a {type(head).__name__}; "
                f"expected all items to be dicts or all to be arrays"
            )
        if not isinstance(item, (np.ndarray, np.generic)):
            raise DataError(
                f"buffer_stream: stream item {start + offset} is {short_repr(item)} ({type(item).__name__}), "
                f"which is not data; expected a dict of arrays or a numpy array (wrap it with np.asarray)"
            )
    return _join(batch, axis, start, None)


def _join(values, axis, start, key):
    try:
        if axis is None:
            return np.stack(values)
        return np.concatenate(values, axis=axis)
    except (ValueError, TypeError) as exc:
        how = "stack" if axis is None else "concatenate"
        what = "items" if key is None else f"key {key!r} of items"
        where = "" if axis is None else f" along axis={axis}"
        raise DataError(
            f"buffer_stream: cannot {how} {what} {start}..{start + len(values) - 1}{where} "
            f"(shapes {_shapes(values)}): {exc}"
        ) from exc


def tuples(stream, *keys, state=None):
    """Turn each dict item into the tuple of its values at ``keys``, in that order.

    Parameters
    ----------
    stream : iterable
        The items, each a dict (or anything indexable by the keys).
    *keys
        The keys to pick, at least one.

    Returns
    -------
    generator of tuple
        ``tuple(item[k] for k in keys)`` for each item.

    Raises
    ------
    ParameterError
        At call time, if no key is given.
    MissingKeyError
        When an item lacks one of the keys (the message names the key and
        the item's keys). It is a ``DataError`` and also a ``KeyError``, the
        exception pescador raises there.
    DataError
        When an item cannot be indexed by key at all.

    Examples
    --------
    >>> items = [{'x': 1, 'y': 'a'}, {'x': 2, 'y': 'b'}]
    >>> list(tuples(items, 'y', 'x'))
    [('a', 1), ('b', 2)]
    """
    owner = "tuples"
    items = _iterate(owner, stream)
    if not keys:
        raise ParameterError(f"{owner}: no keys given; expected at least one key, e.g. tuples(stream, 'X', 'Y')")
    where = _Position(owner, state)
    return _resumable(stream, where, _tuples(items, keys, where))


def _tuples(items, keys, where):
    for item in items:
        out = tuple(_pick("tuples", item, keys, where.n))
        where.n += 1
        yield out


def keras_tuples(stream, inputs=None, outputs=None, *, state=None):
    """Turn each dict item into an ``(inputs, outputs)`` pair as Keras ``fit`` expects.

    Parameters
    ----------
    stream : iterable
        The items, each a dict (or anything indexable by the keys).
    inputs : None, str or list of str, default=None
        The key(s) of the input data. A str gives the array itself, a list
        gives a list of arrays, None (or an empty str or list) gives None.
    outputs : None, str or list of str, default=None
        The key(s) of the output data, in the same way.

    Returns
    -------
    generator of tuple
        ``(x, y)`` for each item.

    Raises
    ------
    ParameterError
        At call time, if neither ``inputs`` nor ``outputs`` names a key.
    ParameterTypeError
        At call time, if ``inputs`` or ``outputs`` is not None, a str or a
        list of str.
    MissingKeyError
        When an item lacks one of the keys: a ``DataError`` that is also a
        ``KeyError``, as in pescador.
    DataError
        When an item cannot be indexed by key at all.

    Examples
    --------
    >>> items = [{'a': 1, 'b': 2, 'c': 3}]
    >>> next(keras_tuples(items, inputs='a', outputs=['b', 'c']))
    (1, [2, 3])
    >>> next(keras_tuples(items, inputs=['a']))
    ([1], None)
    """
    owner = "keras_tuples"
    items = _iterate(owner, stream)
    in_keys, in_single = check_key_or_keys(owner, "inputs", inputs)
    out_keys, out_single = check_key_or_keys(owner, "outputs", outputs)
    if not in_keys and not out_keys:
        raise ParameterError(
            f"{owner}: inputs={inputs!r} and outputs={outputs!r} name no key; "
            f"expected at least one key in inputs or outputs"
        )
    where = _Position(owner, state)
    return _resumable(stream, where, _keras_tuples(items, in_keys, in_single, out_keys, out_single, where))


def _keras_tuples(items, in_keys, in_single, out_keys, out_single, where):
    for item in items:
        index = where.n
        x = _pick("keras_tuples", item, in_keys, index) if in_keys else None
        y = _pick("keras_tuples", item, out_keys, index) if out_keys else None
        where.n = index + 1
        yield (x[0] if in_single else x, y[0] if out_single else y)


def cache(stream, n_cache, prob=0.5, random_state=None):
    """Yield fresh items with probability ``prob`` and otherwise replay random cached ones.

    The first ``n_cache`` items of ``stream`` are yielded in order and fill
    the cache. After that, each step draws a coin: with probability ``prob``
    the next item of ``stream`` replaces a randomly chosen cache entry and is
    yielded; otherwise a randomly chosen cache entry is yielded again. The
    cached stream ends when it asks ``stream`` for an item and ``stream`` has
    run out, so every item of ``stream`` is yielded at least once.

    Caching trades statistical independence for speed: cached items are
    over-represented, so use small ``prob`` with care. Items are not copied:
    mutating a yielded item changes the cached one.

    Parameters
    ----------
    stream : iterable
        The items to cache.
    n_cache : int >= 1
        The size of the cache.
    prob : float in (0, 1], default=0.5
        The probability of taking a fresh item at each step once the cache
        is full. ``prob=1`` gives ``stream`` back unchanged. ``prob=0`` is
        refused (as in pescador): it would never read past the first
        ``n_cache`` items, so the cached stream would never end.
    random_state : None, int, numpy.random.SeedSequence, numpy.random.Generator or numpy.random.RandomState
        The source of the coin flips and cache slots (see
        :mod:`muxlab.random_state`). The same int seed gives
        the same output; numpy's global state is never used.

    Returns
    -------
    generator
        Items of ``stream``, some of them repeated.

    Raises
    ------
    ParameterError, ParameterTypeError
        At call time, if an argument is not accepted.

    Examples
    --------
    >>> out = list(cache(range(10), n_cache=3, prob=0.5, random_state=0))
    >>> out[:3]
    [0, 1, 2]
    >>> sorted(set(out)) == list(range(10))
    True
    >>> out == list(cache(range(10), n_cache=3, prob=0.5, random_state=0))
    True
    >>> list(cache(range(5), n_cache=2, prob=1.0))
    [0, 1, 2, 3, 4]
    """
    owner = "cache"
    items = _iterate(owner, stream)
    n_cache = check_int(owner, "n_cache", n_cache, minimum=1)
    if isinstance(prob, (int, float)) and prob == 0:
        raise ParameterError(
            f"{owner}: prob=0.0 would never take a fresh item once the cache is full, so the stream "
            f"would never end; expected a finite number > 0 (at most 1)"
        )
    prob = check_positive_number(owner, "prob", prob, minimum=0, maximum=1, strict=True)
    source = RandomSource(random_state, owner=owner)
    return _resumable(stream, _Unresumable(owner), _cache(items, n_cache, prob, source))


def _cache(items, n_cache, prob, source):
    store = []
    for item in items:
        store.append(item)
        yield item
        if len(store) == n_cache:
            break
    else:
        return  # the stream ended before the cache was full
    rng = source.for_pass()
    while True:
        fresh = (rng.random(_DRAW_BLOCK) < prob).tolist()
        slots = rng.integers(n_cache, size=_DRAW_BLOCK).tolist()
        for is_fresh, slot in zip(fresh, slots):
            if is_fresh:
                try:
                    store[slot] = next(items)
                except StopIteration:
                    return
            yield store[slot]


# -- resuming ---------------------------------------------------------------------------


class _Position:
    """How many items of its stream a map has consumed: all the state a map between two of its items has."""

    __slots__ = ("owner", "n")

    def __init__(self, owner, state):
        self.owner = owner
        self.n = 0
        if state is not None:
            if not isinstance(state, Mapping) or state.get("map") != owner:
                raise ParameterError(
                    f"{owner}: state={short_repr(state)} is not the state of a {owner} map; expected the dict "
                    f"its state_dict() returned"
                )
            self.n = int(state["consumed"])

    def state_dict(self, approximate):
        return {"map": self.owner, "consumed": self.n}


class _Unresumable:
    __slots__ = ("owner",)

    def __init__(self, owner):
        self.owner = owner

    def state_dict(self, approximate):
        if not approximate:
            raise NotResumableError(
                f"{self.owner}: a cache over a mux cannot be checkpointed (its cache holds items, not positions); "
                f"make it a stream of the mux instead (Streamer({self.owner}, ...), reopened exactly), or take "
                f"state_dict(approximate=True): the cache then starts empty again"
            )
        return {"map": self.owner, "consumed": 0, "approximate": True}


class MapIterator(itertools.chain):
    """A map over a stream that can be checkpointed (a mux's pass, or another such map).

    ``state_dict()`` holds the stream's state under ``'stream'``; to resume,
    rebuild the stream from it and call the map again with ``state=``::

        it = buffer_stream(mux.iterate(), 16)
        ...
        sd = it.state_dict()
        it = buffer_stream(mux.iterate(state=sd['stream']), 16, state=sd)
    """

    __slots__ = ("stream", "position")

    def __new__(cls, stream, position, generator):
        self = super().__new__(cls, generator)
        self.stream = stream
        self.position = position
        return self

    def state_dict(self, approximate=False):
        """The map's position and its stream's state, as plain JSON-serialisable data."""
        return self.position.state_dict(approximate) | {"stream": self.stream.state_dict(approximate=approximate)}


def _resumable(stream, position, generator):
    """``generator``, as a :class:`MapIterator` if ``stream`` can be checkpointed."""
    if callable(getattr(stream, "state_dict", None)):
        return MapIterator(stream, position, generator)
    return generator


# -- argument checks and message helpers ---------------------------------------------


def _iterate(owner, stream):
    try:
        return iter(stream)
    except TypeError:
        raise ParameterTypeError(
            f"{owner}: stream={short_repr(stream)} ({type(stream).__name__}) is not iterable; "
            f"expected an iterable of items, such as a Streamer, a generator or a list"
        ) from None


def _pick(owner, item, keys, index):
    """Return ``[item[k] for k in keys]``, raising DataError that names the item and key."""
    values = []
    for key in keys:
        try:
            values.append(item[key])
        except KeyError:
            raise MissingKeyError(
                f"{owner}: stream item {index} has no key {key!r}; its keys are {_keys_of(item)}"
            ) from None
        except (TypeError, IndexError, ValueError) as exc:
            raise DataError(
                f"{owner}: stream item {index} ({type(item).__name__}) cannot be indexed by key {key!r}; "
                f"expected a dict of arrays"
            ) from exc
    return values


def _keys_of(item):
    try:
        return short_repr(list(item.keys()))
    except Exception:  # an indexable that is not a mapping
        return f"unknown ({type(item).__name__} has no keys())"


def _shapes(values):
    """The distinct shapes among ``values``, in order of first appearance (at most 5)."""
    seen = []
    for value in values:
        try:
            shape = np.shape(value)
        except Exception:  # ragged nested sequences
            shape = "?"
        if shape not in seen:
            seen.append(shape)
            if len(seen) == 5:
                break
    return ", ".join(str(s) for s in seen)
