"""Disk loaders: the seed's three sampling strategies, corrected, two more, and a registry.

Each loader is a generator function that yields ``dict(X=..., Y=...)``
windows of ``n`` consecutive rows of one item, forever, at offsets drawn
uniformly from ``[0, rows - n]``. They differ in what a window costs and in
what a batch the consumer still holds keeps in memory:

=====================  ==================================  ==============================
strategy               work per window                     a held batch keeps alive
=====================  ==================================  ==============================
``npz``                re-read and CRC-check both members  the whole member arrays
``npz_copy``           re-read both members, copy n rows   its n rows only
``npz_cached``         copy n rows (members read once      its n rows (the stream keeps
                       per activation)                     both arrays while active)
``npy_mmap``           slice a copy-on-write memory map    the map (pages it touched)
``npy_mmap_readonly``  slice a read-only memory map        the map (pages it touched)
=====================  ==================================  ==============================

The seed's closing snippet, corrected (it called ``sample_npz`` and missed a
comma)::

    import muxlab
    from muxlab.loaders import sample_npy_mmap

    n = 16
    npy_x_files = ...  # LIST OF PRE-COMPUTED NPY FILES (X)
    npy_y_files = ...  # LIST OF PRE-COMPUTED NPY FILES (Y)
    streams = [muxlab.Streamer(sample_npy_mmap, npy_x, npy_y, n)
               for (npy_x, npy_y) in zip(npy_x_files, npy_y_files)]

    # Keep 32 streams alive at once
    # Draw on average 16 patches from each stream before deactivating
    mux_stream = muxlab.Mux(streams, k=32, lam=16)

    for batch in mux_stream.generate(max_batches=1000):
        # DO LEARNING HERE
        pass

The same on the ``tiny`` fixtures, where :func:`streams` builds the list from a
collection's manifest (checking every file's headers first):

>>> from muxlab import Streamer
>>> from muxlab.fixtures import ensure, item_paths, load_manifest
>>> root = ensure('tiny')
>>> items = [item_paths(root, item) for item in load_manifest(root)['items']]
>>> npy_x_files = [paths['npy_x'] for paths in items]
>>> npy_y_files = [paths['npy_y'] for paths in items]
>>> n = 16
>>> by_hand = [Streamer(sample_npy_mmap, npy_x, npy_y, n)
...            for (npy_x, npy_y) in zip(npy_x_files, npy_y_files)]
>>> from_registry = streams('npy_mmap', root, n)
>>> batch = next(iter(by_hand[1]))
>>> batch['X'].shape, batch['Y'].shape, len(from_registry)
((16, 8), (16,), 8)

Corrections to the seed: offsets come from ``[0, rows - n]`` inclusive (the
seed's ``randint(rows - n)`` never ends a window on the last row and fails on
a file of exactly ``n`` rows); X and Y must have the same length; offsets come
from a ``numpy.random.Generator`` built from ``random_state``, never from
numpy's global state. ``n`` may be a :class:`muxlab.Knob`, read before every
window.
"""

import collections
import numbers
import os
import stat
import threading
import zipfile
import zlib
from dataclasses import dataclass
from math import prod

import numpy as np

from . import fixtures
from .errors import DataError, MuxlabError, ParameterError, ParameterTypeError
from .knob import Knob
from .streamer import Streamer
from .validation import check_choice

#: How many window offsets are drawn at once (a new block is drawn when ``n`` changes).
OFFSET_BLOCK = 256

_SPAWN_LOCK = threading.Lock()
_READ_ERRORS = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error)


# --------------------------------------------------------------------------- loaders


def sample_npz(npz_file, n, random_state=None):
    """Yield windows of ``n`` rows from an NPZ archive, re-reading its arrays for every window.

    This is the seed's loader: ``data['X']`` reads, CRC-checks and decodes the
    whole member on every access, and each window is a view into that fresh
    array, so a batch the consumer holds keeps the whole member in memory.

    >>> from muxlab.fixtures import ensure
    >>> npz = ensure('tiny') / 'npz' / 'item001.npz'
    >>> batch = next(sample_npz(npz, 16, random_state=0))
    >>> batch['X'].shape, batch['X'].base.nbytes == 40 * 8 * 4  # the whole member
    ((16, 8), True)
    """
    call = _Call("sample_npz", (npz_file,), n)
    size = _window_size(call, n)
    rng = _activation_rng(call, random_state)
    n_total = _npz_rows(call, npz_file, size.value)
    with _ReadErrors(call), np.load(npz_file, allow_pickle=False) as data:
        while True:
            n = size.value
            span = _span(call, n, n_total)
            for i in rng.integers(span, size=OFFSET_BLOCK).tolist():
                yield dict(X=data["X"][i : i + n], Y=data["Y"][i : i + n])
                if size.value != n:
                    break


