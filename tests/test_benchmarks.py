"""The benchmark suite runs end to end with tiny sizes and writes a well-formed report (speed is not checked)."""

import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is a top-level package of the repository, not installed
    sys.path.insert(0, str(ROOT))

from benchmarks import timing  # noqa: E402
from benchmarks.__main__ import DEFAULT_CASES, main  # noqa: E402
from benchmarks.disk import disk_sizes  # noqa: E402
from muxlab import fixtures, page_cache  # noqa: E402
from muxlab.loaders import STRATEGIES  # noqa: E402

MiB = 2**20
PAGE = 4096
#: The quick run takes minutes on a loaded machine; the fixture (every case) is paid by the first test that uses it.
QUICK_TIMEOUT = 600

SECTION_TITLES = {
    "engine": "Engine throughput",
    "activation": "Activation: time to first sample",
    "memory": "Activation: memory taken by a pass",
    "counters": "Counters and events cost",
    "scaling": "Scaling in k",
    "disk": "Disk: windows/s per strategy vs in-RAM baseline",
    "disk_memory": "Disk: memory per strategy (muxlab.compare)",
    "disk_scaling": "Disk scaling: windows/s and memory vs k, n and files",
    "workers_overlap": "Workers: overlap of loading and consuming",
    "workers_transport": "Workers: transport (no consumer work)",
    "workers_scaling": "Workers: scaling in the number of workers (no consumer work)",
}


def tables(markdown):
    """``{section title: (header, rows)}`` for every markdown table under a ``## `` heading."""
    out, title, lines = {}, None, markdown.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("## "):
            title = line[3:]
        elif line.startswith("|") and not lines[i - 1].startswith("|"):
            header = [c.strip() for c in line.strip("|").split("|")]
            rows = []
            for row in lines[i + 2 :]:
                if not row.startswith("|"):
                    break
                rows.append(dict(zip(header, (c.strip() for c in row.strip("|").split("|")), strict=True)))
            out[title] = (header, rows)
    return out


def number(cell):
    return float(cell)


def section_text(markdown, title):
    """The markdown of the ``## `` section whose heading starts with ``title``."""
    parts = re.split(r"^## ", markdown, flags=re.M)
    return next(p for p in parts if p.startswith(title))


def named_in_undropped_note(text):
    """The strategies a section's note says "read (almost) nothing from storage" when cold."""
    found = re.search(r"Cold rows of (.*?) read (?:\(almost\) |almost )?nothing from storage", text)
    return set(re.findall(r"`(\w+)`", found.group(1))) if found else set()


