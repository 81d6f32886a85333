"""What every mux shares: its streamers, its random source, its counters and its error policy."""

import contextlib
import copy
import typing
import weakref
from collections.abc import Mapping

import numpy as np

from ..errors import NotPicklableError, ParameterError, ParameterTypeError
from ..random_state import RandomSource
from ..state import (
    MUXLAB_VERSION,
    STATE_VERSION,
    check_state,
    decode_ints,
    encode_ints,
    load_source_state,
    source_state,
)
from ..stats import EventClock, MuxEvent, MuxStats
from ..streamer import Streamer, knobs_state, load_knobs_state, load_seeds_state, seeds_state
from ..validation import check_choice, check_int, short_repr
from .passes import Pass, PassIterator, PassRegistry

ON_ERROR = ("raise", "skip")


class PassHost(typing.Protocol):
    """What a pass and a parent mux call on a mux: the declared interface inside ``muxlab/mux/``.

    The pass of each mux (``muxlab.mux.passes``, ``slots``, ``chooser`` and
    the pass classes next to each mux) runs the loop; the mux keeps the
    configuration, the counters and the error policy. The methods are
    private to muxlab, and the only ones a pass or another mux may call.
    """

    def _stream_failed(self, stream, exc, streamer=None):
        """Name the failing stream on ``exc``; re-raise it, or count it if ``on_error='skip'``."""

    def _emit(self, kind, stream, slot, reason, clock, n, samples):
        """Send one :class:`~muxlab.stats.MuxEvent` to ``on_event``."""

    def _loop_state(self, p):
        """The loop's own part of the state of pass ``p``."""

    def _state_dict(self, p, approximate=False):
        """The whole checkpoint of pass ``p``: configuration, mux state and pass state."""

    def _check_resumable(self):
        """Raise :class:`~muxlab.NotResumableError` if a pass of this mux cannot be checkpointed."""

    def _mux_state(self):
        """What a checkpoint restores of the mux itself (live parameters, counters, streams' seeds and knobs)."""

    def _load_mux_state(self, state):
        """Restore what :meth:`_mux_state` returned."""

    def _state_config(self):
        """The configuration a checkpoint must have been taken from (nested muxes included)."""


def as_streamers(owner, streamers, allow_empty=False):
    """Return ``streamers`` as a list of :class:`Streamer`, wrapping plain iterables.

    >>> [type(s).__name__ for s in as_streamers('Mux', [[1, 2], Streamer('ab')])]
    ['Streamer', 'Streamer']
    """
    if isinstance(streamers, (str, bytes, Mapping)) or not hasattr(streamers, "__iter__"):
        raise ParameterTypeError(
            f"{owner}: streamers={short_repr(streamers)} is not a collection; expected a list of Streamers"
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
                f"{owner}: streamers[{i}]={short_repr(s)} ({type(s).__name__}) is not a Streamer, "
                f"an iterable or a generator function"
            ) from None
    if not out and not allow_empty:
        raise ParameterError(f"{owner}: streamers is empty; expected at least one streamer")
    return out


