"""Split a mux into disjoint shards of its streams, one per worker process or rank.

A shard is a new mux of the same class and configuration over every
``count``-th stream (stream ``i`` goes to shard ``i % count``), with ``k``
split in proportion to the streams each shard holds and its own seed derived
from the mux's seed and the shard's keys (epoch, rank, worker) through
``numpy.random.SeedSequence``. No stream is in two shards, so no stream is
active in two workers at once, and over an ``exhaustive`` pass the shards
together yield every item exactly once.
"""

import numbers

import numpy as np

from .errors import ParameterError, ParameterTypeError
from .mux import ChainMux, RoundRobinMux, ShuffledMux, StochasticMux
from .mux.stochastic import Mux
from .validation import short_repr


def shard_indices(n_streams, index, count):
    """Return the indices of the streams shard ``index`` of ``count`` holds.

    >>> shard_indices(7, 1, 3)
    [1, 4]
    """
    return list(range(index, n_streams, count))


def split_k(k, sizes, cap=False):
    """Split ``k`` active slots among shards holding ``sizes`` streams, in proportion (largest remainder).

    A shard with streams gets at least one slot; with ``cap`` a shard gets at
    most as many slots as it has streams (modes that give a stream one slot).

    >>> split_k(32, [4, 4, 4])
    [11, 11, 10]
    >>> split_k(1, [2, 2])
    [1, 1]
    """
    total = sum(sizes)
    if total == 0:
        return [0] * len(sizes)
    exact = [k * s / total for s in sizes]
    out = [int(e) for e in exact]
    order = sorted(range(len(sizes)), key=lambda i: (out[i] - exact[i], i))
    for i in order[: k - sum(out)]:
        out[i] += 1
    out = [max(1, o) if s else 0 for o, s in zip(out, sizes)]
    if cap:
        out = [min(o, s) for o, s in zip(out, sizes)]
    return out


def derive_seed(random_state, *keys):
    """Return the seed of one shard: a ``SeedSequence`` from the mux's seed and ``keys`` (epoch, rank, worker).

    An int seed gives the same shard seeds in every run; a ``SeedSequence``
    is extended by the keys; a ``Generator`` or ``RandomState`` gives one
    draw, made once by the caller before the workers start (so they never
    share a stream); ``None`` gives fresh entropy.

    >>> a = derive_seed(7, 0, 1).generate_state(1)
    >>> b = derive_seed(7, 0, 1).generate_state(1)
    >>> c = derive_seed(7, 0, 2).generate_state(1)
    >>> bool(a[0] == b[0]), bool(a[0] == c[0])
    (True, False)
    """
    keys = [int(k) for k in keys]
    if isinstance(random_state, np.random.SeedSequence):
        entropy = random_state.entropy
        spawn_key = tuple(random_state.spawn_key) + tuple(keys)
        return np.random.SeedSequence(entropy, spawn_key=spawn_key, pool_size=random_state.pool_size)
    if random_state is None:
        return np.random.SeedSequence(None, spawn_key=tuple(keys))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.SeedSequence(int(random_state), spawn_key=tuple(keys))
    raise ParameterTypeError(
        f"derive_seed: random_state={short_repr(random_state)} is not accepted here; expected None, an int or a "
        f"SeedSequence (draw one from a Generator with fixed_seed() first)"
    )


def fixed_seed(random_state):
    """Turn a mux's ``random_state`` into something every shard can derive from (int, SeedSequence or None).

    A ``Generator`` or ``RandomState`` is drawn from once, here, in the
    calling process.
    """
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(random_state.integers(0, 2**63 - 1, size=4).tolist())
    if isinstance(random_state, np.random.RandomState):
        return np.random.SeedSequence(random_state.randint(0, 2**63 - 1, size=4, dtype=np.int64).tolist())
    return random_state


def is_shardable(stream):
    """True if ``stream`` is a mux whose class :func:`shard` knows how to split."""
    return isinstance(stream, (StochasticMux, ShuffledMux, RoundRobinMux, ChainMux))


def shard(mux, index, count, seed, k=None):
    """Return the mux of shard ``index`` of ``count`` (None if it holds no stream, or only weight-0 ones).

    Parameters
    ----------
    mux : StochasticMux, Mux, ShuffledMux, RoundRobinMux or ChainMux
        The full mux; it is not changed.
    index, count : int
        Which shard, of how many.
    seed : SeedSequence, int or None
        The shard's ``random_state`` (see :func:`derive_seed`).
    k : int, optional
        The total ``k`` to split (default: the mux's current one).

    >>> from muxlab import Mux, Streamer
    >>> full = Mux([Streamer([i]) for i in range(5)], k=4, lam=2, random_state=0)
    >>> part = shard(full, 1, 2, seed=3)
    >>> part.n_streams, part.k
    (2, 2)
    """
    if not is_shardable(mux):
        raise ParameterTypeError(
            f"shard: {short_repr(mux)} ({type(mux).__name__}) cannot be split among workers; expected a "
            f"StochasticMux, Mux, ShuffledMux, RoundRobinMux or ChainMux"
        )
    if not 0 <= index < count:
        raise ParameterError(f"shard: index={index} is not in [0, count={count})")
    mine = shard_indices(mux.n_streams, index, count)
    if not mine:
        return None
    streamers = [mux.streamers[i] for i in mine]
    common = dict(random_state=seed, on_error=mux.on_error)
    if isinstance(mux, StochasticMux):
        sizes = [len(shard_indices(mux.n_streams, i, count)) for i in range(count)]
        total_k = mux.n_active if k is None else k
        my_k = split_k(total_k, sizes, cap=mux.mode != "with_replacement")[index]
        weights = shard_weights(mux.weights, mine)
        if weights is None:
            return None
        cls = Mux if isinstance(mux, Mux) else StochasticMux
        args = (streamers, my_k, mux.rate)
        return cls(
            *args,
            weights=weights,
            mode=mux.mode,
            prune_empty_streams=mux.prune_empty_streams,
            dist=mux.dist,
            counters=mux.counters,
            **common,
        )
    if isinstance(mux, ShuffledMux):
        weights = shard_weights(mux.weights, mine)
        return None if weights is None else ShuffledMux(streamers, weights=weights, **common)
    return type(mux)(streamers, mode=mux.mode, **common)


def shard_weights(weights, mine):
    """The weights of the streams ``mine``, or None if they are all zero (the shard yields nothing)."""
    w = np.asarray(weights, dtype=float)[mine]
    if w.sum() <= 0:
        return None
    return w


def shard_k(mux, index, count, k):
    """The ``k`` of shard ``index`` of ``count`` when the full mux's ``k`` is set to ``k``."""
    sizes = [len(shard_indices(mux.n_streams, i, count)) for i in range(count)]
    return split_k(k, sizes, cap=mux.mode != "with_replacement")[index]


__all__ = ["derive_seed", "fixed_seed", "is_shardable", "shard", "shard_indices", "shard_k", "split_k"]
