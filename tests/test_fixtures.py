"""Tests of muxlab.fixtures: presets, byte-for-byte determinism, manifests, verify and ensure."""

import dataclasses
import hashlib
import json
import os
import shutil
import time
import zipfile

import numpy as np
import pytest

from muxlab import fixtures
from muxlab.errors import DataError, ParameterError, ParameterTypeError
from muxlab.fixtures import PACKAGED_TINY, PRESETS, ROW_BASE, Preset

MINI = Preset("mini", items=3, rows=(5, 9), features=3, seed=11)


def tree_bytes(root):
    """Map every file under ``root`` (relative path) to its bytes."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()
    }


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def tiny_copy(tmp_path):
    """A private copy of the committed tiny fixtures (never modify the committed one)."""
    return shutil.copytree(PACKAGED_TINY, tmp_path / "tiny")


def test_presets_are_small_frozen_dataclasses():
    assert set(PRESETS) == {"tiny", "demo", "large"}
    for name, preset in PRESETS.items():
        assert preset.name == name
        assert dataclasses.is_dataclass(preset)
        with pytest.raises(dataclasses.FrozenInstanceError):
            preset.items = 1
    demo = PRESETS["demo"]
    assert (demo.items, demo.item_rows(0), demo.features) == (32, 10_000, 128)
    assert demo.item_rows(0) * demo.features * 4 == 5_120_000  # 5 MB of X per item
    tiny = PRESETS["tiny"]
    rows = [tiny.item_rows(i) for i in range(tiny.items)]
    assert min(rows) == 40 and max(rows) == 300 and tiny.features == 8


def test_unknown_preset_lists_the_presets(tmp_path):
    with pytest.raises(ParameterError, match="'huge'.*'tiny', 'demo', 'large'"):
        fixtures.make(tmp_path, "huge")
    with pytest.raises(ParameterError, match="'tiny', 'demo', 'large'"):
        fixtures.ensure("Tiny")
    with pytest.raises(ParameterTypeError, match="preset=3 is a int"):
        fixtures.default_root(3)
    assert not any(tmp_path.iterdir())


def test_a_preset_rejects_impossible_rows():
    with pytest.raises(ParameterError, match="rows"):
        Preset("bad", items=1, rows=(ROW_BASE,), features=1, seed=0)
    with pytest.raises(ParameterError, match="rows"):
        Preset("bad", items=1, rows=(), features=1, seed=0)


def test_make_is_byte_for_byte_deterministic(tmp_path):
    a = fixtures.make(tmp_path / "a", "tiny")
    b = fixtures.make(tmp_path / "b", "tiny")
    assert a == tmp_path / "a"
    files_a, files_b = tree_bytes(a), tree_bytes(b)
    assert files_a == files_b
    # ... and the same bytes as the committed copy, made on another day
    assert files_a == tree_bytes(PACKAGED_TINY)
    assert len(files_a) == 1 + 3 * 8


def test_make_into_a_folder_twice_rewrites_the_same_bytes(tmp_path):
    root = fixtures.make(tmp_path, MINI)
    before = tree_bytes(root)
    fixtures.make(root, MINI)
    assert tree_bytes(root) == before
    assert not [p for p in root.rglob("*") if ".tmp-" in p.name]


def test_manifest_describes_every_file(tmp_path):
    manifest = fixtures.load_manifest(PACKAGED_TINY)
    assert manifest["preset"]["name"] == "tiny"
    assert manifest["row_base"] == ROW_BASE
    tiny = PRESETS["tiny"]
    assert [item["name"] for item in manifest["items"]] == [f"item{i:03d}" for i in range(tiny.items)]
    for index, item in enumerate(manifest["items"]):
        rows = tiny.item_rows(index)
        assert (item["rows"], item["features"]) == (rows, 8)
        assert (item["x_shape"], item["x_dtype"]) == ([rows, 8], "float32")
        assert (item["y_shape"], item["y_dtype"]) == ([rows], "int64")
        assert set(item["files"]) == {"npz", "npy_x", "npy_y"}
        for entry in item["files"].values():
            path = PACKAGED_TINY / entry["path"]
            assert not os.path.isabs(entry["path"])
            assert entry["bytes"] == path.stat().st_size
            assert entry["sha256"] == sha256(path)
        paths = fixtures.item_paths(PACKAGED_TINY, item)
        X, Y = np.load(paths["npy_x"]), np.load(paths["npy_y"])
        with np.load(paths["npz"], allow_pickle=False) as data:
            assert sorted(data.files) == ["X", "Y"]
            np.testing.assert_array_equal(data["X"], X)
            np.testing.assert_array_equal(data["Y"], Y)
        assert X.dtype == np.float32 and X.shape == (rows, 8)
        assert Y.dtype == np.int64 and Y.shape == (rows,)
        # Y names the item and the row
        np.testing.assert_array_equal(Y, index * ROW_BASE + np.arange(rows))
        # X is uniform in [-1, 1) on a grid of 2**-23 (exact in float32)
        assert X.min() >= -1 and X.max() < 1
        np.testing.assert_array_equal((X.astype(np.float64) + 1) * 2**23 % 1, 0)
        exp_X, exp_Y = fixtures.item_arrays("tiny", index)
        np.testing.assert_array_equal(X, exp_X)
        np.testing.assert_array_equal(Y, exp_Y)


def test_npz_members_are_stored_with_a_fixed_date():
    with zipfile.ZipFile(PACKAGED_TINY / "npz" / "item000.npz") as zf:
        infos = zf.infolist()
        assert [info.filename for info in infos] == ["X.npy", "Y.npy"]
        for info in infos:
            assert info.compress_type == zipfile.ZIP_STORED
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert zf.testzip() is None


def test_tiny_is_small_and_has_a_short_item():
    total = sum(p.stat().st_size for p in PACKAGED_TINY.rglob("*") if p.is_file())
    assert total < 2_000_000
    rows = [item["rows"] for item in fixtures.load_manifest(PACKAGED_TINY)["items"]]
    assert min(rows) <= 64 < max(rows)


def test_verify_passes_then_names_each_changed_or_missing_file(tiny_copy):
    assert fixtures.verify(tiny_copy)["preset"]["name"] == "tiny"
    flipped = tiny_copy / "npy" / "item003.X.npy"
    data = bytearray(flipped.read_bytes())
    data[200] ^= 0x01
    flipped.write_bytes(bytes(data))
    (tiny_copy / "npz" / "item005.npz").unlink()
    with pytest.raises(DataError) as err:
        fixtures.verify(tiny_copy)
    message = str(err.value)
    assert "2 file(s)" in message
    assert "npy/item003.X.npy: changed" in message
    assert "npz/item005.npz: missing" in message
    assert "item004" not in message


def test_load_manifest_points_at_scanning_not_at_writing_into_the_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist.*Collection.scan") as err:
        fixtures.load_manifest(tmp_path / "nowhere")
    assert "muxlab fixtures" not in str(err.value)
    with pytest.raises(DataError, match="manifest.json' not found.*Collection.scan") as err:
        fixtures.load_manifest(tmp_path)
    assert "muxlab fixtures" not in str(err.value)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(DataError, match="not readable JSON"):
        fixtures.load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"items": [{"name": "a", "files": {}}]}))
    with pytest.raises(DataError, match="item 0 lacks a path"):
        fixtures.load_manifest(tmp_path)


def test_ensure_tiny_returns_the_packaged_copy(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert fixtures.ensure("tiny") == PACKAGED_TINY
    assert fixtures.ensure("tiny", verify=True) == PACKAGED_TINY
    assert not (tmp_path / "muxlab-data").exists()


def test_default_root_is_under_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("MUXLAB_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert fixtures.default_root("demo") == tmp_path / "muxlab-data" / "demo"
    root = fixtures.ensure(MINI)
    assert root == tmp_path / "muxlab-data" / "mini"
    fixtures.verify(root)


def test_ensure_makes_once_then_reuses(tmp_path):
    root = tmp_path / "mini"
    assert fixtures.ensure(MINI, root) == root
    stamps = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    time.sleep(0.01)
    fixtures.ensure(MINI, root)
    fixtures.ensure(MINI, root, verify=True)
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == stamps


def test_ensure_remakes_a_different_or_damaged_collection(tmp_path):
    root = fixtures.make(tmp_path / "c", MINI)
    other = dataclasses.replace(MINI, seed=12)
    fixtures.ensure(other, root)
    assert fixtures.load_manifest(root)["preset"]["seed"] == 12
    fixtures.verify(root)

    x_file = root / "npy" / "item001.X.npy"
    good = x_file.read_bytes()
    x_file.write_bytes(good[:-4])  # truncated: the size check sees it
    fixtures.ensure(other, root)
    assert x_file.read_bytes() == good

    data = bytearray(good)
    data[-1] ^= 0xFF  # same size: only verify=True sees it
    x_file.write_bytes(bytes(data))
    fixtures.ensure(other, root)
    assert x_file.read_bytes() != good
    fixtures.ensure(other, root, verify=True)
    assert x_file.read_bytes() == good


def test_a_changed_description_does_not_force_a_remake(tmp_path):
    root = fixtures.make(tmp_path, MINI)
    stamp = (root / "manifest.json").stat().st_mtime_ns
    fixtures.ensure(dataclasses.replace(MINI, description="reworded"), root)
    assert (root / "manifest.json").stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_make_demo(tmp_path):
    start = time.perf_counter()
    root = fixtures.make(tmp_path, "demo")
    elapsed = time.perf_counter() - start
    manifest = fixtures.verify(root)
    assert len(manifest["items"]) == 32
    assert manifest["items"][0]["x_shape"] == [10_000, 128]
    assert (root / "npy" / "item031.X.npy").stat().st_size == 5_120_000 + 128
    assert elapsed < 60


def test_default_root_follows_muxlab_data(monkeypatch, tmp_path):
    from muxlab.fixtures import default_root

    monkeypatch.setenv("MUXLAB_DATA", str(tmp_path / "shared"))
    assert default_root("demo") == tmp_path / "shared" / "demo"
    monkeypatch.delenv("MUXLAB_DATA")
    monkeypatch.chdir(tmp_path)
    assert default_root("demo") == tmp_path / "muxlab-data" / "demo"
