"""Disk loaders: the three sampling strategies of pescador's "Sampling from disk" chapter, corrected, two more, and a registry.

Each loader is a generator function that yields windows of ``n``
consecutive rows of one item, forever, at offsets drawn uniformly from
``[0, rows - n]``: dicts with exactly the item's keys (``dict(X=..., Y=...)``
by default; any names with ``keys=``, e.g. ``('features',)``). They differ in what a window costs and in
what a window the consumer still holds keeps in memory:

=====================  ==================================  ==============================
strategy               work per window                     a held window keeps alive
=====================  ==================================  ==============================
``npz``                re-read and CRC-check both members  the whole member arrays
``npz_copy``           re-read both members, copy n rows   its n rows only
``npz_cached``         copy n rows (members read once      its n rows (the stream keeps
                       per activation)                     both arrays while active)
``npy_mmap``           slice a copy-on-write memory map    the map (pages it touched)
``npy_mmap_readonly``  slice a read-only memory map        the map (pages it touched)
=====================  ==================================  ==============================

The chapter's closing snippet, corrected (it called ``sample_npz`` and missed a
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
collection (any folder of archives, a glob, a list of files, a
:class:`muxlab.Collection`, or a folder muxlab generated), checking every
file's headers first:

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
>>> window = next(iter(by_hand[1]))
>>> window['X'].shape, window['Y'].shape, len(from_registry)
((16, 8), (16,), 8)

Corrections to the chapter's code: offsets come from ``[0, rows - n]`` inclusive (the
chapter's ``randint(rows - n)`` never ends a window on the last row and fails on
a file of exactly ``n`` rows); X and Y must have the same length; offsets come
from a ``numpy.random.Generator`` built from ``random_state``, never from
numpy's global state: each activation is one use of ``random_state`` as
:mod:`muxlab.random_state` states it (an int repeats its windows, a
``SeedSequence`` spawns a child per activation). ``n`` may be a :class:`muxlab.Knob`, read before every
window.
"""

import collections
from collections.abc import Mapping
import os
import stat
import threading
import warnings
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np

from .collection import Collection, Item
from .errors import DataError, DataWarning, MuxlabError, ParameterError, ParameterTypeError
from .knob import Knob
from .random_state import RandomSource, seed_sequence, spawn
from .headers import read_npy_header, read_npz_headers
from .streamer import Streamer
from .validation import check_choice, check_int, check_keys

#: How many window offsets are drawn at once (a new block is drawn when ``n`` changes).
OFFSET_BLOCK = 256

_READ_ERRORS = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error)


# --------------------------------------------------------------------------- loaders


def sample_npz(npz_file, n, random_state=None, keys=("X", "Y")):
    """Yield windows of ``n`` rows from an NPZ archive, re-reading its arrays for every window.

    This is the chapter's loader: ``data['X']`` reads, CRC-checks and decodes the
    whole member on every access, and each window is a view into that fresh
    array, so a window the consumer holds keeps the whole member in memory.
    Windows are dicts with exactly the ``keys`` (the archive's array names).

    >>> from muxlab.fixtures import ensure
    >>> npz = ensure('tiny') / 'npz' / 'item001.npz'
    >>> window = next(sample_npz(npz, 16, random_state=0))
    >>> window['X'].shape, window['X'].base.nbytes == 40 * 8 * 4  # the whole member
    ((16, 8), True)
    >>> sorted(next(sample_npz(npz, 16, keys=('Y',))))
    ['Y']
    """
    call = _Call("sample_npz", (npz_file,), n)
    keys = check_keys(call, keys)
    size = _window_size(call, n)
    rng = RandomSource(random_state, call).for_pass()
    n_total = _npz_rows(call, npz_file, size.value, keys)
    with _ReadErrors(call), np.load(npz_file, allow_pickle=False) as data:
        for n, offsets in _offset_blocks(call, n_total, size, rng, keys):
            for i in offsets:
                yield {key: data[key][i : i + n] for key in keys}
                if size.value != n:
                    break


