"""A collection: the items a user's files hold, the arrays (keys) of each item, and how to read them.

An item is one recording, song or document: a few arrays (its *keys*, e.g.
``X`` and ``Y``, or ``features`` alone) with the same number of rows. It is
stored in one or both of two layouts:

- ``npz``: one archive ``NAME.npz`` holding every key (``np.savez`` or
  ``np.savez_compressed``);
- ``npy``: one file per key, ``NAME.<key>.npy``, which can be memory-mapped.

:meth:`Collection.scan` finds the items in a folder (recursively), a glob, a
list of files, or a collection muxlab generated (a folder with
``manifest.json``), reading only headers. :meth:`Collection.to_npy` converts
to the memory-mappable layout. Files are only ever opened read-only and
nothing is written next to them.

>>> import numpy as np, os, tempfile
>>> corpus = tempfile.mkdtemp()
>>> for i, rows in enumerate([50, 80, 8]):
...     np.savez_compressed(os.path.join(corpus, f'song{i}.npz'),
...                         features=np.zeros((rows, 4), 'f4'), labels=np.arange(rows))
>>> songs = Collection.scan(corpus, keys=('features', 'labels'))
>>> len(songs), songs.layouts, [item.rows for item in songs]
(3, ('npz',), [50, 80, 8])
>>> [item.name for item in songs.skipped(16)]
['song2']
"""

import glob
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError, DataWarning, ParameterError, ParameterTypeError
from .headers import read_npy_header, read_npz_headers
from .validation import check_choice, check_keys, short_repr

#: The two layouts an item can be stored in.
LAYOUTS = ("npz", "npy")

#: What ``on_bad`` accepts.
ON_BAD = ("raise", "skip")

_MANIFEST = "manifest.json"
_MAX_LISTED = 20


@dataclass(frozen=True)
class Item:
    """One item of a collection: its name, rows, array headers and the files holding it.

    ``arrays`` maps each key to its :class:`~muxlab.headers.ArrayHeader`;
    ``npz`` is the archive's path (or None); ``npy`` maps each key to its
    ``.npy`` file (or is None).
    """

    name: str
    rows: int
    arrays: dict
    npz: str = None
    npy: dict = None

    @property
    def layouts(self):
        """The layouts this item is stored in, a tuple from ``('npz', 'npy')``."""
        return tuple(layout for layout in LAYOUTS if getattr(self, layout) is not None)

    @property
    def path(self):
        """The file that names the item: its archive, else its first ``.npy`` file."""
        return self.npz if self.npz is not None else next(iter(self.npy.values()))

    @property
    def files(self):
        """Every file holding the item."""
        return ([self.npz] if self.npz else []) + (list(self.npy.values()) if self.npy else [])

    @property
    def nbytes(self):
        """Bytes of array data over every key (uncompressed)."""
        return sum(h.nbytes for h in self.arrays.values())

    @property
    def compressed(self):
        """True if any member of its archive is deflated (``np.savez_compressed``)."""
        return any(h.compressed for h in self.arrays.values())


