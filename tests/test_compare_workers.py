"""compare(..., workers=N) and `muxlab compare --workers N`: the whole process tree, per process and summed."""

import subprocess
import sys

import matplotlib
import pytest

matplotlib.use("Agg")

from muxlab import fixtures  # noqa: E402
from muxlab.comparison import compare  # noqa: E402

MB = 2**20
SMALL = fixtures.Preset("workers-test", items=6, rows=(20_000,), features=64, seed=3)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return fixtures.make(tmp_path_factory.mktemp("small"), SMALL)


@pytest.mark.timeout(180)
def test_compare_with_workers_measures_every_process(small):
    result = compare(root=small, strategies=["npz_cached", "npy_mmap_readonly"], k=4, lam=4, max_batches=200,
                     retain=4, workers=2)
    p = result.processes
    assert result.params["workers"] == 2
    for strategy in ("npz_cached", "npy_mmap_readonly"):
        rows = p[p["strategy"] == strategy]
        assert list(rows["role"]) == ["consumer", "worker 0", "worker 1"]
        assert (rows["pss"] > 0).all() and (rows["uss"] > 0).all()
        # PSS splits shared pages: never more than the resident set, never less than the private pages
        assert (rows["uss"] <= rows["pss"]).all()
        assert (rows["pss"] <= rows["anon"] + rows["file"] + rows["shmem"] + MB).all()
    # npz_cached keeps both members of each active stream in the worker's anonymous memory
    # (k=4 over 2 workers: 2 streams of 2 x 5 MB each), which the consumer never holds.
    cached = p[p["strategy"] == "npz_cached"].set_index("role")
    assert cached.loc["worker 0", "anon"] - cached.loc["consumer", "anon"] > 0 or \
        cached.loc["worker 1", "anon"] - cached.loc["consumer", "anon"] > 0
    assert max(cached.loc["worker 0", "anon"], cached.loc["worker 1", "anon"]) > 15 * MB
    assert result.summary["windows"].tolist() == [200, 200]


@pytest.mark.timeout(180)
def test_cli_compare_workers_writes_the_per_worker_dashboard(small, tmp_path):
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "muxlab", "compare", "--root", str(small), "--strategies", "npz_copy",
         "--batches", "100", "--k", "4", "--workers", "2", "--quiet", "--out", str(out)],
        capture_output=True, text=True, timeout=170,
    )
    assert run.returncode == 0, run.stderr
    assert "worker 1" in run.stdout and " sum " in run.stdout
    png = (out / "workers.png").read_bytes()
    assert len(png) > 1000 and png[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "processes.csv").read_text().count("npz_copy") == 3
