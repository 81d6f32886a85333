"""Streamer: a re-startable source of items, and the ``streamable`` decorator."""

import dis
import functools
import inspect
import types
import warnings
from collections.abc import Iterable

from .errors import NotPicklableError, ParameterTypeError, StreamError
from .validation import _short_repr, check_int


class Streamer:
    """A re-startable stream of items.

    ``streamer`` is a generator function (or any callable returning an
    iterable), called anew with ``*args`` and ``**kwargs`` on each activation;
    an iterable, iterated anew on each activation; or another ``Streamer``.
    Arguments are passed by reference, never copied, so two concurrent
    iterations share the argument objects but never the iterator state.
    (A one-shot iterator, such as a generator object, can be consumed only
    once: wrap the generator *function* instead.)

    A callable that cannot return an iterable is refused when the Streamer
    is made, without calling it: a function whose every ``return`` gives a
    constant that is not iterable (``return 6``, or no ``return`` and no
    ``yield`` at all), an async function, or a class whose instances are not
    iterable. Any other callable is checked at each activation. Arguments
    given with an iterable are ignored, as in pescador, with a warning.

    A Streamer pickles and deep-copies (so it can go to another process)
    when its source and arguments do; ``copy.copy`` shares the argument
    objects. A Streamer over a generator object raises
    :class:`~muxlab.NotPicklableError` instead.

    Examples
    --------
    >>> def count(n):
    ...     yield from range(n)
    >>> s = Streamer(count, 3)
    >>> list(s)
    [0, 1, 2]
    >>> list(s.cycle(max_iter=7))
    [0, 1, 2, 0, 1, 2, 0]
    >>> list(s(max_iter=2))
    [0, 1]
    """

    def __init__(self, streamer, *args, **kwargs):
        if isinstance(streamer, Streamer):
            if args or kwargs:
                raise ParameterTypeError(
                    f"Streamer: streamer={streamer!r} is already a Streamer; extra arguments "
                    f"{args!r} {kwargs!r} are not accepted with it"
                )
        elif isinstance(streamer, Iterable):
            if args or kwargs:
                warnings.warn(
                    f"Streamer: streamer={_short_repr(streamer)} is an iterable, which takes no arguments; "
                    f"the arguments {_short_repr(args)} {_short_repr(kwargs)} are ignored. Pass a generator "
                    f"function to use arguments",
                    UserWarning,
                    stacklevel=2,
                )
        elif not callable(streamer):
            raise ParameterTypeError(
                f"Streamer: streamer={_short_repr(streamer)} ({type(streamer).__name__}) is neither "
                f"a generator function, an iterable nor a Streamer"
            )
        else:
            _check_callable(streamer)
        self.streamer = streamer
        self.args = args
        self.kwargs = kwargs
        # Decided once here, since a mux opens its streamers many times a second.
        self._kind = 0 if isinstance(streamer, Streamer) else 1 if isinstance(streamer, Iterable) else 2

    def _open(self):
        """Return a fresh iterator over this stream's items (one activation)."""
        source = self.streamer
        kind = self._kind
        if kind == 0:
            return source._open()
        if kind == 1:
            return iter(source)
        made = source(*self.args, **self.kwargs)
        if hasattr(made, "__next__"):
            return made
        if not isinstance(made, Iterable):
            raise ParameterTypeError(
                f"Streamer: calling {_name(source)} returned {_short_repr(made)} "
                f"({type(made).__name__}); expected an iterable or a generator"
            )
        return iter(made)

    def iterate(self, max_iter=None):
        """Yield the items of one activation, at most ``max_iter`` of them (all if None)."""
        if max_iter is not None:
            max_iter = check_int(f"{type(self).__name__}.iterate", "max_iter", max_iter, minimum=0)
        return self._iterate(max_iter)

    def _iterate(self, max_iter):
        it = self._open()
        if max_iter is None:
            yield from it
            return
        for n, item in enumerate(it):
            if n >= max_iter:
                break
            yield item

    def generate(self, max_batches=None):
        """Same as :meth:`iterate`, under the name the pescador 1.x documents use."""
        return self.iterate(max_iter=max_batches)

    def cycle(self, max_iter=None):
        """Yield items forever (or ``max_iter`` of them), restarting the stream when it ends.

        Raises :class:`~muxlab.StreamError` if a pass yields no item, since
        cycling such a stream would never produce anything.
        """
        if max_iter is not None:
            max_iter = check_int(f"{type(self).__name__}.cycle", "max_iter", max_iter, minimum=0)
        return self._cycle(max_iter)

    def _cycle(self, max_iter):
        count = 0
        while max_iter is None or count < max_iter:
            produced = False
            for item in self._iterate(None if max_iter is None else max_iter - count):
                produced = True
                count += 1
                yield item
            if not produced:
                raise StreamError(f"cycle(): {self!r} yielded no items in a pass; cycling it would never end")

    def __call__(self, max_iter=None, cycle=False):
        """Iterate (``cycle=False``) or cycle (``cycle=True``), at most ``max_iter`` items."""
        return self.cycle(max_iter) if cycle else self.iterate(max_iter)

    def __iter__(self):
        return self.iterate()

    def __enter__(self):
        """``with streamer as s:`` gives the streamer itself (pescador's activation context).

        pescador's context hands out an activated deep copy; a muxlab
        Streamer keeps no iteration state, so each ``iterate()`` inside the
        block is already independent and nothing is copied.
        """
        return self

    def __exit__(self, *exc_info):
        return False

    # -- copies and pickling ------------------------------------------------
    # A Streamer is configuration only (no iteration state), so pickle and
    # deepcopy take its attributes as they are; only a generator object, one
    # running iteration, cannot be sent or copied.
    def __copy__(self):
        """A new Streamer over the same source and the same argument objects (never copied)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        return new

    def __getstate__(self):
        self._check_picklable()
        state = self.__dict__.copy()
        if state.get("_decorator") is not None:
            # pickle finds a function by its name, which now holds the decorator.
            state["streamer"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self.streamer is None:
            self.streamer = self._decorator.__wrapped__

    def _check_picklable(self, where=None):
        """Raise :class:`~muxlab.NotPicklableError` if this Streamer wraps a generator object."""
        source = self.streamer
        if isinstance(source, types.GeneratorType):
            func = getattr(source, "__qualname__", None) or "func"
            raise NotPicklableError(
                f"{where or 'Streamer'}: cannot pickle or copy {self!r}: it wraps a generator object "
                f"({func}), which is one running iteration: Python can neither copy it nor send it to "
                f"another process (and it can be iterated only once). Pass the generator function and "
                f"its arguments instead: Streamer({func}, *args, **kwargs)"
            )

    def __repr__(self):
        source = self.streamer
        if isinstance(source, Streamer) or isinstance(source, Iterable):
            return f"Streamer({_short_repr(source)})"
        parts = [_short_repr(a) for a in self.args]
        parts += [f"{k}={_short_repr(v)}" for k, v in self.kwargs.items()]
        return f"Streamer({_name(source)}({', '.join(parts)}))"


def streamable(func):
    """Decorate a generator function so that calling it returns a :class:`Streamer`.

    The Streamers it makes pickle: the decorated name now holds the
    decorator, so they find the generator function as ``name.__wrapped__``.

    >>> @streamable
    ... def letters(word):
    ...     yield from word
    >>> list(letters('abc'))
    ['a', 'b', 'c']
    """

    @functools.wraps(func)
    def make_streamer(*args, **kwargs):
        s = Streamer(func, *args, **kwargs)
        s._decorator = make_streamer
        return s

    return make_streamer


def _check_callable(func):
    """Refuse, without calling it, a callable that cannot return an iterable."""
    target = func
    while isinstance(target, functools.partial):
        target = target.func
    target = getattr(target, "__func__", target)  # a bound method
    if inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target):
        raise ParameterTypeError(
            f"Streamer: streamer={_name(func)} is an async function, whose calls return an awaitable, "
            f"not an iterable; expected a generator function or a callable returning an iterable"
        )
    if isinstance(target, type):
        if not (hasattr(target, "__iter__") or hasattr(target, "__getitem__")):
            raise ParameterTypeError(
                f"Streamer: streamer={_name(func)} is a class whose instances are not iterable; "
                f"expected a generator function or a callable returning an iterable"
            )
        return
    returned = _constant_returns(target)
    if returned and not any(isinstance(value, Iterable) for value in returned):
        shown = " or ".join(dict.fromkeys(repr(value) for value in returned))
        raise ParameterTypeError(
            f"Streamer: streamer={_name(func)} is a function that can only return {shown}, which is not "
            f"iterable; expected a generator function (one that yields) or a callable returning an iterable"
        )


def _constant_returns(func):
    """The constants a plain function returns, if each of its ``return`` statements returns one; else None.

    Read from the bytecode, without calling it. ``None`` when any return
    statement computes its value (or is reached by a jump) or for anything
    that is not a plain Python function.

    >>> def six():
    ...     return 6
    >>> _constant_returns(six), _constant_returns(lambda x: x)
    ([6], None)
    """
    if not isinstance(func, types.FunctionType):
        return None
    code = func.__code__
    if code.co_flags & (inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR):
        return None
    found = []
    previous = None
    for ins in dis.get_instructions(code):
        if ins.opname == "RETURN_CONST":
            found.append(ins.argval)
        elif ins.opname == "RETURN_VALUE":
            if getattr(ins, "is_jump_target", True) or previous is None or previous.opname != "LOAD_CONST":
                return None
            found.append(previous.argval)
        previous = ins
    return found or None


def _name(func):
    return getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)
