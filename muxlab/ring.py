"""One worker's records to the consumer through a ring of slots in shared memory.

A ring is ``slots`` slots of ``slot_size`` bytes in one shared-memory block,
plus a control block of counters shared by the two sides. The worker writes
record ``s`` into slot ``s % slots`` once the consumer has consumed record
``s - slots``, then *publishes* it by raising the published count; the
consumer reads published records in order and raises the consumed count
once it has copied a record out. No message is sent per record: messages
(see :mod:`muxlab.background`) only wake a side that sleeps, so a fast
stream costs one wake-up per several items and a slow one is not held back.

A record is an item, the end of the stream, an exception, or a switch to a
new ring whose slots fit a larger (or much smaller) record; the consumer
follows the switch and reads the same record from the new ring. An item's
arrays are copied into its slot at fixed offsets; its *layout* (the item's
template, see :mod:`muxlab.transport`, with the arrays' dtypes, shapes and
offsets) is pickled into the slot only when it differs from the previous
item's, which for a loader's windows is once per pass.

**Memory order.** The worker writes a record and then its count; the
consumer reads the count and then the record. On x86 processors stores
become visible in program order, so a published count means the record is
there (``ORDERED``). Elsewhere the worker also sends each new count in a
message (a system call orders memory) and the consumer reads no further than
the last count it received. A side that sleeps raises a flag and reads the
other side's counter again before sleeping; between the two, a lock is
taken and released, which makes the flag visible before the read (a full
barrier). A wake-up missed anyway costs at most the sleeper's timeout.

The consumer makes the control block (``{prefix}c``) before the worker
starts; the worker makes the rings (``{prefix}0``, ``{prefix}1``, ...).
The side that did not make a block maps it and removes its name at once
(see :class:`muxlab.transport.Mapping`). The control block also counts the
messages the consumer sent (``MAIL``), so that the worker reads a counter
per item, not the pipe.
"""

import mmap
import os
import pickle
import platform
import threading
from time import perf_counter

import numpy as np

from . import transport

#: True where the processor keeps stores in program order (x86): counters alone publish records.
ORDERED = platform.machine().lower() in {"x86_64", "amd64", "i386", "i686", "x86"}

# Control words (int64), each in its own 64-byte cache line: a side reads a line the other side
# seldom writes (MAIL, the waiting flags) without a cache miss.
PUBLISHED, CONSUMED, CONSUMER_WAITING, PRODUCER_WAITING, MAIL = (8 * i for i in range(5))
N_WORDS = 40
CONTROL_SIZE = mmap.PAGESIZE

#: Bytes at the start of every slot: the record's kind, and the length and place of the pickle it carries.
HEAD = 64
#: The smallest slot (it always fits a switch record).
MIN_SLOT = 4096

ITEM, END, ERROR, SWITCH = 1, 2, 3, 4

_FENCE = threading.Lock()


def fence():
    """A full memory barrier: taking and releasing a lock uses an atomic instruction."""
    _FENCE.acquire()
    _FENCE.release()