def sample_npz_copy(npz_file, n, random_state=None, keys=("X", "Y")):
    """Yield copies of windows of ``n`` rows from an NPZ archive, re-reading it for every window.

    As :func:`sample_npz`, but each window is copied out of the freshly read
    member, which is dropped at once: a held window keeps only its own rows.

    >>> from muxlab.fixtures import ensure
    >>> npz = ensure('tiny') / 'npz' / 'item001.npz'
    >>> window = next(sample_npz_copy(npz, 16, random_state=0))
    >>> window['X'].shape, window['X'].base is None
    ((16, 8), True)
    """
    call = _Call("sample_npz_copy", (npz_file,), n)
    keys = check_keys(call, keys)
    size = _window_size(call, n)
    rng = RandomSource(random_state, call).for_pass()
    n_total = _npz_rows(call, npz_file, size.value, keys)
    with _ReadErrors(call), np.load(npz_file, allow_pickle=False) as data:
        for n, offsets in _offset_blocks(call, n_total, size, rng, keys):
            for i in offsets:
                # No local name for the full arrays: they are freed before the yield.
                yield {key: data[key][i : i + n].copy() for key in keys}
                if size.value != n:
                    break


def sample_npz_cached(npz_file, n, random_state=None, keys=("X", "Y")):
    """Yield copies of windows of ``n`` rows from an NPZ archive read once per activation.

    Every array is read when the stream starts and kept while it runs; each
    window is a copy, so held windows do not keep them alive.

    >>> from muxlab.fixtures import ensure
    >>> npz = ensure('tiny') / 'npz' / 'item001.npz'
    >>> window = next(sample_npz_cached(npz, 40, random_state=0))
    >>> window['Y'][[0, -1]].tolist()
    [1000000, 1000039]
    """
    call = _Call("sample_npz_cached", (npz_file,), n)
    keys = check_keys(call, keys)
    size = _window_size(call, n)
    rng = RandomSource(random_state, call).for_pass()
    n_total = _npz_rows(call, npz_file, size.value, keys)
    with _ReadErrors(call), np.load(npz_file, allow_pickle=False) as data:
        arrays = [(key, data[key]) for key in keys]
    for n, offsets in _offset_blocks(call, n_total, size, rng, keys):
        for i in offsets:
            yield {key: array[i : i + n].copy() for key, array in arrays}
            if size.value != n:
                break


def _npy_loader(name, mapper, doc):
    """Make the NPY loader ``name``: a generator function whose windows are views of the maps ``mapper`` makes.

    The two NPY loaders differ only in how a file is mapped
    (``mapper(path, header)``), so both are this one function body; a shared
    inner generator would cost a hand-over per window.
    """

    def loader(npy_x, npy_y=None, n=None, random_state=None, keys=None):
        call = _Call(name, _npy_args(npy_x, npy_y), n)
        arrays, n_total, size, rng = _open_npy(call, npy_x, npy_y, n, random_state, keys, mapper)
        keys = tuple(key for key, _ in arrays)
        two = len(arrays) == 2
        (kx, X), (ky, Y) = arrays if two else (arrays[0], arrays[0])
        for n, offsets in _offset_blocks(call, n_total, size, rng, keys):
            for i in offsets:
                # Two keys, the common case, spelled out: this line is the whole per-window cost.
                yield {kx: X[i : i + n], ky: Y[i : i + n]} if two else {k: a[i : i + n] for k, a in arrays}
                if size.value != n:
                    break

    loader.__name__ = loader.__qualname__ = name
    loader.__doc__ = doc
    return loader


