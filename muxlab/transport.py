"""Split items into a pickled template and numpy arrays laid out in shared memory.

An item (a bare array, or dicts, tuples and lists holding arrays) is split
into a small *template* (the item with each array replaced by a
:class:`Slot`) and its arrays, which are laid out at aligned offsets
(:func:`layout`) and copied into a shared-memory block (see
:mod:`muxlab.ring`, which also decides when a template needs pickling). The
receiving side copies an item's bytes out of the block in one copy and gives
each array a view of that copy (:func:`views`), so an item keeps its own
bytes alive, never the block; then puts them back in their places
(:func:`unpack`).

Blocks are files in ``/dev/shm`` (POSIX shared memory on Linux). The sender
makes a block and maps it (:class:`Block`); the receiver maps it and
removes its name at once (:class:`Mapping`), so a block outlives neither
process and nothing is left in ``/dev/shm`` when either one dies.
"""

import math
import mmap
import os

import numpy as np

SHM_DIR = "/dev/shm"
ALIGN = 64


class Slot:
    """Where an array stood in an item: index ``i`` into the item's array list."""

    __slots__ = ("i",)

    def __init__(self, i):
        self.i = i

    def __reduce__(self):
        return (Slot, (self.i,))


def pack(item, arrays):
    """Return a compact template of ``item`` for the common shapes (a dict of arrays, a bare array).

    ``("D", keys)`` is a dict whose values are all arrays, ``("A",)`` a bare
    array, ``("G", template)`` anything else (see :func:`split`).

    >>> arrays = []
    >>> pack({'X': np.zeros(2), 'Y': np.ones(2)}, arrays), len(arrays)
    (('D', ('X', 'Y')), 2)
    """
    kind = type(item)
    if kind is dict:
        values = list(item.values())
        if all(type(v) is np.ndarray and not v.dtype.hasobject for v in values):
            arrays.extend(values)
            return ("D", tuple(item))
    elif kind is np.ndarray and not item.dtype.hasobject:
        arrays.append(item)
        return ("A",)
    return ("G", split(item, arrays))


def unpack(template, arrays):
    """The inverse of :func:`pack`."""
    tag = template[0]
    if tag == "D":
        return dict(zip(template[1], arrays))
    if tag == "A":
        return arrays[0]
    return join(template[1], arrays)


def split(item, arrays):
    """Return ``item``'s template, appending its shared-memory-eligible arrays to ``arrays``.

    >>> arrays = []
    >>> t = split({'X': np.zeros(3), 'y': 1}, arrays)
    >>> type(t['X']).__name__, t['y'], len(arrays)
    ('Slot', 1, 1)
    """
    if type(item) is np.ndarray or isinstance(item, np.ndarray):
        if item.dtype.hasobject:
            return item
        arrays.append(item)
        return Slot(len(arrays) - 1)
    kind = type(item)
    if kind is dict:
        return {k: split(v, arrays) for k, v in item.items()}
    if kind is tuple:
        return tuple(split(v, arrays) for v in item)
    if kind is list:
        return [split(v, arrays) for v in item]
    return item


def join(template, arrays):
    """Put ``arrays`` back into ``template`` (the inverse of :func:`split`).

    >>> join({'X': Slot(0), 'y': 1}, ['a'])
    {'X': 'a', 'y': 1}
    """
    kind = type(template)
    if kind is Slot:
        return arrays[template.i]
    if kind is dict:
        return {k: join(v, arrays) for k, v in template.items()}
    if kind is tuple:
        return tuple(join(v, arrays) for v in template)
    if kind is list:
        return [join(v, arrays) for v in template]
    return template


def layout(arrays, start=0):
    """Offsets (aligned) at which to store ``arrays`` from ``start``; returns ``(specs, end)``.

    Each spec is ``(dtype, shape, offset)``.
    """
    specs = []
    offset = start
    for a in arrays:
        dtype = a.dtype
        # A plain dtype travels as its short string ('<f4'): pickling dtype objects costs more than the data.
        specs.append((dtype.str if dtype.fields is None and dtype.subdtype is None else dtype, a.shape, offset))
        offset += -(-a.nbytes // ALIGN) * ALIGN
    return specs, offset


def kinds(specs):
    """What :func:`views` needs of each array spec: ``(dtype, shape, size, offset)``."""
    return [(_DTYPES.get(d) or _dtype(d), shape, math.prod(shape), off) for d, shape, off in specs]


def views(raw, kinds):
    """The arrays laid out in ``raw`` (a uint8 array of their bytes), as views of it.

    >>> specs, end = layout([np.arange(3, dtype='f4'), np.ones((2, 2), 'i2')])
    >>> raw = np.zeros(end, np.uint8)
    >>> raw[:12] = np.frombuffer(np.arange(3, dtype='f4').tobytes(), np.uint8)
    >>> [a.tolist() for a in views(raw, kinds(specs))]
    [[0.0, 1.0, 2.0], [[0, 0], [0, 0]]]
    """
    return [_view(raw, dtype, shape, size, off) for dtype, shape, size, off in kinds]


def _view(raw, dtype, shape, size, offset):
    if not size:
        return np.empty(shape, dtype=dtype)
    a = np.frombuffer(raw, dtype=dtype, count=size, offset=offset)
    return a if len(shape) == 1 else a.reshape(shape)


def block_path(name):
    return os.path.join(SHM_DIR, name)


class Block:
    """A shared-memory block the sending process made and writes into."""

    def __init__(self, name, size):
        self.name = name
        self.size = size
        fd = os.open(block_path(name), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        try:
            os.ftruncate(fd, size)
            self.map = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            unlink(name)
            raise
        os.close(fd)

    def close(self):
        self.map.close()
        unlink(self.name)


class Mapping:
    """The receiving side of a block: maps it (read-only unless ``writable``) and removes its name."""

    def __init__(self, name, size, writable=False):
        fd = os.open(block_path(name), os.O_RDWR if writable else os.O_RDONLY)
        try:
            self.map = mmap.mmap(fd, size, prot=mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0))
        finally:
            os.close(fd)
        unlink(name)

    def close(self):
        self.map.close()


_DTYPES = {}


def _dtype(spec):
    d = np.dtype(spec)
    if isinstance(spec, str):
        _DTYPES[spec] = d
    return d


def unlink(name):
    """Remove a block's name if it is still there."""
    try:
        os.unlink(block_path(name))
    except FileNotFoundError:
        pass


def unlink_prefix(prefix):
    """Remove every block whose name starts with ``prefix``; returns how many there were."""
    try:
        names = os.listdir(SHM_DIR)
    except FileNotFoundError:
        return 0
    n = 0
    for name in names:
        if name.startswith(prefix):
            unlink(name)
            n += 1
    return n
