"""Explorer: a view of a :class:`muxlab.Session`, with live controls and charts.

The session streams and measures; the explorer only shows it. Each control's
observer calls the session's setter (an error the setter raises is shown
under the controls, and the control goes back to the value in force); the
session tells the explorer what changed, and the explorer moves its controls
to match. A *refresh thread* takes a :meth:`~muxlab.Session.snapshot` every
``interval`` seconds while streaming (and once after each change while
paused, from the start) and draws it: the status line, the info line and
the charts.
"""

import functools
import html
import threading
import types
import weakref

import numpy as np

from ..errors import MuxlabError, ParameterError
from ..session import Session
from ..units import MiB
from ..validation import check_choice, check_positive_number
from .controls import control_panel, int_slider, log_slider, menu, run_button, set_running, widen
from .live_charts import LiveCharts
from .transports import make_target

__all__ = ["Explorer", "format_number", "status_line"]

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


def three_digits(value):
    """Round to three significant digits, as a log slider's readout shows a value.

    >>> three_digits(22.627416997969522), three_digits(15.999999999999998), three_digits(1.189207115002721)
    (22.6, 16.0, 1.19)
    """
    value = float(value)
    return round(value, max(0, 2 - int(np.floor(np.log10(abs(value)))))) if value else 0.0


def describe(exc, headline):
    """HTML for an exception: a headline, the type and message, and any notes."""
    lines = [f"{type(exc).__name__}: {exc}"] + list(getattr(exc, "__notes__", ()))
    body = html.escape("\n".join(lines))
    return (f"<div style='color:#b00020'><b>{html.escape(headline)}</b>"
            f"<pre style='white-space:pre-wrap;margin:2px 0'>{body}</pre></div>")


class _Refresher:
    """What the refresh thread waits on, kept apart from the Explorer so a finalizer can stop it."""

    def __init__(self):
        self.stop = threading.Event()
        self.tick = threading.Event()  # refresh now (used while paused)
        self.thread = None

    def shutdown(self, timeout=5.0):
        self.stop.set()
        self.tick.set()
        thread = self.thread
        if thread is not None and thread is not threading.current_thread() and thread.is_alive():
            thread.join(timeout)


