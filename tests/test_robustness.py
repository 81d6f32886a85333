"""Robustness: every wrong input gets a clear error, faults are survived or reported, data is never changed.

What is already tested elsewhere is not repeated here: the StochasticMux
constructor table of tests/test_stochastic_mux.py (BAD_ARGS), the live
assignments of tests/test_live_parameters.py, the bad-file tables of
tests/test_loaders.py and the CLI cases of tests/test_cli.py and
tests/test_comparison.py. This file adds the other mux classes, the ``Mux``
names (``k``/``lam``), more values, faults injected while a stream has a file
open, degenerate streams, and the guarantees about the user's files.
"""

import decimal
import gc
import io
import os
import pickle
import re
import signal
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
from streams import endless, endless_streams, finite_streams

import muxlab
from muxlab import ChainMux, Knob, Mux, RoundRobinMux, ShuffledMux, StochasticMux, Streamer, fixtures
from muxlab.cli import main
from muxlab.errors import DataError, MuxlabError, ParameterError, ParameterTypeError, StreamError
from muxlab.fixtures import ROW_BASE
from muxlab.loaders import STRATEGIES, sample_npz, sample_npz_cached, sample_npz_copy, streams

NAN, INF = float("nan"), float("inf")
NPZ_STRATEGIES = [name for name, s in STRATEGIES.items() if s.files == ("npz",)]
NPY_STRATEGIES = [name for name, s in STRATEGIES.items() if s.files == ("npy_x", "npy_y")]


def tiny_copy(tmp_path):
    """A fresh tiny collection in tmp_path (never the committed one): (root, [paths of each item])."""
    root = fixtures.make(tmp_path / "tiny", "tiny")
    items = fixtures.load_manifest(root)["items"]
    return root, [fixtures.item_paths(root, item) for item in items]


def check_message(exc, *parts):
    """The error is a MuxlabError (also a ValueError or TypeError) whose one-line message holds every part."""
    assert isinstance(exc, MuxlabError), type(exc)
    assert isinstance(exc, (ValueError, TypeError)), type(exc)
    message = str(exc)
    for part in parts:
        assert part in message, (part, message)
    # what is accepted: "expected ..." (one message says it as "is not a Streamer, an iterable or ...")
    assert "expected" in message or "is not a Streamer, an iterable or a generator function" in message, message


# --------------------------------------------------------------------------- bad parameters at construction


def make_mux(cls, **change):
    """A mux of class ``cls`` over three endless streams, with ``change`` applied to its arguments."""
    base = {
        "Mux": dict(streamers=endless_streams(3), k=2, lam=4),
        "StochasticMux": dict(streamers=endless_streams(3), n_active=2, rate=4),
        "ShuffledMux": dict(streamers=endless_streams(3)),
        "RoundRobinMux": dict(streamers=endless_streams(3)),
        "ChainMux": dict(streamers=endless_streams(3)),
    }[cls]
    base.update(change)
    return getattr(muxlab, cls)(**base)


# Arguments every mux class takes: (change, error class, parts the message must name)
COMMON_BAD = [
    (dict(streamers=None), ParameterTypeError, ["streamers=None", "not a collection"]),
    (dict(streamers=5), ParameterTypeError, ["streamers=5"]),
    (dict(streamers="abc"), ParameterTypeError, ["streamers='abc'"]),
    (dict(streamers=[]), ParameterError, ["streamers is empty"]),
    (dict(streamers=iter([])), ParameterError, ["streamers is empty"]),
    (dict(streamers=[Streamer("a"), None]), ParameterTypeError, ["streamers[1]=None"]),
    (dict(streamers=[Streamer("a"), 3.5]), ParameterTypeError, ["streamers[1]=3.5"]),
    (dict(random_state="seed"), ParameterTypeError, ["random_state='seed'"]),
    (dict(random_state=1.5), ParameterTypeError, ["random_state=1.5"]),
    (dict(random_state=-1), ParameterError, ["random_state=-1"]),
    (dict(random_state=True), ParameterTypeError, ["random_state=True"]),
    (dict(random_state=[1, 2]), ParameterTypeError, ["random_state=[1, 2]"]),
    (dict(on_error="ignore"), ParameterError, ["on_error='ignore'", "'raise', 'skip'"]),
    (dict(on_error=None), ParameterError, ["on_error=None"]),
    (dict(on_event=5), ParameterTypeError, ["on_event=5"]),
    (dict(on_event="print"), ParameterTypeError, ["on_event='print'"]),
]
# StochasticMux's own table (tests/test_stochastic_mux.py) already has these.
_COVERED_FOR_STOCHASTIC = {"streamers=5", "streamers is empty", "random_state='seed'", "random_state=-1",
                           "on_error='ignore'", "on_event=5"}

WEIGHTS_BAD = [
    (dict(weights=[1, 2]), ParameterError, ["weights has shape (2,)", "expected 3 numbers"]),
    (dict(weights=[1, 1, 1, 1]), ParameterError, ["weights has shape (4,)", "expected 3 numbers"]),
    (dict(weights=[[1, 1, 1]]), ParameterError, ["weights has shape (1, 3)"]),
    (dict(weights=3), ParameterError, ["weights has shape ()"]),
    (dict(weights=[1, -1, 1]), ParameterError, ["weights[1]=-1.0", "negative"]),
    (dict(weights=[-1, -1, -1]), ParameterError, ["weights[0]=-1.0", "negative (3 such entries)"]),
    (dict(weights=[1, NAN, 1]), ParameterError, ["weights[1]=nan", "expected finite numbers"]),
    (dict(weights=[1, INF, 1]), ParameterError, ["weights[1]=inf", "expected finite numbers"]),
    (dict(weights=[1, None, 1]), ParameterError, ["weights[1]=nan"]),
    (dict(weights=[0, 0, 0]), ParameterError, ["weights are all zero"]),
    (dict(weights=np.array([0.0, -0.0, 0.0])), ParameterError, ["weights are all zero"]),
    (dict(weights=["a", "b", "c"]), ParameterTypeError, ["weights=['a', 'b', 'c']", "not a sequence of numbers"]),
    (dict(weights={0: 1, 1: 1, 2: 1}), ParameterTypeError, ["weights={0: 1", "not a sequence of numbers"]),
    (dict(weights=[1j, 1, 1]), ParameterTypeError, ["weights=[1j, 1, 1]"]),
]
_WEIGHTS_COVERED_FOR_STOCHASTIC = {"weights has shape (2,)", "weights[1]=-1.0", "weights[1]=nan",
                                   "weights are all zero"}


