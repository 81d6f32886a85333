from collections import Counter

import numpy as np
import pytest
from streams import endless, endless_streams, finite_streams

import muxlab
from muxlab import ChainMux, RoundRobinMux, ShuffledMux, Streamer


def test_shuffled_mux_follows_weights():
    weights = np.array([0.6, 0.3, 0.1])
    n = 60_000
    mux = ShuffledMux(endless_streams(3), weights=weights, random_state=0)
    share = np.bincount(list(mux(max_iter=n)), minlength=3) / n
    assert np.all(np.abs(share - weights) <= 4 * np.sqrt(weights * (1 - weights) / n))
    np.testing.assert_array_equal(mux.stats.samples, share * n)


def test_shuffled_mux_restarts_streams_and_drops_empty_ones():
    mux = ShuffledMux(finite_streams([2, 0, 3]), random_state=0)
    items = list(mux(max_iter=500))
    assert len(items) == 500
    assert {i for i, _ in items} == {0, 2}
    assert mux.stats.activations[0] > 10 and mux.stats.activations[1] == 1


@pytest.mark.timeout(10)
def test_shuffled_mux_of_empty_streams_ends():
    assert list(ShuffledMux([Streamer([]), Streamer([])], random_state=0)) == []


def test_shuffled_mux_same_seed_same_sequence():
    make = lambda: ShuffledMux(endless_streams(5), random_state=3)  # noqa: E731
    assert list(make()(max_iter=200)) == list(make()(max_iter=200))


def test_round_robin_modes():
    streams = [Streamer("ab"), Streamer("c"), Streamer("def")]
    assert "".join(RoundRobinMux(streams)) == "acdbef"
    assert "".join(RoundRobinMux(streams, mode="cycle")(max_iter=12)) == "acdbefacdbef"
    permuted = "".join(RoundRobinMux(streams, mode="permuted_cycle", random_state=0)(max_iter=60))
    assert permuted[:6] == "acdbef"
    assert Counter(permuted) == Counter("abcdef" * 10)


def test_permuted_cycle_draws_a_new_order_for_every_round():
    n, n_rounds = 6, 40
    items = list(RoundRobinMux([Streamer([i]) for i in range(n)], mode="permuted_cycle", random_state=0)(
        max_iter=n * n_rounds))
    rounds = [tuple(items[i : i + n]) for i in range(0, len(items), n)]
    assert rounds[0] == tuple(range(n))
    assert all(sorted(r) == list(range(n)) for r in rounds)
    # 39 uniform draws among 720 orders: about one pair is expected to repeat (39*38/2/720), and
    # fewer than 30 distinct orders would take at least 9 repeats (Poisson(1.03): p < 1e-6)
    assert len(set(rounds[1:])) >= 30


def test_shuffled_mux_retires_an_empty_activation_as_pruned_and_a_finished_one_as_exhausted():
    events = []
    mux = ShuffledMux(finite_streams([2, 0, 3]), random_state=0, on_event=events.append)
    list(mux(max_iter=500))
    retired = [e for e in events if e.kind == "retire"]
    assert {(e.stream, e.reason, e.samples) for e in retired} == {(0, "exhausted", 2), (1, "pruned", 0),
                                                                  (2, "exhausted", 3)}
    r = mux.stats.retirements
    assert r["pruned"] == 1 and r["exhausted"] == len(retired) - 1 > 100


def test_shuffled_mux_shares_follow_the_weights_left_after_a_stream_is_dropped():
    n = 30_000
    mux = ShuffledMux([Streamer(endless, 0), Streamer([]), Streamer(endless, 2)], random_state=0)
    share = np.bincount(list(mux(max_iter=n)), minlength=3) / n
    # the empty stream is dropped at its first pick: the other two share its weight equally
    assert share[1] == 0 and abs(share[0] - 0.5) <= 4 * np.sqrt(0.25 / n)


