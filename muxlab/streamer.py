"""Streamer: a re-startable source of items, and the ``streamable`` decorator."""

import dis
import functools
import inspect
import types
import typing
import warnings
import weakref
from collections.abc import Iterable, Mapping

import numpy as np

from .errors import NotPicklableError, ParameterTypeError, StreamError
from .knob import Knob
from .state import NotResumableError
from .validation import check_int, short_repr


class Activatable(typing.Protocol):
    """What a mux calls on each of its streams: :class:`Streamer` and every mux implement it.

    The methods are private to muxlab (a user calls ``iterate``), but they are
    the declared interface between ``streamer.py`` and ``muxlab/mux/``: a mux
    opens activations, checkpoints and reopens them, and checks that its
    streams can be pickled, only through these.
    """

    def _open(self):
        """Return a fresh iterator over the stream's items: one activation."""

    def _activation_state(self, iterator, count, approximate=False):
        """Plain data from which :meth:`_resume_activation` reopens ``iterator`` after its ``count`` items."""

    def _resume_activation(self, state):
        """An iterator positioned where the activation that ``state`` describes stood."""

    def _check_picklable(self, where=None):
        """Raise :class:`~muxlab.NotPicklableError` if the stream cannot be pickled or copied now."""


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
                    f"Streamer: streamer={short_repr(streamer)} is an iterable, which takes no arguments; "
                    f"the arguments {short_repr(args)} {short_repr(kwargs)} are ignored. Pass a generator "
                    f"function to use arguments",
                    UserWarning,
                    stacklevel=2,
                )
        elif not callable(streamer):
            raise ParameterTypeError(
                f"Streamer: streamer={short_repr(streamer)} ({type(streamer).__name__}) is neither "
                f"a generator function, an iterable nor a Streamer"
            )
        else:
            _check_callable(streamer)
        self.streamer = streamer
        self.args = args
        self.kwargs = kwargs
        # Decided once here, since a mux opens its streamers many times a second.
        self._kind = 0 if isinstance(streamer, Streamer) else 1 if isinstance(streamer, Iterable) else 2
        # Arguments whose state an activation depends on (see "resume" below).
        self._watched = _watched(args, kwargs) if self._kind == 2 else ()

    def _open(self):
        """Return a fresh iterator over this stream's items (one activation)."""
        source = self.streamer
        kind = self._kind
        if kind == 0:
            return source._open()
        if kind == 1:
            return iter(source)
        if self._watched:
            return self._open_watched()
        made = source(*self.args, **self.kwargs)
        if hasattr(made, "__next__"):
            return made
        if not isinstance(made, Iterable):
            raise ParameterTypeError(
                f"Streamer: calling {_name(source)} returned {short_repr(made)} "
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

    # -- resume ------------------------------------------------------------------
    # How a mux checkpoints one activation of this stream and reopens it where it
    # stood: a sequence by index, anything else that can be opened again by
    # opening it again and skipping the items the activation had yielded (exact
    # when the function is deterministic given its arguments). A SeedSequence
    # argument is reopened at the child it had spawned for the activation.

    def _activation_state(self, iterator, count, approximate=False):
        """Plain data from which :meth:`_resume_activation` reopens ``iterator`` after its ``count`` items."""
        if self._kind == 0:
            return self.streamer._activation_state(iterator, count, approximate)
        if self._kind == 1:
            if iter(self.streamer) is self.streamer:
                if not approximate:
                    raise NotResumableError(
                        f"{self!r} is a Streamer over a one-shot iterator ({type(self.streamer).__name__}), which "
                        f"cannot be reopened where it stood; wrap its generator function or a re-iterable instead, "
                        f"or take state_dict(approximate=True) (the stream then goes on from wherever it is)"
                    )
                return {"n": count, "approximate": True}
            return {"n": count}
        token = _TOKENS.get(iterator) if self._watched else None
        if token is None:
            return {"n": count}
        seeds, versions = token
        seeds = _children_taken(self._watched, iterator, seeds)
        if versions != [k.version for k in self._watched if isinstance(k, Knob)] and not approximate:
            raise NotResumableError(
                f"{self!r}: a Knob argument changed while this activation ran ({count} items so far); reopening "
                f"it with the new value would not give the same items. Take the state when the activation has "
                f"ended, or pass approximate=True"
            )
        return {"n": count, "seeds": seeds}

    def _resume_activation(self, state):
        """An iterator over this stream positioned after ``state['n']`` items of the activation ``state`` describes."""
        if self._kind == 0:
            return self.streamer._resume_activation(state)
        n = int(state["n"])
        source = self.streamer
        if self._kind == 1:
            it = iter(source)
            if state.get("approximate"):
                return it
            if _is_sequence(source) and hasattr(it, "__setstate__"):
                it.__setstate__(n)
                return it
            return _skip(self, it, n)
        if self._watched:
            return _skip(self, self._open_watched(state.get("seeds")), n)
        return _skip(self, iter(source(*self.args, **self.kwargs)), n)

    def _open_watched(self, spawned=None):
        """Open an activation of a function with SeedSequence or Knob arguments, noting what it depends on.

        ``spawned`` reopens an activation that had spawned those children of
        its SeedSequence arguments: it gets copies that spawn them again.
        """
        args, kwargs = self.args, self.kwargs
        seeds = [w for w in self._watched if isinstance(w, np.random.SeedSequence)]
        if spawned is None:
            spawned = [seq.n_children_spawned for seq in seeds]  # before the call: a plain function spawns in it
        elif seeds:
            copies = {id(o): _seed_at(o, c) for o, c in zip(seeds, spawned)}
            args = tuple(copies.get(id(a), a) for a in args)
            kwargs = {k: copies.get(id(v), v) for k, v in kwargs.items()}
        made = self.streamer(*args, **kwargs)
        if not hasattr(made, "__next__"):
            if not isinstance(made, Iterable):
                raise ParameterTypeError(
                    f"Streamer: calling {_name(self.streamer)} returned {short_repr(made)} "
                    f"({type(made).__name__}); expected an iterable or a generator"
                )
            made = iter(made)
        if not _remember(made, self._watched, spawned):
            made = _relay(made)  # an iterator without weak references: follow it through a generator
            _remember(made, self._watched, spawned)
        return made

    def __repr__(self):
        source = self.streamer
        if isinstance(source, Streamer) or isinstance(source, Iterable):
            return f"Streamer({short_repr(source)})"
        parts = [short_repr(a) for a in self.args]
        parts += [f"{k}={short_repr(v)}" for k, v in self.kwargs.items()]
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



# --------------------------------------------------------------------------- resume helpers

# Activation iterator -> (spawn counters of its SeedSequence arguments when it was
# opened, versions of its Knob arguments then). Only streams with such arguments pay.
_TOKENS = weakref.WeakKeyDictionary()


def _watched(args, kwargs):
    return tuple(a for a in (*args, *kwargs.values()) if isinstance(a, (np.random.SeedSequence, Knob)))


def _remember(made, watched, seeds):
    versions = [w.version for w in watched if isinstance(w, Knob)]
    try:
        _TOKENS[made] = (list(seeds), versions)
    except TypeError:  # an iterator that takes no weak reference
        return False
    return True


def _relay(it):
    yield from it


def _seed_at(seq, spawned):
    """A copy of ``seq`` that has spawned ``spawned`` children (its next child is the one it spawned then)."""
    return np.random.SeedSequence(
        seq.entropy, spawn_key=seq.spawn_key, pool_size=seq.pool_size, n_children_spawned=int(spawned)
    )


def _is_sequence(source):
    return hasattr(source, "__getitem__") and hasattr(source, "__len__") and not isinstance(source, Mapping)


def _skip(streamer, it, n):
    """Advance ``it`` by ``n`` items, or say which stream ended too soon."""
    for i in range(n):
        try:
            next(it)
        except StopIteration:
            raise StreamError(
                f"resume: {streamer!r} ended after {i} items while reopening an activation that had yielded {n}; "
                f"the stream is not deterministic given its arguments"
            ) from None
    return it


def _children_taken(watched, iterator, opened):
    """The child each SeedSequence argument gave this activation (None for all if it has not started yet).

    A generator function spawns its child when it starts, not when it is
    opened, so the child is read from the generator's own Generator: the one
    whose seed's spawn key extends the argument's by one index. Without one,
    the number of children spawned when the activation was opened is used
    (exact when activations start in the order they were opened).
    """
    seeds = [w for w in watched if isinstance(w, np.random.SeedSequence)]
    if not seeds:
        return []
    if getattr(iterator, "gi_code", None) is _relay.__code__:
        return list(opened)  # a plain function: it spawned when called, as it was opened
    frame = getattr(iterator, "gi_frame", None)
    if frame is not None and inspect.getgeneratorstate(iterator) == inspect.GEN_CREATED:
        return None  # not started: it spawns when it starts, from the counters restored with the mux
    found = {}
    if frame is not None:
        for value in frame.f_locals.values():
            seq = getattr(getattr(value, "bit_generator", None), "seed_seq", None)
            key = getattr(seq, "spawn_key", None)
            if key:
                found.setdefault((getattr(seq, "entropy", None), tuple(key[:-1])), key[-1])
    return [found.get((seq.entropy, tuple(seq.spawn_key)), c) for seq, c in zip(seeds, opened)]


def seeds_state(streamers):
    """How many children each SeedSequence argument of ``streamers`` has spawned (each distinct one once, in order)."""
    return [seq.n_children_spawned for seq in _distinct(streamers, np.random.SeedSequence)]


def load_seeds_state(streamers, counters):
    """Give the SeedSequence arguments of ``streamers`` the spawn counts :func:`seeds_state` returned.

    A SeedSequence's count cannot be set, so an argument whose count differs
    is replaced by an equal SeedSequence with that count.
    """
    seqs = _distinct(streamers, np.random.SeedSequence)
    if len(seqs) != len(counters):
        from .state import StateMismatchError

        raise StateMismatchError(
            f"state: it holds {len(counters)} SeedSequence arguments; these streamers have {len(seqs)}"
        )
    new = {id(o): _seed_at(o, c) for o, c in zip(seqs, counters) if o.n_children_spawned != c}
    if not new:
        return
    for s in _watching(streamers):
        s.args = tuple(new.get(id(a), a) for a in s.args)
        s.kwargs = {k: new.get(id(v), v) for k, v in s.kwargs.items()}
        s._watched = _watched(s.args, s.kwargs)


def knobs_state(streamers):
    """The values of the Knob arguments of ``streamers`` (each distinct one once, in order)."""
    return [k.value for k in _distinct(streamers, Knob)]


def load_knobs_state(streamers, values):
    """Set the Knob arguments of ``streamers`` to the values :func:`knobs_state` returned."""
    for knob, value in zip(_distinct(streamers, Knob), values):
        if knob.value != value:
            knob.value = value


def _watching(streamers):
    for s in streamers:
        while type(s) is Streamer and s._kind == 0:
            s = s.streamer
        if type(s) is Streamer or (isinstance(s, Streamer) and hasattr(s, "_watched")):
            if s._watched:
                yield s


def _distinct(streamers, kind):
    seen, out = set(), []
    for s in _watching(streamers):
        for w in s._watched:
            if isinstance(w, kind) and id(w) not in seen:
                seen.add(id(w))
                out.append(w)
    return out


