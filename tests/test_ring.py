"""The shared-memory ring of ``muxlab.background``, both sides in one process: records written, published and read back."""

import os
import pickle

import numpy as np
import pytest

from muxlab import ring, transport


class Pair:
    """A writer and a reader over one ring, as a worker and the consumer hold them."""

    def __init__(self, slots=4, ordered=True):
        self.prefix = f"muxlab-{os.getpid()}-test-{os.urandom(3).hex()}-"
        self.messages = []
        self.reader = ring.RingReader(self.prefix, slots, ordered=ordered)
        self.writer = ring.RingWriter(self.prefix, slots, self.messages.append, ordered=ordered)

    def deliver(self):
        """Hand the writer's messages to the reader, as the consumer's pipe would."""
        for msg in self.messages:
            if msg[0] == "ring" and not self.reader.attached:
                self.reader.attach(*msg[1:])
            elif msg[0] == "bell":
                self.reader.heard(msg[1])
        self.messages.clear()

    def send(self, items):
        """Put ``items`` through the ring, reading each one back as soon as it is published."""
        back = []
        for item in items:
            assert self.writer.has_room()
            self.writer.put(item)
            self.deliver()
            assert self.reader.ready()
            kind, value = self.reader.take()
            assert kind == ring.ITEM
            back.append(value)
        return back

    def names(self):
        return sorted(n for n in os.listdir(transport.SHM_DIR) if n.startswith(self.prefix))

    def close(self):
        self.writer.close()
        self.reader.close()
        transport.unlink_prefix(self.prefix)


@pytest.fixture
def pair():
    p = Pair()
    yield p
    p.close()
    assert not p.names()


def windows(n, rows=16, seed=0):
    rng = np.random.default_rng(seed)
    return [{"X": rng.random((rows, 8), dtype=np.float32), "Y": rng.integers(0, 9, rows)} for _ in range(n)]


