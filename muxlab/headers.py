"""Read what an ``.npy`` file or an NPZ archive holds from its headers alone, never its array data.

An NPZ archive is a zip file of ``.npy`` members. Its central directory (at
the end of the file) lists the members; each member starts with a local
header, then the ``.npy`` header (magic, version, a Python-literal dict of
``descr``, ``fortran_order`` and ``shape``), then the array's bytes. Reading
those few hundred bytes per member tells the shape, dtype and layout of every
array without reading or decompressing the data (a compressed member is
inflated only as far as its ``.npy`` header). Nothing is ever unpickled: an
array whose dtype holds Python objects is refused.

>>> import io, os, tempfile, numpy as np
>>> folder = tempfile.mkdtemp()
>>> path = os.path.join(folder, 'a.npz')
>>> np.savez_compressed(path, features=np.zeros((5, 3), '>f4'), labels=np.arange(5))
>>> found = read_npz_headers(path, ('features', 'labels'))
>>> found['features'].shape, found['features'].dtype.str, found['features'].compressed
((5, 3), '>f4', True)
"""

import io
import os
import stat
import struct
import zipfile
import zlib
from math import prod
from typing import NamedTuple

import numpy as np

from .errors import DataError


class ArrayHeader(NamedTuple):
    """What an ``.npy`` header says about one array, and where its data starts.

    ``offset`` counts from the start of the ``.npy`` file (or of the member's
    uncompressed bytes); ``compressed`` is True for a deflated NPZ member.
    """

    shape: tuple
    dtype: np.dtype
    fortran_order: bool
    offset: int
    compressed: bool = False

    @property
    def nbytes(self):
        """Bytes of array data (without the header)."""
        return prod(self.shape) * self.dtype.itemsize

    @property
    def rows(self):
        """Length of the first axis."""
        return self.shape[0]


_MAGIC = b"\x93NUMPY"
_EOCD = struct.Struct("<4sHHHHIIH")
_EOCD64_LOCATOR = struct.Struct("<4sIQI")
_EOCD64 = struct.Struct("<4sQHHIIQQQQ")
_CENTRAL = struct.Struct("<4s6H3I5HII")
_LOCAL = struct.Struct("<4s5H3I2H")
_STORED, _DEFLATED = 0, 8
_FIRST_READ = 256

# The same header text (same dtype, order and shape) is parsed once.
_PARSED = {}
_PARSED_MAX = 4096


def _fail(where, text):
    return DataError(f"{where}: {text}")


def _open(where, path):
    """Open ``path`` read-only; return (fd, size), or raise a DataError naming it."""
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block
    except FileNotFoundError:
        raise _fail(where, f"file {name!r} not found") from None
    except IsADirectoryError:
        raise _fail(where, f"{name!r} is not a file") from None
    except OSError as err:
        raise _fail(where, f"cannot read {name!r} ({err.strerror or err})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise _fail(where, f"{name!r} is not a file")
    return fd, st.st_size


def parse_npy_header(where, key, head, total_bytes, compressed=False, more=None):
    """Parse the ``.npy`` header at the start of ``head`` (bytes); return an :class:`ArrayHeader`.

    ``more(n)`` returns the first ``n`` bytes when ``head`` is too short.
    ``total_bytes`` is the size of the whole ``.npy`` file or member; an array
    whose header promises more data than that is refused as truncated.
    """
    if len(head) < 10 or head[:6] != _MAGIC:
        raise _fail(where, f"{key!r} is not a readable .npy array (the magic string is not correct: no .npy header at its start)")
    major = head[6]
    if major == 1:
        length, start = int.from_bytes(head[8:10], "little"), 10
    elif major == 2:
        if len(head) < 12:
            raise _fail(where, f"{key!r} is not a readable .npy array (its header is cut short)")
        length, start = int.from_bytes(head[8:12], "little"), 12
    else:
        raise _fail(
            where, f"{key!r} is not a readable .npy array (format version ({major}, {head[7]}) is not supported (1.0 and 2.0 are))"
        )
    end = start + length
    if len(head) < end and more is not None:
        head = more(end)
    if len(head) < end:
        raise _fail(where, f"{key!r} is not a readable .npy array (its header is cut short)")
    text = head[start:end]
    parsed = _PARSED.get(text)
    if parsed is None:
        parsed = _parse_dict(where, key, head[:end], major)
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[text] = parsed
    shape, fortran_order, dtype = parsed
    header = ArrayHeader(shape, dtype, fortran_order, end, compressed)
    if total_bytes - end < header.nbytes:
        raise _fail(
            where,
            f"{key!r} is truncated: its header promises {header.nbytes} bytes of data "
            f"(shape {shape}, {dtype}) but only {max(total_bytes - end, 0)} follow it",
        )
    return header


def _parse_dict(where, key, head, major):
    f = io.BytesIO(head)
    try:
        np.lib.format.read_magic(f)
        if major == 1:
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=1 << 20)
        else:
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=1 << 20)
    except (ValueError, SyntaxError, TypeError, EOFError, UnicodeDecodeError) as err:
        raise _fail(where, f"{key!r} is not a readable .npy array ({err})") from None
    if dtype.hasobject:
        raise _fail(
            where, f"{key!r} has dtype {dtype}, which numpy stores pickled; refusing to load it (allow_pickle=False)"
        )
    if not shape:
        raise _fail(where, f"{key!r} is a 0-d array; expected an array with one row per entry of its first axis")
    return tuple(int(s) for s in shape), bool(fortran_order), dtype


