"""Tests of muxlab.loaders on the tiny fixtures and on broken files built in tmp_path."""

import hashlib
import inspect
import io
import itertools
import os
import shutil
import tempfile
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import muxlab
from muxlab import Knob, Streamer, fixtures, loaders
from muxlab.errors import DataError, ParameterError, ParameterTypeError
from muxlab.fixtures import PACKAGED_TINY as TINY
from muxlab.fixtures import ROW_BASE
from muxlab.loaders import (
    STRATEGIES,
    check_npy,
    check_npz,
    sample_npy_mmap,
    sample_npy_mmap_readonly,
    sample_npz,
    sample_npz_cached,
    sample_npz_copy,
    streams,
)

NAMES = list(STRATEGIES)
NPZ_FUNCS = [sample_npz, sample_npz_copy, sample_npz_cached]
NPY_FUNCS = [sample_npy_mmap, sample_npy_mmap_readonly]
ITEMS = fixtures.load_manifest(TINY)["items"]
PATHS = [fixtures.item_paths(TINY, item) for item in ITEMS]
ROWS = [item["rows"] for item in ITEMS]
SHORT = ROWS.index(40)  # item001: 40 rows
SMALL = ROWS.index(64)  # item004: 64 rows


def take(iterable, k):
    return list(itertools.islice(iterable, k))


def open_loader(name, index, n, random_state=0):
    """An activation of strategy ``name`` on tiny item ``index``."""
    return iter(STRATEGIES[name](PATHS[index], n, random_state=random_state))


def full_arrays(index):
    return np.load(PATHS[index]["npy_x"]), np.load(PATHS[index]["npy_y"])


def offsets(batches):
    return [int(b["Y"][0]) % ROW_BASE for b in batches]


