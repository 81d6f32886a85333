"""ChainMux: run the first stream to its end, then the second, and so on."""

from collections.abc import Iterable

import numpy as np

from ..errors import ParameterTypeError
from ..stats import MuxStats
from ..streamer import Streamer
from ..validation import _short_repr, check_choice
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
        return MuxStats(known, names=self.stats.names)

    def _rounds(self):
        """The streamers of one round, as ``(index, streamer)``; a stream of streamers is opened anew."""
        if not isinstance(self.streamers, Streamer):
            yield from enumerate(self.streamers)
            return
        source = self.streamers
        for i, item in enumerate(source._open()):
            if not isinstance(item, Streamer):
                try:
                    item = Streamer(item)
                except ParameterTypeError:
                    raise ParameterTypeError(
                        f"ChainMux: the stream of streamers {source!r} yielded {_short_repr(item)} "
                        f"({type(item).__name__}) as its item {i}; expected a Streamer or an iterable"
                    ) from None
            self.stats._grow(i + 1)
            yield i, item

    def _run(self, max_iter):
        if max_iter == 0:
            return
        st = _ChainPass(self)
        self.stats._start_pass(st)
        limit = -1 if max_iter is None else max_iter
        n = 0
        try:
            while True:
                n_before = n
                rounds = self._rounds()
                try:
                    for s, streamer in rounds:
                        st.n = n
                        nxt = st.activate(s, 0, streamer)
                        if nxt is None:
                            continue
                        counts = st.counts
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
                                st.fail(s, 0, exc, streamer)
                                break
                            counts[s] += 1
                            n += 1
                            yield item
                            if n == limit:
                                return
                        st.active = []
                finally:
                    rounds.close()
                if self.mode == "exhaustive" or n == n_before:
                    return
        finally:
            self.stats._end_pass(st)

    def __repr__(self):
        if isinstance(self.streamers, Streamer):
            return f"ChainMux({self.streamers!r}, mode={self.mode!r})"
        return f"ChainMux({len(self.streamers)} streamers, mode={self.mode!r})"


class _ChainPass(CountingPass):
    """The bookkeeping of one ChainMux pass, whose streams may be learnt as the pass goes."""

    def live_samples(self):
        out = np.zeros(self.mux.stats.n_streams, dtype=np.int64)
        out[: len(self.counts)] = self.counts
        return out

    def activate(self, stream, slot, streamer=None):
        grow = stream + 1 - len(self.counts)
        if grow > 0:
            self.counts.extend([0] * grow)
            self.started.extend([0] * grow)
        return super().activate(stream, slot, streamer)
