"""RoundRobinMux: take one item from each stream in turn."""

from ..state import decode_ints, encode_ints, rng_state, set_rng_state
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

    def _config(self):
        return super()._config() | {"mode": self.mode}

    def _new_pass(self, max_iter, state):
        p = CountingPass(self, max_iter, state)
        p.rng = self.random_source.for_pass(deferred=True)
        loop = p.loop
        if loop:
            set_rng_state(p.rng, loop["rng"])
            p.order = decode_ints(loop["order"]).tolist()
            p.ring = [(s, p.take(s)) for s in loop["ring"]]
            p.pos = loop["pos"]
            p.round_start = loop["round_start"]
        else:
            p.order = list(range(self.n_streams))
            p.ring = None
            p.pos = p.round_start = 0
        return p

    def _loop_state(self, p):
        return {
            "rng": rng_state(p.rng),
            "order": encode_ints(p.order),
            "ring": [s for s, _ in p.ring],
            "pos": p.pos,
            "round_start": p.round_start,
        }

    def _run(self, p):
        with self._running(p):
            rng = p.rng
            counts = p.counts
            limit = -1 if p.max_iter is None else p.max_iter
            n = p.yielded()
            if n == limit:
                return
            ring, pos = p.ring, p.pos
            while True:
                if ring is None:
                    p.n = n
                    ring = []
                    p.ring = ring
                    for i in p.order:
                        nxt = p.activate(i, i)
                        if nxt is not None:
                            ring.append((i, nxt))
                    p.round_start = n
                    pos = 0
                while ring:
                    if pos >= len(ring):
                        pos = 0
                    s, nxt = ring[pos]
                    try:
                        item = nxt()
                    except StopIteration:
                        p.n = n
                        p.retire(s, s, "exhausted")
                        del ring[pos]
                        continue
                    except Exception as exc:
                        p.n = n
                        try:
                            p.fail(s, s, exc)
                        finally:
                            del ring[pos]
                        continue
                    counts[s] += 1
                    n += 1
                    pos += 1
                    p.pos = pos
                    yield item
                    if n == limit:
                        return
                if self.mode == "exhaustive" or n == p.round_start:
                    return
                if self.mode == "permuted_cycle":
                    p.order = rng.permutation(self.n_streams).tolist()
                ring = None
