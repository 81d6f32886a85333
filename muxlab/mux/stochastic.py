"""StochasticMux: keep ``k`` streams active, each for a random number of samples, and interleave them.

This is pescador's ``StochasticMux`` (and the seed document's ``Mux``) with
two deliberate differences, both documented on the class: ``weights`` set the
long-run share of samples of each stream, and every lifetime distribution has
a mean of exactly ``rate`` samples.
"""

import numpy as np

from ..errors import ParameterError
from ..lifetimes import DISTS, draw_lifetimes
from ..stats import EventClock
from ..validation import check_bool, check_choice, check_int, check_positive_number, check_weights
from .base import BaseMux

MODES = ("with_replacement", "single_active", "exhaustive")

#: Lifetime of an activation that runs until its stream is exhausted (``rate=None``).
ENDLESS = 2**62

#: The largest finite rate: lifetimes are drawn as 64-bit integers (use None for "until exhausted").
MAX_RATE = 1e15

_PICK_BLOCK = 4096
_CANDIDATE_BLOCK = 256
_LIFETIME_BLOCK = 256
_REJECTIONS = 32


class StochasticMux(BaseMux):
    """Keep ``n_active`` streams active and yield their samples in random order.

    Each activation draws a lifetime from ``dist`` with mean ``rate`` samples;
    when it is over, or its stream runs dry, the slot is given to a new
    activation. Each item is taken from an active slot chosen uniformly.

    Parameters
    ----------
    streamers : list of Streamer
        The streams to multiplex (plain iterables are wrapped in a Streamer).
    n_active : int >= 1
        Number of streams active at once (``k``). Live: may be set at any time.
    rate : float >= 1 or None
        Mean number of samples per activation (``lam``); every activation
        yields at least one. ``None`` runs each activation until its stream is
        exhausted. Live: a new rate redraws the remaining lifetimes of the
        active streams and applies to every later activation.
    weights : array of float >= 0, optional
        Long-run share of samples of each stream (normalised to sum to 1).
        Activations choose stream ``i`` with probability ``weights[i]``, and
        every activation lasts ``rate`` samples on average, so with endless
        streams in ``with_replacement`` mode stream ``i`` gets a share
        ``weights[i]`` of the samples (in pescador weights only bias picks
        among the active streams). A stream that runs dry before its lifetime
        is over gets less. In ``single_active`` mode a stream holds at most one
        slot, so no stream gets more than ``1/k`` of the samples; in
        ``exhaustive`` mode weights set the order in which streams are used.
        Live: new weights apply to the next choices.
    mode : {'with_replacement', 'single_active', 'exhaustive'}
        ``with_replacement``: a stream may be active in several slots at once.
        ``single_active``: a stream holds at most one slot at a time; it is
        available again once retired. ``exhaustive``: each stream is
        activated at most once; the pass ends when all have been used.
    prune_empty_streams : bool
        Never activate again a stream whose activation yielded nothing. When
        False, a pass ends once every stream has come up empty since the last
        item (instead of spinning forever).
    dist : {'binomial', 'poisson', 'constant'}
        Lifetime distribution; see :mod:`muxlab.lifetimes`.
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
        Every random choice of a pass comes from one generator. An int makes
        each pass repeat the same sequence; a Generator keeps drawing.
    on_error : {'raise', 'skip'}
        What to do when a stream raises. ``raise``: the exception reaches the
        consumer unchanged, with a note naming the stream. ``skip``: the
        activation is retired (reason ``'error'``) and the exception kept in
        ``stats.errors``.
    on_event : callable, optional
        Called with a :class:`muxlab.stats.MuxEvent` at every activation and
        retirement.
    counters : bool
        Keep ``stats.activations``, ``stats.samples`` and
        ``stats.retirements`` (default). They cost nothing per sample and a few
        list operations per activation; ``False`` leaves them at zero
        (``stats.active`` still works), for measuring that cost.

    Examples
    --------
    >>> from muxlab import Streamer, StochasticMux
    >>> streams = [Streamer(c * 100) for c in 'abc']
    >>> mux = StochasticMux(streams, n_active=2, rate=4, random_state=0)
    >>> len(list(mux(max_iter=30)))
    30
    >>> int(mux.stats.samples.sum())
    30
    """

    def __init__(
        self,
        streamers,
        n_active,
        rate,
        weights=None,
        mode="with_replacement",
        prune_empty_streams=True,
        dist="binomial",
        random_state=None,
        *,
        on_error="raise",
        on_event=None,
        counters=True,
    ):
        super().__init__(streamers, random_state=random_state, on_error=on_error, on_event=on_event)
        self.counters = bool(counters)
        owner = type(self).__name__
        self._mode = check_choice(owner, "mode", mode, MODES)
        self._dist = check_choice(owner, "dist", dist, DISTS)
        self.prune_empty_streams = check_bool(owner, "prune_empty_streams", prune_empty_streams)
        self._n_active = self._check_n_active(n_active)
        self._rate = self._check_rate(rate)
        self._weights = check_weights(owner, weights, self.n_streams)
        self._weights_version = 0

    # -- validation ---------------------------------------------------------
    def _k_name(self):
        return "n_active"

    def _rate_name(self):
        return "rate"

    def _check_n_active(self, value):
        owner, name = type(self).__name__, self._k_name()
        value = check_int(owner, name, value, minimum=1)
        if self.mode != "with_replacement" and value > self.n_streams:
            raise ParameterError(
                f"{owner}: {name}={value} is more than the {self.n_streams} streams; "
                f"mode={self.mode!r} gives each stream at most one slot, so expected "
                f"{name} <= {self.n_streams} (or mode='with_replacement')"
            )
        return value

    def _check_rate(self, value):
        return check_positive_number(
            type(self).__name__, self._rate_name(), value, minimum=1, allow_none=True, maximum=MAX_RATE
        )

    @property
    def mode(self):
        """The mode, fixed at construction (a running pass depends on it)."""
        return self._mode

    @mode.setter
    def mode(self, value):
        raise ParameterError(
            f"{type(self).__name__}: mode cannot be changed (asked for {value!r}); make a new mux with mode={value!r}"
        )

    @property
    def dist(self):
        """The lifetime distribution, fixed at construction."""
        return self._dist

    @dist.setter
    def dist(self, value):
        raise ParameterError(
            f"{type(self).__name__}: dist cannot be changed (asked for {value!r}); make a new mux with dist={value!r}"
        )

    # -- live parameters ----------------------------------------------------
    @property
    def n_active(self):
        """Number of active slots (``k``); setting it takes effect before the next item."""
        return self._n_active

    @n_active.setter
    def n_active(self, value):
        self._n_active = self._check_n_active(value)
        self._notify()

    k = n_active

    @property
    def rate(self):
        """Mean samples per activation (``lam``); setting it redraws active lifetimes."""
        return self._rate

    @rate.setter
    def rate(self, value):
        self._rate = self._check_rate(value)
        self._notify()

    lam = rate

    @property
    def weights(self):
        """Normalised stream weights (a copy); setting them applies to the next choices."""
        return self._weights.copy()

    @weights.setter
    def weights(self, value):
        self._weights = check_weights(type(self).__name__, value, self.n_streams)
        self._weights_version += 1
        self._notify()

    def _notify(self):
        for state in list(self.stats._passes):
            state.flag = True
            state.picks.clear()

    # -- one pass -----------------------------------------------------------
    def _run(self, max_iter):
        # The hot loop: per item, one pick from a pre-drawn block, one next(),
        # one lifetime decrement. Everything else (live changes, retirements,
        # the max_iter limit) happens between blocks: a block is cut short by
        # clearing it, and its length never exceeds the items still owed.
        if max_iter == 0:
            return
        st = _Pass(self)
        self.stats._start_pass(st)
        try:
            st.fill_initial_slots()
            nexts = st.nexts
            rem = st.rem
            while True:
                if st.flag:
                    st.apply_changes()
                if not nexts:
                    return
                size = _PICK_BLOCK
                if max_iter is not None:
                    size = min(size, max_iter - st.yielded())
                    if size <= 0:
                        return
                picks = st.new_picks(size)
                if st.flag:
                    continue
                for s in picks:
                    try:
                        item = nexts[s]()
                    except StopIteration:
                        st.retire(s, "exhausted")
                        continue
                    except Exception as exc:
                        st.fail(s, exc)
                        continue
                    r = rem[s] - 1
                    rem[s] = r
                    if r == 0:
                        try:
                            st.retire(s, "lifetime")
                        except BaseException:
                            yield item  # counted, so delivered before the replacement's error
                            raise
                    yield item
        finally:
            st.close()
            self.stats._end_pass(st)

    def __repr__(self):
        return (
            f"{type(self).__name__}({self.n_streams} streamers, {self._k_name()}={self._n_active}, "
            f"{self._rate_name()}={self._rate}, mode={self.mode!r}, dist={self.dist!r})"
        )


