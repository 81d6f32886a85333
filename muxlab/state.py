"""Checkpoints of running passes: the plain data format, its version, and its checks.

A state is a dict of JSON types only (numpy generator states become dicts
with their big integers as strings, per-stream counters compact base64
strings), so ``json.dumps(it.state_dict())`` works and the size does not grow
with the number of items yielded.

>>> decode_ints(encode_ints([0, 3, 0, 70000]), 4).tolist()
[0, 3, 0, 70000]
>>> decode_bits(encode_bits(bytearray([0, 1, 1, 0])), 4).tolist()
[False, True, True, False]
"""

import base64
import zlib
from importlib import metadata as _metadata

import numpy as np

from .errors import MuxlabError, ParameterError

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


def _stringify(value):
    if isinstance(value, dict):
        return {k: _stringify(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return {"__array__": value.dtype.str, "values": [str(int(x)) for x in value.ravel()]}
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    return value


def _numify(value):
    if isinstance(value, dict):
        if "__array__" in value:
            return np.array([int(x) for x in value["values"]], dtype=np.dtype(value["__array__"]))
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
