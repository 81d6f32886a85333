"""How the live charts reach the page: PNG frames in an ``ipywidgets.Image``, or an ipympl canvas.

- :class:`ImageTarget`: an Agg figure (not registered with pyplot) rendered
  to PNG bytes in the refresh thread and put into an ``ipywidgets.Image``.
- :class:`IpymplTarget`: the figure's canvas is an ipympl ``Canvas`` widget
  (``%matplotlib widget``); the refresh thread calls ``draw_idle()`` and the
  canvas draws when the front end asks for it, in the kernel's main thread.
"""

import io
import time
import warnings


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

    def show(self, update):
        """Apply ``update`` (a callable taking the charts) and put the new frame into the widget."""
        from PIL import Image

        with self.charts.lock:
            update(self.charts)
            self.charts.render(self.canvas)
            w, h = self.canvas.get_width_height(physical=True)
            frame = Image.frombuffer("RGBA", (w, h), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
            png = io.BytesIO()
            frame.convert("RGB").save(png, format="png", compress_level=1)
        self.widget.value = png.getvalue()
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
        canvas = self.canvas
        with self.charts.lock:
            update, self._pending_update = self._pending_update, None
            if update is not None:
                update(self.charts)
            self.charts.render(canvas)
        canvas._png_is_old = True
        canvas.manager.refresh_all()
        self._requested_at = None

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