sample_npy_mmap = _npy_loader(
    "sample_npy_mmap",
    lambda path, header: _memmap(path, header, "c"),
    """Yield windows of ``n`` rows from NPY files, memory-mapped copy-on-write.

    The chapter's form takes two files, ``npy_x`` and ``npy_y`` (for the keys
    ``('X', 'Y')``, or the two ``keys`` given). For any number of keys pass
    one mapping ``{key: path}`` as ``npy_x`` (and ``n`` by name):
    ``sample_npy_mmap({'features': 'song.features.npy'}, n=16)``.

    Windows are views of the maps (plain ``ndarray`` views, whose ``base``
    chain leads to the ``numpy.memmap``). Writing into a window changes only
    this process's copy of the page, never the file.

    >>> from muxlab.fixtures import ensure
    >>> folder = ensure('tiny') / 'npy'
    >>> window = next(sample_npy_mmap(folder / 'item001.X.npy', folder / 'item001.Y.npy', 16))
    >>> window['X'].flags.owndata, window['X'].flags.writeable
    (False, True)
    >>> sorted(next(sample_npy_mmap({'X': folder / 'item001.X.npy'}, n=16)))
    ['X']
    """,
)

sample_npy_mmap_readonly = _npy_loader(
    "sample_npy_mmap_readonly",
    lambda path, header: _shared_readonly_map(path, header),
    """Yield read-only windows of ``n`` rows from NPY files, memory-mapped read-only.

    As :func:`sample_npy_mmap` (the same arguments) with ``mmap_mode='r'``:
    a consumer that tries to write into a window gets an error instead of a
    private copy. Since no one can write through it, one map per file serves
    every activation in the process (a copy-on-write map cannot be shared: a
    write into one window would show in later ones). An activation then costs
    no mapping and its windows find their pages already mapped; the pages a
    run touched stay mapped, counted as file-backed (reclaimable) memory,
    until the file changes, the process ends, or more than
    ``SHARED_MAPS_MAX`` files were mapped since (each map holds a file
    descriptor); :func:`release_shared_maps` lets them go at once.

    >>> from muxlab.fixtures import ensure
    >>> folder = ensure('tiny') / 'npy'
    >>> window = next(sample_npy_mmap_readonly(folder / 'item001.X.npy', folder / 'item001.Y.npy', 16))
    >>> window['X'].flags.writeable
    False
    """,
)


# The windowing loop every loader shares. What a loader does per window (a view,
# a copy, a re-read) stays in the loader's own two-line inner loop: handing each
# window through one more generator or function call costs about a tenth of an
# in-RAM window, so the shared part works per block of OFFSET_BLOCK offsets.


def _offset_blocks(call, n_total, size, rng, keys):
    """Yield ``(n, offsets)`` forever: the window size now, and a block of offsets a window of ``n`` rows can take.

    A loader takes windows at the offsets and starts on the next block as soon
    as ``size.value`` (a Knob's live value) differs from ``n``.
    """
    while True:
        n = size.value
        yield n, rng.integers(_span(call, n, n_total, keys), size=OFFSET_BLOCK).tolist()


def _open_npy(call, npy_x, npy_y, n, random_state, keys, mapper):
    """Check an NPY loader's arguments and files, map them with ``mapper(path, header)``; return what it loops over."""
    files = _npy_files(call, npy_x, npy_y, keys)
    size = _window_size(call, n)
    rng = RandomSource(random_state, call).for_pass()
    headers = _npy_headers(call, files, size.value)
    with _ReadErrors(call):
        arrays = [(key, mapper(path, header)) for (key, path), header in zip(files, headers)]
    return arrays, headers[0].shape[0], size, rng


# --------------------------------------------------------------------------- checks


def check_npz(npz_file, n, owner="sample_npz", keys=("X", "Y")):
    """Check an NPZ archive for windows of ``n`` rows, reading only headers; return its rows.

    Raises :class:`~muxlab.DataError` naming the file and the problem
    (``owner`` is the loader named in the message).

    >>> from muxlab.fixtures import ensure
    >>> check_npz(ensure('tiny') / 'npz' / 'item001.npz', 16)
    40
    """
    call = _Call(owner, (npz_file,), n)
    return _npz_rows(call, npz_file, _window_size(call, n).value, check_keys(call, keys))


def check_npy(npy_x, npy_y=None, n=None, owner="sample_npy_mmap", keys=None):
    """Check NPY files (as :func:`sample_npy_mmap` takes them) for windows of ``n`` rows; return their rows.

    >>> from muxlab.fixtures import ensure
    >>> folder = ensure('tiny') / 'npy'
    >>> check_npy(folder / 'item001.X.npy', folder / 'item001.Y.npy', 16)
    40
    """
    call = _Call(owner, _npy_args(npy_x, npy_y), n)
    files = _npy_files(call, npy_x, npy_y, keys)
    return _npy_headers(call, files, _window_size(call, n).value)[0].shape[0]


