"""ChainMux: run the first stream to its end, then the second, and so on."""

from ..validation import check_choice
from .base import BaseMux, CountingPass

MODES = ("exhaustive", "cycle")


class ChainMux(BaseMux):
    """As ``itertools.chain``: each stream in turn, to its end.

    ``streamers`` may be a list or any finite iterable of streamers (a
    generator of Streamers is read once, when the mux is made). ``cycle``
    starts again from the first stream after the last; a round in which no
    stream yields anything ends the pass.

    Examples
    --------
    >>> from muxlab import Streamer, ChainMux
    >>> ''.join(ChainMux([Streamer('abc'), Streamer('de')]))
    'abcde'
    >>> ''.join(ChainMux([Streamer('ab'), Streamer('c')], mode='cycle')(max_iter=7))
    'abcabca'
    """

    def __init__(self, streamers, mode="exhaustive", random_state=None, *, on_error="raise", on_event=None):
        super().__init__(streamers, random_state=random_state, on_error=on_error, on_event=on_event)
        self.mode = check_choice(type(self).__name__, "mode", mode, MODES)

    def _run(self, max_iter):
        if max_iter == 0:
            return
        st = CountingPass(self)
        self.stats._start_pass(st)
        counts = st.counts
        limit = -1 if max_iter is None else max_iter
        n = 0
        try:
            while True:
                n_before = n
                for s in range(self.n_streams):
                    st.n = n
                    nxt = st.activate(s, 0)
                    if nxt is None:
                        continue
                    st.active = [s]
                    while True:
                        try:
                            item = nxt()
                        except StopIteration:
                            st.n = n
                            st.retire(s, 0, "exhausted")
                            break
                        except Exception as exc:
                            st.n = n
                            st.fail(s, 0, exc)
                            break
                        counts[s] += 1
                        n += 1
                        yield item
                        if n == limit:
                            return
                    st.active = []
                if self.mode == "exhaustive" or n == n_before:
                    return
        finally:
            self.stats._end_pass(st)