class Mux(StochasticMux):
    """The seed document's name for :class:`StochasticMux`: ``Mux(streams, k=32, lam=16)``.

    ``k`` is ``n_active`` and ``lam`` is ``rate``; both names work as
    properties on either class. pescador 1.x's ``with_replacement=False``
    (with ``revive=True``) maps to ``mode='exhaustive'`` (``'single_active'``).

    >>> from muxlab import Streamer, Mux
    >>> mux = Mux([Streamer('ab'), Streamer('cd')], k=1, lam=None, mode='exhaustive', random_state=1)
    >>> sorted(mux.generate(max_batches=10))
    ['a', 'b', 'c', 'd']
    >>> mux.k, mux.n_active, mux.lam, mux.rate
    (1, 1, None, None)
    """

    def __init__(
        self,
        streamers,
        k,
        lam,
        weights=None,
        mode=None,
        prune_empty_streams=True,
        dist="binomial",
        random_state=None,
        *,
        with_replacement=True,
        revive=False,
        on_error="raise",
        on_event=None,
        counters=True,
    ):
        if mode is None:
            mode = "with_replacement" if with_replacement else ("single_active" if revive else "exhaustive")
        super().__init__(
            streamers,
            k,
            lam,
            weights=weights,
            mode=mode,
            prune_empty_streams=prune_empty_streams,
            dist=dist,
            random_state=random_state,
            on_error=on_error,
            on_event=on_event,
            counters=counters,
        )

    def _k_name(self):
        return "k"

    def _rate_name(self):
        return "lam"