def sample_npz_copy(npz_file, n, random_state=None):
    """Yield copies of windows of ``n`` rows from an NPZ archive, re-reading it for every window.

    As :func:`sample_npz`, but each window is copied out of the freshly read
    member, which is dropped at once: a held batch keeps only its own rows.

    >>> from muxlab.fixtures import ensure
    >>> npz = ensure('tiny') / 'npz' / 'item001.npz'
    >>> batch = next(sample_npz_copy(npz, 16, random_state=0))
    >>> batch['X'].shape, batch['X'].base is None
    ((16, 8), True)
    """
    call = _Call("sample_npz_copy", (npz_file,), n)
    size = _window_size(call, n)
    rng = _activation_rng(call, random_state)
    n_total = _npz_rows(call, npz_file, size.value)
    with _ReadErrors(call), np.load(npz_file, allow_pickle=False) as data:
        while True:
            n = size.value
            span = _span(call, n, n_total)
            for i in rng.integers(span, size=OFFSET_BLOCK).tolist():
                # No local name for the full arrays: they are freed before the yield.
                yield dict(X=data["X"][i : i + n].copy(), Y=data["Y"][i : i + n].copy())
                if size.value != n:
                    break


def sample_npz_cached(npz_file, n, random_state=None):
    """Yield copies of windows of ``n`` rows from an NPZ archive read once per activation.

    Both arrays are read when the stream starts and kept while it runs; each
    window is a copy, so held batches do not keep them alive.

    >>> from muxlab.fixtures import ensure
    >>> npz = ensure('tiny') / 'npz' / 'item001.npz'
    >>> batch = next(sample_npz_cached(npz, 40, random_state=0))
    >>> batch['Y'][[0, -1]].tolist()
    [1000000, 1000039]
    """
    call = _Call("sample_npz_cached", (npz_file,), n)
    size = _window_size(call, n)
    rng = _activation_rng(call, random_state)
    n_total = _npz_rows(call, npz_file, size.value)
    with _ReadErrors(call), np.load(npz_file, allow_pickle=False) as data:
        X, Y = data["X"], data["Y"]
    while True:
        n = size.value
        span = _span(call, n, n_total)
        for i in rng.integers(span, size=OFFSET_BLOCK).tolist():
            yield dict(X=X[i : i + n].copy(), Y=Y[i : i + n].copy())
            if size.value != n:
                break


def sample_npy_mmap(npy_x, npy_y, n, random_state=None):
    """Yield windows of ``n`` rows from two NPY files, memory-mapped copy-on-write.

    Windows are views of the maps (plain ``ndarray`` views, whose ``base``
    chain leads to the ``numpy.memmap``). Writing into a batch changes only
    this process's copy of the page, never the file.

    >>> from muxlab.fixtures import ensure
    >>> folder = ensure('tiny') / 'npy'
    >>> batch = next(sample_npy_mmap(folder / 'item001.X.npy', folder / 'item001.Y.npy', 16))
    >>> batch['X'].flags.owndata, batch['X'].flags.writeable
    (False, True)
    """
    call = _Call("sample_npy_mmap", (npy_x, npy_y), n)
    size = _window_size(call, n)
    rng = _activation_rng(call, random_state)
    hx, hy = _npy_headers(call, npy_x, npy_y, size.value)
    with _ReadErrors(call):
        X, Y = _memmap(npy_x, hx, "c"), _memmap(npy_y, hy, "c")
    n_total = hx.shape[0]
    while True:
        n = size.value
        span = _span(call, n, n_total)
        for i in rng.integers(span, size=OFFSET_BLOCK).tolist():
            yield dict(X=X[i : i + n], Y=Y[i : i + n])
            if size.value != n:
                break


