import sys
import threading
import time

import numpy as np
import pytest
from streams import endless_streams

import muxlab
from muxlab import Knob, Mux, StochasticMux


def advance(it, n):
    for _ in range(n):
        next(it)


def test_lowering_k_retires_surplus_before_the_next_item():
    mux = Mux(endless_streams(20), k=8, lam=50, random_state=0)
    it = iter(mux)
    advance(it, 100)
    assert len(mux.stats.active) == 8
    mux.k = 3
    next(it)
    assert len(mux.stats.active) == 3
    assert mux.stats.retirements["k_lowered"] == 5


def test_raising_k_activates_new_streams():
    mux = Mux(endless_streams(20), k=2, lam=50, random_state=0)
    it = iter(mux)
    advance(it, 10)
    before = mux.stats.activations.sum()
    mux.k = 9
    next(it)
    assert len(mux.stats.active) == 9
    assert mux.stats.activations.sum() == before + 7


def test_new_lam_redraws_remaining_lifetimes_and_applies_to_later_activations():
    lives = []
    mux = Mux(endless_streams(5), k=2, lam=1000, dist="constant", random_state=0)
    mux.on_event = lambda e: lives.append(e.samples) if e.kind == "retire" else None
    it = iter(mux)
    advance(it, 20)
    assert lives == []
    mux.lam = 2
    advance(it, 200)
    # The two active streams got a fresh remaining lifetime of 2 (plus what they had
    # already yielded); every later activation lives exactly 2 samples.
    assert len(lives) >= 90
    assert set(lives[2:]) == {2}
    assert sum(lives[:2]) == 20 + 4


@pytest.mark.parametrize("make", [lambda w: StochasticMux(endless_streams(3), 2, 3, weights=w, random_state=0),
                                  lambda w: muxlab.ShuffledMux(endless_streams(3), weights=w, random_state=0)],
                         ids=["StochasticMux", "ShuffledMux"])
def test_editing_the_returned_weights_changes_nothing(make):
    mux = make([1, 1, 2])
    returned = mux.weights
    returned[:] = [0, 0, 1]
    assert mux.weights.tolist() == [0.25, 0.25, 0.5]
    counts = np.bincount(list(mux(max_iter=3000)), minlength=3)
    assert counts.min() > 0  # streams 0 and 1 still have their weight


def test_new_weights_apply_to_the_next_choices():
    mux = StochasticMux(endless_streams(4), 2, 3, random_state=0)
    it = iter(mux)
    advance(it, 50)
    mux.weights = [0, 0, 0, 1]
    advance(it, 20)  # the active streams run out their lifetimes
    assert [next(it) for _ in range(200)] == [3] * 200
    np.testing.assert_allclose(mux.weights, [0, 0, 0, 1])


@pytest.mark.parametrize(
    "name, value",
    [("k", 0), ("k", 1.5), ("lam", 0), ("lam", float("nan")), ("weights", [1, 2]), ("weights", [0, 0, 0, 0]), ("n_active", -3)],
)
def test_invalid_live_value_raises_and_the_run_goes_on(name, value):
    mux = Mux(endless_streams(4), k=2, lam=3, random_state=0)
    it = iter(mux)
    advance(it, 10)
    with pytest.raises(muxlab.MuxlabError, match=name if name != "n_active" else "k"):
        setattr(mux, name, value)
    assert (mux.k, mux.lam) == (2, 3)
    advance(it, 100)
    assert len(mux.stats.active) == 2


def test_single_active_refuses_more_slots_than_streams_at_assignment():
    mux = StochasticMux(endless_streams(4), 2, 3, mode="single_active", random_state=0)
    with pytest.raises(muxlab.ParameterError, match="n_active=5"):
        mux.n_active = 5
    mux.n_active = 4
    assert len(list(mux(max_iter=10))) == 10


@pytest.mark.timeout(30)
def test_changes_from_another_thread_while_streaming():
    mux = StochasticMux(endless_streams(50), 8, 4, random_state=1)
    ks = [1, 5, 16, 3, 32, 8]
    stop = threading.Event()
    changes = []

    def twiddle():
        rng = np.random.default_rng(0)
        i = 0
        while not stop.is_set():
            mux.k = ks[i % len(ks)]
            mux.lam = float(rng.uniform(1, 20))
            if i % 7 == 0:
                mux.weights = rng.uniform(0.1, 1, 50)
            changes.append(i)
            i += 1
            time.sleep(0.001)

    thread = threading.Thread(target=twiddle)
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)  # let the setter run often despite the busy consumer
    thread.start()
    yielded = 0
    # at least 1.5 s and 100 changes (which take longer on a loaded machine), at most 20 s
    start = time.monotonic()
    try:
        for _ in mux:
            yielded += 1
            assert len(mux.stats.active) in ks
            now = time.monotonic() - start
            if (now > 1.5 and len(changes) > 100) or now > 20:
                break
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(old_interval)
    assert len(changes) > 100
    assert mux.stats.samples.sum() == yielded


@pytest.mark.timeout(10)
def test_setting_k_from_another_thread_takes_effect_within_one_item():
    mux = StochasticMux(endless_streams(30), 10, 1000, random_state=0)
    it = iter(mux)
    advance(it, 5)
    setter = threading.Thread(target=setattr, args=(mux, "k", 4))
    setter.start()
    setter.join()
    advance(it, 2)
    assert len(mux.stats.active) == 4


def test_knob_holds_a_validated_value_across_threads():
    def positive(v):
        if v < 1:
            raise muxlab.ParameterError(f"n={v} is too small; expected >= 1")
        return v

    n = Knob(16, validate=positive)
    seen = []
    threads = [threading.Thread(target=lambda v=v: setattr(n, "value", v)) for v in range(1, 50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seen.append(n.value)
    assert 1 <= n.value < 50 and n.version == 49
    with pytest.raises(muxlab.ParameterError):
        n.value = 0
    assert n.value == seen[0]
