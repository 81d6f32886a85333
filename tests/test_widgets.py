"""Widget logic without a browser, through the public API: the Explorer over its Session, its charts, the MemoryDashboard."""

import html
import importlib.util
import io
import re
import shutil
import threading
import time

import psutil
import pytest

import muxlab
from muxlab import fixtures, units
from muxlab.errors import DataError, MuxlabError, ParameterError
from muxlab.widgets import Explorer, MemoryDashboard, transports
from muxlab.widgets.axes import nice_ceiling, sticky_limit
from muxlab.widgets.live_charts import LiveCharts
from muxlab.widgets.transports import ImageTarget

# Not pytest.importorskip: importing the ipympl package makes it matplotlib's backend.
needs_ipympl = pytest.mark.skipif(importlib.util.find_spec("ipympl") is None, reason="ipympl is not installed")

STATUS = re.compile(r"active=(\d+) k=(\d+) lam=([\d.]+) n=(\d+) rows=(\d+) samples=(\d+)")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def make_explorer(tiny):
    """Build Explorers on the tiny fixtures (small k and lam: many activations) and close them all at the end."""
    made = []

    def make(root=None, **kwargs):
        kwargs.setdefault("k", 4)
        kwargs.setdefault("lam", 8)
        kwargs.setdefault("n", 16)
        kwargs.setdefault("random_state", 0)
        kwargs.setdefault("charts", "image")
        if "source" not in kwargs:
            kwargs["root"] = tiny if root is None else root
        ex = Explorer(**kwargs)
        made.append(ex)
        return ex

    yield make
    for ex in made:
        ex.close()


def shown_status(ex):
    """The numbers of the status line as the widget shows it (the HTML widget's value)."""
    value = ex.outputs["status"].value
    m = STATUS.search(value)
    assert m, value
    active, k, lam, n, rows, samples = m.groups()
    return dict(active=int(active), k=int(k), lam=float(lam), n=int(n), rows=int(rows), samples=int(samples))


def shown_error(ex):
    return ex.outputs["error"].value


# --------------------------------------------------------------------------- controls


@pytest.mark.timeout(60)
def test_controls_carry_css_classes_ranges_and_log_scales(make_explorer, tiny):
    import ipywidgets as widgets

    ex = make_explorer()
    c = ex.controls
    for name in ("k", "lam", "n", "strategy", "run"):
        assert f"muxlab-{name}" in c[name]._dom_classes, name
    for name in ("status", "info", "error"):
        assert f"muxlab-{name}" in ex.outputs[name]._dom_classes, name
    assert isinstance(c["k"], widgets.IntSlider) and (c["k"].min, c["k"].max) == (1, 128)
    # lam and n span orders of magnitude: log sliders, from 1 to 256 and to the smallest item (40 rows)
    smallest = min(item["rows"] for item in fixtures.load_manifest(tiny)["items"])
    for name, top in (("lam", 256), ("n", smallest)):
        slider = c[name]
        assert isinstance(slider, widgets.FloatLogSlider) and slider.base == 2
        assert slider.base**slider.min == 1 and slider.base**slider.max == pytest.approx(top)
    assert list(c["strategy"].options) == list(muxlab.loaders.STRATEGIES)
    # labels beside the controls, all in one column of the same width; sliders as wide as the panel
    widths = {c[name].style.description_width for name in ("k", "lam", "n", "strategy")}
    assert widths == {muxlab.widgets.controls.LABEL_WIDTH}
    assert all(c[name].layout.width == "100%" for name in ("k", "lam", "n"))
    assert "application/vnd.jupyter.widget-view+json" in ex._repr_mimebundle_()


@pytest.mark.timeout(60)
def test_run_button_is_coloured_when_pressed(make_explorer):
    ex = make_explorer()
    run = ex.controls["run"]
    assert (run.value, run.description, run.icon, run.button_style) == (False, "Run", "play", "success")
    ex.start()
    assert (run.value, run.description, run.icon, run.button_style) == (True, "Pause", "pause", "warning")
    ex.pause()
    assert (run.value, run.description, run.button_style) == (False, "Run", "success")


