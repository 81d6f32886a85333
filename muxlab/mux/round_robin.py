"""RoundRobinMux: take one item from each stream in turn."""

from ..validation import check_choice
from .base import BaseMux, CountingPass

MODES = ("exhaustive", "cycle", "permuted_cycle")


class RoundRobinMux(BaseMux):
    """Take one item from each stream in strict order, skipping streams that have ended.

    ``exhaustive`` ends when every stream has ended; ``cycle`` then starts all
    streams again in the same order; ``permuted_cycle`` starts them again in a
    new random order. A cycle in which no stream yields anything ends the pass.

    Examples
    --------
    >>> from muxlab import Streamer, RoundRobinMux
    >>> ''.join(RoundRobinMux([Streamer('ab'), Streamer('cde')]))
    'acbde'
    >>> ''.join(RoundRobinMux([Streamer('ab'), Streamer('c')], mode='cycle')(max_iter=7))
    'acbacba'
    """

    def __init__(self, streamers, mode="exhaustive", random_state=None, *, on_error="raise", on_event=None):
        super().__init__(streamers, random_state=random_state, on_error=on_error, on_event=on_event)
        self.mode = check_choice(type(self).__name__, "mode", mode, MODES)

    def _run(self, max_iter):
        if max_iter == 0:
            return
        st = CountingPass(self)
        self.stats._start_pass(st)
        rng = self.random_source.for_pass()
        order = list(range(self.n_streams))
        counts = st.counts
        limit = -1 if max_iter is None else max_iter
        n = 0
        try:
            while True:
                st.n = n
                ring = []
                for i in order:
                    it = st.activate(i, i)
                    if it is not None:
                        ring.append((i, it))
                st.active = [i for i, _ in ring]
                n_before = n
                pos = 0
                while ring:
                    if pos >= len(ring):
                        pos = 0
                    s, nxt = ring[pos]
                    try:
                        item = nxt()
                    except StopIteration:
                        st.n = n
                        st.retire(s, s, "exhausted")
                        del ring[pos]
                        st.active.remove(s)
                        continue
                    except Exception as exc:
                        st.n = n
                        st.fail(s, s, exc)
                        del ring[pos]
                        st.active.remove(s)
                        continue
                    counts[s] += 1
                    n += 1
                    pos += 1
                    yield item
                    if n == limit:
                        return
                if self.mode == "exhaustive" or n == n_before:
                    return
                if self.mode == "permuted_cycle":
                    order = rng.permutation(self.n_streams).tolist()
        finally:
            self.stats._end_pass(st)
