"""Widget logic without a browser: the Explorer's live parameters, threads and charts, and the MemoryDashboard."""

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
from muxlab import fixtures
from muxlab.errors import DataError, MuxlabError, ParameterError
from muxlab.widgets import Explorer, MemoryDashboard
from muxlab.widgets import charts as charts_module

# Not pytest.importorskip: importing the ipympl package makes it matplotlib's backend.
needs_ipympl = pytest.mark.skipif(importlib.util.find_spec("ipympl") is None, reason="ipympl is not installed")

STATUS = re.compile(r"active=(\d+) k=(\d+) lam=([\d.]+) n=(\d+) rows=(\d+) samples=(\d+)")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny():
    return fixtures.ensure("tiny")


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
        ex = Explorer(tiny if root is None else root, **kwargs)
        made.append(ex)
        return ex

    yield make
    for ex in made:
        ex.close()


def wait_until(condition, timeout=1.0, every=0.01):
    """Poll ``condition`` until it is true or ``timeout`` seconds passed; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


def shown_status(ex):
    """The numbers of the status line as the widget shows it (the HTML widget's value)."""
    m = STATUS.search(ex._status.value)
    assert m, ex._status.value
    active, k, lam, n, rows, samples = m.groups()
    return dict(active=int(active), k=int(k), lam=float(lam), n=int(n), rows=int(rows), samples=int(samples))


# --------------------------------------------------------------------------- controls


@pytest.mark.timeout(60)
def test_controls_carry_css_classes_and_ranges(make_explorer, tiny):
    ex = make_explorer()
    classes = {
        "muxlab-k": ex._k_slider,
        "muxlab-lam": ex._lam_slider,
        "muxlab-n": ex._n_slider,
        "muxlab-strategy": ex._strategy_dropdown,
        "muxlab-run": ex._run_button,
        "muxlab-status": ex._status,
        "muxlab-error": ex._error_area,
    }
    for cls, widget in classes.items():
        assert cls in widget._dom_classes, cls
    # n cannot exceed the smallest item (40 rows in tiny)
    smallest = min(item["rows"] for item in fixtures.load_manifest(tiny)["items"])
    assert ex._n_slider.max == smallest == 40
    assert list(ex._strategy_dropdown.options) == list(muxlab.loaders.STRATEGIES)
    assert "application/vnd.jupyter.widget-view+json" in ex._repr_mimebundle_()


@pytest.mark.timeout(60)
def test_bad_values_raise_and_leave_the_mux_alone(make_explorer):
    ex = make_explorer()
    with pytest.raises(ParameterError, match="n=41"):
        ex.n = 41
    with pytest.raises(ParameterError, match="k=0"):
        ex.k = 0
    with pytest.raises(ParameterError, match="strategy='nope'"):
        ex.strategy = "nope"
    with pytest.raises(ParameterError, match="n=99"):
        Explorer(fixtures.ensure("tiny"), n=99)
    assert (ex.mux.k, ex.n, ex.strategy) == (4, 16, "npy_mmap")


# --------------------------------------------------------------------------- live parameters


@pytest.mark.timeout(60)
def test_k_slider_changes_the_running_mux(make_explorer):
    ex = make_explorer(autostart=True)
    assert ex.running and wait_until(lambda: len(ex.mux.stats.active) == 4)
    ex.k = 7
    assert ex._k_slider.value == 7 and ex.mux.k == 7
    assert wait_until(lambda: len(ex.mux.stats.active) == 7)
    assert wait_until(lambda: shown_status(ex)["active"] == 7 and shown_status(ex)["k"] == 7)
    ex._k_slider.value = 2  # as the front end does
    assert ex.mux.k == 2 and wait_until(lambda: len(ex.mux.stats.active) == 2)


@pytest.mark.timeout(60)
def test_lam_slider_sets_mux_lam(make_explorer):
    ex = make_explorer(autostart=True)
    ex.lam = 4.5
    assert ex.mux.lam == 4.5
    assert wait_until(lambda: shown_status(ex)["lam"] == 4.5)
    assert "lam=4.5 " in ex.status_text()


@pytest.mark.timeout(60)
def test_n_slider_changes_rows_of_the_next_batches(make_explorer):
    ex = make_explorer(autostart=True)
    assert wait_until(lambda: ex.rows == 16)
    ex.n = 33
    assert ex._knob.value == 33
    assert wait_until(lambda: ex.rows == 33)
    before = ex.samples
    wait_until(lambda: ex.samples > before + 100)
    assert ex.rows == 33
    assert wait_until(lambda: shown_status(ex)["n"] == 33 and shown_status(ex)["rows"] == 33)


@pytest.mark.timeout(60)
def test_status_line_matches_the_pattern_and_follows_the_sliders(make_explorer):
    ex = make_explorer()
    assert STATUS.fullmatch(ex.status_text())
    assert shown_status(ex) == dict(active=0, k=4, lam=8.0, n=16, rows=0, samples=0)
    ex.start()
    ex.k, ex.lam, ex.n = 6, 3, 20
    expected = dict(active=6, k=6, lam=3.0, n=20, rows=20)
    assert wait_until(lambda: {key: shown_status(ex)[key] for key in expected} == expected)
    samples = wait_until(lambda: shown_status(ex)["samples"] > 0 and shown_status(ex)["samples"])
    assert 0 < samples <= ex.samples
    m = STATUS.search(ex.status_text())
    assert m and int(m.group(1)) == 6
    # while paused, a slider change still shows within a second
    ex.pause()
    ex.lam = 12
    assert wait_until(lambda: shown_status(ex)["lam"] == 12.0)


@pytest.mark.timeout(60)
def test_strategy_change_keeps_history(make_explorer):
    ex = make_explorer(autostart=True)
    assert wait_until(lambda: ex.samples > 500)
    old = ex.mux
    before = ex.history
    ex.strategy = "npz_copy"
    assert ex.mux is not old and ex.mux.streamers[0].streamer is muxlab.loaders.sample_npz_copy
    assert ex.mux.k == 4 and ex.mux.lam == 8
    after = ex.history
    assert (after["samples"] >= before["samples"]).all()
    assert (after["activations"] >= before["activations"]).all()
    assert after["samples"].sum() >= before["samples"].sum() > 0
    # the counts continue (not reset) with the new streams
    total = after["samples"].sum()
    assert wait_until(lambda: ex.history["samples"].sum() > total + 100)
    assert wait_until(lambda: "npz_copy" in ex._info.value)
    ex.pause()
    assert ex.history["samples"].sum() == ex.samples  # every window drawn is counted once


@pytest.mark.timeout(60)
def test_strategy_change_while_paused_swaps_too(make_explorer):
    ex = make_explorer()
    ex.strategy = "npz_cached"  # never started: swapped at once
    assert ex.mux.streamers[0].streamer is muxlab.loaders.sample_npz_cached
    ex.start()
    assert wait_until(lambda: ex.samples > 100)
    ex.pause()
    ex.strategy = "npy_mmap"
    assert ex.mux.streamers[0].streamer is muxlab.loaders.sample_npy_mmap
    assert ex.history["samples"].sum() == ex.samples


@pytest.mark.timeout(60)
def test_a_strategy_that_cannot_be_used_is_refused_and_streaming_goes_on(make_explorer, tiny, tmp_path):
    root = tmp_path / "tiny"
    shutil.copytree(tiny, root)
    (root / "npz" / "item001.npz").unlink()  # npz strategies cannot be used; npy_mmap can
    ex = make_explorer(root, autostart=True)
    old = ex.mux
    with pytest.raises(DataError, match="item001.npz"):
        ex.strategy = "npz_copy"
    assert ex.strategy == "npy_mmap" and ex.mux is old
    assert "item001.npz" in ex._error_area.value and "still streaming" in ex._error_area.value
    assert ex.running
    before = ex.samples
    assert wait_until(lambda: ex.samples > before + 100)


# --------------------------------------------------------------------------- threads


@pytest.mark.timeout(60)
def test_pause_stops_the_counter_and_start_resumes_it(make_explorer):
    ex = make_explorer(autostart=True)
    assert wait_until(lambda: ex.samples > 500)
    ex.pause()
    assert not ex.running and ex._run_button.value is False
    frozen = ex.samples
    time.sleep(0.3)
    assert ex.samples == frozen
    assert ex.windows_per_s == 0
    ex.start()
    assert ex.running and ex._run_button.value is True
    assert wait_until(lambda: ex.samples > frozen + 500)
    assert wait_until(lambda: ex.windows_per_s > 0)


@pytest.mark.timeout(60)
def test_run_button_drives_streaming(make_explorer):
    ex = make_explorer()
    ex._run_button.value = True  # a click in the front end
    assert ex.running and wait_until(lambda: ex.samples > 100)
    assert ex._run_button.description == "Pause"
    ex._run_button.value = False
    assert not ex.running and ex._run_button.description == "Run"
    frozen = ex.samples
    time.sleep(0.1)
    assert ex.samples == frozen


@pytest.mark.timeout(60)
def test_paused_threads_block_without_using_cpu(make_explorer):
    ex = make_explorer(autostart=True)
    assert wait_until(lambda: ex.samples > 500)
    ex.pause()
    # the refresh thread draws one last frame after pausing, then sleeps until the next change
    assert wait_until(lambda: ex._ctl.refresh_parked.is_set() and not ex._ctl.tick.is_set(), timeout=3)
    ids = {ex._stream_thread.native_id, ex._refresh_thread.native_id}

    def cpu():
        return sum(t.user_time + t.system_time for t in psutil.Process().threads() if t.id in ids)

    before = cpu()
    time.sleep(0.5)
    assert cpu() - before < 0.05  # a busy wait would use about 0.5 s
    assert ex._ctl.idle.is_set()


@pytest.mark.timeout(60)
def test_close_leaves_no_thread_and_closes_the_widgets(tiny):
    before = set(threading.enumerate())
    ex = Explorer(tiny, k=4, lam=8, n=16, charts="image", autostart=True)
    assert wait_until(lambda: ex.samples > 100)
    assert len(set(threading.enumerate()) - before) == 2
    ex.close()
    assert set(threading.enumerate()) == before
    assert not ex.running
    assert ex.widget.comm is None and ex._k_slider.comm is None and ex.chart_widget.comm is None
    with pytest.raises(MuxlabError, match="closed"):
        ex.start()
    ex.close()  # twice is fine


@pytest.mark.timeout(60)
def test_the_finalizer_stops_the_threads(tiny):
    before = set(threading.enumerate())
    ex = Explorer(tiny, k=4, lam=8, n=16, charts="image", autostart=True)
    assert wait_until(lambda: ex.samples > 100)
    ex._finalizer()  # what atexit (or garbage collection) runs
    assert set(threading.enumerate()) == before
    ex.close()


@pytest.mark.timeout(60)
def test_an_error_in_a_stream_shows_and_stops_streaming(make_explorer, tiny, tmp_path):
    root = tmp_path / "tiny"
    shutil.copytree(tiny, root)
    ex = make_explorer(root, k=2, lam=2)
    ex.start()
    assert wait_until(lambda: ex.samples > 100)
    (root / "npy" / "item003.X.npy").unlink()  # the next activation of stream 3 cannot open it
    assert wait_until(lambda: not ex.running, timeout=5)
    assert isinstance(ex.error, DataError)
    shown = ex._error_area.value
    assert "DataError" in shown and "item003.X.npy" in shown and html.escape(str(ex.error)) in shown
    # removed between the loader's check and its open(), it reads "reading failed (FileNotFoundError ...)"
    assert "not found" in shown or "No such file" in shown
    assert ex._error_area.layout.display != "none"
    assert ex._run_button.value is False
    frozen = ex.samples
    time.sleep(0.2)
    assert ex.samples == frozen
    assert ex._stream_thread.is_alive()  # parked, ready for another start


# --------------------------------------------------------------------------- charts


@pytest.mark.timeout(60)
def test_image_charts_render_png_frames(make_explorer):
    ex = make_explorer(autostart=True, interval=0.05)
    assert ex.chart_kind == "image"
    assert wait_until(lambda: ex._charts.frames >= 3, timeout=3)
    png = bytes(ex.chart_widget.value)
    assert png.startswith(PNG_MAGIC) and len(png) > 5000
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    assert image.size == ex.figure.canvas.get_width_height(physical=True)
    assert wait_until(lambda: len(ex._timeline) >= 2)
    timeline = ex.timeline
    assert (timeline["rss"] > 0).all() and (timeline["rss_anon"] > 0).all()
    # the bars show the explorer's history
    heights = ex._charts._verts["samples"][:, 1, 1]
    assert heights.sum() > 0


@pytest.mark.timeout(60)
def test_blitted_frames_equal_full_draws():
    """Redrawing only the panels whose limits changed gives the same pixels as a full draw."""
    import numpy as np

    now = time.monotonic()
    timeline = {key: np.linspace(1, 3, 50) * 2**20 for key in ("rss", "rss_anon", "rss_file")}
    timeline.update(t=now - np.arange(50)[::-1] * 0.25, rate=np.linspace(0, 5e4, 50))
    blitted = charts_module.LiveCharts(8)
    target = charts_module.ImageTarget(blitted)
    for i in range(6):
        counts = np.arange(8) * 5**i
        target.show(lambda c: c.update(counts, counts * 16, [1, 2], timeline, now))
    assert blitted.full_draws == 1 and blitted.panel_draws >= 5
    fresh = charts_module.LiveCharts(8)
    other = charts_module.ImageTarget(fresh)
    other.show(lambda c: c.update(counts, counts * 16, [1, 2], timeline, now))
    assert target.widget.value == other.widget.value
    target.close()
    other.close()


@needs_ipympl
@pytest.mark.timeout(60)
def test_ipympl_charts_draw_when_the_front_end_asks(make_explorer):
    ex = make_explorer(autostart=True, charts="ipympl", interval=0.05)
    from ipympl.backend_nbagg import Canvas

    assert ex.chart_kind == "ipympl" and isinstance(ex.chart_widget, Canvas)
    assert ex.figure.canvas is ex.chart_widget
    assert "muxlab-charts" in ex.chart_widget._dom_classes
    assert wait_until(lambda: ex._target.draw_requests >= 1)
    requests = ex._target.draw_requests
    time.sleep(0.2)
    assert ex._target.draw_requests == requests  # no new request while one is outstanding
    ex.chart_widget.draw()  # the front end's answer to draw_idle
    assert ex._charts.frames >= 1
    assert ex._charts._verts["samples"][:, 1, 1].sum() > 0
    assert wait_until(lambda: ex._target.draw_requests > requests)


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
    monkeypatch.setattr(charts_module, "ipympl_active", lambda: True)
    assert make_explorer(charts="auto").chart_kind == "ipympl"


# --------------------------------------------------------------------------- MemoryDashboard


@pytest.mark.timeout(30)
def test_memory_dashboard_runs_and_shows_a_table_and_an_image(tiny):
    before = set(threading.enumerate())
    d = MemoryDashboard(tiny, strategies=["npz_copy", "npy_mmap"], k=4, lam=4, n=16, max_batches=60, retain=4)
    assert "muxlab-run" in d._run_button._dom_classes and "muxlab-progress" in d._progress._dom_classes
    seen = []
    d._progress.observe(lambda change: seen.append(change["new"]), names="value")
    result = d.run(wait=True)
    assert isinstance(result, muxlab.Comparison) and d.result is result
    assert list(result.summary["strategy"]) == ["npz_copy", "npy_mmap"]
    assert "<table" in d.table_html and "npz_copy" in d.table_html and "npy_mmap" in d.table_html
    assert d.image.startswith(PNG_MAGIC) and len(d.image) > 10000
    assert d._progress.value == d._progress.max == 120 and d._progress.bar_style == "success"
    assert len(seen) >= 2 and seen == sorted(seen)  # the bar moved forward while the children ran
    assert d.error is None and d._error_area.value == ""
    d.close()
    assert set(threading.enumerate()) == before
    assert d.widget.comm is None


@pytest.mark.timeout(20)
def test_memory_dashboard_shows_errors(tiny, tmp_path):
    root = tmp_path / "tiny"
    shutil.copytree(tiny, root)
    d = MemoryDashboard(root, strategies=["npy_mmap"], k=4, lam=4, n=16, max_batches=20)
    (root / "npy" / "item002.Y.npy").unlink()
    d._run_button.click()  # as the front end does: runs in the background
    assert wait_until(lambda: d.error is not None, timeout=10)
    assert isinstance(d.error, DataError)
    assert "item002.Y.npy" in d._error_area.value and d._progress.bar_style == "danger"
    assert d.result is None and not d._run_button.disabled
    with pytest.raises(DataError):
        d.run(wait=True)
    d.close()
