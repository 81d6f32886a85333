"""compare(..., memory_limit=...): children in memory control groups that cover page cache, always removed."""

import os

import numpy as np
import pytest

import muxlab
from muxlab import Collection, compare
from muxlab import memory_limit as ml
from muxlab.cli import main


def cgroups_usable():
    try:
        ml.check_available()
    except ml.MemoryLimitError as err:
        return str(err)
    return None


WHY = cgroups_usable()
# As for the browser test: in CI (which runs as root with cgroups) a missing cgroup fails instead of skipping.
needs_cgroups = pytest.mark.skipif(WHY is not None and not os.environ.get("CI"), reason=f"{WHY}")


def corpus(tmp_path, items=6, rows=2000, features=32):
    folder = tmp_path / "corpus"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(items):
        np.savez(folder / f"s{i}.npz", features=rng.random((rows, features)).astype("f4"), labels=np.arange(rows))
    src = Collection.scan(folder, keys=("features", "labels"))
    return src.add_layouts(src.to_npy(tmp_path / "npy", progress=False))


def test_sizes_are_parsed_and_bad_ones_named():
    assert ml.parse_size("compare", "memory_limit", "256MiB") == 256 * 2**20
    assert ml.parse_size("compare", "memory_limit", "1g") == 2**30
    assert ml.parse_size("compare", "memory_limit", 10**8) == 10**8
    for bad in ("lots", "12 parsecs", "0.5k", -5):
        with pytest.raises(muxlab.ParameterError, match="memory_limit="):
            ml.parse_size("compare", "memory_limit", bad)
    with pytest.raises(muxlab.ParameterTypeError, match="memory_limit=None"):
        ml.parse_size("compare", "memory_limit", None)


def test_without_control_groups_it_says_why_in_one_line_and_runs_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(ml, "_V1_MOUNT", str(tmp_path / "no-v1"))
    monkeypatch.setattr(ml, "_V2_MOUNT", str(tmp_path / "no-v2"))
    started = []
    monkeypatch.setattr(muxlab.comparison, "_run_child", lambda *a, **k: started.append(a))
    with pytest.raises(ml.MemoryLimitError) as err:
        compare(muxlab.fixtures.ensure("tiny"), memory_limit="64MiB")
    message = str(err.value)
    assert "\n" not in message and "no memory limit can be set" in message and "root" in message
    assert started == []


@needs_cgroups
def test_a_group_is_removed_after_a_failure_inside_it():
    with pytest.raises(RuntimeError):
        with ml.MemoryGroup(64 * 2**20) as group:
            assert os.path.isdir(group.path)
            with open(os.path.join(group.path, "memory.limit_in_bytes" if group.version == 1 else "memory.max")) as f:
                assert int(f.read()) == 64 * 2**20
            raise RuntimeError("boom")
    assert not os.path.exists(group.path)
    assert ml.leftover_groups(os.getpid()) == []


@needs_cgroups
@pytest.mark.timeout(300)
def test_compare_under_a_limit_reports_reads_and_faults_next_to_the_warm_run(tmp_path):
    src = corpus(tmp_path)
    result = compare(src, strategies=["npz_copy", "npy_mmap"], k=4, lam=8, n=16, max_batches=300,
                     memory_limit="96MiB")
    s = result.summary.set_index("strategy")
    assert list(s.index) == ["npz_copy", "npy_mmap"]
    assert (s["memory_limit"] == 96 * 2**20).all()
    assert (s["group_peak"] <= 96 * 2**20).all() and (s["group_peak"] > 0).all()
    for col in ("windows_per_s", "warm_windows_per_s", "bytes_read_per_window", "warm_bytes_read_per_window",
                "major_faults", "warm_major_faults"):
        assert s[col].notna().all(), col
    # pages were dropped before the limited run: npz_copy re-reads whole members, so it reads from storage
    assert s.loc["npz_copy", "bytes_read_per_window"] > s.loc["npz_copy", "warm_bytes_read_per_window"]
    assert "warm = unlimited" in result.table()
    assert ml.leftover_groups(os.getpid()) == []


@needs_cgroups
@pytest.mark.timeout(300)
def test_every_group_is_removed_when_a_child_is_killed_by_its_limit(tmp_path):
    src = corpus(tmp_path, items=2, rows=50)
    with pytest.raises(muxlab.MuxlabError, match="killed|failed|exited"):
        compare(src, strategies=["npz_copy"], k=2, max_batches=50, memory_limit="2MiB")
    assert ml.leftover_groups(os.getpid()) == []


@needs_cgroups
@pytest.mark.timeout(300)
def test_cli_memory_limit(tmp_path, capsys):
    src = corpus(tmp_path, items=3, rows=500, features=8)
    code = main(["compare", str(src.root), "--keys", "features,labels", "--npy", str(tmp_path / "npy"),
                 "--strategies", "npy_mmap", "--batches", "100", "--k", "2", "--memory-limit", "64MiB",
                 "--quiet", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0
    assert "memory_limit=64 MiB" in out and "warm windows_per_s" in out and "read/window kB" in out
    assert ml.leftover_groups(os.getpid()) == []