@pytest.mark.parametrize("cls", [RoundRobinMux, ChainMux])
def test_ordered_muxes_retire_every_ended_stream_as_exhausted(cls):
    events = []
    mux = cls(finite_streams([2, 0, 3]), on_event=events.append)
    assert len(list(mux)) == 5
    assert mux.stats.retirements == {"lifetime": 0, "exhausted": 3, "k_lowered": 0, "pruned": 0, "error": 0}
    assert sorted((e.stream, e.reason, e.samples) for e in events if e.kind == "retire") == [
        (0, "exhausted", 2), (1, "exhausted", 0), (2, "exhausted", 3)]


def test_on_error_skip_keeps_the_last_thousand_errors():
    def failing(i):
        raise ValueError(i)
        yield  # a generator function: the error comes at the first next()

    limit = 1000
    for n_errors in (limit - 1, limit, limit + 1, limit + 2, limit + 3):
        mux = ChainMux([Streamer(failing, i) for i in range(n_errors)] + [Streamer("ok")], on_error="skip")
        assert "".join(mux) == "ok"
        assert mux.stats.max_errors == limit
        kept = list(range(max(0, n_errors - limit), n_errors))  # the latest ones, oldest first
        assert [stream for stream, _ in mux.stats.errors] == kept, n_errors
        assert [exc.args[0] for _, exc in mux.stats.errors] == kept, n_errors
        assert mux.stats.retirements["error"] == n_errors


@pytest.mark.timeout(10)
def test_round_robin_cycle_of_empty_streams_ends():
    assert list(RoundRobinMux([Streamer([])] * 3, mode="cycle")) == []


def test_chain_modes_and_generator_of_streamers():
    assert "".join(ChainMux([Streamer("ab"), Streamer(""), Streamer("cd")])) == "abcd"
    assert "".join(ChainMux([Streamer("ab"), Streamer("c")], mode="cycle")(max_iter=8)) == "abcabcab"
    gen = (Streamer(c * 2) for c in "xyz")
    assert "".join(ChainMux(gen, mode="cycle")(max_iter=8)) == "xxyyzzxx"


@pytest.mark.timeout(10)
def test_chain_cycle_of_empty_streams_ends():
    assert list(ChainMux([Streamer([])], mode="cycle")) == []


@pytest.mark.parametrize("cls", [RoundRobinMux, ChainMux])
def test_ordered_muxes_match_pescador(cls):
    pescador = pytest.importorskip("pescador")
    data = ["ab", "cde", "", "f"]
    ours = list(cls([Streamer(d) for d in data]))
    theirs = list(getattr(pescador, cls.__name__)([pescador.Streamer(d) for d in data]))
    assert ours == theirs


@pytest.mark.parametrize("cls", [ShuffledMux, RoundRobinMux, ChainMux])
def test_counters_and_errors_on_every_mux(cls):
    mux = cls(finite_streams([3, 4]))
    items = list(mux(max_iter=7))
    assert mux.stats.samples.sum() == len(items) == 7
    assert mux.stats.activations.sum() >= 2

    def bad():
        yield 1
        raise KeyError("gone")

    with pytest.raises(KeyError) as info:
        list(cls([Streamer(bad)]))
    assert "stream 0" in info.value.__notes__[0]
    skipping = cls([Streamer(bad), Streamer("ab")], on_error="skip", random_state=0)
    items = list(skipping(max_iter=50))
    # The failing stream is dropped after its error; the other one goes on.
    assert items.count(1) == 1 and {"a", "b"} <= set(items)
    assert skipping.stats.retirements["error"] == 1
    assert isinstance(skipping.stats.errors[0][1], KeyError)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: RoundRobinMux([Streamer("a")], mode="random"), "mode='random'"),
        (lambda: ChainMux([Streamer("a")], mode="permuted_cycle"), "mode='permuted_cycle'"),
        (lambda: ShuffledMux([Streamer("a")], weights=[-1]), "negative"),
        (lambda: ShuffledMux([]), "empty"),
    ],
)
def test_ordered_mux_bad_arguments(make, match):
    with pytest.raises(muxlab.MuxlabError, match=match):
        make()


