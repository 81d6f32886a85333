"""Deterministic collections of data files to stream from: presets, generation, checksums.

A collection is a folder holding, for each item ``NAME`` (``item000``, ...),
the same two arrays in the two layouts the loaders read::

    ROOT/npz/NAME.npz        members X.npy and Y.npy, stored uncompressed (as np.savez)
    ROOT/npy/NAME.X.npy      X alone, memory-mappable
    ROOT/npy/NAME.Y.npy      Y alone
    ROOT/manifest.json       the preset, each item's rows, dtypes and shapes,
                             and the size and sha256 of every file (paths relative to ROOT)

``X`` holds ``rows x features`` float32 values, uniform in ``[-1, 1)``. ``Y``
holds one int64 label per row that says where the row came from:
``Y = item_index * ROW_BASE + row`` (``ROW_BASE = 1_000_000``), so a window is
contiguous when its labels step by one, and ``Y // ROW_BASE`` names the item.

The files are the same bytes on every run: values come from
``np.random.default_rng([seed, item_index])`` (only raw PCG64 output, whose
stream numpy keeps stable, turned into floats exactly), arrays are written
little-endian with format version 1.0, and zip entries carry a fixed date.

>>> root = ensure('tiny')
>>> manifest = load_manifest(root)
>>> manifest['preset']['name'], len(manifest['items'])
('tiny', 8)
>>> [item['rows'] for item in manifest['items']]
[300, 40, 128, 257, 64, 199, 96, 173]
"""

import hashlib
import io
import json
import os
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import DataError, ParameterError, ParameterTypeError

#: ``Y = item_index * ROW_BASE + row``: labels name the item and the row.
ROW_BASE = 1_000_000

#: Version of the generation recipe, recorded in each manifest. Bump it when
#: the bytes a preset produces change, so that :func:`ensure` regenerates.
RECIPE = 1

#: Where the committed copy of the ``tiny`` preset lives (next to the package source).
PACKAGED_TINY = Path(__file__).resolve().parents[1] / "data_fixtures" / "tiny"

MANIFEST = "manifest.json"

#: The keys of an item's ``files`` entry in the manifest, i.e. the layouts written.
FILE_KINDS = ("npz", "npy_x", "npy_y")

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can carry
_X_DTYPE = np.dtype("<f4")
_Y_DTYPE = np.dtype("<i8")


@dataclass(frozen=True)
class Preset:
    """A recipe for a collection: how many items, their rows and features, and the random seed.

    Item ``i`` has ``rows[i % len(rows)]`` rows.

    >>> p = PRESETS['tiny']
    >>> p.items, p.features, p.item_rows(1)
    (8, 8, 40)
    """

    name: str
    items: int
    rows: tuple
    features: int
    seed: int
    description: str = ""

    def __post_init__(self):
        if not self.rows or any(not 1 <= r < ROW_BASE for r in self.rows):
            raise ParameterError(f"Preset {self.name!r}: rows={self.rows!r}; expected row counts in [1, {ROW_BASE})")
        if self.items < 1 or self.features < 1:
            raise ParameterError(f"Preset {self.name!r}: items={self.items}, features={self.features}; expected >= 1")

    def item_rows(self, index):
        """Return the number of rows of item ``index``."""
        return self.rows[index % len(self.rows)]

    @property
    def nbytes(self):
        """Bytes of array data the collection holds, both layouts together (headers excluded)."""
        total_rows = sum(self.item_rows(i) for i in range(self.items))
        return 2 * total_rows * (self.features * _X_DTYPE.itemsize + _Y_DTYPE.itemsize)


PRESETS = {
    p.name: p
    for p in (
        Preset(
            "tiny",
            items=8,
            rows=(300, 40, 128, 257, 64, 199, 96, 173),
            features=8,
            seed=20240601,
            description="8 small items of 40 to 300 rows x 8 features, committed for tests (about 125 kB)",
        ),
        Preset(
            "demo",
            items=32,
            rows=(10_000,),
            features=128,
            seed=20240602,
            description="32 items of 10,000 rows x 128 features (5 MB of X each, about 330 MB in all)",
        ),
        Preset(
            "large",
            items=64,
            rows=(50_000,),
            features=256,
            seed=20240603,
            description="64 items of 50,000 rows x 256 features (51 MB of X each, about 6.6 GB in all)",
        ),
    )
}


