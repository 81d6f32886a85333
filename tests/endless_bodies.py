"""Tests that never end, run only by ``test_suite_timeouts.py`` in a child pytest (not collected otherwise).

Each body first writes ``time.monotonic()`` to the file named by ``MUXLAB_ENDLESS_STAMPS`` (one line
per body), so the parent measures from the moment the body started, not from interpreter start-up.
"""

import itertools
import os
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

STAMPS = os.environ.get("MUXLAB_ENDLESS_STAMPS")
pytestmark = [
    pytest.mark.skipif(STAMPS is None, reason="run by tests/test_suite_timeouts.py"),
    pytest.mark.timeout(float(os.environ.get("MUXLAB_ENDLESS_TIMEOUT", "3"))),
]


def started(name):
    with open(STAMPS, "a") as f:
        f.write(f"{name} {time.monotonic()!r}\n")


def test_python_loop():
    started("python_loop")
    while True:
        pass


@given(st.integers(0, 10))
def test_python_loop_inside_hypothesis(x):
    started("hypothesis")
    while x >= 0:
        pass


def test_after_the_hangs():
    started("after")


def test_c_loop_holding_the_gil():
    started("c_loop")
    sum(itertools.count())  # C code that never returns to the interpreter loop: no signal handler runs