def sample_npy_mmap_readonly(npy_x, npy_y, n, random_state=None):
    """Yield read-only windows of ``n`` rows from two NPY files, memory-mapped read-only.

    As :func:`sample_npy_mmap` with ``mmap_mode='r'``: a consumer that tries
    to write into a batch gets an error instead of a private copy. Since no
    one can write through it, one map per file serves every activation in the
    process (a copy-on-write map cannot be shared: a write into one batch
    would show in later ones). An activation then costs no mapping and its
    windows find their pages already mapped; the pages a run touched stay
    mapped, counted as file-backed (reclaimable) memory, until the file
    changes, the process ends, or more than ``SHARED_MAPS_MAX`` files were
    mapped since (each map holds a file descriptor); :func:`release_shared_maps`
    lets them go at once.

    >>> from muxlab.fixtures import ensure
    >>> folder = ensure('tiny') / 'npy'
    >>> batch = next(sample_npy_mmap_readonly(folder / 'item001.X.npy', folder / 'item001.Y.npy', 16))
    >>> batch['X'].flags.writeable
    False
    """
    call = _Call("sample_npy_mmap_readonly", (npy_x, npy_y), n)
    size = _window_size(call, n)
    rng = _activation_rng(call, random_state)
    hx, hy = _npy_headers(call, npy_x, npy_y, size.value)
    with _ReadErrors(call):
        X, Y = _shared_readonly_map(npy_x, hx), _shared_readonly_map(npy_y, hy)
    n_total = hx.shape[0]
    while True:
        n = size.value
        span = _span(call, n, n_total)
        for i in rng.integers(span, size=OFFSET_BLOCK).tolist():
            yield dict(X=X[i : i + n], Y=Y[i : i + n])
            if size.value != n:
                break


# --------------------------------------------------------------------------- checks


def check_npz(npz_file, n, owner="sample_npz"):
    """Check an NPZ archive for windows of ``n`` rows, reading only headers; return its rows.

    Raises :class:`~muxlab.DataError` naming the file and the problem
    (``owner`` is the loader named in the message).

    >>> from muxlab.fixtures import ensure
    >>> check_npz(ensure('tiny') / 'npz' / 'item001.npz', 16)
    40
    """
    call = _Call(owner, (npz_file,), n)
    return _npz_rows(call, npz_file, _window_size(call, n).value)


def check_npy(npy_x, npy_y, n, owner="sample_npy_mmap"):
    """Check a pair of NPY files for windows of ``n`` rows, reading only headers; return their rows.

    >>> from muxlab.fixtures import ensure
    >>> folder = ensure('tiny') / 'npy'
    >>> check_npy(folder / 'item001.X.npy', folder / 'item001.Y.npy', 16)
    40
    """
    call = _Call(owner, (npy_x, npy_y), n)
    hx, _ = _npy_headers(call, npy_x, npy_y, _window_size(call, n).value)
    return hx.shape[0]


class _Call:
    """The call an error message names, e.g. ``sample_npz('a.npz', n=16)``."""

    __slots__ = ("func", "paths", "n")

    def __init__(self, func, paths, n):
        self.func, self.paths, self.n = func, paths, n

    def __str__(self):
        paths = ", ".join(repr(os.fspath(p)) if isinstance(p, (str, os.PathLike)) else repr(p) for p in self.paths)
        return f"{self.func}({paths}, n={_n_text(self.n)})"


def _n_text(n):
    return f"Knob({n.value!r})" if isinstance(n, Knob) else repr(n)