def get_preset(preset):
    """Return the :class:`Preset` named ``preset`` (a ``Preset`` is returned as is).

    >>> get_preset('demo').features
    128
    """
    if isinstance(preset, Preset):
        return preset
    if isinstance(preset, str) and preset in PRESETS:
        return PRESETS[preset]
    listed = ", ".join(repr(name) for name in PRESETS)
    if not isinstance(preset, str):
        raise ParameterTypeError(
            f"fixtures: preset={preset!r} is a {type(preset).__name__}; expected a preset name, one of {listed}"
        )
    raise ParameterError(f"fixtures: preset={preset!r} is not known; expected one of {listed}")


def item_name(index):
    """Return the name of item ``index``: ``item000``, ``item001``, ..."""
    return f"item{index:03d}"


def item_arrays(preset, index):
    """Return the arrays ``(X, Y)`` of item ``index`` of ``preset``.

    >>> X, Y = item_arrays('tiny', 1)
    >>> X.shape, X.dtype, Y[:3].tolist()
    ((40, 8), dtype('float32'), [1000000, 1000001, 1000002])
    """
    p = get_preset(preset)
    rows = p.item_rows(index)
    raw = np.random.default_rng([p.seed, index]).bit_generator.random_raw(rows * p.features)
    # The top 24 bits of each draw, scaled: exact in float32, so the same on every machine.
    raw >>= np.uint64(40)
    X = raw.astype(_X_DTYPE).reshape(rows, p.features)
    del raw
    X *= np.float32(2.0**-23)
    X -= np.float32(1.0)
    Y = np.arange(rows, dtype=_Y_DTYPE) + index * ROW_BASE
    return X, Y


def make(root, preset):
    """Write the collection ``preset`` into the folder ``root`` and return ``root`` as a Path.

    Files are written under temporary names and moved into place, and the
    manifest is written last, so an interrupted run leaves no manifest that
    claims files it did not write, and a reader holding an old file open (or
    memory-mapped) keeps seeing the old bytes. Other files in ``root`` are left
    alone.
    """
    p = get_preset(preset)
    root = Path(root)
    (root / "npz").mkdir(parents=True, exist_ok=True)
    (root / "npy").mkdir(parents=True, exist_ok=True)
    manifest_path = root / MANIFEST
    if manifest_path.exists():
        manifest_path.unlink()
    items = []
    for index in range(p.items):
        name = item_name(index)
        X, Y = item_arrays(p, index)
        x_bytes, y_bytes = _npy_bytes(X), _npy_bytes(Y)
        contents = {
            "npz": (f"npz/{name}.npz", _zip_bytes([("X.npy", x_bytes), ("Y.npy", y_bytes)])),
            "npy_x": (f"npy/{name}.X.npy", x_bytes),
            "npy_y": (f"npy/{name}.Y.npy", y_bytes),
        }
        files = {}
        for kind, (rel, data) in contents.items():
            _write_atomic(root / rel, data)
            files[kind] = {"path": rel, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        items.append(
            {
                "name": name,
                "rows": int(X.shape[0]),
                "features": int(X.shape[1]),
                "x_dtype": X.dtype.name,
                "x_shape": list(X.shape),
                "y_dtype": Y.dtype.name,
                "y_shape": list(Y.shape),
                "files": files,
            }
        )
    manifest = {"recipe": RECIPE, "row_base": ROW_BASE, "preset": _preset_record(p), "items": items}
    _write_atomic(manifest_path, (json.dumps(manifest, indent=1) + "\n").encode())
    return root


def load_manifest(root, owner=None):
    """Return the manifest of the collection in ``root`` as a dict.

    Raises :class:`~muxlab.DataError` if the folder or its manifest is missing
    or unreadable; the message (prefixed with ``owner``, the caller's name)
    says how to make a collection.
    """
    root = Path(root)
    owner = owner or f"load_manifest({str(root)!r})"
    how = "a folder of your own .npz/.npy files needs no manifest: read it with muxlab.Collection.scan(folder, keys=...)"
    if not root.is_dir():
        raise DataError(f"{owner}: data folder {str(root)!r} does not exist; {how}")
    path = root / MANIFEST
    if not path.is_file():
        raise DataError(f"{owner}: {str(path)!r} not found, so {str(root)!r} is not a muxlab collection; {how}")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{owner}: {str(path)!r} is not readable JSON ({err}); {how}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("items"), list):
        raise DataError(f"{owner}: {str(path)!r} has no 'items' list; {how}")
    for number, item in enumerate(manifest["items"]):
        files = item.get("files") if isinstance(item, dict) else None
        if not isinstance(files, dict) or not all(
            isinstance(files.get(kind), dict) and isinstance(files[kind].get("path"), str) for kind in FILE_KINDS
        ):
            raise DataError(
                f"{owner}: {str(path)!r}: item {number} lacks a path for each of {', '.join(FILE_KINDS)}; {how}"
            )
    return manifest


