"""Turn a ``random_state`` argument into the generator one pass of a mux draws from."""

import numbers

import numpy as np

from .errors import ParameterError, ParameterTypeError
from .validation import _short_repr

ACCEPTED = "None, a non-negative int, a numpy.random.SeedSequence, a numpy.random.Generator or a numpy.random.RandomState"


class RandomSource:
    """Hands out the generator for each new pass of a mux.

    An int seed (or a ``SeedSequence``) gives every pass a fresh generator
    seeded the same way, so passes repeat (as in pescador). A ``Generator`` is shared by every pass and
    keeps drawing, so passes differ. A ``RandomState`` seeds each pass from its
    own stream, so it advances too: a mux's pass draws that seed when it
    starts (:meth:`seed_pass`), so a pass restored from a checkpoint, which
    has its generator's state already, leaves the ``RandomState`` where the
    checkpoint put it. ``None`` draws fresh entropy once (never numpy's
    global state); its passes differ.

    >>> src = RandomSource(7, owner='Mux')
    >>> int(src.for_pass().integers(100)) == int(src.for_pass().integers(100))
    True
    """

    def __init__(self, random_state, owner="muxlab"):
        self.random_state = random_state
        if random_state is None:
            self._shared = np.random.default_rng()
            self._seed = None
        elif isinstance(random_state, np.random.Generator):
            self._shared = random_state
            self._seed = None
        elif isinstance(random_state, np.random.SeedSequence):
            self._shared = None
            self._seed = random_state
        elif isinstance(random_state, np.random.RandomState):
            self._shared = None
            self._seed = None
        elif isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
            if random_state < 0:
                raise ParameterError(f"{owner}: random_state={random_state} is negative; expected {ACCEPTED}")
            self._shared = None
            self._seed = int(random_state)
        else:
            raise ParameterTypeError(
                f"{owner}: random_state={_short_repr(random_state)} ({type(random_state).__name__}) is not accepted; "
                f"expected {ACCEPTED}"
            )

    def for_pass(self, deferred=False):
        """Return the ``numpy.random.Generator`` for a new pass.

        With ``deferred``, a ``RandomState`` is not drawn from yet: the
        generator is seeded by :meth:`seed_pass` when the pass starts (a
        restored pass sets its generator's state instead).
        """
        if self._seed is not None:
            return np.random.default_rng(self._seed)
        if self._shared is not None:
            return self._shared
        if deferred:
            return np.random.default_rng(0)  # a placeholder: seed_pass() or a restored state replaces its state
        return np.random.default_rng(self._draw())

    def seed_pass(self, rng):
        """Seed the generator a new pass got from ``for_pass(deferred=True)`` as the pass starts.

        >>> src = RandomSource(np.random.RandomState(0))
        >>> a, b = src.for_pass(deferred=True), RandomSource(np.random.RandomState(0)).for_pass()
        >>> src.seed_pass(a)
        >>> int(a.integers(1000)) == int(b.integers(1000))
        True
        """
        if isinstance(self.random_state, np.random.RandomState):
            rng.bit_generator.state = np.random.default_rng(self._draw()).bit_generator.state

    def _draw(self):
        return self.random_state.randint(0, 2**63 - 1, dtype=np.int64)