class _Fixed:
    """A window size that never changes, read like a Knob (a slot read: cheap per window)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def _check_n(where, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ParameterTypeError(
            f"{where}: n={value!r} is a {type(value).__name__}; expected an integer >= 1 or a muxlab.Knob holding one"
        )
    if value < 1:
        raise ParameterError(f"{where}: n={value} is too small; expected an integer >= 1")
    return int(value)


def _window_size(where, n):
    """Return an object whose ``.value`` is the live window size, after checking its current value."""
    if isinstance(n, Knob):
        _check_n(where, n.value)
        return n
    return _Fixed(_check_n(where, n))


def _span(call, n, n_total):
    """Return how many offsets a window of ``n`` rows can take in ``n_total`` rows."""
    n = _check_n(call, n)
    if n > n_total:
        raise DataError(f"{call}: 'X' has {n_total} rows, fewer than n={n}")
    return n_total - n + 1


class _Header:
    __slots__ = ("shape", "fortran_order", "dtype", "offset")

    def __init__(self, shape, fortran_order, dtype, offset):
        self.shape, self.fortran_order, self.dtype, self.offset = shape, fortran_order, dtype, offset


def _stat(call, path):
    """Return ``os.stat(path)`` if ``path`` is a regular file, else raise an error naming it."""
    if not isinstance(path, (str, os.PathLike)):
        raise ParameterTypeError(f"{call}: {path!r} is a {type(path).__name__}; expected a file path")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"{call}: file {os.fspath(path)!r} not found") from None
    except OSError as err:
        raise DataError(f"{call}: cannot read {os.fspath(path)!r} ({err})") from None
    if not stat.S_ISREG(st.st_mode):
        raise DataError(f"{call}: {os.fspath(path)!r} is not a file")
    return st


# Parsed headers of files seen before, keyed by path and the file's identity
# (device, inode, size, mtime), so a rewritten file is read again. Parsing a
# header costs tens of microseconds, paid on every activation without this.
_HEADERS = {}
_HEADERS_MAX = 4096


def _headers(call, path, read):
    """Return ``read(st)`` for the file at ``path``, from the cache if the file is unchanged."""
    st = _stat(call, path)
    key = (os.fspath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    found = _HEADERS.get(key)
    if found is None:
        found = read(st)
        if len(_HEADERS) >= _HEADERS_MAX:
            _HEADERS.clear()
        _HEADERS[key] = found
    return found


def _read_header(call, key, f, total_bytes):
    """Read an .npy header from ``f`` (holding ``total_bytes``) and check what it promises."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"format version {version} is not supported (1.0 and 2.0 are)")
        offset = f.tell()
    except (ValueError, SyntaxError, TypeError, EOFError, OSError, zipfile.BadZipFile, zlib.error) as err:
        raise DataError(f"{call}: {key!r} is not a readable .npy array ({err})") from None
    if dtype.hasobject:
        raise DataError(
            f"{call}: {key!r} has dtype {dtype}, which numpy stores pickled; refusing to load it (allow_pickle=False)"
        )
    if not shape:
        raise DataError(f"{call}: {key!r} is a 0-d array; expected an array with one row per entry of its first axis")
    nbytes = prod(shape) * dtype.itemsize
    if total_bytes - offset < nbytes:
        raise DataError(
            f"{call}: {key!r} is truncated: its header promises {nbytes} bytes of data "
            f"(shape {shape}, {dtype}) but only {total_bytes - offset} follow it"
        )
    return _Header(shape, fortran_order, dtype, offset)


def _check_pair(call, hx, hy, n):
    if hx.shape[0] != hy.shape[0]:
        raise DataError(f"{call}: 'X' has {hx.shape[0]} rows but 'Y' has {hy.shape[0]}; expected one Y entry per row")
    _span(call, n, hx.shape[0])


def _npz_rows(call, npz_file, n):
    """Check the archive's X and Y members (headers only) and return their rows."""
    hx, hy = _headers(call, npz_file, lambda st: _read_npz_headers(call, npz_file))
    _check_pair(call, hx, hy, n)
    return hx.shape[0]


def _read_npz_headers(call, npz_file):
    headers = {}
    try:
        with zipfile.ZipFile(npz_file) as zf:
            names = zf.namelist()
            for key in ("X", "Y"):
                # the member np.load's data[key] reads: 'X' if present, else 'X.npy'
                member = key if key in names else f"{key}.npy" if f"{key}.npy" in names else None
                if member is None:
                    held = ", ".join(repr(name) for name in names) or "nothing"
                    raise DataError(f"{call}: no array {key!r} in the archive (it holds {held})")
                info = zf.getinfo(member)
                with zf.open(info) as f:
                    headers[key] = _read_header(call, key, f, info.file_size)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error, NotImplementedError) as err:
        raise DataError(f"{call}: not a readable zip archive ({type(err).__name__}: {err})") from None
    return headers["X"], headers["Y"]


