"""The Explorer's live charts: four matplotlib panels redrawn cheaply several times a second.

A full matplotlib draw of four panels costs about 100 ms, mostly laying out
text, and it holds the GIL: at four frames a second it would take a large
share of the time the stream thread needs. So the panels are drawn by
blitting: the axes, ticks and labels are drawn once into a background, and
each frame restores it and draws only the bars and lines (a few ms). The
background is redrawn only when an axis limit changes, and limits move in
round steps (:mod:`muxlab.widgets.axes`) so that happens rarely. The time axes
span the data shown (up to ``window`` seconds), and the memory and throughput
axes end just above their data.
How a frame reaches the page is :mod:`muxlab.widgets.transports`.
"""

import threading

import numpy as np

from ..units import ACTIVE_COLOR, IDLE_COLOR, MEMORY_COLORS, MEMORY_LABELS, THROUGHPUT_COLOR, THROUGHPUT_LABEL, MiB
from .axes import COARSE_STEPS, FINE_STEPS, sticky_limit

#: Font sizes in points (at the default 72 dpi, a point is a pixel): titles, axis labels, ticks and legend.
FONT_SIZES = {"title": 12, "label": 11, "ticks": 10, "legend": 10}

#: The memory and throughput panels, whose x axis is time.
TIME_PANELS = ("memory", "rate")


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
        self.panel_draws = 0  # panels drawn again because their limits changed
        self.frames = 0
        self._background = None
        self._size = None
        self._regions = None
        self._drawn_limits = {}
        self._limits = {}  # panel -> (x span in seconds or None, y top)
        fig = self.figure
        fig.subplots_adjust(left=0.085, right=0.985, top=0.935, bottom=0.1, hspace=0.55, wspace=0.22)
        (ax_act, ax_samp), (ax_mem, ax_rate) = fig.subplots(2, 2)
        self.axes = {"activations": ax_act, "samples": ax_samp, "memory": ax_mem, "rate": ax_rate}
        # One PolyCollection per bar chart: a frame draws all bars in one call.
        x = np.arange(n_streams, dtype=float)
        self._verts = {}
        self._colors = to_rgba_array([IDLE_COLOR, ACTIVE_COLOR])
        self.bars = {}
        for key, ax, title, ylabel in (
            ("activations", ax_act, "activations per stream (orange: active now)", "activations"),
            ("samples", ax_samp, "samples per stream", "windows"),
        ):
            verts = np.zeros((n_streams, 4, 2))
            verts[:, 0:2, 0] = (x - 0.4)[:, None]
            verts[:, 2:4, 0] = (x + 0.4)[:, None]
            self._verts[key] = verts
            bars = PolyCollection(verts, facecolors=self._colors[:1], edgecolors="none", linewidths=0)
            ax.add_collection(bars, autolim=False)
            self.bars[key] = bars
            ax.set_title(title, fontsize=FONT_SIZES["title"])
            ax.set_xlim(-0.6, n_streams - 0.4)
            ax.set_xlabel("stream", fontsize=FONT_SIZES["label"])
            ax.set_ylabel(ylabel, fontsize=FONT_SIZES["label"])
        for ax in (ax_mem, ax_rate):
            ax.set_xlabel("seconds ago", fontsize=FONT_SIZES["label"])
            ax.grid(alpha=0.3)
        for ax in self.axes.values():
            ax.tick_params(labelsize=FONT_SIZES["ticks"])
        self.lines = {
            key: ax_mem.plot([], [], color=MEMORY_COLORS[key], label=MEMORY_LABELS[key])[0]
            for key in ("rss", "rss_anon", "rss_file")
        }
        self.lines["rate"] = ax_rate.plot([], [], color=THROUGHPUT_COLOR)[0]
        ax_rate.set_title("throughput", fontsize=FONT_SIZES["title"])
        ax_rate.set_ylabel(THROUGHPUT_LABEL, fontsize=FONT_SIZES["label"])
        ax_mem.set_ylabel("MiB", fontsize=FONT_SIZES["label"])
        # The legend sits above the panel, right of its left-aligned title, so the lines never cover
        # it and it stays in the static background (text is the slow part of a draw). It is made
        # before the lines are set animated: a legend copies its handles' properties, 'animated' included.
        ax_mem.set_title("memory", fontsize=FONT_SIZES["title"], loc="left")
        self.legend = ax_mem.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=FONT_SIZES["legend"],
                                    ncols=3, frameon=False, borderaxespad=0.1, handlelength=1.2, columnspacing=0.8,
                                    handletextpad=0.4)
        for key in ("activations", "samples", "rate"):
            self.axes[key].yaxis.set_major_formatter(EngFormatter(sep=""))
        for bars in self.bars.values():
            bars.set_animated(True)
        for line in self.lines.values():
            line.set_animated(True)
        for key in self.axes:
            self._set_limits(key, 1, 0 if key in TIME_PANELS else None)
        self._eraser = Rectangle((0, 0), 1, 1, transform=IdentityTransform(), facecolor=fig.get_facecolor(),
                                 edgecolor="none", linewidth=0)
        self._eraser.set_figure(fig)

    # -- data -------------------------------------------------------------------
    def _set_limits(self, key, value, age=None):
        """Fit panel ``key``'s y axis to ``value`` (its largest datum) and, for a time panel, its x axis to ``age``.

        ``age``: seconds from the oldest point shown to now. Limits move in
        round steps and only when the data leaves them (see
        :func:`muxlab.widgets.axes.sticky_limit`): counts in coarse steps,
        memory and throughput in fine ones (a new top is at most 1.575 times
        the data; it moves down when the data falls below half of it); the time axis spans the data shown, at most :attr:`window`.
        """
        span, top = self._limits.get(key, (None, None))
        if key in TIME_PANELS:
            top = sticky_limit(top, value, shrink=2, steps=FINE_STEPS)
            span = min(sticky_limit(span, max(age, 1.0), steps=FINE_STEPS), self.window)
        else:
            top = sticky_limit(top, value, steps=COARSE_STEPS)
        if (span, top) != self._limits.get(key):
            self._limits[key] = (span, top)
            self.axes[key].set_ylim(0, top)
            if span is not None:
                self.axes[key].set_xlim(-span, 0)

    def update(self, activations, samples, active, memory, throughput, now):
        """Move the artists to new data.

        ``activations``, ``samples``: per-stream counts; ``active``: the
        stream indices of the active slots; ``memory``: columns ``t``
        (seconds, same clock as ``now``), ``rss``, ``rss_anon``, ``rss_file``
        (bytes); ``throughput``: columns ``t`` and ``windows_per_s`` (a
        DataFrame or a dict of arrays each). The time axes show at most the
        last :attr:`window` seconds.
        """
        is_active = np.zeros(self.n_streams, dtype=bool)
        if len(active):
            is_active[np.asarray(active, dtype=np.int64)] = True
        for key, heights in (("activations", activations), ("samples", samples)):
            verts = self._verts[key]
            verts[:, 1:3, 1] = np.asarray(heights, dtype=float)[:, None]
            self.bars[key].set_verts(verts)
        self.bars["activations"].set_facecolor(self._colors[is_active.astype(np.intp)])
        self._set_limits("activations", max(np.max(activations, initial=0), 1))
        self._set_limits("samples", max(np.max(samples, initial=0), 1))
        t = np.asarray(memory["t"], dtype=float) - now
        keep = t >= -self.window - 1  # one more second, so the line reaches the left edge
        peak_mem = 1.0
        for key in ("rss", "rss_anon", "rss_file"):
            values = np.asarray(memory[key], dtype=float)[keep] / MiB
            self.lines[key].set_data(t[keep], values)
            if values.size:
                peak_mem = max(peak_mem, float(np.nanmax(values, initial=0)))
        self._set_limits("memory", peak_mem, -float(t[keep].min()) if keep.any() else 0.0)
        t = np.asarray(throughput["t"], dtype=float) - now
        keep = t >= -self.window - 1  # one more second, so the line reaches the left edge
        rate = np.asarray(throughput["windows_per_s"], dtype=float)[keep]
        self.lines["rate"].set_data(t[keep], rate)
        self._set_limits("rate", max(float(np.nanmax(rate, initial=0)), 1) if rate.size else 1,
                         -float(t[keep].min()) if keep.any() else 0.0)

    def update_from(self, snapshot):
        """Move the artists to what a :class:`muxlab.Snapshot` holds."""
        self.update(snapshot.activations, snapshot.stream_samples, snapshot.active_streams, snapshot.memory,
                    snapshot.throughput, snapshot.t)

    def heights(self, key):
        """The heights of the bars of ``key`` (``'activations'`` or ``'samples'``) as drawn now."""
        return self._verts[key][:, 1, 1].copy()

    def limits(self, key):
        """``(xlim, ylim)`` of panel ``key`` (``'activations'``, ``'samples'``, ``'memory'`` or ``'rate'``) now."""
        ax = self.axes[key]
        return ax.get_xlim(), ax.get_ylim()

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
        changes size; when a panel's limits change, only that panel's
        quarter of the figure is erased and drawn again.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        size = canvas.get_width_height(physical=True)
        changed = [key for key, lim in self._limits.items() if self._drawn_limits.get(key) != lim]
        if self._background is None or size != self._size or (changed and self._regions is None):
            FigureCanvasAgg.draw(canvas)  # the static layer: animated artists are skipped
            renderer = canvas.get_renderer()
            self._regions = self._quadrants(renderer)
            self._background = canvas.copy_from_bbox(self.figure.bbox)
            self._size = size
            self._drawn_limits = dict(self._limits)
            self.full_draws += 1
        else:
            canvas.restore_region(self._background)
            renderer = canvas.get_renderer()
            if changed:
                for key in changed:
                    self._eraser.set_bounds(*self._regions[key].bounds)
                    self._eraser.draw(renderer)
                    self.axes[key].draw(renderer)
                    self._drawn_limits[key] = self._limits[key]
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
