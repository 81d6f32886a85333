import math
from collections import Counter

import numpy as np
import pytest
from streams import endless, endless_streams, finite_streams

import muxlab
from muxlab import Mux, StochasticMux, Streamer
from muxlab.lifetimes import DISTS, lifetime_variance

MODES = ("with_replacement", "single_active", "exhaustive")


def retired_lifetimes(mux, n_retirements):
    """Run ``mux`` until ``n_retirements`` activations ended; return their sample counts."""
    lives = []

    def record(event):
        if event.kind == "retire":
            lives.append(event.samples)

    mux.on_event = record
    for _ in mux:
        if len(lives) >= n_retirements:
            break
    return np.array(lives[:n_retirements])


def test_seed_example_runs_unchanged():
    def sample_rows(data, n):
        rng = np.random.default_rng(0)
        while True:
            idx = rng.integers(len(data) - n + 1)
            yield dict(X=data[idx : idx + n], Y=data[idx : idx + n, 0])

    n = 16
    arrays = [np.arange(i, i + 800, dtype=np.float32).reshape(200, 4) for i in range(40)]
    streams = [muxlab.Streamer(sample_rows, a, n) for a in arrays]
    mux_stream = muxlab.Mux(streams, k=32, lam=16)
    batches = 0
    for batch in mux_stream.generate(max_batches=1000):
        assert batch["X"].shape == (16, 4)
        batches += 1
    assert batches == 1000
    assert mux_stream.stats.samples.sum() == 1000


def test_k_lam_and_n_active_rate_are_the_same_properties_on_both_classes():
    for mux in (Mux(endless_streams(3), k=2, lam=5), StochasticMux(endless_streams(3), 2, 5)):
        assert (mux.k, mux.n_active, mux.lam, mux.rate) == (2, 2, 5.0, 5.0)
        mux.k = 3
        mux.lam = 7
        assert (mux.k, mux.n_active, mux.lam, mux.rate) == (3, 3, 7.0, 7.0)
        mux.n_active = 1
        mux.rate = None
        assert (mux.k, mux.lam) == (1, None)


@pytest.mark.parametrize("dist", DISTS)
@pytest.mark.parametrize("rate", [16, 5.5])
def test_mean_samples_per_activation_equals_rate(dist, rate):
    k, n = 32, 20_000
    mux = StochasticMux(endless_streams(100), k, rate, dist=dist, random_state=3)
    lives = retired_lifetimes(mux, n)
    var = lifetime_variance(dist, rate, k)
    assert abs(lives.mean() - rate) <= 5 * math.sqrt(var / n) + 1e-9
    assert lives.min() >= 1


def test_variance_of_lifetimes_is_ordered_constant_binomial_poisson():
    variances = []
    for dist in ("constant", "binomial", "poisson"):
        mux = StochasticMux(endless_streams(50), 32, 16, dist=dist, random_state=5)
        variances.append(retired_lifetimes(mux, 5000).var())
    assert variances[0] < variances[1] < variances[2]


@pytest.mark.parametrize("dist", DISTS)
def test_long_run_shares_follow_weights(dist):
    n_streams, k, lam, n_items = 10, 4, 8, 200_000
    weights = np.array([0.5] + [0.5 / 9] * 9)
    mux = StochasticMux(endless_streams(n_streams), k, lam, weights=weights, dist=dist, random_state=11)
    items = np.fromiter(mux(max_iter=n_items), dtype=np.int64)
    share = np.bincount(items, minlength=n_streams) / n_items
    # Ratio estimator over A = n/lam activations, each going to stream i with
    # probability w and lasting L samples: Var(share_i) ~ w(1-w) E[L^2] / (A E[L]^2).
    activations = n_items / lam
    mean_sq = lam**2 + lifetime_variance(dist, lam, k)
    sd = np.sqrt(weights * (1 - weights) * mean_sq / (activations * lam**2))
    assert np.all(np.abs(share - weights) <= 4 * sd), (share, weights, sd)
    np.testing.assert_array_equal(mux.stats.samples, np.bincount(items, minlength=n_streams))


