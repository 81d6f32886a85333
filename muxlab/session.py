"""Session: a running exploration of a Mux over disk loaders, without any widget.

A :class:`Session` owns what the explorer shows: the loaders' streams over a
collection, the :class:`~muxlab.Mux` that interleaves them, the
:class:`~muxlab.Knob` the loaders read the window size ``n`` from, one
daemon thread that iterates the Mux as a training loop would, and the
timelines of memory and throughput that thread records. ``k``, ``lam``, ``n``
and ``strategy`` are live properties: a setter validates, raises on a bad
value (the run goes on), and the running Mux takes the new value before its
next window. A new strategy builds a new Mux over the same items; the
per-stream counts of the old one are kept, so the totals go on.

It imports no widget: scripts and tests drive it directly, and
:class:`muxlab.widgets.Explorer` is a view of one.

>>> from muxlab.fixtures import ensure
>>> with Session(ensure('tiny'), k=4, lam=8, n=16, random_state=0) as s:
...     s.k = 2
...     snap = s.snapshot()
>>> snap.k, snap.lam, snap.n, snap.samples, snap.running
(2, 8.0, 16, 0, False)
"""

import collections
import dataclasses
import threading
import time
import warnings
import weakref
from pathlib import Path

import numpy as np

from . import fixtures, loaders
from .errors import DataError, MuxlabError, ParameterError
from .memory_probe import read_memory
from .knob import Knob
from .mux import Mux
from .validation import check_choice, check_int, check_positive_number

__all__ = ["Session", "Snapshot", "TOUCH_MODES"]

#: How the consumer reads each window's ``X``: its first and last value, every value, or nothing.
TOUCH_MODES = ("ends", "all", "none")


_MEMORY_COLUMNS = ("t", "rss", "rss_anon", "rss_file")
_THROUGHPUT_COLUMNS = ("t", "windows_per_s", "samples")


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """What a :class:`Session` shows at one moment: parameters, counters and timelines.

    Attributes
    ----------
    t : float
        Seconds since the session was made (the clock of the timelines).
    strategy : str
        The loader strategy in use.
    running : bool
        Whether streaming is on.
    samples : int
        Windows drawn so far, over every strategy.
    rows : int
        Rows of the last window drawn (0 before the first).
    windows_per_s : float
        Windows drawn per second over the last second (0 while paused).
    active : int
        Active slots of the Mux now.
    k, lam, n : int, float, int
        The parameters in force.
    names : tuple of str
        One name per stream.
    activations, stream_samples : numpy.ndarray
        Per stream: activations and samples over every strategy so far.
    active_streams : numpy.ndarray
        The stream of each active slot.
    memory : pandas.DataFrame
        ``t`` (s), ``rss``, ``rss_anon``, ``rss_file`` (bytes) of this process.
    throughput : pandas.DataFrame
        ``t`` (s), ``windows_per_s``, ``samples``.
    swaps : tuple
        One ``(t, samples, old, new)`` per strategy change.
    error : BaseException or None
        What stopped streaming last, if anything.
    """

    t: float
    strategy: str
    running: bool
    samples: int
    rows: int
    windows_per_s: float
    active: int
    k: int
    lam: float
    n: int
    names: tuple
    activations: np.ndarray
    stream_samples: np.ndarray
    active_streams: np.ndarray
    memory: object
    throughput: object
    swaps: tuple
    error: object

    def to_frame(self):
        """Per stream: ``stream``, ``name``, ``activations``, ``samples`` and ``active`` (slots held now)."""
        import pandas as pd

        return pd.DataFrame(
            {
                "stream": np.arange(len(self.names)),
                "name": list(self.names),
                "activations": self.activations,
                "samples": self.stream_samples,
                "active": np.bincount(self.active_streams, minlength=len(self.names)),
            }
        )


class _Control:
    """What the stream thread waits on, kept apart from the Session so a finalizer can stop it."""

    def __init__(self):
        self.stop = threading.Event()  # everything ends
        self.run = threading.Event()  # streaming is wanted
        self.wake = threading.Event()  # the thread should look at its state again
        self.idle = threading.Event()  # the thread is parked (not inside the Mux)
        self.interrupt = False  # the thread leaves its loop at the next window
        self.thread = None

    def shutdown(self, timeout=5.0):
        self.stop.set()
        self.run.clear()
        self.interrupt = True
        self.wake.set()
        thread = self.thread
        if thread is not None and thread is not threading.current_thread() and thread.is_alive():
            thread.join(timeout)


