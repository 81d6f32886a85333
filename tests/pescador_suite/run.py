"""Run pescador 3.0.0's own tests for core, maps and mux against muxlab (or against pescador).

The tests are vendored unchanged in ``upstream/`` (pescador's ISC licence is
there too). They run in a child pytest whose ``sys.path`` starts with
``shim/``, a package named ``pescador`` that re-exports muxlab's names, so the
real pescador installed next to muxlab is never shadowed in this process.
With ``--against pescador`` the same files run against the real pescador.

Usage: ``python tests/pescador_suite/run.py [--against muxlab|pescador]``;
prints one line per test that did not pass and the counts.
"""

import argparse
import collections
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SUITE = Path(__file__).resolve().parent
UPSTREAM = SUITE / "upstream"
SHIM = SUITE / "shim"
FILES = ("test_core.py", "test_maps.py", "test_mux.py")


def run(against="muxlab", timeout=600):
    """Run the vendored suite in a child process; return ``{nodeid: {'outcome': ..., 'error': ...}}``."""
    if against not in ("muxlab", "pescador"):
        raise ValueError(f"run: against={against!r}; expected 'muxlab' or 'pescador'")
    path = [str(UPSTREAM), str(SUITE)]
    if against == "muxlab":
        path.insert(0, str(SHIM))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(path + [p for p in [env.get("PYTHONPATH")] if p])
    with tempfile.TemporaryDirectory(prefix="pescador-suite-") as tmp:
        out = Path(tmp) / "outcomes.json"
        env["PESCADOR_SUITE_OUTCOMES"] = str(out)
        cmd = [
            sys.executable, "-m", "pytest", "-q", "-c", str(SUITE / "suite.ini"),
            "--rootdir", str(UPSTREAM), "--confcutdir", str(UPSTREAM), *FILES,
        ]
        proc = subprocess.run(cmd, cwd=UPSTREAM, env=env, capture_output=True, text=True, timeout=timeout)
        if not out.exists():
            raise RuntimeError(f"the pescador suite did not run:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return json.loads(out.read_text())


def counts(outcomes):
    """Count outcomes apart for the tests pescador expects to pass and those it marks xfail.

    Returns ``{'expected to pass': Counter, 'marked xfail': Counter}``.
    """
    out = {"expected to pass": collections.Counter(), "marked xfail": collections.Counter()}
    for entry in outcomes.values():
        out["marked xfail" if entry["xfail"] else "expected to pass"][entry["outcome"]] += 1
    return out


def summary(outcomes, against="muxlab"):
    """One line of counts, e.g. ``against muxlab: 390 of 415 tests passed; ...``."""
    c = counts(outcomes)
    plain, marked = c["expected to pass"], c["marked xfail"]
    return (
        f"against {against}: {plain['passed']} of {sum(plain.values())} tests passed, {plain['failed']} failed; "
        f"of the {sum(marked.values())} tests pescador marks xfail, {marked['xfailed']} failed as expected, "
        f"{marked['xpassed']} passed, {marked['failed']} failed otherwise"
    )


def load_expected():
    """The ``expected`` module next to this file: ``EXPECTED`` (test id -> group, reason, error) and ``GROUPS``."""
    spec = importlib.util.spec_from_file_location("pescador_suite_expected", SUITE / "expected.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def table(outcomes):
    """The README's table: rows ``(what, count)`` for the tests pescador expects to pass, then its xfail tests."""
    expected = load_expected()
    plain = {k: v for k, v in outcomes.items() if not v["xfail"]}
    failed = [k for k, v in plain.items() if v["outcome"] != "passed"]
    rows = [("passed", sum(v["outcome"] == "passed" for v in plain.values()))]
    for group, label in expected.GROUPS.items():
        rows.append((f"failed: {label}", sum(expected.EXPECTED.get(k, ("",))[0] == group for k in failed)))
    rows.append(("failed otherwise", sum(k not in expected.EXPECTED for k in failed)))
    rows.append(("tests pescador expects to pass", len(plain)))
    marked = [v["outcome"] for v in outcomes.values() if v["xfail"]]
    rows.append(("tests pescador marks xfail, failing as it expects", marked.count("xfailed")))
    rows.append(("tests pescador marks xfail, not failing as it expects", len(marked) - marked.count("xfailed")))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="muxlab", choices=("muxlab", "pescador"))
    args = parser.parse_args(argv)
    outcomes = run(args.against)
    for nodeid, entry in sorted(outcomes.items()):
        if entry["outcome"] not in ("passed", "xfailed"):
            print(f"{entry['outcome']:8} {nodeid}  {entry.get('error', '')}")
    print(summary(outcomes, args.against))
    if args.against == "muxlab":
        print()
        print("| pescador 3.0.0's tests of core, maps and mux, run against muxlab | tests |")
        print("| --- | ---: |")
        for what, n in table(outcomes):
            print(f"| {what} | {n} |")


if __name__ == "__main__":
    main()