def test_single_active_never_holds_a_stream_twice():
    active = Counter()
    violations = []

    def track(event):
        if event.kind == "activate":
            if active[event.stream]:
                violations.append(event)
            active[event.stream] += 1
        else:
            active[event.stream] -= 1

    mux = StochasticMux(endless_streams(12), 10, 3, mode="single_active", random_state=2, on_event=track)
    for i, _ in enumerate(mux(max_iter=30_000)):
        if i % 1000 == 0:
            now = mux.stats.active.tolist()
            assert len(now) == len(set(now)) == 10
    assert not violations
    assert mux.stats.activations.sum() > 5000


@pytest.mark.parametrize("rate", [None, 2])
def test_exhaustive_activates_each_stream_at_most_once(rate):
    lengths = [0, 1, 5, 9, 3, 7, 2, 8]
    mux = StochasticMux(finite_streams(lengths), 3, rate, mode="exhaustive", random_state=4)
    items = list(mux)
    assert len(items) == len(set(items))
    assert mux.stats.activations.max() == 1
    if rate is None:
        # Run to exhaustion: every item of every stream, exactly once.
        assert sorted(items) == sorted((i, j) for i, n in enumerate(lengths) for j in range(n))
        assert mux.stats.activations.sum() == len(lengths)


def test_rate_none_runs_each_activation_to_exhaustion():
    mux = StochasticMux(finite_streams([4, 4, 4]), 1, None, random_state=0)
    items = list(mux(max_iter=12))
    # With one slot and each activation run to its end, items come in whole runs of four.
    runs = [items[i : i + 4] for i in range(0, 12, 4)]
    for run in runs:
        assert [j for _, j in run] == [0, 1, 2, 3] and len({i for i, _ in run}) == 1


@pytest.mark.parametrize("mode", MODES)
def test_sum_of_sample_counts_equals_items_yielded(mode):
    mux = StochasticMux(finite_streams([30] * 20), 5, 4, mode=mode, random_state=8)
    total = 0
    for max_iter in (100, 1, 57):
        total += len(list(mux(max_iter=max_iter)))
    for i, _ in enumerate(mux):
        total += 1
        if i == 9:
            break
    assert mux.stats.samples.sum() == total
    assert mux.stats.running == 0


def test_stats_are_live_during_a_pass_and_reset_keeps_counting():
    mux = StochasticMux(endless_streams(6), 3, 5, random_state=1)
    it = iter(mux)
    for _ in range(40):
        next(it)
    assert mux.stats.samples.sum() == 40
    assert len(mux.stats.active) == 3
    mux.stats.reset()
    assert mux.stats.samples.sum() == 0 and mux.stats.activations.sum() == 0
    for _ in range(25):
        next(it)
    assert mux.stats.samples.sum() == 25
    it.close()
    assert mux.stats.samples.sum() == 25 and len(mux.stats.active) == 0


def test_stats_count_the_passes_started_since_the_last_reset():
    mux = StochasticMux(endless_streams(3), 2, 3, random_state=0)
    for _ in range(3):
        list(mux(max_iter=10))
    assert mux.stats.passes == 3
    mux.stats.reset()
    assert mux.stats.passes == 0


def test_to_frame_has_one_row_per_stream():
    mux = StochasticMux(endless_streams(4), 2, 3, random_state=0)
    list(mux(max_iter=100))
    frame = mux.stats.to_frame()
    assert list(frame.columns) == ["stream", "activations", "samples", "active"]
    assert len(frame) == 4 and frame["samples"].sum() == 100
    assert frame["activations"].sum() == mux.stats.activations.sum()


def test_to_frame_active_is_the_running_pass_slots_per_stream_and_zero_after():
    n, k = 4, 6  # more slots than streams: with replacement, a stream often holds two
    mux = StochasticMux(endless_streams(n), k, 3, random_state=0)
    it = iter(mux)
    most = 0
    for i in range(300):
        next(it)
        if i % 10 == 0:
            active = mux.stats.to_frame()["active"]
            assert active.tolist() == np.bincount(mux.stats.active, minlength=n).tolist()
            assert active.sum() == k
            most = max(most, active.max())
    assert most >= 2
    it.close()
    assert mux.stats.to_frame()["active"].tolist() == [0] * n
    assert mux.stats.activations.sum() > k  # so counting activations would not give the same column


