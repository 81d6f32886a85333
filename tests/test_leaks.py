"""Leaks: a run that streams for days must not gather file descriptors, memory maps or memory.

Counts come from the kernel: ``/proc/self/fd`` (open file descriptors) and
``/proc/self/maps`` (memory maps), and anonymous resident memory from
``muxlab.memory_probe.read_memory().rss_anon`` (``RssAnon``: heap, numpy
arrays; not the page cache of mapped files).
"""

import gc
import os
import sys

import numpy as np
import pytest

import muxlab
from muxlab import Mux, fixtures, loaders
from muxlab.memory_probe import read_memory
from muxlab.loaders import STRATEGIES, streams

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")

MB = 2**20


def endless():
    while True:
        yield {"X": np.zeros((8, 8), np.float32)}


def open_fds(under=None):
    """Open file descriptors of this process (only those on files under ``under`` if given)."""
    fds = os.listdir("/proc/self/fd")
    if under is None:
        return len(fds)
    prefix = os.path.realpath(under)
    count = 0
    for fd in fds:
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith(prefix)
        except OSError:  # the fd listdir itself used, closed since
            pass
    return count


def memory_maps(under=None):
    """Lines of /proc/self/maps (only maps of files under ``under`` if given).

    The total also counts anonymous maps the allocator makes and drops as the heap moves, so
    it is compared with a small tolerance; the count of maps of the fixture files is exact.
    """
    with open("/proc/self/maps") as f:
        lines = f.readlines()
    if under is None:
        return len(lines)
    prefix = os.path.realpath(under)
    return sum(1 for line in lines if line.rstrip().split(maxsplit=5)[-1].startswith(prefix))