@pytest.mark.timeout(60)
def test_bad_values_raise_and_leave_the_mux_alone(make_explorer, tiny):
    ex = make_explorer()
    with pytest.raises(ParameterError, match="n=41"):
        ex.n = 41
    with pytest.raises(ParameterError, match="k=0"):
        ex.k = 0
    with pytest.raises(ParameterError, match="strategy='nope'"):
        ex.strategy = "nope"
    assert "strategy=&#x27;nope&#x27;" in shown_error(ex)
    with pytest.raises(ParameterError, match="n=99"):
        Explorer(tiny, n=99)
    with pytest.raises(ParameterError, match="both given"):
        Explorer(tiny, source=tiny)
    assert (ex.mux.k, ex.n, ex.strategy) == (4, 16, "npy_mmap")
    assert (ex.controls["k"].value, ex.controls["n"].value, ex.controls["strategy"].value) == (4, 16, "npy_mmap")


@pytest.mark.timeout(60)
def test_source_and_root_are_the_same(make_explorer, tiny):
    a = make_explorer(source=tiny)
    b = make_explorer(tiny)
    assert a.source == a.root == b.root == tiny
    assert a.session.names == b.session.names


# --------------------------------------------------------------------------- live parameters


@pytest.mark.timeout(60)
def test_k_slider_changes_the_running_mux(wait_until, make_explorer):
    ex = make_explorer(autostart=True)
    assert ex.running and wait_until(lambda: len(ex.mux.stats.active) == 4)
    ex.k = 7
    assert ex.controls["k"].value == 7 and ex.mux.k == ex.session.k == 7
    assert wait_until(lambda: len(ex.mux.stats.active) == 7)
    assert wait_until(lambda: shown_status(ex)["active"] == 7 and shown_status(ex)["k"] == 7)
    ex.controls["k"].value = 2  # as the front end does
    assert ex.mux.k == 2 and wait_until(lambda: len(ex.mux.stats.active) == 2)
    ex.k = 300  # beyond the slider: the slider grows
    assert ex.controls["k"].max == ex.controls["k"].value == 300 and ex.session.k == 300


@pytest.mark.timeout(60)
def test_lam_slider_sets_mux_lam(wait_until, make_explorer):
    ex = make_explorer(autostart=True)
    ex.lam = 4.5
    assert ex.mux.lam == 4.5 and ex.controls["lam"].value == 4.5
    assert wait_until(lambda: shown_status(ex)["lam"] == 4.5)
    assert "lam=4.5 " in ex.status_text()
    slider = ex.controls["lam"]
    slider.value = slider.base ** (slider.min + 90 * slider.step)  # a step of the log slider: 2**4.5
    assert ex.mux.lam == 22.6 and slider.value == 22.6  # three digits, as the readout shows
    ex.lam = 1000  # beyond the slider: the slider grows (a clamped value would be sent back)
    assert slider.value == pytest.approx(1000) and ex.session.lam == ex.mux.lam == 1000


@pytest.mark.timeout(60)
def test_n_slider_changes_rows_of_the_next_batches(wait_until, make_explorer):
    ex = make_explorer(autostart=True)
    assert wait_until(lambda: ex.rows == 16)
    ex.n = 33
    assert ex.session.knob.value == 33 and ex.controls["n"].value == 33
    assert wait_until(lambda: ex.rows == 33)
    before = ex.samples
    wait_until(lambda: ex.samples > before + 100)
    assert ex.rows == 33
    assert wait_until(lambda: shown_status(ex)["n"] == 33 and shown_status(ex)["rows"] == 33)
    ex.controls["n"].value = 2**4.5  # the front end sends the log slider's value: a whole number of rows is used
    assert ex.n == 23 and ex.controls["n"].value == 23
    assert wait_until(lambda: ex.rows == 23)