def item_paths(root, item):
    """Return ``{kind: path string}`` for a manifest ``item`` of the collection in ``root``."""
    root = Path(root)
    return {kind: str(root / entry["path"]) for kind, entry in item["files"].items()}


def verify(root):
    """Check every file of the collection in ``root`` against its manifest; return the manifest.

    Raises :class:`~muxlab.DataError` naming each missing or changed file.

    >>> verify(ensure('tiny'))['preset']['name']
    'tiny'
    """
    root = Path(root)
    manifest = load_manifest(root, owner=f"verify({str(root)!r})")
    problems = []
    for item in manifest["items"]:
        for entry in item["files"].values():
            path = root / entry["path"]
            if not path.is_file():
                problems.append(f"{entry['path']}: missing")
                continue
            with open(path, "rb") as f:
                digest = hashlib.file_digest(f, "sha256").hexdigest()
            recorded = str(entry.get("sha256"))
            if digest != recorded:
                problems.append(f"{entry['path']}: changed (sha256 {digest[:12]}..., manifest says {recorded[:12]}...)")
    if problems:
        raise DataError(
            f"verify({str(root)!r}): {len(problems)} file(s) differ from {MANIFEST}:\n  " + "\n  ".join(problems)
        )
    return manifest


def default_root(preset):
    """Return where ``preset`` is generated when no folder is given: ``$MUXLAB_DATA/<preset>``.

    Without the ``MUXLAB_DATA`` environment variable, ``./muxlab-data`` in the
    current directory; set it to share one generated copy between folders.

    >>> default_root('demo').name
    'demo'
    """
    base = os.environ.get("MUXLAB_DATA") or Path.cwd() / "muxlab-data"
    return Path(base) / get_preset(preset).name


def ensure(preset, root=None, verify=False):
    """Return a folder holding the collection ``preset``, making it only if needed.

    The folder is kept when its manifest records this preset and recipe and
    every file it lists exists with the recorded size (with ``verify=True``,
    also the recorded sha256; off by default because hashing reads every file
    and so warms the page cache). Otherwise it is (re)made.

    Without ``root``, ``tiny`` is the copy committed in ``data_fixtures/tiny``
    when that is intact, and any preset is otherwise kept in
    :func:`default_root`.
    """
    p = get_preset(preset)
    if root is None:
        if p == PRESETS["tiny"] and _matches(PACKAGED_TINY, p, verify):
            return PACKAGED_TINY
        root = default_root(p)
    root = Path(root)
    if _matches(root, p, verify):
        return root
    return make(root, p)


def _matches(root, p, full):
    """True if ``root`` holds the collection ``p`` (sizes checked; checksums too if ``full``)."""
    try:
        manifest = load_manifest(root)
    except DataError:
        return False
    recorded = manifest.get("preset")
    if manifest.get("recipe") != RECIPE or not isinstance(recorded, dict):
        return False
    expected = _preset_record(p)
    if any(recorded.get(key) != expected[key] for key in expected if key != "description"):
        return False
    for item in manifest["items"]:
        for entry in item["files"].values():
            path = root / entry["path"]
            if not path.is_file() or path.stat().st_size != entry.get("bytes"):
                return False
    if full:
        try:
            verify(root)
        except DataError:
            return False
    return True


def _preset_record(p):
    record = asdict(p)
    record["rows"] = list(p.rows)
    return record


def _npy_bytes(array):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, version=(1, 0), allow_pickle=False)
    return buf.getvalue()


def _zip_bytes(members):
    """Return a zip archive of ``(name, bytes)`` members, stored uncompressed, with fixed metadata."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3  # unix, whatever the machine
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def _write_atomic(path, data):
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
