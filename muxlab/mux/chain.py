"""ChainMux: run the first stream to its end, then the second, and so on."""

from collections.abc import Iterable

from ..errors import ParameterTypeError
from ..state import NotResumableError
from ..stats import MuxStats
from ..streamer import Streamer
from ..validation import check_choice, short_repr
from .base import BaseMux, CountingPass

MODES = ("exhaustive", "cycle")


class ChainMux(BaseMux):
    """As ``itertools.chain``: each stream in turn, to its end.

    ``streamers`` is a list of streamers (or any finite iterable of them, such
    as a generator object, read once when the mux is made; an empty one gives
    an empty stream), or a *stream of streamers*: a Streamer or a generator
    function whose items are streamers. A stream of streamers is opened anew
    on each pass and read one streamer at a time, so it may be endless; its
    streams are numbered in the order it yields them, and ``stats`` grows as
    they come. ``cycle`` starts again from the first stream after the last; a
    round in which no stream yields anything ends the pass.

    A pass over a list of streamers can be checkpointed and resumed (see
    :class:`~muxlab.mux.base.BaseMux`); a pass over a stream of streamers
    cannot: its ``state_dict()`` raises :class:`~muxlab.NotResumableError`.

    Examples
    --------
    >>> from muxlab import Streamer, ChainMux
    >>> ''.join(ChainMux([Streamer('abc'), Streamer('de')]))
    'abcde'
    >>> ''.join(ChainMux([Streamer('ab'), Streamer('c')], mode='cycle')(max_iter=7))
    'abcabca'

    A stream of streamers, here a generator function with its arguments:

    >>> def repeated(letters, n):
    ...     for c in letters:
    ...         yield Streamer(c * n)
    >>> mux = ChainMux(Streamer(repeated, 'xyz', 2))
    >>> ''.join(mux), mux.stats.samples.tolist()
    ('xxyyzz', [2, 2, 2])
    """

    _allow_empty = True

    def __init__(self, streamers, mode="exhaustive", random_state=None, *, on_error="raise", on_event=None):
        source = None
        if isinstance(streamers, Streamer):
            source = streamers
        elif callable(streamers) and not isinstance(streamers, Iterable):
            source = Streamer(streamers)
        super().__init__(
            [] if source is not None else streamers,
            random_state=random_state,
            on_error=on_error,
            on_event=on_event,
        )
        if source is not None:
            self.streamers = source
        self.mode = check_choice(type(self).__name__, "mode", mode, MODES)

    @property
    def n_streams(self):
        """The number of streams: the list's length, or those a stream of streamers has yielded so far."""
        return self.stats.n_streams

    def _fresh_stats(self):
        known = 0 if isinstance(self.streamers, Streamer) else len(self.streamers)
        return MuxStats(known, passes=getattr(self, "passes", None))

    def _config(self):
        return super()._config() | {"mode": self.mode}

    def _state_config(self):
        self._check_resumable()
        return super()._state_config()

    def _check_resumable(self):
        if isinstance(self.streamers, Streamer):
            raise NotResumableError(
                f"{self!r}: a ChainMux over a stream of streamers cannot be checkpointed: the stream of "
                f"streamers is read one streamer at a time (it may be endless), and the streamers it yielded "
                f"cannot be reopened where they stood. Give ChainMux a list of streamers to checkpoint its passes"
            )

    def _new_pass(self, max_iter, state):
        p = _ChainPass(self, max_iter, state)
        p.position = p.loop.get("position", 0)
        p.round_start = p.loop.get("round_start", 0)
        return p

    def _loop_state(self, p):
        return {"position": p.position, "round_start": p.round_start}

    def _round(self, position):
        """The streamers of one round from ``position``, as ``(index, streamer)``; a stream of streamers is opened anew."""
        if not isinstance(self.streamers, Streamer):
            for s in range(position, len(self.streamers)):
                yield s, None
            return
        source = self.streamers
        for i, item in enumerate(source._open()):
            if not isinstance(item, Streamer):
                try:
                    item = Streamer(item)
                except ParameterTypeError:
                    raise ParameterTypeError(
                        f"ChainMux: the stream of streamers {source!r} yielded {short_repr(item)} "
                        f"({type(item).__name__}) as its item {i}; expected a Streamer or an iterable"
                    ) from None
            self.stats.grow(i + 1)
            yield i, item

    def _run(self, p):
        with self._running(p):
            counts = p.counts
            limit = -1 if p.max_iter is None else p.max_iter
            n = p.yielded()
            if n == limit:
                return
            position = p.position
            while True:
                rounds = self._round(position)
                try:
                    for s, streamer in rounds:
                        p.position = s
                        nxt = p.take(s)
                        if nxt is None:
                            p.n = n
                            nxt = p.activate(s, 0, streamer)
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
                                p.fail(s, 0, exc, streamer)
                                break
                            counts[s] += 1
                            n += 1
                            yield item
                            if n == limit:
                                return
                finally:
                    rounds.close()
                position = 0
                if self.mode == "exhaustive" or n == p.round_start:
                    return
                p.round_start = n

    def __repr__(self):
        if isinstance(self.streamers, Streamer):
            return f"ChainMux({self.streamers!r}, mode={self.mode!r})"
        return f"ChainMux({len(self.streamers)} streamers, mode={self.mode!r})"


class _ChainPass(CountingPass):
    """One ChainMux pass, whose streams may be learnt as the pass goes (a stream of streamers)."""

    def activate(self, stream, slot, streamer=None):
        grow = stream + 1 - len(self.counts)
        if grow > 0:
            self.counts.extend([0] * grow)
            self.opened_at.extend([0] * grow)
        return super().activate(stream, slot, streamer)

    def state_dict(self, approximate=False):
        self.mux._check_resumable()
        return super().state_dict(approximate)
