"""The shared-memory transport of ``muxlab.background``, in one process: a batch written to a block and read back."""

import os

import numpy as np
import pytest

from muxlab import transport


def round_trip(items):
    """Pack, write, map and read ``items`` as one batch; returns ``(items back, header)``."""
    prefix = f"muxlab-test-{os.getpid()}-"
    pool = transport.BlockPool(prefix, limit=2)
    try:
        packed = []
        for item in items:
            arrays = []
            packed.append((transport.pack(item, arrays), arrays))
        header, arrays, specs, end = transport.plan(packed)
        bid, block, _ = pool.get(end)
        block.write(arrays, specs)
        mapping = transport.Mapping(block.name, block.size)
        try:
            back = transport.items_of(header, mapping.read(end))
        finally:
            mapping.close()
        return back, header
    finally:
        pool.close()
        assert not [n for n in os.listdir(transport.SHM_DIR) if n.startswith(prefix)]


def windows(n, rows=16, seed=0):
    rng = np.random.default_rng(seed)
    return [{"X": rng.random((rows, 8), dtype=np.float32), "Y": rng.integers(0, 9, rows)} for _ in range(n)]


@pytest.mark.timeout(30)
def test_alike_items_travel_as_one_template_and_come_back_equal():
    items = windows(4)
    back, header = round_trip(items)
    assert header[0] == "U" and header[4] == 4
    assert len(back) == 4
    for a, b in zip(items, back):
        assert list(b) == ["X", "Y"]
        for key in a:
            assert b[key].dtype == a[key].dtype and b[key].shape == a[key].shape
            np.testing.assert_array_equal(b[key], a[key])


@pytest.mark.timeout(30)
def test_items_that_differ_travel_one_entry_each():
    items = windows(2) + windows(1, rows=5) + [(np.arange(3), "label", [np.ones(2, ">f8")])]
    back, header = round_trip(items)
    assert header[0] == "L" and len(header[1]) == 4
    for a, b in zip(items[:3], back[:3]):
        for key in a:
            np.testing.assert_array_equal(b[key], a[key])
    t = back[3]
    assert type(t) is tuple and t[1] == "label" and type(t[2]) is list
    np.testing.assert_array_equal(t[0], np.arange(3))
    assert t[2][0].dtype == np.dtype(">f8")
    np.testing.assert_array_equal(t[2][0], np.ones(2))


@pytest.mark.timeout(30)
def test_non_contiguous_empty_and_zero_dimensional_arrays_come_back_equal():
    base = np.arange(60, dtype=np.int16).reshape(6, 10)
    items = [
        {"strided": base[:, ::3], "fortran": np.asfortranarray(base), "empty": np.empty((0, 4)), "scalar": np.array(7.5)}
    ]
    (back,), _ = round_trip(items)
    for key, value in items[0].items():
        assert back[key].dtype == value.dtype and back[key].shape == value.shape, key
        np.testing.assert_array_equal(back[key], value)


@pytest.mark.timeout(30)
def test_arrays_received_are_writable_and_do_not_change_when_the_block_is_reused():
    items = windows(3)
    back, _ = round_trip(items)
    back[0]["X"][0, 0] = -1.0
    assert back[0]["X"][0, 0] == -1.0 and items[0]["X"][0, 0] != -1.0
    assert back[1]["X"][0, 0] == items[1]["X"][0, 0]  # a neighbour in the same batch is not touched


@pytest.mark.timeout(30)
def test_a_batch_of_empty_arrays_needs_no_block_bytes():
    packed = [(transport.pack(np.empty((0,), np.float32), arrays := []), arrays)]
    header, _, _, end = transport.plan(packed)
    assert end == 0
    (item,) = transport.items_of(header, transport.empty_batch())
    assert item.shape == (0,) and item.dtype == np.float32
