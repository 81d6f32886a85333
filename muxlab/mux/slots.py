"""SlotTable: the active slots of a StochasticMux pass (streams, iterators, lifetimes).

Slot ``s`` holds stream ``stream[s]``, iterated by ``nexts[s]``, with a
lifetime of ``life[s]`` samples of which ``rem[s]`` remain. The lists are
changed in place only (the mux's loop holds them) and under the pass
registry's lock, once per activation, never per item, so a reader in another
thread never sees a slot half written.
"""

import collections

from ..lifetimes import draw_lifetimes

#: Lifetime of an activation that runs until its stream is exhausted (``rate=None``).
ENDLESS = 2**62

_LIFETIME_BLOCK = 256


class SlotTable:
    """The slot half of a StochasticMux pass; its state is apart from the stream chooser."""

    def __init__(self, mux, rng, lock):
        self.rng = rng
        self.lock = lock
        self.dist = mux.dist
        self.k = mux.n_active
        self.rate = mux.rate
        self.stream = []
        self.iters = []
        self.nexts = []
        self.life = []
        self.rem = []
        # Slots each stream holds; only streams ever active have an entry, so a pass starts in O(k).
        self.in_use = collections.defaultdict(int)
        self.lifetimes = []
        self.retired_total = 0

    def __len__(self):
        return len(self.nexts)

    # -- read by the counters and the pass ------------------------------------
    def live_samples(self):
        """``(streams, items)`` of the active activations (items not yet handed to the counters)."""
        m = min(len(self.stream), len(self.life), len(self.rem))
        return self.stream[:m], [a - b for a, b in zip(self.life[:m], self.rem[:m])]

    def yielded(self):
        """Items the pass has yielded so far."""
        return self.retired_total + sum(self.life) - sum(self.rem)

    # -- lifetimes --------------------------------------------------------------
    def next_lifetime(self):
        if self.rate is None:
            return ENDLESS
        if not self.lifetimes:
            self.lifetimes = draw_lifetimes(self.rng, self.dist, self.rate, self.k, _LIFETIME_BLOCK).tolist()[::-1]
        return self.lifetimes.pop()

    # -- changes (under ``lock``) -------------------------------------------------
    def append(self, stream, it, life):
        with self.lock:
            self.stream.append(stream)
            self.iters.append(it)
            self.nexts.append(it.__next__)
            self.life.append(life)
            self.rem.append(life)

    def remove(self, s):
        last = len(self.nexts) - 1
        for lst in (self.stream, self.iters, self.nexts, self.life, self.rem):
            lst[s] = lst[last]
            lst.pop()

    # -- state ------------------------------------------------------------------
    def state_dict(self, streamers, approximate):
        """The slots as plain data; each activation described by its stream (see ``Streamer._activation_state``)."""
        slots = []
        for s, stream in enumerate(self.stream):
            got = self.life[s] - self.rem[s]
            slots.append(
                {
                    "stream": stream,
                    "life": self.life[s],
                    "rem": self.rem[s],
                    "at": streamers[stream]._activation_state(self.iters[s], got, approximate),
                }
            )
        return {
            "k": self.k,
            "rate": self.rate,
            "slots": slots,
            "lifetimes": list(self.lifetimes),
            "retired_total": self.retired_total,
        }

    def load_state_dict(self, state, streamers):
        """Reopen every slot's activation where it stood."""
        self.k = state["k"]
        self.rate = state["rate"]
        self.lifetimes = [int(x) for x in state["lifetimes"]]
        self.retired_total = int(state["retired_total"])
        for slot in state["slots"]:
            stream = int(slot["stream"])
            it = streamers[stream]._resume_activation(slot["at"])
            with self.lock:
                self.stream.append(stream)
                self.iters.append(it)
                self.nexts.append(it.__next__)
                self.life.append(int(slot["life"]))
                self.rem.append(int(slot["rem"]))
            self.in_use[stream] += 1
