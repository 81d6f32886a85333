"""Argument checks that produce messages naming the parameter, the value and what is accepted."""

import math
import numbers
import os

import numpy as np

from .errors import ParameterError, ParameterTypeError


def short_repr(obj, limit=60):
    """A one-line repr that never prints a huge array or list in full, and keeps a path's file name.

    >>> short_repr('/a/very/long/folder/name/that/goes/on/and/on/and/on/to/the/item000.npz', limit=30)
    "'.../on/to/the/item000.npz'"
    """
    shape = getattr(obj, "shape", None)
    if shape and getattr(obj, "dtype", None) is not None:  # an array, not a numpy scalar
        return f"<{type(obj).__name__} shape={tuple(shape)} dtype={obj.dtype}>"
    if isinstance(obj, (str, os.PathLike)):
        text = os.fspath(obj)
        if isinstance(text, str) and len(text) + 2 > limit:
            return "'..." + text[-(limit - 5) :] + "'"
        return repr(text)
    text = " ".join(repr(obj).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_int(owner, name, value, minimum=None, allow_none=False):
    """Return ``value`` as an ``int`` if it is an integer ``>= minimum`` (or ``None`` if allowed).

    >>> check_int('Mux', 'k', 3, minimum=1)
    3
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ParameterTypeError(
            f"{owner}: {name}={short_repr(value)} is a {type(value).__name__}; expected an integer"
            + (f" >= {minimum}" if minimum is not None else "")
            + (" or None" if allow_none else "")
        )
    value = int(value)
    if minimum is not None and value < minimum:
        raise ParameterError(f"{owner}: {name}={value} is too small; expected an integer >= {minimum}")
    return value


def check_positive_number(owner, name, value, minimum, allow_none=False, maximum=None, strict=False):
    """Return ``value`` as a finite ``float`` in ``[minimum, maximum]`` (or ``None`` if allowed).

    With ``strict``, ``value`` must be more than ``minimum``.

    >>> check_positive_number('Mux', 'lam', 16, minimum=1)
    16.0
    >>> check_positive_number('MemoryProbe', 'interval', 0.0, minimum=0, strict=True)
    Traceback (most recent call last):
    ...
    muxlab.errors.ParameterError: MemoryProbe: interval=0.0 is not accepted; expected a finite number > 0
    """
    accepted = f"a finite number {'>' if strict else '>='} {minimum:g}" + (" or None" if allow_none else "")
    accepted += f" (at most {maximum:g})" if maximum is not None else ""
    if value is None:
        if allow_none:
            return None
        raise ParameterTypeError(f"{owner}: {name}=None is not accepted; expected {accepted}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterTypeError(f"{owner}: {name}={short_repr(value)} is a {type(value).__name__}; expected {accepted}")
    value = float(value)
    low = value <= minimum if strict else value < minimum
    if not math.isfinite(value) or low or (maximum is not None and value > maximum):
        raise ParameterError(f"{owner}: {name}={value!r} is not accepted; expected {accepted}")
    return value


def check_choice(owner, name, value, choices):
    """Return ``value`` if it is one of ``choices``.

    >>> check_choice('Mux', 'mode', 'exhaustive', ('with_replacement', 'exhaustive'))
    'exhaustive'
    """
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ParameterError(f"{owner}: {name}={short_repr(value)} is not known; expected one of {listed}")
    return value


def check_weights(owner, weights, n):
    """Return ``weights`` as a float array of length ``n`` summing to one (uniform if None).

    >>> check_weights('Mux', [1, 3], 2).tolist()
    [0.25, 0.75]
    """
    if weights is None:
        return np.full(n, 1.0 / n)
    try:
        w = np.asarray(weights, dtype=float)
    except (TypeError, ValueError):
        raise ParameterTypeError(
            f"{owner}: weights={short_repr(weights)} is not a sequence of numbers; expected {n} non-negative numbers"
        ) from None
    if w.ndim != 1 or len(w) != n:
        raise ParameterError(
            f"{owner}: weights has shape {w.shape}; expected {n} numbers, one per streamer"
        )
    bad = np.flatnonzero(~np.isfinite(w))
    if bad.size:
        i = int(bad[0])
        raise ParameterError(
            f"{owner}: weights[{i}]={float(w[i])!r} ({bad.size} such entries); expected finite numbers >= 0"
        )
    bad = np.flatnonzero(w < 0)
    if bad.size:
        i = int(bad[0])
        raise ParameterError(
            f"{owner}: weights[{i}]={float(w[i])!r} is negative ({bad.size} such entries); expected numbers >= 0"
        )
    top = w.max()
    if top <= 0:
        raise ParameterError(f"{owner}: weights are all zero; expected at least one positive weight")
    w = w / top  # scaled first, so that a sum of huge weights cannot overflow
    return w / w.sum()


def check_bool(owner, name, value):
    """Return ``value`` if it is a bool (numpy's included).

    >>> check_bool('Mux', 'prune_empty_streams', False)
    False
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ParameterTypeError(f"{owner}: {name}={short_repr(value)} is a {type(value).__name__}; expected True or False")


def check_keys(owner, keys):
    """Return ``keys`` as a tuple of distinct non-empty array names (a str is split at commas).

    >>> check_keys('Collection.scan', 'features, labels')
    ('features', 'labels')
    """
    if isinstance(keys, str):
        keys = tuple(k.strip() for k in keys.split(",") if k.strip())
    if not isinstance(keys, (list, tuple)) or not all(isinstance(k, str) for k in keys):
        raise ParameterTypeError(f"{owner}: keys={short_repr(keys)} is not accepted; expected a tuple of array names")
    keys = tuple(keys)
    if not keys or any(not k or "/" in k for k in keys) or len(set(keys)) != len(keys):
        raise ParameterError(
            f"{owner}: keys={keys!r} is not accepted; expected at least one distinct, non-empty array name "
            "(such as ('X', 'Y') or ('features',))"
        )
    return keys


def check_key_or_keys(owner, name, keys):
    """Return ``(list of keys, single)`` for an item's key or keys; ``single`` means a lone str was given.

    An empty str is no key, as None is (pescador treats them alike).

    >>> check_key_or_keys('tuples', 'inputs', 'X'), check_key_or_keys('tuples', 'inputs', ['X', 'Y'])
    ((['X'], True), (['X', 'Y'], False))
    """
    if keys is None:
        return [], False
    if isinstance(keys, str):
        return ([keys], True) if keys else ([], False)
    if isinstance(keys, (list, tuple)) and all(isinstance(k, str) for k in keys):
        return list(keys), False
    raise ParameterTypeError(
        f"{owner}: {name}={short_repr(keys)} ({type(keys).__name__}) is not accepted; "
        f"expected None, a key (str) or a list of keys (str)"
    )
