"""Copy tables of the latest benchmark run into the project README: ``python -m benchmarks.readme_sync``.

A block of the README between ``<!-- benchmarks: TITLE -->`` and
``<!-- /benchmarks -->`` holds the table under ``## TITLE`` of
``benchmarks/results/README.md``, as that run printed it; a block titled
``compare_workers2.csv`` holds the per-process memory table made from that
file of ``benchmarks/results/`` (the ``processes.csv`` of ``muxlab compare
--workers 2 --batches 1000``). A test checks that every such block is what
the results hold, so no number quoted from a run can go stale.
"""

import re
import sys
from pathlib import Path

import pandas as pd

from muxlab.units import MiB

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "README.md"
README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- benchmarks: (?P<title>.+?) -->\n)(?P<body>.*?)(<!-- /benchmarks -->)", re.S)


def section_table(text, title):
    """The markdown table (its lines, joined) under ``## title`` in ``text``.

    >>> section_table("## A\\n\\n| x |\\n| --- |\\n| 1 |\\n\\n- note\\n", "A")
    '| x |\\n| --- |\\n| 1 |'
    """
    lines = text.splitlines()
    try:
        start = lines.index(f"## {title}")
    except ValueError:
        raise KeyError(f"no section '## {title}' in the benchmark results") from None
    table = []
    for line in lines[start + 1 :]:
        if line.startswith("## "):
            break
        if line.startswith("|"):
            table.append(line)
        elif table:
            break
    if not table:
        raise KeyError(f"section '## {title}' of the benchmark results has no table")
    return "\n".join(table)


WORKERS_CSV = "compare_workers2.csv"


def workers_memory_table(csv_path):
    """The README's per-process memory table (MiB) from a ``processes.csv`` of ``muxlab compare --workers 2``."""
    df = pd.read_csv(csv_path)
    rows = ["| strategy | consumer PSS | worker 0 PSS | worker 1 PSS | PSS summed | RSS summed (anonymous + file-backed) "
            "| workers' USS |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for strategy, g in df.groupby("strategy", sort=False):
        by_role = g.set_index("role")
        workers = g[g["role"].str.startswith("worker")]
        mib = lambda b: f"{b / MiB:.1f}"  # noqa: E731
        rows.append(
            f"| `{strategy}` | {mib(by_role.loc['consumer', 'pss'])} | {mib(by_role.loc['worker 0', 'pss'])} "
            f"| {mib(by_role.loc['worker 1', 'pss'])} | {mib(g['pss'].sum())} | {mib((g['anon'] + g['file']).sum())} "
            f"| {' + '.join(mib(u) for u in workers['uss'])} |"
        )
    return "\n".join(rows)


def table_for(title, results_text, results_dir=None):
    """The table a block titled ``title`` must hold."""
    if title == WORKERS_CSV:
        return workers_memory_table(Path(results_dir or RESULTS.parent) / WORKERS_CSV)
    return section_table(results_text, title)


def blocks(readme_text):
    """``[(title, body)]`` for every marked block of the README."""
    return [(m.group("title"), m.group("body")) for m in BLOCK.finditer(readme_text)]


def synced(readme_text, results_text):
    """The README text with every marked block replaced by its table from the results."""

    def fill(m):
        return f"{m.group(1)}{table_for(m.group('title'), results_text)}\n{m.group(4)}"

    return BLOCK.sub(fill, readme_text)


def main():
    text = README.read_text()
    new = synced(text, RESULTS.read_text())
    README.write_text(new)
    print(f"{len(blocks(new))} tables copied from {RESULTS.relative_to(ROOT)} into {README.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