class _Pass:
    """The state of one pass over a StochasticMux: its slots, its generator and its bookkeeping.

    Slot ``s`` holds stream ``slot_stream[s]``, iterated by ``nexts[s]``, with a
    lifetime of ``life[s]`` samples of which ``rem[s]`` remain. The lists are
    changed in place only, because the mux's loop holds them.
    """

    def __init__(self, mux):
        self.mux = mux
        self.rng = mux.random_source.for_pass()
        self.counting = mux.counters
        self.lock = mux.stats._lock
        self.mode = mux._mode
        self.exhaustive = self.mode == "exhaustive"
        # The counters this pass adds to (zeroed in place by stats.reset()).
        self.activation_counts = mux.stats._activations
        self.sample_counts = mux.stats._samples
        self.retirement_counts = mux.stats.retirements
        self.flag = False
        self.picks = []
        self.retired_total = 0
        self.k = mux._n_active
        self.rate = mux._rate
        self.clock = EventClock()
        n_streams = mux.n_streams
        self.slot_stream = []
        self.slot_iter = []
        self.nexts = []
        self.life = []
        self.rem = []
        self.lifetimes = []
        self.pruned = bytearray(n_streams)
        self.used = bytearray(n_streams)
        self.in_use = [0] * n_streams
        self.candidates = []
        self.cand_j = 0
        self.weights_version = None
        self.cdf = None
        self.dead = False
        self.empty_since = -1
        self.empty_seen = set()
        self.n_eligible = 0
        self._use_weights()

    # -- bookkeeping read by MuxStats ---------------------------------------
    def live_samples(self):
        out = np.zeros(self.mux.n_streams, dtype=np.int64)
        if not self.counting:
            return out
        m = min(len(self.slot_stream), len(self.life), len(self.rem))
        if m:
            got = np.asarray(self.life[:m], dtype=np.int64) - np.asarray(self.rem[:m], dtype=np.int64)
            np.add.at(out, np.asarray(self.slot_stream[:m], dtype=np.int64), got)
        return out

    def active_streams(self):
        return list(self.slot_stream)

    def yielded(self):
        """Items this pass has yielded so far."""
        return self.retired_total + sum(self.life) - sum(self.rem)

    # -- random draws, in blocks ------------------------------------------------
    def new_picks(self, size):
        """A block of ``size`` slot indices drawn uniformly; clearing it stops the loop over it."""
        self.picks = self.rng.integers(0, len(self.nexts), size=size).tolist()
        return self.picks

    def next_lifetime(self):
        if self.rate is None:
            return ENDLESS
        if not self.lifetimes:
            self.lifetimes = draw_lifetimes(
                self.rng, self.mux.dist, self.rate, self.k, _LIFETIME_BLOCK
            ).tolist()[::-1]
        return self.lifetimes.pop()

    def _use_weights(self):
        """Take the mux's current weights, leaving out streams that may never come back."""
        mux = self.mux
        self.weights_version = mux._weights_version
        w = mux._weights
        excluded = np.frombuffer(bytes(self.pruned), dtype=np.uint8).astype(bool)
        if mux._mode == "exhaustive":
            excluded |= np.frombuffer(bytes(self.used), dtype=np.uint8).astype(bool)
        self.n_eligible = int(np.count_nonzero((w > 0) & ~excluded))
        if excluded.any() or np.any(w != w[0]):
            p = np.where(excluded, 0.0, w)
            total = p.sum()
            if total <= 0:
                self.cdf = np.zeros(0)
            else:
                self.cdf = np.cumsum(p / total)
        else:
            self.cdf = None
        self.candidates = []
        self.cand_j = 0

    def _refill_candidates(self):
        n = self.mux.n_streams
        if self.cdf is None:
            self.candidates = self.rng.integers(0, n, size=_CANDIDATE_BLOCK).tolist()
        else:
            idx = np.searchsorted(self.cdf, self.rng.random(_CANDIDATE_BLOCK) * self.cdf[-1], side="right")
            self.candidates = np.minimum(idx, n - 1).tolist()
        self.cand_j = 0

    def choose_stream(self):
        """Pick the next stream to activate by weight, or -1 if none can be."""
        if self.dead:
            return -1
        if self.cdf is not None and len(self.cdf) == 0:
            return -1
        mode = self.mode
        pruned = self.pruned
        taken = self.used if self.exhaustive else self.in_use
        candidates, j = self.candidates, self.cand_j
        for _ in range(_REJECTIONS):
            if j == len(candidates):
                self._refill_candidates()
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
        self._use_weights()
        if self.cdf is not None and len(self.cdf) == 0:
            return -1
        if mode != "single_active":
            return self.choose_stream()
        free = np.asarray(self.in_use) == 0
        p = self.mux._weights * free * ~np.frombuffer(bytes(self.pruned), dtype=np.uint8).astype(bool)
        total = p.sum()
        if total <= 0:
            return -1
        return int(min(np.searchsorted(np.cumsum(p), self.rng.random() * total, side="right"), len(p) - 1))

    # -- activation and retirement ------------------------------------------
    # Changes to the slot lists happen under ``lock`` (once per activation, never
    # per item), so a reader in another thread never sees a slot half written.
    def fill_initial_slots(self):
        for _ in range(self.k):
            if not self._add_slot():
                break

    def _add_slot(self):
        """Open a new activation in a new slot; False if no stream can be activated."""
        new = self._open_next()
        if new is None:
            return False
        stream, it, life = new
        with self.lock:
            self.slot_stream.append(stream)
            self.slot_iter.append(it)
            self.nexts.append(it.__next__)
            self.life.append(life)
            self.rem.append(life)
        self._announce(stream, len(self.nexts) - 1)
        return True

    def _open_next(self):
        """Choose and open the next activation: ``(stream, iterator, lifetime)``, or None if none can be."""
        streamers = self.mux.streamers
        while True:
            # The common case inline: an unpruned candidate from the block, any mode that allows it.
            j = self.cand_j
            candidates = self.candidates
            if (
                j < len(candidates)
                and self.mode == "with_replacement"
                and not self.dead
                and not self.pruned[candidates[j]]
            ):
                stream = candidates[j]
                self.cand_j = j + 1
            else:
                stream = self.choose_stream()
                if stream < 0:
                    return None
            if self.counting:
                self.activation_counts[stream] += 1
            if self.exhaustive:
                self.used[stream] = 1
            try:
                it = streamers[stream]._open()
            except Exception as exc:
                self.mux._stream_failed(stream, exc)
                if self.counting:
                    self.retirement_counts["error"] += 1
                self._came_up_empty(stream)
                continue
            self.in_use[stream] += 1
            lifetimes = self.lifetimes
            life = lifetimes.pop() if lifetimes and self.rate is not None else self.next_lifetime()
            return stream, it, life

    def _announce(self, stream, s):
        if self.mux.on_event is not None:
            self.mux._emit("activate", stream, s, None, self.clock, self.yielded(), 0)

    def _came_up_empty(self, stream):
        """An activation of ``stream`` yielded nothing: prune it, or note it towards ending the pass.

        An exhaustive pass ends by itself once every stream was used, so only
        the other modes need to know when nothing is left to draw from.
        """
        if self.exhaustive:
            if self.mux.prune_empty_streams:
                self.pruned[stream] = 1
            return
        if self.mux.prune_empty_streams:
            if not self.pruned[stream]:
                self.pruned[stream] = 1
                if self.mux._weights[stream] > 0:
                    self.n_eligible -= 1
                if self.n_eligible <= 0:
                    self.dead = True
            return
        n = self.yielded()
        if n != self.empty_since:
            self.empty_since = n
            self.empty_seen.clear()
        self.empty_seen.add(stream)
        if len(self.empty_seen) >= self.n_eligible:
            self.dead = True

    def retire(self, s, reason, replace=True):
        """End the activation in slot ``s`` and give the slot to a new one (or close it).

        Called every ``rate`` items on average, so it is written flat: the
        replacement is chosen and opened first (user code, outside the lock),
        then the slot is handed over under the lock in one step.
        """
        stream = self.slot_stream[s]
        got = self.life[s] - self.rem[s]
        if got == 0 and (reason == "exhausted" or reason == "error"):
            if reason == "exhausted" and self.mux.prune_empty_streams:
                reason = "pruned"
            self._came_up_empty(stream)
        self.in_use[stream] -= 1
        new = None
        try:
            if replace:
                new = self._open_next()
        finally:
            old = self.slot_iter[s]
            with self.lock:
                self.retired_total += got
                if self.counting:
                    self.sample_counts[stream] += got
                    self.retirement_counts[reason] += 1
                if new is None:
                    self._remove_slot(s)
                else:
                    new_stream, it, life = new
                    self.slot_stream[s] = new_stream
                    self.slot_iter[s] = it
                    self.nexts[s] = it.__next__
                    self.life[s] = self.rem[s] = life
            del old  # dropping the last reference finalises the iterator (closing its files)
        if self.mux.on_event is not None:
            self.mux._emit("retire", stream, s, reason, self.clock, self.yielded(), got)
            if new is not None:
                self._announce(new[0], s)

    def fail(self, s, exc):
        stream = self.slot_stream[s]
        try:
            self.mux._stream_failed(stream, exc)
        except BaseException:
            self.retire(s, "error", replace=False)
            raise
        self.retire(s, "error")

    def _remove_slot(self, s):
        last = len(self.nexts) - 1
        for lst in (self.slot_stream, self.slot_iter, self.nexts, self.life, self.rem):
            lst[s] = lst[last]
            lst.pop()
        self.flag = True
        self.picks.clear()

    # -- live changes ------------------------------------------------------
    def apply_changes(self):
        self.flag = False
        mux = self.mux
        if mux._weights_version != self.weights_version:
            self._use_weights()
        k = mux._n_active
        if k != self.k:
            self.k = k
            self.lifetimes = []
            current = len(self.nexts)
            if current > k:
                surplus = self.rng.choice(current, size=current - k, replace=False)
                for s in sorted(surplus.tolist(), reverse=True):
                    self.retire(s, "k_lowered", replace=False)
            else:
                for _ in range(k - current):
                    if not self._add_slot():
                        break
        if mux._rate != self.rate:
            self.rate = mux._rate
            self.lifetimes = []
            fresh = [self.next_lifetime() for _ in self.nexts]
            with self.lock:
                for s, remaining in enumerate(fresh):
                    self.life[s] += remaining - self.rem[s]
                    self.rem[s] = remaining

    def close(self):
        for it in self.slot_iter:
            _close(it)


def _close(it):
    close = getattr(it, "close", None)
    if close is not None:
        close()