class BaseMux(Streamer):
    """A Streamer that interleaves the items of several streamers.

    Subclasses implement ``_new_pass(max_iter, state)``, returning their
    :class:`~muxlab.mux.passes.Pass`, and ``_run(pass_)``, the generator over
    one pass, which runs its loop inside ``with self._running(pass_):``.
    Iterating a mux never copies it or its streamers: each pass keeps its own
    state, so several passes may run at once.

    A mux pickles and deep-copies (to go to another process) while no pass
    over it is running. The copy has the same streamers and options, the live
    parameters at their current values, counters at zero, a lock and a random
    source of its own: a copy of a mux seeded with an int (or a Generator, or
    a RandomState, copied at its current state) yields what the original
    yields; with ``random_state=None`` each copy draws fresh entropy.
    ``copy.copy`` shares the Streamer objects and their arguments. Copying a
    mux in the middle of a pass raises :class:`~muxlab.NotPicklableError`;
    a state given to :meth:`load_state_dict` stays with the original.

    Every pass can be checkpointed: ``it = mux.iterate()`` (or ``iter(mux)``,
    ``mux(max_iter=...)``) returns an iterator whose ``state_dict()`` is plain
    JSON-serialisable data, and ``mux.iterate(state=sd)`` on the same mux
    built again, in this process or another, continues that pass exactly:
    the same items, the same counters, the live parameters in force.

    >>> from muxlab import Streamer, RoundRobinMux
    >>> mux = RoundRobinMux([Streamer('abc'), Streamer('xyz')])
    >>> it = mux.iterate()
    >>> ''.join(next(it) for _ in range(3))
    'axb'
    >>> sd = it.state_dict()
    >>> ''.join(RoundRobinMux([Streamer('abc'), Streamer('xyz')]).iterate(state=sd))
    'ycz'
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
        self.passes = PassRegistry()
        self.stats = MuxStats(len(self.streamers), passes=self.passes)
        self._next_state = None

    @property
    def n_streams(self):
        return len(self.streamers)

    @property
    def active(self):
        """How many passes over this mux are running now (pescador's ``active``)."""
        return self.stats.running

    # -- passes -------------------------------------------------------------------
    def iterate(self, max_iter=None, state=None):
        """Start a pass: an iterator over at most ``max_iter`` items (all if None), with ``state_dict()``.

        ``state``, a dict an iterator's ``state_dict()`` returned (also
        through JSON, also in another process), continues that pass exactly
        where it stood, on a mux built the same way; its counters and live
        parameters are restored with it. ``max_iter`` then may be omitted
        (the pass keeps the limit it had). Without ``state``, a state given to
        :meth:`load_state_dict` is used once.
        """
        owner = f"{type(self).__name__}.iterate"
        if max_iter is not None:
            max_iter = check_int(owner, "max_iter", max_iter, minimum=0)
        if state is None and self._next_state is not None:
            state, self._next_state = self._next_state, None
        pass_state = None
        if state is not None:
            self._check_state(owner, state)
            saved = state["pass"]["max_iter"]
            if max_iter is not None and max_iter != saved:
                raise ParameterError(
                    f"{owner}: max_iter={max_iter} differs from the limit of the pass the state was taken from "
                    f"(max_iter={saved}); omit max_iter to continue that pass"
                )
            max_iter = saved
            self._load_mux_state(state["mux"])
            pass_state = state["pass"]
        p, gen = self._start(max_iter, pass_state)
        if pass_state is not None:
            # Live values as restored: a change made before the pass's first item is applied when it starts.
            p.live_at_restore = self._live_state()
        return PassIterator(self, p, gen)

    def _start(self, max_iter, state):
        """A new pass and its generator; continuing from ``state`` (a pass's ``state_dict()``) if given."""
        started = state is not None and state["started"]
        finished = started and state["finished"]
        p = self._new_pass(max_iter, state if started and not finished else None)
        if max_iter == 0 or finished:
            p.started = p.finished = finished
            gen = _nothing()
        else:
            gen = self._run(p)
        p.generator = weakref.ref(gen)  # weak: the generator's frame holds the pass
        return p, gen

    def load_state_dict(self, state):
        """Make the next ``iter(mux)`` (or ``iterate()`` without ``state``) continue the pass ``state`` describes."""
        self._check_state(f"{type(self).__name__}.load_state_dict", state)
        self._next_state = state

    def __iter__(self):
        return self.iterate()

    def __call__(self, max_iter=None, cycle=False):
        """Iterate (``cycle=False``) or cycle (``cycle=True``), at most ``max_iter`` items."""
        return self.cycle(max_iter) if cycle else self.iterate(max_iter)

    def generate(self, max_batches=None):
        """Same as :meth:`iterate`, under the name the pescador 1.x documents use."""
        return self.iterate(max_iter=max_batches)

    # A mux is a Streamer: as the stream of another mux, each activation is one pass.
    def _open(self):
        return self._start(None, None)[1]

    def _iterate(self, max_iter):
        return self.iterate(max_iter)

    @contextlib.contextmanager
    def _running(self, p):
        """Register ``p`` while its loop runs; close it and hand its counts over however the loop ends."""
        if p.restored is None:
            self.stats.add_pass()
            rng = getattr(p, "rng", None)
            if rng is not None:
                self.random_source.seed_pass(rng)
        elif getattr(p, "live_at_restore", None) is not None and self._live_state() != p.live_at_restore:
            p.request_changes()  # k, lam or weights changed between iterate(state=...) and the first item
        p.started = True
        self.passes.add(p)
        try:
            yield p
        finally:
            p.finished = True
            try:
                p.close()
            finally:
                self.passes.remove(p)

    def _new_pass(self, max_iter, state):  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def _run(self, p):  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    # -- checkpoints --------------------------------------------------------------
    def _config(self):
        """What a state must have been taken from: the parts of the configuration a pass depends on."""
        return {
            "class": type(self).__name__,
            "n_streams": self.n_streams,
            "random_state": _describe_random_state(self.random_state),
            "on_error": self.on_error,
        }

    def _live_state(self):
        """Live parameters in force (none for a mux without live parameters)."""
        return {}

    def _load_live_state(self, state):
        pass

    def _mux_state(self):
        """Everything about the mux (not one pass) a checkpoint restores: live parameters, counters, stream state."""
        nested = {}
        for i, s in enumerate(self.streamers):
            inner = _as_mux(s)
            if inner is not None:
                nested[str(i)] = inner._mux_state()
        return {
            "live": self._live_state(),
            "stats": self.stats.state_dict(),
            # A Generator or RandomState keeps drawing across passes: its state belongs to the mux, not to one pass.
            "source": source_state(self.random_state),
            "seeds": encode_ints(seeds_state(self.streamers)),
            "knobs": knobs_state(self.streamers),
            "nested": nested,
        }

    def _load_mux_state(self, state):
        self._load_live_state(state["live"])
        load_source_state(self.random_state, state["source"])
        load_seeds_state(self.streamers, decode_ints(state["seeds"]).tolist())
        load_knobs_state(self.streamers, state["knobs"])
        for key, inner_state in state["nested"].items():
            _as_mux(self.streamers[int(key)])._load_mux_state(inner_state)
        self.stats.load_state_dict(state["stats"])

    def _check_state(self, owner, state):
        check_state(owner, state, self._state_config())

    def _state_config(self):
        config = self._config()
        for i, s in enumerate(self.streamers):
            inner = _as_mux(s)
            if inner is not None:
                config[f"streamers[{i}]"] = inner._state_config()
        return config

    def _state_dict(self, p, approximate=False):
        """The state of pass ``p`` of this mux (see :meth:`PassIterator.state_dict`)."""
        with_pass = p.state_dict(approximate)
        return {
            "version": STATE_VERSION,
            "muxlab": MUXLAB_VERSION,
            "config": self._state_config(),
            "mux": self._mux_state(),
            "pass": with_pass,
        }

    # As the stream of another mux: an activation is a pass, restored from its own state.
    def _activation_state(self, iterator, count, approximate=False):
        p = self.passes.find(iterator)
        if p is None:  # not started yet, or ended: nothing of it to restore
            return {"pass": {"max_iter": None, "started": False, "finished": False}}
        return {"pass": p.state_dict(approximate)}

    def _resume_activation(self, state):
        return self._start(None, state["pass"])[1]

    # -- errors and events ----------------------------------------------------------
    def _stream_failed(self, stream, exc, streamer=None):
        """Name the failing stream on ``exc``; re-raise it, or keep it if ``on_error='skip'``."""
        if streamer is None:
            streamer = self.streamers[stream]
        exc.add_note(f"raised by stream {stream} of {type(self).__name__}: {streamer!r}")
        if self.on_error == "raise":
            raise exc
        self.stats.add_error(stream, exc)

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
        del state["passes"]  # the running passes and their lock belong to this mux alone
        state["stats"] = self._fresh_stats()
        state["_next_state"] = None  # a pass to continue (load_state_dict) is this mux's, not its copies'
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.random_source = RandomSource(self.random_state, owner=type(self).__name__)
        self.passes = PassRegistry()
        self.stats = self._fresh_stats()  # counters at zero, read under the new registry's lock

    def __copy__(self):
        """A mux over the same Streamer objects (their arguments are not copied), with its own random state and counters."""
        state = self.__getstate__()
        state["streamers"] = copy.copy(self.streamers)
        state["random_state"] = copy.deepcopy(self.random_state)
        new = object.__new__(type(self))
        new.__setstate__(state)
        return new

    def _fresh_stats(self):
        return MuxStats(len(self.streamers), passes=getattr(self, "passes", None))

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


def _nothing():
    """A pass with nothing to yield (``max_iter=0``, or restored after its end)."""
    return
    yield


def _as_mux(streamer):
    """The mux ``streamer`` is (or wraps), or None."""
    while not isinstance(streamer, BaseMux):
        if type(streamer) is Streamer and isinstance(streamer.streamer, Streamer):
            streamer = streamer.streamer
        else:
            return None
    return streamer


def _describe_random_state(random_state):
    if random_state is None:
        return None
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return int(random_state)
    if isinstance(random_state, np.random.SeedSequence):
        return {"entropy": str(random_state.entropy), "spawn_key": list(random_state.spawn_key)}
    return type(random_state).__name__


class CountingPass(Pass):
    """One pass of a mux whose streams are all known: items per stream so far.

    ``counts[i]`` is the number of items stream ``i`` yielded in this pass;
    ``opened_at[i]`` its value when the current activation of ``i`` began;
    ``active`` the streams whose activation is open. ``base`` is what the pass
    had yielded before it was restored (0 for a fresh pass).
    """

    def __init__(self, mux, max_iter, state=None):
        self.mux = mux
        self.max_iter = max_iter
        self.generator = None
        self.stats = mux.stats
        self.lock = mux.passes.lock
        n = mux.n_streams
        self.counts = [0] * n
        self.opened_at = [0] * n
        self.iters = {}
        self.active = []
        self.base = 0
        self.n = 0
        self.clock = EventClock()
        self.restored = state
        self.started = self.finished = False
        self.resumed = {}  # stream -> restored iterator's __next__, taken by the loop
        self.loop = {}
        if state is not None:
            self.base = int(state["n"])
            self.loop = state["loop"]
            for stream, got, at in state["activations"]:
                it = mux.streamers[stream]._resume_activation(at)
                self.counts[stream] = int(got)
                self.base -= int(got)
                self.iters[stream] = it
                self.active.append(stream)
                self.resumed[stream] = it.__next__

    def yielded(self):
        return self.base + sum(self.counts)

    # -- the pass protocol ------------------------------------------------------
    def live_samples(self):
        counts, opened_at = self.counts, self.opened_at
        streams = list(self.active)
        return streams, [counts[s] - opened_at[s] for s in streams]

    def active_streams(self):
        return list(self.active)

    def close(self):
        for it in list(self.iters.values()):
            close = getattr(it, "close", None)
            if close is not None:
                close()
        self.iters.clear()


    def state_dict(self, approximate=False):
        out = {"max_iter": self.max_iter, "started": self.started, "finished": self.finished}
        if not self.started or self.finished:
            return out
        streamers = self.mux.streamers
        activations = []
        for s in self.active:
            got = self.counts[s] - self.opened_at[s]
            activations.append([s, got, streamers[s]._activation_state(self.iters[s], got, approximate)])
        out.update(n=self.yielded(), activations=activations, loop=self.mux._loop_state(self))
        return out

    # -- activation and retirement ------------------------------------------------
    def take(self, stream):
        """The restored activation of ``stream``'s ``__next__`` if there is one (once), else None."""
        return self.resumed.pop(stream, None) if self.resumed else None

    def activate(self, stream, slot, streamer=None):
        """Open ``stream`` and count the activation; returns its iterator's ``__next__`` (None on a skipped error).

        ``streamer`` is the stream's Streamer when the mux does not hold a list of them.
        """
        mux = self.mux
        self.opened_at[stream] = self.counts[stream]
        try:
            it = (mux.streamers[stream] if streamer is None else streamer)._open()
        except Exception as exc:
            mux._stream_failed(stream, exc, streamer)
            with self.lock:
                self.stats.add_retirement(stream, 0, "error")
            return None
        self.iters[stream] = it
        with self.lock:
            self.active.append(stream)
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
        got = self.counts[stream] - self.opened_at[stream]
        with self.lock:
            self.stats.add_retirement(stream, got, reason)
            self.opened_at[stream] = self.counts[stream]
            if stream in self.active:
                self.active.remove(stream)
        self.iters.pop(stream, None)
        if mux.on_event is not None:
            mux._emit("retire", stream, slot, reason, self.clock, self.n, got)
        return got
