"""What every mux shares: its streamers, its random source, its counters and its error policy."""

import copy
from collections.abc import Mapping

import numpy as np

from ..errors import NotPicklableError, ParameterError, ParameterTypeError
from ..random_state import RandomSource
from ..stats import EventClock, MuxEvent, MuxStats
from ..streamer import Streamer
from ..validation import _short_repr, check_choice

ON_ERROR = ("raise", "skip")


def as_streamers(owner, streamers, allow_empty=False):
    """Return ``streamers`` as a list of :class:`Streamer`, wrapping plain iterables.

    >>> [type(s).__name__ for s in as_streamers('Mux', [[1, 2], Streamer('ab')])]
    ['Streamer', 'Streamer']
    """
    if isinstance(streamers, (str, bytes, Mapping)) or not hasattr(streamers, "__iter__"):
        raise ParameterTypeError(
            f"{owner}: streamers={_short_repr(streamers)} is not a collection; expected a list of Streamers"
        )
    out = []
    for i, s in enumerate(streamers):
        if isinstance(s, Streamer):
            out.append(s)
            continue
        try:
            out.append(Streamer(s))
        except ParameterTypeError:
            raise ParameterTypeError(
                f"{owner}: streamers[{i}]={_short_repr(s)} ({type(s).__name__}) is not a Streamer, "
                f"an iterable or a generator function"
            ) from None
    if not out and not allow_empty:
        raise ParameterError(f"{owner}: streamers is empty; expected at least one streamer")
    return out


class BaseMux(Streamer):
    """A Streamer that interleaves the items of several streamers.

    Subclasses implement ``_run(max_iter)``, a generator over one pass.
    Iterating a mux never copies it or its streamers: each pass keeps its own
    state, so several passes may run at once.

    A mux pickles and deep-copies (to go to another process) while no pass
    over it is running. The copy has the same streamers and options, the live
    parameters at their current values, counters at zero, a lock and a random
    source of its own: a copy of a mux seeded with an int (or a Generator, or
    a RandomState, copied at its current state) yields what the original
    yields; with ``random_state=None`` each copy draws fresh entropy.
    ``copy.copy`` shares the Streamer objects and their arguments. Copying a
    mux in the middle of a pass raises :class:`~muxlab.NotPicklableError`.
    """

    #: Whether a mux of no streamers is accepted (an empty stream) rather than refused.
    _allow_empty = False

    def __init__(self, streamers, random_state=None, on_error="raise", on_event=None):
        owner = type(self).__name__
        self.streamers = as_streamers(owner, streamers, allow_empty=self._allow_empty)
        self.random_state = random_state
        self.random_source = RandomSource(random_state, owner=owner)
        self.on_error = check_choice(owner, "on_error", on_error, ON_ERROR)
        if on_event is not None and not callable(on_event):
            raise ParameterTypeError(f"{owner}: on_event={on_event!r} is not callable; expected a function or None")
        self.on_event = on_event
        self.stats = MuxStats(len(self.streamers))

    @property
    def n_streams(self):
        return len(self.streamers)

    @property
    def active(self):
        """How many passes over this mux are running now (pescador's ``active``)."""
        return self.stats.running

    # A mux is a Streamer whose items come from _run().
    def _open(self):
        return self._run(None)

    def _iterate(self, max_iter):
        return self._run(max_iter)

    def _run(self, max_iter):  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def _stream_failed(self, stream, exc, streamer=None):
        """Name the failing stream on ``exc``; re-raise it, or keep it if ``on_error='skip'``."""
        if streamer is None:
            streamer = self.streamers[stream]
        exc.add_note(f"raised by stream {stream} of {type(self).__name__}: {streamer!r}")
        if self.on_error == "raise":
            raise exc
        self.stats._record_error(stream, exc)

    def _emit(self, kind, stream, slot, reason, clock, n, samples):
        self.on_event(MuxEvent(kind, stream, slot, reason, clock(), n, samples))

    def __repr__(self):
        return f"{type(self).__name__}({len(self.streamers)} streamers)"

    # -- copies and pickling ------------------------------------------------
    # What is kept is the configuration: streamers, options and the live
    # parameters at their current values. The random source, the counters and
    # their lock are made fresh, so a copy is independent of the original.
    def __getstate__(self):
        self._check_picklable()
        state = self.__dict__.copy()
        del state["random_source"]
        state["stats"] = self._fresh_stats()
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.random_source = RandomSource(self.random_state, owner=type(self).__name__)

    def __copy__(self):
        """A mux over the same Streamer objects (their arguments are not copied), with its own random state and counters."""
        state = self.__getstate__()
        state["streamers"] = copy.copy(self.streamers)
        state["random_state"] = copy.deepcopy(self.random_state)
        new = object.__new__(type(self))
        new.__setstate__(state)
        return new

    def _fresh_stats(self):
        return MuxStats(len(self.streamers), names=self.stats.names)

    def _check_picklable(self, where=None):
        """Raise :class:`~muxlab.NotPicklableError` if a pass is running or a streamer cannot be sent."""
        owner = where or type(self).__name__
        running = self.stats.running
        if running:
            passes = "a pass over it is" if running == 1 else f"{running} passes over it are"
            raise NotPicklableError(
                f"{owner}: cannot pickle or copy {self!r} while {passes} running: a pass holds the open "
                f"iterators of its active streams, which can be neither copied nor sent to another process, "
                f"and a copy would not go on from where the pass is. Pickle or copy the mux before iterating "
                f"it, or once the pass has ended (run to its end, or its iterator closed with close())"
            )
        if isinstance(self.streamers, Streamer):  # a ChainMux over a stream of streamers
            self.streamers._check_picklable(f"{owner}: streamers")
            return
        for i, streamer in enumerate(self.streamers):
            streamer._check_picklable(f"{owner}: streamers[{i}]")


