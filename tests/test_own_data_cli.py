"""The whole path a user with their own archives takes, from the command line, in fresh processes."""

import os
import subprocess
import sys

import numpy as np
import pytest

from muxlab import Collection


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "muxlab", *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def snapshot(folder):
    return {
        os.path.join(d, f): (open(os.path.join(d, f), "rb").read(), os.stat(os.path.join(d, f)).st_mtime_ns)
        for d, _, files in os.walk(folder)
        for f in files
    }


@pytest.mark.timeout(300)
def test_convert_then_compare_a_user_folder_end_to_end(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rng = np.random.default_rng(3)
    for i in range(4):
        np.savez_compressed(corpus / f"song{i}.npz", features=rng.random((400 + 10 * i, 16)).astype("f4"),
                            labels=np.arange(400 + 10 * i))
    before = snapshot(corpus)
    work = tmp_path / "work"
    work.mkdir()

    r = run_cli("compare", str(corpus), "--keys", "features,labels", "--batches", "100", "--k", "2",
                "--quiet", "--out", "out1", cwd=work)
    assert r.returncode == 0, r.stderr
    assert "npz_copy" in r.stdout and "windows_per_s" in r.stdout
    assert "npy_mmap: not run: needs the .npy layout (muxlab convert" in r.stdout
    assert "npy_mmap_readonly: not run: needs the .npy layout" in r.stdout
    assert (work / "out1" / "dashboard.png").stat().st_size > 0

    r = run_cli("convert", str(corpus), str(tmp_path / "npy"), "--keys", "features,labels", "--quiet", cwd=work)
    assert r.returncode == 0, r.stderr
    assert "4 items" in r.stdout and f"--npy {tmp_path / 'npy'}" in r.stdout
    assert len(list((tmp_path / "npy").glob("*.npy"))) == 8

    r = run_cli("compare", str(corpus), "--keys", "features,labels", "--npy", str(tmp_path / "npy"),
                "--batches", "100", "--k", "2", "--quiet", "--out", "out2", cwd=work)
    assert r.returncode == 0, r.stderr
    assert "not run" not in r.stdout
    for name in ("npz", "npz_copy", "npy_mmap", "npz_cached", "npy_mmap_readonly"):
        assert f"\n{name:>17} " in r.stdout or f"\n{name} " in r.stdout, name

    r = run_cli("convert", str(corpus), str(corpus / "npy"), "--keys", "features,labels", "--quiet", cwd=work)
    assert r.returncode == 2 and "inside the source folder" in r.stderr and "Traceback" not in r.stderr

    assert snapshot(corpus) == before  # nothing written next to the data, no byte or mtime changed
    assert sorted(p.name for p in work.iterdir()) == ["out1", "out2"]


def test_explorer_and_dashboard_open_on_a_user_folder(tmp_path):
    from muxlab.widgets import Explorer, MemoryDashboard

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(3):
        np.savez(corpus / f"s{i}.npz", features=np.zeros((64, 4), "f4"), labels=np.arange(64))
    before = snapshot(corpus)
    ex = Explorer(source=corpus, keys=("features", "labels"), k=2, lam=4, n=8)
    try:
        assert ex.strategy == "npz_copy" and len(ex.collection) == 3
        assert list(ex.controls["strategy"].options) == ["npz", "npz_copy", "npz_cached"]
        rows = 0
        for batch in ex.mux.generate(max_batches=20):
            assert tuple(batch) == ("features", "labels")
            rows += len(batch["features"])
        assert rows == 160
        with pytest.raises(Exception, match="needs the .npy layout"):
            ex.strategy = "npy_mmap"
    finally:
        ex.close()
    d = MemoryDashboard(source=Collection.scan(corpus, keys=("features", "labels")), k=2, lam=4, n=8, max_batches=20)
    try:
        assert d.params()["strategies"] == ["npz", "npz_copy", "npz_cached"]
    finally:
        d.close()
    assert snapshot(corpus) == before
