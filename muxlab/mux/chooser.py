"""StreamChooser: which stream a StochasticMux activates next (weights, candidate blocks, pruning).

Candidates are drawn by weight in blocks; a candidate the mode does not
allow (pruned, already active in ``single_active``, already used in
``exhaustive``) is skipped, and after a few rejections the choice is made
exactly among the streams still allowed.
"""

import numpy as np

from ..state import decode_bits, encode_bits

_CANDIDATE_BLOCK = 256
_REJECTIONS = 32


class StreamChooser:
    """The stream-choosing half of a StochasticMux pass; its state is apart from the slots.

    ``pruned[i]`` marks a stream never to activate again in this pass,
    ``used[i]`` (exhaustive mode) a stream already activated; ``cdf`` is the
    cumulative distribution candidates are drawn from (None: uniform), built
    from ``weights`` with the streams in ``excluded`` left out.
    """

    def __init__(self, mux, rng):
        self.mux = mux
        self.rng = rng
        self.mode = mux.mode
        self.exhaustive = self.mode == "exhaustive"
        self.dead = False
        self.prune_empty = mux.prune_empty_streams
        n_streams = mux.n_streams
        self.n_streams = n_streams
        self.pruned = bytearray(n_streams)
        self.used = bytearray(n_streams)
        self.candidates = []
        self.cand_j = 0
        self.weights_version = None
        self.weights = None
        self.excluded = None
        self.cdf = None
        self.empty_since = -1
        self.empty_seen = set()
        self.n_eligible = 0
        self.use_weights()

    @property
    def dead(self):
        """True once no stream can be activated any more in this pass."""
        return self._dead

    @dead.setter
    def dead(self, value):
        self._dead = value
        # A block candidate can be taken as it is: any stream may be active in several slots, and some still can be.
        self.any_candidate = self.mode == "with_replacement" and not value

    # -- weights ----------------------------------------------------------------
    def use_weights(self):
        """Take the mux's current weights, leaving out streams that may never come back."""
        mux = self.mux
        self.weights_version = mux.weights_version
        self.weights = w = mux.weights
        excluded = np.frombuffer(bytes(self.pruned), dtype=np.uint8).astype(bool)
        if self.exhaustive:
            excluded |= np.frombuffer(bytes(self.used), dtype=np.uint8).astype(bool)
        self.n_eligible = int(np.count_nonzero((w > 0) & ~excluded))
        self.excluded = excluded if excluded.any() else None
        self._build_cdf()
        self.candidates = []
        self.cand_j = 0

    def _build_cdf(self):
        w, excluded = self.weights, self.excluded
        if excluded is not None or np.any(w != w[0]):
            p = w if excluded is None else np.where(excluded, 0.0, w)
            total = p.sum()
            self.cdf = np.zeros(0) if total <= 0 else np.cumsum(p / total)
        else:
            self.cdf = None

    def refill(self):
        """Draw a new block of candidates by weight."""
        n = self.n_streams
        if self.cdf is None:
            self.candidates = self.rng.integers(0, n, size=_CANDIDATE_BLOCK).tolist()
        else:
            idx = np.searchsorted(self.cdf, self.rng.random(_CANDIDATE_BLOCK) * self.cdf[-1], side="right")
            self.candidates = np.minimum(idx, n - 1).tolist()
        self.cand_j = 0

    # -- choosing ---------------------------------------------------------------
    def choose(self, in_use):
        """Pick the next stream to activate by weight, or -1 if none can be (``in_use[i]``: slots stream i holds, a defaultdict)."""
        if self.dead:
            return -1
        if self.cdf is not None and len(self.cdf) == 0:
            return -1
        mode = self.mode
        pruned = self.pruned
        taken = self.used if self.exhaustive else in_use
        candidates, j = self.candidates, self.cand_j
        for _ in range(_REJECTIONS):
            if j == len(candidates):
                self.refill()
                candidates, j = self.candidates, 0
            stream = candidates[j]
            j += 1
            if pruned[stream]:
                continue
            if mode == "with_replacement" or not taken[stream]:
                self.cand_j = j
                return stream
        self.cand_j = j
        # Most of the weight is on streams that cannot be chosen: choose exactly.
        self.use_weights()
        if self.cdf is not None and len(self.cdf) == 0:
            return -1
        if mode != "single_active":
            return self.choose(in_use)
        free = np.ones(self.n_streams, dtype=bool)
        free[[stream for stream, held in in_use.items() if held]] = False
        p = self.weights * free * ~np.frombuffer(bytes(self.pruned), dtype=np.uint8).astype(bool)
        total = p.sum()
        if total <= 0:
            return -1
        return int(min(np.searchsorted(np.cumsum(p), self.rng.random() * total, side="right"), len(p) - 1))

    def came_up_empty(self, stream, yielded):
        """An activation of ``stream`` yielded nothing (``yielded``: items of the pass so far): prune it, or note it.

        An exhaustive pass ends by itself once every stream was used, so only
        the other modes need to know when nothing is left to draw from.
        """
        if self.exhaustive:
            if self.prune_empty:
                self.pruned[stream] = 1
            return
        if self.prune_empty:
            if not self.pruned[stream]:
                self.pruned[stream] = 1
                if self.weights[stream] > 0:
                    self.n_eligible -= 1
                if self.n_eligible <= 0:
                    self.dead = True
            return
        if yielded != self.empty_since:
            self.empty_since = yielded
            self.empty_seen.clear()
        self.empty_seen.add(stream)
        if len(self.empty_seen) >= self.n_eligible:
            self.dead = True

    # -- state ------------------------------------------------------------------
    def state_dict(self):
        mux = self.mux
        own_weights = self.weights_version != mux.weights_version
        return {
            "pruned": encode_bits(self.pruned),
            "used": encode_bits(self.used),
            "candidates": self.candidates[self.cand_j :],
            "weights": self.weights.tolist() if own_weights else None,
            "excluded": None if self.excluded is None else encode_bits(self.excluded.astype(np.uint8)),
            "dead": self.dead,
            "empty_since": self.empty_since,
            "empty_seen": sorted(self.empty_seen),
            "n_eligible": self.n_eligible,
        }

    def load_state_dict(self, state):
        mux = self.mux
        n = self.n_streams
        self.pruned = bytearray(decode_bits(state["pruned"], n).astype(np.uint8).tobytes())
        self.used = bytearray(decode_bits(state["used"], n).astype(np.uint8).tobytes())
        if state["weights"] is None:
            self.weights_version = mux.weights_version
            self.weights = mux.weights
        else:
            self.weights_version = -1
            self.weights = np.asarray(state["weights"], dtype=np.float64)
        self.excluded = None if state["excluded"] is None else decode_bits(state["excluded"], n)
        self._build_cdf()
        self.candidates = [int(c) for c in state["candidates"]]
        self.cand_j = 0
        self.dead = bool(state["dead"])
        self.empty_since = int(state["empty_since"])
        self.empty_seen = {int(s) for s in state["empty_seen"]}
        self.n_eligible = int(state["n_eligible"])
