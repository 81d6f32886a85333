"""The Explorer's live charts: four matplotlib panels redrawn cheaply several times a second.

A full matplotlib draw of four panels costs about 100 ms, mostly laying out
text, and it holds the GIL: at four frames a second it would take a large
share of the time the stream thread needs. So the panels are drawn by
blitting: the axes, ticks and labels are drawn once into a background, and
each frame restores it and draws only the bars and lines (a few ms). The
background is redrawn only when an axis limit changes, and limits move in
steps (1, 2, 5 x 10^k) so that happens rarely.

Two ways to show the figure:

- :class:`ImageTarget`: an Agg figure (not registered with pyplot) rendered
  to PNG bytes in the refresh thread and put into an ``ipywidgets.Image``.
- :class:`IpymplTarget`: the figure's canvas is an ipympl ``Canvas`` widget
  (``%matplotlib widget``); the refresh thread calls ``draw_idle()`` and the
  canvas draws when the front end asks for it, in the kernel's main thread.
"""

import io
import math
import threading
import time
import warnings

import numpy as np

MB = 2**20

#: Colour of the bars of streams active now, and of the others.
ACTIVE_COLOR = "tab:orange"
IDLE_COLOR = "tab:blue"


def nice_ceiling(value):
    """Return the smallest of 1, 2, 5, 10, 20, 50, ... that is >= ``value`` (1 for value <= 1).

    >>> [nice_ceiling(v) for v in (0, 1, 1.5, 3, 7, 11, 999, 1001)]
    [1, 1, 2, 5, 10, 20, 1000, 2000]
    """
    if not value > 1:
        return 1
    exp = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        top = step * 10**exp
        if top >= value:
            return top
    return 10 ** (exp + 1)  # pragma: no cover - the loop always returns


def sticky_limit(top, value, shrink=5):
    """Return a y-axis top for ``value``: keep ``top`` unless ``value`` exceeds it or fell below ``top/shrink``.

    >>> sticky_limit(100, 60), sticky_limit(100, 130), sticky_limit(100, 3)
    (100, 200, 5)
    """
    if top is None or value > top or value * shrink < top:
        return nice_ceiling(value * 1.05)
    return top