class Collection:
    """A set of items and how to read them; build one with :meth:`scan`.

    Parameters
    ----------
    items : sequence of :class:`Item`
    keys : tuple of str
        The arrays of every item; windows the loaders yield are dicts with
        exactly these keys.
    root : path, optional
        The folder the item names are relative to (where the files are).
    bad : sequence of (path, message), optional
        Files left out by ``on_bad="skip"``.
    """

    def __init__(self, items, keys, root=None, bad=()):
        self._items = tuple(items)
        self._keys = tuple(keys)
        self._root = None if root is None else Path(root)
        self._bad = tuple(bad)

    # ------------------------------------------------------------------ building

    @classmethod
    def scan(cls, source, keys=("X", "Y"), on_bad="raise"):
        """Find the items of ``source`` and read their headers (never their array data).

        Parameters
        ----------
        source : path, glob, list of paths, or Collection
            A folder, searched recursively for ``*.npz`` archives and for
            ``NAME.<key>.npy`` groups (one file per key); a folder muxlab
            generated (holding ``manifest.json``); a glob pattern
            (``'corpus/**/*.npz'``); or a list of files and folders. A
            Collection is returned as is (with its items restricted to
            ``keys`` if they differ).
        keys : sequence of str
            The arrays every item holds (at least one). Every key of an item
            must have the same number of rows; trailing shapes and dtypes may
            differ between items.
        on_bad : ``'raise'`` or ``'skip'``
            A corrupt, truncated, pickled-object or key-missing file raises a
            :class:`~muxlab.DataError` naming it; with ``'skip'`` such files
            are left out with one warning listing them (also in :attr:`bad`).

        Returns
        -------
        Collection
        """
        owner = "Collection.scan"
        keys = check_keys(owner, keys)
        on_bad = check_choice(owner, "on_bad", on_bad, ON_BAD)
        if isinstance(source, Collection):
            return source.with_keys(keys)
        root, npz_files, npy_files, manifest = _find_files(owner, source, keys)
        if manifest is not None:
            return _from_manifest(owner, root, manifest, keys)
        return _from_files(owner, source, root, npz_files, npy_files, keys, on_bad)

    def with_keys(self, keys):
        """The same items restricted to ``keys`` (a subset of :attr:`keys`)."""
        keys = check_keys("Collection.with_keys", keys)
        if keys == self._keys:
            return self
        missing = [k for k in keys if k not in self._keys]
        if missing:
            raise ParameterError(
                f"Collection.with_keys: keys={keys!r} names {missing!r}, which this collection does not hold; "
                f"expected keys from {self._keys!r} (or scan the files again with those keys)"
            )
        items = [
            Item(item.name, item.rows, {k: item.arrays[k] for k in keys}, item.npz,
                 None if item.npy is None else {k: item.npy[k] for k in keys})
            for item in self._items
        ]
        return Collection(items, keys, self._root, self._bad)

    def add_layouts(self, other):
        """Return this collection with the layouts of ``other`` added to the items of the same name.

        Used to pair archives with their converted ``.npy`` files
        (``muxlab compare SRC --npy DEST``). Items ``other`` lacks keep their layouts.
        """
        if not isinstance(other, Collection):
            raise ParameterTypeError(f"Collection.add_layouts: {other!r} is not a Collection")
        other = other.with_keys(self._keys)
        by_name = {item.name: item for item in other}
        items = []
        for item in self._items:
            match = by_name.get(item.name)
            if match is None:
                items.append(item)
                continue
            if match.rows != item.rows:
                raise DataError(
                    f"Collection.add_layouts: item {item.name!r} has {item.rows} rows in {item.path!r} "
                    f"but {match.rows} in {match.path!r}; expected the same item in both layouts"
                )
            items.append(Item(item.name, item.rows, item.arrays, item.npz or match.npz, item.npy or match.npy))
        return Collection(items, self._keys, self._root, self._bad)

    # ------------------------------------------------------------------ reading

    @property
    def keys(self):
        """The arrays of every item, as a tuple."""
        return self._keys

    @property
    def root(self):
        """The folder the item names are relative to (None if unknown)."""
        return self._root

    @property
    def items(self):
        """The items, as a tuple of :class:`Item`."""
        return self._items

    @property
    def bad(self):
        """The files left out by ``on_bad='skip'``: a tuple of ``(path, message)``."""
        return self._bad

    @property
    def layouts(self):
        """The layouts every item has, a tuple from ``('npz', 'npy')``."""
        return tuple(layout for layout in LAYOUTS if self._items and all(getattr(i, layout) for i in self._items))

    @property
    def nbytes(self):
        """Bytes of array data over every item and key (uncompressed)."""
        return sum(item.nbytes for item in self._items)

    def has_layout(self, layout):
        """True if every item is stored in ``layout`` (``'npz'`` or ``'npy'``)."""
        check_choice("Collection.has_layout", "layout", layout, LAYOUTS)
        return bool(self._items) and all(getattr(item, layout) is not None for item in self._items)

    def files(self, layout):
        """The files of ``layout`` over every item, in item order (every key's file for ``'npy'``)."""
        check_choice("Collection.files", "layout", layout, LAYOUTS)
        if layout == "npz":
            return [item.npz for item in self._items if item.npz is not None]
        return [item.npy[k] for item in self._items if item.npy is not None for k in self._keys]

    def skipped(self, n):
        """The items with fewer than ``n`` rows, which streams of windows of ``n`` rows leave out, as a Collection.

        >>> from muxlab.fixtures import ensure
        >>> [item.name for item in Collection.scan(ensure('tiny')).skipped(100)]
        ['item001', 'item004', 'item006']
        """
        return Collection([i for i in self._items if i.rows < n], self._keys, self._root)

    def usable(self, n):
        """The items with at least ``n`` rows, as a Collection."""
        return Collection([i for i in self._items if i.rows >= n], self._keys, self._root, self._bad)

    def __len__(self):
        return len(self._items)

    def __iter__(self):
        return iter(self._items)

    def __getitem__(self, index):
        return self._items[index]

    def __repr__(self):
        layouts = "+".join(self.layouts) or "mixed"
        where = f", root={short_repr(str(self._root), 40)}" if self._root is not None else ""
        bad = f", {len(self._bad)} bad left out" if self._bad else ""
        return f"Collection({len(self)} items, keys={self._keys!r}, layout={layouts}, {_size(self.nbytes)}{where}{bad})"

    def to_frame(self):
        """One row per item: name, path, rows, per key dtype and shape, bytes, compressed, layouts.

        ``bytes`` is the array data over every key (uncompressed); ``file_bytes``
        what the item's files take on disk.
        """
        import pandas as pd

        rows = []
        for item in self._items:
            row = {"name": item.name, "path": item.path, "rows": item.rows}
            for key in self._keys:
                header = item.arrays[key]
                row[f"{key}_dtype"] = header.dtype.str if header.dtype.names is None else str(header.dtype)
                row[f"{key}_shape"] = header.shape
            row["bytes"] = item.nbytes
            row["file_bytes"] = sum(_file_size(p) for p in item.files)
            row["compressed"] = item.compressed
            row["layouts"] = ",".join(item.layouts)
            rows.append(row)
        columns = ["name", "path", "rows"] + [f"{k}_{w}" for k in self._keys for w in ("dtype", "shape")]
        columns += ["bytes", "file_bytes", "compressed", "layouts"]
        return pd.DataFrame(rows, columns=columns)

    # ------------------------------------------------------------------ passing to another process

    def spec(self, layout=None):
        """A JSON-able description (keys and every item's files) that :meth:`from_spec` reads back.

        With ``layout`` (``'npz'`` or ``'npy'``), only that layout's files are described.
        """
        if layout is not None:
            check_choice("Collection.spec", "layout", layout, LAYOUTS)
        return {
            "keys": list(self._keys),
            "root": None if self._root is None else str(self._root),
            "items": [
                {"name": i.name, "npz": i.npz if layout in (None, "npz") else None,
                 "npy": i.npy if layout in (None, "npy") else None}
                for i in self._items
            ],
        }

    @classmethod
    def from_spec(cls, spec):
        """Rebuild a Collection from :meth:`spec`, reading the files' headers again."""
        keys = tuple(spec["keys"])
        items = [
            _read_item("Collection.from_spec", entry["name"], entry.get("npz"), entry.get("npy"), keys)
            for entry in spec["items"]
        ]
        return cls(items, keys, spec.get("root"))

    # ------------------------------------------------------------------ conversion

    def to_npy(self, dest, progress=True):
        """Write every item's arrays as ``DEST/<item>.<key>.npy`` and return the new Collection.

        Each file is written under a temporary name, read back and compared
        with the source, and only then renamed: an interrupted conversion
        leaves no half-written file under a final name, and a rerun keeps the
        files already done (after checking they hold the same data) and
        continues. The source is only read.

        Parameters
        ----------
        dest : path
            Folder to write into (created if missing); must not be inside the
            collection's own folder.
        progress : bool or callable
            True shows a tqdm bar in bytes; a callable gets ``(bytes_done,
            bytes_total)`` after every chunk; False shows nothing.

        Raises
        ------
        DataError
            ``dest`` is inside the source folder, a file in ``dest`` already
            exists with different contents, or there is not enough free space
            (the message says how much is needed).
        """
        from .convert import convert_to_npy

        return convert_to_npy(self, dest, progress)