def _k_lam_bad(k, lam):
    """Bad k / lam values, with the names a class uses for them."""
    return [
        ({k: 0}, ParameterError, [f"{k}=0 is too small", ">= 1"]),
        ({k: -1}, ParameterError, [f"{k}=-1 is too small"]),
        ({k: 2.5}, ParameterTypeError, [f"{k}=2.5 is a float", "integer"]),
        ({k: True}, ParameterTypeError, [f"{k}=True is a bool"]),
        ({k: None}, ParameterTypeError, [f"{k}=None"]),
        ({k: "2"}, ParameterTypeError, [f"{k}='2' is a str"]),
        ({k: np.float64(2.0)}, ParameterTypeError, [f"{k}=np.float64(2.0)"]),
        ({k: [2]}, ParameterTypeError, [f"{k}=[2] is a list"]),
        ({lam: 0}, ParameterError, [f"{lam}=0.0 is not accepted", "finite number >= 1 or None"]),
        ({lam: -1}, ParameterError, [f"{lam}=-1.0"]),
        ({lam: 0.999}, ParameterError, [f"{lam}=0.999"]),
        ({lam: NAN}, ParameterError, [f"{lam}=nan"]),
        ({lam: np.float32("nan")}, ParameterError, [f"{lam}=nan"]),
        ({lam: INF}, ParameterError, [f"{lam}=inf"]),
        ({lam: -INF}, ParameterError, [f"{lam}=-inf"]),
        ({lam: True}, ParameterTypeError, [f"{lam}=True is a bool"]),
        ({lam: "16"}, ParameterTypeError, [f"{lam}='16' is a str"]),
        ({lam: 1j}, ParameterTypeError, [f"{lam}=1j is a complex"]),
        ({lam: decimal.Decimal("4")}, ParameterTypeError, [f"{lam}=Decimal('4')"]),
        ({lam: [4]}, ParameterTypeError, [f"{lam}=[4] is a list"]),
    ]


_K_LAM_COVERED_FOR_STOCHASTIC = {"n_active=0 is too small", "n_active=2.5 is a float", "n_active=True is a bool",
                                 "rate=0.0 is not accepted", "rate=nan", "rate=inf", "rate='16' is a str"}

STOCHASTIC_ONLY_BAD = [
    (dict(mode="EXHAUSTIVE"), ParameterError, ["mode='EXHAUSTIVE' is not known", "'exhaustive'"]),
    (dict(mode=""), ParameterError, ["mode='' is not known"]),
    (dict(mode=["exhaustive"]), ParameterError, ["mode=['exhaustive']"]),
    (dict(dist=None), ParameterError, ["dist=None is not known", "'binomial'"]),
    (dict(dist="Poisson"), ParameterError, ["dist='Poisson'"]),
    (dict(dist="uniform"), ParameterError, ["dist='uniform'"]),
    (dict(mode="single_active", K=4), ParameterError, ["K=4 is more than the 3 streams", "mode='single_active'"]),
    (dict(mode="exhaustive", K=4), ParameterError, ["K=4 is more than the 3 streams", "mode='exhaustive'"]),
    (dict(mode="single_active", K=100), ParameterError, ["K=100"]),
]

ORDERED_MODE_BAD = {
    "RoundRobinMux": [
        (dict(mode=None), ParameterError, ["mode=None", "'exhaustive', 'cycle', 'permuted_cycle'"]),
        (dict(mode="Cycle"), ParameterError, ["mode='Cycle'"]),
        (dict(mode=3), ParameterError, ["mode=3"]),
    ],
    "ChainMux": [
        (dict(mode=None), ParameterError, ["mode=None", "'exhaustive', 'cycle'"]),
        (dict(mode="random"), ParameterError, ["mode='random'"]),
        (dict(mode="with_replacement"), ParameterError, ["mode='with_replacement'"]),
    ],
}


def _stochastic_cases(cls, k, lam):
    cases = []
    for change, error, parts in _k_lam_bad(k, lam) + WEIGHTS_BAD + STOCHASTIC_ONLY_BAD + COMMON_BAD:
        if "K" in change:
            change = {k if key == "K" else key: value for key, value in change.items()}
            parts = [part.replace("K=", f"{k}=") for part in parts]
        if cls == "StochasticMux" and (
            parts[0] in _COVERED_FOR_STOCHASTIC
            or parts[0] in _WEIGHTS_COVERED_FOR_STOCHASTIC
            or parts[0] in _K_LAM_COVERED_FOR_STOCHASTIC
        ):
            continue
        cases.append((cls, change, error, parts))
    return cases


CONSTRUCTION_CASES = (
    _stochastic_cases("Mux", "k", "lam")
    + _stochastic_cases("StochasticMux", "n_active", "rate")
    + [("ShuffledMux", *case) for case in WEIGHTS_BAD + COMMON_BAD]
    + [("RoundRobinMux", *case) for case in ORDERED_MODE_BAD["RoundRobinMux"] + COMMON_BAD]
    # An empty ChainMux is an empty stream, as in pescador (tests/test_ordered_muxes.py).
    + [("ChainMux", *case) for case in ORDERED_MODE_BAD["ChainMux"] + COMMON_BAD if case[2] != ["streamers is empty"]]
)


def _case_id(case):
    cls, change, _, parts = case
    return f"{cls}-{parts[0]}"


@pytest.mark.parametrize("cls, change, error, parts", CONSTRUCTION_CASES, ids=[_case_id(c) for c in CONSTRUCTION_CASES])
def test_bad_argument_at_construction_names_parameter_value_and_what_is_accepted(cls, change, error, parts):
    with pytest.raises(error) as info:
        make_mux(cls, **change)
    check_message(info.value, cls + ":", *parts)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("change", ["seed_sequence", "long_weights"])
def test_messages_stay_short_and_on_one_line_for_big_values(change):
    if change == "seed_sequence":
        kwargs = dict(streamers=endless_streams(3), k=2, lam=4, random_state=np.random.SeedSequence(0))
    else:
        weights = np.ones(10_000)
        weights[17] = NAN
        kwargs = dict(streamers=endless_streams(10_000), k=2, lam=4, weights=weights)
    try:
        Mux(**kwargs)
    except MuxlabError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 400, str(exc)[:500]


def test_numpy_scalars_and_unusual_but_valid_arguments_are_accepted():
    mux = Mux(endless_streams(3), k=np.int64(2), lam=np.float32(3.5), weights=np.array([1, 2, 1], dtype=np.int8),
              random_state=np.int64(5))
    assert (mux.k, mux.lam) == (2, 3.5) and isinstance(mux.k, int)
    np.testing.assert_allclose(mux.weights, [0.25, 0.5, 0.25])
    assert len(list(mux(max_iter=50))) == 50
    # k larger than the number of streams is allowed with replacement: slots share streams.
    wide = Mux(endless_streams(3), k=7, lam=2, random_state=0)
    it = iter(wide)
    next(it)
    assert len(wide.stats.active) == 7


# --------------------------------------------------------------------------- bad values assigned to a running mux

