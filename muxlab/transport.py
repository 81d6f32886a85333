"""Move items between processes with their numpy arrays in shared memory, not pickled.

An item (a bare array, or dicts, tuples and lists holding arrays) is split
into a small *template* (the item with each array replaced by a
:class:`Slot`), which is pickled, and its arrays, which are copied into a
shared-memory block. The receiving side copies each array out into an array
of its own and puts it back in its place.

Blocks are files in ``/dev/shm`` (POSIX shared memory on Linux). The sender
makes a block and maps it; the receiver maps it and removes its name at
once, so a block outlives neither process and nothing is left in
``/dev/shm`` when either one dies. Blocks are reused for later batches.
"""

import mmap
import os

import numpy as np

SHM_DIR = "/dev/shm"
ALIGN = 64
MIN_BLOCK = 256 * 1024


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
        self.busy = False

    def write(self, arrays, specs):
        buf = self.map
        for a, (dtype, shape, offset) in zip(arrays, specs):
            if a.size:
                dst = np.frombuffer(buf, dtype=dtype, count=a.size, offset=offset).reshape(shape)
                np.copyto(dst, a, casting="no")

    def close(self):
        self.map.close()
        unlink(self.name)


class Mapping:
    """The receiving side of a block: maps it read-only and removes its name."""

    def __init__(self, name, size):
        fd = os.open(block_path(name), os.O_RDONLY)
        try:
            self.map = mmap.mmap(fd, size, prot=mmap.PROT_READ)
        finally:
            os.close(fd)
        unlink(name)

    def read(self, specs):
        """Copy the arrays described by ``specs`` out of the block."""
        out = []
        buf = self.map
        for dtype, shape, offset in specs:
            dtype = _DTYPES.get(dtype) or _dtype(dtype)
            count = 1
            for d in shape:
                count *= d
            if count:
                out.append(np.frombuffer(buf, dtype=dtype, count=count, offset=offset).reshape(shape).copy())
            else:
                out.append(np.empty(shape, dtype=dtype))
        return out

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


class BlockPool:
    """The sender's blocks: a free one large enough is reused, else a new one is made.

    At most ``limit`` blocks exist; when a new one is needed and the pool is
    full, the smallest free block is retired (its id goes to ``retired`` for
    the receiver to unmap).
    """

    def __init__(self, prefix, limit):
        self.prefix = prefix
        self.limit = limit
        self.blocks = {}
        self.next_id = 0
        self.retired = []

    def get(self, size):
        """Return ``(block_id, block, is_new)`` for a free block of at least ``size`` bytes."""
        best = None
        for bid, b in self.blocks.items():
            if not b.busy and b.size >= size and (best is None or b.size < self.blocks[best].size):
                best = bid
        if best is not None:
            self.blocks[best].busy = True
            return best, self.blocks[best], False
        if len(self.blocks) >= self.limit:
            free = [bid for bid, b in self.blocks.items() if not b.busy]
            victim = min(free, key=lambda bid: self.blocks[bid].size)
            self.blocks.pop(victim).close()
            self.retired.append(victim)
        capacity = max(MIN_BLOCK, 1 << (max(size, 1) - 1).bit_length())
        capacity = -(-capacity // mmap.PAGESIZE) * mmap.PAGESIZE
        bid = self.next_id
        self.next_id += 1
        block = Block(f"{self.prefix}{bid}", capacity)
        block.busy = True
        self.blocks[bid] = block
        return bid, block, True

    def release(self, bid):
        block = self.blocks.get(bid)
        if block is not None:
            block.busy = False

    def take_retired(self):
        out, self.retired = self.retired, []
        return out

    def close(self):
        for b in self.blocks.values():
            b.close()
        self.blocks.clear()
