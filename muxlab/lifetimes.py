"""How many samples an activation lives for: the lifetime distributions of StochasticMux.

Every distribution has a mean of exactly ``rate`` samples and gives every
activation at least one sample (``rate >= 1``):

- ``constant``: ``rate`` itself; a fractional rate is rounded up or down at
  random so that the mean is still exact (variance at most 1/4).
- ``binomial``: ``1 + Binomial(m, q)`` with ``q = 1 - 1/k``, the chance that a
  pick goes to another of the ``k`` active slots, as in pescador; ``m`` is
  ``(rate - 1) / q`` rounded up or down at random so that the mean is exactly
  ``rate`` (pescador truncates ``m``: 15.5 instead of 16 for rate 16, k 32).
  The variance is about ``(rate - 1) / k``. With ``k = 1`` it falls back to the
  Poisson limit.
- ``poisson``: ``1 + Poisson(rate - 1)``; variance ``rate - 1``.

So for an integer rate the variances are ordered constant < binomial < poisson.

>>> import numpy as np
>>> draw_lifetimes(np.random.default_rng(0), 'constant', 16, k=32, size=4).tolist()
[16, 16, 16, 16]
>>> float(draw_lifetimes(np.random.default_rng(0), 'poisson', 16, k=32, size=200_000).mean().round(1))
16.0
"""

import math

import numpy as np

DISTS = ("constant", "binomial", "poisson")


def _randomly_rounded(rng, value, size):
    """Integers ``floor(value)`` or ``ceil(value)`` whose mean is exactly ``value``."""
    low = math.floor(value)
    frac = value - low
    out = np.full(size, low, dtype=np.int64)
    if frac > 0:
        out += rng.random(size) < frac
    return out


def draw_lifetimes(rng, dist, rate, k, size):
    """Draw ``size`` activation lifetimes (int64, each >= 1) with mean exactly ``rate``."""
    if dist == "constant":
        return _randomly_rounded(rng, rate, size)
    extra = rate - 1.0
    if dist == "poisson" or (dist == "binomial" and k <= 1):
        return 1 + rng.poisson(extra, size)
    if dist == "binomial":
        q = 1.0 - 1.0 / k
        trials = _randomly_rounded(rng, extra / q, size)
        return 1 + rng.binomial(trials, q)
    raise ValueError(f"unknown lifetime distribution {dist!r}; expected one of {DISTS}")


def lifetime_variance(dist, rate, k):
    """The variance of :func:`draw_lifetimes` for these parameters (used by tests and notebooks).

    >>> lifetime_variance('poisson', 16, 32)
    15.0
    """
    extra = rate - 1.0
    if dist == "constant":
        frac = rate - math.floor(rate)
        return frac * (1 - frac)
    if dist == "poisson" or k <= 1:
        return extra
    q = 1.0 - 1.0 / k
    m = extra / q
    frac = m - math.floor(m)
    # Var = E[Var(B | m)] + Var(E[B | m]) with m randomly rounded.
    return m * q * (1 - q) + q * q * frac * (1 - frac)
