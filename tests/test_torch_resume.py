"""torchdata's StatefulDataLoader checkpoints a MuxIterableDataset per worker and resumes every worker exactly."""

import json
import pickle

import pytest
import torch.utils.data
from streams import finite_streams
from torchdata.stateful_dataloader import StatefulDataLoader

import muxlab
from muxlab import Mux
from muxlab.torch import MuxIterableDataset

LENGTHS = [5, 9, 1, 7, 3, 8, 2, 11, 6]
ALL = sorted((i, j) for i, n in enumerate(LENGTHS) for j in range(n))
BATCH = 4

# torchdata 0.11 calls a torch function that torch 2.13 deprecates; nothing of muxlab.
pytestmark = pytest.mark.filterwarnings("ignore:.set_vital. is deprecated:UserWarning")


def dataset(epoch=None):
    """An exhaustive mux over finite streams: over an epoch the workers together yield every item once."""
    ds = MuxIterableDataset(Mux(finite_streams(LENGTHS), k=4, lam=None, mode="exhaustive", random_state=3),
                            rank=0, world_size=1)
    if epoch is not None:
        ds.set_epoch(epoch)
    return ds


def loader(ds, num_workers=2):
    # timeout: a worker that hangs fails the test instead of blocking it
    return StatefulDataLoader(ds, batch_size=BATCH, num_workers=num_workers, timeout=60 if num_workers else 0)


def as_pairs(batch):
    first, second = batch
    return [(int(a), int(b)) for a, b in zip(first, second)]


def uninterrupted(epoch=None, num_workers=2):
    return [as_pairs(b) for b in loader(dataset(epoch), num_workers)]


def stop_and_resume(m, epoch=None, num_workers=2):
    """The first ``m`` batches, the loader's state after them, and the batches a fresh loader resumes with."""
    first_loader = loader(dataset(epoch), num_workers)
    it = iter(first_loader)
    first = [as_pairs(next(it)) for _ in range(m)]
    state = pickle.loads(pickle.dumps(first_loader.state_dict()))  # what a checkpoint file holds
    del it, first_loader  # the workers of the first run end here
    again = loader(dataset(epoch), num_workers)
    again.load_state_dict(state)
    return first, state, [as_pairs(b) for b in again]


def flat(batches):
    return [x for b in batches for x in b]


def worker_states(state):
    return [w["dataset_state"] for w in state["_snapshot"]["_worker_snapshots"].values()]


@pytest.mark.timeout(240)
def test_two_workers_resume_exactly_from_a_stateful_dataloader_checkpoint():
    reference = uninterrupted()
    assert sorted(flat(reference)) == ALL
    n = len(reference)
    for m in (1, n // 2, n - 1):
        first, state, rest = stop_and_resume(m)
        assert first == reference[:m]
        # in order: the loader takes batches from its workers in turn, and each worker's shard continues exactly
        assert first + rest == reference, f"resumed after {m} batches of {n}"
        assert sorted(flat(first + rest)) == ALL
        # the checkpoint holds each worker's own pass state (plain JSON), not a count to fast-forward by
        per_worker = worker_states(state)
        assert [w["worker"] for w in per_worker] == [0, 1]
        assert all(w["num_workers"] == 2 for w in per_worker)
        # batches come from the workers in turn: after m batches, worker w has delivered one if w < m
        assert [w["pass"]["pass"]["started"] for w in per_worker] == [m > 0, m > 1]
        json.dumps(per_worker)


@pytest.mark.timeout(240)
def test_set_epoch_resumes_the_epoch_the_checkpoint_was_taken_in():
    epoch0, epoch1 = uninterrupted(), uninterrupted(epoch=1)
    assert epoch0 != epoch1 and sorted(flat(epoch1)) == ALL
    first, state, rest = stop_and_resume(5, epoch=1)
    assert first + rest == epoch1
    assert {w["epoch"] for w in worker_states(state)} == {1}
    # a dataset left at epoch 0 still continues the epoch the state was taken in
    again = loader(dataset(), 2)
    again.load_state_dict(state)
    assert first + [as_pairs(b) for b in again] == epoch1


@pytest.mark.timeout(120)
def test_a_single_process_loader_resumes_exactly():
    reference = uninterrupted(num_workers=0)
    first, _, rest = stop_and_resume(4, num_workers=0)
    assert first + rest == reference
    assert sorted(flat(reference)) == ALL


@pytest.mark.timeout(60)
def test_the_dataset_state_without_a_loader_and_its_checks():
    ds = dataset()
    it = iter(ds)
    head = [next(it) for _ in range(10)]
    state = json.loads(json.dumps(ds.state_dict()))
    assert (state["worker"], state["num_workers"], state["rank"], state["epoch"]) == (0, 1, 0, 0)
    tail = list(it)
    again = dataset()
    again.load_state_dict(state)
    assert list(again) == tail
    assert sorted(head + tail) == ALL
    assert sorted(again) == ALL  # the state is used once: the next pass is a new epoch
    with pytest.raises(muxlab.StateMismatchError, match="not a MuxIterableDataset state"):
        dataset().load_state_dict({"pass": None})
    with pytest.raises(muxlab.StateMismatchError, match="rank=0; this dataset has rank=1"):
        MuxIterableDataset(dataset().mux, rank=1, world_size=2).load_state_dict(dict(state, world_size=2))
    wrong = dataset()
    wrong.load_state_dict(dict(state, num_workers=2))
    with pytest.raises(muxlab.StateMismatchError, match="num_workers=2; this pass runs with num_workers=1"):
        iter(wrong)


@pytest.mark.timeout(60)
def test_a_dataset_that_ran_a_pass_still_pickles_for_spawned_workers():
    ds = dataset()
    next(iter(ds))
    assert ds.state_dict()["pass"]["pass"]["started"]
    copy = pickle.loads(pickle.dumps(ds))  # the pass stays here; the copy starts its own
    assert copy.state_dict()["pass"] is None
    assert sorted(copy) == ALL