def slot_size_for(need):
    """The slot size for a record of ``need`` bytes: a quarter more, rounded up to whole pages.

    >>> slot_size_for(100), slot_size_for(8320 + 64) == 3 * mmap.PAGESIZE
    (4096, True)
    """
    size = need + need // 4
    return max(MIN_SLOT, -(-size // mmap.PAGESIZE) * mmap.PAGESIZE)


class _Control:
    """The control block's words, as a memoryview of int64 (reads give Python ints, cheaper than numpy's)."""

    def __init__(self, block):
        self.block = block
        self.words = memoryview(block.map).cast("B").cast("q")[:N_WORDS]

    def close(self):
        self.words.release()
        self.block.close()


class RingWriter:
    """The worker's side: writes records into slots and publishes them.

    The caller makes sure there is room (:meth:`has_room`) before each
    :meth:`put`; ``announce(message)`` sends a message to the consumer (the
    first ring's names, and in unordered mode each new count).
    """

    def __init__(self, prefix, slots, announce, ordered=ORDERED):
        self.prefix = prefix
        self.slots = slots
        self.announce = announce
        self.ordered = ordered
        self.control = _Control(transport.Mapping(prefix + "c", CONTROL_SIZE, writable=True))
        self.counters = self.control.words
        self.published = 0
        self.limit = slots  # records may be published up to this count before CONSUMED is read again
        self.block = None  # the ring in use
        self.ring = None  # its mmap
        self.words = None  # the same, as int64 words
        self.slot_size = 0
        self.next_id = 0
        self.fast = None  # the last item's layout, when the next item may reuse it (see put)
        self.layouts = 0  # records that carried a pickled layout

    # -- room and counters --------------------------------------------------
    def has_room(self):
        """True if the next record has a free slot (the consumer's count is read only when it may not)."""
        if self.published < self.limit:
            return True
        self.limit = self.counters[CONSUMED] + self.slots
        return self.published < self.limit

    def pending(self):
        """Records published and not yet consumed."""
        return self.published - self.counters[CONSUMED]

    # -- records ------------------------------------------------------------
    def put(self, item):
        """Write ``item`` as the next record and publish it."""
        fast = self.fast
        if fast is not None:
            at = (self.published % self.slots) * self.slot_size
            base = at + HEAD
            if fast[0] is None:  # a bare array
                _, d, s, n = fast
                if isinstance(item, np.ndarray) and (item.dtype is d or item.dtype == d) and item.shape == s:
                    self._write_array(item, base, n)
                    self._publish_item(at, 0, 0)
                    return
            elif type(item) is dict and len(item) == len(fast):
                for (key, d, s, off, n), (k, a) in zip(fast, item.items()):
                    if k != key or not isinstance(a, np.ndarray) or a.shape != s or not (a.dtype is d or a.dtype == d):
                        break
                    self._write_array(a, base + off, n)
                else:
                    self._publish_item(at, 0, 0)
                    return
        self._put_new_layout(item)

    def _write_array(self, a, at, n):
        if not n:
            return
        try:
            # A C-contiguous array's bytes in one copy, as they are (dtype.str keeps their byte order).
            self.ring[at : at + n] = a
        except (BufferError, TypeError, ValueError):  # not C-contiguous: copy it into C order
            dst = np.frombuffer(self.ring, dtype=a.dtype, count=a.size, offset=at).reshape(a.shape)
            np.copyto(dst, a, casting="no")
            del dst

    def _put_new_layout(self, item):
        arrays = []
        template = transport.pack(item, arrays)
        specs, end = transport.layout(arrays)
        blob = pickle.dumps((template, specs, end), protocol=pickle.HIGHEST_PROTOCOL)
        slot = self._slot_for(HEAD + end + len(blob))
        base = slot + HEAD
        for a, (_, _, off) in zip(arrays, specs):
            self._write_array(a, base + off, a.nbytes)
        self.ring[base + end : base + end + len(blob)] = blob
        self.layouts += 1
        self._publish_item(slot, len(blob), end)
        tag = template[0]
        if tag == "D":
            self.fast = [
                (key, a.dtype, a.shape, off, a.nbytes) for key, a, (_, _, off) in zip(template[1], arrays, specs)
            ]
        elif tag == "A":
            self.fast = (None, arrays[0].dtype, arrays[0].shape, arrays[0].nbytes)
        else:
            self.fast = None  # a template with other values in it travels with each item

    def _publish_item(self, slot, blob_len, blob_at):
        words = self.words
        w = slot // 8
        words[w] = ITEM
        words[w + 1] = blob_len
        words[w + 2] = blob_at
        self._publish()

    def put_end(self):
        self._put_record(END, b"")

    def put_error(self, message):
        """An exception, as the tuple the consumer raises from (see :mod:`muxlab.background`)."""
        self._put_record(ERROR, pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def _put_record(self, kind, blob):
        slot = self._slot_for(HEAD + len(blob))
        self.ring[slot + HEAD : slot + HEAD + len(blob)] = blob
        w = slot // 8
        self.words[w] = kind
        self.words[w + 1] = len(blob)
        self._publish()

    def _publish(self):
        self.published += 1
        self.counters[PUBLISHED] = self.published
        if not self.ordered:
            self.announce(("bell", self.published))

    def _slot_for(self, need):
        """The offset of the next record's slot, in a ring whose slots hold ``need`` bytes (made if needed)."""
        size = self.slot_size
        if self.block is not None and need <= size and not (size > MIN_SLOT and need * 4 < size):
            return (self.published % self.slots) * size
        new_size = slot_size_for(need)
        name = f"{self.prefix}{self.next_id}"
        self.next_id += 1
        block = transport.Block(name, new_size * self.slots)
        if self.block is None:
            self.announce(("ring", name, block.size, new_size))
        else:
            # The switch is written in the old ring's slot; the record itself goes into the new ring's.
            blob = pickle.dumps((name, block.size, new_size), protocol=pickle.HIGHEST_PROTOCOL)
            at = (self.published % self.slots) * size
            self.ring[at + HEAD : at + HEAD + len(blob)] = blob
            self.words[at // 8 + 1] = len(blob)
            self.words[at // 8] = SWITCH
            self._drop_ring()
        self.block = block
        self.ring = block.map
        self.words = memoryview(block.map).cast("B").cast("q")
        self.slot_size = new_size
        self.fast = None
        return (self.published % self.slots) * new_size

    def _drop_ring(self):
        """Unmap the ring in use; its name stays for the consumer to map (it removes it)."""
        self.words.release()
        self.block.map.close()
        self.block = self.ring = self.words = None

    def close(self):
        if self.block is not None:
            self._drop_ring()
        self.counters = None
        self.control.close()


class RingReader:
    """The consumer's side: makes the control block, then reads published records in order and frees their slots."""

    def __init__(self, prefix, slots, ordered=ORDERED, share_cpu=False):
        self.control = _Control(transport.Block(prefix + "c", CONTROL_SIZE))
        self.share_cpu = share_cpu  # more processes than processors: a spin yields to the others
        self.counters = self.control.words
        self.slots = slots
        self.ordered = ordered
        self.announced = 0
        self.consumed = 0
        self.layout = None
        self.mapping = None
        self.interval = 1.0  # the running mean of the time between records; until measured, a slow stream
        self.last = perf_counter()

    def attach(self, name, size, slot_size):
        """Map the worker's first ring (announced in a message)."""
        self.mapping = transport.Mapping(name, size)
        self.bytes = np.frombuffer(self.mapping.map, np.uint8)
        self.words = memoryview(self.mapping.map).cast("B").cast("q")
        self.slot_size = slot_size

    def _detach(self):
        self.words.release()
        self.words = self.bytes = None  # views of the ring go before its mapping
        self.mapping.close()
        self.mapping = None

    @property
    def attached(self):
        return self.mapping is not None

    def ready(self):
        """True if a record is published and not yet read."""
        if self.mapping is None:
            return False
        if self.ordered:
            return self.counters[PUBLISHED] > self.consumed
        return self.announced > self.consumed

    def heard(self, published):
        """A count the worker announced (unordered mode)."""
        if published > self.announced:
            self.announced = published

    def spin(self, seconds):
        """Look at the published count for up to ``seconds``; True once a record is there.

        Only in ordered mode, and only while records come at least four
        times as often as ``seconds`` (a fast stream): then a look saves a
        sleep and a wake-up, which on a virtual machine can take longer than
        making an item. A slow stream is waited for asleep. With more
        processes than processors the look yields the processor at each
        turn, so that it never delays a worker.
        """
        if not self.ordered or self.mapping is None or self.interval * 4 > seconds:
            return False
        counters, consumed = self.counters, self.consumed
        end = perf_counter() + seconds
        while perf_counter() < end:
            if counters[PUBLISHED] > consumed:
                return True
            if self.share_cpu:
                os.sched_yield()  # a worker waiting for this processor runs first
        return False

    def sleep(self):
        """Raise the waiting flag; returns False if a record came meanwhile (then do not sleep)."""
        self.counters[CONSUMER_WAITING] = 1
        fence()
        return not self.ready()

    def awake(self):
        """Lower the waiting flag after a sleep (the worker lowers it when it sends a wake-up)."""
        if self.counters[CONSUMER_WAITING]:
            self.counters[CONSUMER_WAITING] = 0

    def take(self):
        """Read the next record and free its slot: returns ``(kind, value)``.

        ``value`` is the item for ``ITEM``, the pickled message's tuple for
        ``ERROR``, and None for ``END``. Call only when :meth:`ready`.
        """
        at = (self.consumed % self.slots) * self.slot_size
        words = self.words
        kind = words[at // 8]
        if kind == SWITCH:
            n = words[at // 8 + 1]
            name, size, slot_size = pickle.loads(self.bytes[at + HEAD : at + HEAD + n])
            self._detach()
            self.attach(name, size, slot_size)
            words = self.words
            at = (self.consumed % self.slots) * slot_size
            kind = words[at // 8]
        w = at // 8
        n = words[w + 1]
        base = at + HEAD
        if kind == ITEM:
            if n:
                blob_at = base + words[w + 2]
                template, specs, end = pickle.loads(self.bytes[blob_at : blob_at + n])
                self.layout = (template, transport.kinds(specs), end)
            template, kinds, end = self.layout
            value = transport.unpack(template, transport.views(self.bytes[base : base + end].copy(), kinds))
        else:
            value = pickle.loads(self.bytes[base : base + n]) if n else None
        self.consumed += 1
        self.counters[CONSUMED] = self.consumed
        now = perf_counter()
        self.interval += 0.1 * (now - self.last - self.interval)
        self.last = now
        return kind, value

    def producer_waiting(self):
        """True (and the flag lowered) if the worker sleeps until a slot is free."""
        fence()
        if self.counters[PRODUCER_WAITING]:
            self.counters[PRODUCER_WAITING] = 0
            return True
        return False

    def post(self):
        """Count a message just sent to the worker (it reads this count, not the pipe, once per item)."""
        self.counters[MAIL] += 1

    def close(self):
        if self.mapping is not None:
            self._detach()
        self.counters = None
        self.control.close()