def anon():
    gc.collect()
    return read_memory().rss_anon


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A private tiny collection (the tests below open its files tens of thousands of times)."""
    return fixtures.make(tmp_path_factory.mktemp("leaks") / "tiny", "tiny")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", list(STRATEGIES))
def test_fds_and_maps_stay_flat_over_ten_thousand_activations(tiny, name):
    # lam=1 with constant lifetimes: every window is a new activation (open, map, read, close, unmap).
    mux = Mux(streams(name, tiny, 8, random_state=0), k=4, lam=1, dist="constant", random_state=0)
    it = iter(mux)
    for _ in range(200):
        batch = next(it)
    fds, maps = [open_fds()], [memory_maps()]
    own_fds, own_maps = [open_fds(tiny)], [memory_maps(tiny)]
    start = int(mux.stats.activations.sum())
    while mux.stats.activations.sum() < start + 10_000:
        batch = next(it)  # the consumer holds one batch at a time
        if mux.stats.activations.sum() % 1000 == 0:
            fds.append(open_fds())
            maps.append(memory_maps())
            own_fds.append(open_fds(tiny))
            own_maps.append(memory_maps(tiny))
    fds.append(open_fds())
    maps.append(memory_maps())
    assert batch["X"].shape == (8, 8)
    print(f"{name}: fds {fds[0]} -> {fds[-1]} (max {max(fds)}), maps {maps[0]} -> {maps[-1]} (max {max(maps)}); "
          f"of the fixture files: fds max {max(own_fds)}, maps max {max(own_maps)}")
    # The fixture files: never more open or mapped than the k active slots can hold (2 files each),
    # or, for the read-only maps shared by all activations, than the collection's files (2 per item).
    files = 2 * len(fixtures.load_manifest(tiny)["items"])
    bound = files if name == "npy_mmap_readonly" else 2 * mux.k
    assert max(own_fds) <= bound and max(own_maps) <= bound, (own_fds, own_maps)
    # The whole process: flat.
    assert fds[-1] <= fds[0] + 1 and max(fds) <= fds[0] + bound, fds
    assert maps[-1] <= maps[0] + 8, maps
    it.close()
    del batch
    loaders.release_shared_maps()
    gc.collect()
    assert open_fds(tiny) == 0 and memory_maps(tiny) == 0


@pytest.mark.timeout(120)
def test_failing_activations_under_skip_leak_nothing_and_keep_at_most_a_thousand_errors(tiny, tmp_path):
    """A corrupted item (bad CRC: headers pass, the first window fails) fails again at every activation."""
    paths = fixtures.item_paths(tiny, fixtures.load_manifest(tiny)["items"][0])
    bad = tmp_path / "bad.npz"
    data = bytearray(open(paths["npz"], "rb").read())
    data[1000] ^= 0xFF
    bad.write_bytes(bytes(data))
    failing = muxlab.Streamer(loaders.sample_npz_copy, str(bad), 8)
    mux = Mux([failing, muxlab.Streamer(endless)], k=2, lam=1, dist="constant", prune_empty_streams=False,
              on_error="skip", random_state=0)
    it = iter(mux)
    for _ in range(100):
        next(it)
    fds, maps = open_fds(), memory_maps()
    while mux.stats.retirements["error"] < 2000:
        next(it)
    assert open_fds(tmp_path) == 0 and memory_maps(tmp_path) == 0
    assert open_fds() <= fds + 1 and memory_maps() <= maps + 8
    assert len(mux.stats.errors) == mux.stats.max_errors == 1000
    assert all(stream == 0 and "reading failed" in str(exc) for stream, exc in mux.stats.errors)
    it.close()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ["npz", "npy_mmap"])
def test_abandoned_passes_close_their_files(tiny, name):
    loaders.release_shared_maps()  # maps kept by earlier read-only runs are not this test's
    mux = Mux(streams(name, tiny, 8, random_state=0), k=6, lam=50, random_state=0)
    for i, _ in enumerate(mux(max_iter=20)):
        pass
    fds, maps = open_fds(), memory_maps()
    for _ in range(300):
        for i, batch in enumerate(mux):
            if i == 3:
                break  # the pass is dropped here, not closed explicitly
    del batch
    assert mux.stats.running == 0
    assert open_fds(tiny) == 0 and memory_maps(tiny) == 0
    assert open_fds() <= fds + 1 and memory_maps() <= maps + 8, (fds, open_fds(), maps, memory_maps())


def test_the_header_cache_is_bounded(tiny, monkeypatch):
    monkeypatch.setattr(loaders, "_HEADERS", {})
    monkeypatch.setattr(loaders, "_HEADERS_MAX", 16)
    paths = fixtures.item_paths(tiny, fixtures.load_manifest(tiny)["items"][0])
    st = os.stat(paths["npz"])
    try:
        for i in range(100):  # a file rewritten 100 times: 100 identities (mtime changes)
            os.utime(paths["npz"], ns=(st.st_atime_ns, st.st_mtime_ns + i + 1))
            loaders.check_npz(paths["npz"], 8)
            assert len(loaders._HEADERS) <= 16
    finally:
        os.utime(paths["npz"], ns=(st.st_atime_ns, st.st_mtime_ns))


def drift(name, tiny, windows, warmup):
    """Anonymous memory (bytes) over ``windows`` windows of a Mux, after ``warmup``; a reading every tenth."""
    mux = Mux(streams(name, tiny, 16, random_state=0), k=8, lam=16, random_state=0)
    it = iter(mux)
    checksum = 0.0
    for _ in range(warmup):
        batch = next(it)
    readings = [anon()]
    for _ in range(10):
        for i in range(windows // 10):
            batch = next(it)
            if i % 64 == 0:
                checksum += float(batch["X"][0, 0])  # read a value now and then
        readings.append(anon())
    it.close()
    assert mux.stats.samples.sum() == warmup + windows
    assert np.isfinite(checksum)
    return readings


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_million_npy_mmap_windows_keep_anonymous_memory_flat(tiny):
    readings = drift("npy_mmap", tiny, 1_000_000, 50_000)
    growth = [(r - readings[0]) / MB for r in readings]
    print("npy_mmap anon drift over 1e6 windows (MB):", [round(g, 3) for g in growth])
    assert max(growth) < 2.0, growth


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_npz_copy_keeps_anonymous_memory_flat(tiny):
    # Each npz_copy window re-reads its whole member (about 150 us a window measured on the 2 shared
    # cores, so a million would take 150 s): 20,000 windows after 2,000 of warm-up, about 3 s.
    readings = drift("npz_copy", tiny, 20_000, 2_000)
    growth = [(r - readings[0]) / MB for r in readings]
    print("npz_copy anon drift over 2e4 windows (MB):", [round(g, 3) for g in growth])
    assert max(growth) < 2.0, growth