def read_npy_header(path, key="array", where=None):
    """Return the :class:`ArrayHeader` of the ``.npy`` file at ``path``, reading its header only.

    Raises :class:`~muxlab.DataError` (prefixed with ``where``, the caller's
    name) if the file is missing, not an ``.npy`` file, pickled, 0-d or
    shorter than its header promises.
    """
    where = where or repr(os.fspath(path))
    fd, size = _open(where, path)
    try:
        head = os.pread(fd, _FIRST_READ, 0)
        return parse_npy_header(where, key, head, size, more=lambda n: os.pread(fd, n, 0))
    finally:
        os.close(fd)


def read_npz_headers(path, keys, where=None):
    """Return ``{key: ArrayHeader}`` for the members ``keys`` of the NPZ archive at ``path``.

    A key ``K`` names the member ``K.npy`` (or ``K``), as ``np.load(path)[K]``
    does. Only the zip directory, the members' local headers and their
    ``.npy`` headers are read. Raises :class:`~muxlab.DataError` naming the
    problem: not a zip archive (corrupt or truncated), a key missing (the
    message lists what the archive holds), a member that is not an ``.npy``
    array, pickled, 0-d, encrypted or truncated.
    """
    where = where or repr(os.fspath(path))
    fd, size = _open(where, path)
    try:
        members, tail, tail_start = _central_directory(where, fd, size)
        found = {}
        for key in keys:
            entry = members.get(f"{key}.npy") or members.get(key)
            if entry is None:
                held = ", ".join(repr(name) for name in members) or "nothing"
                raise _fail(where, f"no array {key!r} in the archive (it holds {held})")
            found[key] = _member_header(where, fd, size, key, entry, tail, tail_start)
        return found
    finally:
        os.close(fd)


def list_npz_members(path, where=None):
    """Return the names of the members of the NPZ archive at ``path`` (its keys: ``.npy`` stripped)."""
    where = where or repr(os.fspath(path))
    fd, size = _open(where, path)
    try:
        return [name[:-4] if name.endswith(".npy") else name for name in _central_directory(where, fd, size)[0]]
    finally:
        os.close(fd)


def _central_directory(where, fd, size):
    """Return ``{member name: (flags, method, compressed size, size, local header offset)}``."""

    def bad(text):
        return _fail(where, f"not a readable zip archive ({text})")

    if size < _EOCD.size:
        raise bad(f"{size} bytes, too short for a zip archive")
    tail_size = min(size, 1024)
    tail = os.pread(fd, tail_size, size - tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 and size > tail_size:  # a long archive comment: look further back
        tail_size = min(size, 65535 + _EOCD.size + 1024)
        tail = os.pread(fd, tail_size, size - tail_size)
        at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + _EOCD.size > len(tail):
        raise bad("no end-of-central-directory record: truncated, or not a zip file")
    _, disk, cd_disk, _, entries, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, at)
    eocd_pos = size - tail_size + at
    if entries == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
        loc_pos = eocd_pos - _EOCD64_LOCATOR.size
        loc = os.pread(fd, _EOCD64_LOCATOR.size, loc_pos) if loc_pos >= 0 else b""
        if len(loc) != _EOCD64_LOCATOR.size or loc[:4] != b"PK\x06\x07":
            raise bad("zip64 locator missing")
        eocd64_pos = _EOCD64_LOCATOR.unpack(loc)[2]
        rec = os.pread(fd, _EOCD64.size, eocd64_pos)
        if len(rec) != _EOCD64.size or rec[:4] != b"PK\x06\x06":
            raise bad("zip64 end-of-central-directory record missing")
        _, _, _, _, disk, cd_disk, _, entries, cd_size, cd_offset = _EOCD64.unpack(rec)
    if disk or cd_disk:
        raise bad("a multi-part archive")
    if cd_offset + cd_size > size:
        raise bad(f"its directory points past the end of the file ({size} bytes): truncated")
    start = size - tail_size
    directory = tail[cd_offset - start : cd_offset - start + cd_size] if cd_offset >= start else os.pread(fd, cd_size, cd_offset)
    members = {}
    pos = 0
    for _ in range(entries):
        if pos + _CENTRAL.size > len(directory) or directory[pos : pos + 4] != b"PK\x01\x02":
            raise bad("a damaged central directory")
        fields = _CENTRAL.unpack_from(directory, pos)
        flags, method, csize, usize = fields[3], fields[4], fields[8], fields[9]
        name_len, extra_len, comment_len, offset = fields[10], fields[11], fields[12], fields[16]
        name_start = pos + _CENTRAL.size
        raw_name = directory[name_start : name_start + name_len]
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437")
        if usize == 0xFFFFFFFF or csize == 0xFFFFFFFF or offset == 0xFFFFFFFF:
            usize, csize, offset = _zip64_extra(
                directory[name_start + name_len : name_start + name_len + extra_len], usize, csize, offset
            )
        members[name] = (name, flags, method, csize, usize, offset)
        pos = name_start + name_len + extra_len + comment_len
    return members, tail, size - tail_size


