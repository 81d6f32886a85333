"""Explorer: stream from a Mux over disk loaders in a background thread, with live sliders and charts.

Two daemon threads do the work, so the kernel stays free for widget messages:

- the *stream thread* iterates the Mux as a training loop would, reading
  each window, and counts windows, rows and windows per second; when paused
  it blocks on an Event;
- the *refresh thread* wakes every ``interval`` seconds while streaming (and
  once after each change while paused), reads the counters, the Mux's
  statistics and this process's memory, and updates the status line and the
  charts. A frame is drawn only after the previous one finished.

Sliders act on the running Mux (``mux.k``, ``mux.lam``) and on the
:class:`muxlab.Knob` the loaders read ``n`` from, with no restart. A new
strategy builds a new Mux over the same items; the per-stream counts of the
old one are added to the explorer's history first, so the charts go on.
"""

import collections
import html
import threading
import time
import weakref
from pathlib import Path

import numpy as np

from .. import fixtures, loaders
from ..errors import DataError, MuxlabError, ParameterError
from ..instrument import read_memory
from ..knob import Knob
from ..mux import Mux
from ..validation import check_choice, check_int, check_positive_number
from .charts import LiveCharts, make_target

__all__ = ["Explorer"]

TOUCH_MODES = ("ends", "all", "none")

_STATUS = "active={active} k={k} lam={lam} n={n} rows={rows} samples={samples}"


def format_number(value):
    """Format a number in plain decimal notation, without trailing zeros.

    >>> format_number(16.0), format_number(2.5), format_number(1e6)
    ('16', '2.5', '1000000')
    """
    if value is None:
        return "None"
    return np.format_float_positional(float(value), trim="-")


def status_line(active, k, lam, n, rows, samples):
    """The status line: ``active=<int> k=<int> lam=<number> n=<int> rows=<int> samples=<int>``.

    >>> status_line(32, 32, 16.0, 16, 16, 1000)
    'active=32 k=32 lam=16 n=16 rows=16 samples=1000'
    """
    return _STATUS.format(active=int(active), k=int(k), lam=format_number(lam), n=int(n), rows=int(rows),
                          samples=int(samples))


class _Control:
    """What the two threads wait on, kept apart from the Explorer so a finalizer can stop them."""

    def __init__(self):
        self.stop = threading.Event()  # everything ends
        self.run = threading.Event()  # streaming is wanted
        self.wake = threading.Event()  # the stream thread should look at its state again
        self.idle = threading.Event()  # the stream thread is parked (not inside the Mux)
        self.tick = threading.Event()  # the refresh thread should refresh now (used while paused)
        self.refresh_parked = threading.Event()  # the refresh thread sleeps until the next change
        self.interrupt = False  # the stream thread leaves its loop at the next window
        self.threads = []

    def shutdown(self, timeout=5.0):
        self.stop.set()
        self.run.clear()
        self.interrupt = True
        self.wake.set()
        self.tick.set()
        me = threading.current_thread()
        for thread in self.threads:
            if thread is not me and thread.is_alive():
                thread.join(timeout)
        self.threads = [t for t in self.threads if t.is_alive()]


