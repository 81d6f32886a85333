"""A pass over a mux as a declared object: the protocol every pass follows, the registry of running passes and the iterator a user holds.

A *pass* is one iteration over a mux (``iter(mux)``, ``mux(max_iter=...)``):
its slots, its random generator and its bookkeeping, apart from the mux's
configuration. Every pass offers the same small protocol:

- ``live_samples()``: ``(streams, counts)``: the stream of each active
  activation and the items it yielded, not yet handed to the counters;
- ``active_streams()``: the stream held by each active slot;
- ``request_changes()``: the mux's live parameters changed; apply them
  before the next item;
- ``close()``: close the active iterators and hand their items to the
  counters, in O(number of active slots);
- ``state_dict()``: the plain data that lets a pass continue exactly.

The mux owns one :class:`PassRegistry` (``mux.passes``) with the lock under
which passes change their slots and counters are read.
"""

import itertools
import threading

import numpy as np


class Pass:
    """The protocol of a running pass (see the module docstring); subclasses fill it in."""

    def live_samples(self):  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def active_streams(self):  # pragma: no cover
        raise NotImplementedError

    def request_changes(self):
        """The mux's live parameters changed (nothing to do for a mux without live parameters)."""

    def close(self):  # pragma: no cover
        raise NotImplementedError

    def hand_over(self):
        """Hand the active activations over to the mux's counters (once, under the registry's lock, as the pass ends)."""
        add = self.stats.add_unretired
        for stream, got in zip(*self.live_samples()):
            add(stream, got)

    def take_over(self):
        """A restored pass starts: the counters hold its active activations, which it reports live again."""
        take = self.stats.add_restored
        for stream, got in zip(*self.live_samples()):
            take(stream, got)

    def state_dict(self, approximate=False):  # pragma: no cover
        raise NotImplementedError


class PassRegistry:
    """The passes of one mux that are running now, and the lock they change their slots under.

    >>> reg = PassRegistry()
    >>> len(reg), reg.latest() is None
    (0, True)
    """

    def __init__(self):
        self.lock = threading.Lock()
        self._running = []

    def __len__(self):
        return len(self._running)

    def __iter__(self):
        return iter(list(self._running))

    def add(self, p):
        """Put ``p`` in; a restored pass takes its active activations back from the counters in the same step."""
        with self.lock:
            if p.restored is not None:
                p.take_over()
            self._running.append(p)

    def remove(self, p):
        """Take ``p`` out, handing its live counts over to the counters in the same step."""
        with self.lock:
            p.hand_over()
            self._running.remove(p)

    def latest(self):
        """The most recently started pass still running, or None."""
        running = self._running
        return running[-1] if running else None

    def live_counts(self, n_streams):
        """Per stream, the active activations of every running pass and the items they yielded (call under ``lock``)."""
        activations = np.zeros(n_streams, dtype=np.int64)
        samples = np.zeros(n_streams, dtype=np.int64)
        for p in self._running:
            streams, counts = p.live_samples()
            if len(streams):
                streams = np.asarray(streams, dtype=np.int64)
                np.add.at(activations, streams, 1)
                np.add.at(samples, streams, np.asarray(counts, dtype=np.int64))
        return activations, samples

    def request_changes(self):
        """Ask every running pass to apply the mux's new live parameters before its next item."""
        for p in list(self._running):
            p.request_changes()

    def find(self, iterator):
        """The running pass whose generator is ``iterator``, or None."""
        for p in list(self._running):
            if p.generator() is iterator:
                return p
        return None


class PassIterator(itertools.chain):
    """The iterator over one pass of a mux: yields its items, and tells where it stands with :meth:`state_dict`.

    Iterating it costs what iterating the pass's generator costs (it is a C
    ``itertools.chain`` over that one generator).
    """

    __slots__ = ("mux", "pass_")

    def __new__(cls, mux, p, generator):
        self = super().__new__(cls, generator)
        self.mux = mux
        self.pass_ = p
        return self

    def state_dict(self, approximate=False):
        """Plain, JSON-serialisable data from which ``mux.iterate(state=...)`` continues this pass exactly.

        Raises :class:`muxlab.NotResumableError` if an active stream cannot be
        reopened (a Streamer over a one-shot iterator), unless ``approximate``
        is True, in which case such a stream restarts from its beginning.
        """
        return self.mux._state_dict(self.pass_, approximate)

    def close(self):
        """Stop the pass now, closing its active streams."""
        generator = self.pass_.generator()
        if generator is not None:
            generator.close()

    def __repr__(self):
        return f"<pass over {self.mux!r}: {self.pass_.yielded()} items so far>"