def _zip64_extra(extra, usize, csize, offset):
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        if tag == 1:
            values = extra[pos + 4 : pos + 4 + length]
            i = 0
            fields = [usize, csize, offset]
            for j in range(3):
                if fields[j] == 0xFFFFFFFF and i + 8 <= len(values):
                    fields[j] = struct.unpack_from("<Q", values, i)[0]
                    i += 8
            return tuple(fields)
        pos += 4 + length
    return usize, csize, offset


def _member_header(where, fd, size, key, entry, tail=b"", tail_start=0):
    name, flags, method, csize, usize, offset = entry
    if flags & 0x1:
        raise _fail(where, f"{key!r} is encrypted; expected a plain .npy member")
    if tail_start <= offset and offset + _LOCAL.size + _FIRST_READ <= tail_start + len(tail):
        local = tail[offset - tail_start : offset - tail_start + _LOCAL.size + _FIRST_READ]  # read already
    else:
        local = os.pread(fd, _LOCAL.size + _FIRST_READ, offset)
    if len(local) < _LOCAL.size or local[:4] != b"PK\x03\x04":
        raise _fail(where, f"not a readable zip archive (the local header of {key!r} is missing: truncated or damaged)")
    name_len, extra_len = _LOCAL.unpack_from(local)[9:11]
    data_start = offset + _LOCAL.size + name_len + extra_len
    if data_start + csize > size:
        raise _fail(
            where,
            f"{key!r} is truncated: the archive ends {data_start + csize - size} bytes before the end of this member",
        )
    if method == _STORED:
        skip = _LOCAL.size + name_len + extra_len
        head = local[skip:]
        return parse_npy_header(where, key, head[:usize], usize,
                                more=lambda n: os.pread(fd, min(n, usize), data_start))
    if method == _DEFLATED:
        return _deflated_header(where, fd, key, data_start, csize, usize)
    return _other_method_header(where, fd, key, name, usize)


def _other_method_header(where, fd, key, name, usize):
    """Read the header of a member compressed another way (bzip2, lzma) through :mod:`zipfile`."""
    try:
        with os.fdopen(os.dup(fd), "rb") as f, zipfile.ZipFile(f) as zf, zf.open(name) as member:
            head = member.read(_FIRST_READ)
            if len(head) >= 12 and head[:6] == _MAGIC:
                need = 10 + int.from_bytes(head[8:10], "little") if head[6] == 1 else 12 + int.from_bytes(head[8:12], "little")
                if need > len(head):
                    head += member.read(need - len(head))
    except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError, RuntimeError, ValueError) as err:
        raise _fail(where, f"{key!r} cannot be read ({type(err).__name__}: {err})") from None
    return parse_npy_header(where, key, head, usize, compressed=True)


def _deflated_header(where, fd, key, data_start, csize, usize):
    """Inflate a deflated member only as far as its ``.npy`` header reaches."""
    inflater = zlib.decompressobj(-15)
    out = b""
    read = 0
    want = 12
    chunk = 512
    try:
        while True:
            while len(out) < want and not inflater.eof:
                if inflater.unconsumed_tail:
                    source = inflater.unconsumed_tail
                elif read < csize:
                    source = os.pread(fd, min(chunk, csize - read), data_start + read)
                    if not source:
                        break
                    read += len(source)
                    chunk = min(chunk * 2, 1 << 16)
                else:
                    break
                out += inflater.decompress(source, want + 4096 - len(out))
            need = want
            if len(out) >= 12 and out[:6] == _MAGIC:
                need = 10 + int.from_bytes(out[8:10], "little") if out[6] == 1 else 12 + int.from_bytes(out[8:12], "little")
            if need <= want or inflater.eof or (read >= csize and not inflater.unconsumed_tail):
                break
            want = need
    except zlib.error as err:
        raise _fail(where, f"{key!r} cannot be inflated ({err})") from None
    return parse_npy_header(where, key, out, usize, compressed=True)
