"""pescador 3.0.0's own tests of core, maps and mux, run against muxlab through a ``pescador`` shim.

The suite is vendored in ``tests/pescador_suite/upstream`` and runs in a child
process (``tests/pescador_suite/run.py``), so the shim never shadows the real
pescador that other tests import. Every failure must be one of those listed,
with its reason, in ``tests/pescador_suite/expected.py``.
"""

import copy
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

from muxlab import ChainMux, RoundRobinMux, ShuffledMux, StochasticMux, Streamer

SUITE = Path(__file__).resolve().parent / "pescador_suite"
README = Path(__file__).resolve().parents[1] / "README.md"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"pescador_suite_{name}", SUITE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run = _load("run")
EXPECTED = run.load_expected().EXPECTED


@pytest.fixture(scope="module")
def outcomes():
    return run.run("muxlab", timeout=800)


def _readme_rows(header):
    """The ``(first cell, other cells)`` rows of the README table under the line starting with ``header``."""
    lines = README.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows.append((cells[0], cells[1:]))
    return rows


@pytest.mark.timeout(900)
def test_every_failure_is_an_expected_one_for_its_reason(outcomes):
    assert len(outcomes) == 520, "the vendored suite did not run whole"
    plain = {k: v for k, v in outcomes.items() if not v["xfail"]}
    assert len(plain) == 415
    failed = {k: v for k, v in plain.items() if v["outcome"] != "passed"}
    unexpected = sorted(set(failed) - set(EXPECTED))
    fixed = sorted(set(EXPECTED) - set(failed))
    assert not unexpected, f"failing and not expected: {[(k, failed[k].get('error')) for k in unexpected]}"
    assert not fixed, f"expected to fail but passed (update expected.py and the README): {fixed}"
    for nodeid, (group, reason, pattern) in EXPECTED.items():
        assert re.search(pattern, failed[nodeid]["error"]), (nodeid, failed[nodeid]["error"], reason)
    # Every test pescador marks as an expected failure fails, as its mark expects, against muxlab too.
    marked = {k: v["outcome"] for k, v in outcomes.items() if v["xfail"]}
    assert set(marked.values()) == {"xfailed"}, {k: v for k, v in marked.items() if v != "xfailed"}
    assert sum(v["outcome"] == "passed" for v in plain.values()) >= 390


@pytest.mark.timeout(900)
def test_readme_table_is_what_the_run_prints(outcomes):
    rows = _readme_rows("| pescador 3.0.0's tests of core, maps and mux, run against muxlab |")
    assert [(what, [str(n)]) for what, n in run.table(outcomes)] == rows


def test_the_shim_does_not_shadow_the_real_pescador():
    pescador = pytest.importorskip("pescador")
    assert pescador.__version__ == "3.0.0"
    assert "pescador_suite" not in pescador.__file__


MUXES = {
    "StochasticMux": lambda s, random_state: StochasticMux(s, n_active=10, rate=3, random_state=random_state),
    "ShuffledMux": lambda s, random_state: ShuffledMux(s, random_state=random_state),
    "RoundRobinMux": lambda s, random_state: RoundRobinMux(s, random_state=random_state),
    "ChainMux": lambda s, random_state: ChainMux(s, random_state=random_state),
}


def infinite_generator(size=2, offset=0):
    i = 0
    while True:
        yield {"X": np.tile(np.array([[i]]), (size, 1)) + offset}
        i += 1


@pytest.mark.parametrize("random_state", [None, 1, np.random.RandomState(10)], ids=["None", "1", "RandomState"])
@pytest.mark.parametrize("name", MUXES)
def test_pescador_deepcopy_test_without_its_rng_lines(name, random_state):
    """pescador's ``test_deepcopy__randomseed`` minus the lines that read its ``mux.rng``."""
    streamers = [Streamer(infinite_generator, offset=i * 10) for i in range(10)]
    mux = MUXES[name](streamers, copy.deepcopy(random_state))
    copy_mux = copy.deepcopy(mux)
    assert mux.streamers is not copy_mux.streamers
    assert len(mux.streamers) == len(copy_mux.streamers)
    if random_state is not None:
        sample1 = list(mux.iterate(30))
        sample2 = list(copy_mux.iterate(30))
        assert len(sample1) == len(sample2) == 30
        for a, b in zip(sample1, sample2):
            np.testing.assert_array_equal(a["X"], b["X"])


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_seed_dependent_tests_pass_for_as_many_seeds_as_with_pescador():
    pescador = pytest.importorskip("pescador")
    import muxlab

    seeds = _load("seeds")
    theirs, ours = seeds.pass_counts(pescador), seeds.pass_counts(muxlab)
    n = len(seeds.DISTS) * seeds.N_SEEDS
    passed_theirs = sum(theirs[d][0] for d in seeds.DISTS)
    passed_ours = sum(ours[d][0] for d in seeds.DISTS)
    # Two pass counts of n seeds each, at the pooled pass rate: two standard deviations of their difference.
    rate = (passed_theirs + passed_ours) / (2 * n)
    tolerance = 2 * np.sqrt(2 * n * rate * (1 - rate))
    assert abs(passed_ours - passed_theirs) <= tolerance, (passed_ours, passed_theirs, tolerance)
    # The README quotes these counts.
    rows = dict(_readme_rows("| lifetime distribution | pescador 3.0.0 | muxlab |"))
    for dist in seeds.DISTS:
        assert rows[dist] == [str(theirs[dist][0]), str(ours[dist][0])]
    assert rows["all"] == [str(passed_theirs), str(passed_ours)]