class _Call:
    """The call an error message names, e.g. ``sample_npz('a.npz', n=16)``."""

    __slots__ = ("func", "paths", "n")

    def __init__(self, func, paths, n):
        self.func, self.paths, self.n = func, paths, n

    def __str__(self):
        paths = ", ".join(_path_text(p) for p in self.paths)
        return f"{self.func}({paths}, n={_n_text(self.n)})"


def _path_text(p):
    if isinstance(p, (str, os.PathLike)):
        return repr(os.fspath(p))
    if isinstance(p, Mapping):
        return "{" + ", ".join(f"{k!r}: {_path_text(v)}" for k, v in p.items()) + "}"
    return repr(p)


def _n_text(n):
    return f"Knob({n.value!r})" if isinstance(n, Knob) else repr(n)


def _npy_args(npy_x, npy_y):
    return (npy_x,) if npy_y is None else (npy_x, npy_y)


def _npy_files(call, npy_x, npy_y, keys):
    """Return ``[(key, path), ...]`` from the two-file form or a ``{key: path}`` mapping."""
    if isinstance(npy_x, Mapping):
        if npy_y is not None:
            raise ParameterError(f"{call}: npy_y={npy_y!r} given with a mapping of files; pass n by name (n=...)")
        keys = tuple(npy_x) if keys is None else check_keys(call, keys)
        missing = [k for k in keys if k not in npy_x]
        if missing or not keys:
            raise ParameterError(f"{call}: keys={keys!r} names {missing!r}, which the mapping of files lacks")
        return [(k, npy_x[k]) for k in keys]
    keys = ("X", "Y") if keys is None else check_keys(call, keys)
    if len(keys) != 2:
        raise ParameterError(
            f"{call}: two files (npy_x, npy_y) are read for two keys; got keys={keys!r}: "
            "pass a mapping {key: path} for any other number of keys"
        )
    return [(keys[0], npy_x), (keys[1], npy_y)]


class _Fixed:
    """A window size that never changes, read like a Knob (a slot read: cheap per window)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def _window_size(where, n):
    """Return an object whose ``.value`` is the live window size, after checking its current value."""
    if isinstance(n, Knob):
        check_int(where, "n", n.value, minimum=1)
        return n
    return _Fixed(check_int(where, "n", n, minimum=1))


def _span(call, n, n_total, keys=("X", "Y")):
    """Return how many offsets a window of ``n`` rows can take in ``n_total`` rows."""
    n = check_int(call, "n", n, minimum=1)
    if n > n_total:
        raise DataError(f"{call}: {keys[0]!r} has {n_total} rows, fewer than n={n}")
    return n_total - n + 1


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


# Parsed headers of files seen before, keyed by path, what was read (the keys)
# and the file's identity (device, inode, size, mtime), so a rewritten file is
# read again. Parsing a header costs tens of microseconds, paid on every
# activation without this.
_HEADERS = {}
_HEADERS_MAX = 4096


def _headers(call, path, what, read):
    """Return ``read()`` for the file at ``path``, from the cache if the file is unchanged."""
    st = _stat(call, path)
    key = (os.fspath(path), what, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    found = _HEADERS.get(key)
    if found is None:
        found = read()
        if len(_HEADERS) >= _HEADERS_MAX:
            _HEADERS.clear()
        _HEADERS[key] = found
    return found


def _check_rows(call, keys, headers, n):
    first = headers[0].shape[0]
    for key, header in zip(keys[1:], headers[1:]):
        if header.shape[0] != first:
            raise DataError(
                f"{call}: {keys[0]!r} has {first} rows but {key!r} has {header.shape[0]}; "
                "expected the same number of rows in every array of an item"
            )
    _span(call, n, first, keys)


def _npz_rows(call, npz_file, n, keys):
    """Check the archive's members ``keys`` (headers only) and return their rows."""
    found = _headers(call, npz_file, keys, lambda: read_npz_headers(npz_file, keys, where=str(call)))
    _check_rows(call, keys, [found[k] for k in keys], n)
    return found[keys[0]].shape[0]


