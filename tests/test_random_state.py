"""One reading of ``random_state``: a mux's passes and a loader's activations get the same behaviour from it."""

import itertools
import re

import numpy as np
import pytest

import muxlab
from muxlab import Streamer, fixtures
from muxlab.fixtures import PACKAGED_TINY as TINY
from muxlab.loaders import sample_npz_copy
from muxlab.random_state import RandomSource, seed_sequence

NPZ = fixtures.item_paths(TINY, fixtures.load_manifest(TINY)["items"][0])["npz"]


def labels(n):
    while True:
        yield n


def mux_uses(random_state):
    """Two passes of one mux over endless streams: the labels it yields."""
    mux = muxlab.Mux([Streamer(labels, i) for i in range(8)], k=2, lam=3, random_state=random_state)
    return [list(mux(max_iter=60)) for _ in range(2)]


def loader_uses(random_state):
    """Two activations of one loader: the row offsets of five windows of each."""
    return [[int(w["Y"][0]) for w in itertools.islice(sample_npz_copy(NPZ, 4, random_state), 5)] for _ in range(2)]


KINDS = {
    "int": (lambda: 5, True),
    "SeedSequence": (lambda: np.random.SeedSequence(5), False),
    "Generator": (lambda: np.random.default_rng(5), False),
    "RandomState": (lambda: np.random.RandomState(5), False),
    "None": (lambda: None, False),
}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("uses", [mux_uses, loader_uses], ids=["mux passes", "loader activations"])
def test_each_kind_of_random_state_repeats_or_not_the_same_way_in_a_mux_and_a_loader(kind, uses):
    make, repeats = KINDS[kind]
    first, second = uses(make())
    assert (first == second) is repeats
    if kind != "None":  # a seeded argument: a new, equal argument gives the same uses again, in any run
        assert uses(make()) == [first, second]


def test_a_seed_sequence_spawns_the_same_children_for_a_mux_and_a_loader():
    from_mux = RandomSource(np.random.SeedSequence(11), owner="Mux").for_pass().integers(10**9, size=4)
    from_loader_seq = np.random.SeedSequence(11)
    list(itertools.islice(sample_npz_copy(NPZ, 4, from_loader_seq), 1))
    assert from_loader_seq.n_children_spawned == 1  # the loader's activation took the first child, as a pass does
    first_child = np.random.default_rng(np.random.SeedSequence(11).spawn(1)[0]).integers(10**9, size=4)
    assert from_mux.tolist() == first_child.tolist()


@pytest.mark.parametrize(
    "bad, error, message",
    [(-1, muxlab.ParameterError, "random_state=-1 is negative"),
     (True, muxlab.ParameterTypeError, "random_state=True (bool) is not accepted"),
     ("7", muxlab.ParameterTypeError, "random_state='7' (str) is not accepted")],
)
def test_a_bad_random_state_gets_the_same_message_from_a_mux_a_loader_and_streams(bad, error, message):
    with pytest.raises(error, match=re.escape(message)):
        muxlab.Mux([Streamer(labels, 0)], k=1, lam=2, random_state=bad)
    with pytest.raises(error, match=re.escape(message)):
        next(sample_npz_copy(NPZ, 4, bad))
    with pytest.raises(error, match=re.escape(message)):
        seed_sequence(bad, owner="streams")
