"""Convert a collection to the memory-mappable layout: one ``NAME.<key>.npy`` per item and key.

Memory-mapping needs each array in its own ``.npy`` file. :func:`convert_to_npy`
(what :meth:`muxlab.Collection.to_npy` and ``muxlab convert`` run) copies each
array's bytes out of its archive (inflating a compressed member as it goes),
behind a fresh ``.npy`` header with the same dtype, byte order, memory order
and shape. Every file is written under a temporary name, read back and
compared with the source, and only then renamed, so a final name always holds
a complete, verified file, and a rerun after an interruption continues where
it stopped. The source is opened read-only.
"""

import io
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np

from .errors import DataError, ParameterTypeError
from .headers import read_npy_header, read_npz_headers

CHUNK = 1 << 20
#: Free space kept on top of what the files need.
SPARE_BYTES = 16 << 20
_TMP_SUFFIX = ".muxlab-partial"


def convert_to_npy(collection, dest, progress=True):
    """Write ``DEST/<item>.<key>.npy`` for every item and key of ``collection``; return the new Collection.

    See :meth:`muxlab.Collection.to_npy`.
    """
    from .collection import Collection

    owner = "Collection.to_npy"
    if not isinstance(dest, (str, os.PathLike)):
        raise ParameterTypeError(f"{owner}: dest={dest!r} is a {type(dest).__name__}; expected a folder path")
    dest = Path(dest)
    _refuse_inside_source(owner, collection, dest)
    plans = [_plan(owner, collection, item, key, dest) for item in collection for key in collection.keys]
    _check_space(owner, dest, plans)
    total = sum(p.size for p in plans)
    report = _reporter(progress, total)
    try:
        for plan in plans:
            if plan.final.exists():
                _check_existing(owner, plan)
                report(plan.size)
                continue
            plan.final.parent.mkdir(parents=True, exist_ok=True)
            _write_verified(owner, plan, report)
        _fsync_dir(dest)
    finally:
        report.close()
    return Collection.scan(dest, keys=collection.keys)


class _Plan:
    __slots__ = ("item", "key", "final", "tmp", "header", "source_header", "size")

    def __init__(self, item, key, final, header, source_header):
        self.item, self.key, self.final = item, key, final
        self.tmp = final.with_name(f".{final.name}{_TMP_SUFFIX}")
        self.header, self.source_header = header, source_header
        self.size = len(header) + source_header.nbytes


def _refuse_inside_source(owner, collection, dest):
    target = os.path.realpath(dest)
    folders = {os.path.dirname(os.path.realpath(p)) for item in collection for p in item.files}
    if collection.root is not None:
        folders.add(os.path.realpath(collection.root))
    for folder in sorted(folders):
        if target == folder or target.startswith(folder.rstrip(os.sep) + os.sep):
            raise DataError(
                f"{owner}: dest={str(dest)!r} is inside the source folder {folder!r}; "
                "nothing is written next to the source: choose a folder outside it"
            )


def _plan(owner, collection, item, key, dest):
    if item.npz is not None:
        source_header = read_npz_headers(item.npz, (key,), where=f"{owner}: {item.npz!r}")[key]
    else:
        source_header = read_npy_header(item.npy[key], key, where=f"{owner}: {item.npy[key]!r}")
    header = _npy_header_bytes(source_header)
    return _Plan(item, key, dest / f"{item.name}.{key}.npy", header, source_header)


def _npy_header_bytes(h):
    d = {"descr": np.lib.format.dtype_to_descr(h.dtype), "fortran_order": h.fortran_order, "shape": h.shape}
    buf = io.BytesIO()
    try:
        np.lib.format.write_array_header_1_0(buf, d)
    except ValueError:  # a header longer than format 1.0 allows
        buf = io.BytesIO()
        np.lib.format.write_array_header_2_0(buf, d)
    return buf.getvalue()


def _check_space(owner, dest, plans):
    needed = sum(p.size for p in plans if not (p.final.exists() and p.final.stat().st_size == p.size))
    probe = dest
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if needed + SPARE_BYTES > free:
        raise DataError(
            f"{owner}: not enough free space in {str(probe)!r}: the conversion needs {_mb(needed)} "
            f"(plus {_mb(SPARE_BYTES)} spare) and {_mb(free)} is free"
        )


