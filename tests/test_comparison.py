import subprocess
import sys

import matplotlib
import pytest

matplotlib.use("Agg")

import muxlab  # noqa: E402
from muxlab import fixtures  # noqa: E402
from muxlab.comparison import compare  # noqa: E402

MB = 2**20

# Eight members of 5 MB each: a retained npz batch pins a whole member, so the
# strategies differ by tens of MB while the collection is made in a fraction of a second.
MEDIUM = fixtures.Preset("medium-test", items=8, rows=(20_000,), features=64, seed=7)


@pytest.fixture(scope="module")
def medium(tmp_path_factory):
    return fixtures.make(tmp_path_factory.mktemp("medium"), MEDIUM)


@pytest.fixture(scope="module")
def result(medium):
    return compare(root=medium, strategies=["npz", "npz_copy", "npy_mmap"], k=4, lam=4, n=16, max_batches=300, retain=8)


@pytest.mark.timeout(120)
def test_summary_has_one_row_per_strategy_with_memory_columns(result):
    s = result.summary
    assert list(s["strategy"]) == ["npz", "npz_copy", "npy_mmap"]
    for col in ("windows_per_s", "peak_rss", "rss_anon", "rss_file", "uss"):
        assert (s[col] > 0).all(), col
    assert (s["peak_rss"] >= s["rss"]).all()
    assert (s["windows"] == 300).all() and (s["retained_rows"] == 8 * 16).all()


@pytest.mark.timeout(120)
def test_retained_npz_batches_pin_whole_members(result):
    anon = result.summary.set_index("strategy")["rss_anon"]
    member = 20_000 * 64 * 4
    # Eight retained npz batches each pin their own freshly read X member (5 MB);
    # npy_mmap holds nothing anonymous beyond the interpreter.
    assert anon["npz"] - anon["npy_mmap"] > 0.6 * 8 * member
    assert anon["npz_copy"] - anon["npy_mmap"] < 2 * member
    assert result.summary.set_index("strategy").loc["npy_mmap", "windows_per_s"] > anon.size * 0  # measured
    speed = result.summary.set_index("strategy")["windows_per_s"]
    assert speed["npy_mmap"] > 5 * speed["npz"]


@pytest.mark.timeout(120)
def test_timeline_and_activations_are_tidy(result):
    assert list(result.timeline.columns) == ["strategy", "t", "rss", "rss_anon", "rss_file", "samples"]
    assert set(result.timeline["strategy"]) == {"npz", "npz_copy", "npy_mmap"}
    a = result.activations
    assert list(a.columns) == ["strategy", "stream", "activations", "samples"]
    per = a.groupby("strategy")["samples"].sum()
    assert (per == 300).all()
    # The same seed and the same Mux in every child: the same streams were activated.
    by = {name: g["activations"].tolist() for name, g in a.groupby("strategy")}
    assert by["npz"] == by["npz_copy"] == by["npy_mmap"]


@pytest.mark.timeout(120)
def test_plot_and_save(result, tmp_path):
    fig = result.plot()
    assert len(fig.axes) == 4
    out = result.save(tmp_path / "out")
    for name in ("summary.csv", "timeline.csv", "activations.csv", "dashboard.png"):
        assert (out / name).stat().st_size > 0
    assert "npz_copy" in result.table()


@pytest.mark.timeout(120)
def test_cold_cache_records_bytes_read_and_no_fixture_byte_changes(medium):
    cold = compare(root=medium, strategies=["npz_cached", "npy_mmap_readonly"], k=2, lam=4, max_batches=50, retain=2, cache="cold")
    assert (cold.summary["cache"] == "cold").all()
    assert cold.summary["bytes_read"].notna().all()
    fixtures.verify(medium)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        # the parameters compare shares with the dashboard and the CLI: tests/test_compare_params.py
        (dict(interval=0), muxlab.ParameterError, "interval=0"),
        (dict(progress="yes"), muxlab.ParameterTypeError, "progress='yes'"),
    ],
)
def test_bad_arguments_are_named_before_any_child_starts(kwargs, error, match):
    with pytest.raises(error, match=match):
        compare(root=fixtures.ensure("tiny"), **kwargs)


def test_a_missing_folder_is_named_and_nothing_is_advised_to_be_written_into_it(tmp_path):
    with pytest.raises(muxlab.DataError, match="nothing' does not exist") as err:
        compare(root=tmp_path / "nothing")
    assert "muxlab fixtures" not in str(err.value)
    assert list(tmp_path.iterdir()) == []


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "muxlab", *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.mark.timeout(120)
def test_cli_compare_prints_the_table_and_writes_the_dashboard(tmp_path):
    tiny = fixtures.ensure("tiny")
    out = tmp_path / "out"
    r = run_cli("compare", "--root", str(tiny), "--batches", "50", "--k", "4", "--strategies", "npz,npy_mmap", "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "windows_per_s" in r.stdout and "npy_mmap" in r.stdout
    assert (out / "dashboard.png").stat().st_size > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["compare", "--k", "abc"], "argument --k: 'abc' is not a number"),
        (["compare", "--root", "/nonexistent/folder", "--quiet"], "'/nonexistent/folder' does not exist"),
        (["compare", "/nonexistent/folder", "--quiet"], "'/nonexistent/folder' does not exist"),
        (["fixtures", "--preset", "huge", "--dir", "x"], "invalid choice: 'huge'"),
    ],
)
def test_cli_bad_values_exit_2_with_one_line(args, message):
    r = run_cli(*args)
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 3


def test_cli_fixtures_writes_a_verified_collection(tmp_path):
    r = run_cli("fixtures", "--preset", "tiny", "--dir", str(tmp_path / "t"), "--verify")
    assert r.returncode == 0, r.stderr
    assert fixtures.load_manifest(tmp_path / "t")["items"]
