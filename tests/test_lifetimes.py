import math

import numpy as np
import pytest

from muxlab.lifetimes import DISTS, draw_lifetimes, lifetime_variance

N = 200_000


@pytest.mark.parametrize("dist", DISTS)
@pytest.mark.parametrize("rate, k", [(16, 32), (5.5, 4), (1, 8), (2.25, 1), (300, 3)])
def test_mean_is_exactly_rate_and_variance_as_documented(dist, rate, k):
    draws = draw_lifetimes(np.random.default_rng(12), dist, rate, k, N)
    assert draws.min() >= 1
    var = lifetime_variance(dist, rate, k)
    # The sample mean is within 5 standard errors of rate.
    assert abs(draws.mean() - rate) <= 5 * math.sqrt(var / N) + 1e-12
    # The mean squared deviation from rate is within 5 of its standard errors (sqrt(m4 - var^2) / sqrt(N)).
    m4 = np.mean((draws - rate) ** 4)
    assert abs(np.mean((draws - rate) ** 2) - var) <= 5 * math.sqrt(max(m4 - var**2, 0) / N) + 1e-12


def test_variance_ordering_constant_binomial_poisson():
    v = [lifetime_variance(d, 16, 32) for d in ("constant", "binomial", "poisson")]
    assert v[0] < v[1] < v[2]


def test_binomial_does_not_round_down_like_pescador():
    # pescador 3.0 gives 1 + Binomial(int(15 / (31/32)), 31/32): mean 15.53 for rate 16, k 32.
    draws = draw_lifetimes(np.random.default_rng(0), "binomial", 16, 32, N)
    assert abs(draws.mean() - 16) < 0.02