def _read_npy_header(call, key, path, st):
    try:
        with open(path, "rb") as f:
            return _read_header(call, key, f, st.st_size)
    except OSError as err:
        raise DataError(f"{call}: cannot read {os.fspath(path)!r} ({err})") from None


def _npy_headers(call, npy_x, npy_y, n):
    hx = _headers(call, npy_x, lambda st: _read_npy_header(call, "X", npy_x, st))
    hy = _headers(call, npy_y, lambda st: _read_npy_header(call, "Y", npy_y, st))
    _check_pair(call, hx, hy, n)
    return hx, hy


# Read-only maps shared by every activation of sample_npy_mmap_readonly, most
# recently used last. Each map holds a file descriptor (Python's mmap keeps a
# duplicate), so there are at most SHARED_MAPS_MAX of them.
_SHARED_MAPS = collections.OrderedDict()
_SHARED_MAPS_LOCK = threading.Lock()
SHARED_MAPS_MAX = 128


def _shared_readonly_map(path, header):
    """The process's read-only map of this version of the file (see :func:`sample_npy_mmap_readonly`).

    A rewritten file has a new cached header, and so gets a new map.
    """
    key = os.fspath(path)
    with _SHARED_MAPS_LOCK:
        entry = _SHARED_MAPS.get(key)
        if entry is not None and entry[0] is header:
            _SHARED_MAPS.move_to_end(key)
            return entry[1]
    mapped = _memmap(path, header, "r")
    with _SHARED_MAPS_LOCK:
        _SHARED_MAPS[key] = (header, mapped)
        _SHARED_MAPS.move_to_end(key)
        while len(_SHARED_MAPS) > SHARED_MAPS_MAX:
            _SHARED_MAPS.popitem(last=False)
    return mapped


def release_shared_maps():
    """Forget the read-only maps kept for :func:`sample_npy_mmap_readonly` (held batches keep theirs).

    >>> release_shared_maps()
    """
    with _SHARED_MAPS_LOCK:
        _SHARED_MAPS.clear()


def _memmap(path, header, mode):
    """Map the array a checked header describes (as np.load(path, mmap_mode=mode)), as a plain view.

    A plain ``ndarray`` view of the map slices about ten times faster than the
    ``np.memmap`` subclass, whose slicing runs Python code.
    """
    order = "F" if header.fortran_order else "C"
    mapped = np.memmap(path, dtype=header.dtype, mode=mode, offset=header.offset, shape=header.shape, order=order)
    return mapped.view(np.ndarray)


class _ReadErrors:
    """Turn an error raised while reading a file into a DataError naming the call."""

    __slots__ = ("call",)

    def __init__(self, call):
        self.call = call

    def __enter__(self):
        return self

    def __exit__(self, kind, err, tb):
        if kind is not None and issubclass(kind, _READ_ERRORS) and not issubclass(kind, MuxlabError):
            raise DataError(f"{self.call}: reading failed ({kind.__name__}: {err})") from err
        return False


# --------------------------------------------------------------------------- randomness

_RANDOM_STATES = "None, an int >= 0, a numpy.random.Generator, a numpy.random.SeedSequence or a RandomState"


def _activation_rng(where, random_state):
    """Return the Generator one activation draws its offsets from.

    An int gives every activation the same offsets; a Generator is shared and
    keeps drawing; a SeedSequence spawns a child per activation (different
    offsets each time, the same over the whole program); None uses fresh entropy.
    """
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.SeedSequence):
        with _SPAWN_LOCK:
            child = random_state.spawn(1)[0]
        return np.random.default_rng(child)
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**63 - 1, dtype=np.int64))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ParameterError(f"{where}: random_state={random_state} is negative; expected {_RANDOM_STATES}")
        return np.random.default_rng(int(random_state))
    raise ParameterTypeError(
        f"{where}: random_state={random_state!r} ({type(random_state).__name__}) is not accepted; "
        f"expected {_RANDOM_STATES}"
    )


