"""Counters every mux keeps about its streams, and the events it can report.

The counters cost nothing per sample: a running pass counts samples in the
slot lists it already keeps, and the totals are added up when they are read.
"""

import threading
import time
from typing import NamedTuple

import numpy as np

#: Why an activation ended.
RETIREMENT_REASONS = ("lifetime", "exhausted", "k_lowered", "pruned", "error")


class MuxEvent(NamedTuple):
    """One activation or retirement, as passed to a mux's ``on_event`` callback.

    ``kind`` is ``'activate'`` or ``'retire'``; ``stream`` the index of the
    streamer; ``slot`` the active slot it occupies; ``reason`` one of
    :data:`RETIREMENT_REASONS` for a retirement (None for an activation);
    ``t`` seconds since the pass started; ``n`` the items the pass had
    yielded by then; ``samples`` the items this activation yielded (0 for an
    activation).
    """

    kind: str
    stream: int
    slot: int
    reason: object
    t: float
    n: int
    samples: int


class MuxStats:
    """Per-stream activation and sample counts of a mux, summed over all its passes.

    ``activations`` and ``samples`` are int64 arrays with one entry per
    streamer; ``active`` holds the stream index of each active slot of the most
    recently started pass that is still running; ``retirements`` counts ended
    activations by reason; ``errors`` keeps ``(stream, exception)`` pairs of
    streams skipped with ``on_error='skip'`` (the last 1000).
    """

    max_errors = 1000

    def __init__(self, n_streams, names=None):
        self.n_streams = n_streams
        self.names = names
        self._lock = threading.Lock()
        self._passes = []
        self.reset()

    def reset(self):
        """Set every counter to zero; a running pass counts on from here."""
        with self._lock:
            # Plain lists: the engine adds to single entries, three times faster than on
            # an array. Zeroed in place: running passes hold references to them.
            if not hasattr(self, "_activations"):
                self._activations = [0] * self.n_streams
                self._samples = [0] * self.n_streams
                self.retirements = dict.fromkeys(RETIREMENT_REASONS, 0)
            self._activations[:] = [0] * self.n_streams
            self._samples[:] = [0] * self.n_streams
            for p in self._passes:
                for i, v in enumerate(p.live_samples().tolist()):
                    self._samples[i] -= v
            self.retirements.update(dict.fromkeys(RETIREMENT_REASONS, 0))
            self.errors = []
            self.passes = 0

    # pickling: a snapshot of the counters, with a lock of its own and no running pass
    def __getstate__(self):
        with self._lock:
            state = {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_passes")}
            samples = list(self._samples)
            for p in self._passes:
                for i, v in enumerate(p.live_samples().tolist()):
                    samples[i] += v
            state.update(
                _activations=list(self._activations),
                _samples=samples,
                retirements=dict(self.retirements),
                errors=list(self.errors),
            )
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._passes = []

    # called by the engine -------------------------------------------------
    def _start_pass(self, state):
        with self._lock:
            self._passes.append(state)
            self.passes += 1

    def _end_pass(self, state):
        with self._lock:
            for i, v in enumerate(state.live_samples().tolist()):
                if v:
                    self._samples[i] += v
            self._passes.remove(state)

    def _grow(self, n_streams):
        """Count ``n_streams`` streams from now on (a ChainMux over a stream of streamers meets them as it goes)."""
        with self._lock:
            extra = n_streams - self.n_streams
            if extra > 0:
                self._activations.extend([0] * extra)
                self._samples.extend([0] * extra)
                self.n_streams = n_streams

    def _record_error(self, stream, exc):
        self.errors.append((stream, exc))
        if len(self.errors) > self.max_errors:
            del self.errors[: len(self.errors) - self.max_errors]

    # read by users --------------------------------------------------------
    @property
    def activations(self):
        return np.array(self._activations, dtype=np.int64)

    @property
    def samples(self):
        with self._lock:
            total = np.array(self._samples, dtype=np.int64)
            for p in self._passes:
                total += p.live_samples()
        return total

    @property
    def active(self):
        with self._lock:
            if not self._passes:
                return np.zeros(0, dtype=np.int64)
            return np.asarray(self._passes[-1].active_streams(), dtype=np.int64)

    @property
    def running(self):
        """How many passes over the mux are running now."""
        return len(self._passes)

    def to_frame(self):
        """One row per stream: activations, samples and active slots now (pandas DataFrame)."""
        import pandas as pd

        active = np.bincount(self.active, minlength=self.n_streams)
        frame = pd.DataFrame(
            {
                "stream": np.arange(self.n_streams),
                "activations": self.activations,
                "samples": self.samples,
                "active": active,
            }
        )
        if self.names is not None:
            frame.insert(1, "name", list(self.names))
        return frame

    def __repr__(self):
        return (
            f"MuxStats(streams={self.n_streams}, activations={sum(self._activations)}, "
            f"samples={int(self.samples.sum())}, active={self.active.tolist()}, "
            f"retirements={self.retirements})"
        )


class EventClock:
    """Seconds since a pass started, for event timestamps."""

    __slots__ = ("start",)

    def __init__(self):
        self.start = time.perf_counter()

    def __call__(self):
        return time.perf_counter() - self.start