def test_stats_active_shows_the_most_recently_started_pass_still_running():
    # exhaustive, one slot, to exhaustion: each pass runs the streams one after another, in the same
    # (seeded) order, so a pass further on shows a different stream
    mux = StochasticMux(finite_streams([2, 2, 2]), 1, None, mode="exhaustive", random_state=0)
    older = iter(mux)
    ahead = [next(older) for _ in range(3)]
    assert mux.stats.active.tolist() == [ahead[-1][0]]
    newer = iter(mux)
    first = next(newer)
    assert first[0] != ahead[-1][0]
    assert mux.stats.running == 2
    assert mux.stats.active.tolist() == [first[0]]
    newer.close()
    assert mux.stats.active.tolist() == [ahead[-1][0]]
    older.close()
    assert mux.stats.active.tolist() == []


def test_retirement_reasons_are_counted():
    events = []
    mux = StochasticMux(finite_streams([0, 2, 50]), 2, 5, random_state=0, prune_empty_streams=True,
                        on_event=events.append)
    it = iter(mux)
    for _ in range(300):
        next(it)
    r = mux.stats.retirements
    assert r["lifetime"] > 0 and r["exhausted"] > 0
    assert r["pruned"] == 1  # the empty stream, once: pruned streams are never activated again
    # every activation has ended for a counted reason, but for the k still running
    assert sum(r.values()) + len(mux.stats.active) == mux.stats.activations.sum()
    assert Counter(e.reason for e in events if e.kind == "retire") == +Counter(r)
    retired = [e for e in events if e.kind == "retire"]
    assert all(e.stream == 0 and e.samples == 0 for e in retired if e.reason == "pruned")
    assert all(e.samples > 0 for e in retired if e.reason in ("lifetime", "exhausted"))
    it.close()


def test_events_carry_stream_slot_time_and_counts():
    events = []
    mux = StochasticMux(endless_streams(3), 2, 4, dist="constant", random_state=0, on_event=events.append)
    list(mux(max_iter=40))
    kinds = Counter(e.kind for e in events)
    assert kinds["activate"] == mux.stats.activations.sum()
    assert all(e.samples == 4 for e in events if e.kind == "retire")
    times = [e.t for e in events]
    assert times == sorted(times) and times[0] >= 0
    assert all(0 <= e.slot < 2 for e in events)
    assert [e.n for e in events if e.kind == "retire"] == sorted(e.n for e in events if e.kind == "retire")


def test_same_int_seed_same_sequence_and_each_pass_repeats():
    a = StochasticMux(endless_streams(20), 4, 3, random_state=42)
    b = StochasticMux(endless_streams(20), 4, 3, random_state=42)
    first = list(a(max_iter=500))
    assert first == list(b(max_iter=500))
    assert first == list(a(max_iter=500))
    assert first != list(StochasticMux(endless_streams(20), 4, 3, random_state=43)(max_iter=500))


def test_generator_keeps_drawing_so_passes_differ():
    mux = StochasticMux(endless_streams(20), 4, 3, random_state=np.random.default_rng(1))
    assert list(mux(max_iter=300)) != list(mux(max_iter=300))
    rs_mux = StochasticMux(endless_streams(20), 4, 3, random_state=np.random.RandomState(1))
    first = list(rs_mux(max_iter=300))
    assert first != list(rs_mux(max_iter=300))
    assert first == list(StochasticMux(endless_streams(20), 4, 3, random_state=np.random.RandomState(1))(max_iter=300))


def test_none_seed_uses_fresh_entropy_and_never_numpy_global_state():
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    a = list(StochasticMux(endless_streams(20), 4, 3)(max_iter=300))
    b = list(StochasticMux(endless_streams(20), 4, 3)(max_iter=300))
    assert a != b
    np.testing.assert_array_equal(before, np.random.get_state()[1])


def test_samples_pass_through_untouched():
    item = {"X": np.zeros(3), "meta": ("a", 1)}
    mux = StochasticMux([Streamer(endless, item)], 1, 2, random_state=0)
    assert all(x is item for x in mux(max_iter=10))


def test_nested_muxes():
    inner = StochasticMux(finite_streams([5, 5]), 1, None, mode="exhaustive", random_state=1)
    outer = StochasticMux([inner, Streamer([("x", 0)])], 2, None, mode="exhaustive", random_state=2)
    items = list(outer)
    expected = [(0, j) for j in range(5)] + [(1, j) for j in range(5)] + [("x", 0)]
    assert sorted(items, key=repr) == sorted(expected, key=repr)
    assert inner.stats.samples.sum() == 10


