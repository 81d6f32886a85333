"""The parameters of a comparison: one check, the same error from compare(), MemoryDashboard and the CLI."""

import pytest

import muxlab
from muxlab.cli import main
from muxlab.compare_params import CompareParams
from muxlab.widgets import MemoryDashboard

# (keyword arguments, CLI flags, error, message): each bad input once, through the three entry points.
BAD = [
    (dict(strategies=[]), ["--strategies", ""], muxlab.ParameterError, "strategies is empty"),
    (dict(strategies=["npz", "zip"]), ["--strategies", "npz,zip"], muxlab.ParameterError,
     "strategies='zip' is not known"),
    (dict(strategies=3), None, muxlab.ParameterTypeError, "strategies=3 is a int"),
    (dict(k=0), ["--k", "0"], muxlab.ParameterError, "k=0 is too small"),
    (dict(k=2.5), ["--k", "2.5"], muxlab.ParameterTypeError, "k=2.5 is a float"),
    (dict(lam=0.5), ["--lam", "0.5"], muxlab.ParameterError, "lam=0.5 is not accepted"),
    (dict(lam=float("nan")), ["--lam", "nan"], muxlab.ParameterError, "lam=nan is not accepted"),
    (dict(n=0), ["--n", "0"], muxlab.ParameterError, "n=0 is too small"),
    (dict(n=10_000), ["--n", "10000"], muxlab.DataError, "fewer than n=10000"),
    (dict(max_batches=0), ["--batches", "0"], muxlab.ParameterError, "max_batches=0 is too small"),
    (dict(retain=-1), ["--retain", "-1"], muxlab.ParameterError, "retain=-1 is too small"),
    (dict(cache="lukewarm"), ["--cache", "lukewarm"], muxlab.ParameterError, "cache='lukewarm' is not known"),
    (dict(random_state=-1), ["--seed", "-1"], muxlab.ParameterError, "random_state=-1 is too small"),
]
IDS = [next(iter(kwargs)) + "=" + repr(next(iter(kwargs.values()))) for kwargs, *_ in BAD]


@pytest.mark.parametrize("kwargs, flags, error, message", BAD, ids=IDS)
def test_a_bad_parameter_gets_the_same_error_from_compare_the_dashboard_and_the_cli(tiny, tmp_path, capsys, kwargs, flags,
                                                                                  error, message):
    with pytest.raises(error, match=message) as err:
        muxlab.compare(tiny, **kwargs)
    assert str(err.value).startswith("compare: ")
    with pytest.raises(error, match=message) as err:
        MemoryDashboard(tiny, **kwargs)
    assert str(err.value).startswith("MemoryDashboard: ")
    if flags is None:  # the CLI reads text: a list of strategies cannot be a number there
        return
    capsys.readouterr()
    try:
        code = main(["compare", str(tiny), "--quiet", "--out", str(tmp_path / "out"), *flags])
    except SystemExit as exc:  # argparse's exit on a bad flag
        code = exc.code
    stderr = capsys.readouterr().err
    assert code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1, stderr


def test_the_dashboard_does_not_clamp_n_and_checks_its_controls_at_run(tiny):
    longest = max(item.rows for item in muxlab.Collection.scan(tiny))
    with pytest.warns(muxlab.DataWarning, match=f"MemoryDashboard: left out 7 of 8 items with fewer than n={longest}"):
        d = MemoryDashboard(tiny, strategies=["npy_mmap"], n=longest, max_batches=10)
    try:
        assert d.params()["n"] == longest
        d.controls["n"].value = 0
        with pytest.raises(muxlab.ParameterError, match="MemoryDashboard: n=0 is too small"):
            d.run(wait=True)
        assert isinstance(d.error, muxlab.ParameterError) and not d.running
    finally:
        d.close()


def test_params_are_frozen_and_hold_the_checked_values():
    p = CompareParams(strategies="npz, npy_mmap", k=4, lam=8)
    assert (p.strategies, p.k, p.lam) == (("npz", "npy_mmap"), 4, 8.0) and type(p.lam) is float
    assert p.asdict()["strategies"] == ["npz", "npy_mmap"] and CompareParams().strategies is None
    with pytest.raises(AttributeError):
        p.k = 0
    with pytest.raises(muxlab.ParameterError, match="'depth' is not a parameter"):
        CompareParams.check("compare", "depth", 3)
