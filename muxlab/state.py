"""Checkpoints of running passes: the plain data format, its version, and its checks.

A state is a dict of JSON types only (numpy generator states become dicts
with their big integers as strings and their arrays as compact base64
strings, as are per-stream counters), so ``json.dumps(it.state_dict())``
works and the size does not grow with the number of items yielded.

>>> decode_ints(encode_ints([0, 3, 0, 70000]), 4).tolist()
[0, 3, 0, 70000]
>>> decode_bits(encode_bits(bytearray([0, 1, 1, 0])), 4).tolist()
[False, True, True, False]
"""

import base64
import json
import zlib
from importlib import metadata as _metadata

import numpy as np

from .errors import MuxlabError, ParameterError
from .random_state import spawn

#: The version of the state format; a state of another version is refused.
STATE_VERSION = 1

try:
    MUXLAB_VERSION = _metadata.version("muxlab")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    MUXLAB_VERSION = "unknown"


class NotResumableError(MuxlabError):
    """A running pass cannot be checkpointed exactly (a stream cannot be reopened where it stood)."""


class StateMismatchError(ParameterError):
    """A state does not belong to this mux (another version, class or configuration)."""


class RestoredError(MuxlabError):
    """An error a stream raised before a checkpoint, as ``stats.errors`` holds it after resuming.

    The exception object itself (its class, traceback and attributes) is
    not part of a state; ``type_name`` is its class's qualified name and
    ``message`` the first :data:`MESSAGE_CHARS` characters of ``str(exc)``.

    >>> RestoredError('ValueError', 'bad row')
    RestoredError('ValueError: bad row')
    """

    def __init__(self, type_name, message):
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message


#: How many characters of an error's message a state keeps.
MESSAGE_CHARS = 200


def encode_errors(errors):
    """``(stream, exception)`` pairs as one short string (class names and messages, deflated, base64).

    >>> decode_errors(encode_errors([(2, ValueError('bad row'))]))
    [(2, RestoredError('builtins.ValueError: bad row'))]
    """
    rows = [
        [int(stream), _qualified_name(exc), str(exc)[:MESSAGE_CHARS]]
        for stream, exc in errors
    ]
    raw = json.dumps(rows, separators=(",", ":")).encode()
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def decode_errors(text):
    """The ``(stream, RestoredError)`` pairs :func:`encode_errors` encoded."""
    rows = json.loads(zlib.decompress(base64.b64decode(text)))
    return [(stream, RestoredError(name, message)) for stream, name, message in rows]


def _qualified_name(exc):
    if isinstance(exc, RestoredError):
        return exc.type_name
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}"


def encode_ints(values):
    """Non-negative or negative integers as a short string: the smallest dtype that holds them, deflated, base64."""
    a = np.asarray(values, dtype=np.int64)
    lo, hi = (int(a.min()), int(a.max())) if a.size else (0, 0)
    for dtype in (np.int8, np.int16, np.int32, np.int64):
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            break
    raw = a.astype(dtype).tobytes()
    return f"{np.dtype(dtype).str}:{base64.b64encode(zlib.compress(raw, 6)).decode('ascii')}"


def decode_ints(text, n=None):
    """The int64 array :func:`encode_ints` encoded (checked to have ``n`` entries if given)."""
    dtype, _, data = text.partition(":")
    a = np.frombuffer(zlib.decompress(base64.b64decode(data)), dtype=np.dtype(dtype)).astype(np.int64)
    if n is not None and a.size != n:
        raise StateMismatchError(f"state: a per-stream counter has {a.size} entries; this mux has {n} streams")
    return a


def encode_bits(flags):
    """A sequence of 0/1 flags as a short string (packed bits, deflated, base64)."""
    bits = np.packbits(np.frombuffer(bytes(flags), dtype=np.uint8).astype(bool))
    return base64.b64encode(zlib.compress(bits.tobytes(), 9)).decode("ascii")


def decode_bits(text, n):
    """The bool array of ``n`` flags :func:`encode_bits` encoded."""
    bits = np.frombuffer(zlib.decompress(base64.b64decode(text)), dtype=np.uint8)
    return np.unpackbits(bits, count=n).astype(bool)