def tree_digests(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*.np*")}


# --------------------------------------------------------------------------- windows


def test_loaders_are_generator_functions_in_the_registry():
    assert set(NAMES) == {"npz", "npz_copy", "npy_mmap", "npz_cached", "npy_mmap_readonly"}
    for strategy in STRATEGIES.values():
        assert inspect.isgeneratorfunction(strategy.function)
    assert STRATEGIES["npz"].function is sample_npz
    assert STRATEGIES["npy_mmap"].files == ("npy_x", "npy_y")


@pytest.mark.parametrize("name", NAMES)
def test_windows_are_contiguous_aligned_rows_of_their_item(name):
    made = streams(name, TINY, 16, random_state=1)
    assert len(made) == len(ITEMS)
    assert all(isinstance(s, Streamer) for s in made)
    for index, stream in enumerate(made):
        X_full, _ = full_arrays(index)
        for batch in take(stream, 20):
            X, Y = batch["X"], batch["Y"]
            assert set(batch) == {"X", "Y"}
            assert X.shape == (16, 8) and X.dtype == np.float32
            assert Y.shape == (16,) and Y.dtype == np.int64
            assert np.all(Y // ROW_BASE == index)  # manifest order
            rows = Y % ROW_BASE
            np.testing.assert_array_equal(np.diff(rows), 1)  # contiguous
            np.testing.assert_array_equal(X, X_full[rows])  # X and Y aligned


@pytest.mark.parametrize("name", NAMES)
def test_windows_reach_the_first_and_last_row(name):
    # 64 rows, n=16: 49 possible offsets, all of them seen in 1000 draws
    # (a given offset is missed with probability (48/49)**1000 < 1e-8)
    seen = set(offsets(take(open_loader(name, SMALL, 16), 1000)))
    assert seen == set(range(64 - 16 + 1))


@pytest.mark.parametrize("name", NAMES)
def test_a_file_of_exactly_n_rows_yields_the_whole_file(name):
    _, Y_full = full_arrays(SHORT)
    for batch in take(open_loader(name, SHORT, 40), 5):
        np.testing.assert_array_equal(batch["Y"], Y_full)


def test_offsets_are_uniform():
    # 49 offsets, 9800 draws: chi-square with 48 degrees of freedom has mean 48
    # and standard deviation sqrt(96) ~ 9.8; allow 5 standard deviations.
    draws, span = 9800, 49
    counts = np.bincount(offsets(take(open_loader("npy_mmap", SMALL, 16), draws)), minlength=span)
    expected = draws / span
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 48 + 5 * np.sqrt(2 * 48)


@pytest.mark.parametrize("name", NAMES)
def test_a_knob_changes_the_next_window_of_every_active_stream(name):
    n = Knob(16)
    active = [iter(s) for s in streams(name, TINY, n, random_state=2)]
    assert {len(next(it)["X"]) for it in active} == {16}
    n.value = 5
    assert {len(next(it)["X"]) for it in active} == {5}
    assert {len(next(it)["Y"]) for it in active} == {5}
    n.value = 40  # the short item still fits exactly
    batches = [next(it) for it in active]
    assert {len(b["X"]) for b in batches} == {40}
    for batch in batches:
        np.testing.assert_array_equal(np.diff(batch["Y"]), 1)


@pytest.mark.parametrize("name", NAMES)
def test_a_knob_larger_than_a_file_fails_at_that_window(name):
    n = Knob(16)
    it = open_loader(name, SHORT, n)
    next(it)
    n.value = 41
    with pytest.raises(DataError) as err:
        next(it)
    assert "item001" in str(err.value)
    assert "'X' has 40 rows, fewer than n=41" in str(err.value)


@pytest.mark.parametrize("name", NAMES)
def test_an_invalid_knob_value_fails_at_the_next_window(name):
    n = Knob(16)
    it = open_loader(name, SHORT, n)
    next(it)
    n.value = 0
    with pytest.raises(ParameterError, match="n=0 is too small"):
        next(it)


def test_a_knob_change_after_many_windows_applies_at_once():
    n = Knob(3)
    it = open_loader("npy_mmap", 0, n)
    take(it, loaders.OFFSET_BLOCK + 7)  # into the second block of offsets
    n.value = 9
    assert len(next(it)["X"]) == 9


# --------------------------------------------------------------------------- randomness


@pytest.mark.parametrize("name", NAMES)
def test_the_same_seed_gives_the_same_windows(name):
    def run(seed):
        return [offsets(take(s, 10)) for s in streams(name, TINY, 16, random_state=seed)]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_each_activation_of_a_seeded_stream_differs_but_the_program_repeats():
    def program():
        made = streams("npy_mmap", TINY, 8, random_state=np.random.SeedSequence(3))
        return [[offsets(take(s, 6)) for _ in range(3)] for s in made]

    first = program()
    assert first == program()
    for activations in first:
        assert len({tuple(a) for a in activations}) == 3


def test_random_state_kinds_for_one_generator():
    x, y = PATHS[0]["npy_x"], PATHS[0]["npy_y"]

    def windows(random_state):
        return offsets(take(sample_npy_mmap(x, y, 4, random_state=random_state), 12))

    assert windows(5) == windows(5)  # an int: every activation starts again from the seed
    rng = np.random.default_rng(5)
    assert windows(rng) != windows(rng)  # a Generator keeps drawing
    seq = np.random.SeedSequence(5)
    assert windows(seq) != windows(seq)  # a SeedSequence spawns a child per activation
    assert windows(np.random.SeedSequence(5)) == windows(np.random.SeedSequence(5))
    assert windows(None) != windows(None)
    assert len(windows(np.random.RandomState(0))) == 12
    with pytest.raises(ParameterTypeError, match="random_state='seed'"):
        next(sample_npy_mmap(x, y, 4, random_state="seed"))
    with pytest.raises(ParameterError, match="random_state=-1 is negative"):
        next(sample_npy_mmap(x, y, 4, random_state=-1))


def test_streams_accepts_the_random_state_kinds():
    for random_state in (None, 0, np.random.SeedSequence(0), np.random.default_rng(0), np.random.RandomState(0)):
        assert len(take(streams("npz_cached", TINY, 4, random_state=random_state)[0], 2)) == 2
    with pytest.raises(ParameterTypeError, match="random_state=1.5"):
        streams("npz", TINY, 4, random_state=1.5)


def test_numpy_global_state_is_not_touched():
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    for name in NAMES:
        take(open_loader(name, 0, 8, random_state=None), 300)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


# --------------------------------------------------------------------------- memory and files


def test_what_a_held_batch_keeps_alive():
    npz, x, y = PATHS[0]["npz"], PATHS[0]["npy_x"], PATHS[0]["npy_y"]
    member_bytes = 300 * 8 * 4

    viewed = next(sample_npz(npz, 16))["X"]
    assert viewed.base is not None and viewed.base.nbytes == member_bytes  # pins the whole member

    for func in (sample_npz_copy, sample_npz_cached):
        copied = next(func(npz, 16))["X"]
        assert copied.flags.owndata and copied.base is None  # pins its rows only

    mapped = next(sample_npy_mmap(x, y, 16))["X"]
    base = mapped
    while not isinstance(base, np.memmap):
        base = base.base
    assert base.mode == "c"


def test_npz_copy_keeps_no_full_array_between_windows():
    gen = sample_npz_copy(PATHS[0]["npz"], 16, random_state=0)
    batch = next(gen)
    held = [v for v in gen.gi_frame.f_locals.values() if isinstance(v, np.ndarray) and v.size > batch["X"].size]
    assert held == []


def test_writing_into_an_npy_mmap_batch_never_changes_the_file(tmp_path):
    x = shutil.copy(PATHS[SHORT]["npy_x"], tmp_path / "a.X.npy")
    y = shutil.copy(PATHS[SHORT]["npy_y"], tmp_path / "a.Y.npy")
    before = (open(x, "rb").read(), open(y, "rb").read())
    batch = next(sample_npy_mmap(x, y, 40))
    batch["X"][:] = 123.0
    batch["Y"][:] = -1
    assert batch["X"][0, 0] == 123.0
    del batch
    assert (open(x, "rb").read(), open(y, "rb").read()) == before
    fresh = next(sample_npy_mmap(x, y, 40))
    assert fresh["Y"][0] == SHORT * ROW_BASE

    readonly = next(sample_npy_mmap_readonly(x, y, 40))
    with pytest.raises(ValueError, match="read-only"):
        readonly["X"][0, 0] = 1.0


def test_no_fixture_byte_changes_when_every_strategy_runs():
    before = tree_digests(TINY)
    assert len(before) == 3 * len(ITEMS)
    for name in NAMES:
        for stream in streams(name, TINY, 8, random_state=4):
            for batch in take(stream, 30):
                if batch["X"].flags.writeable:
                    batch["X"][:] = 0.0  # a careless consumer
                    batch["Y"][:] = 0
    assert tree_digests(TINY) == before
    fixtures.verify(TINY)


# --------------------------------------------------------------------------- bad arguments and bad files


def npy_bytes(array):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=True)
    return buf.getvalue()


def write_npz(path, **members):
    """Write an npz whose members are given as arrays or raw bytes."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, value in members.items():
            zf.writestr(f"{name}.npy", value if isinstance(value, bytes) else npy_bytes(value))
    return str(path)


def write_npy(path, array):
    with open(path, "wb") as f:
        f.write(npy_bytes(array))
    return str(path)


def rows(k, features=3):
    return np.zeros((k, features), np.float32), np.arange(k)


def first_error(gen):
    with pytest.raises((DataError, ParameterError, ParameterTypeError)) as err:
        next(gen)
    return err


def test_the_fewer_rows_message_names_the_file_and_n(tmp_path):
    X, Y = rows(10)
    npz = write_npz(tmp_path / "a.npz", X=X, Y=Y)
    expected = f"sample_npz({npz!r}, n=16): 'X' has 10 rows, fewer than n=16"
    gen = sample_npz(npz, 16)  # nothing happens before the first next()
    assert str(first_error(gen).value) == expected
    with pytest.raises(DataError) as err:
        check_npz(npz, 16)
    assert str(err.value) == expected
    x, y = write_npy(tmp_path / "a.X.npy", X), write_npy(tmp_path / "a.Y.npy", Y)
    assert str(first_error(sample_npy_mmap(x, y, 11)).value) == (
        f"sample_npy_mmap({x!r}, {y!r}, n=11): 'X' has 10 rows, fewer than n=11"
    )
    assert check_npz(npz, 10) == check_npy(x, y, 10) == 10


def bad_npz(tmp_path, case):
    """Return (path, expected message part) for a broken npz archive."""
    path = tmp_path / f"{case}.npz"
    X, Y = rows(50)
    if case == "missing":
        return str(path), "not found"
    if case == "no_x":
        return write_npz(path, Y=Y), "no array 'X' in the archive (it holds 'Y.npy')"
    if case == "no_y":
        return write_npz(path, X=X), "no array 'Y'"
    if case == "mismatch":
        return write_npz(path, X=X, Y=Y[:49]), "'X' has 50 rows but 'Y' has 49"
    if case == "longer_y":
        return write_npz(path, X=X, Y=np.concatenate([Y, Y[:1]])), "'X' has 50 rows but 'Y' has 51"
    if case == "object":
        return write_npz(path, X=X.astype(object), Y=Y), "dtype object"
    if case == "truncated_member":
        return write_npz(path, X=npy_bytes(X)[:-10], Y=Y), "'X' is truncated"
    if case == "not_npy_member":
        return write_npz(path, X=b"just some bytes, no magic", Y=Y), "'X' is not a readable .npy array"
    if case == "zero_d":
        return write_npz(path, X=np.float32(1.0), Y=Y), "0-d array"
    if case == "corrupt_zip":
        good = write_npz(tmp_path / "good.npz", X=X, Y=Y)
        path.write_bytes(open(good, "rb").read()[:300])
        return str(path), "not a readable zip archive"
    if case == "not_zip":
        path.write_bytes(b"hello" * 100)
        return str(path), "not a readable zip archive"
    if case == "folder":
        path.mkdir()
        return str(path), "is not a file"
    raise AssertionError(case)


NPZ_CASES = [
    "missing",
    "no_x",
    "no_y",
    "mismatch",
    "longer_y",
    "object",
    "truncated_member",
    "not_npy_member",
    "zero_d",
    "corrupt_zip",
    "not_zip",
    "folder",
]


@pytest.mark.parametrize("case", NPZ_CASES)
@pytest.mark.parametrize("func", NPZ_FUNCS, ids=lambda f: f.__name__)
def test_a_bad_npz_is_refused_at_the_first_next(tmp_path, func, case):
    path, part = bad_npz(tmp_path, case)
    err = first_error(func(path, 16))
    assert isinstance(err.value, DataError)
    assert str(err.value).startswith(f"{func.__name__}({path!r}, n=16): ")
    assert part in str(err.value)


def bad_npy(tmp_path, case):
    """Return (x path, y path, expected message part) for a broken pair of npy files."""
    X, Y = rows(50)
    x, y = tmp_path / "a.X.npy", tmp_path / "a.Y.npy"
    if case == "missing_x":
        return str(x), write_npy(y, Y), "not found"
    if case == "missing_y":
        return write_npy(x, X), str(y), "not found"
    if case == "mismatch":
        return write_npy(x, X), write_npy(y, Y[:49]), "'X' has 50 rows but 'Y' has 49"
    if case == "object":
        return write_npy(x, X), write_npy(y, Y.astype(object)), "'Y' has dtype object"
    if case == "truncated":
        write_npy(x, X)
        x.write_bytes(x.read_bytes()[:-1])
        return str(x), write_npy(y, Y), "'X' is truncated: its header promises 600 bytes of data"
    if case == "garbage":
        x.write_bytes(b"\x93NUMPY\x01\x00garbage")
        return str(x), write_npy(y, Y), "'X' is not a readable .npy array"
    if case == "empty":
        x.write_bytes(b"")
        return str(x), write_npy(y, Y), "'X' is not a readable .npy array"
    raise AssertionError(case)


NPY_CASES = ["missing_x", "missing_y", "mismatch", "object", "truncated", "garbage", "empty"]


@pytest.mark.parametrize("case", NPY_CASES)
@pytest.mark.parametrize("func", NPY_FUNCS, ids=lambda f: f.__name__)
def test_a_bad_npy_pair_is_refused_at_the_first_next(tmp_path, func, case):
    x, y, part = bad_npy(tmp_path, case)
    err = first_error(func(x, y, 16))
    assert isinstance(err.value, DataError)
    assert str(err.value).startswith(f"{func.__name__}({x!r}, {y!r}, n=16): ")
    assert part in str(err.value)


def collection_with(tmp_path, index, kind, writer):
    """Copy tiny into tmp_path and replace one file of item ``index`` by ``writer(path)``."""
    root = shutil.copytree(TINY, tmp_path / "tiny")
    path = root / ITEMS[index]["files"][kind]["path"]
    path.unlink()
    writer(path)
    return root, str(path)


@pytest.mark.parametrize("case", ["mismatch", "object", "truncated_member", "corrupt_zip", "no_x"])
def test_streams_refuses_a_bad_npz_with_the_loaders_message(tmp_path, case):
    bad, part = bad_npz(tmp_path, case)
    root, path = collection_with(tmp_path, 2, "npz", lambda p: shutil.copy(bad, p))
    for name in ("npz", "npz_copy", "npz_cached"):
        with pytest.raises(DataError) as err:
            streams(name, root, 16)
        direct = first_error(STRATEGIES[name].function(path, 16)).value
        assert str(err.value) == str(direct)
        assert path in str(err.value) and part in str(err.value)
    # the npy strategies do not read the npz files
    assert len(streams("npy_mmap", root, 16)) == len(ITEMS)


@pytest.mark.parametrize("case", ["missing_x", "mismatch", "truncated", "object"])
def test_streams_refuses_a_bad_npy_pair(tmp_path, case):
    x, y, part = bad_npy(tmp_path, case)
    root = shutil.copytree(TINY, tmp_path / "tiny")
    paths = fixtures.item_paths(root, ITEMS[3])
    for kind, src in (("npy_x", x), ("npy_y", y)):
        os.unlink(paths[kind])
        if os.path.exists(src):
            shutil.copy(src, paths[kind])
    for name in ("npy_mmap", "npy_mmap_readonly"):
        with pytest.raises(DataError, match="item003") as err:
            streams(name, root, 16)
        assert part in str(err.value)
    assert len(streams("npz", root, 16)) == len(ITEMS)


def test_streams_leaves_out_short_items_with_one_warning():
    with pytest.warns(muxlab.DataWarning) as record:
        made = streams("npz", TINY, 100)
    assert len(record) == 1
    message = str(record[0].message)
    assert message.startswith(f"streams('npz', {str(TINY)!r}, n=100): left out 3 of 8 items")
    assert "collection.skipped(100)" in message
    assert len(made) == sum(k >= 100 for k in ROWS)
    skipped = muxlab.Collection.scan(TINY).skipped(100)
    assert [item.rows for item in skipped] == [k for k in ROWS if k < 100]


def test_streams_lists_every_unusable_item(tmp_path):
    root = shutil.copytree(TINY, tmp_path / "tiny")
    for index in (2, 5):
        path = root / ITEMS[index]["files"]["npz"]["path"]
        path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError) as err:
        streams("npz", root, 16)
    message = str(err.value)
    assert message.startswith(f"streams('npz', {str(root)!r}, n=16): 2 of 8 items are not usable:")
    for index in range(len(ROWS)):
        assert (f"item{index:03d}.npz" in message) == (index in (2, 5))


def test_streams_checks_its_arguments(tmp_path):
    with pytest.raises(ParameterError, match="strategy='npy'.*'npz', 'npz_copy', 'npy_mmap'"):
        streams("npy", TINY, 16)
    for n, kind in ((0, ParameterError), (-3, ParameterError), (16.0, ParameterTypeError), ("16", ParameterTypeError),
                    (True, ParameterTypeError), (None, ParameterTypeError), (Knob(0), ParameterError)):
        with pytest.raises(kind, match="n="):
            streams("npz", TINY, n)
    with pytest.raises(DataError, match="fewer than n=301"):
        streams("npy_mmap", TINY, Knob(301))
    with pytest.raises(ParameterTypeError, match="root=3"):
        streams("npz", 3, 16)


def test_streams_names_a_missing_or_empty_folder_and_writes_nothing_into_it(tmp_path):
    with pytest.raises(DataError, match="does not exist") as err:
        streams("npz", tmp_path / "nowhere", 16)
    assert "muxlab fixtures" not in str(err.value)
    with pytest.raises(DataError, match="no .npz or .npy files") as err:
        streams("npz", tmp_path, 16)
    assert "muxlab fixtures" not in str(err.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("func", NPZ_FUNCS + NPY_FUNCS, ids=lambda f: f.__name__)
def test_loaders_check_n(tmp_path, func):
    paths = PATHS[0]
    args = (paths["npz"],) if func in NPZ_FUNCS else (paths["npy_x"], paths["npy_y"])
    with pytest.raises(ParameterError, match=r"n=0 is too small; expected an integer >= 1"):
        next(func(*args, 0))
    with pytest.raises(ParameterTypeError, match=r"n=2.5 is a float"):
        next(func(*args, 2.5))
    with pytest.raises(ParameterTypeError, match="expected a file path"):
        next(func(*[None] * len(args), 4))


class Payload:
    """An object that prints a marker when unpickled: proof that nothing was unpickled."""

    def __reduce__(self):
        return (print, ("MUXLAB-UNPICKLED",))


def test_a_pickled_object_array_is_refused_never_unpickled(tmp_path, capsys):
    X = np.empty((20, 1), dtype=object)
    X[:, 0] = [Payload() for _ in range(20)]
    Y = np.arange(20)
    npz = write_npz(tmp_path / "evil.npz", X=X, Y=Y)
    x, y = write_npy(tmp_path / "evil.X.npy", X), write_npy(tmp_path / "evil.Y.npy", Y)
    # the payload is live: loading it with pickles allowed runs it
    np.load(x, allow_pickle=True)
    assert "MUXLAB-UNPICKLED" in capsys.readouterr().out

    for func in NPZ_FUNCS:
        assert "dtype object" in str(first_error(func(npz, 4)).value)
    for func in NPY_FUNCS:
        assert "dtype object" in str(first_error(func(x, y, 4)).value)
    root, path = collection_with(tmp_path, 0, "npz", lambda p: shutil.copy(npz, p))
    with pytest.raises(DataError, match="refusing to load it"):
        streams("npz", root, 4)
    assert "MUXLAB-UNPICKLED" not in capsys.readouterr().out


def same_length_npy(npy, rows):
    """The .npy bytes of a plain (void) array of ``rows`` rows, exactly as long as ``npy``."""
    for width in range(max(1, (len(npy) - 512) // rows), len(npy) // rows + 1):
        plain = npy_bytes(np.zeros(rows, dtype=f"V{width}"))
        if len(plain) == len(npy):
            return plain
    raise AssertionError("no plain array of that length")  # pragma: no cover


@pytest.mark.parametrize("func", NPZ_FUNCS, ids=lambda f: f.__name__)
def test_an_object_member_behind_a_stale_header_check_is_still_refused_never_unpickled(tmp_path, capsys, func):
    """The second line of defence: reading members with allow_pickle=False.

    The header check refuses object arrays, but it reads headers only when the file changed (its
    path, inode, size and modification time). A file rewritten in place to the same size, with its
    time put back, passes as the file checked before: the read itself must still refuse the member.
    """
    X = np.empty(1, dtype=object)
    for pad in range(64):  # pad the pickle until a plain array of one row has the same length
        X[0] = (Payload(), b"." * pad)
        evil_x = npy_bytes(X)
        try:
            plain_x = same_length_npy(evil_x, 1)
            break
        except AssertionError:
            continue
    Y = np.arange(1)
    npz = tmp_path / "swapped.npz"
    write_npz(npz, X=plain_x, Y=Y)
    before = npz.stat()
    next(func(str(npz), 1))  # checked and read: a plain array
    evil = tmp_path / "evil.npz"
    write_npz(evil, X=evil_x, Y=Y)
    data = evil.read_bytes()
    assert len(data) == before.st_size
    with open(npz, "r+b") as f:  # same inode, same size
        f.write(data)
    os.utime(npz, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = npz.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)

    with pytest.raises(DataError) as err:
        next(func(str(npz), 1))
    assert "swapped.npz" in str(err.value)
    assert "MUXLAB-UNPICKLED" not in capsys.readouterr().out
    np.load(npz, allow_pickle=True)["X"]  # the payload is live: loading it with pickles allowed runs it
    assert "MUXLAB-UNPICKLED" in capsys.readouterr().out


@pytest.mark.parametrize("func", NPZ_FUNCS, ids=lambda f: f.__name__)
def test_a_member_with_a_bad_crc_fails_when_read(tmp_path, func):
    X, Y = rows(5000)  # 60 kB: far more than the chunk a header read pulls in
    npz = tmp_path / "crc.npz"
    write_npz(npz, X=X, Y=Y)
    data = bytearray(npz.read_bytes())
    data[40_000] ^= 0xFF  # inside X's data: headers still read fine
    npz.write_bytes(bytes(data))
    assert check_npz(str(npz), 16) == 5000
    err = first_error(func(str(npz), 16))
    assert isinstance(err.value, DataError)
    assert "reading failed" in str(err.value) and "crc.npz" in str(err.value)


def test_a_rewritten_file_is_checked_again(tmp_path):
    X, Y = rows(50)
    npz = tmp_path / "a.npz"
    write_npz(npz, X=X, Y=Y)
    assert check_npz(str(npz), 16) == 50
    npz.unlink()
    write_npz(npz, X=X[:10], Y=Y[:10])
    with pytest.raises(DataError, match="'X' has 10 rows"):
        check_npz(str(npz), 16)


# --------------------------------------------------------------------------- other layouts, any size


def test_fortran_order_and_format_2_npy_files(tmp_path):
    X = np.asfortranarray(np.arange(60, dtype=np.float32).reshape(20, 3))
    Y = np.arange(20, dtype=np.int32)
    x, y = tmp_path / "f.X.npy", tmp_path / "f.Y.npy"
    with open(x, "wb") as f:
        np.lib.format.write_array(f, X, version=(2, 0))
    np.save(y, Y)
    for func in NPY_FUNCS:
        for batch in take(func(str(x), str(y), 5, random_state=0), 20):
            np.testing.assert_array_equal(batch["X"], X[batch["Y"]])
            assert batch["Y"].dtype == np.int32


@settings(max_examples=40)
@given(total=st.integers(1, 50), data=st.data())
def test_every_window_fits_for_any_rows_and_n(total, data):
    n = data.draw(st.integers(1, total), label="n")
    seed = data.draw(st.integers(0, 2**32), label="seed")
    with tempfile.TemporaryDirectory() as folder:
        x, y = os.path.join(folder, "X.npy"), os.path.join(folder, "Y.npy")
        np.save(x, np.arange(total * 2, dtype=np.float32).reshape(total, 2))
        np.save(y, np.arange(total))
        for batch in take(sample_npy_mmap(x, y, n, random_state=seed), 30):
            Y = batch["Y"]
            assert len(Y) == len(batch["X"]) == n
            assert 0 <= Y[0] and Y[-1] <= total - 1
            np.testing.assert_array_equal(batch["X"][:, 0], 2 * Y)


def test_the_shared_readonly_maps_let_the_least_recently_used_file_go_first(monkeypatch):
    monkeypatch.setattr(loaders, "SHARED_MAPS_MAX", 4)  # two items: the X and Y maps of each

    def window(i):
        p = PATHS[i]
        return next(sample_npy_mmap_readonly(p["npy_x"], p["npy_y"], 8, random_state=0))

    loaders.release_shared_maps()
    try:
        a, b = window(0), window(1)
        assert window(0)["X"].base is a["X"].base  # item 0 is now the most recently used
        c = window(2)  # its two maps take the place of item 1's
        assert window(0)["X"].base is a["X"].base
        assert window(2)["X"].base is c["X"].base and window(2)["Y"].base is c["Y"].base
        again = window(1)
        assert again["X"].base is not b["X"].base and again["Y"].base is not b["Y"].base
        np.testing.assert_array_equal(again["X"], b["X"])
    finally:
        loaders.release_shared_maps()


def test_readonly_maps_are_shared_by_activations_and_bounded(monkeypatch):
    from muxlab import loaders as L

    tiny = TINY
    paths = fixtures.item_paths(tiny, fixtures.load_manifest(tiny)["items"][0])
    L.release_shared_maps()
    a = next(L.sample_npy_mmap_readonly(paths["npy_x"], paths["npy_y"], 8))
    b = next(L.sample_npy_mmap_readonly(paths["npy_x"], paths["npy_y"], 8))
    assert a["X"].base is b["X"].base  # one map serves both activations
    c = next(L.sample_npy_mmap(paths["npy_x"], paths["npy_y"], 8))
    d = next(L.sample_npy_mmap(paths["npy_x"], paths["npy_y"], 8))
    assert c["X"].base is not d["X"].base  # copy-on-write maps are never shared
    monkeypatch.setattr(L, "SHARED_MAPS_MAX", 3)
    for item in fixtures.load_manifest(tiny)["items"]:
        p = fixtures.item_paths(tiny, item)
        next(L.sample_npy_mmap_readonly(p["npy_x"], p["npy_y"], 8))
        assert len(L._SHARED_MAPS) <= 3
    L.release_shared_maps()
    assert not L._SHARED_MAPS
