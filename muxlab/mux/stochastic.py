"""StochasticMux: keep ``k`` streams active, each for a random number of samples, and interleave them.

This is pescador's ``StochasticMux`` (and the ``Mux`` of pescador's "Sampling from disk" chapter) with
two deliberate differences, both documented on the class: ``weights`` set the
long-run share of samples of each stream, and every lifetime distribution has
a mean of exactly ``rate`` samples.
"""

import itertools

from ..errors import ParameterError
from ..lifetimes import DISTS
from ..state import plain, rng_state, set_rng_state
from ..stats import EventClock
from ..validation import check_bool, check_choice, check_int, check_positive_number, check_weights
from .base import BaseMux
from .chooser import StreamChooser
from .passes import Pass
from .slots import ENDLESS, SlotTable

MODES = ("with_replacement", "single_active", "exhaustive")

#: The largest finite rate: lifetimes are drawn as 64-bit integers (use None for "until exhausted").
MAX_RATE = 1e15

_PICK_BLOCK = 4096

__all__ = ["ENDLESS", "MAX_RATE", "MODES", "Mux", "StochasticMux"]


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
    random_state : None, int, numpy.random.SeedSequence, numpy.random.Generator or numpy.random.RandomState
        Every random choice of a pass comes from one generator, made from
        ``random_state`` as :mod:`muxlab.random_state` states: an int makes
        each pass repeat the same sequence; the other kinds make passes differ.
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

    @property
    def weights_version(self):
        """How many times ``weights`` were set: a pass takes the weights again when it changes."""
        return self._weights_version

    def _notify(self):
        self.passes.request_changes()

    # -- one pass -----------------------------------------------------------
    def _new_pass(self, max_iter, state):
        return _StochasticPass(self, max_iter, state)

    def _live_state(self):
        return {
            "n_active": self._n_active,
            "rate": self._rate,
            "weights": self._weights.tolist() if self._weights_version else None,
        }

    def _load_live_state(self, state):
        self._n_active = self._check_n_active(state["n_active"])
        self._rate = self._check_rate(state["rate"])
        if state["weights"] is not None:
            self._weights = check_weights(type(self).__name__, state["weights"], self.n_streams)
            self._weights_version += 1

    def _config(self):
        return super()._config() | {
            "mode": self._mode,
            "dist": self._dist,
            "prune_empty_streams": self.prune_empty_streams,
            "counters": self.counters,
        }

    def _run(self, st):
        # The hot loop: per item, one pick from a pre-drawn block, one next(),
        # one lifetime decrement. Everything else (live changes, retirements,
        # the max_iter limit) happens between blocks: a block is cut short by
        # clearing it, and its length never exceeds the items still owed.
        with self._running(st):
            if st.restored is None:
                st.fill_initial_slots()
            slots = st.slots
            nexts = slots.nexts
            rem = slots.rem
            max_iter = st.max_iter
            picks = st.restored_picks()
            while True:
                if picks is None:
                    if st.flag:
                        st.apply_changes()
                    if not nexts:
                        return
                    size = _PICK_BLOCK
                    if max_iter is not None:
                        size = min(size, max_iter - slots.yielded())
                        if size <= 0:
                            return
                    picks = st.new_picks(size)
                    if st.flag:
                        picks = None
                        continue
                for s in picks:
                    try:
                        item = nexts[s]()
                    except StopIteration:
                        st.misses += 1
                        st.retire(s, "exhausted")
                        continue
                    except Exception as exc:
                        st.misses += 1
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
                picks = None

    def __repr__(self):
        return (
            f"{type(self).__name__}({self.n_streams} streamers, {self._k_name()}={self._n_active}, "
            f"{self._rate_name()}={self._rate}, mode={self.mode!r}, dist={self.dist!r})"
        )


