"""MemoryDashboard: the NPZ vs copy vs mmap comparison (:func:`muxlab.compare`) as a widget.

Parameter controls and a Run button; :func:`muxlab.compare` runs in a
background thread (each strategy in its own child process) and feeds a
progress bar; then the dashboard figure and the summary table are shown.
"""

import html
import io
import threading
import types
from pathlib import Path

from .. import fixtures, loaders
from ..compare_params import CACHE_MODES, CompareParams
from ..comparison import check_runnable, compare
from ..errors import MuxlabError, ParameterError
from ..units import MiB

__all__ = ["MemoryDashboard"]


#: Summary columns shown in the table: (column, heading, scale).
TABLE_COLUMNS = (
    ("strategy", "strategy", None),
    ("windows_per_s", "windows / s", 1),
    ("peak_rss", "peak RSS (MiB)", MiB),
    ("rss_anon", "anonymous (MiB)", MiB),
    ("rss_file", "file-backed (MiB)", MiB),
    ("uss", "USS (MiB)", MiB),
    ("rss_anon_start", "anonymous at start (MiB)", MiB),
    ("bytes_read", "read from storage (MiB)", MiB),
)


class _Cancelled(Exception):
    """Raised from the progress callback to stop a comparison when the dashboard is closed."""


def summary_html(summary):
    """The comparison's summary as an HTML table, memory in MiB.

    >>> import pandas as pd
    >>> html = summary_html(pd.DataFrame({'strategy': ['npz'], 'windows_per_s': [1234.5], 'peak_rss': [2**21]}))
    >>> '<table' in html and '1,234' in html and '2.0' in html
    True
    """
    table = summary.copy()
    columns = {}
    for col, heading, scale in TABLE_COLUMNS:
        if col not in table:
            continue
        if scale is None:
            columns[heading] = table[col]
        elif scale == 1:
            columns[heading] = table[col].map(lambda v: "" if v != v else f"{v:,.0f}")
        else:
            columns[heading] = table[col].map(lambda v, s=scale: "" if v is None or v != v else f"{v / s:,.1f}")
    import pandas as pd

    return pd.DataFrame(columns).to_html(index=False, classes="muxlab-summary", border=0, justify="right")