class Explorer:
    """Stream from a Mux over a collection with live controls for ``k``, ``lam``, ``n`` and the strategy.

    Parameters
    ----------
    root : path, optional
        A fixture folder (with ``manifest.json``); same as ``source``.
    strategy, k, lam, n, random_state
        As for :class:`muxlab.Session`; by default the strategy is
        ``npy_mmap`` when the collection has the ``.npy`` layout, else
        ``npz_copy``. The menu offers the strategies the layout allows.
    autostart : bool
        Start streaming at once.
    source : Collection, folder, glob or list of files, optional
        Your own archives (see :meth:`muxlab.Collection.scan`) or a folder
        muxlab generated (default: the ``demo`` preset, made on first use);
        give ``root`` or ``source``, not both.
    keys : sequence of str, optional
        The arrays of every item when ``source`` is scanned (default
        ``('X', 'Y')``).
    charts : {'auto', 'image', 'ipympl'}
        ``ipympl`` draws on an ipympl canvas widget (``%matplotlib widget``),
        ``image`` renders PNG frames into an ``ipywidgets.Image``; ``auto``
        uses ipympl when it is the active backend.
    touch : {'ends', 'all', 'none'}
        How the consumer reads each window (see :class:`muxlab.Session`).
    interval : float
        Seconds between refreshes of the status and charts while streaming
        (also the session's timeline interval).

    Examples
    --------
    >>> from muxlab.fixtures import ensure
    >>> ex = Explorer(ensure('tiny'), k=4, lam=8, n=16)
    >>> ex.status_text()
    'active=0 k=4 lam=8 n=16 rows=0 samples=0'
    >>> ex.close()
    """

    def __init__(self, root=None, strategy=None, k=32, lam=16, n=16, autostart=False, *, source=None,
                 keys=None, charts="auto", touch="ends", interval=0.25, random_state=None):
        import ipywidgets as widgets

        if root is not None and source is not None:
            raise ParameterError(f"Explorer: root={root!r} and source={source!r} are both given; expected one")
        charts = check_choice("Explorer", "charts", charts, ("auto", "image", "ipympl"))
        self._interval = check_positive_number("Explorer", "interval", interval, minimum=0.01)
        self.session = Session(root if source is None else source, strategy, k, lam, n, random_state, keys=keys,
                               touch=touch, interval=interval)
        s = self.session
        self._closed = False
        self._refresh_error = None
        self._refresher = _Refresher()
        self._finalizer = weakref.finalize(self, _Refresher.shutdown, self._refresher)

        max_n = s.max_n
        self._controls = {
            "strategy": menu("strategy", s.strategies, s.strategy, "muxlab-strategy"),
            "run": run_button("muxlab-run"),
            "k": int_slider("k (active streams)", s.k, 1, max(128, s.k), "muxlab-k"),
            "lam": log_slider("lam (samples / activation)", s.lam, 1, max(256.0, s.lam), "muxlab-lam"),
            "n": log_slider("n (rows / window)", s.n, 1, max_n, "muxlab-n", readout_format="d"),
        }
        self._outputs = {
            "status": widgets.HTML(value=""),
            "info": widgets.HTML(value=""),
            "error": widgets.HTML(value="", layout=widgets.Layout(display="none")),
        }
        for name, w in self._outputs.items():
            w.add_class(f"muxlab-{name}")
        c = self._controls
        self._boxes = [widgets.HBox([c["strategy"], c["run"]]), control_panel([c["k"], c["lam"], c["n"]])]
        self.charts = LiveCharts(len(s.names))
        self._target = make_target(self.charts, charts)
        self.widget = widgets.VBox([*self._boxes, *self._outputs.values(), self._target.widget])
        self.widget.add_class("muxlab-explorer")

        for name in ("k", "lam", "n", "strategy"):
            c[name].observe(functools.partial(self._on_control, name), names="value")
        c["run"].observe(self._on_run, names="value")
        s.observe(self._on_session)
        self.refresh()
        r = self._refresher
        r.thread = threading.Thread(target=self._refresh_main, name="muxlab-explorer-refresh", daemon=True)
        r.thread.start()
        if autostart:
            self.start()

    # ------------------------------------------------------------------ the session's state
    def _value(self, name, value):
        """The session's value for a control's value (log sliders move in irrational steps)."""
        if name == "lam":
            return three_digits(value)
        if name == "n":
            return int(round(value))
        return value

    def _on_control(self, name, change):
        self._apply(name, self._value(name, change["new"]), raising=False)

    def _apply(self, name, value, raising=True):
        """Set the session's ``name``; on an error show it, move the control back, and raise if ``raising``."""
        try:
            setattr(self.session, name, value)
        except MuxlabError as exc:
            headline = f"{name}={value!r} was refused"
            if name == "strategy":
                headline = f"strategy {value!r} cannot be used; still streaming with {self.session.strategy!r}"
            self._show_error(describe(exc, headline))
            self._on_session(name, getattr(self.session, name))
            if raising:
                raise

    def _on_run(self, change):
        if change["new"]:
            self.start()
        else:
            self.pause()

    def _on_session(self, name, value):
        """Move the controls to the session's state, and refresh."""
        c = self._controls
        if name == "running":
            set_running(c["run"], value)
            if value:
                self._show_error("")
        elif name == "error":
            self._show_error(describe(value, "streaming stopped"))
        elif name in c:
            if name != "strategy":
                widen(c[name], value)
            c[name].value = value
        self._refresher.tick.set()

    def _show_error(self, text):
        area = self._outputs["error"]
        area.value = text
        area.layout.display = None if text else "none"

    # ------------------------------------------------------------------ public API
    @property
    def controls(self):
        """The controls by name: ``k``, ``lam``, ``n`` (sliders), ``strategy`` (dropdown), ``run`` (toggle)."""
        return types.MappingProxyType(self._controls)

    @property
    def outputs(self):
        """The HTML widgets by name: ``status`` (the status line), ``info``, ``error`` (hidden when empty)."""
        return types.MappingProxyType(self._outputs)

    k = property(lambda self: self.session.k, lambda self, v: self._apply("k", v),
                 doc="Active streams; setting it sets the session's (and moves the slider).")
    lam = property(lambda self: self.session.lam, lambda self, v: self._apply("lam", v),
                   doc="Mean samples per activation; setting it sets the session's (and moves the slider).")
    n = property(lambda self: self.session.n, lambda self, v: self._apply("n", v),
                 doc="Rows per window; setting it sets the session's (and moves the slider).")
    strategy = property(lambda self: self.session.strategy, lambda self, v: self._apply("strategy", v),
                        doc="The loader strategy; setting it swaps the session's streams (history is kept).")
    mux = property(lambda self: self.session.mux, doc="The Mux streaming now.")
    running = property(lambda self: self.session.running, doc="True while streaming is on.")
    error = property(lambda self: self.session.error, doc="The exception that stopped streaming last, or None.")
    samples = property(lambda self: self.session.samples, doc="Windows drawn so far, over every strategy.")
    rows = property(lambda self: self.session.rows, doc="Rows of the last window drawn.")
    windows_per_s = property(lambda self: self.session.windows_per_s, doc="Windows per second over the last second.")
    source = property(lambda self: self.session.source, doc="What the streams read.")
    collection = property(lambda self: self.session.collection, doc="The :class:`~muxlab.Collection` streamed from.")
    root = source
    figure = property(lambda self: self.charts.figure, doc="The matplotlib Figure of the live charts.")
    chart_target = property(lambda self: self._target, doc="How the charts reach the page (see ``transports``).")
    chart_widget = property(lambda self: self._target.widget, doc="An ``ipywidgets.Image`` or an ipympl Canvas.")
    chart_kind = property(lambda self: self._target.kind, doc="``'image'`` or ``'ipympl'``.")

    @property
    def history(self):
        """Per stream: activations and samples over every strategy so far, and active slots now (DataFrame)."""
        return self.session.snapshot(last=0).to_frame()

    @property
    def timeline(self):
        """The session's timelines: ``t`` (s), ``rss``, ``rss_anon``, ``rss_file`` (bytes), throughput, samples."""
        snap = self.session.snapshot()
        return snap.memory.join(snap.throughput.drop(columns="t"))

    @property
    def threads(self):
        """The session's stream thread (None before the first start) and the refresh thread."""
        return self.session.thread, self._refresher.thread

    def status_text(self):
        """The status line, ``active=<int> k=<int> lam=<number> n=<int> rows=<int> samples=<int>``, read now."""
        snap = self.session.snapshot(last=0)
        return status_line(snap.active, snap.k, snap.lam, snap.n, snap.rows, snap.samples)

    def start(self):
        """Start (or resume) streaming."""
        if self._closed:
            raise MuxlabError("Explorer.start(): this explorer is closed; make a new one")
        self.session.start()

    def pause(self, timeout=2.0):
        """Pause streaming; returns once the stream thread is parked (or after ``timeout`` seconds)."""
        self.session.pause(timeout)

    def close(self):
        """Stop the session and the refresh thread, and close every widget."""
        if self._closed:
            return
        self.session.unobserve(self._on_session)
        self.session.stop()
        self._finalizer()  # _Refresher.shutdown: stop and join the refresh thread
        self._closed = True
        self._target.close()
        for w in [*self._controls.values(), *self._outputs.values(), *self._boxes, self.widget]:
            w.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self):
        state = "closed" if self._closed else "running" if self.running else "paused"
        return f"Explorer({str(self.source)!r}, strategy={self.strategy!r}, {self.status_text()}, {state})"

    # ------------------------------------------------------------------ drawing
    def refresh(self):
        """Draw the session's state now: status line, info line and charts."""
        snap = self.session.snapshot(last=self.charts.window + 1)
        self._outputs["status"].value = (
            f"<code>{status_line(snap.active, snap.k, snap.lam, snap.n, snap.rows, snap.samples)}</code>"
        )
        parts = [f"strategy <b>{html.escape(snap.strategy)}</b>", f"{snap.windows_per_s:,.0f} windows/s",
                 "running" if snap.running else "paused"]
        if len(snap.memory):
            m = snap.memory.iloc[-1]
            parts.insert(2, f"RSS {m['rss'] / MiB:,.0f} MiB (anonymous {m['rss_anon'] / MiB:,.0f}, "
                            f"file-backed {m['rss_file'] / MiB:,.0f})")
        self._outputs["info"].value = " &middot; ".join(parts)
        self._target.show(lambda charts: charts.update_from(snap))

    def _refresh_main(self):
        r = self._refresher
        while not r.stop.is_set():
            if self.session.running:
                r.stop.wait(self._interval)
            else:
                r.tick.wait()
            r.tick.clear()
            if r.stop.is_set():
                break
            try:
                self.refresh()
            except Exception as exc:  # drawing must not end the thread; say it once
                if self._refresh_error is None:
                    self._refresh_error = exc
                    self._show_error(describe(exc, "the charts could not be drawn"))
