import functools

import numpy as np
import pytest

import muxlab
from muxlab import Streamer, streamable


def count(n, start=0):
    yield from range(start, start + n)


def test_generator_function_is_called_anew_with_its_arguments():
    s = Streamer(count, 3, start=10)
    assert list(s) == [10, 11, 12]
    assert list(s.iterate()) == [10, 11, 12]


def test_iterable_and_nested_streamer():
    assert list(Streamer([1, 2, 3])) == [1, 2, 3]
    assert list(Streamer(Streamer("ab"))) == ["a", "b"]


def test_concurrent_iterations_do_not_share_state():
    s = Streamer(count, 5)
    a, b = iter(s), iter(s)
    assert [next(a), next(a), next(a)] == [0, 1, 2]
    assert next(b) == 0
    assert list(a) == [3, 4]


def test_arguments_are_passed_by_reference_not_copied():
    big = np.zeros(1000)

    def hold(arr):
        yield arr

    s = Streamer(hold, big)
    assert next(iter(s)) is big
    assert next(iter(s)) is big


def test_max_iter_call_cycle_and_generate():
    s = Streamer(count, 3)
    assert list(s.iterate(max_iter=2)) == [0, 1]
    assert list(s(max_iter=2)) == [0, 1]
    assert list(s.generate(max_batches=2)) == [0, 1]
    assert list(s.iterate(max_iter=0)) == []
    assert list(s.cycle(max_iter=7)) == [0, 1, 2, 0, 1, 2, 0]
    assert list(s(max_iter=4, cycle=True)) == [0, 1, 2, 0]


@pytest.mark.timeout(5)
def test_cycle_on_an_empty_stream_raises_instead_of_spinning():
    with pytest.raises(muxlab.StreamError, match="yielded no items"):
        next(Streamer([]).cycle())
    with pytest.raises(muxlab.StreamError):
        list(Streamer(count, 0).cycle(max_iter=5))


def test_streamable_decorator():
    @streamable
    def letters(word):
        yield from word

    s = letters("xy")
    assert isinstance(s, Streamer)
    assert list(s) == ["x", "y"] and list(s) == ["x", "y"]
    assert letters.__name__ == "letters"


@pytest.mark.parametrize(
    "args, match",
    [((5,), "neither a generator function"), ((None,), "neither")],
)
def test_bad_streamer_arguments(args, match):
    with pytest.raises(muxlab.ParameterTypeError, match=match):
        Streamer(*args)


def test_arguments_given_with_an_iterable_are_ignored_with_a_warning():
    # pescador accepts and ignores them; muxlab does the same and says so.
    with pytest.warns(UserWarning, match=r"is an iterable, which takes no arguments; the arguments \(3,\)"):
        s = Streamer([1, 2], 3)
    assert list(s) == [1, 2]


def test_nested_streamer_refuses_extra_arguments():
    with pytest.raises(TypeError, match="already a Streamer"):
        Streamer(Streamer([1]), 2)


def test_callable_returning_a_non_iterable_is_named():
    # Only the activation can tell what this one returns.
    s = Streamer(lambda x: x, 5)
    with pytest.raises(muxlab.ParameterTypeError, match="returned 5"):
        list(s)


def six():
    return 6


def nothing(n):
    total = n + 1  # noqa: F841  (neither return nor yield: a generator function missing its yield)


def either(flag):
    if flag:
        return 1
    return None


async def later():
    return [1]


async def agen():
    yield 1


@pytest.mark.parametrize(
    "func, words",
    [
        (six, "can only return 6, which is not iterable"),
        (nothing, "can only return None"),
        (either, "can only return 1 or None"),
        (lambda: 3.5, "can only return 3.5"),
        (functools.partial(either, True), "can only return 1 or None"),
        (later, "async function"),
        (agen, "async function"),
        (int, "class whose instances are not iterable"),
    ],
)
def test_a_callable_that_cannot_return_an_iterable_is_refused_at_construction(func, words):
    # As in pescador, whose Streamer refuses any function that is not a generator function.
    with pytest.raises(muxlab.ParameterTypeError, match=words) as info:
        Streamer(func, 1) if func in (nothing, either) else Streamer(func)
    assert str(info.value).startswith("Streamer: streamer=")


def maybe(data):
    return iter(data) if data else None


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: Streamer(maybe, [1, 2]), [1, 2]),
        (lambda: Streamer(range, 3), [0, 1, 2]),
        (lambda: Streamer(lambda: "ab"), ["a", "b"]),
        (lambda: Streamer(lambda: [1]), [1]),
        (lambda: Streamer(functools.partial(count, 2)), [0, 1]),
        (lambda: Streamer(dict.fromkeys, "ab"), ["a", "b"]),
    ],
)
def test_callables_that_may_return_an_iterable_are_accepted_without_being_called(make, expected):
    assert list(make()) == expected


def test_with_streamer_gives_the_streamer_itself():
    s = Streamer(count, 3)
    with s as active:
        assert active is s
        assert list(active) == [0, 1, 2]


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_bad_max_iter(bad):
    with pytest.raises(muxlab.MuxlabError, match="max_iter"):
        Streamer([1]).iterate(max_iter=bad)
    with pytest.raises(muxlab.MuxlabError, match="max_iter"):
        Streamer([1]).cycle(max_iter=bad)


def test_repr_does_not_print_large_arguments():
    text = repr(Streamer(count, np.zeros((1000, 1000))))
    assert "shape=(1000, 1000)" in text and len(text) < 120
