"""Session: the explorer's streaming without widgets, driven through its public API."""

import shutil
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import psutil
import pytest

import muxlab
from muxlab.errors import DataError, MuxlabError, ParameterError, ParameterTypeError


@pytest.fixture
def make_session(tiny):
    """Build Sessions on the tiny fixtures (small k and lam: many activations) and stop them all at the end."""
    made = []

    def make(source=None, **kwargs):
        kwargs.setdefault("k", 4)
        kwargs.setdefault("lam", 8)
        kwargs.setdefault("n", 16)
        kwargs.setdefault("random_state", 0)
        s = muxlab.Session(tiny if source is None else source, **kwargs)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


@pytest.mark.timeout(60)
def test_a_session_runs_where_ipywidgets_cannot_be_imported(tiny):
    script = textwrap.dedent(
        f"""
        import sys, time

        class NoWidgets:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in ('ipywidgets', 'ipympl'):
                    raise ImportError('blocked: ' + name)

        sys.meta_path.insert(0, NoWidgets())
        try:
            import ipywidgets
        except ImportError:
            pass
        else:
            raise SystemExit('ipywidgets could still be imported')
        import muxlab.session
        s = muxlab.Session({str(tiny)!r}, k=4, lam=8, n=16, random_state=0)
        s.start()
        s.k = 2
        deadline = time.monotonic() + 20
        while s.samples < 200 and time.monotonic() < deadline:
            time.sleep(0.01)
        snap = s.snapshot()
        s.pause()
        s.stop()
        assert snap.samples >= 200 and snap.k == 2, snap
        assert not any(m.split('.')[0] in ('ipywidgets', 'ipympl') for m in sys.modules)
        print('ok', snap.samples)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=50)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok "), done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.timeout(10)
def test_defaults_and_exports():
    import inspect

    assert muxlab.Session is muxlab.session.Session
    params = inspect.signature(muxlab.Session).parameters
    assert [(p, params[p].default) for p in list(params)[:6]] == [
        ("source", None), ("strategy", "npy_mmap"), ("k", 32), ("lam", 16), ("n", 16), ("random_state", None)
    ]


@pytest.mark.timeout(10)
def test_bad_values_raise_and_leave_the_session_alone(make_session, tiny):
    s = make_session()
    with pytest.raises(ParameterError, match="n=41 is more than the 40 rows"):
        s.n = 41
    with pytest.raises(ParameterError, match="k=0"):
        s.k = 0
    with pytest.raises(ParameterTypeError, match="k=2.5"):
        s.k = 2.5
    with pytest.raises(ParameterError, match="lam=0.5"):
        s.lam = 0.5
    with pytest.raises(ParameterError, match="strategy='nope'"):
        s.strategy = "nope"
    assert (s.k, s.lam, s.n, s.strategy) == (4, 8.0, 16, "npy_mmap")
    assert (s.mux.k, s.mux.lam, s.knob.value) == (4, 8.0, 16)
    assert s.max_n == 40 and len(s.names) == 8 and s.names[0] == "item000"
    with pytest.raises(ParameterError, match="n=99"):
        muxlab.Session(tiny, n=99)
    with pytest.raises(ParameterError, match="touch='some'"):
        muxlab.Session(tiny, touch="some")
    with pytest.raises(ParameterError, match="strategy='npx'"):
        muxlab.Session(tiny, strategy="npx")


@pytest.mark.timeout(30)
def test_a_user_folder_with_its_own_keys_streams_the_first_key(wait_until, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, rows in enumerate((40, 50, 60)):
        np.savez_compressed(corpus / f"s{i}.npz", features=np.full((rows, 3), i, "f4"), labels=np.arange(rows))
    with pytest.raises(muxlab.DataError, match="muxlab convert"):
        muxlab.Session(corpus, keys=("features", "labels"))  # npy_mmap needs the .npy layout
    s = muxlab.Session(corpus, strategy=None, keys=("features", "labels"), k=2, lam=4, n=8, random_state=0)
    try:
        assert s.strategy == "npz_copy" and s.keys == ("features", "labels")
        assert s.strategies == ("npz", "npz_copy", "npz_cached") and s.max_n == 40
        assert s.names == ("s0", "s1", "s2")
        with pytest.raises(ParameterError, match="n=41"):
            s.n = 41
        with pytest.raises(muxlab.DataError, match="npy_mmap"):
            s.strategy = "npy_mmap"
        s.start()
        assert wait_until(lambda: s.samples >= 20)
        s.pause()
        snap = s.snapshot()
        assert snap.rows == 8 and snap.stream_samples.sum() >= 20
        assert sorted(p.name for p in corpus.iterdir()) == ["s0.npz", "s1.npz", "s2.npz"]
    finally:
        s.stop()


@pytest.mark.timeout(10)
def test_k_lam_and_n_change_the_running_stream(wait_until, make_session):
    s = make_session()
    s.start()
    assert s.running and wait_until(lambda: s.snapshot().active == 4)
    s.k = 7
    assert s.k == s.mux.k == 7
    assert wait_until(lambda: s.snapshot().active == 7)
    s.lam = 4.5
    assert s.mux.lam == s.lam == 4.5
    assert wait_until(lambda: s.rows == 16)
    s.n = 33
    assert s.knob.value == 33
    assert wait_until(lambda: s.rows == 33)
    before = s.samples
    assert wait_until(lambda: s.samples > before + 100)
    snap = s.snapshot()
    assert (snap.k, snap.lam, snap.n, snap.rows, snap.active) == (7, 4.5, 33, 33, 7)


@pytest.mark.timeout(10)
def test_snapshot_holds_counts_and_timelines(wait_until, make_session):
    s = make_session(interval=0.02)
    s.start()
    assert wait_until(lambda: len(s.snapshot().memory) >= 5)
    s.pause()
    snap = s.snapshot()
    assert isinstance(snap, muxlab.Snapshot) and not snap.running and snap.windows_per_s == 0
    assert snap.samples == s.samples > 0
    assert snap.activations.shape == snap.stream_samples.shape == (8,)
    assert snap.stream_samples.sum() == snap.samples  # every window drawn is counted once
    assert snap.activations.sum() >= snap.active
    assert list(snap.memory.columns) == ["t", "rss", "rss_anon", "rss_file"]
    assert list(snap.throughput.columns) == ["t", "windows_per_s", "samples"]
    assert (snap.memory["rss"] > 0).all() and (snap.memory["rss_anon"] > 0).all()
    assert snap.memory["t"].is_monotonic_increasing and snap.memory["t"].iloc[-1] <= snap.t
    assert snap.throughput["samples"].is_monotonic_increasing
    assert snap.throughput["windows_per_s"].max() > 0
    assert snap.throughput["windows_per_s"].iloc[-1] == 0  # the point recorded on pausing
    frame = snap.to_frame()
    assert list(frame["samples"]) == list(snap.stream_samples) and frame["active"].sum() == snap.active
    recent = s.snapshot(last=0.0)
    assert len(recent.memory) == len(recent.throughput) <= 1


@pytest.mark.timeout(10)
def test_strategy_change_keeps_history(wait_until, make_session):
    s = make_session()
    s.start()
    assert wait_until(lambda: s.samples > 500)
    old = s.mux
    before = s.snapshot()
    s.strategy = "npz_copy"
    assert s.mux is not old and s.mux.streamers[0].streamer is muxlab.loaders.sample_npz_copy
    assert (s.mux.k, s.mux.lam) == (4, 8.0)
    after = s.snapshot()
    assert (after.stream_samples >= before.stream_samples).all()
    assert (after.activations >= before.activations).all()
    (t, samples, frm, to), = s.swaps
    assert (frm, to) == ("npy_mmap", "npz_copy") and before.samples <= samples <= after.samples
    total = after.stream_samples.sum()
    assert wait_until(lambda: s.snapshot().stream_samples.sum() > total + 100)
    s.pause()
    s.strategy = "npy_mmap"  # while paused: swapped by the parked thread
    assert s.mux.streamers[0].streamer is muxlab.loaders.sample_npy_mmap and len(s.swaps) == 2
    assert s.snapshot().stream_samples.sum() == s.samples


@pytest.mark.timeout(10)
def test_strategy_change_before_start(wait_until, make_session):
    s = make_session()
    s.strategy = "npz_cached"
    assert s.mux.streamers[0].streamer is muxlab.loaders.sample_npz_cached
    s.start()
    assert wait_until(lambda: s.samples > 100)


@pytest.mark.timeout(10)
def test_a_strategy_that_cannot_be_used_is_refused_and_streaming_goes_on(wait_until, make_session, tiny, tmp_path):
    root = tmp_path / "tiny"
    shutil.copytree(tiny, root)
    (root / "npz" / "item001.npz").unlink()  # npz strategies cannot be used; npy_mmap can
    s = make_session(root)
    s.start()
    old = s.mux
    with pytest.raises(DataError, match="item001.npz"):
        s.strategy = "npz_copy"
    assert s.strategy == "npy_mmap" and s.mux is old and s.running and s.swaps == ()
    before = s.samples
    assert wait_until(lambda: s.samples > before + 100)


@pytest.mark.timeout(10)
def test_observers_hear_each_change_once(make_session):
    s = make_session()
    heard = []
    s.observe(lambda name, value: heard.append((name, value)))
    s.k = 5
    s.k = 5  # no change: nothing to hear
    s.lam = 3
    s.n = 20
    s.strategy = "npz_copy"
    s.start()
    s.start()
    s.pause()
    assert heard == [("k", 5), ("lam", 3.0), ("n", 20), ("strategy", "npz_copy"), ("running", True),
                     ("running", False)]
    with pytest.raises(ParameterError, match="callable"):
        s.observe(42)


@pytest.mark.timeout(10)
def test_pause_stops_the_counter_and_start_resumes_it(wait_until, make_session):
    s = make_session()
    s.start()
    assert wait_until(lambda: s.samples > 500)
    s.pause()
    frozen = s.samples
    time.sleep(0.2)
    assert s.samples == frozen and s.windows_per_s == 0 and not s.running
    s.start()
    assert wait_until(lambda: s.samples > frozen + 500)
    assert wait_until(lambda: s.windows_per_s > 0)


@pytest.mark.timeout(10)
def test_a_paused_thread_uses_no_cpu(wait_until, make_session):
    s = make_session()
    s.start()
    assert wait_until(lambda: s.samples > 500)
    s.pause()
    tid = s.thread.native_id

    def cpu():
        return sum(t.user_time + t.system_time for t in psutil.Process().threads() if t.id == tid)

    before = cpu()
    time.sleep(0.5)
    assert cpu() - before < 0.05  # a busy wait would use about 0.5 s


@pytest.mark.timeout(10)
def test_an_error_in_a_stream_stops_streaming_and_is_reported(wait_until, make_session, tiny, tmp_path):
    root = tmp_path / "tiny"
    shutil.copytree(tiny, root)
    s = make_session(root, k=2, lam=2)
    heard = []
    s.observe(lambda name, value: heard.append((name, value)))
    s.start()
    assert wait_until(lambda: s.samples > 100)
    (root / "npy" / "item003.X.npy").unlink()  # the next activation of stream 3 cannot open it
    assert wait_until(lambda: not s.running, timeout=5)
    assert isinstance(s.error, DataError) and "item003.X.npy" in str(s.error)
    assert ("error", s.error) in heard and heard[-1] == ("running", False)
    assert s.snapshot().error is s.error
    frozen = s.samples
    time.sleep(0.1)
    assert s.samples == frozen and s.thread.is_alive()  # parked, ready for another start


@pytest.mark.timeout(10)
def test_stop_ends_the_thread(wait_until, tiny):
    before = set(threading.enumerate())
    with muxlab.Session(tiny, k=4, lam=8, n=16) as s:
        s.start()
        assert wait_until(lambda: s.samples > 100)
        assert len(set(threading.enumerate()) - before) == 1
    assert set(threading.enumerate()) == before
    assert s.stopped and not s.running and s.thread is None
    with pytest.raises(MuxlabError, match="stopped"):
        s.start()
    s.stop()  # twice is fine
    assert "stopped" in repr(s)


@pytest.mark.timeout(60)
def test_the_interpreter_exits_with_a_session_still_streaming(tiny):
    script = textwrap.dedent(
        f"""
        import time, muxlab
        s = muxlab.Session({str(tiny)!r}, k=4, lam=8, n=16)
        s.start()
        while s.samples < 100:
            time.sleep(0.01)
        print('exiting', flush=True)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=50)
    assert done.returncode == 0 and done.stdout == "exiting\n", (done.stdout, done.stderr)
    assert done.stderr == ""


@pytest.mark.timeout(10)
def test_counts_equal_the_mux_stats_without_swaps(wait_until, make_session):
    s = make_session()
    s.start()
    assert wait_until(lambda: s.samples > 300)
    s.pause()
    activations, samples, active = s.counts()
    np.testing.assert_array_equal(activations, s.mux.stats.activations)
    np.testing.assert_array_equal(samples, s.mux.stats.samples)
    assert len(active) == 4