# -- ChainMux over a stream of streamers (as pescador's ChainMux) ---------------------------


def letters_streams(letters, n):
    for c in letters:
        yield Streamer(c * n)


def endless_streamers():
    i = 0
    while True:
        yield Streamer([i] * (i % 3))  # every third stream is empty
        i += 1


def test_chain_of_a_streamer_of_streamers_reopens_it_each_pass_and_counts_each_position():
    mux = ChainMux(Streamer(letters_streams, "abc", 2))
    assert "".join(mux) == "aabbcc"
    assert "".join(mux) == "aabbcc"
    assert mux.stats.samples.tolist() == [4, 4, 4]
    assert mux.stats.activations.tolist() == [2, 2, 2]
    assert mux.n_streams == 3
    cycled = ChainMux(Streamer(letters_streams, "ab", 1), mode="cycle")
    assert "".join(cycled(max_iter=5)) == "ababa"
    assert "ChainMux(Streamer(letters_streams('ab', 1)), mode='cycle')" == repr(cycled)


def test_chain_of_a_generator_function_and_of_an_endless_stream_of_streamers():
    def gen():
        yield Streamer("xy")
        yield []
        yield "z"

    assert "".join(ChainMux(gen)) == "xyz"
    items = list(ChainMux(endless_streamers)(max_iter=30))
    assert items[:6] == [1, 2, 2, 4, 5, 5]
    assert len(items) == 30


@pytest.mark.timeout(10)
def test_empty_chains_yield_nothing():
    def none():
        return
        yield

    assert list(ChainMux([])) == [] and list(ChainMux([], mode="cycle")) == []
    assert list(ChainMux(none, mode="cycle")) == []
    assert list(ChainMux(iter([]))) == []


def test_a_stream_of_streamers_yielding_a_non_streamer_is_named():
    def bad():
        yield Streamer("a")
        yield 5

    with pytest.raises(muxlab.ParameterTypeError, match=r"yielded 5 \(int\) as its item 1; expected a Streamer"):
        list(ChainMux(bad))


def test_a_failing_stream_of_a_stream_of_streamers_is_named_or_skipped():
    def broken():
        yield 1
        raise KeyError("gone")

    def gen():
        yield Streamer("a")
        yield Streamer(broken)
        yield Streamer("b")

    with pytest.raises(KeyError) as info:
        list(ChainMux(gen))
    assert "raised by stream 1 of ChainMux: Streamer(" in info.value.__notes__[0]
    skipping = ChainMux(gen, on_error="skip")
    assert list(skipping) == ["a", 1, "b"]
    assert skipping.stats.retirements["error"] == 1 and skipping.stats.samples.tolist() == [1, 1, 1]


def test_concurrent_passes_over_a_stream_of_streamers_count_apart():
    mux = ChainMux(endless_streamers)
    a, b = mux(max_iter=20), mux(max_iter=5)
    assert [next(a), next(b)] == [1, 1]
    assert mux.active == 2
    rest_b = list(b)
    assert mux.active == 1
    rest_a = list(a)
    assert mux.active == 0
    assert len(rest_a) == 19 and len(rest_b) == 4
    assert mux.stats.samples.sum() == 25 and len(mux.stats.samples) == mux.n_streams


@pytest.mark.parametrize("cls", [ShuffledMux, RoundRobinMux, ChainMux])
def test_active_counts_running_passes_and_with_gives_the_mux(cls):
    mux = cls([Streamer("ab"), Streamer("cde")])
    with mux as active:
        assert active is mux
        it = iter(mux)
        assert mux.active == 0
        next(it)
        assert mux.active == 1
        it.close()
        assert mux.active == 0
