"""A reusable save/load harness for pass states, in the spirit of torchdata's ``run_test_save_load_state``.

``run_test_save_load_state(make, ...)`` runs the pipeline ``make()`` builds
without interruption, then for every checkpoint ``m`` builds it again, takes
``m`` items (applying the same live changes at the same item numbers), takes
``state_dict()``, passes it through JSON, builds the pipeline a third time
and resumes: the items after ``m`` and the counters at the end must equal the
uninterrupted run's. ``resume_in_fresh_process`` does the resuming half in
a new Python process.

A pipeline is a mux, or ``(mux, wrap)`` where ``wrap(iterator)`` builds a map
over the mux's pass (its result must have ``state_dict()`` and resume through
``wrap.resume(mux, state)``).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parent


def plain(item):
    """An item as JSON types (arrays as lists), to compare items across processes."""
    if isinstance(item, dict):
        return {str(k): plain(v) for k, v in item.items()}
    if isinstance(item, (list, tuple)):
        return [plain(v) for v in item]
    if isinstance(item, np.ndarray):
        return {"array": item.tolist(), "dtype": item.dtype.str}
    if isinstance(item, np.generic):
        return item.item()
    return item


def counters(mux):
    """Every counter of ``mux`` and of the muxes nested in it, as JSON types."""
    from muxlab.mux.base import BaseMux

    out = {
        "activations": mux.stats.activations.tolist(),
        "samples": mux.stats.samples.tolist(),
        "retirements": dict(mux.stats.retirements),
        "passes": mux.stats.passes,
    }
    for i, s in enumerate(mux.streamers):
        inner = s if isinstance(s, BaseMux) else None
        if inner is not None:
            out[f"streamers[{i}]"] = counters(inner)
    return out


def live_params(mux):
    return {name: plain(getattr(mux, name)) for name in ("k", "lam", "weights") if hasattr(mux, name)}


def _take(mux, it, m, changes):
    """The first ``m`` items of ``it``, applying ``changes[i](mux)`` before item ``i`` is asked for."""
    items = []
    for i in range(m):
        if i in changes:
            changes[i](mux)
        try:
            items.append(next(it))
        except StopIteration:
            break
    return items


def reference(make, max_iter=None, changes=None):
    """The uninterrupted run: its items, its counters at the end and the item numbers where activations ended."""
    changes = changes or {}
    mux = make()
    retired = []
    if getattr(mux, "on_event", "absent") is None:
        mux.on_event = lambda e: retired.append(e.n) if e.kind == "retire" else None
    it = mux.iterate(max_iter=max_iter)
    items = _take(mux, it, 10**9 if max_iter is None else max_iter, changes)
    assert next(it, StopIteration) is StopIteration
    return items, counters(mux), sorted(set(retired))


def checkpoints(n_items, retired, changes):
    """The item numbers to checkpoint at: start, mid-activation, right at a retirement, right at and after a change, the end."""
    points = {0, 1, n_items // 2, max(n_items - 1, 0), n_items}
    for r in retired[:2] + retired[len(retired) // 2 : len(retired) // 2 + 1]:
        points |= {r, r + 1}
    for c in changes:
        points |= {c, c + 1, c + 2}  # c: the change is made after iterate(state=...), before the first item
    return sorted(p for p in points if 0 <= p <= n_items)


def save(make, m, max_iter=None, changes=None, exhaust=False):
    """Build the pipeline, take ``m`` items (all and then StopIteration if ``exhaust``), return (items, JSON state)."""
    changes = changes or {}
    mux = make()
    it = mux.iterate(max_iter=max_iter)
    items = _take(mux, it, m, changes)
    if exhaust:
        items += list(it)
    return items, json.dumps(it.state_dict())


def load(make, state_text, m=0, changes=None):
    """Build the pipeline again and resume from the JSON state taken after item ``m``: (items after it, counters, live parameters).

    Changes at item numbers from ``m`` on are applied as in the uninterrupted run.
    """
    mux = make()
    it = mux.iterate(state=json.loads(state_text))
    later = {i - m: change for i, change in (changes or {}).items() if i >= m}
    items = _take(mux, it, 10**9, later)
    return items, counters(mux), live_params(mux)


def same_items(a, b):
    return json.dumps(plain(a), sort_keys=True) == json.dumps(plain(b), sort_keys=True)


def run_test_save_load_state(make, max_iter=None, changes=None, points=None):
    """Check resume at every checkpoint in this process; returns the states taken (for a fresh-process check)."""
    changes = changes or {}
    items, final, retired = reference(make, max_iter, changes)
    points = checkpoints(len(items), retired, changes) if points is None else points
    states = []
    for m in points:
        before, state = save(make, m, max_iter, changes)
        assert same_items(before, items[:m]), f"the first {m} items differ from the uninterrupted run"
        after, got, _ = load(make, state, m, changes)
        assert same_items(before + after, items), (
            f"resumed at item {m}: items {m}.. differ from the uninterrupted run "
            f"(first difference at {_first_difference(before + after, items)})"
        )
        assert got == final, f"resumed at item {m}: counters differ from the uninterrupted run"
        states.append((m, state))
    # After exhaustion: nothing more, the same counters.
    before, state = save(make, 0, max_iter, changes, exhaust=True) if not changes else (None, None)
    if state is not None:
        after, got, _ = load(make, state)
        assert after == [] and got == final
    return items, final, states


def _first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if not same_items([x], [y]):
            return i
    return min(len(a), len(b))


def resume_in_fresh_process(jobs):
    """Resume each ``(case name, JSON state)`` in one new Python process; returns [(items, counters, live)] as JSON types."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run(
        [sys.executable, "-c", "import resume_cases; resume_cases.main()"],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)
