"""A pytest plugin that writes each test's outcome to the JSON file named by ``$PESCADOR_SUITE_OUTCOMES``.

For each test id: ``outcome`` (``passed``, ``failed``, ``skipped``,
``xfailed``: an expected failure that failed as expected, ``xpassed``: one
that passed), ``xfail`` (whether pescador marks the test as an expected
failure) and, for a failure, ``error``: the first line of the error.
"""

import json
import os

_outcomes = {}


def _error_line(report):
    text = str(report.longrepr or "")
    lines = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    if not lines:
        lines = [line.strip() for line in text.splitlines() if line.strip()][-1:] or [""]
    return lines[0][:300]


def pytest_runtest_logreport(report):
    if report.when != "call" and report.passed:
        return
    if report.nodeid in _outcomes and _outcomes[report.nodeid]["outcome"] != "passed":
        return  # keep the first problem (a teardown error after a failed call)
    if hasattr(report, "wasxfail"):
        outcome = "xfailed" if report.skipped else "xpassed"
    else:
        outcome = report.outcome
    entry = {"outcome": outcome, "xfail": "xfail" in report.keywords}
    if outcome == "failed":
        entry["error"] = _error_line(report)
    _outcomes[report.nodeid] = entry


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("PESCADOR_SUITE_OUTCOMES")
    if path:
        with open(path, "w") as f:
            json.dump(_outcomes, f, indent=1, sort_keys=True)