def assert_same(a, b):
    assert type(a) is type(b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b


@pytest.mark.timeout(30)
def test_alike_items_pickle_their_layout_once_and_come_back_equal(pair):
    items = windows(10)  # more than the 4 slots: the ring wraps around
    back = pair.send(items)
    for a, b in zip(items, back):
        assert_same(a, b)
    # Only the first record carries a layout; the others reuse it.
    assert pair.writer.layouts == 1


@pytest.mark.timeout(30)
def test_items_that_differ_carry_their_own_layout(pair):
    items = windows(2) + windows(1, rows=5) + [(np.arange(3), "label", [np.ones(2, ">f8")])] + windows(1)
    back = pair.send(items)
    for a, b in zip(items, back):
        assert_same(a, b)
    assert back[3][2][0].dtype == np.dtype(">f8")
    assert pair.writer.layouts == 4  # the first window, the 5-row window, the tuple, the window again


@pytest.mark.timeout(30)
def test_a_template_holding_other_values_travels_with_every_item(pair):
    items = [{"X": np.full(3, i), "i": i} for i in range(6)]
    back = pair.send(items)
    assert [b["i"] for b in back] == list(range(6))
    assert [int(b["X"][0]) for b in back] == list(range(6))
    assert pair.writer.layouts == 6


@pytest.mark.timeout(30)
def test_non_contiguous_empty_zero_dimensional_and_subclassed_arrays_come_back_equal(pair):
    base = np.arange(60, dtype=np.int16).reshape(6, 10)
    item = {"strided": base[:, ::3], "fortran": np.asfortranarray(base), "empty": np.empty((0, 4)),
            "scalar": np.array(7.5)}
    for _ in range(3):  # the first with its layout, then the fast path
        (back,) = pair.send([item])
        assert_same(item, back)
    assert pair.writer.layouts == 1
    bare = [base[::2, 1:], base[::2, 1:] + 1]
    for a, b in zip(bare, pair.send(bare)):
        assert_same(a, b)


@pytest.mark.timeout(30)
def test_arrays_received_are_writable_and_do_not_change_when_their_slot_is_reused(pair):
    items = windows(9)
    back = pair.send(items)
    back[0]["X"][0, 0] = -1.0
    assert back[0]["X"][0, 0] == -1.0 and items[0]["X"][0, 0] != -1.0
    for a, b in zip(items[1:], back[1:]):  # slot 0 was written twice more after the first item was read
        np.testing.assert_array_equal(a["X"], b["X"])


@pytest.mark.timeout(30)
def test_larger_and_much_smaller_records_switch_to_a_new_ring_and_old_rings_are_removed(pair):
    sizes = [16, 16, 4096, 4096, 100_000, 16, 16, 3000]
    items = [np.arange(n, dtype=np.float64) for n in sizes]
    rings = []
    for item in items:
        (back,) = pair.send([item])
        assert_same(item, back)
        rings.append(pair.reader.slot_size)
        assert not pair.names()  # the reader removed every name it mapped; the writer made no other
    assert rings[0] == rings[1] < rings[2] == rings[3] < rings[4]
    assert rings[4] >= 100_000 * 8 and rings[5] < rings[4]  # 128 bytes in a slot of 800 KB: a new, small ring
    assert rings[7] == rings[6] or rings[7] >= 3000 * 8


@pytest.mark.timeout(30)
def test_the_writer_has_room_for_as_many_records_as_slots(pair):
    for i in range(4):
        assert pair.writer.has_room()
        pair.writer.put(np.full(2, i))
    assert not pair.writer.has_room() and pair.writer.pending() == 4
    pair.deliver()
    got = [int(pair.reader.take()[1][0])]
    assert pair.writer.has_room() and pair.writer.pending() == 3
    pair.writer.put(np.full(2, 4))
    while pair.reader.ready():
        got.append(int(pair.reader.take()[1][0]))
    assert got == [0, 1, 2, 3, 4]


@pytest.mark.timeout(30)
def test_end_and_error_records_follow_the_items(pair):
    pair.writer.put(np.ones(3))
    message = (pickle.dumps(ValueError("boom")), "ValueError", "x" * 10_000)  # larger than a slot: a switch
    pair.writer.put_error(message)
    pair.writer.put_end()
    pair.deliver()
    kinds = []
    while pair.reader.ready():
        kind, value = pair.reader.take()
        kinds.append(kind)
        if kind == ring.ERROR:
            assert value[1:] == message[1:] and str(pickle.loads(value[0])) == "boom"
    assert kinds == [ring.ITEM, ring.ERROR, ring.END]


@pytest.mark.timeout(30)
def test_unordered_mode_reads_only_what_a_message_announced():
    p = Pair(ordered=False)
    try:
        assert p.send([np.zeros(2)])[0].tolist() == [0.0, 0.0]  # the first ring is announced and mapped
        p.writer.put(np.ones(2))
        assert p.writer.counters[ring.PUBLISHED] == 2
        assert not p.reader.ready()  # published in memory, not announced yet
        p.deliver()
        assert p.reader.ready()
        kind, value = p.reader.take()
        assert kind == ring.ITEM and value.tolist() == [1.0, 1.0] and not p.reader.ready()
        back = p.send(windows(6))
        for a, b in zip(windows(6), back):
            assert_same(a, b)
    finally:
        p.close()


@pytest.mark.timeout(30)
def test_waiting_flags_are_raised_by_one_side_and_seen_by_the_other(pair):
    pair.writer.put(np.ones(2))
    pair.deliver()
    assert not pair.reader.sleep()  # a record is there: do not sleep
    pair.reader.take()
    assert pair.reader.sleep()
    assert pair.writer.counters[ring.CONSUMER_WAITING] == 1
    pair.reader.awake()
    assert pair.writer.counters[ring.CONSUMER_WAITING] == 0
    assert not pair.reader.producer_waiting()
    pair.writer.counters[ring.PRODUCER_WAITING] = 1
    assert pair.reader.producer_waiting() and not pair.reader.producer_waiting()
    mail = pair.writer.counters[ring.MAIL]
    pair.reader.post()
    assert pair.writer.counters[ring.MAIL] == mail + 1
