"""PyTorch: a mux as an ``IterableDataset`` that each DataLoader worker and each rank streams a shard of.

Imported only when used (``import muxlab.torch``); torch is the optional
extra ``pip install 'muxlab[torch]'``. muxlab builds no cluster: PyTorch's
DataLoader starts the workers and ``torch.distributed`` (torchrun, Ray
Train, ...) the ranks; this module makes each of them stream its own share,
reproducibly.
"""

import warnings

import torch.distributed
import torch.utils.data

from . import shards
from .errors import ParameterError, ParameterTypeError
from .state import StateMismatchError
from .validation import check_int, short_repr

#: The tag of a dataset state (the mux pass inside it carries muxlab's own version checks).
STATE_FORMAT = "muxlab.torch.MuxIterableDataset"


class MuxIterableDataset(torch.utils.data.IterableDataset):
    """Stream a mux through a DataLoader: each worker of each rank streams only its shard.

    Parameters
    ----------
    mux_or_factory : mux or callable
        A StochasticMux, Mux, ShuffledMux, RoundRobinMux or ChainMux, or a
        function of no arguments returning one (called anew in each worker
        and epoch; use it when the mux holds something that should be made
        in the worker, or with a ``spawn`` DataLoader before muxes pickle).
    rank, world_size : int, optional
        This process's rank and the number of ranks. By default those of
        ``torch.distributed`` when the dataset is made (rank 0 of 1 when no
        process group is initialised). They are read here, in the training
        process, because a DataLoader worker does not see the process group.

    Notes
    -----
    **Shards.** Streams are split first by rank (rank ``r`` holds streams
    ``r, r + world_size, ...``), then among the rank's DataLoader workers in
    the same way. Each shard is a mux of the same class and configuration
    over its streams, with ``k`` split in proportion to the streams it holds
    (at least 1 per shard with streams), and its own seed derived from the
    mux's ``random_state`` and ``(epoch, rank, worker)`` through
    ``numpy.random.SeedSequence``. With an int ``random_state`` the whole run
    repeats; :meth:`set_epoch` changes every shard's sequence, reproducibly.
    Over an epoch of an ``exhaustive`` mux with ``lam=None`` the shards
    together yield every item exactly once.

    **Fewer streams than shards.** With fewer streams than
    ``world_size x num_workers``, the shards that get no stream yield
    nothing (and a warning says so, at construction for ranks, in the worker
    for workers): no item is duplicated, but only as many workers as there
    are streams do any work. Split the data into more streams, or use fewer
    workers.

    **Checkpoints.** :meth:`state_dict` and :meth:`load_state_dict` make the
    dataset *stateful* in the sense of torchdata's ``StatefulDataLoader``,
    which calls them inside each worker: ``loader.state_dict()`` then holds,
    per worker, where that worker's shard stood when it produced the last
    batch the training loop received (a muxlab pass state, JSON-serialisable,
    with the epoch, rank and worker), and a new ``StatefulDataLoader`` given
    it through ``load_state_dict`` continues every worker exactly where it
    stood. Resuming needs the same mux (an int or ``SeedSequence``
    ``random_state``: a ``None`` seed cannot be built again), the same rank,
    ``world_size`` and ``num_workers``; a state taken in another epoch
    continues that epoch. Without a DataLoader (or with ``num_workers=0``)
    the same two methods checkpoint the pass this process is running.

    Examples
    --------
    >>> import torch.utils.data
    >>> from muxlab import Mux, Streamer
    >>> mux = Mux([Streamer([(i, j) for j in range(3)]) for i in range(4)], k=2, lam=None,
    ...           mode='exhaustive', random_state=0)
    >>> ds = MuxIterableDataset(mux, rank=0, world_size=1)
    >>> sorted(ds) == sorted((i, j) for i in range(4) for j in range(3))
    True
    >>> half = MuxIterableDataset(mux, rank=1, world_size=2)
    >>> sorted({i for i, _ in half})
    [1, 3]
    """

    def __init__(self, mux_or_factory, rank=None, world_size=None):
        super().__init__()
        owner = "MuxIterableDataset"
        if shards.is_shardable(mux_or_factory):
            self.mux, self.factory = mux_or_factory, None
        elif callable(mux_or_factory):
            self.mux, self.factory = None, mux_or_factory
        else:
            raise ParameterTypeError(
                f"{owner}: mux_or_factory={short_repr(mux_or_factory)} ({type(mux_or_factory).__name__}) is "
                f"neither a mux (StochasticMux, Mux, ShuffledMux, RoundRobinMux, ChainMux) nor a function "
                f"returning one"
            )
        dist = torch.distributed.is_available() and torch.distributed.is_initialized()
        if world_size is None:
            world_size = torch.distributed.get_world_size() if dist else 1
        if rank is None:
            rank = torch.distributed.get_rank() if dist else 0
        self.world_size = check_int(owner, "world_size", world_size, minimum=1)
        self.rank = check_int(owner, "rank", rank, minimum=0)
        if self.rank >= self.world_size:
            raise ParameterError(f"{owner}: rank={self.rank} is not below world_size={self.world_size}")
        self.epoch = 0
        self._current = None  # (worker, num_workers, epoch, iterator) of the pass this process runs
        self._resume = None  # a state load_state_dict() gave, for the next pass in this process
        if self.mux is not None and self.mux.n_streams < self.world_size:
            warnings.warn(_few_streams(self.mux.n_streams, f"world_size={self.world_size} ranks"), stacklevel=2)

    def set_epoch(self, epoch):
        """Set the epoch: each epoch's shards draw from seeds derived from it (call before iterating)."""
        self.epoch = check_int("MuxIterableDataset.set_epoch", "epoch", epoch, minimum=0)

    def shard(self, worker=0, num_workers=1):
        """Return the mux worker ``worker`` of ``num_workers`` of this rank streams (None if it has no stream)."""
        return self._shard(worker, num_workers, self.epoch)

    def _shard(self, worker, num_workers, epoch):
        mux = self.mux if self.factory is None else self._made()
        seed = shards.fixed_seed(mux.random_state)
        part = shards.shard(mux, self.rank, self.world_size, seed=None)
        if part is None:
            return None
        return shards.shard(part, worker, num_workers, seed=shards.derive_seed(seed, epoch, self.rank, worker))

    def _made(self):
        mux = self.factory()
        if not shards.is_shardable(mux):
            raise ParameterTypeError(
                f"MuxIterableDataset: the factory {short_repr(self.factory)} returned {short_repr(mux)} "
                f"({type(mux).__name__}); expected a StochasticMux, Mux, ShuffledMux, RoundRobinMux or ChainMux"
            )
        return mux

    def __iter__(self):
        worker, num_workers = _this_worker()
        state, self._resume = self._resume, None
        epoch = self.epoch
        if state is not None:
            self._check_place(state, worker, num_workers)
            epoch = self.epoch = state["epoch"]
        part = self._shard(worker, num_workers, epoch)
        if part is None:
            n = (self.mux if self.factory is None else self._made()).n_streams
            warnings.warn(
                _few_streams(n, f"{self.world_size} ranks x {num_workers} workers")
                + f" (this is rank {self.rank}, worker {worker})",
                stacklevel=2,
            )
            it = iter(())
        elif state is not None and state["pass"] is not None:
            it = part.iterate(state=state["pass"])
        else:
            it = part.iterate()
        self._current = (worker, num_workers, epoch, it)
        return it

    # -- checkpoints ----------------------------------------------------------------
    def state_dict(self):
        """Where the pass this process runs stands: plain JSON-serialisable data for :meth:`load_state_dict`.

        In a DataLoader worker this is that worker's shard (torchdata's
        ``StatefulDataLoader`` calls it there after each batch); before any
        pass has started, a state that starts the epoch afresh.
        """
        if self._current is None:
            worker, num_workers = _this_worker()
            epoch, it = self.epoch, None
        else:
            worker, num_workers, epoch, it = self._current
        pass_state = it.state_dict() if hasattr(it, "state_dict") else None
        return {
            "format": STATE_FORMAT,
            "rank": self.rank,
            "world_size": self.world_size,
            "worker": worker,
            "num_workers": num_workers,
            "epoch": epoch,
            "pass": pass_state,
        }

    def load_state_dict(self, state):
        """Make the next pass in this process (this worker's next ``iter``) continue the one ``state`` describes.

        Raises :class:`muxlab.StateMismatchError` if ``state`` is not such a
        state, or was taken on another rank or with another ``world_size``
        (here) or on another worker or ``num_workers`` (when the pass starts).
        """
        owner = "MuxIterableDataset.load_state_dict"
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise StateMismatchError(
                f"{owner}: state={short_repr(state)} is not a MuxIterableDataset state; expected the dict "
                f"MuxIterableDataset.state_dict() returned (per worker, inside a StatefulDataLoader's state)"
            )
        for key in ("rank", "world_size"):
            if state[key] != getattr(self, key):
                raise StateMismatchError(
                    f"{owner}: the state was taken with {key}={state[key]}; this dataset has "
                    f"{key}={getattr(self, key)}; resume each rank from its own state, with the same world_size"
                )
        self._resume = state

    def _check_place(self, state, worker, num_workers):
        for key, value in (("num_workers", num_workers), ("worker", worker)):
            if state[key] != value:
                raise StateMismatchError(
                    f"MuxIterableDataset: the state was taken with {key}={state[key]}; this pass runs with "
                    f"{key}={value}; resume with the same num_workers (each worker continues its own shard)"
                )

    def __getstate__(self):
        # The running pass stays in this process; a copy sent to a worker starts its own.
        return self.__dict__ | {"_current": None}

    def __repr__(self):
        source = self.mux if self.factory is None else self.factory
        return f"MuxIterableDataset({source!r}, rank={self.rank}, world_size={self.world_size}, epoch={self.epoch})"


def _this_worker():
    """(worker id, number of workers) of this process: (0, 1) outside a DataLoader worker."""
    info = torch.utils.data.get_worker_info()
    return (0, 1) if info is None else (info.id, info.num_workers)


def _few_streams(n, shards_text):
    return (
        f"MuxIterableDataset: {n} streams for {shards_text}; shards without a stream yield nothing "
        f"(no item is duplicated, but fewer processes do any work): use more streams or fewer workers"
    )


__all__ = ["MuxIterableDataset"]