# (name, value, what the message shows); k and lam are shown under the class's own names.
LIVE_BAD = [
    ("k", -1, "K=-1 is too small"), ("k", 2.5, "K=2.5 is a float"), ("k", True, "K=True is a bool"),
    ("k", None, "K=None is a NoneType"), ("k", "3", "K='3' is a str"), ("k", np.float64(3.0), "K=np.float64(3.0)"),
    ("n_active", 0, "K=0 is too small"), ("n_active", 1.5, "K=1.5 is a float"),
    ("lam", 0.5, "L=0.5 is not accepted"), ("lam", -1, "L=-1.0 is not accepted"), ("lam", INF, "L=inf"),
    ("lam", -INF, "L=-inf"), ("lam", True, "L=True is a bool"), ("lam", "4", "L='4' is a str"),
    ("lam", 1j, "L=1j is a complex"), ("rate", 0, "L=0.0 is not accepted"), ("rate", NAN, "L=nan"),
    ("weights", [1, 1, 1, 1, 1], "weights has shape (5,); expected 4 numbers"),
    ("weights", [[1, 1, 1, 1]], "weights has shape (1, 4)"),
    ("weights", [1, -1, 1, 1], "weights[1]=-1.0 is negative"),
    ("weights", [1, NAN, 1, 1], "weights[1]=nan (1 such entries); expected finite numbers"),
    ("weights", [1, INF, 1, 1], "weights[1]=inf (1 such entries); expected finite numbers"),
    ("weights", [0, 0, 0, 0], "weights are all zero"),
    ("weights", ["a", "b", "c", "d"], "weights=['a', 'b', 'c', 'd'] is not a sequence of numbers"),
    ("weights", 7, "weights has shape ()"),
]
_NAMES = {"Mux": ("k", "lam"), "StochasticMux": ("n_active", "rate")}


def _running(cls, mode="with_replacement", lam=3):
    if cls == "Mux":
        mux = Mux(endless_streams(4), k=2, lam=lam, mode=mode, random_state=0)
    else:
        mux = StochasticMux(endless_streams(4), 2, lam, mode=mode, random_state=0)
    it = iter(mux)
    for _ in range(10):
        next(it)
    return mux, it


@pytest.mark.parametrize("cls", ["Mux", "StochasticMux"])
@pytest.mark.parametrize("name, value, shown", LIVE_BAD, ids=[f"{n}={v!r}" for n, v, _ in LIVE_BAD])
def test_bad_live_value_raises_at_assignment_and_the_run_goes_on_with_the_old_one(cls, name, value, shown):
    mux, it = _running(cls)
    before = (mux.k, mux.lam, mux.weights.tolist())
    with pytest.raises(MuxlabError) as info:
        setattr(mux, name, value)
    k, lam = _NAMES[cls]
    check_message(info.value, f"{cls}: " + shown.replace("K=", f"{k}=").replace("L=", f"{lam}="))
    assert (mux.k, mux.lam, mux.weights.tolist()) == before
    for _ in range(300):
        next(it)
        assert len(mux.stats.active) == 2
    assert mux.stats.samples.sum() == 310
    it.close()


@pytest.mark.parametrize("mode", ["single_active", "exhaustive"])
@pytest.mark.parametrize("cls", ["Mux", "StochasticMux"])
def test_more_slots_than_streams_is_refused_live_in_one_slot_per_stream_modes(cls, mode):
    mux, it = _running(cls, mode=mode, lam=1000)
    name = "k" if cls == "Mux" else "n_active"
    with pytest.raises(ParameterError) as info:
        mux.k = 5
    check_message(info.value, f"{name}=5 is more than the 4 streams", f"mode={mode!r}")
    assert mux.k == 2
    next(it)
    assert len(mux.stats.active) == 2


@pytest.mark.parametrize("dist", ["binomial", "poisson", "constant"])
def test_a_huge_lam_is_refused_by_name_or_works(dist):
    try:
        mux = Mux(endless_streams(3), k=2, lam=1e300, dist=dist, random_state=0)
    except ParameterError as exc:
        check_message(exc, "lam=1e+300")
    else:
        assert len(list(mux(max_iter=20))) == 20
    mux = Mux(endless_streams(3), k=2, lam=4, dist=dist, random_state=0)
    it = iter(mux)
    next(it)
    try:
        mux.lam = 1e19
    except ParameterError as exc:
        check_message(exc, "lam=1e+19")
    for _ in range(100):
        next(it)  # the run goes on either way


@pytest.mark.parametrize("name, value", [("dist", "uniform"), ("mode", "bogus")])
def test_an_unknown_mode_or_dist_assigned_live_is_refused(name, value):
    mux = Mux(endless_streams(4), k=4, lam=2, random_state=0)
    it = iter(mux)
    next(it)
    old = getattr(mux, name)
    with pytest.raises((MuxlabError, AttributeError)):
        setattr(mux, name, value)
    assert getattr(mux, name) == old
    for _ in range(2000):
        next(it)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_huge_finite_weights_keep_their_proportions():
    weights = [1e308, 1e308, 1.0]
    stochastic = StochasticMux(endless_streams(3), 1, 2, weights=weights, random_state=0)
    shares = np.bincount(list(stochastic(max_iter=3000)), minlength=3) / 3000
    assert shares[2] < 0.01
    shuffled = ShuffledMux(endless_streams(3), weights=weights, random_state=0)
    assert len(list(shuffled(max_iter=100))) == 100


# --------------------------------------------------------------------------- bad loader arguments not covered elsewhere


@pytest.mark.parametrize("name", list(STRATEGIES))
@pytest.mark.parametrize(
    "kwargs, error, parts",
    [
        (dict(n=Knob("8")), ParameterTypeError, ["n=Knob('8')", "n='8' is a str"]),
        (dict(n=Knob(None)), ParameterTypeError, ["n=None is a NoneType"]),
        (dict(n=Knob(2.5)), ParameterTypeError, ["n=2.5 is a float"]),
        (dict(n=Knob(-4)), ParameterError, ["n=-4 is too small"]),
        (dict(random_state=1.5), ParameterTypeError, ["random_state=1.5 (float)"]),
        (dict(random_state=True), ParameterTypeError, ["random_state=True (bool)"]),
        (dict(random_state=-2), ParameterError, ["random_state=-2 is negative"]),
        (dict(random_state="0"), ParameterTypeError, ["random_state='0' (str)"]),
    ],
    ids=["knob-str", "knob-none", "knob-float", "knob-negative", "rs-float", "rs-bool", "rs-negative", "rs-str"],
)
def test_every_loader_refuses_bad_n_and_random_state_at_the_first_next(name, kwargs, error, parts):
    strategy = STRATEGIES[name]
    paths = fixtures.item_paths(fixtures.PACKAGED_TINY, fixtures.load_manifest(fixtures.PACKAGED_TINY)["items"][0])
    args = [paths[kind] for kind in strategy.files]
    gen = strategy.function(*args, kwargs.get("n", 8), random_state=kwargs.get("random_state"))
    with pytest.raises(error) as info:
        next(gen)
    check_message(info.value, f"{strategy.function.__name__}(", *parts)


