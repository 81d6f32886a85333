"""muxlab.torch: DataLoader workers and torch.distributed ranks each stream their own shard, exactly once per epoch."""

import json
import socket
import warnings

import numpy as np
import pytest
import torch
import torch.multiprocessing
import torch.utils.data

import muxlab
from muxlab import Mux, RoundRobinMux, Streamer
from muxlab.torch import MuxIterableDataset

import torch_ranks
from streams import endless, finite_streams

LENGTHS = [5, 9, 1, 7, 3, 8, 2]
ALL = sorted((i, j) for i, n in enumerate(LENGTHS) for j in range(n))


def exhaustive(seed=0):
    return Mux(finite_streams(LENGTHS), k=3, lam=None, mode="exhaustive", random_state=seed)


def as_pairs(items):
    return [tuple(int(v) for v in item) for item in items]


@pytest.mark.timeout(120)
def test_an_exhaustive_epoch_over_two_dataloader_workers_yields_every_item_once():
    ds = MuxIterableDataset(exhaustive(), rank=0, world_size=1)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
    items = as_pairs(loader)
    assert sorted(items) == ALL
    # each worker streamed its own streams: DataLoader takes items from workers in turn
    assert len(set(items)) == len(items)


@pytest.mark.timeout(120)
def test_a_factory_works_and_arrays_become_tensors():
    def make():
        return Mux([Streamer([{"X": np.full((2, 3), i, dtype=np.float32)}] * 4) for i in range(4)], k=2, lam=None,
                   mode="exhaustive", random_state=0)

    loader = torch.utils.data.DataLoader(MuxIterableDataset(make, rank=0, world_size=1), batch_size=4, num_workers=2)
    batches = list(loader)
    assert all(isinstance(b["X"], torch.Tensor) and b["X"].shape == (4, 2, 3) for b in batches)
    values = sorted(float(v) for b in batches for v in b["X"][:, 0, 0])
    assert values == sorted([float(i) for i in range(4)] * 4)


@pytest.mark.timeout(60)
def test_ranks_split_streams_then_workers_and_k_is_split_in_proportion():
    mux = Mux([Streamer(endless, i) for i in range(12)], k=6, lam=3, random_state=2)
    ds = MuxIterableDataset(mux, rank=1, world_size=2)
    parts = [ds.shard(w, 3) for w in range(3)]
    streams = [sorted(s.streamers[j].args[0] for j in range(s.n_streams)) for s in parts]
    assert streams == [[1, 7], [3, 9], [5, 11]]
    assert [p.k for p in parts] == [1, 1, 1]  # k=6 over 2 ranks (3 each), then 3 workers
    assert set(ds.shard(0, 1).k for _ in range(1)) == {3}


@pytest.mark.timeout(60)
def test_set_epoch_changes_the_sequence_reproducibly():
    mux = Mux([Streamer(endless, i) for i in range(8)], k=2, lam=2, random_state=4)
    ds = MuxIterableDataset(mux, rank=0, world_size=2)

    def epoch(e):
        ds.set_epoch(e)
        return list(ds.shard(0, 2).iterate(200))

    assert epoch(0) == epoch(0)
    assert epoch(1) == epoch(1)
    assert epoch(0) != epoch(1)
    assert MuxIterableDataset(Mux(mux.streamers, k=2, lam=2, random_state=5), rank=0, world_size=2).shard(0, 2) \
        .iterate(200) is not None


@pytest.mark.timeout(60)
def test_fewer_streams_than_shards_warns_and_duplicates_nothing():
    mux = Mux(finite_streams([3, 4]), k=1, lam=None, mode="exhaustive", random_state=0)
    with pytest.warns(UserWarning, match="2 streams for world_size=3 ranks"):
        idle = MuxIterableDataset(mux, rank=2, world_size=3)
    with pytest.warns(UserWarning, match="yield nothing"):
        assert list(idle) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = [x for r in range(2) for x in MuxIterableDataset(mux, rank=r, world_size=2)]
    assert sorted(got) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (1, 3)]


def test_bad_arguments():
    with pytest.raises(muxlab.ParameterTypeError, match="mux_or_factory=5"):
        MuxIterableDataset(5)
    with pytest.raises(muxlab.ParameterError, match="rank=2 is not below world_size=2"):
        MuxIterableDataset(exhaustive(), rank=2, world_size=2)
    with pytest.raises(muxlab.ParameterTypeError, match="returned"):
        list(MuxIterableDataset(lambda: [1, 2], rank=0, world_size=1))
    assert MuxIterableDataset(RoundRobinMux(finite_streams([1]))).world_size == 1  # no process group: 1 rank


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_ranks_with_two_workers_each_over_gloo_yield_every_item_once(tmp_path):
    torch.multiprocessing.spawn(torch_ranks.run_rank, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True)
    per_rank = json.loads((tmp_path / "items.json").read_text())
    lengths = torch_ranks.LENGTHS
    everything = sorted((i, j) for i, n in enumerate(lengths) for j in range(n))
    assert sorted(tuple(x) for rank in per_rank for x in rank) == everything
    for rank, items in enumerate(per_rank):
        assert {i % 2 for i, _ in items} == {rank}  # rank r holds streams r, r + 2, ...