def test_activation_does_not_copy_streamers_or_arguments():
    big = np.zeros(10_000)
    seen = []

    def hold(arr):
        seen.append(arr)
        yield arr

    mux = StochasticMux([Streamer(hold, big)], 1, 1, random_state=0)
    list(mux(max_iter=5))
    assert len(seen) == 5 and all(a is big for a in seen)


def test_stream_exception_reaches_the_consumer_with_a_note():
    class Boom(Exception):
        pass

    def bad():
        yield 1
        raise Boom("disk gone")

    mux = StochasticMux([Streamer(bad)], 1, None, random_state=0)
    with pytest.raises(Boom, match="disk gone") as info:
        list(mux)
    assert any("stream 0" in note and "bad" in note for note in info.value.__notes__)


def test_on_error_skip_retires_the_stream_and_keeps_the_exception():
    def bad():
        yield "bad"
        raise RuntimeError("boom")

    mux = StochasticMux([Streamer(bad), Streamer(endless, "ok")], 2, 3, random_state=0, on_error="skip")
    items = list(mux(max_iter=2000))
    assert len(items) == 2000
    assert mux.stats.retirements["error"] > 0
    stream, exc = mux.stats.errors[0]
    assert stream == 0 and isinstance(exc, RuntimeError)
    assert mux.stats.samples.sum() == 2000


@pytest.mark.timeout(10)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("prune", [True, False])
def test_all_empty_streams_end_instead_of_spinning(mode, prune):
    mux = StochasticMux([Streamer([]) for _ in range(5)], 3, 4, mode=mode, prune_empty_streams=prune, random_state=0)
    assert list(mux) == []
    assert list(mux(max_iter=10)) == []


@pytest.mark.timeout(10)
def test_without_pruning_an_empty_stream_is_tried_again():
    mux = StochasticMux(finite_streams([0, 3]), 1, None, prune_empty_streams=False, random_state=0)
    items = list(mux(max_iter=60))
    assert len(items) == 60
    assert mux.stats.activations[0] > 1


def test_without_pruning_an_empty_activation_retires_as_exhausted():
    events = []
    mux = StochasticMux(finite_streams([0, 3]), 1, None, prune_empty_streams=False, random_state=0,
                        on_event=events.append)
    list(mux(max_iter=60))
    empty = [e for e in events if e.kind == "retire" and e.stream == 0]
    assert len(empty) == mux.stats.activations[0] > 1
    assert all(e.reason == "exhausted" and e.samples == 0 for e in empty)
    assert mux.stats.retirements["pruned"] == 0


def test_pruned_empty_stream_is_never_activated_again():
    mux = StochasticMux(finite_streams([0, 3]), 1, None, random_state=0)
    list(mux(max_iter=60))
    assert mux.stats.activations[0] <= 1


def test_max_iter_zero_yields_nothing_and_activates_nothing():
    mux = StochasticMux(endless_streams(3), 2, 3, random_state=0)
    assert list(mux(max_iter=0)) == []
    assert mux.stats.activations.sum() == 0


def test_cycle_on_a_mux():
    mux = StochasticMux(finite_streams([2, 2]), 2, None, mode="exhaustive", random_state=0)
    assert len(list(mux.cycle(max_iter=10))) == 10


