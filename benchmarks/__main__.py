"""Run the benchmark suite: ``python -m benchmarks [--quick] [--cases engine,activation,...] [--out DIR]``.

Writes ``DIR/README.md`` (machine, command, targets and every case's table),
``DIR/engine.png`` and, when a disk case ran, ``DIR/disk.png``, and prints the
markdown to stdout; progress goes to stderr.
"""

import argparse
import sys
from pathlib import Path

from . import machine, report
from .activation import run_activation
from .counters import run_counters
from .disk import run_disk
from .disk_scaling import run_disk_scaling
from .engine import run_engine, run_scaling
from .own_data import run_own_data
from .timing import Settings
from .workers import run_workers

#: case name -> function(settings) returning a Section or a list of Sections.
CASES = {
    "engine": run_engine,
    "activation": run_activation,
    "counters": run_counters,
    "scaling": run_scaling,
    "disk": run_disk,
    "disk_scaling": run_disk_scaling,
    "workers": run_workers,
    "own_data": run_own_data,
}
DEFAULT_CASES = ("engine", "activation", "counters", "scaling", "disk", "disk_scaling", "workers")
# own_data (scan rate, corpus larger than a memory limit; needs control groups) runs on request:
# python -m benchmarks --cases own_data
DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def parse_cases(text):
    names = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in names if c not in CASES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown case(s) {unknown or text!r}; expected a comma-separated list of {', '.join(CASES)}")
    return names


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the suite runs, numbers mean nothing")
    parser.add_argument(
        "--cases",
        type=parse_cases,
        default=list(DEFAULT_CASES),
        help=f"comma-separated, from {', '.join(CASES)} (default: {','.join(DEFAULT_CASES)})",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory for README.md, engine.png and disk.png")
    args = parser.parse_args(argv)

    settings = Settings.quick() if args.quick else Settings.full()
    command = " ".join(["python -m benchmarks", *argv])
    about = machine.describe()
    sections = []
    for name in args.cases:
        result = CASES[name](settings)
        sections += result if isinstance(result, list) else [result]

    about["load average at end"] = machine.load_average()
    args.out.mkdir(parents=True, exist_ok=True)
    text = report.markdown(about, command, settings, sections)
    (args.out / "README.md").write_text(text)
    report.chart(sections, args.out / "engine.png")
    if any(s.key in report.DISK_KEYS for s in sections):
        report.disk_chart(sections, args.out / "disk.png")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