@pytest.mark.timeout(60)
def test_status_line_matches_the_pattern_and_follows_the_sliders(wait_until, make_explorer):
    ex = make_explorer()
    assert STATUS.fullmatch(ex.status_text())
    assert shown_status(ex) == dict(active=0, k=4, lam=8.0, n=16, rows=0, samples=0)
    ex.k = 5  # before the first start too
    assert wait_until(lambda: shown_status(ex)["k"] == 5)
    ex.start()
    ex.k, ex.lam, ex.n = 6, 3, 20
    expected = dict(active=6, k=6, lam=3.0, n=20, rows=20)
    assert wait_until(lambda: {key: shown_status(ex)[key] for key in expected} == expected)
    samples = wait_until(lambda: shown_status(ex)["samples"] > 0 and shown_status(ex)["samples"])
    assert 0 < samples <= ex.samples
    m = STATUS.search(ex.status_text())
    assert m and int(m.group(1)) == 6
    # while paused, a change still shows
    ex.pause()
    ex.lam = 12
    assert wait_until(lambda: shown_status(ex)["lam"] == 12.0)
    ex.session.k = 3  # a change made on the session shows too
    assert ex.controls["k"].value == 3 and wait_until(lambda: shown_status(ex)["k"] == 3)


@pytest.mark.timeout(60)
def test_strategy_change_keeps_history(wait_until, make_explorer):
    ex = make_explorer(autostart=True)
    assert wait_until(lambda: ex.samples > 500)
    old = ex.mux
    before = ex.history
    ex.controls["strategy"].value = "npz_copy"  # as the front end does
    assert ex.strategy == "npz_copy" and ex.mux is not old
    assert ex.mux.streamers[0].streamer is muxlab.loaders.sample_npz_copy
    assert ex.mux.k == 4 and ex.mux.lam == 8
    after = ex.history
    assert (after["samples"] >= before["samples"]).all()
    assert (after["activations"] >= before["activations"]).all()
    assert after["samples"].sum() >= before["samples"].sum() > 0
    total = after["samples"].sum()
    assert wait_until(lambda: ex.history["samples"].sum() > total + 100)
    assert wait_until(lambda: "npz_copy" in ex.outputs["info"].value)
    ex.pause()
    assert ex.history["samples"].sum() == ex.samples  # every window drawn is counted once
    ex.strategy = "npy_mmap"
    assert ex.controls["strategy"].value == "npy_mmap" and len(ex.session.swaps) == 2


@pytest.mark.timeout(60)
def test_a_strategy_that_cannot_be_used_is_refused_and_streaming_goes_on(wait_until, make_explorer, tiny, tmp_path):
    root = tmp_path / "tiny"
    shutil.copytree(tiny, root)
    (root / "npz" / "item001.npz").unlink()  # npz strategies cannot be used; npy_mmap can
    ex = make_explorer(root, autostart=True)
    old = ex.mux
    with pytest.raises(DataError, match="item001.npz"):
        ex.strategy = "npz_copy"
    assert ex.strategy == "npy_mmap" and ex.mux is old
    assert "item001.npz" in shown_error(ex) and "still streaming" in shown_error(ex)
    assert ex.outputs["error"].layout.display != "none"
    ex.controls["strategy"].value = "npz"  # from the front end: shown, and the menu goes back
    assert ex.controls["strategy"].value == "npy_mmap" and "&#x27;npz&#x27; cannot be used" in shown_error(ex)
    assert ex.running
    before = ex.samples
    assert wait_until(lambda: ex.samples > before + 100)


# --------------------------------------------------------------------------- threads


@pytest.mark.timeout(60)
def test_pause_stops_the_counter_and_start_resumes_it(wait_until, make_explorer):
    ex = make_explorer(autostart=True)
    assert wait_until(lambda: ex.samples > 500)
    ex.pause()
    assert not ex.running and ex.controls["run"].value is False
    frozen = ex.samples
    time.sleep(0.3)
    assert ex.samples == frozen
    assert ex.windows_per_s == 0
    ex.start()
    assert ex.running and ex.controls["run"].value is True
    assert wait_until(lambda: ex.samples > frozen + 500)
    assert wait_until(lambda: ex.windows_per_s > 0)


