"""muxlab.background and ZMQStreamer: same items as in-process, shared memory, shards, faults, clean exits, live changes."""

import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import psutil
import pytest

import muxlab
from muxlab import Knob, Mux, ShuffledMux, Streamer, WorkerError, ZMQStreamer, background

from streams import endless, finite_streams


def windows(i, rows=16, cols=128):
    """Stream ``i``: float32 windows with a known first value, and the stream's number."""
    rng = np.random.default_rng(i)
    while True:
        yield {"X": rng.random((rows, cols), dtype=np.float32), "i": i}


def shm_entries():
    """This process's shared-memory blocks (named after the consumer's pid; other processes may run muxlab too)."""
    return sorted(name for name in os.listdir("/dev/shm") if name.startswith(f"muxlab-{os.getpid()}-"))


def children():
    """Child processes, less multiprocessing's resource tracker (one per interpreter, started by spawn)."""
    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            if not any("resource_tracker" in part for part in p.cmdline()):
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def window_mux(n=6, **kw):
    kw.setdefault("random_state", 3)
    return Mux([Streamer(windows, i) for i in range(n)], k=3, lam=5, **kw)


# --------------------------------------------------------------------------- same items


@pytest.mark.timeout(60)
@pytest.mark.parametrize("ordered", [True, False], ids=["counters", "announced-counts"])
def test_one_worker_gives_exactly_the_in_process_items_in_order(ordered, monkeypatch):
    # Where stores are not kept in order, each published count also travels in a message: both ways must agree.
    monkeypatch.setattr(muxlab.ring, "ORDERED", ordered)
    mux = window_mux()
    here = list(mux(max_iter=300))
    there = list(background(mux).iterate(300))
    assert [x["i"] for x in there] == [x["i"] for x in here]
    assert all(np.array_equal(a["X"], b["X"]) for a, b in zip(here, there))
    assert {x["X"].dtype for x in there} == {np.dtype(np.float32)}


@pytest.mark.timeout(60)
def test_items_of_any_shape_come_back_equal():
    items = [
        np.arange(5.0),
        (np.ones((2, 3), dtype=np.int16), "label", 7),
        {"X": np.zeros((0, 4)), "nested": [np.arange(3), {"y": np.array(2.5)}]},
        {"objects": np.array([1, "a"], dtype=object)},
        np.asfortranarray(np.arange(12).reshape(3, 4))[:, 1:],
        "no arrays at all",
    ]
    got = list(background(Streamer(items)))
    assert len(got) == len(items)
    np.testing.assert_array_equal(got[0], items[0])
    np.testing.assert_array_equal(got[1][0], items[1][0])
    assert got[1][1:] == ("label", 7)
    assert got[2]["X"].shape == (0, 4)
    np.testing.assert_array_equal(got[2]["nested"][0], np.arange(3))
    assert float(got[2]["nested"][1]["y"]) == 2.5
    assert list(got[3]["objects"]) == [1, "a"]
    np.testing.assert_array_equal(got[4], items[4])
    assert got[5] == "no arrays at all"


class NotPicklable(np.ndarray):
    """An array that refuses to be pickled: it can only cross through shared memory."""

    def __reduce__(self):
        raise TypeError("this array must not be pickled")


def unpicklable_arrays():
    for i in range(20):
        yield {"X": np.full((16, 128), i, dtype=np.float32).view(NotPicklable)}


@pytest.mark.timeout(60)
def test_arrays_travel_through_shared_memory_not_pickle():
    got = list(background(Streamer(unpicklable_arrays)))
    assert [int(x["X"][0, 0]) for x in got] == list(range(20))
    assert all(type(x["X"]) is np.ndarray and x["X"].flags.writeable for x in got)


@pytest.mark.timeout(60)
def test_pescador_zmqstreamer_usage_runs_after_changing_the_import():
    mux = window_mux()
    zs = ZMQStreamer(mux, 5156)
    assert zs.min_port == 5156
    got = [x["i"] for x in zs(max_iter=40)]
    assert got == [x["i"] for x in mux(max_iter=40)]
    assert [x["i"] for x in zs.iterate(max_iter=10)] == got[:10]
    # cycle() restarts the worker when a pass ends
    assert len(list(ZMQStreamer(Streamer(range(3))).cycle(max_iter=7))) == 7


@pytest.mark.timeout(60)
def test_bad_arguments_name_the_parameter():
    with pytest.raises(muxlab.ParameterError, match="workers=0"):
        background(window_mux(), workers=0)
    with pytest.raises(muxlab.ParameterError, match="prefetch=0"):
        background(window_mux(), prefetch=0)
    with pytest.raises(muxlab.ParameterError, match="start_method='thread'"):
        background(window_mux(), start_method="thread")
    with pytest.raises(muxlab.ParameterTypeError, match="workers=2 needs a mux"):
        background(Streamer(range(3)), workers=2)
    with pytest.raises(muxlab.ParameterError, match="workers=7 but the mux has 6 streams"):
        background(window_mux(), workers=7)
    with pytest.raises(muxlab.ParameterTypeError, match="live parameter"):
        background(Streamer(range(3))).k = 2