class Explorer:
    """Stream from a Mux over a fixture collection with live sliders for ``k``, ``lam`` and ``n``.

    Parameters
    ----------
    source : Collection, folder, glob or list of files, optional
        Your own archives (see :meth:`muxlab.Collection.scan`) or a folder
        muxlab generated; default: the ``demo`` preset, made on first use
        (:func:`muxlab.fixtures.ensure`). ``root=`` is the former name.
    strategy : str, optional
        A loader strategy, one of :data:`muxlab.loaders.STRATEGIES`; default
        ``npy_mmap`` when the collection has the ``.npy`` layout, else
        ``npz_copy``. The menu offers the strategies the collection's layout allows.
    k, lam : int, float
        The Mux's active streams and mean samples per activation.
    n : int
        Rows per window, at most the smallest item's rows.
    autostart : bool
        Start streaming at once.
    charts : {'auto', 'image', 'ipympl'}
        How the charts are shown: ``ipympl`` draws on an ipympl canvas widget
        (``%matplotlib widget``), ``image`` renders PNG frames into an
        ``ipywidgets.Image``; ``auto`` uses ipympl when it is the active backend.
    touch : {'ends', 'all', 'none'}
        How the consumer reads each window's ``X``: its first and last value
        (the pages at both ends of the window), every value (``X.sum()``, as
        the comparison's consumer), or only looks it up.
    interval : float
        Seconds between refreshes of the status and charts while streaming.
    random_state : None or int
        Seed of the Mux and of the loaders' window offsets.
    keys : sequence of str, optional
        The arrays of every item when ``source`` is scanned (default ``('X', 'Y')``).

    Examples
    --------
    >>> from muxlab.fixtures import ensure
    >>> ex = Explorer(ensure('tiny'), k=4, lam=8, n=16)
    >>> ex.status_text()
    'active=0 k=4 lam=8 n=16 rows=0 samples=0'
    >>> ex.close()
    """

    def __init__(self, source=None, strategy=None, k=32, lam=16, n=16, autostart=False, *, charts="auto",
                 touch="ends", interval=0.25, random_state=None, root=None, keys=None):
        import ipywidgets as widgets

        owner = "Explorer"
        if source is not None and root is not None:
            raise ParameterError(f"{owner}: source and root given; root is the former name of source")
        source = root if source is None else source
        source = Path(fixtures.ensure("demo")) if source is None else source
        self._collection = loaders.collection_of(source, keys, owner=owner)
        items = self._collection.items
        if not items:
            raise ParameterError(f"{owner}: the collection holds no items; expected at least one")
        self._root = self._collection.root
        self._key = self._collection.keys[0]
        self._names = [item.name for item in items]
        self._min_rows = int(min(item.rows for item in items))
        self._strategies = [s for s in loaders.STRATEGIES if loaders.missing_layout(s, self._collection) is None]
        if strategy is None:
            strategy = next((s for s in ("npy_mmap", "npz_copy") if s in self._strategies), self._strategies[0])
        strategy = check_choice(owner, "strategy", strategy, tuple(loaders.STRATEGIES))
        self._check_layout(strategy)
        k = check_int(owner, "k", k, minimum=1)
        lam = check_positive_number(owner, "lam", lam, minimum=1)
        n = self._check_n(n)
        self._touch = TOUCH_MODES.index(check_choice(owner, "touch", touch, TOUCH_MODES))
        self._interval = check_positive_number(owner, "interval", interval, minimum=0.01)
        self._random_state = random_state
        self._knob = Knob(n, validate=self._check_n)

        n_streams = len(items)
        self._mux_lock = threading.RLock()
        self._strategy = strategy
        self._mux = self._build_mux(strategy, k, lam)
        self._pending = None
        self._swapped = threading.Event()
        self._hist_activations = np.zeros(n_streams, dtype=np.int64)
        self._hist_samples = np.zeros(n_streams, dtype=np.int64)

        # published by the stream thread
        self._count = 0
        self._rows = 0
        self._rate = 0.0
        self._marks = collections.deque()
        self._error = None
        self._ended = None

        # kept by the refresh thread
        self._t0 = time.monotonic()
        self._timeline = collections.deque(maxlen=4 * 3600)
        self._last_memory = None
        self._refreshes = 0
        self._refresh_error = None

        self._ctl = _Control()
        self._stream_thread = None
        self._refresh_thread = None
        self._closed = False
        self._local = threading.local()  # per thread: "this change comes from us, ignore it"
        self._finalizer = weakref.finalize(self, _Control.shutdown, self._ctl)

        # -- widgets --------------------------------------------------------
        style = {"description_width": "initial"}
        self._k_slider = widgets.IntSlider(value=k, min=1, max=max(128, k), description="k (active streams)",
                                           style=style, continuous_update=True)
        self._lam_slider = widgets.FloatSlider(value=lam, min=1, max=max(256.0, lam), step=0.5,
                                               description="lam (samples / activation)", style=style,
                                               continuous_update=True)
        self._n_slider = widgets.IntSlider(value=n, min=1, max=self._min_rows, description="n (rows / window)",
                                           style=style, continuous_update=True)
        self._strategy_dropdown = widgets.Dropdown(options=self._strategies, value=strategy,
                                                   description="strategy")
        self._run_button = widgets.ToggleButton(value=False, description="Run", icon="play",
                                                tooltip="start or pause streaming")
        self._status = widgets.HTML(value="")
        self._info = widgets.HTML(value="")
        self._error_area = widgets.HTML(value="", layout=widgets.Layout(display="none"))
        for w, cls in ((self._k_slider, "muxlab-k"), (self._lam_slider, "muxlab-lam"), (self._n_slider, "muxlab-n"),
                       (self._strategy_dropdown, "muxlab-strategy"), (self._run_button, "muxlab-run"),
                       (self._status, "muxlab-status"), (self._info, "muxlab-info"),
                       (self._error_area, "muxlab-error")):
            w.add_class(cls)
        self._charts = LiveCharts(n_streams)
        self._target = make_target(self._charts, check_choice(owner, "charts", charts, ("auto", "image", "ipympl")))
        self.widget = widgets.VBox(
            [
                widgets.HBox([self._k_slider, self._lam_slider, self._n_slider]),
                widgets.HBox([self._strategy_dropdown, self._run_button]),
                self._status,
                self._info,
                self._error_area,
                self._target.widget,
            ]
        )
        self.widget.add_class("muxlab-explorer")
        self._k_slider.observe(self._on_k, names="value")
        self._lam_slider.observe(self._on_lam, names="value")
        self._n_slider.observe(self._on_n, names="value")
        self._strategy_dropdown.observe(self._on_strategy, names="value")
        self._run_button.observe(self._on_run, names="value")
        self._show_status()
        if self._target.kind == "image":
            # The first frame draws the static background in full (the slow part): done here, the
            # widget shows empty charts at once and the refresh thread only ever blits.
            self._refresh(sample_memory=False)
        if autostart:
            self.start()

    # ------------------------------------------------------------------ checks
    def _check_n(self, value):
        value = check_int("Explorer", "n", value, minimum=1)
        if value > self._min_rows:
            raise ParameterError(
                f"Explorer: n={value} is more than the {self._min_rows} rows of the smallest item; "
                f"expected 1 <= n <= {self._min_rows}"
            )
        return value

    def _check_layout(self, strategy):
        why = loaders.missing_layout(strategy, self._collection)
        if why is not None:
            raise DataError(f"Explorer: strategy={strategy!r} {why}")

    def _build_mux(self, strategy, k, lam):
        streams = loaders.streams(strategy, self._collection, self._knob, random_state=self._random_state)
        return Mux(streams, k=k, lam=lam, random_state=self._random_state)

    # ------------------------------------------------------------------ public API
    @property
    def mux(self):
        """The Mux streaming now (a new one after each strategy change)."""
        return self._mux

    @property
    def running(self):
        """True while streaming is on (False when paused, stopped by an error, or closed)."""
        return self._ctl.run.is_set()

    @property
    def root(self):
        """The folder of the collection streamed from."""
        return self._root

    @property
    def collection(self):
        """The :class:`~muxlab.Collection` streamed from."""
        return self._collection

    @property
    def error(self):
        """The exception that stopped streaming last, or None."""
        return self._error

    @property
    def k(self):
        """Active streams; setting it moves the slider, which sets ``mux.k``."""
        return self._k_slider.value

    @k.setter
    def k(self, value):
        value = check_int("Explorer", "k", value, minimum=1)
        self._in_range("k", value, self._k_slider)
        self._k_slider.value = value

    @property
    def lam(self):
        """Mean samples per activation; setting it moves the slider, which sets ``mux.lam``."""
        return self._lam_slider.value

    @lam.setter
    def lam(self, value):
        value = check_positive_number("Explorer", "lam", value, minimum=1)
        self._in_range("lam", value, self._lam_slider)
        self._lam_slider.value = value

    @property
    def n(self):
        """Rows per window; setting it moves the slider, which sets the loaders' Knob."""
        return self._n_slider.value

    @n.setter
    def n(self, value):
        self._n_slider.value = self._check_n(value)

    @property
    def strategy(self):
        """The loader strategy; setting it swaps the streams (history is kept)."""
        return self._strategy_dropdown.value

    @strategy.setter
    def strategy(self, value):
        value = check_choice("Explorer", "strategy", value, tuple(loaders.STRATEGIES))
        self._check_layout(value)
        self._local.strategy_error = None
        self._strategy_dropdown.value = value
        failed, self._local.strategy_error = self._local.strategy_error, None
        if failed is not None:
            raise failed

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
        return self._rate if self.running else 0.0

    @property
    def history(self):
        """Per stream: activations and samples over every strategy so far, and active slots now (DataFrame)."""
        import pandas as pd

        activations, samples, active = self._counts()
        return pd.DataFrame(
            {
                "stream": np.arange(len(self._names)),
                "name": self._names,
                "activations": activations,
                "samples": samples,
                "active": np.bincount(active, minlength=len(self._names)),
            }
        )

    @property
    def timeline(self):
        """What the refresh thread recorded: ``t`` (s), ``rss``, ``rss_anon``, ``rss_file`` (bytes), rate, samples."""
        import pandas as pd

        columns = ["t", "rss", "rss_anon", "rss_file", "windows_per_s", "samples"]
        return pd.DataFrame(list(self._timeline), columns=columns)

    @property
    def figure(self):
        """The matplotlib Figure of the live charts."""
        return self._charts.figure

    @property
    def chart_widget(self):
        """The widget showing the charts: an ``ipywidgets.Image`` or an ipympl ``Canvas``."""
        return self._target.widget

    @property
    def chart_kind(self):
        """``'image'`` or ``'ipympl'``."""
        return self._target.kind

    def status_text(self):
        """The status line, ``active=<int> k=<int> lam=<number> n=<int> rows=<int> samples=<int>``, read now."""
        mux = self._mux
        return status_line(len(mux.stats.active), mux.k, mux.lam, self._knob.value, self._rows, self._count)

    def start(self):
        """Start (or resume) streaming in the background thread."""
        if self._closed:
            raise MuxlabError("Explorer.start(): this explorer is closed; make a new one")
        ctl = self._ctl
        if self._stream_thread is None:
            self._stream_thread = threading.Thread(target=self._stream_main, name="muxlab-explorer-stream",
                                                   daemon=True)
            self._refresh_thread = threading.Thread(target=self._refresh_main, name="muxlab-explorer-refresh",
                                                    daemon=True)
            ctl.threads = [self._stream_thread, self._refresh_thread]
            self._stream_thread.start()
            self._refresh_thread.start()
        if not ctl.run.is_set():
            self._error = None
            self._ended = None
            self._set_error_area("")
            ctl.idle.clear()
            ctl.run.set()
            ctl.wake.set()
            ctl.tick.set()
        self._set_button(True)

    def pause(self, timeout=2.0):
        """Pause streaming; returns once the stream thread is parked (or after ``timeout`` seconds)."""
        ctl = self._ctl
        was_running = ctl.run.is_set()
        ctl.run.clear()
        if was_running:
            ctl.idle.clear()
            ctl.interrupt = True
            ctl.wake.set()
            if threading.current_thread() is not self._stream_thread and self._stream_thread is not None:
                ctl.idle.wait(timeout)
            ctl.tick.set()
        self._set_button(False)

    def close(self):
        """Stop streaming, join both threads, and close every widget."""
        if self._closed:
            return
        self.pause()
        self._finalizer()  # _Control.shutdown: stop, wake and join the threads
        self._closed = True
        self._stream_thread = self._refresh_thread = None
        self._target.close()
        for w in (self._k_slider, self._lam_slider, self._n_slider, self._strategy_dropdown, self._run_button,
                  self._status, self._info, self._error_area):
            w.close()
        for box in self.widget.children[:2]:
            box.close()
        self.widget.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self):
        state = "closed" if self._closed else "running" if self.running else "paused"
        return f"Explorer({str(self._root)!r}, strategy={self.strategy!r}, {self.status_text()}, {state})"

    # ------------------------------------------------------------------ observers
    def _in_range(self, name, value, slider):
        if not slider.min <= value <= slider.max:
            raise ParameterError(
                f"Explorer: {name}={value} is outside the slider's range; "
                f"expected {slider.min} <= {name} <= {slider.max}"
            )

    def _on_k(self, change):
        with self._mux_lock:
            self._mux.k = change["new"]
            if self._pending is not None:
                self._pending[1].k = change["new"]
        self._ctl.tick.set()

    def _on_lam(self, change):
        # The browser's slider does its step arithmetic in floats (16 comes back as
        # 15.999999999999998): keep nine decimals, far finer than any step.
        lam = round(float(change["new"]), 9)
        with self._mux_lock:
            self._mux.lam = lam
            if self._pending is not None:
                self._pending[1].lam = lam
        self._ctl.tick.set()

    def _on_n(self, change):
        self._knob.value = change["new"]
        self._ctl.tick.set()

    def _syncing(self):
        return getattr(self._local, "syncing", False)

    def _sync(self, widget, value):
        """Set a widget's value without acting on the change."""
        self._local.syncing = True
        try:
            widget.value = value
        finally:
            self._local.syncing = False

    def _on_run(self, change):
        if self._syncing():
            return
        if change["new"]:
            self.start()
        else:
            self.pause()

    def _set_button(self, value):
        button = self._run_button
        button.description = "Pause" if value else "Run"
        button.icon = "pause" if value else "play"
        if button.value != value:
            self._sync(button, value)

    def _on_strategy(self, change):
        if self._syncing():
            return
        strategy = change["new"]
        try:
            with self._mux_lock:
                new = self._build_mux(strategy, self._k_slider.value, self._lam_slider.value)
        except Exception as exc:  # bad files for this strategy: keep the old one
            self._error = exc
            self._set_error_area(_describe(exc, f"strategy {strategy!r} cannot be used; still streaming "
                                                f"with {self._strategy!r}"))
            self._local.strategy_error = exc
            self._sync(self._strategy_dropdown, change["old"])
            return
        self._request_swap(strategy, new)
        self._ctl.tick.set()

    def _request_swap(self, strategy, new):
        with self._mux_lock:
            self._pending = (strategy, new)
            self._swapped.clear()
        thread = self._stream_thread
        if thread is None or not thread.is_alive():
            self._apply_swap(None)
            return
        self._ctl.interrupt = True
        self._ctl.wake.set()
        if threading.current_thread() is not thread:
            self._swapped.wait(5.0)

    def _apply_swap(self, gen):
        """Close the old pass, add the old Mux's counts to the history, and make the new Mux current."""
        if gen is not None:
            gen.close()
        with self._mux_lock:
            pending, self._pending = self._pending, None
            if pending is None:
                return None
            old = self._mux
            self._hist_activations += old.stats.activations
            self._hist_samples += old.stats.samples
            self._strategy, self._mux = pending
        self._swapped.set()
        return None

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
                    gen = self._apply_swap(gen)
                    continue
                if not ctl.run.is_set():
                    self._rate = 0.0
                    self._marks.clear()
                    ctl.idle.set()
                    ctl.wake.wait()
                    ctl.wake.clear()
                    continue
                ctl.idle.clear()
                if gen is None:
                    gen = self._mux.iterate()
                try:
                    ended = self._consume(gen)
                except Exception as exc:
                    gen = None
                    self._stream_failed(exc)
                    continue
                if ended:
                    gen = None
                    self._ended = "the Mux's pass ended: every stream ran dry"
                    self._set_error_area(f"<b>streaming stopped</b>: {html.escape(self._ended)}")
                    self.pause()
        finally:
            if gen is not None:
                try:
                    gen.close()
                except Exception:
                    pass
            ctl.idle.set()

    def _consume(self, gen):
        """Read windows from ``gen`` as a training step would, until interrupted; True if the pass ended."""
        ctl = self._ctl
        perf = time.perf_counter
        marks = self._marks
        touch = self._touch
        key = self._key
        count = self._count
        next_mark = perf()
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
                self._rate = (count - c0) / (now - t0) if now > t0 else 0.0
            if ctl.interrupt:
                return False
        return True

    def _stream_failed(self, exc):
        self._error = exc
        self._set_error_area(_describe(exc, "streaming stopped"))
        self.pause()

    def _set_error_area(self, text):
        area = self._error_area
        area.value = text
        area.layout.display = None if text else "none"

    # ------------------------------------------------------------------ the refresh thread
    def _refresh_main(self):
        ctl = self._ctl
        next_at = time.monotonic()
        while not ctl.stop.is_set():
            if ctl.run.is_set():
                delay = next_at - time.monotonic()
                if delay > 0:
                    ctl.stop.wait(delay)
            else:
                ctl.refresh_parked.set()
                ctl.tick.wait()
                ctl.refresh_parked.clear()
            ctl.tick.clear()
            if ctl.stop.is_set():
                break
            try:
                self._refresh()
            except Exception as exc:  # drawing must not end the thread; say it once
                if self._refresh_error is None:
                    self._refresh_error = exc
                    self._set_error_area(_describe(exc, "the charts could not be drawn"))
            next_at = max(next_at + self._interval, time.monotonic())

    def _counts(self):
        with self._mux_lock:
            stats = self._mux.stats
            activations = self._hist_activations + stats.activations
            samples = self._hist_samples + stats.samples
            active = stats.active
        # A slot being filled reads as stream -1 for a moment: not an active stream.
        return activations, samples, active[active >= 0]

    def _refresh(self, sample_memory=True):
        now = time.monotonic()
        running = self.running
        activations, samples, active = self._counts()
        if sample_memory and (running or self._last_memory is None):
            try:
                self._last_memory = read_memory()
            except Exception:  # a reading must not stop the charts
                pass
            m = self._last_memory
            if m is not None:
                self._timeline.append((now - self._t0, m.rss, m.rss_anon, m.rss_file, self.windows_per_s,
                                       self._count))
        self._show_status(len(active))
        rows = []  # the readings the charts show: the last `window` seconds
        oldest = now - self._t0 - self._charts.window - 1
        for row in reversed(self._timeline):  # only this thread appends to it
            if row[0] < oldest:
                break
            rows.append(row)
        rows.reverse()
        timeline = {
            "t": [r[0] + self._t0 for r in rows],
            "rss": [_nan(r[1]) for r in rows],
            "rss_anon": [_nan(r[2]) for r in rows],
            "rss_file": [_nan(r[3]) for r in rows],
            "rate": [r[4] for r in rows],
        }
        self._target.show(lambda charts: charts.update(activations, samples, active, timeline, now))
        self._refreshes += 1

    def _show_status(self, active=None):
        mux = self._mux
        if active is None:
            active = len(mux.stats.active)
        text = status_line(active, mux.k, mux.lam, self._knob.value, self._rows, self._count)
        self._status.value = f"<code>{text}</code>"
        state = "running" if self.running else "paused"
        parts = [f"strategy <b>{html.escape(self._strategy)}</b>", f"{self.windows_per_s:,.0f} windows/s", state]
        m = self._last_memory
        if m is not None and m.rss is not None:
            mem = f"RSS {m.rss / 2**20:,.0f} MB"
            if m.rss_anon is not None and m.rss_file is not None:
                mem += f" (anonymous {m.rss_anon / 2**20:,.0f}, file-backed {m.rss_file / 2**20:,.0f})"
            parts.insert(2, mem)
        self._info.value = " &middot; ".join(parts)


def _nan(value):
    return float("nan") if value is None else value


def _describe(exc, headline):
    """HTML for an exception: a headline, the type and message, and any notes."""
    lines = [f"{type(exc).__name__}: {exc}"] + list(getattr(exc, "__notes__", ()))
    body = html.escape("\n".join(lines))
    return (f"<div style='color:#b00020'><b>{html.escape(headline)}</b>"
            f"<pre style='white-space:pre-wrap;margin:2px 0'>{body}</pre></div>")
