"""Counters every mux keeps about its streams, and the events it can report.

The counters cost nothing per sample: a running pass counts samples in the
slot lists it already keeps and hands an activation over here when it ends
(:meth:`MuxStats.add_retirement`) or the pass closes
(:meth:`MuxStats.add_unretired`); reading the counters adds the running
passes' live activations, which the mux's pass registry supplies.
"""

import threading
import time
from typing import NamedTuple

import numpy as np

from .state import decode_errors, decode_ints, encode_errors, encode_ints

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


class _NoPasses:
    """The registry of a MuxStats made on its own: no pass ever runs."""

    def __init__(self):
        self.lock = threading.Lock()

    def __len__(self):
        return 0

    def live_counts(self, n_streams):
        zeros = np.zeros(n_streams, dtype=np.int64)
        return zeros, zeros

    def latest(self):
        return None


class MuxStats:
    """Per-stream activation and sample counts of a mux, summed over all its passes.

    ``activations`` and ``samples`` are int64 arrays with one entry per
    streamer; ``active`` holds the stream index of each active slot of the most
    recently started pass that is still running; ``retirements`` counts ended
    activations by reason; ``errors`` keeps ``(stream, exception)`` pairs of
    streams skipped with ``on_error='skip'`` (the last 1000; after resuming
    from a checkpoint, those from before it are
    :class:`~muxlab.RestoredError` objects that keep the class name and
    message of the original).

    ``passes`` is the mux's registry of running passes (a
    :class:`muxlab.mux.passes.PassRegistry`): it supplies the live counts and
    the lock under which they are read.

    An activation is counted when it ends (:meth:`add_retirement`) or when
    its pass closes (:meth:`add_unretired`); until then the pass reports it
    live, so ``activations`` includes the active ones at any time.

    >>> stats = MuxStats(3)
    >>> stats.add_retirement(1, 5, 'lifetime')
    >>> stats.activations.tolist(), stats.samples.tolist(), stats.retirements['lifetime']
    ([0, 1, 0], [0, 5, 0], 1)
    """

    max_errors = 1000

    def __init__(self, n_streams, passes=None):
        self.n_streams = n_streams
        self._passes = _NoPasses() if passes is None else passes
        # Plain lists: the engine adds to single entries, three times faster than on an array.
        self._activations = [0] * n_streams
        self._samples = [0] * n_streams
        self.retirements = dict.fromkeys(RETIREMENT_REASONS, 0)
        self.errors = []
        self.passes = 0

    def reset(self):
        """Set every counter to zero; a running pass counts on from here."""
        with self._passes.lock:
            activations, samples = self._passes.live_counts(self.n_streams)
            self._activations = (-activations).tolist()
            self._samples = (-samples).tolist()
            self.retirements = dict.fromkeys(RETIREMENT_REASONS, 0)
            self.errors = []
            self.passes = 0

    # pickling: a snapshot of the counters (the running passes' live counts included), with no pass
    def __getstate__(self):
        with self._passes.lock:
            activations, samples = self._passes.live_counts(self.n_streams)
            state = {k: v for k, v in self.__dict__.items() if k != "_passes"}
            state.update(
                _activations=(np.array(self._activations, dtype=np.int64) + activations).tolist(),
                _samples=(np.array(self._samples, dtype=np.int64) + samples).tolist(),
                retirements=dict(self.retirements),
                errors=list(self.errors),
            )
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._passes = _NoPasses()

    # called by the engine -------------------------------------------------
    def add_pass(self):
        """A pass started."""
        self.passes += 1

    def add_retirement(self, stream, samples, reason):
        """An activation of ``stream`` ended after ``samples`` items, for ``reason`` (call under the passes' lock)."""
        self._activations[stream] += 1
        self._samples[stream] += samples
        self.retirements[reason] += 1

    def grow(self, n_streams):
        """Count ``n_streams`` streams from now on (a ChainMux over a stream of streamers meets them as it goes)."""
        with self._passes.lock:
            extra = n_streams - self.n_streams
            if extra > 0:
                self._activations.extend([0] * extra)
                self._samples.extend([0] * extra)
                self.n_streams = n_streams

    def add_unretired(self, stream, samples):
        """A closing pass hands over an activation it did not retire, with its items (call under the passes' lock)."""
        self._activations[stream] += 1
        self._samples[stream] += samples

    def add_restored(self, stream, samples):
        """A restored pass reopened an activation the counters already hold: take it out (it is live again)."""
        self._activations[stream] -= 1
        self._samples[stream] -= samples

    def add_error(self, stream, exc):
        """Keep a skipped stream's exception (``on_error='skip'``)."""
        self.errors.append((stream, exc))
        if len(self.errors) > self.max_errors:
            del self.errors[: len(self.errors) - self.max_errors]

    # checkpoints ------------------------------------------------------------
    def state_dict(self):
        """The counters as plain data (the running passes' live counts included)."""
        return {
            "activations": encode_ints(self.activations),
            "samples": encode_ints(self.samples),
            "retirements": dict(self.retirements),
            "passes": self.passes,
            "errors": encode_errors(self.errors),
        }

    def load_state_dict(self, state):
        """Set the counters from :meth:`state_dict` (a pass restored afterwards takes its live part out)."""
        with self._passes.lock:
            self._activations = decode_ints(state["activations"], self.n_streams).tolist()
            self._samples = decode_ints(state["samples"], self.n_streams).tolist()
            self.retirements = dict.fromkeys(RETIREMENT_REASONS, 0) | {
                k: int(v) for k, v in state["retirements"].items()
            }
            self.passes = int(state["passes"])
            self.errors = decode_errors(state["errors"])

    # read by users --------------------------------------------------------
    @property
    def activations(self):
        with self._passes.lock:
            return np.array(self._activations, dtype=np.int64) + self._passes.live_counts(self.n_streams)[0]

    @property
    def samples(self):
        with self._passes.lock:
            return np.array(self._samples, dtype=np.int64) + self._passes.live_counts(self.n_streams)[1]

    @property
    def active(self):
        with self._passes.lock:
            p = self._passes.latest()
            if p is None:
                return np.zeros(0, dtype=np.int64)
            return np.asarray(p.active_streams(), dtype=np.int64)

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
        return frame

    def __repr__(self):
        return (
            f"MuxStats(streams={self.n_streams}, activations={int(self.activations.sum())}, "
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