class MemoryDashboard:
    """Compare loader strategies on memory and speed, each in a fresh child process, from a widget.

    Parameters are those of :func:`muxlab.compare`; each has a control, read
    when Run is pressed (or :meth:`run` is called).

    Examples
    --------
    >>> from muxlab.fixtures import ensure
    >>> d = MemoryDashboard(ensure('tiny'), strategies=['npy_mmap'], k=4, lam=4, n=16, max_batches=50)
    >>> d.result is None
    True
    >>> d.close()
    """

    def __init__(self, source=None, strategies=None, k=32, lam=16, n=16, max_batches=2000, retain=32, cache="warm",
                 random_state=0, *, root=None, keys=None):
        import ipywidgets as widgets

        owner = "MemoryDashboard"
        if source is not None and root is not None:
            raise ParameterError(f"{owner}: source={source!r} and root={root!r} given; root is the former name of source")
        source = root if source is None else source
        checked = CompareParams(strategies, k, lam, n, max_batches, retain, cache, random_state, owner=owner)
        source = Path(fixtures.ensure("demo")) if source is None else source
        collection = loaders.collection_of(source, keys, owner=owner)
        names = tuple(loaders.STRATEGIES)
        # the strategies the collection's layout allows, unless chosen
        strategies, _ = check_runnable(checked.strategies or names, collection, checked.n, owner=owner)
        if checked.strategies is not None:
            strategies = list(checked.strategies)
        self._root = collection.root
        self._collection = collection
        self._random_state = checked.random_state
        self._result = None
        self._error = None
        self._thread = None
        self._cancel = threading.Event()
        self._closed = False

        style = {"description_width": "initial"}
        self._strategies = widgets.SelectMultiple(options=list(names), value=strategies, rows=len(names),
                                                  description="strategies", style=style)
        # Unbounded boxes: a value out of range is refused by compare() with its message, never clamped.
        self._k = widgets.IntText(value=checked.k, description="k", style=style)
        self._lam = widgets.FloatText(value=checked.lam, description="lam", style=style)
        self._n = widgets.IntText(value=checked.n, description="n", style=style)
        self._max_batches = widgets.IntText(value=checked.max_batches, description="windows", style=style)
        self._retain = widgets.IntText(value=checked.retain, description="retain", style=style)
        self._cache = widgets.Dropdown(options=list(CACHE_MODES), value=checked.cache, description="page cache",
                                       style=style)
        self._run_button = widgets.Button(description="Run", icon="play", button_style="primary")
        self._progress = widgets.IntProgress(value=0, min=0, max=1, description="", bar_style="info")
        self._progress_label = widgets.HTML(value="")
        self._error_area = widgets.HTML(value="", layout=widgets.Layout(display="none"))
        self._image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self._table = widgets.HTML(value="")
        for w, cls in ((self._strategies, "muxlab-strategies"), (self._k, "muxlab-k"), (self._lam, "muxlab-lam"),
                       (self._n, "muxlab-n"), (self._max_batches, "muxlab-max-batches"),
                       (self._retain, "muxlab-retain"), (self._cache, "muxlab-cache"),
                       (self._run_button, "muxlab-run"), (self._progress, "muxlab-progress"),
                       (self._progress_label, "muxlab-progress-label"), (self._error_area, "muxlab-error"),
                       (self._image, "muxlab-figure"), (self._table, "muxlab-table")):
            w.add_class(cls)
        params = widgets.VBox([self._k, self._lam, self._n, self._max_batches, self._retain, self._cache])
        self._boxes = [
            params,
            widgets.HBox([self._strategies, params]),
            widgets.HBox([self._run_button, self._progress, self._progress_label]),
        ]
        self.widget = widgets.VBox(self._boxes[1:] + [self._error_area, self._table, self._image])
        self.widget.add_class("muxlab-dashboard")
        self._run_button.on_click(lambda _: self.run())

    # ------------------------------------------------------------------ public API
    @property
    def result(self):
        """The last :class:`muxlab.Comparison`, or None before a run has finished."""
        return self._result

    @property
    def error(self):
        """The exception that ended the last run, or None."""
        return self._error

    @property
    def running(self):
        """True while a comparison runs."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def controls(self):
        """The controls by name: ``strategies``, ``k``, ``lam``, ``n``, ``max_batches``, ``retain``, ``cache``, ``run``."""
        return types.MappingProxyType(dict(
            strategies=self._strategies, k=self._k, lam=self._lam, n=self._n, max_batches=self._max_batches,
            retain=self._retain, cache=self._cache, run=self._run_button))

    @property
    def outputs(self):
        """The output widgets by name: ``progress`` (the bar), ``progress_label``, ``error`` (hidden when empty)."""
        return types.MappingProxyType(dict(progress=self._progress, progress_label=self._progress_label,
                                           error=self._error_area))

    @property
    def table_html(self):
        """The summary table's HTML (empty before a result)."""
        return self._table.value

    @property
    def image(self):
        """The PNG bytes of the dashboard figure (empty before a result)."""
        return bytes(self._image.value)

    def params(self):
        """The arguments :func:`muxlab.compare` gets from the controls now, checked as :class:`~muxlab.compare_params.CompareParams`."""
        checked = CompareParams(
            strategies=list(self._strategies.value),
            k=self._k.value,
            lam=self._lam.value,
            n=self._n.value,
            max_batches=self._max_batches.value,
            retain=self._retain.value,
            cache=self._cache.value,
            random_state=self._random_state,
            owner="MemoryDashboard",
        )
        return dict(checked.asdict(), source=self._collection)

    def run(self, wait=False, timeout=None):
        """Run the comparison in a background thread; with ``wait``, block and return the Comparison.

        While a run is going on, another call does not start a second one.
        With ``wait``, an error is shown in the widget and raised.
        """
        if self._closed:
            raise MuxlabError("MemoryDashboard.run(): this dashboard is closed; make a new one")
        if not self.running:
            self._error = None
            self._show_error("")
            try:
                params = self.params()
            except MuxlabError as exc:
                self._fail(exc)
                if wait:
                    raise
                return None
            total = max(1, len(params["strategies"])) * params["max_batches"]
            self._progress.max = total
            self._progress.value = 0
            self._progress.bar_style = "info"
            self._progress_label.value = "starting"
            self._run_button.disabled = True
            self._thread = threading.Thread(target=self._work, args=(params,), name="muxlab-dashboard", daemon=True)
            self._thread.start()
        if wait:
            self._thread.join(timeout)
            if self._error is not None:
                raise self._error
            return self._result
        return None

    def close(self, timeout=30.0):
        """Stop a running comparison (at its next progress report), join the thread, close the widgets."""
        if self._closed:
            return
        self._cancel.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._closed = True
        for w in (self._strategies, self._k, self._lam, self._n, self._max_batches, self._retain, self._cache,
                  self._run_button, self._progress, self._progress_label, self._error_area, self._image,
                  self._table):
            w.close()
        for box in self._boxes:
            box.close()
        self.widget.close()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    # ------------------------------------------------------------------ the worker thread
    def _work(self, params):
        strategies = params["strategies"]
        per = params["max_batches"]
        last = [-1]

        def progress(strategy, done, total):
            if self._cancel.is_set():
                raise _Cancelled()
            index = strategies.index(strategy) if strategy in strategies else 0
            value = index * per + min(done, per)
            if value != last[0]:
                last[0] = value
                self._progress.value = value
                self._progress_label.value = (
                    f"{html.escape(strategy)}: {done:,} / {total:,} windows "
                    f"(strategy {index + 1} of {len(strategies)})"
                )

        try:
            result = compare(progress=progress, **params)
            if self._cancel.is_set():
                return
            self._image.value = _figure_png(result)
            self._table.value = summary_html(result.summary)
            self._result = result
            self._progress.value = self._progress.max
            self._progress.bar_style = "success"
            self._progress_label.value = "done"
        except _Cancelled:
            self._progress_label.value = "cancelled"
        except Exception as exc:
            self._fail(exc)
        finally:
            if not self._closed:
                self._run_button.disabled = False

    def _fail(self, exc):
        self._error = exc
        self._progress.bar_style = "danger"
        self._progress_label.value = "failed"
        self._show_error(f"{type(exc).__name__}: {exc}")

    def _show_error(self, text):
        area = self._error_area
        area.value = (f"<div style='color:#b00020'><pre style='white-space:pre-wrap'>{html.escape(text)}</pre></div>"
                      if text else "")
        area.layout.display = None if text else "none"


def _figure_png(result, dpi=80):
    """Render :meth:`Comparison.plot` on an Agg figure (not registered with pyplot) and return PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 7.5), dpi=dpi, layout="constrained")
    canvas = FigureCanvasAgg(fig)
    result.plot(fig=fig)
    buf = io.BytesIO()
    canvas.print_png(buf)
    return buf.getvalue()