def storage_limits(strategy):
    """``(files MiB, MiB a cold pass can fetch)`` for a strategy's files in the quick run's collection.

    Reads come in whole pages and never past the end of a file, so a pass fetches at most each
    file's pages once (2 MiB more allow for the process's own incidental reads, such as a lazy import).
    """
    root = fixtures.ensure(disk_sizes(timing.Settings.quick()).preset)
    files = page_cache.strategy_files(strategy, root)
    size = sum(os.path.getsize(f) for f in files)
    pages = sum(-(-os.path.getsize(f) // PAGE) * PAGE for f in files)
    return size / MiB, pages / MiB + 2.0


def check_storage_reads(text, rows, column):
    """MiB read is a plausible amount, and the note names exactly the cold rows that read next to nothing."""
    undropped = set()
    for r in rows:
        if r[column] == "n/a":
            continue
        strategy = r["strategy"].strip("`")
        files_mb, most = storage_limits(strategy)
        read = number(r[column])
        assert 0 <= read <= most, (r, most)
        if r["cache"] == "cold" and read < 0.05 * files_mb:
            undropped.add(strategy)
    assert named_in_undropped_note(text) == undropped


def spread(cell):
    lo, hi = (float(x) for x in cell.split("–"))
    assert lo <= hi
    return lo, hi


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    assert main(["--quick", "--out", str(out)]) == 0
    return out


@pytest.mark.timeout(QUICK_TIMEOUT)
def test_quick_run_writes_every_case_with_numeric_ratios(quick_run):
    text = (quick_run / "README.md").read_text()
    assert "python -m benchmarks --quick" in text
    for label in ("CPU:", "cores:", "python:", "numpy:", "date:"):
        assert label in text
    found = tables(text)
    for title in SECTION_TITLES.values():
        assert any(t.startswith(title) for t in found), f"no table for {title!r}"

    for title, (header, rows) in found.items():
        assert rows, title
        for col in header:
            for row in rows:
                if col.startswith("ratio"):
                    number(row[col])
                elif col.startswith("spread") and title != "Targets":
                    spread(row[col])

    header, rows = found["Targets"]
    assert {"median", "spread (min–max)", "required", "PASS/MISS"} <= set(header)
    assert {r["PASS/MISS"] for r in rows} <= {"PASS", "MISS"}
    for r in rows:
        number(r["median"])
        spread(r["spread (min–max)"])
    names = " ".join(r["target"] for r in rows)
    for what in ("vs pescador", "vs bare loop", "first sample", "copies no argument", "counters on", "npy_mmap warm vs in-RAM",
                 "overlap: background(workers=1)", "transport: background(workers=1)"):
        assert what in names

    for chart in ("engine.png", "disk.png"):
        png = quick_run / chart
        assert png.stat().st_size > 1000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


RATE = re.compile(r"^[0-9.]+ (M|k)?/s$")


def strategy_cache_rows(rows):
    """The (strategy, cache) pairs of a disk table, in order."""
    return [(r["strategy"].strip("`"), r["cache"]) for r in rows]


@pytest.mark.timeout(QUICK_TIMEOUT)
def test_disk_table_has_a_warm_and_a_cold_row_per_strategy(quick_run):
    text = (quick_run / "README.md").read_text()
    found = tables(text)
    header, rows = found[SECTION_TITLES["disk"]]
    assert strategy_cache_rows(rows) == [(s, c) for s in STRATEGIES for c in ("warm", "cold")]
    for r in rows:
        assert RATE.match(r["strategy windows/s"]) and RATE.match(r["in-RAM windows/s"]), r
        assert number(r["ratio strategy/in-RAM"]) > 0
        lo, hi = spread(r["spread strategy/in-RAM"])
        assert lo <= number(r["ratio strategy/in-RAM"]) <= hi
        assert int(r["windows per timing"].replace(",", "")) >= 1
    check_storage_reads(section_text(text, SECTION_TITLES["disk"]), rows, "MiB read from storage per timing")

    target = next(r for r in found["Targets"][1] if r["target"].startswith("npy_mmap warm vs in-RAM"))
    assert target["required"] == ">= 0.7" and target["PASS/MISS"] in {"PASS", "MISS"}


@pytest.mark.timeout(QUICK_TIMEOUT)
def test_disk_memory_table_has_mb_for_every_strategy_and_cache(quick_run):
    text = (quick_run / "README.md").read_text()
    header, rows = tables(text)[SECTION_TITLES["disk_memory"]]
    assert strategy_cache_rows(rows) == [(s, c) for s in STRATEGIES for c in ("warm", "cold")]
    for r in rows:
        assert RATE.match(r["windows/s"]), r
        peak, anon, file_backed = number(r["peak MiB"]), number(r["anonymous MiB"]), number(r["file-backed MiB"])
        assert 0 < anon <= peak and file_backed > 0
    check_storage_reads(section_text(text, SECTION_TITLES["disk_memory"]), rows, "MiB read from storage")


@pytest.mark.timeout(QUICK_TIMEOUT)
def test_disk_scaling_table_covers_every_axis_value_for_both_strategies(quick_run):
    header, rows = tables((quick_run / "README.md").read_text())[SECTION_TITLES["disk_scaling"]]
    sizes = disk_sizes(timing.Settings.quick())
    expected = [
        (s, axis, str(v))
        for s in sizes.scaling_strategies
        for axis, values in (("k", sizes.scaling_ks), ("n", sizes.scaling_ns), ("files", sizes.scaling_files))
        for v in values
    ]
    assert [(r["strategy"].strip("`"), r["varied"], r[r["varied"]]) for r in rows] == expected
    for r in rows:
        assert RATE.match(r["strategy windows/s"]) and RATE.match(r["in-RAM windows/s"]), r
        assert number(r["ratio strategy/in-RAM"]) > 0
        assert 0 < number(r["anonymous at end MiB"]) <= number(r["peak MiB"])
        assert number(r["file-backed MiB"]) > 0


@pytest.mark.timeout(120)
def test_without_pescador_the_rows_say_so(tmp_path, monkeypatch):
    monkeypatch.setattr(timing, "_PESCADOR", [None])
    assert main(["--quick", "--cases", "engine", "--out", str(tmp_path)]) == 0
    header, rows = tables((tmp_path / "README.md").read_text())["Engine throughput (items/s)"]
    assert all(r["pescador items/s"] == "pescador not installed" for r in rows)
    assert all(r["ratio muxlab/pescador"] == "n/a" for r in rows)
    for r in rows:
        number(r["ratio muxlab/bare"])


def test_disk_cases_run_by_default():
    assert {"disk", "disk_scaling"} <= set(DEFAULT_CASES)


def test_unknown_case_is_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--cases", "engine,nosuch"])
    assert exc.value.code == 2
    assert re.search(r"unknown case.*nosuch", capsys.readouterr().err)


def test_readme_quotes_the_latest_results_tables_as_they_are():
    from benchmarks import readme_sync

    found = readme_sync.blocks((ROOT / "README.md").read_text())
    titles = [title for title, _ in found]
    assert "Targets" in titles and any(t.startswith("Workers:") for t in titles), titles
    assert readme_sync.WORKERS_CSV in titles, titles
    results = (ROOT / "benchmarks" / "results" / "README.md").read_text()
    for title, body in found:
        assert body.strip() == readme_sync.table_for(title, results), (
            f"README's copy of {title!r} differs from benchmarks/results/README.md: run python -m benchmarks.readme_sync"
        )


def test_readme_sync_replaces_a_block_with_the_table_of_its_section():
    from benchmarks import readme_sync

    results = "## A\n\n| x |\n| --- |\n| 2 |\n\n- note\n\n## B\n\n| y |\n| --- |\n| 3 |\n"
    readme = "intro\n<!-- benchmarks: B -->\n| y |\n| --- |\n| 1 |\n<!-- /benchmarks -->\nend\n"
    assert readme_sync.synced(readme, results) == readme.replace("| 1 |", "| 3 |")
    with pytest.raises(KeyError, match="C"):
        readme_sync.synced(readme.replace("benchmarks: B", "benchmarks: C"), results)


def test_the_workers_memory_table_adds_up_the_processes_of_each_strategy(tmp_path):
    from benchmarks import readme_sync

    mib = 2**20
    rows = ["pid,name,anon,file,shmem,uss,pss,pss_anon,pss_file,peak,role,strategy"]
    for role, pss, uss in (("consumer", 10, 5), ("worker 0", 20, 12), ("worker 1", 30, 14)):
        rows.append(f"1,python3,{4 * mib},{2 * mib},0,{uss * mib},{pss * mib},0,0,0,{role},npz")
    (tmp_path / readme_sync.WORKERS_CSV).write_text("\n".join(rows) + "\n")
    table = readme_sync.table_for(readme_sync.WORKERS_CSV, "", results_dir=tmp_path)
    assert table.splitlines()[2] == "| `npz` | 10.0 | 20.0 | 30.0 | 60.0 | 18.0 | 12.0 + 14.0 |"