def _size(nbytes):
    for unit in ("B", "kB", "MB", "GB"):
        if nbytes < 1000 or unit == "GB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    return f"{nbytes:.1f} TB"


def _file_size(path):
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


# --------------------------------------------------------------------------- finding files

_GLOB_CHARS = "*?["


def _find_files(owner, source, keys):
    """Return (root, npz files, npy files, manifest or None) for ``source``."""
    if isinstance(source, (list, tuple)):
        if not source:
            raise ParameterError(f"{owner}: source=[] is empty; expected files or folders")
        npz, npy = [], []
        for entry in source:
            if not isinstance(entry, (str, os.PathLike)):
                raise ParameterTypeError(
                    f"{owner}: {short_repr(entry)} in the source list is a {type(entry).__name__}; expected a path"
                )
            _, z, y, manifest = _find_files(owner, entry, keys)
            if manifest is not None:
                raise ParameterError(
                    f"{owner}: {os.fspath(entry)!r} is a muxlab-made collection; pass it alone, not in a list"
                )
            npz += z
            npy += y
        return _common_root(npz + npy), npz, npy, None
    if not isinstance(source, (str, os.PathLike)):
        raise ParameterTypeError(
            f"{owner}: source={short_repr(source)} is a {type(source).__name__}; "
            "expected a folder, a glob, a list of files or a Collection"
        )
    text = os.fspath(source)
    if os.path.isdir(text):
        manifest_path = os.path.join(text, _MANIFEST)
        if os.path.isfile(manifest_path):
            return Path(text), [], [], manifest_path
        npz, npy = [], []
        _walk(text, npz, npy)
        if not npz and not npy:
            raise DataError(f"{owner}: no .npz or .npy files in {text!r} (searched recursively)")
        return Path(text), npz, npy, None
    if os.path.isfile(text):
        npz, npy = _classify([text])
        if not npz and not npy:
            raise DataError(f"{owner}: {text!r} is neither an .npz archive nor an .npy file")
        return Path(os.path.dirname(os.path.abspath(text))), npz, npy, None
    if any(c in text for c in _GLOB_CHARS):
        found = sorted(p for p in glob.glob(text, recursive=True) if os.path.isfile(p))
        npz, npy = _classify(found)
        if not npz and not npy:
            raise DataError(f"{owner}: the pattern {text!r} matches no .npz or .npy file")
        return _common_root(npz + npy), npz, npy, None
    raise DataError(f"{owner}: {text!r} does not exist; expected a folder, a glob or a file")


