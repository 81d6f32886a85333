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

    def _config(self):
        return super()._config() | {"mode": self.mode}

    def _new_pass(self, max_iter, state):
        p = CountingPass(self, max_iter, state)
        p.position = p.loop.get("position", 0)
        p.round_start = p.loop.get("round_start", 0)
        return p

    def _loop_state(self, p):
        return {"position": p.position, "round_start": p.round_start}

    def _run(self, p):
        with self._running(p):
            counts = p.counts
            limit = -1 if p.max_iter is None else p.max_iter
            n = p.yielded()
            if n == limit:
                return
            position = p.position
            while True:
                for s in range(position, self.n_streams):
                    p.position = s
                    nxt = p.take(s)
                    if nxt is None:
                        p.n = n
                        nxt = p.activate(s, 0)
                        if nxt is None:
                            continue
                    while True:
                        try:
                            item = nxt()
                        except StopIteration:
                            p.n = n
                            p.retire(s, 0, "exhausted")
                            break
                        except Exception as exc:
                            p.n = n
                            p.fail(s, 0, exc)
                            break
                        counts[s] += 1
                        n += 1
                        yield item
                        if n == limit:
                            return
                position = 0
                if self.mode == "exhaustive" or n == p.round_start:
                    return
                p.round_start = n