def _npy_headers(call, files, n):
    keys = tuple(key for key, _ in files)
    headers = [_headers(call, path, key, lambda: read_npy_header(path, key, where=str(call))) for key, path in files]
    _check_rows(call, keys, headers, n)
    return headers


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
    """Forget the read-only maps kept for :func:`sample_npy_mmap_readonly` (held windows keep theirs).

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


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Strategy:
    """How to build a loader's Streamer for one item of a collection.

    ``files`` lists the file kinds of a muxlab-made collection's manifest
    (``npz``, ``npy_x``, ``npy_y``) the strategy reads; ``layout`` is the
    layout it needs (``'npz'``: one archive per item, ``'npy'``: one
    ``NAME.<key>.npy`` per key); ``checker`` validates an item's files
    (headers only). Calling the strategy with an item returns its Streamer.
    """

    name: str
    function: object
    files: tuple
    checker: object
    summary: str

    @property
    def layout(self):
        """``'npz'`` or ``'npy'``: the layout of the files this strategy reads."""
        return "npz" if self.files == ("npz",) else "npy"

    def _args(self, target, keys):
        if isinstance(target, Item):
            if self.layout == "npz":
                return (target.npz,), {"keys": tuple(keys)}
            return (dict(target.npy),), {}
        return tuple(target[kind] for kind in self.files), ({"keys": tuple(keys)} if keys != ("X", "Y") else {})

    def check(self, target, n, keys=("X", "Y")):
        """Validate one item's files for windows of ``n`` rows; return its rows or raise DataError.

        ``target`` is an :class:`~muxlab.collection.Item` or a manifest item's
        ``{kind: path}``.
        """
        args, kwargs = self._args(target, keys)
        if self.layout == "npy" and len(args) == 1:
            return self.checker(args[0], n=n, owner=self.function.__name__)
        return self.checker(*args, n, owner=self.function.__name__, **kwargs)

    def __call__(self, target, n, random_state=None, keys=("X", "Y")):
        """Return a :class:`~muxlab.Streamer` of ``function`` over one item (an Item or ``{kind: path}``)."""
        args, kwargs = self._args(target, keys)
        if self.layout == "npy" and len(args) == 1:
            return Streamer(self.function, args[0], n=n, random_state=random_state)
        return Streamer(self.function, *args, n, random_state=random_state, **kwargs)


STRATEGIES = {
    s.name: s
    for s in (
        Strategy("npz", sample_npz, ("npz",), check_npz, "as in pescador's chapter: re-read members every window, yield views"),
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


def collection_of(source, keys=None, owner="streams"):
    """Return ``source`` as a :class:`~muxlab.Collection` (scanning a folder, glob or list with ``keys``).

    ``keys=None`` keeps a Collection's keys and scans anything else with ``('X', 'Y')``.
    """
    if isinstance(source, Collection):
        return source if keys is None else source.with_keys(check_keys(owner, keys))
    if not isinstance(source, (str, os.PathLike, list, tuple)):
        raise ParameterTypeError(
            f"{owner}: source={source!r} is a {type(source).__name__}; "
            "expected a Collection, a folder, a glob or a list of files"
        )
    return Collection.scan(source, keys=("X", "Y") if keys is None else keys)


def missing_layout(strategy, collection):
    """Why ``strategy`` cannot run on ``collection`` (a sentence naming what to do), or None if it can."""
    spec = STRATEGIES[strategy]
    lacking = [item for item in collection if getattr(item, spec.layout) is None]
    if not lacking:
        return None
    if spec.layout == "npy":
        src = str(collection.root) if collection.root is not None else "SRC"
        return (
            f"needs the .npy layout (muxlab convert {src} DEST, then --npy DEST); "
            f"{len(lacking)} of {len(collection)} items lack it, first {lacking[0].path!r}"
        )
    return f"needs the .npz layout; {len(lacking)} of {len(collection)} items lack it, first {lacking[0].path!r}"


def streams(strategy, source, n, random_state=None, keys=None):
    """Return one :class:`~muxlab.Streamer` per item of ``source``, in the collection's order.

    Parameters
    ----------
    strategy : str
        A name from :data:`STRATEGIES`.
    source : Collection, folder, glob or list of files
        A folder or glob is scanned with ``keys`` (see
        :meth:`muxlab.Collection.scan`); a folder muxlab generated (with
        ``manifest.json``) is read from its manifest.
    n : int or Knob
        Rows per window. Items with fewer than ``n`` rows are left out, with
        one :class:`~muxlab.DataWarning` saying how many
        (``collection.skipped(n)`` lists them).
    random_state : int, Generator, SeedSequence, RandomState or None
        Split into one SeedSequence per stream (:func:`muxlab.random_state.seed_sequence`),
        so each activation of each stream draws different windows while the
        whole program stays reproducible.
    keys : sequence of str, optional
        The arrays of every item (default: the Collection's keys, or
        ``('X', 'Y')``); windows are dicts with exactly these keys.

    Every file the strategy reads is checked first (headers only), and one
    :class:`~muxlab.DataError` lists every unusable file. A strategy whose
    layout the collection lacks (the memory-mapped ones need one ``.npy``
    per array) raises a DataError pointing at ``muxlab convert``.

    >>> from muxlab.fixtures import ensure
    >>> tiny = streams('npz_copy', ensure('tiny'), 16, random_state=0)
    >>> len(tiny), next(iter(tiny[0]))['X'].shape
    (8, (16, 8))
    """
    root_text = _source_text(source)
    where = f"streams({strategy!r}, {root_text}, n={_n_text(n)})"
    check_choice("streams", "strategy", strategy, tuple(STRATEGIES))
    if not isinstance(source, (str, os.PathLike, list, tuple, Collection)):
        raise ParameterTypeError(
            f"{where}: root={source!r} is a {type(source).__name__}; "
            "expected a folder path, a glob, a list of files or a Collection"
        )
    spec = STRATEGIES[strategy]
    size = _window_size(where, n)
    parent = seed_sequence(random_state, where)
    collection = collection_of(source, keys, owner=where)
    keys = collection.keys
    if len(collection) == 0:
        raise DataError(f"{where}: the collection holds no items")
    why = missing_layout(strategy, collection)
    if why is not None:
        raise DataError(f"{where}: {strategy!r} {why}")
    usable = collection.usable(size.value)
    if len(usable) == 0:
        shortest = max(collection, key=lambda item: item.rows)
        raise DataError(
            f"{where}: every item has fewer than n={size.value} rows (the longest, {shortest.path!r}, has "
            f"{shortest.rows}); {keys[0]!r} has {shortest.rows} rows, fewer than n={size.value}"
        )
    if len(usable) < len(collection):
        short = len(collection) - len(usable)
        warnings.warn(
            f"{where}: left out {short} of {len(collection)} items with fewer than n={size.value} rows "
            f"(collection.skipped({size.value}) lists them)",
            DataWarning,
            stacklevel=2,
        )
    problems = []
    for item in usable:
        try:
            spec.check(item, n, keys)
        except DataError as err:
            problems.append(str(err))
    if len(problems) == 1:
        raise DataError(problems[0])
    if problems:
        shown = problems[:_MAX_LISTED]
        more = f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        raise DataError(
            f"{where}: {len(problems)} of {len(usable)} items are not usable:\n  " + "\n  ".join(shown) + more
        )
    seeds = spawn(parent, len(usable))
    return [spec(item, n, random_state=seed, keys=keys) for item, seed in zip(usable, seeds)]


def _source_text(source):
    if isinstance(source, (str, os.PathLike)):
        return repr(os.fspath(source))
    if isinstance(source, Collection):
        return f"<Collection of {len(source)} items>"
    if isinstance(source, (list, tuple)):
        return f"<{len(source)} paths>"
    return repr(source)