def _walk(folder, npz, npy, seen=None):
    seen = set() if seen is None else seen
    real = os.path.realpath(folder)
    if real in seen:  # a symbolic link back up the tree
        return
    seen.add(real)
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.is_dir(follow_symlinks=True):
                _walk(entry.path, npz, npy, seen)
            elif entry.name.endswith(".npz"):
                npz.append(entry.path)
            elif entry.name.endswith(".npy"):
                npy.append(entry.path)


def _classify(paths):
    npz = [p for p in paths if p.endswith(".npz")]
    npy = [p for p in paths if p.endswith(".npy")]
    return npz, npy


def _common_root(paths):
    folders = {os.path.dirname(os.path.abspath(p)) for p in paths}
    return Path(os.path.commonpath(sorted(folders))) if folders else None


# --------------------------------------------------------------------------- reading headers


def _read_item(owner, name, npz, npy, keys):
    """Read the headers of one item's files; return an Item or raise a DataError naming the file."""
    arrays = None
    if npz is not None:
        arrays = read_npz_headers(npz, keys, where=f"{owner}: {npz!r}")
        _check_rows(owner, npz, arrays, keys)
    if npy is not None:
        missing = [k for k in keys if k not in npy]
        if missing:
            have = ", ".join(repr(p) for p in npy.values())
            raise DataError(
                f"{owner}: item {name!r} has no file {name.rsplit('/', 1)[-1]}.{missing[0]}.npy "
                f"(it has {have}); expected one NAME.<key>.npy per key of {keys!r}"
            )
        npy = {k: npy[k] for k in keys}
        from_npy = {k: read_npy_header(path, k, where=f"{owner}: {path!r}") for k, path in npy.items()}
        _check_rows(owner, npy[keys[0]], from_npy, keys)
        if arrays is None:
            arrays = from_npy
        elif any(arrays[k].shape != from_npy[k].shape or arrays[k].dtype != from_npy[k].dtype for k in keys):
            k = next(k for k in keys if arrays[k].shape != from_npy[k].shape or arrays[k].dtype != from_npy[k].dtype)
            raise DataError(
                f"{owner}: {npy[k]!r} holds {from_npy[k].shape} {from_npy[k].dtype} but {npz!r} holds "
                f"{arrays[k].shape} {arrays[k].dtype} for {k!r}; expected the same array in both layouts"
            )
    return Item(name, arrays[keys[0]].rows, arrays, npz, npy)


def _check_rows(owner, path, arrays, keys):
    first = arrays[keys[0]].rows
    for key in keys[1:]:
        if arrays[key].rows != first:
            raise DataError(
                f"{owner}: {path!r}: {keys[0]!r} has {first} rows but {key!r} has {arrays[key].rows}; "
                "expected the same number of rows in every array of an item"
            )