@pytest.mark.timeout(60)
def test_run_button_drives_streaming(wait_until, make_explorer):
    ex = make_explorer()
    run = ex.controls["run"]
    run.value = True  # a click in the front end
    assert ex.running and wait_until(lambda: ex.samples > 100)
    assert run.description == "Pause"
    run.value = False
    assert not ex.running and run.description == "Run"
    frozen = ex.samples
    time.sleep(0.1)
    assert ex.samples == frozen


@pytest.mark.timeout(60)
def test_paused_threads_block_without_using_cpu(wait_until, make_explorer):
    ex = make_explorer(autostart=True)
    assert wait_until(lambda: ex.samples > 500)
    ex.pause()
    ids = {thread.native_id for thread in ex.threads}
    assert len(ids) == 2

    def cpu():
        return sum(t.user_time + t.system_time for t in psutil.Process().threads() if t.id in ids)

    def settled():  # the refresh thread draws one last frame after pausing, then sleeps until the next change
        before = cpu()
        time.sleep(0.4)  # longer than a frame takes on a loaded machine, so a last frame is not missed
        return cpu() == before

    assert wait_until(settled, timeout=5)
    before = cpu()
    time.sleep(0.5)
    assert cpu() - before < 0.05  # a busy wait would use about 0.5 s


@pytest.mark.timeout(60)
def test_close_leaves_no_thread_and_closes_the_widgets(wait_until, tiny):
    before = set(threading.enumerate())
    ex = Explorer(tiny, k=4, lam=8, n=16, charts="image", autostart=True)
    assert wait_until(lambda: ex.samples > 100)
    assert len(set(threading.enumerate()) - before) == 2
    ex.close()
    assert set(threading.enumerate()) == before
    assert not ex.running and ex.session.stopped
    assert ex.widget.comm is None and ex.chart_widget.comm is None
    assert all(w.comm is None for w in [*ex.controls.values(), *ex.outputs.values()])
    with pytest.raises(MuxlabError, match="closed"):
        ex.start()
    ex.close()  # twice is fine