class Session:
    """Stream from a Mux over a collection in a background thread, with live ``k``, ``lam``, ``n`` and strategy.

    Parameters
    ----------
    source : Collection, folder, glob or list of files, optional
        Your own archives (see :meth:`muxlab.Collection.scan`) or a folder
        muxlab generated; default: the ``demo`` preset, made on first use
        (:func:`muxlab.fixtures.ensure`).
    strategy : str or None
        A loader strategy, one of :data:`muxlab.loaders.STRATEGIES`, that the
        collection's layout allows (:attr:`strategies`); None picks
        ``npy_mmap`` when the collection has the ``.npy`` layout, else
        ``npz_copy``.
    k : int >= 1
        Active streams of the Mux.
    lam : float >= 1
        Mean samples per activation.
    n : int >= 1
        Rows per window, at most the rows of the smallest item.
    random_state : None or int
        Seed of the Mux and of the loaders' window offsets.
    keys : sequence of str, optional
        The arrays of every item when ``source`` is scanned (default
        ``('X', 'Y')``, or a Collection's own); the consumer reads the first.
    touch : {'ends', 'all', 'none'}
        How the consumer reads each window's ``X``: its first and last value
        (the pages at both ends of the window), every value (``X.sum()``), or
        only looks it up.
    interval : float
        Seconds between two points of the memory and throughput timelines
        while streaming.
    max_points : int
        Points kept in each timeline (the oldest are dropped).

    Examples
    --------
    >>> import time
    >>> from muxlab.fixtures import ensure
    >>> s = Session(ensure('tiny'), k=4, lam=8, n=16, random_state=0)
    >>> s.start()
    >>> s.n = 32
    >>> while s.rows != 32:
    ...     time.sleep(0.01)
    >>> s.pause()
    >>> snap = s.snapshot()
    >>> snap.samples > 0, snap.rows, snap.running
    (True, 32, False)
    >>> s.stop()
    """

    def __init__(self, source=None, strategy="npy_mmap", k=32, lam=16, n=16, random_state=None, *, keys=None,
                 touch="ends", interval=0.25, max_points=4 * 3600):
        owner = "Session"
        if source is None:
            source = Path(fixtures.ensure("demo"))
        self._source = source
        self._collection = loaders.collection_of(source, keys, owner=owner)
        items = self._collection.items
        if not items:
            raise ParameterError(f"{owner}: the collection holds no items; expected at least one")
        self._keys = self._collection.keys
        self._names = tuple(item.name for item in items)
        self._max_n = int(min(item.rows for item in items))
        self._strategies = tuple(s for s in loaders.STRATEGIES if loaders.missing_layout(s, self._collection) is None)
        if strategy is None:
            strategy = next((s for s in ("npy_mmap", "npz_copy") if s in self._strategies), self._strategies[0])
        strategy = self._check_strategy(strategy)
        self._k = check_int(owner, "k", k, minimum=1)
        self._lam = check_positive_number(owner, "lam", lam, minimum=1)
        self._touch = TOUCH_MODES.index(check_choice(owner, "touch", touch, TOUCH_MODES))
        self._interval = check_positive_number(owner, "interval", interval, minimum=0.01)
        max_points = check_int(owner, "max_points", max_points, minimum=2)
        self._random_state = random_state
        self._knob = Knob(n, validate=self._check_n)

        self._lock = threading.RLock()  # the current Mux, a pending swap, the history
        self._swap_lock = threading.Lock()  # one strategy change at a time
        self._strategy = strategy
        self._mux = self._build_mux(strategy)
        self._pending = None
        self._swapped = threading.Event()
        self._hist_activations = np.zeros(self._mux.n_streams, dtype=np.int64)
        self._hist_samples = np.zeros(self._mux.n_streams, dtype=np.int64)
        self._swaps = []

        # written by the stream thread only
        self._count = 0
        self._rows = 0
        self._throughput = 0.0
        self._marks = collections.deque()
        self._error = None
        self._t0 = time.monotonic()
        self._timeline = collections.deque(maxlen=max_points)

        self._observers = []
        self._ctl = _Control()
        self._closed = False
        self._finalizer = weakref.finalize(self, _Control.shutdown, self._ctl)

    # ------------------------------------------------------------------ checks
    def _check_n(self, value):
        value = check_int("Session", "n", value, minimum=1)
        if self._max_n is not None and value > self._max_n:
            raise ParameterError(
                f"Session: n={value} is more than the {self._max_n} rows of the smallest item; "
                f"expected 1 <= n <= {self._max_n}"
            )
        return value

    def _check_strategy(self, value):
        value = check_choice("Session", "strategy", value, tuple(loaders.STRATEGIES))
        why = loaders.missing_layout(value, self._collection)
        if why is not None:
            raise DataError(f"Session: strategy={value!r} {why}")
        return value

    def _build_mux(self, strategy):
        streams = loaders.streams(strategy, self._collection, self._knob, random_state=self._random_state)
        return Mux(streams, k=self._k, lam=self._lam, random_state=self._random_state)

    # ------------------------------------------------------------------ what it streams
    @property
    def source(self):
        """What the streams read, as given (or the demo folder)."""
        return self._source

    @property
    def collection(self):
        """The :class:`~muxlab.Collection` streamed from."""
        return self._collection

    @property
    def keys(self):
        """The arrays of every item; the consumer reads the first."""
        return self._keys

    @property
    def strategies(self):
        """The strategies the collection's layout allows (the ``.npy`` ones need ``muxlab convert``)."""
        return self._strategies

    @property
    def names(self):
        """One name per stream (the manifest's item names, else the stream indices)."""
        return self._names

    @property
    def max_n(self):
        """The largest ``n`` accepted: the rows of the smallest item."""
        return self._max_n

    @property
    def mux(self):
        """The Mux streaming now (a new one after each strategy change)."""
        return self._mux

    @property
    def knob(self):
        """The :class:`~muxlab.Knob` the loaders read ``n`` from."""
        return self._knob

    # ------------------------------------------------------------------ live parameters
    @property
    def k(self):
        """Active streams; setting it changes the running Mux."""
        return self._k

    @k.setter
    def k(self, value):
        value = check_int("Session", "k", value, minimum=1)
        if value == self._k:
            return
        with self._lock:
            self._mux.k = value
            if self._pending is not None:
                self._pending[1].k = value
            self._k = value
        self._notify("k", value)

    @property
    def lam(self):
        """Mean samples per activation; setting it changes the running Mux."""
        return self._lam

    @lam.setter
    def lam(self, value):
        value = check_positive_number("Session", "lam", value, minimum=1)
        if value == self._lam:
            return
        with self._lock:
            self._mux.lam = value
            if self._pending is not None:
                self._pending[1].lam = value
            self._lam = value
        self._notify("lam", value)

    @property
    def n(self):
        """Rows per window; setting it changes what the loaders read from the next window on."""
        return self._knob.value

    @n.setter
    def n(self, value):
        value = self._check_n(value)
        if value == self._knob.value:
            return
        self._knob.value = value
        self._notify("n", value)

    @property
    def strategy(self):
        """The loader strategy; setting it builds a new Mux over the same items (the counts so far are kept).

        The new streams are checked first: if they cannot be used the setter
        raises and streaming goes on with the old strategy.
        """
        return self._strategy

    @strategy.setter
    def strategy(self, value):
        value = self._check_strategy(value)
        with self._swap_lock:
            if value == self._strategy:
                return
            new = self._build_mux(value)
            with self._lock:
                self._pending = (value, new)
                self._swapped.clear()
            thread = self._ctl.thread
            if thread is None or not thread.is_alive():
                self._apply_swap()
            else:
                self._ctl.interrupt = True
                self._ctl.wake.set()
                if threading.current_thread() is not thread:
                    self._swapped.wait(5.0)
        self._notify("strategy", value)

    def _apply_swap(self):
        """Add the old Mux's counts to the history and make the pending Mux current."""
        with self._lock:
            pending, self._pending = self._pending, None
            if pending is None:
                return
            old = self._mux
            self._hist_activations += old.stats.activations
            self._hist_samples += old.stats.samples
            self._swaps.append((time.monotonic() - self._t0, self._count, self._strategy, pending[0]))
            self._strategy, self._mux = pending
        self._swapped.set()

    # ------------------------------------------------------------------ state
    @property
    def running(self):
        """True while streaming is on (False when paused, stopped by an error, or stopped)."""
        return self._ctl.run.is_set()

    @property
    def stopped(self):
        """True once :meth:`stop` was called."""
        return self._closed

    @property
    def error(self):
        """The exception that stopped streaming last, or None (cleared by :meth:`start`)."""
        return self._error

    @property
    def samples(self):
        """Windows drawn so far, over every strategy."""
        return self._count

    @property
    def rows(self):
        """Rows of the last window drawn."""
        return self._rows

    @property
    def windows_per_s(self):
        """Windows drawn per second over the last second (0 while paused)."""
        return self._throughput if self.running else 0.0

    @property
    def thread(self):
        """The stream thread (None before the first :meth:`start` and after :meth:`stop`)."""
        return self._ctl.thread

    @property
    def swaps(self):
        """One ``(t, samples, old, new)`` per strategy change: when, after how many windows, from and to."""
        return tuple(self._swaps)

    def counts(self):
        """Per stream, over every strategy so far: ``(activations, samples, active_streams)`` arrays."""
        with self._lock:
            stats = self._mux.stats
            activations = self._hist_activations + stats.activations
            samples = self._hist_samples + stats.samples
            active = np.asarray(stats.active, dtype=np.int64)
        # A slot being filled reads as stream -1 for a moment: not an active stream.
        return activations, samples, active[active >= 0]

    def snapshot(self, last=None):
        """Return a :class:`Snapshot` of the parameters, counters and timelines now.

        ``last``: keep only the timeline points of the last ``last`` seconds
        (default: all of them).
        """
        import pandas as pd

        now = time.monotonic() - self._t0
        activations, samples, active = self.counts()
        rows = []
        since = -np.inf if last is None else now - float(last)
        for row in reversed(self._timeline):  # only the stream thread appends; newest last
            if row[0] < since:
                break
            rows.append(row)
        points = np.array(rows[::-1], dtype=float).reshape(len(rows), 6)
        memory = pd.DataFrame({name: points[:, i] for i, name in enumerate(_MEMORY_COLUMNS)})
        throughput = pd.DataFrame({"t": points[:, 0], "windows_per_s": points[:, 4],
                                   "samples": points[:, 5].astype(np.int64)})
        return Snapshot(
            t=now,
            strategy=self._strategy,
            running=self.running,
            samples=self._count,
            rows=self._rows,
            windows_per_s=self.windows_per_s,
            active=len(active),
            k=self._k,
            lam=self._lam,
            n=self._knob.value,
            names=self._names,
            activations=activations,
            stream_samples=samples,
            active_streams=active,
            memory=memory,
            throughput=throughput,
            swaps=tuple(self._swaps),
            error=self._error,
        )

    # ------------------------------------------------------------------ observers
    def observe(self, callback):
        """Call ``callback(name, value)`` after each change: ``k``, ``lam``, ``n``, ``strategy``, ``running``, ``error``.

        It is called in the thread that made the change (the stream thread
        for ``running`` and ``error`` when streaming stops by itself); an
        exception it raises is turned into a warning.
        """
        if not callable(callback):
            raise ParameterError(f"Session.observe: callback={callback!r} is not callable; expected a function")
        self._observers.append(callback)

    def unobserve(self, callback):
        """Stop calling ``callback``."""
        if callback in self._observers:
            self._observers.remove(callback)

    def _notify(self, name, value):
        for callback in list(self._observers):
            try:
                callback(name, value)
            except Exception as exc:  # an observer must not break a setter or the stream thread
                warnings.warn(f"Session: an observer failed on {name}={value!r}: {exc!r}", RuntimeWarning,
                              stacklevel=2)

    # ------------------------------------------------------------------ running
    def start(self):
        """Start (or resume) streaming in the background thread."""
        if self._closed:
            raise MuxlabError("Session.start(): this session is stopped; make a new one")
        ctl = self._ctl
        if ctl.thread is None:
            ctl.thread = threading.Thread(target=self._stream_main, name="muxlab-session-stream", daemon=True)
            ctl.thread.start()
        if not ctl.run.is_set():
            self._error = None
            ctl.idle.clear()
            ctl.run.set()
            ctl.wake.set()
            self._notify("running", True)

    def pause(self, timeout=2.0):
        """Pause streaming; returns once the stream thread is parked (or after ``timeout`` seconds)."""
        ctl = self._ctl
        if not ctl.run.is_set():
            return
        ctl.run.clear()
        ctl.idle.clear()
        ctl.interrupt = True
        ctl.wake.set()
        if ctl.thread is not None and threading.current_thread() is not ctl.thread:
            ctl.idle.wait(timeout)
        self._notify("running", False)

    def stop(self):
        """Stop streaming and end the stream thread; the session cannot start again."""
        if self._closed:
            return
        self.pause()
        self._finalizer()  # _Control.shutdown: stop, wake and join the thread
        self._closed = True
        self._ctl.thread = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        state = "stopped" if self._closed else "running" if self.running else "paused"
        where = self._collection.root if self._collection.root is not None else f"{len(self._names)} items"
        return (f"Session({str(where)!r}, strategy={self._strategy!r}, k={self._k}, "
                f"lam={self._lam:g}, n={self._knob.value}, samples={self._count}, {state})")

    # ------------------------------------------------------------------ the stream thread
    def _stream_main(self):
        ctl = self._ctl
        gen = None
        try:
            while True:
                ctl.interrupt = False
                if ctl.stop.is_set():
                    break
                if self._pending is not None:
                    if gen is not None:
                        gen.close()
                        gen = None
                    self._apply_swap()
                    continue
                if not ctl.run.is_set():
                    self._park()
                    continue
                ctl.idle.clear()
                if gen is None:
                    gen = self._mux.iterate()
                try:
                    ended = self._consume(gen)
                except Exception as exc:
                    gen = None
                    self._stopped_by(exc)
                    continue
                if ended:
                    gen = None
                    self._stopped_by(MuxlabError("the Mux's pass ended: every stream ran dry"))
        finally:
            if gen is not None:
                try:
                    gen.close()
                except Exception:
                    pass
            ctl.idle.set()

    def _park(self):
        ctl = self._ctl
        if self._throughput:
            self._throughput = 0.0
            self._record(time.monotonic())
        self._marks.clear()
        ctl.idle.set()
        ctl.wake.wait()
        ctl.wake.clear()

    def _stopped_by(self, exc):
        self._error = exc
        self._ctl.run.clear()
        self._notify("error", exc)
        self._notify("running", False)

    def _record(self, now):
        try:
            m = read_memory()
            memory = (m.rss, m.rss_anon, m.rss_file)
        except Exception:  # a reading must not stop the stream
            memory = (None, None, None)
        memory = tuple(float("nan") if v is None else v for v in memory)
        self._timeline.append((now - self._t0, *memory, self._throughput, self._count))

    def _consume(self, gen):
        """Read windows from ``gen`` as a training step would, until interrupted; True if the pass ended."""
        ctl = self._ctl
        perf = time.perf_counter
        marks = self._marks
        touch = self._touch
        key = self._keys[0]
        count = self._count
        next_mark = perf()
        next_point = time.monotonic()
        for batch in gen:
            X = batch[key]
            rows = len(X)
            if touch == 0:
                if rows:
                    X.item(0)
                    X.item(-1)
            elif touch == 1:
                X.sum()
            count += 1
            self._count = count
            self._rows = rows
            now = perf()
            if now >= next_mark:
                next_mark = now + 0.05
                marks.append((now, count))
                while marks[0][0] < now - 1.0:
                    marks.popleft()
                t0, c0 = marks[0]
                self._throughput = (count - c0) / (now - t0) if now > t0 else 0.0
                clock = time.monotonic()
                if clock >= next_point:
                    next_point = clock + self._interval
                    self._record(clock)
            if ctl.interrupt:
                return False
        return True
