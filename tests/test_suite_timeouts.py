"""The suite's own guarantee: a test that never ends fails in bounded time, under the project's configuration.

A child ``python -m pytest`` runs the endless bodies of ``endless_bodies.py`` from the repository root,
so it reads ``pyproject.toml`` and ``tests/conftest.py`` like any run; only the timeout is short
(``TIMEOUT`` s, set by a marker there). A body that hangs in Python code, also inside Hypothesis, fails
and the run goes on to the next test; one stuck in C code that holds the GIL ends the process with
every thread's traceback. Each within twice the timeout of the moment the body started.
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 3.0
#: What the child may take besides the bodies: interpreter start-up and collection on a loaded machine.
STARTUP = 120.0
BODIES = ["test_python_loop", "test_python_loop_inside_hypothesis", "test_after_the_hangs", "test_c_loop_holding_the_gil"]


@pytest.mark.timeout(STARTUP + 20 * TIMEOUT)
def test_an_endless_test_fails_within_twice_its_timeout(tmp_path):
    stamps = tmp_path / "stamps"
    env = dict(os.environ, MUXLAB_ENDLESS_STAMPS=str(stamps), MUXLAB_ENDLESS_TIMEOUT=str(TIMEOUT))
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v"]
    args += [f"tests/endless_bodies.py::{name}" for name in BODIES]
    try:
        r = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=STARTUP + 10 * TIMEOUT)
    except subprocess.TimeoutExpired as exc:  # what this file exists to rule out
        pytest.fail(f"the child pytest did not end: {exc}")
    ended = time.monotonic()
    out = r.stdout + r.stderr
    started = dict(line.split() for line in stamps.read_text().splitlines()) if stamps.exists() else {}
    t = {name: float(v) for name, v in started.items()}
    assert list(t) == ["python_loop", "hypothesis", "after", "c_loop"], out

    # In Python code the alarm fails the test, also inside Hypothesis (which would otherwise run the
    # hung example again to shrink it), and the run goes on with the next test.
    outcomes = dict(re.findall(r"endless_bodies\.py::(\w+) (PASSED|FAILED)", r.stdout))
    assert outcomes == {"test_python_loop": "FAILED", "test_python_loop_inside_hypothesis": "FAILED",
                        "test_after_the_hangs": "PASSED"}, out
    assert t["hypothesis"] - t["python_loop"] < 2 * TIMEOUT
    assert t["after"] - t["hypothesis"] < 2 * TIMEOUT

    # C code holding the GIL runs no signal handler: the watchdog prints where every thread is
    # (on the real stderr, not pytest's capture) and ends the process.
    assert r.returncode == 1, out
    assert ended - t["c_loop"] < 2 * TIMEOUT
    assert "Timeout (" in r.stderr and "in test_c_loop_holding_the_gil" in r.stderr, r.stderr