class CountingPass:
    """Bookkeeping of one pass of a mux whose streams are all known: items per stream so far.

    ``counts[i]`` is the number of items stream ``i`` yielded in this pass;
    ``started[i]`` its value when the current activation of ``i`` began.
    """

    def __init__(self, mux):
        self.mux = mux
        n = mux.n_streams
        self.counts = [0] * n
        self.started = [0] * n
        self.active = []
        self.n = 0
        self.clock = EventClock()

    def live_samples(self):
        return np.asarray(self.counts, dtype=np.int64)

    def active_streams(self):
        return list(self.active)

    def activate(self, stream, slot, streamer=None):
        """Open ``stream`` and count the activation; returns its iterator's ``__next__`` (None on a skipped error).

        ``streamer`` is the stream's Streamer when the mux does not hold a list of them.
        """
        mux = self.mux
        mux.stats._activations[stream] += 1
        self.started[stream] = self.counts[stream]
        try:
            it = (mux.streamers[stream] if streamer is None else streamer)._open()
        except Exception as exc:
            mux._stream_failed(stream, exc, streamer)
            mux.stats.retirements["error"] += 1
            return None
        if mux.on_event is not None:
            mux._emit("activate", stream, slot, None, self.clock, self.n, 0)
        return it.__next__

    def fail(self, stream, slot, exc, streamer=None):
        """A stream raised: name it on the exception and re-raise, or retire it (``on_error='skip'``)."""
        try:
            self.mux._stream_failed(stream, exc, streamer)
        finally:
            self.retire(stream, slot, "error")

    def retire(self, stream, slot, reason):
        """Count the end of the current activation of ``stream``; returns the items it yielded."""
        mux = self.mux
        got = self.counts[stream] - self.started[stream]
        mux.stats.retirements[reason] += 1
        if mux.on_event is not None:
            mux._emit("retire", stream, slot, reason, self.clock, self.n, got)
        return got
