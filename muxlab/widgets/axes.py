"""Axis helpers for live charts: y-limits that move in round steps, so a chart's background is rarely redrawn."""

import math


def nice_ceiling(value):
    """Return the smallest of 1, 2, 5, 10, 20, 50, ... that is >= ``value`` (1 for value <= 1).

    >>> [nice_ceiling(v) for v in (0, 1, 1.5, 3, 7, 11, 999, 1001)]
    [1, 1, 2, 5, 10, 20, 1000, 2000]
    """
    if not value > 1:
        return 1
    exp = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        top = step * 10**exp
        if top >= value:
            return top
    return 10 ** (exp + 1)  # pragma: no cover - the loop always returns


def sticky_limit(top, value, shrink=5):
    """Return a y-axis top for ``value``: keep ``top`` unless ``value`` exceeds it or fell below ``top/shrink``.

    >>> sticky_limit(100, 60), sticky_limit(100, 130), sticky_limit(100, 3)
    (100, 200, 5)
    """
    if top is None or value > top or value * shrink < top:
        return nice_ceiling(value * 1.05)
    return top
