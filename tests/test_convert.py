"""Conversion to the memory-mappable layout: verified, resumable, never touching the source."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from muxlab import Collection, DataError
from muxlab import convert as convert_module
from muxlab.loaders import streams


def snapshot(folder):
    out = {}
    for dirpath, _, files in os.walk(folder):
        for name in files:
            p = os.path.join(dirpath, name)
            out[p] = (open(p, "rb").read(), os.stat(p).st_mtime_ns)
    return out


def make_corpus(folder, items=6, rows=300, features=8, compressed=True):
    folder.mkdir(parents=True, exist_ok=True)
    save = np.savez_compressed if compressed else np.savez
    rng = np.random.default_rng(7)
    for i in range(items):
        sub = folder / ("a" if i % 2 else "b")
        sub.mkdir(exist_ok=True)
        save(sub / f"rec{i}.npz", features=rng.random((rows + i, features)).astype("f4"), labels=np.arange(rows + i))
    return Collection.scan(folder, keys=("features", "labels"))


KEYS = ("features", "labels")


@pytest.mark.parametrize("compressed", [True, False])
def test_to_npy_writes_one_verified_file_per_item_and_key(tmp_path, compressed):
    src = make_corpus(tmp_path / "src", compressed=compressed)
    before = snapshot(tmp_path / "src")
    seen = []
    out = src.to_npy(tmp_path / "dest", progress=lambda done, total: seen.append((done, total)))
    assert isinstance(out, Collection) and out.layouts == ("npy",) and out.keys == KEYS
    assert [i.name for i in out] == [i.name for i in src]
    for item in src:
        with np.load(item.npz) as data:
            for key in KEYS:
                np.testing.assert_array_equal(np.load(tmp_path / "dest" / f"{item.name}.{key}.npy"), data[key])
    assert seen[-1][0] == seen[-1][1] == sum(os.path.getsize(p) for p in out.files("npy"))
    assert not [p for p in (tmp_path / "dest").rglob("*") if p.name.endswith(".muxlab-partial")]
    assert snapshot(tmp_path / "src") == before  # no byte and no mtime of the source changed
    both = src.add_layouts(out)
    assert both.layouts == ("npz", "npy")
    assert len(streams("npy_mmap", both, 16)) == len(src)


def test_a_second_run_keeps_what_is_done_and_refuses_a_different_file(tmp_path):
    src = make_corpus(tmp_path / "src")
    src.to_npy(tmp_path / "dest", progress=False)
    target = tmp_path / "dest" / "a" / "rec1.features.npy"
    stamp = os.stat(target).st_mtime_ns
    src.to_npy(tmp_path / "dest", progress=False)
    assert os.stat(target).st_mtime_ns == stamp  # verified, not rewritten
    other = np.load(target)
    other[0, 0] += 1
    np.save(target, other)
    changed = snapshot(tmp_path / "dest")
    with pytest.raises(DataError, match="already exists and differs.*refusing to overwrite"):
        src.to_npy(tmp_path / "dest", progress=False)
    assert snapshot(tmp_path / "dest") == changed


def test_it_refuses_to_write_into_the_source(tmp_path):
    src = make_corpus(tmp_path / "src")
    before = snapshot(tmp_path)
    for dest in (tmp_path / "src", tmp_path / "src" / "npy", tmp_path / "src" / "a"):
        with pytest.raises(DataError, match="inside the source folder"):
            src.to_npy(dest, progress=False)
    assert snapshot(tmp_path) == before


def test_it_checks_free_space_first_and_says_how_much_is_needed(tmp_path, monkeypatch):
    src = make_corpus(tmp_path / "src")
    monkeypatch.setattr(convert_module, "SPARE_BYTES", 10**15)
    with pytest.raises(DataError, match=r"not enough free space.*needs [0-9.,]+ MB .* is free"):
        src.to_npy(tmp_path / "dest", progress=False)
    assert not (tmp_path / "dest").exists()


CONVERT_SLOWLY = textwrap.dedent(
    """
    import sys, time
    from muxlab import Collection

    def slow(done, total):
        print(done, total, flush=True)
        time.sleep(0.02)

    Collection.scan(sys.argv[1], keys=("features", "labels")).to_npy(sys.argv[2], progress=slow)
    """
)


@pytest.mark.timeout(120)
def test_a_conversion_killed_half_way_leaves_no_half_file_and_resumes(tmp_path):
    src = make_corpus(tmp_path / "src", items=8, rows=60_000, features=4)  # 1 MB of features per item
    before = snapshot(tmp_path / "src")
    dest = tmp_path / "dest"
    proc = subprocess.Popen([sys.executable, "-c", CONVERT_SLOWLY, str(tmp_path / "src"), str(dest)],
                            stdout=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            done, total = map(int, line.split())
            if done > total // 2:
                break
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    finals = sorted(p for p in dest.rglob("*.npy"))
    assert 0 < len(finals) < 2 * len(src), finals
    for path in finals:  # every final name holds a complete array equal to its source
        name, key = str(path.relative_to(dest))[: -len(".npy")].rsplit(".", 1)
        with np.load(tmp_path / "src" / f"{name}.npz") as data:
            np.testing.assert_array_equal(np.load(path), data[key])
    stamps = {p: os.stat(p).st_mtime_ns for p in finals}
    out = src.to_npy(dest, progress=False)
    assert len(out) == len(src) and all(os.stat(p).st_mtime_ns == t for p, t in stamps.items())
    assert not [p for p in dest.rglob("*") if p.name.endswith(".muxlab-partial")]
    for item in src:
        with np.load(item.npz) as data:
            for key in KEYS:
                np.testing.assert_array_equal(np.load(dest / f"{item.name}.{key}.npy"), data[key])
    assert snapshot(tmp_path / "src") == before