@pytest.mark.timeout(60)
def test_the_interpreter_exits_with_an_explorer_still_streaming(tiny):
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        f"""
        import time
        from muxlab.widgets import Explorer
        ex = Explorer({str(tiny)!r}, k=4, lam=8, n=16, charts='image', autostart=True)
        while ex.samples < 100:
            time.sleep(0.01)
        print('exiting', flush=True)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=50)
    assert done.returncode == 0 and done.stdout == "exiting\n", (done.stdout, done.stderr)
    assert done.stderr == ""


@pytest.mark.timeout(60)
def test_an_error_in_a_stream_shows_and_stops_streaming(wait_until, make_explorer, tiny, tmp_path):
    root = tmp_path / "tiny"
    shutil.copytree(tiny, root)
    ex = make_explorer(root, k=2, lam=2)
    ex.start()
    assert wait_until(lambda: ex.samples > 100)
    (root / "npy" / "item003.X.npy").unlink()  # the next activation of stream 3 cannot open it
    assert wait_until(lambda: not ex.running, timeout=5)
    assert isinstance(ex.error, DataError)
    shown = shown_error(ex)
    assert "DataError" in shown and "item003.X.npy" in shown and html.escape(str(ex.error)) in shown
    # removed between the loader's check and its open(), it reads "reading failed (FileNotFoundError ...)"
    assert "not found" in shown or "No such file" in shown
    assert ex.outputs["error"].layout.display != "none"
    assert ex.controls["run"].value is False
    frozen = ex.samples
    time.sleep(0.2)
    assert ex.samples == frozen
    assert ex.session.thread.is_alive()  # parked, ready for another start
    (root / "npy" / "item003.X.npy").symlink_to(tiny / "npy" / "item003.X.npy")
    ex.start()  # the error goes away with a new start
    assert shown_error(ex) == "" and ex.outputs["error"].layout.display == "none"


# --------------------------------------------------------------------------- charts


@pytest.mark.timeout(60)
def test_image_charts_render_png_frames(wait_until, make_explorer):
    ex = make_explorer(autostart=True, interval=0.05)
    assert ex.chart_kind == "image"
    assert wait_until(lambda: ex.charts.frames >= 3, timeout=3)
    png = bytes(ex.chart_widget.value)
    assert png.startswith(PNG_MAGIC) and len(png) > 5000
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    assert image.size == ex.figure.canvas.get_width_height(physical=True)
    assert wait_until(lambda: len(ex.timeline) >= 2)
    timeline = ex.timeline
    assert list(timeline.columns) == ["t", "rss", "rss_anon", "rss_file", "windows_per_s", "samples"]
    assert (timeline["rss"] > 0).all() and (timeline["rss_anon"] > 0).all()
    # the bars show the session's history
    assert wait_until(lambda: ex.charts.heights("samples").sum() > 0)


def fake_timelines(now):
    import numpy as np

    t = now - np.arange(50)[::-1] * 0.25
    memory = {key: np.linspace(1, 3, 50) * 2**20 for key in ("rss", "rss_anon", "rss_file")}
    return {"t": t, **memory}, {"t": t, "windows_per_s": np.linspace(0, 5e4, 50)}


@pytest.mark.timeout(60)
def test_blitted_frames_equal_full_draws():
    """Redrawing only the panels whose limits changed gives the same pixels as a full draw."""
    import numpy as np

    memory, throughput = fake_timelines(100.0)
    blitted = LiveCharts(8)
    target = ImageTarget(blitted)
    for i in range(6):
        counts = np.arange(8) * 5**i
        target.show(lambda c: c.update(counts, counts * 16, [1, 2], memory, throughput, 100.0))
    assert blitted.full_draws == 1 and blitted.panel_draws >= 5
    fresh = LiveCharts(8)
    other = ImageTarget(fresh)
    other.show(lambda c: c.update(counts, counts * 16, [1, 2], memory, throughput, 100.0))
    assert target.widget.value == other.widget.value
    np.testing.assert_array_equal(fresh.heights("activations"), counts)
    target.close()
    other.close()


@pytest.mark.timeout(60)
def test_y_limits_move_in_round_steps():
    assert [nice_ceiling(v) for v in (0.5, 3, 7, 11, 999, 1001)] == [1, 5, 10, 20, 1000, 2000]
    assert sticky_limit(None, 60) == 100 and sticky_limit(100, 60) == 100
    assert sticky_limit(100, 130) == 200 and sticky_limit(100, 3) == 5


def drawn_layout(charts):
    """Draw ``charts`` once in full and return its renderer (for the extents of its texts)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(charts.figure)
    canvas.draw()
    return canvas.get_renderer()


def check_time_panels_fit(charts, snap):
    """The memory and throughput panels of ``charts``, drawn from ``snap``: units, and limits that fit the data."""
    memory, rate = charts.axes["memory"], charts.axes["rate"]
    assert memory.get_ylabel() == "MiB"
    assert rate.get_ylabel() == "windows / s"
    assert memory.get_xlabel() == rate.get_xlabel() == "seconds ago"
    for ax, t in ((memory, snap.memory["t"]), (rate, snap.throughput["t"])):
        age = snap.t - t.min()  # seconds of data shown
        left, right = ax.get_xlim()
        assert right == 0
        # the axis holds all the data, and the data fills at least 1 / 1.6 of it (not 3 s on a 60 s axis)
        assert max(age, 1.0) <= -left <= 1.6 * max(age, 1.0), (ax.get_title(loc="left"), age, left)
    peak = snap.memory[["rss", "rss_anon", "rss_file"]].to_numpy().max() / units.MiB
    assert 0 < peak <= memory.get_ylim()[1] <= 1.6 * peak, (peak, memory.get_ylim())
    fastest = snap.throughput["windows_per_s"].max()
    assert fastest <= rate.get_ylim()[1] <= 1.6 * max(fastest, 1.0), (fastest, rate.get_ylim())


