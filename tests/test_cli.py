import subprocess
import sys

import pytest

from muxlab.cli import main


def test_demo_prints_per_stream_counts(capsys):
    assert main(["demo", "--streams", "5", "--samples", "2000", "--k", "2", "--lam", "4"]) == 0
    out = capsys.readouterr().out
    assert "activations" in out and "2000 samples from 5 streams, k=2 lam=4" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "--k", "0"], "--k: k=0 is too small; expected an integer >= 1"),
        (["demo", "--k", "1.5"], "--k: k=1.5 is a float; expected an integer >= 1"),
        (["demo", "--lam", "0.5"], "--lam: lam=0.5 is not accepted"),
        (["demo", "--lam", "2e15"], "--lam: lam=2000000000000000.0 is not accepted; expected a finite number >= 1 (at most 1e+15)"),
        (["demo", "--lam", "abc"], "--lam: 'abc' is not a number"),
        (["demo", "--seed", "-2"], "--seed: seed=-2 is too small; expected an integer >= 0"),
        (["nosuch"], "invalid choice"),
    ],
)
def test_bad_flag_exits_2_with_one_line_and_no_traceback(argv, message):
    result = subprocess.run([sys.executable, "-m", "muxlab", *argv], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_the_cli_takes_its_limits_from_the_library(monkeypatch, capsys):
    import muxlab.mux.stochastic

    monkeypatch.setattr(muxlab.mux.stochastic, "MAX_RATE", 100.0)
    with pytest.raises(SystemExit) as exit:
        main(["demo", "--lam", "200"])
    assert exit.value.code == 2 and "lam=200.0 is not accepted; expected a finite number >= 1 (at most 100)" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], ["demo"]])
def test_help_on_every_command(command):
    result = subprocess.run([sys.executable, "-m", "muxlab", *command, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "usage: muxlab" in result.stdout
