"""Axis helpers for live charts: limits that move in round steps, so a chart's background is rarely redrawn."""

import math

#: Round steps for counts: 1, 2, 5, 10, 20, 50, ...
COARSE_STEPS = (1, 2, 5, 10)

#: Finer round steps, for an axis whose top should stay close to the data (memory, throughput, time):
#: 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10, 15, ... Two steps are at most 1.5x apart, so with the 5 % margin of
#: :func:`sticky_limit` a new top is at most 1.575 times the data.
FINE_STEPS = (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)


def nice_ceiling(value, steps=COARSE_STEPS):
    """Return the smallest ``step x 10**e`` (``step`` from ``steps``) that is >= ``value`` (1 for value <= 1).

    >>> [nice_ceiling(v) for v in (0, 1, 1.5, 3, 7, 11, 999, 1001)]
    [1, 1, 2, 5, 10, 20, 1000, 2000]
    >>> [nice_ceiling(v, FINE_STEPS) for v in (1.2, 7, 220.5, 1001)]
    [1.5, 8, 250.0, 1500.0]
    """
    if not value > 1:
        return 1
    exp = math.floor(math.log10(value))
    for step in steps:
        top = step * 10**exp
        if top >= value:
            return top
    return 10 ** (exp + 1)  # pragma: no cover - steps end at 10, so the loop always returns


def sticky_limit(top, value, shrink=5, steps=COARSE_STEPS):
    """Return an axis limit for ``value``: keep ``top`` unless ``value`` exceeds it or fell below ``top/shrink``.

    A new limit is the round number (from ``steps``) just above ``value`` plus 5 %.

    >>> sticky_limit(100, 60), sticky_limit(100, 130), sticky_limit(100, 3)
    (100, 200, 5)
    >>> sticky_limit(None, 210, shrink=2, steps=FINE_STEPS)
    250.0
    """
    if top is None or value > top or value * shrink < top:
        return nice_ceiling(value * 1.05, steps)
    return top
