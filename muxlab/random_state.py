"""Turn a ``random_state`` argument into the generators a mux's passes and a loader's activations draw from.

This is the one place ``random_state`` is read. The same argument means the
same thing wherever it is given (a mux, a map, a loader, ``loaders.streams``),
and each *use* is a pass of a mux or an activation of a loader:

- an ``int`` (>= 0): every use gets a fresh generator seeded with it, so
  every pass (or activation) repeats the same draws, as in pescador;
- a ``numpy.random.SeedSequence``: every use spawns the next child, so uses
  differ from each other, and the whole program repeats from one run to the
  next (the children come in the same order);
- a ``numpy.random.Generator``: shared by every use and drawn from, so uses
  differ (and the caller's generator advances);
- a ``numpy.random.RandomState``: every use is seeded by one draw from it, so
  uses differ (and it advances);
- ``None``: fresh entropy from the operating system, never numpy's global
  state; uses differ, and so do runs.
"""

import numbers
import threading

import numpy as np

from .errors import ParameterError, ParameterTypeError
from .validation import short_repr

ACCEPTED = "None, a non-negative int, a numpy.random.SeedSequence, a numpy.random.Generator or a numpy.random.RandomState"

_SPAWN_LOCK = threading.Lock()  # SeedSequence.spawn is not atomic: activations on several threads share one


class RandomSource:
    """Hands out the generator for each use (a pass of a mux, an activation of a loader) of one ``random_state``.

    What each kind of ``random_state`` gives is stated in the module
    docstring (:mod:`muxlab.random_state`). A pass that may be restored from
    a checkpoint asks for its generator with ``for_pass(deferred=True)`` and
    seeds it with :meth:`seed_pass` when it starts, so a restored pass (which
    has its generator's state already) draws nothing from a ``RandomState``
    and spawns no child of a ``SeedSequence``.

    >>> src = RandomSource(7, owner='Mux')
    >>> int(src.for_pass().integers(100)) == int(src.for_pass().integers(100))
    True
    >>> src = RandomSource(np.random.SeedSequence(7), owner='Mux')
    >>> int(src.for_pass().integers(10**9)) == int(src.for_pass().integers(10**9))
    False
    """

    def __init__(self, random_state, owner="muxlab"):
        self.random_state = random_state
        self._shared = None  # a Generator every use draws from
        self._seed = None  # an int every use is seeded with
        # A RandomState or a SeedSequence gives each use a seed of its own (see _next_seed).
        self._per_use = isinstance(random_state, (np.random.RandomState, np.random.SeedSequence))
        if random_state is None:
            self._shared = np.random.default_rng()
        elif isinstance(random_state, np.random.Generator):
            self._shared = random_state
        elif self._per_use:
            pass
        elif isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
            if random_state < 0:
                raise ParameterError(f"{owner}: random_state={random_state} is negative; expected {ACCEPTED}")
            self._seed = int(random_state)
        else:
            raise ParameterTypeError(
                f"{owner}: random_state={short_repr(random_state)} ({type(random_state).__name__}) is not accepted; "
                f"expected {ACCEPTED}"
            )

    def for_pass(self, deferred=False):
        """Return the ``numpy.random.Generator`` for a new pass (or activation).

        With ``deferred``, a ``RandomState`` or a ``SeedSequence`` is not
        drawn from yet: the generator is seeded by :meth:`seed_pass` when the
        pass starts (a restored pass sets its generator's state instead).
        """
        if self._per_use:
            if deferred:
                return np.random.default_rng(0)  # a placeholder: seed_pass() or a restored state replaces its state
            return np.random.default_rng(self._next_seed())
        if self._seed is not None:
            return np.random.default_rng(self._seed)
        return self._shared

    def seed_pass(self, rng):
        """Seed the generator a new pass got from ``for_pass(deferred=True)`` as the pass starts.

        >>> src = RandomSource(np.random.RandomState(0))
        >>> a, b = src.for_pass(deferred=True), RandomSource(np.random.RandomState(0)).for_pass()
        >>> src.seed_pass(a)
        >>> int(a.integers(1000)) == int(b.integers(1000))
        True
        >>> seq = RandomSource(np.random.SeedSequence(5))
        >>> a, b = seq.for_pass(deferred=True), RandomSource(np.random.SeedSequence(5)).for_pass()
        >>> seq.seed_pass(a)
        >>> int(a.integers(1000)) == int(b.integers(1000))
        True
        """
        if self._per_use:
            rng.bit_generator.state = np.random.default_rng(self._next_seed()).bit_generator.state

    def _next_seed(self):
        """The seed of the next use: one draw from a ``RandomState``, or the next child of a ``SeedSequence``."""
        if isinstance(self.random_state, np.random.RandomState):
            return self.random_state.randint(0, 2**63 - 1, dtype=np.int64)
        return spawn(self.random_state, 1)[0]


def spawn(parent, count):
    """Return ``count`` new children of the SeedSequence ``parent``, safely when several threads share it."""
    with _SPAWN_LOCK:
        return parent.spawn(count)


def seed_sequence(random_state, owner="muxlab"):
    """Return a ``numpy.random.SeedSequence`` to split into one child per stream (see the module docstring).

    A ``SeedSequence`` is returned as it is; an int seeds a new one; a
    ``Generator`` or a ``RandomState`` is drawn from once; ``None`` gives
    fresh entropy.

    >>> seed_sequence(3).spawn(2)[1].generate_state(1) == seed_sequence(3).spawn(2)[1].generate_state(1)
    array([ True])
    """
    RandomSource(random_state, owner)  # the same checks and messages
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if random_state is None:
        return np.random.SeedSequence()
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(random_state.integers(0, 2**63 - 1, size=4).tolist())
    if isinstance(random_state, np.random.RandomState):
        return np.random.SeedSequence(random_state.randint(0, 2**63 - 1, size=4, dtype=np.int64).tolist())
    return np.random.SeedSequence(int(random_state))

