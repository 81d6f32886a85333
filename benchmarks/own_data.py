"""Your own data: the scan rate of :meth:`muxlab.Collection.scan`, and strategies on a corpus larger than memory.

``scan``: 20,000 small NPZ archives (8 x 4 float32 and 8 labels each) in 20
folders; ``Collection.scan`` on the folder, warm (directory entries and
headers in the page cache), five times: files per second of wall time and
per CPU-second of the scanning process (the second does not depend on what
else the machine runs).

``memory_limit``: a generated collection at least 4x the memory limit;
``muxlab.compare(..., memory_limit=L)`` runs ``npy_mmap`` and ``npz_copy``
each once unlimited with a warm page cache and once in a memory control group
of ``L`` (page cache included) after dropping the files' pages: windows/s,
bytes read from storage per window and major page faults per window, both
runs side by side, repeated and quoted as medians with their range.

Run alone: ``python -m benchmarks.own_data [--quick]`` (prints the markdown).
"""

import io
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import muxlab
from muxlab import fixtures
from muxlab import memory_limit as ml

from .report import Section, Target, fmt, fmt_rate

SCAN_FILES = 20_000
SCAN_TARGET = 5_000


def _spread(values):
    return statistics.median(values), min(values), max(values)


def run_scan(settings):
    files = 2_000 if settings.is_quick else SCAN_FILES
    folder = Path(tempfile.mkdtemp(prefix="muxlab-scan-"))
    try:
        buf = io.BytesIO()
        np.savez(buf, X=np.zeros((8, 4), "f4"), Y=np.arange(8))
        data = buf.getvalue()
        for i in range(files):
            sub = folder / f"{i // 1000:02d}"
            if i % 1000 == 0:
                sub.mkdir()
            (sub / f"f{i:05d}.npz").write_bytes(data)
        muxlab.Collection.scan(folder)  # warm
        wall, cpu = [], []
        for _ in range(5):
            t0, c0 = time.perf_counter(), time.process_time()
            c = muxlab.Collection.scan(folder)
            wall.append(len(c) / (time.perf_counter() - t0))
            cpu.append(len(c) / max(time.process_time() - c0, 1e-9))
            assert len(c) == files
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    w, c = _spread(wall), _spread(cpu)
    target = Target(f"scan rate, {files:,} files, warm", "files/s (wall)", w[0], w[1], w[2], f">= {SCAN_TARGET}",
                    w[0] >= SCAN_TARGET)
    return Section(
        key="own_scan",
        title=f"Collection.scan on {files:,} small archives (warm, headers only, no cache)",
        columns=["measure", "median", "range"],
        rows=[
            ["files/s, wall time", fmt_rate(w[0]), f"{fmt_rate(w[1])} to {fmt_rate(w[2])}"],
            ["files per CPU-second of the scan", fmt_rate(c[0]), f"{fmt_rate(c[1])} to {fmt_rate(c[2])}"],
        ],
        notes=["Wall time depends on the other work of the machine; CPU time does not. No header cache is kept."],
        targets=[target],
    )


def run_memory_limit(settings):
    limit = 32 * 2**20 if settings.is_quick else 128 * 2**20
    items = 14 if settings.is_quick else 56
    batches = 100 if settings.is_quick else 1000
    rounds = 1 if settings.is_quick else 3
    preset = fixtures.Preset("bench-own-limit", items=items, rows=(10_000,), features=256, seed=5)
    try:
        ml.check_available()
    except ml.MemoryLimitError as err:
        return Section(key="own_memory_limit", title="A corpus larger than memory: not measured", columns=["why"],
                       rows=[[str(err)]])
    root = Path(tempfile.mkdtemp(prefix="muxlab-limit-"))
    try:
        fixtures.make(root, preset)
        collection = muxlab.Collection.scan(root)
        per_layout = collection.nbytes
        runs = []
        for r in range(rounds):
            print(f"memory_limit: round {r + 1}/{rounds}", file=sys.stderr)
            result = muxlab.compare(collection, strategies=["npy_mmap", "npz_copy"], k=32, lam=16, n=16,
                                    max_batches=batches, memory_limit=limit)
            runs.append(result.summary.set_index("strategy"))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    rows = []
    for strategy in ("npy_mmap", "npz_copy"):
        for label, prefix in (("unlimited, warm", "warm_"), (f"limit {ml.format_size(limit)}, pages dropped", "")):
            rate = _spread([s.loc[strategy, f"{prefix}windows_per_s"] for s in runs])
            read = _spread([s.loc[strategy, f"{prefix}bytes_read_per_window"] for s in runs])
            faults = _spread([s.loc[strategy, f"{prefix}major_faults"] / batches for s in runs])
            rows.append([
                strategy, label,
                f"{fmt(rate[0])} ({fmt(rate[1])} to {fmt(rate[2])})",
                f"{fmt(read[0] / 1e3)} ({fmt(read[1] / 1e3)} to {fmt(read[2] / 1e3)})",
                f"{fmt(faults[0])}",
            ])
        peak = statistics.median(s.loc[strategy, "group_peak"] for s in runs)
        rows[-1][1] += f" (group peak {fmt(peak / 2**20)} MiB)"
    return Section(
        key="own_memory_limit",
        title=(f"A corpus larger than memory: {items} items, {fmt(per_layout / 1e6)} MB per layout, "
               f"{fmt(per_layout / limit)}x the limit of {ml.format_size(limit)}"),
        columns=["strategy", "run", "windows/s median (range)", "kB read from storage per window median (range)",
                 "major faults per window"],
        rows=rows,
        notes=[
            f"k=32, lam=16, n=16, {batches} windows per run, {rounds} rounds of muxlab.compare(memory_limit=...); "
            "each round runs each strategy unlimited (warm page cache) and limited (its files dropped first), "
            "each in a fresh child.",
        ],
    )


def run_own_data(settings):
    """Both cases (what ``python -m benchmarks --cases own_data`` runs)."""
    return [run_scan(settings), run_memory_limit(settings)]


def _markdown(section):
    lines = [f"### {section.title}", "", "| " + " | ".join(section.columns) + " |",
             "|" + "---|" * len(section.columns)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in section.rows]
    lines += [""] + section.notes
    for t in section.targets:
        lines.append(f"Target: {t.name}: {fmt(t.median)} {t.quantity} (range {fmt(t.lo)} to {fmt(t.hi)}), "
                     f"required {t.required}: {t.result}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    from .timing import Settings

    quick = "--quick" in sys.argv[1:]
    settings = Settings.quick() if quick else Settings.full()
    for section in run_own_data(settings):
        print(_markdown(section))