@pytest.mark.parametrize(
    "args, error, parts",
    [
        ((None, "root", 8), ParameterError, ["strategy=None is not known", "'npz', 'npz_copy'"]),
        (("NPZ", "root", 8), ParameterError, ["strategy='NPZ'"]),
        ((5, "root", 8), ParameterError, ["strategy=5"]),
        (("npz", None, 8), ParameterTypeError, ["root=None is a NoneType", "folder path"]),
        (("npz", "root", Knob("8")), ParameterTypeError, ["n='8' is a str"]),
        (("npz", "root", [8]), ParameterTypeError, ["n=[8] is a list"]),
    ],
)
def test_streams_refuses_bad_arguments_by_name(args, error, parts):
    args = tuple(fixtures.PACKAGED_TINY if a == "root" else a for a in args)
    with pytest.raises(error) as info:
        streams(*args)
    check_message(info.value, *parts)


def test_a_knob_set_to_a_non_integer_mid_stream_fails_at_the_next_window_by_name():
    paths = fixtures.item_paths(fixtures.PACKAGED_TINY, fixtures.load_manifest(fixtures.PACKAGED_TINY)["items"][0])
    for name, strategy in STRATEGIES.items():
        n = Knob(8)
        it = iter(strategy(paths, n, random_state=0))
        assert len(next(it)["X"]) == 8
        n.value = "4"
        with pytest.raises(ParameterTypeError) as info:
            next(it)
        check_message(info.value, f"{strategy.function.__name__}(", "n='4' is a str")


# --------------------------------------------------------------------------- bad files not covered in test_loaders


def npy_bytes(array, version=None):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, version=version, allow_pickle=True)
    return buf.getvalue()


