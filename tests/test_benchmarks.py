"""The benchmark suite runs end to end with tiny sizes and writes a well-formed report (speed is not checked)."""

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is a top-level package of the repository, not installed
    sys.path.insert(0, str(ROOT))

from benchmarks import timing  # noqa: E402
from benchmarks.__main__ import DEFAULT_CASES, main  # noqa: E402

SECTION_TITLES = {
    "engine": "Engine throughput",
    "activation": "Activation: time to first sample",
    "memory": "Activation: memory taken by a pass",
    "counters": "Counters and events cost",
    "scaling": "Scaling in k",
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


def spread(cell):
    lo, hi = (float(x) for x in cell.split("–"))
    assert lo <= hi
    return lo, hi


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    assert main(["--quick", "--out", str(out)]) == 0
    return out


@pytest.mark.timeout(120)
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
    for what in ("vs pescador", "vs bare loop", "first sample", "copies no argument", "counters on"):
        assert what in names

    png = quick_run / "engine.png"
    assert png.stat().st_size > 1000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.timeout(120)
def test_without_pescador_the_rows_say_so(tmp_path, monkeypatch):
    monkeypatch.setattr(timing, "_PESCADOR", [None])
    assert main(["--quick", "--cases", "engine", "--out", str(tmp_path)]) == 0
    header, rows = tables((tmp_path / "README.md").read_text())["Engine throughput (items/s)"]
    assert all(r["pescador items/s"] == "pescador not installed" for r in rows)
    assert all(r["ratio muxlab/pescador"] == "n/a" for r in rows)
    for r in rows:
        number(r["ratio muxlab/bare"])


def test_disk_case_is_a_stub_only_when_selected():
    assert "disk" not in DEFAULT_CASES
    with pytest.raises(NotImplementedError, match="disk"):
        main(["--quick", "--cases", "disk", "--out", "unused"])


def test_unknown_case_is_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--cases", "engine,nosuch"])
    assert exc.value.code == 2
    assert re.search(r"unknown case.*nosuch", capsys.readouterr().err)