# --------------------------------------------------------------------------- shards


@pytest.mark.timeout(60)
def test_workers_stream_disjoint_shards_and_an_exhaustive_pass_yields_every_item_once():
    lengths = [5, 9, 1, 7, 3, 8, 2]
    expected = sorted((i, j) for i, n in enumerate(lengths) for j in range(n))
    for workers in (2, 3):
        mux = Mux(finite_streams(lengths), k=3, lam=None, mode="exhaustive", random_state=1)
        assert sorted(background(mux, workers=workers)) == expected


@pytest.mark.timeout(60)
def test_max_iter_counts_the_items_of_every_worker_together():
    for workers in (1, 2, 3):
        mux = Mux([Streamer(endless, i) for i in range(6)], k=3, lam=4, random_state=2)
        assert len(list(background(mux, workers=workers).iterate(7))) == 7


@pytest.mark.timeout(60)
def test_each_worker_draws_from_its_own_seed():
    # Two shards of the same shape (streams {0, 2} and {1, 3}): with one seed they would pick alike.
    mux = Mux([Streamer(endless, i) for i in range(4)], k=2, lam=3, random_state=5)
    got = list(background(mux, workers=2).iterate(400))
    picks = [[label // 2 for label in got if label % 2 == w][:150] for w in (0, 1)]
    assert len(picks[0]) == len(picks[1]) == 150 and picks[0] != picks[1]


def test_unlink_prefix_removes_the_blocks_of_one_run_only():
    prefix = f"muxlab-{os.getpid()}-test-{os.urandom(3).hex()}-"
    blocks = [muxlab.transport.Block(prefix + name, 4096) for name in ("w0-c", "w0-0", "x0", "x1")]
    try:
        assert muxlab.transport.unlink_prefix(prefix + "w") == 2
        left = sorted(name for name in os.listdir("/dev/shm") if name.startswith(prefix))
        assert left == [prefix + "x0", prefix + "x1"]
    finally:
        for block in blocks:
            block.close()
    assert not [name for name in os.listdir("/dev/shm") if name.startswith(prefix)]


def test_a_shuffled_mux_shard_keeps_its_streams_relative_weights():
    mux = ShuffledMux([Streamer(endless, i) for i in range(4)], weights=[1, 0, 3, 0], random_state=0)
    part = muxlab.shards.shard(mux, 0, 2, seed=1)
    np.testing.assert_allclose(part.weights, [0.25, 0.75])


@pytest.mark.timeout(60)
def test_no_stream_is_active_in_two_workers_and_seeds_repeat():
    mux = Mux([Streamer(endless, i) for i in range(8)], k=4, lam=3, random_state=5)
    first = list(background(mux, workers=2).iterate(400))
    second = list(background(mux, workers=2).iterate(400))
    assert first == second  # same seed, same sequence (taken from the workers in turn)
    # items are taken from worker 0, 1, 0, 1...: worker w streams only streams w, w+2, ...
    assert {s % 2 for s in first[0::2]} == {0}
    assert {s % 2 for s in first[1::2]} == {1}
    other = list(background(Mux(mux.streamers, k=4, lam=3, random_state=6), workers=2).iterate(400))
    assert other != first


# --------------------------------------------------------------------------- faults


def fails_after(n):
    for i in range(n):
        yield np.full(4, i)
    raise KeyError(f"row {n} is missing")


class Unsendable(Exception):
    def __init__(self, handle):
        super().__init__("cannot be pickled")
        self.handle = handle

    def __reduce__(self):
        raise TypeError("no")


def raises_unsendable():
    yield 1
    raise Unsendable(lambda: None)


@pytest.mark.timeout(60)
def test_a_worker_exception_arrives_as_itself_with_the_worker_traceback_and_the_stream():
    mux = Mux([Streamer(fails_after, 3), Streamer(endless, "ok")], k=2, lam=None, mode="exhaustive", random_state=0)
    got = []
    with pytest.raises(KeyError, match="row 3 is missing") as info:
        for item in background(mux):
            got.append(item)
    notes = "\n".join(info.value.__notes__)
    assert "fails_after" in notes  # the stream is named
    assert "background worker 0" in notes and "Traceback" in notes and "in fails_after" in notes
    assert sum(isinstance(x, np.ndarray) for x in got) == 3  # items before the error were delivered


@pytest.mark.timeout(60)
def test_a_shard_error_names_the_stream_of_the_full_mux():
    streams = [Streamer(endless, 0), Streamer(endless, 1), Streamer(endless, 2), Streamer(fails_after, 2)]
    mux = Mux(streams, k=4, lam=None, random_state=0)
    with pytest.raises(KeyError) as info:
        list(background(mux, workers=2).iterate(1000))
    notes = "\n".join(info.value.__notes__)
    assert "is stream 3 of the full mux" in notes and "background worker 1 of 2" in notes


@pytest.mark.timeout(60)
def test_an_exception_that_cannot_be_pickled_becomes_a_worker_error_with_its_traceback():
    with pytest.raises(WorkerError, match="Unsendable raised in background worker 0") as info:
        list(background(Streamer(raises_unsendable)))
    assert "raises_unsendable" in info.value.traceback


def slow_endless():
    while True:
        time.sleep(0.001)
        yield np.zeros(8)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_worker_that_dies_raises_worker_error_naming_it_and_the_signal(sig):
    it = iter(background(Mux([Streamer(slow_endless) for _ in range(2)], k=2, lam=4, random_state=0), workers=2))
    next(it)
    victim = it.procs[1].pid
    os.kill(victim, sig)
    start = time.monotonic()
    with pytest.raises(WorkerError) as info:
        for _ in it:
            pass
    assert time.monotonic() - start < 5
    err = info.value
    assert err.worker == 1 and err.pid == victim and err.signal == sig.name
    assert f"worker 1 of 2 (pid {victim}) was killed by {sig.name}" in str(err)
    assert shm_entries() == [] and children() == []


def exits_quietly():
    yield 1
    os._exit(3)


@pytest.mark.timeout(60)
def test_a_worker_that_exits_is_an_error_not_the_end_of_the_stream():
    with pytest.raises(WorkerError, match="exited with code 3"):
        list(background(Streamer(exits_quietly)))


# --------------------------------------------------------------------------- leaving early


@pytest.mark.timeout(120)
def test_leaving_early_a_hundred_times_leaves_no_process_and_no_shared_memory():
    mux = window_mux()
    before_shm, before_children = shm_entries(), children()
    bg = background(mux, workers=2, prefetch=4)
    for round_ in range(100):
        how = round_ % 4
        it = iter(bg)
        next(it)
        if how == 0:
            it.close()
        elif how == 1:
            for _ in it:
                break  # then garbage collection
        elif how == 2:
            with pytest.raises(KeyboardInterrupt):
                for _ in it:
                    raise KeyboardInterrupt
        else:
            bg.close()
        del it
    assert shm_entries() == before_shm
    assert children() == before_children


PARENT = textwrap.dedent(
    """
    import sys, numpy as np
    from muxlab import Mux, Streamer, background
    def windows(i):
        while True:
            yield {"X": np.full((16, 128), i, dtype=np.float32)}
    mux = Mux([Streamer(windows, i) for i in range(4)], k=2, lam=4, random_state=0)
    it = iter(background(mux, workers=2))
    next(it)
    print(" ".join(str(p.pid) for p in it.procs), flush=True)
    sys.stdin.read()
    """
)


@pytest.mark.timeout(60)
def test_workers_stop_and_free_shared_memory_when_the_parent_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in pids):
            time.sleep(0.05)
        alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
        assert alive == []
        assert [name for name in os.listdir("/dev/shm") if name.startswith(f"muxlab-{parent.pid}-")] == []
    finally:
        parent.kill()
        parent.wait()


def unsendable():
    yield {"X": np.ones(2)}
    yield {"X": np.ones(2), "f": lambda: 1}  # a function defined here cannot be pickled


@pytest.mark.timeout(60)
def test_an_item_that_cannot_be_sent_raises_here_after_the_items_before_it():
    it = iter(background(Streamer(unsendable)))
    assert next(it)["X"].tolist() == [1.0, 1.0]
    with pytest.raises((AttributeError, pickle.PicklingError, TypeError)) as info:
        next(it)
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "could not be sent to the consumer" in notes and "background worker 0" in notes
    it.close()
    assert not shm_entries()


def timed(interval, count):
    """Items made every ``interval`` seconds, each carrying the time it was made."""
    for _ in range(count):
        time.sleep(interval)
        yield np.array([time.perf_counter()])


@pytest.mark.timeout(60)
def test_a_slow_stream_is_not_held_back(monkeypatch):
    # Each item must come as soon as it is made (not with the next ones): the worker wakes the sleeping
    # consumer, which would otherwise look again only after its timeout (made long here).
    monkeypatch.setattr(sys.modules["muxlab.background"], "_WAKE_TIMEOUT", 1.0)
    lags = []
    for item in background(Streamer(timed, 0.05, 12), prefetch=8):
        lags.append(time.perf_counter() - float(item[0]))
    assert len(lags) == 12
    assert sorted(lags)[len(lags) // 2] < 0.02, lags  # median lag: a wake-up, not a batch


def growing(n):
    """Windows whose row count follows a Knob (item sizes change mid-stream)."""
    i = 0
    while True:
        yield {"X": np.full((n.value, 64), i, dtype=np.float32), "i": i}
        i += 1


@pytest.mark.timeout(60)
def test_items_that_grow_and_shrink_mid_stream_arrive_whole():
    n = Knob(4)
    it = iter(background(Streamer(growing, n), prefetch=3))
    seen = []
    for rows in (4, 5000, 1, 300, 4):
        n.value = rows
        for _ in range(12):
            x = next(it)
            seen.append(x["i"])
            assert x["X"].shape[1] == 64 and (x["X"] == x["i"]).all()
        assert x["X"].shape == (rows, 64)  # at most prefetch items are stale
    it.close()
    assert seen == list(range(len(seen)))
    assert not shm_entries()


# --------------------------------------------------------------------------- live parameters


def knob_values(n):
    while True:
        yield np.full(2, n.value)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("workers", [1, 2])
def test_a_knob_set_here_reaches_the_workers_with_at_most_prefetch_stale_items(workers):
    n = Knob(16)
    mux = Mux([Streamer(knob_values, n) for _ in range(4)], k=2, lam=3, random_state=0)
    prefetch = 4
    it = iter(background(mux, workers=workers, prefetch=prefetch))
    assert {int(next(it)[0]) for _ in range(50)} == {16}
    n.value = 32
    after = [int(next(it)[0]) for _ in range(200)]
    for w in range(workers):  # items are taken from the workers in turn
        mine = after[w::workers]
        stale = mine.index(32)
        assert stale <= prefetch
        assert set(mine[stale:]) == {32}
    it.close()


@pytest.mark.timeout(60)
def test_k_lam_and_weights_set_on_the_background_object_reach_the_workers():
    prefetch = 4
    mux = Mux([Streamer(endless, i) for i in range(6)], k=1, lam=None, random_state=2)
    bg = background(mux, prefetch=prefetch)
    it = iter(bg)
    try:
        assert len({next(it) for _ in range(100)}) == 1  # k=1, endless activation: one stream
        bg.k = 3
        assert mux.k == 3
        after = [next(it) for _ in range(300)]
        assert len(set(after[prefetch:])) == 3  # at most `prefetch` items were made before the change
        running = set(after[prefetch:])
        bg.weights = [0, 0, 0, 0, 0, 1]
        # with lam=None no activation ends, so new weights change nothing yet
        assert set(next(it) for _ in range(50)) == running
        bg.lam = 1  # every activation now lasts one item: new activations follow the weights
        after = [next(it) for _ in range(100)]
        # stale: at most `prefetch` items, then the last item of each of the k=3 running activations
        assert set(after[prefetch + 3 :]) == {5}
        assert set(after[:prefetch + 3]) != {5}
        with pytest.raises(muxlab.ParameterError):
            bg.k = 0
        assert bg.k == 3
    finally:
        it.close()


@pytest.mark.timeout(60)
def test_live_k_is_split_among_workers():
    mux = Mux([Streamer(endless, i) for i in range(8)], k=2, lam=None, mode="single_active", random_state=4)
    bg = background(mux, workers=2, prefetch=2)
    it = iter(bg)
    assert len({next(it) for _ in range(100)}) == 2  # one active stream per worker
    bg.k = 8
    after = [next(it) for _ in range(800)]
    assert set(after[100:]) == set(range(8))
    it.close()


@pytest.mark.timeout(60)
def test_spawned_workers_get_a_pickled_mux_and_its_knobs():
    n = Knob(3)
    mux = Mux([Streamer(knob_values, n) for _ in range(4)], k=2, lam=3, random_state=0)
    it = iter(background(mux, workers=2, prefetch=2, start_method="spawn"))
    assert {int(next(it)[0]) for _ in range(20)} == {3}
    n.value = 5
    assert {int(next(it)[0]) for _ in range(40)}.issuperset({5})
    it.close()
    assert list(background(Streamer(list(range(5))), start_method="spawn")) == list(range(5))
    with pytest.raises((muxlab.ParameterTypeError, TypeError, AttributeError)):
        list(background(Streamer((i for i in range(3))), start_method="spawn"))
    assert children() == []


@pytest.mark.timeout(60)
def test_shuffled_mux_shards_keep_weights():
    mux = ShuffledMux([Streamer(endless, i) for i in range(4)], weights=[1, 0, 1, 0], random_state=0)
    got = list(background(mux, workers=2).iterate(200))
    assert set(got) == {0, 2}  # worker 1's streams all have weight 0: it yields nothing