class LiveCharts:
    """Four panels: activations and samples per stream (bars), memory and throughput over time (lines).

    :meth:`update` moves the artists to new data and :meth:`render` draws
    them, blitting over a cached background; call both with :attr:`lock`
    held, from the thread that owns the figure. The figure is a plain
    ``matplotlib.figure.Figure``, never registered with pyplot.
    """

    def __init__(self, n_streams, window=60.0, figsize=(10, 5.4), dpi=72):
        from matplotlib.collections import PolyCollection
        from matplotlib.colors import to_rgba_array
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle
        from matplotlib.ticker import EngFormatter
        from matplotlib.transforms import IdentityTransform

        self.n_streams = n_streams
        self.window = float(window)
        self.lock = threading.RLock()
        self.figure = Figure(figsize=figsize, dpi=dpi)
        self.full_draws = 0  # frames whose background was drawn in full
        self.panel_draws = 0  # panels drawn again because their y-limit changed
        self.frames = 0
        self._background = None
        self._size = None
        self._regions = None
        self._drawn_tops = {}
        self._tops = {}
        fig = self.figure
        fig.subplots_adjust(left=0.08, right=0.98, top=0.93, bottom=0.09, hspace=0.5, wspace=0.25)
        (ax_act, ax_samp), (ax_mem, ax_rate) = fig.subplots(2, 2)
        self.axes = {"activations": ax_act, "samples": ax_samp, "memory": ax_mem, "rate": ax_rate}
        # One PolyCollection per bar chart: a frame draws all bars in one call.
        x = np.arange(n_streams, dtype=float)
        self._verts = {}
        self._colors = to_rgba_array([IDLE_COLOR, ACTIVE_COLOR])
        self.bars = {}
        for key, ax, title in (
            ("activations", ax_act, "activations per stream (orange: active now)"),
            ("samples", ax_samp, "samples per stream"),
        ):
            verts = np.zeros((n_streams, 4, 2))
            verts[:, 0:2, 0] = (x - 0.4)[:, None]
            verts[:, 2:4, 0] = (x + 0.4)[:, None]
            self._verts[key] = verts
            bars = PolyCollection(verts, facecolors=self._colors[:1], edgecolors="none", linewidths=0)
            ax.add_collection(bars, autolim=False)
            self.bars[key] = bars
            ax.set_title(title, fontsize="medium")
            ax.set_xlim(-0.6, n_streams - 0.4)
            ax.set_xlabel("stream", fontsize="small")
            ax.tick_params(labelsize="small")
        for ax in (ax_mem, ax_rate):
            ax.set_xlim(-self.window, 0)
            ax.set_xlabel("seconds ago", fontsize="small")
            ax.tick_params(labelsize="small")
            ax.grid(alpha=0.3)
        self.lines = {
            "rss": ax_mem.plot([], [], color="black", label="RSS")[0],
            "rss_anon": ax_mem.plot([], [], color="tab:red", label="anonymous")[0],
            "rss_file": ax_mem.plot([], [], color="tab:green", label="file-backed")[0],
            "rate": ax_rate.plot([], [], color="tab:purple")[0],
        }
        ax_rate.set_title("throughput (windows / s)", fontsize="medium")
        # Above the panel, beside its title, so the lines never cover it and it stays in the static
        # background (text is the slow part of a draw). Made before the lines are set animated: a
        # legend copies its handles' properties, 'animated' included.
        ax_mem.set_title("resident memory (MB)", fontsize="medium", loc="left")
        self.legend = ax_mem.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize="x-small", ncols=3,
                                    frameon=False, borderaxespad=0.1, handlelength=1.2, columnspacing=0.8)
        for key in ("activations", "samples", "rate"):
            self.axes[key].yaxis.set_major_formatter(EngFormatter(sep=""))
        for bars in self.bars.values():
            bars.set_animated(True)
        for line in self.lines.values():
            line.set_animated(True)
        for key in ("activations", "samples", "memory", "rate"):
            self._set_top(key, 1)
        self._eraser = Rectangle((0, 0), 1, 1, transform=IdentityTransform(), facecolor=fig.get_facecolor(),
                                 edgecolor="none", linewidth=0)
        self._eraser.set_figure(fig)

    # -- data -------------------------------------------------------------------
    def _set_top(self, key, value):
        top = sticky_limit(self._tops.get(key), value)
        if top != self._tops.get(key):
            self._tops[key] = top
            self.axes[key].set_ylim(0, top)

    def update(self, activations, samples, active, timeline, now):
        """Move the artists to new data.

        ``activations``, ``samples``: per-stream counts; ``active``: the
        stream indices of the active slots; ``timeline``: a dict of equal
        length arrays ``t`` (seconds, same clock as ``now``), ``rss``,
        ``rss_anon``, ``rss_file`` (bytes) and ``rate`` (windows/s).
        """
        is_active = np.zeros(self.n_streams, dtype=bool)
        if len(active):
            is_active[np.asarray(active, dtype=np.int64)] = True
        for key, heights in (("activations", activations), ("samples", samples)):
            verts = self._verts[key]
            verts[:, 1:3, 1] = np.asarray(heights, dtype=float)[:, None]
            self.bars[key].set_verts(verts)
        self.bars["activations"].set_facecolor(self._colors[is_active.astype(np.intp)])
        self._set_top("activations", max(np.max(activations, initial=0), 1))
        self._set_top("samples", max(np.max(samples, initial=0), 1))
        t = np.asarray(timeline["t"], dtype=float) - now
        keep = t >= -self.window - 1
        t = t[keep]
        peak_mem = 1.0
        for key in ("rss", "rss_anon", "rss_file"):
            values = np.asarray(timeline[key], dtype=float)[keep] / MB
            self.lines[key].set_data(t, values)
            if values.size:
                peak_mem = max(peak_mem, float(np.nanmax(values, initial=0)))
        rate = np.asarray(timeline["rate"], dtype=float)[keep]
        self.lines["rate"].set_data(t, rate)
        self._set_top("memory", peak_mem)
        self._set_top("rate", max(float(np.nanmax(rate, initial=0)), 1) if rate.size else 1)

    # -- drawing ----------------------------------------------------------------
    def _quadrants(self, renderer):
        """The display-space box of each panel's quarter of the figure, or None if a panel overflows it."""
        from matplotlib.transforms import Bbox

        width, height = self.figure.bbox.width, self.figure.bbox.height
        tight = {key: ax.get_tightbbox(renderer) for key, ax in self.axes.items()}
        if any(box is None for box in tight.values()):
            return None
        # The left panels' right edges are fixed (their last x tick label); the right panels'
        # y tick labels grow leftwards into the gap, so the split sits just right of the left ones.
        mid_x = max(tight["activations"].x1, tight["memory"].x1) + 1
        mid_y = (max(tight["memory"].y1, tight["rate"].y1) + min(tight["activations"].y0, tight["samples"].y0)) / 2
        boxes = {
            "activations": Bbox([[0, mid_y], [mid_x, height]]),
            "samples": Bbox([[mid_x, mid_y], [width, height]]),
            "memory": Bbox([[0, 0], [mid_x, mid_y]]),
            "rate": Bbox([[mid_x, 0], [width, mid_y]]),
        }
        for key, box in boxes.items():
            t = tight[key]
            if not (box.x0 <= t.x0 and t.x1 <= box.x1 and box.y0 <= t.y0 and t.y1 <= box.y1):
                return None
        return boxes

    def render(self, canvas):
        """Draw the frame on ``canvas`` (an Agg canvas) by blitting over the cached background.

        The background is drawn in full the first time and when the canvas
        changes size; when a panel's y-limit changes, only that panel's
        quarter of the figure is erased and drawn again.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        size = canvas.get_width_height(physical=True)
        changed = [key for key, top in self._tops.items() if self._drawn_tops.get(key) != top]
        if self._background is None or size != self._size or (changed and self._regions is None):
            FigureCanvasAgg.draw(canvas)  # the static layer: animated artists are skipped
            renderer = canvas.get_renderer()
            self._regions = self._quadrants(renderer)
            self._background = canvas.copy_from_bbox(self.figure.bbox)
            self._size = size
            self._drawn_tops = dict(self._tops)
            self.full_draws += 1
        else:
            canvas.restore_region(self._background)
            renderer = canvas.get_renderer()
            if changed:
                for key in changed:
                    self._eraser.set_bounds(*self._regions[key].bounds)
                    self._eraser.draw(renderer)
                    self.axes[key].draw(renderer)
                    self._drawn_tops[key] = self._tops[key]
                self._background = canvas.copy_from_bbox(self.figure.bbox)
                self.panel_draws += len(changed)
        for bars in self.bars.values():
            bars.draw(renderer)
        for line in self.lines.values():
            line.draw(renderer)
        self.frames += 1

    def invalidate(self):
        """Forget the cached background (the next frame is drawn in full)."""
        self._background = None


class ImageTarget:
    """Show :class:`LiveCharts` in an ``ipywidgets.Image``, rendering PNG bytes with Agg in the calling thread."""

    kind = "image"

    def __init__(self, charts):
        import ipywidgets as widgets
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.charts = charts
        self.canvas = FigureCanvasAgg(charts.figure)
        w, h = self.canvas.get_width_height()
        self.widget = widgets.Image(format="png", layout=widgets.Layout(width=f"{w}px", max_width="100%"))
        self.widget.add_class("muxlab-charts")
        self.last_seconds = 0.0

    def show(self, update):
        """Apply ``update`` (a callable taking the charts) and put the new frame into the widget."""
        from PIL import Image

        t0 = time.perf_counter()
        with self.charts.lock:
            update(self.charts)
            self.charts.render(self.canvas)
            w, h = self.canvas.get_width_height(physical=True)
            frame = Image.frombuffer("RGBA", (w, h), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
            png = io.BytesIO()
            frame.convert("RGB").save(png, format="png", compress_level=1)
        self.widget.value = png.getvalue()
        self.last_seconds = time.perf_counter() - t0
        return True

    def close(self):
        self.widget.close()


class IpymplTarget:
    """Show :class:`LiveCharts` on an ipympl ``Canvas`` widget, drawn when the front end asks.

    The refresh thread hands over an update with :meth:`show`, which calls
    ``draw_idle()`` unless a draw it asked for is still outstanding; the
    canvas's ``draw`` (replaced on the instance) applies the latest update and
    blits, in whichever thread the front end's request arrives (the kernel's
    main thread), so matplotlib is only touched under the charts' lock.
    """

    kind = "ipympl"

    #: Ask again if the front end has not drawn within this many seconds (e.g. not displayed yet).
    retry_after = 2.0

    def __init__(self, charts):
        backend = import_ipympl_backend()
        Canvas, FigureManager = backend.Canvas, backend.FigureManager

        self.charts = charts
        self.canvas = Canvas(charts.figure)
        with warnings.catch_warnings():  # ipympl's Toolbar passes its canvas on to traitlets, which warns
            warnings.filterwarnings("ignore", "Passing unrecognized arguments", DeprecationWarning)
            self.manager = FigureManager(self.canvas, 0)
        self.canvas.header_visible = False
        self.canvas.footer_visible = False
        self.canvas.resizable = False
        self.canvas.toolbar_visible = False
        self.canvas.add_class("muxlab-charts")
        self.widget = self.canvas
        self._pending_update = None
        self._requested_at = None
        self.draw_requests = 0
        self.last_seconds = 0.0
        self.canvas.draw = self._draw  # the instance's draw: blit under the lock

    def show(self, update):
        """Queue ``update`` for the next draw and ask the front end to draw (once at a time)."""
        with self.charts.lock:
            self._pending_update = update
        now = time.monotonic()
        if self._requested_at is not None and now - self._requested_at < self.retry_after:
            return False
        self._requested_at = now
        self.draw_requests += 1
        self.canvas.draw_idle()
        return True

    def _draw(self):
        t0 = time.perf_counter()
        canvas = self.canvas
        with self.charts.lock:
            update, self._pending_update = self._pending_update, None
            if update is not None:
                update(self.charts)
            self.charts.render(canvas)
        canvas._png_is_old = True
        canvas.manager.refresh_all()
        self._requested_at = None
        self.last_seconds = time.perf_counter() - t0

    def close(self):
        toolbar = getattr(self.manager, "toolbar", None)
        if toolbar is not None:
            toolbar.close()
        self.canvas.close()


def import_ipympl_backend():
    """Import ``ipympl.backend_nbagg`` without letting it become matplotlib's backend.

    Importing the ``ipympl`` package calls ``matplotlib.use('module://ipympl.backend_nbagg')``
    when matplotlib is loaded, which would also close every open pyplot figure.
    The explorer only needs its Canvas widget, so that call is skipped.
    """
    import sys

    if "ipympl.backend_nbagg" in sys.modules:
        return sys.modules["ipympl.backend_nbagg"]
    import matplotlib

    use = matplotlib.use
    matplotlib.use = lambda *args, **kwargs: None
    try:
        import ipympl.backend_nbagg as backend
    finally:
        matplotlib.use = use
    return backend


def ipympl_active():
    """True if matplotlib's backend is ipympl (``%matplotlib widget``), without choosing a backend."""
    import matplotlib

    getter = getattr(matplotlib.rcParams, "_get_backend_or_none", None)
    backend = getter() if getter is not None else matplotlib.rcParams.get("backend")
    if not isinstance(backend, str):
        return False
    backend = backend.lower()
    return "ipympl" in backend or backend == "widget"


def make_target(charts, kind="auto"):
    """Return the display target for ``charts``: ``'ipympl'``, ``'image'``, or ``'auto'`` (ipympl if active)."""
    if kind == "auto":
        kind = "ipympl" if ipympl_active() else "image"
    if kind == "ipympl":
        return IpymplTarget(charts)
    return ImageTarget(charts)