def header_only(shape, body=b"\0" * 96):
    """An .npy header promising ``shape`` float32, followed by ``body`` only."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": shape})
    return buf.getvalue() + body


class SideEffect:
    """Unpickling this creates a folder: visible proof that something was unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def write_zip(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return str(path)


X8, Y8 = np.zeros((50, 3), np.float32), np.arange(50)


def bad_file(tmp_path, case):
    """(kind, path(s), message part) for one broken file; kind is 'npz' or 'npy'."""
    good_y = tmp_path / "good.Y.npy"
    good_y.write_bytes(npy_bytes(Y8))
    x = tmp_path / f"{case}.X.npy"
    npz = tmp_path / f"{case}.npz"
    if case == "npy_folder":
        x.mkdir()
        return "npy", (str(x), str(good_y)), "is not a file"
    if case == "npy_fifo":  # opening a FIFO to read it would block forever
        os.mkfifo(x)
        return "npy", (str(x), str(good_y)), "is not a file"
    if case == "npz_fifo":
        os.mkfifo(npz)
        return "npz", (str(npz),), "is not a file"
    if case == "npy_dangling_symlink":
        x.symlink_to(tmp_path / "gone.npy")
        return "npy", (str(x), str(good_y)), "not found"
    if case == "npy_zero_d":
        x.write_bytes(npy_bytes(np.float32(1)))
        return "npy", (str(x), str(good_y)), "0-d array"
    if case == "npy_version_3":
        x.write_bytes(npy_bytes(X8, version=(3, 0)))
        return "npy", (str(x), str(good_y)), "format version (3, 0) is not supported"
    if case == "npy_huge_shape":
        x.write_bytes(header_only((10**13, 3)))
        return "npy", (str(x), str(good_y)), "promises 120000000000000 bytes of data"
    if case == "npz_huge_shape":
        return "npz", (write_zip(npz, {"X.npy": header_only((10**13, 3)), "Y.npy": npy_bytes(Y8)}),), (
            "promises 120000000000000 bytes of data")
    if case == "npy_zero_rows":
        y0 = tmp_path / "y0.npy"
        y0.write_bytes(npy_bytes(np.arange(0)))
        x.write_bytes(npy_bytes(np.zeros((0, 3), np.float32)))
        return "npy", (str(x), str(y0)), "'X' has 0 rows, fewer than n=4"
    if case == "npz_empty_archive":
        return "npz", (write_zip(npz, {}),), "no array 'X' in the archive (it holds nothing)"
    if case == "npy_raw_pickle":
        x.write_bytes(pickle.dumps(SideEffect(tmp_path / "UNPICKLED")))
        return "npy", (str(x), str(good_y)), "the magic string is not correct"
    if case == "npz_raw_pickle_member":
        members = {"X": pickle.dumps(SideEffect(tmp_path / "UNPICKLED")), "Y.npy": npy_bytes(Y8)}
        return "npz", (write_zip(npz, members),), "the magic string is not correct"
    if case == "npz_pickled_object_y":
        obj = np.empty(50, dtype=object)
        obj[:] = [SideEffect(tmp_path / "UNPICKLED")] * 50
        return "npz", (write_zip(npz, {"X.npy": npy_bytes(X8), "Y.npy": npy_bytes(obj)}),), "'Y' has dtype object"
    raise AssertionError(case)


BAD_FILES = [
    "npy_folder", "npy_fifo", "npz_fifo", "npy_dangling_symlink", "npy_zero_d", "npy_version_3", "npy_huge_shape",
    "npz_huge_shape", "npy_zero_rows", "npz_empty_archive", "npy_raw_pickle", "npz_raw_pickle_member",
    "npz_pickled_object_y",
]


@pytest.mark.timeout(20)
@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_file_is_refused_by_every_loader_of_its_kind_naming_the_file(tmp_path, case):
    kind, paths, part = bad_file(tmp_path, case)
    names = NPZ_STRATEGIES if kind == "npz" else NPY_STRATEGIES
    for name in names:
        func = STRATEGIES[name].function
        with pytest.raises(DataError) as info:
            next(func(*paths, 4))
        message = str(info.value)
        shown = ", ".join(repr(p) for p in paths)
        assert message.startswith(f"{func.__name__}({shown}, n=4): "), message
        assert part in message, message
    assert not (tmp_path / "UNPICKLED").exists()


def test_a_pickled_member_the_loaders_do_not_use_is_never_unpickled(tmp_path):
    obj = np.empty(3, dtype=object)
    obj[:] = [SideEffect(tmp_path / "UNPICKLED")] * 3
    npz = write_zip(tmp_path / "extra.npz", {"X.npy": npy_bytes(X8), "Y.npy": npy_bytes(Y8), "Z.npy": npy_bytes(obj)})
    for func in (sample_npz, sample_npz_copy, sample_npz_cached):
        batches = [b for _, b in zip(range(20), func(npz, 4, random_state=0))]
        assert all(b["X"].shape == (4, 3) for b in batches)
    assert not (tmp_path / "UNPICKLED").exists()
    # the payload is live: numpy with pickles allowed runs it
    np.load(npz, allow_pickle=True)["Z"]
    assert (tmp_path / "UNPICKLED").is_dir()


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_compressed_npz_members_stream_correctly(tmp_path, compression):
    X = np.arange(150, dtype=np.float32).reshape(50, 3)
    npz = write_zip(tmp_path / "c.npz", {"X.npy": npy_bytes(X), "Y.npy": npy_bytes(Y8)}, compression)
    for func in (sample_npz, sample_npz_copy, sample_npz_cached):
        for _, batch in zip(range(10), func(npz, 5, random_state=1)):
            np.testing.assert_array_equal(batch["X"], X[batch["Y"]])


# --------------------------------------------------------------------------- faults while a stream has the file open


def original(index):
    return fixtures.item_arrays("tiny", index)


def assert_window_of(batch, index):
    """A window is contiguous rows of item ``index`` with the original values."""
    X_full, _ = original(index)
    Y = batch["Y"]
    assert np.all(Y // ROW_BASE == index)
    np.testing.assert_array_equal(np.diff(Y), 1)
    np.testing.assert_array_equal(batch["X"], X_full[Y % ROW_BASE])


@pytest.mark.parametrize("cut", ["to_zero", "to_100_bytes", "to_half", "flip_a_data_byte"])
@pytest.mark.parametrize("name", ["npz", "npz_copy"])
def test_an_npz_truncated_or_changed_while_open_fails_at_the_next_window_naming_the_file(tmp_path, name, cut):
    _, paths = tiny_copy(tmp_path)
    path = paths[0]["npz"]
    func = STRATEGIES[name].function.__name__
    it = iter(STRATEGIES[name](paths[0], 16, random_state=0))
    assert_window_of(next(it), 0)
    size = os.path.getsize(path)
    if cut == "flip_a_data_byte":
        with open(path, "r+b") as f:
            f.seek(1000)  # inside X's data
            byte = f.read(1)
            f.seek(1000)
            f.write(bytes([byte[0] ^ 0xFF]))
    else:
        os.truncate(path, {"to_zero": 0, "to_100_bytes": 100, "to_half": size // 2}[cut])
    with pytest.raises(DataError) as info:
        next(it)
    assert str(info.value).startswith(f"{func}({path!r}, n=16): reading failed ("), str(info.value)
    # The next activation is refused before reading, also naming the file.
    with pytest.raises(DataError, match=re.escape(path)):
        next(iter(STRATEGIES[name](paths[0], 16)))


def test_npz_cached_keeps_streaming_its_copy_after_the_file_is_truncated(tmp_path):
    _, paths = tiny_copy(tmp_path)
    it = iter(STRATEGIES["npz_cached"](paths[0], 16, random_state=0))
    next(it)
    os.truncate(paths[0]["npz"], 0)
    for _ in range(300):
        assert_window_of(next(it), 0)
    with pytest.raises(DataError) as info:
        next(iter(STRATEGIES["npz_cached"](paths[0], 16)))
    assert paths[0]["npz"] in str(info.value) and "not a readable zip archive" in str(info.value)


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_a_file_deleted_while_open_keeps_its_activation_going_and_the_next_one_says_not_found(tmp_path, name):
    """POSIX keeps an unlinked file alive while it is open or mapped: the activation reads the old bytes."""
    _, paths = tiny_copy(tmp_path)
    strategy = STRATEGIES[name]
    it = iter(strategy(paths[3], 16, random_state=0))
    held = next(it)
    for kind in strategy.files:
        os.unlink(paths[3][kind])
    for _ in range(300):
        assert_window_of(next(it), 3)
    assert_window_of(held, 3)
    with pytest.raises(DataError) as info:
        next(iter(strategy(paths[3], 16)))
    assert f"file {paths[3][strategy.files[0]]!r} not found" in str(info.value)


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_a_deleted_item_is_retired_with_its_error_under_skip_and_the_run_goes_on(tmp_path, name):
    root, paths = tiny_copy(tmp_path)
    mux = Mux(streams(name, root, 16, random_state=0), k=4, lam=4, on_error="skip", random_state=0)
    it = iter(mux)
    yielded = 0
    for _ in range(200):
        next(it)
        yielded += 1
    for kind in STRATEGIES[name].files:
        os.unlink(paths[2][kind])
    for _ in range(3000):
        batch = next(it)
        yielded += 1
        assert batch["X"].shape == (16, 8)
    assert mux.stats.samples.sum() == yielded
    errors = mux.stats.errors
    assert len(errors) == 1 and mux.stats.retirements["error"] == 1  # then pruned: never activated again
    stream, exc = errors[0]
    assert stream == 2 and isinstance(exc, DataError) and "item002" in str(exc) and "not found" in str(exc)
    assert any("raised by stream 2 of Mux" in note for note in exc.__notes__)
    activations = mux.stats.activations[2]
    for _ in range(1000):
        next(it)
    assert mux.stats.activations[2] == activations
    it.close()


def test_a_deleted_item_reaches_the_consumer_with_the_stream_named_by_default(tmp_path):
    root, paths = tiny_copy(tmp_path)
    mux = Mux(streams("npz_copy", root, 16, random_state=0), k=2, lam=2, random_state=0)
    os.unlink(paths[5]["npz"])
    with pytest.raises(DataError) as info:
        for _ in mux(max_iter=5000):
            pass
    assert paths[5]["npz"] in str(info.value)
    notes = info.value.__notes__
    assert len(notes) == 1 and notes[0].startswith("raised by stream 5 of Mux: Streamer(sample_npz_copy(")
    assert mux.stats.running == 0 and len(mux.stats.active) == 0


def test_the_note_of_a_failing_loader_stream_names_its_file_on_one_line(tmp_path):
    root, paths = tiny_copy(tmp_path)
    mux = Mux(streams("npz_copy", root, 16, random_state=0), k=2, lam=2, random_state=0)
    os.unlink(paths[5]["npz"])
    with pytest.raises(DataError) as info:
        list(mux(max_iter=5000))
    note = info.value.__notes__[0]
    assert "item005.npz" in note and "\n" not in note, note


# Memory-mapped files: truncating a file under a live map makes the next access to a page past
# the new end a SIGBUS, which kills the interpreter. These run in a child process.
MMAP_CHILD = textwrap.dedent(
    """
    import gc, os, sys
    import numpy as np
    from muxlab import fixtures, loaders
    from muxlab.errors import DataError

    root, name, scenario = sys.argv[1:4]
    fixtures.make(root, "tiny")
    paths = fixtures.item_paths(root, fixtures.load_manifest(root)["items"][0])
    strategy = loaders.STRATEGIES[name]
    x = paths["npy_x"]
    gen = iter(strategy(paths, 16, random_state=0))
    held = next(gen)
    if scenario == "between_activations":
        gen.close(); del gen, held; gc.collect()
        os.truncate(x, 200)
        try:
            next(iter(strategy(paths, 16)))
        except DataError as exc:
            print("DATAERROR", exc)
    elif scenario == "replaced_atomically":
        X, Y = fixtures.item_arrays("tiny", 0)
        tmp = x + ".new"
        np.save(tmp, X[:50] + 1)  # a different, shorter file put in its place
        os.replace(tmp + ".npy", x)
        np.save(tmp, Y[:50])
        os.replace(tmp + ".npy", paths["npy_y"])
        windows = [next(gen) for _ in range(500)] + [held]
        ok = all(np.array_equal(w["X"], X[w["Y"] % fixtures.ROW_BASE]) for w in windows)
        print("OLD-BYTES", ok)
        fresh = next(iter(strategy(paths, 16, random_state=0)))
        rows = fresh["Y"] % fixtures.ROW_BASE
        print("NEW-FILE", int(rows.max()) < 50 and np.array_equal(fresh["X"], X[rows] + 1))
    elif scenario == "next_window_after_truncation":
        os.truncate(x, 0)
        try:
            batch = next(gen)
        except DataError as exc:
            print("DATAERROR", exc)
        else:
            print("GOT-A-WINDOW", flush=True)
            float(batch["X"].sum())
    elif scenario == "held_batch_after_truncation":
        more = [next(gen) for _ in range(100)]
        os.truncate(x, 0)
        print("LOADER-OK", flush=True)  # slicing a map touches no page
        float(held["X"].sum())  # the consumer reads a page past the end of the file
        print("READ-OK")
    print("EXIT-OK")
    """
)


def run_mmap_child(tmp_path, name, scenario):
    return subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", MMAP_CHILD, str(tmp_path / "tiny"), name, scenario],
        capture_output=True, text=True, timeout=60,
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", NPY_STRATEGIES)
def test_a_mapped_file_truncated_between_activations_is_refused_at_activation_without_a_crash(tmp_path, name):
    r = run_mmap_child(tmp_path, name, "between_activations")
    assert r.returncode == 0, r.stderr
    x = str(tmp_path / "tiny" / "npy" / "item000.X.npy")
    assert f"DATAERROR {STRATEGIES[name].function.__name__}({x!r}" in r.stdout
    assert "'X' is truncated: its header promises 9600 bytes of data" in r.stdout


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", NPY_STRATEGIES)
def test_a_mapped_file_replaced_atomically_keeps_the_old_bytes_until_the_next_activation(tmp_path, name):
    """What fixtures.make does (write a temporary file, os.replace): safe under a live map."""
    r = run_mmap_child(tmp_path, name, "replaced_atomically")
    assert r.returncode == 0, r.stderr
    assert "OLD-BYTES True" in r.stdout and "NEW-FILE True" in r.stdout


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", NPY_STRATEGIES)
def test_reading_a_held_mmap_batch_after_its_file_was_truncated_is_a_sigbus(tmp_path, name):
    """Documents the one fault muxlab cannot turn into an error: the read happens in the consumer's code,
    on a page the kernel no longer backs. The loader itself keeps working (slicing touches no page), and
    with faulthandler enabled the crash prints the consumer's line."""
    r = run_mmap_child(tmp_path, name, "held_batch_after_truncation")
    assert r.returncode == -signal.SIGBUS, (r.returncode, r.stdout, r.stderr)
    assert "LOADER-OK" in r.stdout and "READ-OK" not in r.stdout
    assert "Fatal Python error: Bus error" in r.stderr and 'File "<string>", line' in r.stderr


@pytest.mark.timeout(60)
@pytest.mark.xfail(strict=True, reason=(
    "LIMITATION: after a mapped file is truncated, the npy loaders keep handing out views into the map, and "
    "the consumer's first read is a SIGBUS that kills the process without naming the file. Fix (in "
    "loaders.py, about 0.3 us per file per window): compare the map's file size (mmap.size(), one fstat) "
    "with header.offset + nbytes before each yield and raise DataError naming the file"))
@pytest.mark.parametrize("name", NPY_STRATEGIES)
def test_the_next_mmap_window_after_a_truncation_is_a_data_error_not_a_crash(tmp_path, name):
    r = run_mmap_child(tmp_path, name, "next_window_after_truncation")
    assert r.returncode == 0 and "DATAERROR" in r.stdout and "item000.X.npy" in r.stdout, (r.returncode, r.stdout)


# --------------------------------------------------------------------------- degenerate streams


def empty_gen():
    return
    yield  # pragma: no cover


def empties(n, kind):
    if kind == "list":
        return [Streamer([]) for _ in range(n)]
    return [Streamer(empty_gen) for _ in range(n)]


EMPTY_MUXES = [
    ("Mux-with_replacement-k>n", lambda s, p: Mux(s, k=7, lam=3, prune_empty_streams=p, random_state=0)),
    ("Mux-single_active-rate-None", lambda s, p: Mux(s, k=3, lam=None, mode="single_active", prune_empty_streams=p, random_state=0)),
    ("Mux-exhaustive-poisson", lambda s, p: Mux(s, k=2, lam=5, mode="exhaustive", dist="poisson", prune_empty_streams=p, random_state=0)),
    ("Stochastic-constant", lambda s, p: StochasticMux(s, 3, 1, dist="constant", prune_empty_streams=p, random_state=0)),
    ("Stochastic-weights-on-one", lambda s, p: StochasticMux(s, 2, 2, weights=[0, 0, 1], prune_empty_streams=p, random_state=0)),
    ("ShuffledMux", lambda s, p: ShuffledMux(s, random_state=0)),
    ("RoundRobin-exhaustive", lambda s, p: RoundRobinMux(s)),
    ("RoundRobin-permuted_cycle", lambda s, p: RoundRobinMux(s, mode="permuted_cycle", random_state=0)),
    ("Chain-exhaustive", lambda s, p: ChainMux(s)),
    ("Chain-cycle", lambda s, p: ChainMux(s, mode="cycle")),
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("kind", ["list", "generator"])
@pytest.mark.parametrize("prune", [True, False])
@pytest.mark.parametrize("label, make", EMPTY_MUXES, ids=[m[0] for m in EMPTY_MUXES])
def test_a_mux_of_empty_streams_ends_and_cycling_it_raises(label, make, prune, kind):
    mux = make(empties(3, kind), prune)
    assert list(mux) == []
    assert list(mux(max_iter=100)) == []
    assert mux.stats.samples.sum() == 0 and mux.stats.running == 0
    with pytest.raises(StreamError, match="yielded no items"):
        next(mux.cycle())


@pytest.mark.timeout(10)
@pytest.mark.parametrize("prune", [True, False])
@pytest.mark.parametrize("mode", ["with_replacement", "single_active", "exhaustive"])
def test_when_only_zero_weight_streams_have_items_the_pass_ends(mode, prune):
    mux = StochasticMux(finite_streams([0, 0, 5]), 2, 3, weights=[1, 1, 0], mode=mode, prune_empty_streams=prune,
                        random_state=0)
    assert list(mux) == []
    assert mux.stats.activations[2] == 0


@pytest.mark.timeout(10)
def test_cycling_a_one_shot_iterator_yields_it_once_then_raises():
    s = Streamer(iter([1, 2]))
    got = []
    with pytest.raises(StreamError, match="yielded no items"):
        for item in s.cycle():
            got.append(item)
    assert got == [1, 2]


ALL_MUXES = [
    ("Mux", lambda s, **kw: Mux(s, k=2, lam=3, random_state=0, **kw)),
    ("Mux-exhaustive", lambda s, **kw: Mux(s, k=min(2, len(s)), lam=None, mode="exhaustive", random_state=0, **kw)),
    ("ShuffledMux", lambda s, **kw: ShuffledMux(s, random_state=0, **kw)),
    ("RoundRobinMux", lambda s, **kw: RoundRobinMux(s, mode="cycle", **kw)),
    ("ChainMux", lambda s, **kw: ChainMux(s, mode="cycle", **kw)),
]


class Broken(Exception):
    pass


def opens_badly():
    """A stream whose opening fails: the callable raises instead of returning an iterable."""
    raise Broken("cannot open")


class FailsOnFirstOpen:
    """A stream callable that raises the first time it is opened, then yields three items per activation."""

    def __init__(self):
        self.opened = 0

    def __call__(self):
        self.opened += 1
        if self.opened == 1:
            raise Broken("cannot open")
        return iter(["x"] * 3)

    def __repr__(self):
        return "FailsOnFirstOpen()"


@pytest.mark.timeout(10)
@pytest.mark.parametrize("label, make", ALL_MUXES, ids=[m[0] for m in ALL_MUXES])
def test_a_stream_failing_to_open_reaches_the_consumer_with_a_note_and_the_mux_can_run_again(label, make):
    mux = make([Streamer(FailsOnFirstOpen()), Streamer(endless, "ok")])
    got = []
    with pytest.raises(Broken, match="cannot open") as info:
        for item in mux(max_iter=5000):
            got.append(item)
    notes = info.value.__notes__
    assert len(notes) == 1 and notes[0].startswith("raised by stream 0 of ") and "FailsOnFirstOpen" in notes[0]
    assert mux.stats.running == 0 and len(mux.stats.active) == 0
    # Nothing is left half-done: the next pass runs, and the stream that failed now opens.
    items = list(mux(max_iter=200))
    assert len(items) == 200 and "x" in items


def test_an_item_is_never_counted_without_being_delivered_when_a_replacement_fails_to_open():
    mux = StochasticMux([Streamer(endless, "ok"), Streamer(opens_badly)], 1, 1, weights=[1, 0], dist="constant",
                        random_state=0)
    it = iter(mux)
    got = [next(it)]
    mux.weights = [0, 1]  # the next activation will be the stream that cannot open
    with pytest.raises(Broken):
        for _ in range(10):
            got.append(next(it))
    # The item whose activation ended just before the failing open is delivered first.
    assert got == ["ok", "ok"]
    assert mux.stats.samples.sum() == len(got)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("label, make", ALL_MUXES, ids=[m[0] for m in ALL_MUXES])
def test_skip_retires_a_stream_that_fails_to_open_and_keeps_its_exception(label, make):
    mux = make([Streamer(opens_badly), Streamer(endless, "ok")], on_error="skip")
    items = list(mux(max_iter=500))
    assert items == ["ok"] * 500
    assert mux.stats.retirements["error"] >= 1
    assert len(mux.stats.errors) == mux.stats.retirements["error"]
    stream, exc = mux.stats.errors[0]
    assert stream == 0 and isinstance(exc, Broken) and exc.__notes__[0].startswith("raised by stream 0")
    assert mux.stats.samples.tolist() == [0, 500]


def fails_after(n, label="bad"):
    for _ in range(n):
        yield label
    raise Broken(f"stream {label} broke after {n}")


@pytest.mark.timeout(10)
@pytest.mark.parametrize("prune", [True, False])
@pytest.mark.parametrize("mode", ["with_replacement", "single_active", "exhaustive"])
@pytest.mark.parametrize("after", [0, 3])
def test_when_every_stream_fails_skip_ends_the_pass_instead_of_spinning(mode, prune, after):
    streamers = [Streamer(fails_after, after, str(i)) for i in range(3)]
    mux = StochasticMux(streamers, 2, 5, mode=mode, prune_empty_streams=prune, on_error="skip", random_state=0)
    items = list(mux(max_iter=None if after == 0 or mode == "exhaustive" else 300))
    assert mux.stats.samples.sum() == len(items)
    assert mux.stats.retirements["error"] == len(mux.stats.errors) > 0
    assert all(isinstance(exc, Broken) for _, exc in mux.stats.errors)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("label, make", ALL_MUXES, ids=[m[0] for m in ALL_MUXES])
def test_every_mux_with_only_failing_streams_under_skip_ends(label, make):
    mux = make([Streamer(fails_after, 0, "a"), Streamer(opens_badly)], on_error="skip")
    assert list(mux) == []
    assert mux.stats.retirements["error"] == len(mux.stats.errors) >= 2


def interrupted():
    yield "a"
    yield "b"
    raise KeyboardInterrupt


@pytest.mark.timeout(10)
@pytest.mark.parametrize("label, make", ALL_MUXES, ids=[m[0] for m in ALL_MUXES])
def test_keyboard_interrupt_from_a_stream_is_never_skipped_and_ends_the_pass_cleanly(label, make):
    mux = make([Streamer(interrupted)], on_error="skip")
    got = []
    with pytest.raises(KeyboardInterrupt):
        for item in mux(max_iter=100):
            got.append(item)
    assert mux.stats.errors == [] and mux.stats.running == 0
    assert set(got) == {"a", "b"} and mux.stats.samples.sum() == len(got)


def counting(i, started, closed):
    started.append(i)  # a generator never started has nothing to close (its finally never runs)
    try:
        while True:
            yield i
    finally:
        closed.append(i)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("label, make", ALL_MUXES, ids=[m[0] for m in ALL_MUXES])
def test_closing_a_pass_closes_every_open_stream_at_once(label, make):
    started, closed = [], []
    mux = make([Streamer(counting, i, started, closed) for i in range(4)])
    it = iter(mux)
    for _ in range(25):
        next(it)
    gc.disable()  # closing must not wait for the garbage collector
    try:
        assert len(closed) < len(started)  # some are open now
        it.close()
        assert sorted(closed) == sorted(started)
    finally:
        gc.enable()
    assert mux.stats.running == 0


@pytest.mark.timeout(10)
@pytest.mark.parametrize("label, make", ALL_MUXES, ids=[m[0] for m in ALL_MUXES])
def test_an_on_event_callback_that_raises_ends_the_pass_and_leaves_the_mux_usable(label, make):
    calls = []

    def callback(event):
        calls.append(event)
        if len(calls) == 3:
            raise Broken("callback")

    mux = make(finite_streams([10, 10, 10]), on_event=callback)
    with pytest.raises(Broken):
        list(mux(max_iter=500))
    assert mux.stats.running == 0
    mux.on_event = None
    mux.stats.reset()
    assert len(list(mux(max_iter=20))) == 20 and mux.stats.samples.sum() == 20


# --------------------------------------------------------------------------- the user's files are never changed


def fixture_fds(root):
    """(fd, flags) of every open file descriptor pointing into ``root``."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(os.path.realpath(root)):
            with open(f"/proc/self/fdinfo/{fd}") as f:
                flags = next(int(line.split()[1], 8) for line in f if line.startswith("flags:"))
            out.append((target, flags))
    return out


def fixture_maps(root):
    """(permissions, path) of every memory map of a file under ``root``."""
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and parts[5].strip().startswith(os.path.realpath(root)):
                out.append((parts[1], parts[5].strip()))
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
@pytest.mark.parametrize("name", list(STRATEGIES))
def test_files_are_opened_read_only_and_never_mapped_shared_writable(tmp_path, name):
    root, _ = tiny_copy(tmp_path)
    mux = Mux(streams(name, root, 8, random_state=0), k=8, lam=50, random_state=0)
    it = iter(mux)
    for _ in range(50):
        next(it)
    fds, maps = fixture_fds(root), fixture_maps(root)
    if name in ("npz", "npz_copy"):
        assert fds, "an npz activation keeps its archive open"
    if name in NPY_STRATEGIES:
        assert maps, "an npy activation maps its files"
    assert all(flags & os.O_ACCMODE == os.O_RDONLY for _, flags in fds), fds
    # A map writes to its file only if it is both writable and shared ('rw-s'); copy-on-write is 'rw-p'.
    assert not any(perms[1] == "w" and perms[3] == "s" for perms, _ in maps), maps
    if name == "npy_mmap":
        assert all(perms[:2] == "rw" and perms[3] == "p" for perms, _ in maps), maps
    if name == "npy_mmap_readonly":
        assert all(perms[1] == "-" for perms, _ in maps), maps
    it.close()


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_a_consumer_writing_into_batches_under_a_mux_changes_no_byte(tmp_path, name):
    root, _ = tiny_copy(tmp_path)
    n = Knob(16)
    mux = Mux(streams(name, root, n, random_state=0), k=3, lam=4, random_state=0)
    refused = written = 0
    for i, batch in enumerate(mux(max_iter=600)):
        if i == 300:
            n.value = 40
        if batch["X"].flags.writeable:
            batch["X"][:] = -7.0
            batch["Y"][:] = -1
            written += 1
            assert np.all(batch["X"] == -7.0)
        else:
            with pytest.raises(ValueError, match="read-only"):
                batch["X"][0, 0] = -7.0
            with pytest.raises(ValueError, match="read-only"):
                batch["Y"][0] = -1
            refused += 1
    assert (refused == 600) == (name == "npy_mmap_readonly") and (written == 600) == (name != "npy_mmap_readonly")
    fixtures.verify(root)
    # and later activations read the original values, not what the consumer wrote
    for index, stream in enumerate(streams(name, root, 16, random_state=1)):
        assert_window_of(next(iter(stream)), index)


@pytest.mark.parametrize("kind", ["npz", "npy_x", "npy_y"])
@pytest.mark.parametrize("change", ["last_byte", "truncated", "appended"])
def test_the_manifest_checksums_catch_any_change_to_any_file(tmp_path, kind, change):
    root, paths = tiny_copy(tmp_path)
    path = paths[6][kind]
    data = bytearray(open(path, "rb").read())
    if change == "last_byte":
        data[-1] ^= 0x01
    elif change == "truncated":
        data = data[:-1]
    else:
        data += b"\0"
    with open(path, "wb") as f:
        f.write(data)
    with pytest.raises(DataError) as info:
        fixtures.verify(root)
    rel = os.path.relpath(path, root)
    assert "1 file(s) differ" in str(info.value) and f"{rel}: changed" in str(info.value)


# --------------------------------------------------------------------------- CLI


def run_main(argv, capsys):
    """Run the CLI in this process: (exit status, stderr). Any other exception fails the test."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


CLI_BAD = [
    (["demo", "--streams", "0"], "argument --streams: streams=0 is too small; expected an integer >= 1"),
    (["demo", "--streams", "x"], "argument --streams: 'x' is not a number"),
    (["demo", "--samples", "0"], "argument --samples: samples=0 is too small"),
    (["demo", "--samples", "-5"], "argument --samples: samples=-5 is too small"),
    (["demo", "--rows", "0"], "argument --rows: rows=0 is too small"),
    (["demo", "--k", "2.5"], "argument --k: k=2.5 is a float; expected an integer >= 1"),
    (["demo", "--lam", "inf"], "argument --lam: lam=inf is not accepted; expected a finite number >= 1"),
    (["demo", "--lam", "nan"], "argument --lam: lam=nan is not accepted"),
    (["demo", "--lam", "-3"], "argument --lam: lam=-3.0 is not accepted"),
    (["demo", "--seed", "x"], "argument --seed: 'x' is not a number"),
    (["demo", "--k"], "argument --k: expected one argument"),
    (["demo", "--bogus"], "unrecognized arguments: --bogus"),
    (["demo", "extra"], "unrecognized arguments: extra"),
    ([], "the following arguments are required: COMMAND"),
    (["fixtures"], "the following arguments are required: --dir"),
    (["fixtures", "--dir"], "argument --dir: expected one argument"),
    (["fixtures", "--preset", "Tiny", "--dir", "x"], "argument --preset: invalid choice: 'Tiny'"),
    (["fixtures", "--dir", "x", "--verify", "yes"], "unrecognized arguments: yes"),
]


@pytest.mark.parametrize("argv, message", CLI_BAD, ids=[" ".join(a) or "no-command" for a, _ in CLI_BAD])
def test_cli_bad_flag_or_value_exits_2_with_one_line(argv, message, capsys):
    code, err = run_main(argv, capsys)
    assert code == 2
    assert message in err, err
    assert len(err.strip().splitlines()) == 1 and "--help" in err


def test_cli_compare_on_an_empty_folder_says_so_and_writes_nothing_into_it(tmp_path, capsys):
    code, err = run_main(["compare", "--root", str(tmp_path), "--quiet"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"no .npz or .npy files in {str(tmp_path)!r}" in err and "muxlab fixtures" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["a_file", "under_a_file"])
def test_cli_fixtures_into_an_unusable_folder_exits_2_with_one_line(tmp_path, capsys, where):
    target = tmp_path / "file"
    target.write_text("not a folder")
    if where == "under_a_file":
        target = target / "sub"
    code, err = run_main(["fixtures", "--dir", str(target)], capsys)
    assert code == 2 and str(target) in err and len(err.strip().splitlines()) == 1


def test_cli_demo_with_a_huge_lam_exits_cleanly(capsys):
    code, err = run_main(["demo", "--lam", "1e300", "--samples", "10", "--streams", "3", "--k", "2"], capsys)
    assert code in (0, 2)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("argv", [["demo", "--rows", "0"], ["fixtures"]])
def test_cli_errors_have_no_traceback_in_a_real_process(argv):
    r = subprocess.run([sys.executable, "-m", "muxlab", *argv], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
