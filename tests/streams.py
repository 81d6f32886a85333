"""Small streams shared by the engine tests."""

from muxlab import Streamer


def endless(label):
    """Yield ``label`` forever."""
    while True:
        yield label


def endless_streams(n):
    return [Streamer(endless, i) for i in range(n)]


def finite_streams(lengths):
    """Stream ``i`` yields the distinct items ``(i, 0) .. (i, lengths[i]-1)``."""
    return [Streamer([(i, j) for j in range(length)]) for i, length in enumerate(lengths)]
