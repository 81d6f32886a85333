"""ShuffledMux: every stream active at once, each item taken from a stream chosen by weight."""

import numpy as np

from ..errors import ParameterError
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

    def _run(self, max_iter):
        if max_iter == 0:
            return
        st = CountingPass(self)
        self.stats._start_pass(st)
        rng = self.random_source.for_pass()
        weights = self._weights.copy()
        n_streams = self.n_streams
        nexts = [None] * n_streams
        counts = st.counts
        try:
            for i in range(n_streams):
                if weights[i] > 0:
                    nexts[i] = st.activate(i, i)
                    if nexts[i] is None:
                        weights[i] = 0.0
            st.active = [i for i in range(n_streams) if nexts[i] is not None]
            limit = -1 if max_iter is None else max_iter
            n = 0
            picks = ()
            j = nb = 0
            while True:
                if j == nb:
                    total = weights.sum()
                    if total <= 0:
                        return
                    cdf = np.cumsum(weights / total)
                    u = rng.random(_PICK_BLOCK)
                    picks = np.minimum(np.searchsorted(cdf, u, side="right"), n_streams - 1).tolist()
                    j = 0
                    nb = _PICK_BLOCK
                s = picks[j]
                j += 1
                try:
                    item = nexts[s]()
                except StopIteration:
                    st.n = n
                    got = st.retire(s, s, "exhausted" if counts[s] > st.started[s] else "pruned")
                    nexts[s] = st.activate(s, s) if got else None
                    if nexts[s] is None:
                        weights[s] = 0.0
                        st.active.remove(s)
                        j = nb = 0
                    continue
                except Exception as exc:
                    st.n = n
                    st.fail(s, s, exc)
                    nexts[s] = None
                    weights[s] = 0.0
                    st.active.remove(s)
                    j = nb = 0
                    continue
                counts[s] += 1
                n += 1
                yield item
                if n == limit:
                    return
        finally:
            self.stats._end_pass(st)