def _seed_parent(where, random_state):
    """Return the SeedSequence that :func:`streams` splits into one child per stream."""
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if random_state is None:
        return np.random.SeedSequence()
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(random_state.integers(0, 2**63 - 1, size=4).tolist())
    if isinstance(random_state, np.random.RandomState):
        return np.random.SeedSequence(random_state.randint(0, 2**63 - 1, size=4, dtype=np.int64).tolist())
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ParameterError(f"{where}: random_state={random_state} is negative; expected {_RANDOM_STATES}")
        return np.random.SeedSequence(int(random_state))
    raise ParameterTypeError(
        f"{where}: random_state={random_state!r} ({type(random_state).__name__}) is not accepted; "
        f"expected {_RANDOM_STATES}"
    )


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Strategy:
    """How to build a loader's Streamer for one item of a collection.

    ``files`` lists the manifest file kinds (``npz``, ``npy_x``, ``npy_y``)
    passed to ``function``, in order; ``checker`` validates them (headers only).
    Calling the strategy with an item's paths returns the Streamer.
    """

    name: str
    function: object
    files: tuple
    checker: object
    summary: str

    def check(self, paths, n):
        """Validate one item's files for windows of ``n`` rows; return its rows or raise DataError."""
        return self.checker(*(paths[kind] for kind in self.files), n, owner=self.function.__name__)

    def __call__(self, paths, n, random_state=None):
        """Return a :class:`~muxlab.Streamer` of ``function`` over one item's ``paths`` (kind -> path)."""
        return Streamer(self.function, *(paths[kind] for kind in self.files), n, random_state=random_state)


STRATEGIES = {
    s.name: s
    for s in (
        Strategy("npz", sample_npz, ("npz",), check_npz, "the seed: re-read members every window, yield views"),
        Strategy("npz_copy", sample_npz_copy, ("npz",), check_npz, "re-read members every window, yield copies"),
        Strategy("npy_mmap", sample_npy_mmap, ("npy_x", "npy_y"), check_npy, "copy-on-write memory maps, yield views"),
        Strategy("npz_cached", sample_npz_cached, ("npz",), check_npz, "read members once per activation, copy rows"),
        Strategy(
            "npy_mmap_readonly",
            sample_npy_mmap_readonly,
            ("npy_x", "npy_y"),
            check_npy,
            "read-only memory maps, yield read-only views",
        ),
    )
}

_MAX_LISTED = 20


def streams(strategy, root, n, random_state=None):
    """Return one :class:`~muxlab.Streamer` per item of the collection in ``root``, in manifest order.

    Every file the strategy reads is checked first (headers only), and one
    :class:`~muxlab.DataError` lists every unusable file. ``random_state`` is
    split into one SeedSequence per stream, so each activation of each stream
    draws different windows while the whole program stays reproducible.

    >>> from muxlab.fixtures import ensure
    >>> tiny = streams('npz_copy', ensure('tiny'), 16, random_state=0)
    >>> len(tiny), next(iter(tiny[0]))['X'].shape
    (8, (16, 8))
    """
    root_text = os.fspath(root) if isinstance(root, (str, os.PathLike)) else root
    where = f"streams({strategy!r}, {root_text!r}, n={_n_text(n)})"
    check_choice("streams", "strategy", strategy, tuple(STRATEGIES))
    if not isinstance(root, (str, os.PathLike)):
        raise ParameterTypeError(f"{where}: root={root!r} is a {type(root).__name__}; expected a folder path")
    spec = STRATEGIES[strategy]
    _window_size(where, n)
    parent = _seed_parent(where, random_state)
    manifest = fixtures.load_manifest(root, owner=where)
    items = manifest["items"]
    if not items:
        raise DataError(f"{where}: the manifest of {root_text!r} lists no items")
    all_paths = [fixtures.item_paths(root, item) for item in items]
    problems = []
    for paths in all_paths:
        try:
            spec.check(paths, n)
        except DataError as err:
            problems.append(str(err))
    if len(problems) == 1:
        raise DataError(problems[0])
    if problems:
        shown = problems[:_MAX_LISTED]
        more = f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        raise DataError(
            f"{where}: {len(problems)} of {len(items)} items are not usable:\n  " + "\n  ".join(shown) + more
        )
    with _SPAWN_LOCK:
        seeds = parent.spawn(len(items))
    return [spec(paths, n, random_state=seed) for paths, seed in zip(all_paths, seeds)]