def _mb(nbytes):
    return f"{nbytes / 1e6:,.1f} MB"


class _Source:
    """The data bytes of one array of an item, streamed from its archive member or its .npy file."""

    def __init__(self, plan):
        self.plan = plan

    def __enter__(self):
        item, key = self.plan.item, self.plan.key
        if item.npz is not None:
            self._zip = zipfile.ZipFile(item.npz, "r")
            names = self._zip.namelist()
            member = f"{key}.npy" if f"{key}.npy" in names else key
            self._f = self._zip.open(member, "r")
        else:
            self._zip = None
            self._f = open(item.npy[key], "rb")
        skip = self.plan.source_header.offset
        while skip:
            got = len(self._f.read(min(skip, CHUNK)))
            if not got:
                break
            skip -= got
        return self

    def chunks(self):
        left = self.plan.source_header.nbytes
        while left:
            data = self._f.read(min(CHUNK, left))
            if not data:
                raise DataError(f"{self.plan.item.path!r}: {self.plan.key!r} ended {left} bytes early")
            left -= len(data)
            yield data

    def __exit__(self, *exc):
        self._f.close()
        if self._zip is not None:
            self._zip.close()
        return False


def _write_verified(owner, plan, report):
    try:
        with _Source(plan) as source, open(plan.tmp, "wb") as out:
            out.write(plan.header)
            report(len(plan.header))
            for data in source.chunks():
                out.write(data)
                report(len(data))
            out.flush()
            os.fsync(out.fileno())
        problem = _differs(plan, plan.tmp)
        if problem:
            raise DataError(f"{owner}: writing {str(plan.final)!r} failed its check: {problem}")
        os.replace(plan.tmp, plan.final)
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise DataError(f"{owner}: converting {plan.item.path!r} ({plan.key!r}) failed ({err})") from None
    finally:
        if plan.tmp.exists():
            plan.tmp.unlink()


def _check_existing(owner, plan):
    problem = _differs(plan, plan.final)
    if problem:
        raise DataError(
            f"{owner}: {str(plan.final)!r} already exists and differs from {plan.key!r} of {plan.item.path!r} "
            f"({problem}); refusing to overwrite it: remove it or choose another folder"
        )


def _differs(plan, path):
    """Return why the .npy file at ``path`` is not the array of ``plan`` (read back in full), or ''."""
    try:
        if os.stat(path).st_size != plan.size:
            return f"{os.stat(path).st_size} bytes, expected {plan.size}"
        got = read_npy_header(path, plan.key)
    except (DataError, OSError) as err:
        return str(err)
    want = plan.source_header
    if (got.shape, got.dtype, got.fortran_order) != (want.shape, want.dtype, want.fortran_order):
        return f"it holds {got.shape} {got.dtype}, expected {want.shape} {want.dtype}"
    with _Source(plan) as source, open(path, "rb") as f:
        f.seek(got.offset)
        done = 0
        for data in source.chunks():
            if f.read(len(data)) != data:
                return f"its data differs from the source within bytes {done} to {done + len(data)}"
            done += len(data)
    return ""


def _fsync_dir(path):
    if not path.exists():
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _Report:
    def __init__(self, callback, bar, total):
        self.callback, self.bar, self.total, self.done = callback, bar, total, 0

    def __call__(self, nbytes):
        self.done += nbytes
        if self.bar is not None:
            self.bar.update(nbytes)
        if self.callback is not None:
            self.callback(self.done, self.total)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _reporter(progress, total):
    if progress is True:
        from tqdm.auto import tqdm

        return _Report(None, tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="to .npy"), total)
    if progress is None or progress is False:
        return _Report(None, None, total)
    if callable(progress):
        return _Report(progress, None, total)
    raise ParameterTypeError(
        f"Collection.to_npy: progress={progress!r} is not accepted; expected True, False or a callable (done, total)"
    )
