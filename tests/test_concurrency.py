"""Concurrency: live parameters changed from another thread while a mux streams from disk.

A notebook widget (or a scheduler in a training script) sets ``mux.k``,
``mux.lam``, ``mux.weights`` and a loader's ``n`` (a ``muxlab.Knob``) from
its own thread while the consumer keeps drawing batches. The consumer must
never see an exception or a malformed batch, and the counters must add up.
"""

import sys
import threading
import time
from collections import Counter

import numpy as np
import pytest
from streams import endless_streams

import muxlab.mux.chooser as chooser_module
import muxlab.mux.slots as slots_module
import muxlab.mux.stochastic as stochastic_module
from muxlab import Knob, Mux, StochasticMux, fixtures
from muxlab.fixtures import ROW_BASE
from muxlab.loaders import STRATEGIES, streams

#: The files of StochasticMux's pass: a line tracer reads the counters before each of their lines.
ENGINE_FILES = {m.__file__ for m in (stochastic_module, slots_module, chooser_module)}

K_VALUES = (1, 3, 8, 16, 48)  # 48 > the 40 streams: with replacement, slots may share a stream
N_VALUES = (1, 5, 16, 40)  # 40: the rows of the shortest tiny item
SECONDS = 10.0
RATE = 1000  # changes per second the setter aims at


@pytest.fixture
def switch_often():
    """Let a setter thread get the GIL often although the consumer never blocks."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    yield
    sys.setswitchinterval(old)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return fixtures.make(tmp_path_factory.mktemp("concurrency") / "tiny", "tiny")


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_a_thousand_live_changes_a_second_for_ten_seconds(tiny, switch_often):
    n = Knob(16)
    all_streams = []
    for seed, name in enumerate(STRATEGIES):  # 8 items x 5 strategies = 40 streams sharing one Knob
        all_streams += streams(name, tiny, n, random_state=seed)
    originals = [fixtures.item_arrays("tiny", i)[0] for i in range(8)]
    mux = Mux(all_streams, k=8, lam=4, random_state=0)
    stop = threading.Event()
    changes = Counter()
    setter_errors = []

    def setter():
        rng = np.random.default_rng(1)
        due = time.perf_counter()
        i = 0
        try:
            while not stop.is_set():
                what = i % 4
                if what == 0:
                    mux.k = K_VALUES[rng.integers(len(K_VALUES))]
                elif what == 1:
                    mux.lam = float(rng.uniform(1, 20))
                elif what == 2:
                    mux.weights = rng.uniform(0.01, 1, len(all_streams))
                else:
                    n.value = N_VALUES[rng.integers(len(N_VALUES))]
                changes["kwln"[what]] += 1
                i += 1
                due += 1 / RATE
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
        except BaseException as exc:  # pragma: no cover - reported below
            setter_errors.append(exc)

    thread = threading.Thread(target=setter, daemon=True)
    yielded = 0
    rows = Counter()
    actives = Counter()
    thread.start()
    start = time.perf_counter()
    try:
        for batch in mux:
            yielded += 1
            X, Y = batch["X"], batch["Y"]
            assert len(X) == len(Y) and len(Y) in N_VALUES
            rows[len(Y)] += 1
            active = len(mux.stats.active)
            assert active in K_VALUES or active == 8, active  # 8: the k it started with
            actives[active] += 1
            if yielded % 16 == 0:  # data intact: contiguous rows of one item, original values
                item = int(Y[0]) // ROW_BASE
                np.testing.assert_array_equal(np.diff(Y), 1)
                np.testing.assert_array_equal(X, originals[item][Y % ROW_BASE])
            if yielded % 256 == 0 and time.perf_counter() - start > SECONDS:
                break
    finally:
        stop.set()
        thread.join(timeout=10)
    elapsed = time.perf_counter() - start
    assert not setter_errors, setter_errors
    total = sum(changes.values())
    print(f"\n{total} changes in {elapsed:.1f} s ({total / elapsed:.0f}/s: {dict(changes)}), "
          f"{yielded} batches ({yielded / elapsed:.0f}/s), rows seen {dict(rows)}, active slots seen {dict(actives)}")
    assert mux.stats.samples.sum() == yielded
    assert mux.stats.running == 0
    assert total / elapsed > 400, "the setter thread starved"
    assert set(rows) == set(N_VALUES) and set(actives) >= set(K_VALUES)
    # Every live change was applied: the run ends with the last values set.
    assert mux.stats.retirements["k_lowered"] > 0


@pytest.mark.timeout(60)
def test_two_passes_in_two_threads_count_every_item_and_activation(switch_often):
    events = Counter()
    lock = threading.Lock()

    def count(event):
        with lock:
            events[event.kind] += 1

    mux = StochasticMux(endless_streams(20), 4, 2, dist="constant", random_state=None, on_event=count)
    got = [0, 0]

    def run(i):
        for _ in mux(max_iter=40_000):
            got[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert got == [40_000, 40_000]
    assert mux.stats.samples.sum() == 80_000
    assert mux.stats.activations.sum() == events["activate"]
    assert sum(mux.stats.retirements.values()) == events["retire"]
    assert mux.stats.running == 0


@pytest.mark.timeout(30)
def test_stats_seen_from_another_thread_at_any_line_are_consistent():
    """Models every point where the GIL could pass to a reader thread: a line tracer on the engine's
    code reads the counters before each line of the pass, as another thread switching in there would."""
    mux = StochasticMux(endless_streams(6), 3, 5, dist="poisson", random_state=0)
    yielded = 0
    reading = False
    torn = Counter()

    def at_line(frame, event, arg):
        nonlocal reading
        # A reader thread blocks on the lock while the engine holds it, so those points are not observable.
        if event == "line" and not reading and not mux.passes.lock.locked():
            reading = True
            try:
                samples, active = mux.stats.samples, mux.stats.active
                if not (yielded <= samples.sum() <= yielded + 1) or samples.min() < 0:
                    torn[f"samples at {frame.f_code.co_name}:{frame.f_lineno}"] += 1
                if active.size and (active.min() < 0 or active.max() >= mux.n_streams):
                    torn[f"active at {frame.f_code.co_name}:{frame.f_lineno}"] += 1
            finally:
                reading = False
        return at_line

    def on_call(frame, event, arg):
        code = frame.f_code
        if code.co_filename in ENGINE_FILES and code.co_name not in ("live_samples", "active_streams"):
            return at_line
        return None

    it = iter(mux)
    sys.settrace(on_call)
    try:
        for i in range(3000):
            next(it)
            yielded += 1
            if i == 1000:
                mux.rate = 9
            if i == 1500:
                mux.k = 6
            if i == 2000:
                mux.k = 2
    finally:
        sys.settrace(None)
    assert mux.stats.samples.sum() == yielded
    assert not torn, dict(torn)