class Mux(StochasticMux):
    """The name pescador's "Sampling from disk" chapter uses for :class:`StochasticMux`: ``Mux(streams, k=32, lam=16)``.

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


class _StochasticPass(Pass):
    """One pass over a StochasticMux: a :class:`StreamChooser`, a :class:`SlotTable`, one generator and the pick block.

    The pick block is the only per-item state: a list of slot indices drawn at
    once. Its position is not kept per item; it follows from the items
    yielded since it was drawn and the picks that yielded nothing
    (``misses``).
    """

    def __init__(self, mux, max_iter, state=None):
        self.mux = mux
        self.max_iter = max_iter
        self.generator = None
        self.rng = mux.random_source.for_pass(deferred=True)
        self.counting = mux.counters
        self.streamers = mux.streamers
        self.stats = mux.stats
        self.add_retirement = mux.stats.add_retirement
        self.lock = mux.passes.lock
        self.chooser = StreamChooser(mux, self.rng)
        self.slots = SlotTable(mux, self.rng, self.lock)
        self.flag = False
        self.picks = []
        self.block_rng = None  # the generator's state before the pick block was drawn
        self.block_start = 0  # items yielded when it was drawn
        self.misses = 0  # picks of the block that yielded nothing
        self.clock = EventClock()
        self.started = self.finished = False
        self.restored = state
        if state is not None:
            self._load_state_dict(state)

    # -- the pass protocol ------------------------------------------------------
    def live_samples(self):
        if not self.counting:
            return [], []
        return self.slots.live_samples()

    def active_streams(self):
        return list(self.slots.stream)

    def yielded(self):
        return self.slots.yielded()

    def request_changes(self):
        self.flag = True
        self.picks.clear()

    def close(self):
        for it in self.slots.iters:
            _close(it)

    # -- random draws, in blocks ------------------------------------------------
    def new_picks(self, size):
        """A block of ``size`` slot indices drawn uniformly; clearing it stops the loop over it."""
        self.block_rng = self.rng.bit_generator.state
        self.block_slots = len(self.slots.nexts)
        self.block_start = self.slots.yielded()
        self.misses = 0
        self.picks = self.rng.integers(0, len(self.slots.nexts), size=size).tolist()
        return self.picks

    def restored_picks(self):
        """The rest of the pick block a restored pass stood in (an iterator over ``picks``), or None."""
        if self.restored is None or not self.picks:
            return None
        it = iter(self.picks)
        position = self.slots.yielded() - self.block_start + self.misses
        next(itertools.islice(it, position, position), None)
        return it

    # -- activation and retirement ------------------------------------------
    def fill_initial_slots(self):
        for _ in range(self.slots.k):
            if not self._add_slot():
                break

    def _add_slot(self):
        """Open a new activation in a new slot; False if no stream can be activated."""
        new = self._open_next()
        if new is None:
            return False
        stream, it, life = new
        self.slots.append(stream, it, life)
        self._announce(stream, len(self.slots) - 1)
        return True

    def _open_next(self):
        """Choose and open the next activation: ``(stream, iterator, lifetime)``, or None if none can be."""
        ch = self.chooser
        slots = self.slots
        while True:
            # The common case inline: an unpruned candidate from the block, in a mode that allows any.
            j = ch.cand_j
            candidates = ch.candidates
            if ch.any_candidate and j < len(candidates) and not ch.pruned[candidates[j]]:
                stream = candidates[j]
                ch.cand_j = j + 1
            else:
                stream = ch.choose(slots.in_use)
                if stream < 0:
                    return None
                if ch.exhaustive:
                    ch.used[stream] = 1
            try:
                it = self.streamers[stream]._open()
            except Exception as exc:
                self.mux._stream_failed(stream, exc)
                if self.counting:
                    with self.lock:
                        self.add_retirement(stream, 0, "error")
                ch.came_up_empty(stream, slots.yielded())
                continue
            slots.in_use[stream] += 1
            lifetimes = slots.lifetimes
            life = lifetimes.pop() if lifetimes and slots.rate is not None else slots.next_lifetime()
            return stream, it, life

    def _announce(self, stream, s):
        if self.mux.on_event is not None:
            self.mux._emit("activate", stream, s, None, self.clock, self.yielded(), 0)

    def retire(self, s, reason, replace=True):
        """End the activation in slot ``s`` and give the slot to a new one (or close it).

        Called every ``rate`` items on average, so it is written flat: the
        replacement is chosen and opened first (user code, outside the lock),
        then the slot is handed over under the lock in one step.
        """
        slots = self.slots
        streams, life, rem = slots.stream, slots.life, slots.rem
        stream = streams[s]
        got = life[s] - rem[s]
        if got == 0 and (reason == "exhausted" or reason == "error"):
            if reason == "exhausted" and self.mux.prune_empty_streams:
                reason = "pruned"
            self.chooser.came_up_empty(stream, slots.yielded())
        slots.in_use[stream] -= 1
        new = None
        try:
            if replace:
                new = self._open_next()
        finally:
            iters = slots.iters
            old = iters[s]
            with self.lock:
                slots.retired_total += got
                if self.counting:
                    self.add_retirement(stream, got, reason)
                if new is None:
                    slots.remove(s)
                    self.flag = True
                    self.picks.clear()
                else:
                    new_stream, it, lifetime = new
                    streams[s] = new_stream
                    iters[s] = it
                    slots.nexts[s] = it.__next__
                    life[s] = rem[s] = lifetime
            del old  # dropping the last reference finalises the iterator (closing its files)
        if self.mux.on_event is not None:
            self.mux._emit("retire", stream, s, reason, self.clock, self.yielded(), got)
            if new is not None:
                self._announce(new[0], s)

    def fail(self, s, exc):
        stream = self.slots.stream[s]
        try:
            self.mux._stream_failed(stream, exc)
        except BaseException:
            self.retire(s, "error", replace=False)
            raise
        self.retire(s, "error")

    # -- live changes ------------------------------------------------------
    def apply_changes(self):
        self.flag = False
        mux = self.mux
        slots = self.slots
        if mux.weights_version != self.chooser.weights_version:
            self.chooser.use_weights()
        k = mux._n_active
        if k != slots.k:
            slots.k = k
            slots.lifetimes = []
            current = len(slots)
            if current > k:
                surplus = self.rng.choice(current, size=current - k, replace=False)
                for s in sorted(surplus.tolist(), reverse=True):
                    self.retire(s, "k_lowered", replace=False)
            else:
                for _ in range(k - current):
                    if not self._add_slot():
                        break
        if mux._rate != slots.rate:
            slots.rate = mux._rate
            slots.lifetimes = []
            fresh = [slots.next_lifetime() for _ in slots.nexts]
            with self.lock:
                for s, remaining in enumerate(fresh):
                    slots.life[s] += remaining - slots.rem[s]
                    slots.rem[s] = remaining

    # -- state ------------------------------------------------------------------
    def state_dict(self, approximate=False):
        if not self.started or self.finished:
            return {"max_iter": self.max_iter, "started": self.started, "finished": self.finished}
        picks = None
        if self.picks:
            position = self.slots.yielded() - self.block_start + self.misses
            if position < len(self.picks):
                picks = {
                    "rng": plain(self.block_rng),
                    "size": len(self.picks),
                    "slots": self.block_slots,
                    "start": self.block_start,
                    "misses": self.misses,
                }
        return {
            "max_iter": self.max_iter,
            "started": True,
            "finished": False,
            "rng": rng_state(self.rng),
            "flag": self.flag,
            "picks": picks,
            "chooser": self.chooser.state_dict(),
            "slots": self.slots.state_dict(self.mux.streamers, approximate),
        }

    def _load_state_dict(self, state):
        self.chooser.load_state_dict(state["chooser"])
        self.slots.load_state_dict(state["slots"], self.mux.streamers)
        self.flag = bool(state["flag"])
        picks = state["picks"]
        if picks is not None:
            set_rng_state(self.rng, picks["rng"])
            self.block_rng = self.rng.bit_generator.state
            self.block_slots = int(picks["slots"])
            self.picks = self.rng.integers(0, self.block_slots, size=int(picks["size"])).tolist()
            self.block_start = int(picks["start"])
            self.misses = int(picks["misses"])
        set_rng_state(self.rng, state["rng"])


def _close(it):
    close = getattr(it, "close", None)
    if close is not None:
        close()