def rng_state(rng):
    """A numpy Generator's state as JSON types (big integers as decimal strings)."""
    return plain(rng.bit_generator.state)


def plain(value):
    """``value`` (dicts of numbers and arrays, as a bit generator's state) in JSON types, big integers as strings."""
    return _stringify(value)


def set_rng_state(rng, state):
    """Put ``rng`` (a numpy Generator) in the state :func:`rng_state` returned."""
    rng.bit_generator.state = _numify(state)


def source_state(random_state):
    """The state of a mux's ``random_state`` that later passes draw from, as JSON types (None if it has none).

    A ``Generator`` is shared by every pass; a ``RandomState`` seeds each new
    pass; a ``SeedSequence`` spawns a child for each (its state is how many
    it has spawned). An int or None hold nothing that changes.

    >>> rs = np.random.RandomState(3)
    >>> state = source_state(rs)
    >>> first = rs.randint(1000)
    >>> load_source_state(rs, state)
    >>> rs.randint(1000) == first
    True
    """
    if isinstance(random_state, np.random.Generator):
        return rng_state(random_state)
    if isinstance(random_state, np.random.RandomState):
        return {"RandomState": plain(random_state.get_state(legacy=False))}
    if isinstance(random_state, np.random.SeedSequence):
        return {"SeedSequence": int(random_state.n_children_spawned)}
    return None


def load_source_state(random_state, state):
    """Put a mux's ``random_state`` in the state :func:`source_state` returned."""
    if state is None:
        return
    if "RandomState" in state:
        random_state.set_state(_numify(state["RandomState"]))
    elif "SeedSequence" in state:
        spawned, now = int(state["SeedSequence"]), random_state.n_children_spawned
        if now > spawned:
            raise StateMismatchError(
                f"state: the mux's random_state SeedSequence has spawned {now} children, more than the "
                f"{spawned} of the checkpoint; resume with a SeedSequence made as the original one was"
            )
        spawn(random_state, spawned - now)
    else:
        set_rng_state(random_state, state)


def _stringify(value):
    if isinstance(value, dict):
        return {k: _stringify(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        data = base64.b64encode(zlib.compress(np.ascontiguousarray(value).tobytes(), 6)).decode("ascii")
        return {"__array__": value.dtype.str, "data": data}
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    return value


def _numify(value):
    if isinstance(value, dict):
        if "__array__" in value:
            dtype = np.dtype(value["__array__"])
            if "values" in value:  # the first spelling of the format: one decimal string per entry
                return np.array([int(x) for x in value["values"]], dtype=dtype)
            return np.frombuffer(zlib.decompress(base64.b64decode(value["data"])), dtype=dtype).copy()
        return {k: _numify(v) for k, v in value.items()}
    if isinstance(value, str) and (value.isdigit() or (value[:1] == "-" and value[1:].isdigit())):
        return int(value)
    return value


def check_state(owner, state, expected):
    """Refuse ``state`` unless its version and configuration equal ``expected``; name the first difference."""
    if not isinstance(state, dict) or "version" not in state:
        raise StateMismatchError(
            f"{owner}: state={_short(state)} is not a muxlab pass state; expected the dict an iterator's state_dict() returned"
        )
    if state["version"] != STATE_VERSION:
        raise StateMismatchError(
            f"{owner}: the state has format version {state['version']!r}; this muxlab reads version {STATE_VERSION}"
        )
    if state.get("muxlab") != MUXLAB_VERSION:
        raise StateMismatchError(
            f"{owner}: the state was taken with muxlab {state.get('muxlab')!r}; this is muxlab {MUXLAB_VERSION}"
        )
    got = state.get("config", {})
    for key in sorted(set(got) | set(expected)):
        if got.get(key) != expected.get(key):
            raise StateMismatchError(
                f"{owner}: the state was taken from a mux with {key}={_short(got.get(key))}; this mux has "
                f"{key}={_short(expected.get(key))}; build the mux as it was when the state was taken"
            )


def _short(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