@pytest.mark.timeout(60)
def test_live_chart_axes_fit_a_session_snapshot(tiny, wait_until):
    """Drawn from a running Session: y labels with units, time and memory axes scaled to the data shown."""
    with muxlab.Session(tiny, k=4, lam=8, n=16, random_state=0, interval=0.05) as s:
        s.start()
        assert wait_until(lambda: len(s.snapshot().memory) >= 8, timeout=20)
        s.pause()
        snap = s.snapshot(last=61)
    charts = LiveCharts(len(snap.names))
    charts.update_from(snap)
    check_time_panels_fit(charts, snap)
    assert snap.t - snap.memory["t"].min() < 30  # a few seconds of data: the axis is not the 60 s window
    assert -charts.axes["memory"].get_xlim()[0] < charts.window


@pytest.mark.timeout(60)
def test_live_chart_time_axis_grows_with_the_data_up_to_its_window():
    import numpy as np
    import pandas as pd

    charts = LiveCharts(4)
    spans = []
    for seconds in (0.5, 3, 12, 40, 200):
        t = np.linspace(100.0 - seconds, 100.0, 50)
        memory = pd.DataFrame({"t": t, **{key: np.full(50, 210 * 2**20) for key in ("rss", "rss_anon", "rss_file")}})
        throughput = pd.DataFrame({"t": t, "windows_per_s": np.full(50, 4000.0)})
        charts.update([1, 2, 3, 4], [8, 8, 8, 8], [0], memory, throughput, 100.0)
        spans.append(-charts.axes["memory"].get_xlim()[0])
        shown = min(seconds, charts.window)
        assert max(shown, 1.0) <= spans[-1] <= 1.6 * max(shown, 1.0), (seconds, spans[-1])
        assert 210 <= charts.axes["memory"].get_ylim()[1] <= 1.6 * 210  # not 500 MiB for 210 MiB
    assert spans == sorted(spans) and spans[-1] == charts.window


@pytest.mark.timeout(60)
def test_live_chart_texts_are_readable_and_apart():
    """Fonts of at least 9 pt; the memory legend beside its title, not over it; no panel's texts in another's."""
    import numpy as np
    from matplotlib.text import Text

    memory, throughput = fake_timelines(100.0)
    charts = LiveCharts(8)
    charts.update(np.arange(8), np.arange(8) * 16, [1, 2], memory, throughput, 100.0)
    renderer = drawn_layout(charts)
    texts = [t for t in charts.figure.findobj(Text) if t.get_text() and t.get_visible()]
    assert texts and min(t.get_fontsize() for t in texts) >= 9, sorted((t.get_fontsize(), t.get_text()) for t in texts)
    ax = charts.axes["memory"]
    title = [t for t in ax.get_children() if isinstance(t, Text) and t.get_text() == ax.get_title(loc="left")]
    assert len(title) == 1 and title[0].get_text() == "memory"
    legend = charts.legend.get_window_extent(renderer)
    assert not title[0].get_window_extent(renderer).overlaps(legend)
    assert legend.x1 <= charts.figure.bbox.x1  # inside the figure
    boxes = [a.get_tightbbox(renderer) for a in charts.axes.values()]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (a, b)


