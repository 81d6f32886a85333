"""ShuffledMux: every stream active at once, each item taken from a stream chosen by weight."""

import numpy as np

from ..errors import ParameterError
from ..state import plain, rng_state, set_rng_state
from ..validation import check_weights
from .base import BaseMux, CountingPass

_PICK_BLOCK = 4096


class ShuffledMux(BaseMux):
    """Interleave all streams at random, restarting each stream when it ends.

    Each item comes from stream ``i`` with probability ``weights[i]``. A stream
    whose activation yields nothing is dropped for the rest of the pass; the
    pass ends when every stream has been dropped.

    Examples
    --------
    >>> from muxlab import Streamer, ShuffledMux
    >>> mux = ShuffledMux([Streamer('a'), Streamer('b')], weights=[3, 1], random_state=0)
    >>> items = list(mux(max_iter=4000))
    >>> abs(items.count('a') / 4000 - 0.75) < 0.03
    True
    """

    def __init__(self, streamers, weights=None, random_state=None, *, on_error="raise", on_event=None):
        super().__init__(streamers, random_state=random_state, on_error=on_error, on_event=on_event)
        self._weights = check_weights(type(self).__name__, weights, self.n_streams)

    @property
    def weights(self):
        """Normalised stream weights (a copy), fixed at construction."""
        return self._weights.copy()

    @weights.setter
    def weights(self, value):
        raise ParameterError(
            "ShuffledMux: weights cannot be changed on a ShuffledMux; make a new one, or use "
            "StochasticMux, whose weights are live"
        )

    def _config(self):
        return super()._config() | {"weights": self._weights.tolist()}

    def _new_pass(self, max_iter, state):
        p = CountingPass(self, max_iter, state)
        p.rng = self.random_source.for_pass(deferred=True)
        p.block_rng = None  # the generator's state before the pick block was drawn (None: no block)
        p.block_start = p.misses = 0
        p.weights = self._weights.copy()
        return p

    def _loop_state(self, p):
        block = None
        if p.block_rng is not None and p.yielded() - p.block_start + p.misses < _PICK_BLOCK:
            block = {"rng": plain(p.block_rng), "start": p.block_start, "misses": p.misses}
        return {"weights": p.weights.tolist(), "rng": rng_state(p.rng), "block": block}

    def _run(self, p):
        with self._running(p):
            rng = p.rng
            n_streams = self.n_streams
            counts = p.counts
            limit = -1 if p.max_iter is None else p.max_iter
            n = p.yielded()
            if n == limit:
                return
            nexts = [None] * n_streams
            picks = ()
            j = nb = 0
            loop = p.loop
            if loop:
                p.weights = weights = np.asarray(loop["weights"], dtype=np.float64)
                for s in list(p.active):
                    nexts[s] = p.take(s)
                block = loop["block"]
                if block is not None:
                    set_rng_state(rng, block["rng"])
                    picks = _draw(rng, weights, n_streams)
                    p.block_rng, p.block_start, p.misses = _numify_state(block["rng"]), block["start"], block["misses"]
                    j, nb = n - p.block_start + p.misses, _PICK_BLOCK
                set_rng_state(rng, loop["rng"])
            else:
                weights = p.weights
                for i in range(n_streams):
                    if weights[i] > 0:
                        nexts[i] = p.activate(i, i)
                        if nexts[i] is None:
                            weights[i] = 0.0
            while True:
                if j == nb:
                    if weights.sum() <= 0:
                        return
                    p.block_rng, p.block_start, p.misses = rng.bit_generator.state, n, 0
                    picks = _draw(rng, weights, n_streams)
                    j = 0
                    nb = _PICK_BLOCK
                s = picks[j]
                j += 1
                try:
                    item = nexts[s]()
                except StopIteration:
                    p.misses += 1
                    p.n = n
                    got = p.retire(s, s, "exhausted" if counts[s] > p.opened_at[s] else "pruned")
                    nexts[s] = p.activate(s, s) if got else None
                    if nexts[s] is None:
                        weights[s] = 0.0
                        j = nb = 0
                        p.block_rng = None
                    continue
                except Exception as exc:
                    p.misses += 1
                    p.n = n
                    nexts[s] = None
                    weights[s] = 0.0
                    j = nb = 0
                    p.block_rng = None
                    p.fail(s, s, exc)
                    continue
                counts[s] += 1
                n += 1
                yield item
                if n == limit:
                    return


def _draw(rng, weights, n_streams):
    """A block of stream indices drawn by weight."""
    cdf = np.cumsum(weights / weights.sum())
    u = rng.random(_PICK_BLOCK)
    return np.minimum(np.searchsorted(cdf, u, side="right"), n_streams - 1).tolist()


def _numify_state(state):
    probe = np.random.default_rng()
    set_rng_state(probe, state)
    return probe.bit_generator.state
