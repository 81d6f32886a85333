"""Move items between processes with their numpy arrays in shared memory, not pickled.

An item (a bare array, or dicts, tuples and lists holding arrays) is split
into a small *template* (the item with each array replaced by a
:class:`Slot`), which is pickled, and its arrays, which are copied into a
shared-memory block. Items go in batches: one
message and one block per batch. The receiving side copies the batch's
bytes out of the block in one copy and gives each array a view of that copy
(so an item's arrays keep at most their batch's bytes alive, never the
block), then puts them back in their places.

A batch whose items all have the same structure, dtypes and shapes (the
usual case: every window of a loader looks alike) travels as one template,
one list of array specs and a stride, not one entry per item.

Blocks are files in ``/dev/shm`` (POSIX shared memory on Linux). The sender
makes a block and maps it; the receiver maps it and removes its name at
once, so a block outlives neither process and nothing is left in
``/dev/shm`` when either one dies. Blocks are reused for later batches.
"""

import math
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


def plan(packed):
    """Lay out a batch of packed items (``[(template, arrays), ...]``) in one block.

    Returns ``(header, arrays, specs, end)``: the header travels in the
    message, ``arrays`` and ``specs`` (each ``(dtype, shape, offset)``) are
    what :meth:`Block.write` copies, and ``end`` is the size the batch needs.
    ``header`` is ``("U", template, specs, stride, count)`` when every item
    has the same template, dtypes and shapes, else ``("L", [(template,
    specs), ...])``.

    >>> a = {'X': np.zeros((2, 3), 'f4')}
    >>> header, arrays, specs, end = plan([(pack(a, []), [a['X']]), (pack(a, []), [a['X']])])
    >>> header[0], header[3], header[4], len(arrays), end
    ('U', 64, 2, 2, 128)
    """
    first_template, first_arrays = packed[0]
    if _alike(packed):
        specs, stride = layout(first_arrays)
        count = len(packed)
        all_specs = [(d, shape, off + j * stride) for j in range(count) for d, shape, off in specs]
        all_arrays = [a for _, arrays in packed for a in arrays]
        return ("U", first_template, specs, stride, count), all_arrays, all_specs, stride * count
    entries = []
    all_arrays = []
    all_specs = []
    offset = 0
    for template, arrays in packed:
        specs, offset = layout(arrays, offset)
        entries.append((template, specs))
        all_arrays.extend(arrays)
        all_specs.extend(specs)
    return ("L", entries), all_arrays, all_specs, offset


def _alike(packed):
    """True if every packed item has the template, dtypes and shapes of the first."""
    template, arrays = packed[0]
    kinds = [(a.dtype, a.shape) for a in arrays]
    return all(
        t == template and len(arr) == len(kinds) and all(a.dtype == d and a.shape == s for a, (d, s) in zip(arr, kinds))
        for t, arr in packed[1:]
    )


def items_of(header, raw):
    """The items of a batch, given its header (see :func:`plan`) and a copy ``raw`` of its bytes.

    >>> a = {'X': np.arange(6, dtype='f4').reshape(2, 3)}
    >>> header, arrays, specs, end = plan([(pack(a, []), [a['X']])])
    >>> raw = np.zeros(end, np.uint8)
    >>> raw[:24] = np.frombuffer(a['X'].tobytes(), np.uint8)
    >>> items_of(header, raw)[0]['X'].tolist()
    [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    """
    if header[0] == "U":
        _, template, specs, stride, count = header
        kinds = _kinds(specs)
        return [
            unpack(template, [_view(raw, dtype, shape, size, off + j * stride) for dtype, shape, size, off in kinds])
            for j in range(count)
        ]
    return [
        unpack(template, [_view(raw, dtype, shape, size, off) for dtype, shape, size, off in _kinds(specs)])
        for template, specs in header[1]
    ]


def _kinds(specs):
    return [(_DTYPES.get(d) or _dtype(d), shape, math.prod(shape), off) for d, shape, off in specs]


def empty_batch():
    """The bytes of a batch whose arrays are all empty (or that has none)."""
    return np.empty(ALIGN, np.uint8)


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
        self.busy = False

    def write(self, arrays, specs):
        buf = self.map
        for a, (dtype, shape, offset) in zip(arrays, specs):
            n = a.nbytes
            if not n:
                continue
            if a.flags.c_contiguous:
                buf[offset : offset + n] = a  # the array's bytes as they are (dtype.str keeps their byte order)
            else:
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

    def read(self, end):
        """A copy of the block's first ``end`` bytes (a batch), as a uint8 array of its own."""
        if not end:
            return empty_batch()
        return np.frombuffer(self.map, dtype=np.uint8, count=end).copy()

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