@needs_ipympl
@pytest.mark.timeout(60)
def test_ipympl_charts_draw_when_the_front_end_asks(wait_until, make_explorer):
    ex = make_explorer(autostart=True, charts="ipympl", interval=0.05)
    from ipympl.backend_nbagg import Canvas

    target = ex.chart_target
    assert ex.chart_kind == "ipympl" and isinstance(ex.chart_widget, Canvas)
    assert ex.figure.canvas is ex.chart_widget
    assert "muxlab-charts" in ex.chart_widget._dom_classes
    assert wait_until(lambda: target.draw_requests >= 1)
    requests = target.draw_requests
    time.sleep(0.2)
    assert target.draw_requests == requests  # no new request while one is outstanding
    ex.chart_widget.draw()  # the front end's answer to draw_idle
    assert ex.charts.frames >= 1
    assert ex.charts.heights("samples").sum() > 0
    assert wait_until(lambda: target.draw_requests > requests)


@pytest.mark.timeout(60)
def test_auto_charts_follow_the_matplotlib_backend(make_explorer, monkeypatch):
    import matplotlib

    backend = matplotlib.rcParams._get_backend_or_none()
    assert make_explorer(charts="auto").chart_kind == "image"  # plain pytest: not ipympl
    if importlib.util.find_spec("ipympl") is None:
        return
    make_explorer(charts="ipympl")
    assert matplotlib.rcParams._get_backend_or_none() == backend  # using ipympl did not make it the backend
    assert make_explorer(charts="auto").chart_kind == "image"
    monkeypatch.setattr(transports, "ipympl_active", lambda: True)
    assert make_explorer(charts="auto").chart_kind == "ipympl"


# --------------------------------------------------------------------------- one place per idea


def test_megabytes_are_defined_once():
    """MiB lives in muxlab.units; charts, plots and widgets import it, and no module names it MB."""
    from pathlib import Path

    package = Path(muxlab.__file__).parent
    defined = [p.relative_to(package).as_posix() for p in package.rglob("*.py")
               if re.search(r"^(MiB|MB)\s*=", p.read_text(), re.M)]
    assert defined == ["units.py"]
    assert not hasattr(units, "MB")


# --------------------------------------------------------------------------- MemoryDashboard


@pytest.mark.timeout(30)
def test_memory_dashboard_runs_and_shows_a_table_and_an_image(tiny):
    before = set(threading.enumerate())
    d = MemoryDashboard(tiny, strategies=["npz_copy", "npy_mmap"], k=4, lam=4, n=16, max_batches=60, retain=4)
    assert "muxlab-run" in d.controls["run"]._dom_classes and "muxlab-progress" in d.outputs["progress"]._dom_classes
    seen = []
    d.outputs["progress"].observe(lambda change: seen.append(change["new"]), names="value")
    result = d.run(wait=True)
    assert isinstance(result, muxlab.Comparison) and d.result is result
    assert list(result.summary["strategy"]) == ["npz_copy", "npy_mmap"]
    assert "<table" in d.table_html and "npz_copy" in d.table_html and "npy_mmap" in d.table_html
    assert d.image.startswith(PNG_MAGIC) and len(d.image) > 10000
    assert d.outputs["progress"].value == d.outputs["progress"].max == 120 and d.outputs["progress"].bar_style == "success"
    assert len(seen) >= 2 and seen == sorted(seen)  # the bar moved forward while the children ran
    assert d.error is None and d.outputs["error"].value == ""
    d.close()
    assert set(threading.enumerate()) == before
    assert d.widget.comm is None


@pytest.mark.timeout(20)
def test_memory_dashboard_shows_errors(wait_until, tiny, tmp_path):
    root = tmp_path / "tiny"
    shutil.copytree(tiny, root)
    d = MemoryDashboard(root, strategies=["npy_mmap"], k=4, lam=4, n=16, max_batches=20)
    (root / "npy" / "item002.Y.npy").unlink()
    d.controls["run"].click()  # as the front end does: runs in the background
    assert wait_until(lambda: d.error is not None, timeout=10)
    assert isinstance(d.error, DataError)
    assert "item002.Y.npy" in d.outputs["error"].value and d.outputs["progress"].bar_style == "danger"
    assert d.result is None and not d.controls["run"].disabled
    with pytest.raises(DataError):
        d.run(wait=True)
    d.close()