def _from_files(owner, source, root, npz_files, npy_files, keys, on_bad):
    base = os.path.abspath(root) if root is not None else ""
    prefixes = (os.path.join(os.fspath(root), ""), os.path.join(base, "")) if root is not None else ()

    def name_of(path, suffix_len):
        for prefix in prefixes:  # a cheap relpath for the paths a folder walk makes
            if path.startswith(prefix):
                rel = path[len(prefix):]
                break
        else:
            rel = os.path.relpath(os.path.abspath(path), base) if base else path
        return rel[:-suffix_len].replace(os.sep, "/")

    groups = {}  # name -> [npz path, {key: npy path}]
    for path in npz_files:
        groups.setdefault(name_of(path, 4), [None, None])[0] = path
    ignored = 0
    for path in npy_files:
        stem = os.path.basename(path)[:-4]
        key = next((k for k in keys if stem.endswith("." + k) and len(stem) > len(k) + 1), None)
        if key is None:
            ignored += 1
            continue
        name = name_of(path, 4 + len(key) + 1)
        entry = groups.setdefault(name, [None, None])
        if entry[1] is None:
            entry[1] = {}
        entry[1][key] = path
    if not groups:
        raise DataError(
            f"{owner}: {_source_text(source)} holds {ignored} .npy file(s) but none named NAME.<key>.npy "
            f"for keys={keys!r}, and no .npz archive; pass the keys the files use (keys=...)"
        )
    items, bad = [], []
    for name in sorted(groups):
        npz, npy = groups[name]
        try:
            items.append(_read_item(owner, name, npz, npy, keys))
        except DataError as err:
            bad.append((npz or next(iter(npy.values())), str(err)))
    if bad and on_bad == "raise":
        raise DataError(_listing(owner, f"{len(bad)} of {len(groups)} files are not usable", [m for _, m in bad])
                        if len(bad) > 1 else bad[0][1])
    if bad:
        warnings.warn(
            _listing(owner, f"left out {len(bad)} unusable file(s) of {len(groups)} (on_bad='skip')",
                     [m for _, m in bad]),
            DataWarning,
            stacklevel=3,
        )
    if not items:
        raise DataError(f"{owner}: no usable item in {_source_text(source)}")
    return Collection(items, keys, root, bad)


# Collections read from manifests, keyed by the manifest's path, identity and the keys:
# streams() on the same folder (every strategy switch, every benchmark round) reads it once.
_FROM_MANIFEST = {}
_FROM_MANIFEST_MAX = 64


def _from_manifest(owner, root, manifest_path, keys):
    """A collection muxlab generated: items and their two layouts come from the manifest."""
    try:
        st = os.stat(manifest_path)
    except OSError:
        st = None
    key = None if st is None else (os.path.realpath(manifest_path), st.st_ino, st.st_size, st.st_mtime_ns, keys)
    found = _FROM_MANIFEST.get(key) if key is not None else None
    if found is None or found.root != Path(root):
        found = _read_manifest(owner, root, keys)
        if key is not None:
            if len(_FROM_MANIFEST) >= _FROM_MANIFEST_MAX:
                _FROM_MANIFEST.clear()
            _FROM_MANIFEST[key] = found
    return found


def _read_manifest(owner, root, keys):
    from . import fixtures

    manifest = fixtures.load_manifest(root, owner=owner)
    missing = [k for k in keys if k not in ("X", "Y")]
    if missing:
        raise ParameterError(
            f"{owner}: keys={keys!r}, but the muxlab-made collection in {str(root)!r} holds the keys ('X', 'Y')"
        )
    items = []
    for number, entry in enumerate(manifest["items"]):
        paths = fixtures.item_paths(root, entry)
        arrays = {}
        for key in keys:
            header = _manifest_header(entry, key)
            if header is None:
                header = read_npy_header(paths[f"npy_{key.lower()}"], key, where=f"{owner}: {paths[f'npy_{key.lower()}']!r}")
            arrays[key] = header
        npy = {key: paths[f"npy_{key.lower()}"] for key in keys}
        items.append(Item(str(entry.get("name", f"item{number:03d}")), int(entry["rows"]), arrays, paths["npz"], npy))
    return Collection(items, keys, root)


def _manifest_header(entry, key):
    """The header a manifest records for ``key`` (what the fixtures write), or None if it does not say."""
    from .headers import ArrayHeader

    try:
        dtype = np.dtype(entry[f"{key.lower()}_dtype"]).newbyteorder("<")
        shape = tuple(int(s) for s in entry[f"{key.lower()}_shape"])
    except (KeyError, TypeError, ValueError):
        return None
    return ArrayHeader(shape, dtype, False, 128, False)


def _source_text(source):
    if isinstance(source, (list, tuple)):
        return f"the {len(source)} paths given"
    return repr(os.fspath(source))


def _listing(owner, headline, messages):
    shown = messages[:_MAX_LISTED]
    more = f"\n  ... and {len(messages) - len(shown)} more" if len(messages) > len(shown) else ""
    return f"{owner}: {headline}:\n  " + "\n  ".join(shown) + more