BAD_ARGS = [
    (dict(n_active=0), muxlab.ParameterError, "n_active=0"),
    (dict(n_active=2.5), muxlab.ParameterTypeError, "n_active=2.5"),
    (dict(n_active=True), muxlab.ParameterTypeError, "n_active=True"),
    (dict(rate=0), muxlab.ParameterError, "rate=0"),
    (dict(rate=0.5), muxlab.ParameterError, "rate=0.5"),
    (dict(rate=float("nan")), muxlab.ParameterError, "rate=nan"),
    (dict(rate=float("inf")), muxlab.ParameterError, "rate=inf"),
    (dict(rate="16"), muxlab.ParameterTypeError, "rate='16'"),
    (dict(weights=[1, 2]), muxlab.ParameterError, "expected 3 numbers"),
    (dict(weights=[1, -1, 1]), muxlab.ParameterError, "negative"),
    (dict(weights=[1, float("nan"), 1]), muxlab.ParameterError, "weights[1]=nan"),
    (dict(weights=[0, 0, 0]), muxlab.ParameterError, "all zero"),
    (dict(weights="abc"), muxlab.ParameterTypeError, "weights"),
    (dict(mode="sometimes"), muxlab.ParameterError, "mode='sometimes'"),
    (dict(dist="uniform"), muxlab.ParameterError, "dist='uniform'"),
    (dict(mode="single_active", n_active=4), muxlab.ParameterError, "n_active=4 is more than the 3 streams"),
    (dict(mode="exhaustive", n_active=4), muxlab.ParameterError, "n_active=4"),
    (dict(random_state="seed"), muxlab.ParameterTypeError, "random_state='seed'"),
    (dict(random_state=-1), muxlab.ParameterError, "random_state=-1"),
    (dict(on_error="ignore"), muxlab.ParameterError, "on_error='ignore'"),
    (dict(on_event=5), muxlab.ParameterTypeError, "on_event=5"),
]


@pytest.mark.parametrize("change, error, match", BAD_ARGS)
def test_bad_arguments_raise_at_construction_naming_the_parameter(change, error, match):
    args = dict(streamers=endless_streams(3), n_active=2, rate=4)
    args.update(change)
    with pytest.raises(error, match=match.replace("(", r"\(").replace("[", r"\[")):
        StochasticMux(**args)


@pytest.mark.parametrize(
    "streamers, error, match",
    [([], muxlab.ParameterError, "empty"), ([1, 2], muxlab.ParameterTypeError, r"streamers\[0\]=1"), (5, muxlab.ParameterTypeError, "not a collection")],
)
def test_bad_streamers(streamers, error, match):
    with pytest.raises(error, match=match):
        StochasticMux(streamers, 1, 2)


def test_errors_are_also_builtin_exceptions():
    with pytest.raises(ValueError):
        Mux(endless_streams(2), k=0, lam=2)
    with pytest.raises(TypeError):
        Mux(endless_streams(2), k="2", lam=2)
    assert issubclass(muxlab.ParameterError, muxlab.MuxlabError)


def test_pescador_1x_keywords_map_to_modes():
    assert Mux(endless_streams(3), k=1, lam=2, with_replacement=False).mode == "exhaustive"
    assert Mux(endless_streams(3), k=1, lam=2, with_replacement=False, revive=True).mode == "single_active"
    assert Mux(endless_streams(3), k=1, lam=2).mode == "with_replacement"


def test_switching_from_pescador_by_changing_the_import():
    pescador = pytest.importorskip("pescador")
    for lib in (pescador, muxlab):
        streams = [lib.Streamer([(i, j) for j in range(4)]) for i in range(6)]
        mux = lib.StochasticMux(streams, 2, None, mode="exhaustive", random_state=0)
        items = sorted(mux)
        assert items == sorted((i, j) for i in range(6) for j in range(4)), lib.__name__


def test_counters_off_leaves_counts_at_zero_but_active_works():
    mux = StochasticMux(endless_streams(6), 3, 4, random_state=0, counters=False)
    it = iter(mux)
    for _ in range(100):
        next(it)
    assert len(mux.stats.active) == 3
    assert mux.stats.samples.sum() == 0 and mux.stats.activations.sum() == 0
    assert sum(mux.stats.retirements.values()) == 0
    it.close()
    same = StochasticMux(endless_streams(6), 3, 4, random_state=0)
    assert list(mux(max_iter=200)) == list(same(max_iter=200))


def test_single_active_keeps_k_slots_when_most_weight_is_on_a_stream_in_use():
    # Almost every candidate is the heavy stream, already active: the exact choice among free streams must
    # still find the light streams that were active before and are free again.
    mux = Mux([Streamer(endless, i) for i in range(3)], k=2, lam=1, weights=[1000, 1, 1], mode="single_active",
              dist="constant", random_state=3)
    slots = [len(mux.stats.active) for n, _ in enumerate(mux.iterate(max_iter=3000)) if n % 100 == 99]
    assert slots == [2] * 30
    assert min(mux.stats.activations[1:]) > 300  # each light stream takes about a quarter of the activations
