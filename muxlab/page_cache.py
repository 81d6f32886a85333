"""Put a collection's files into the page cache or drop them from it, and count what came from storage.

Used by :func:`muxlab.compare` and the benchmarks to run strategies warm or
cold. Files are only opened read-only.
"""

import os

from . import loaders


def strategy_files(strategy, root):
    """The files that ``strategy`` reads in ``root`` (a Collection, or a folder as :func:`muxlab.loaders.streams` takes), in item order."""
    return loaders.collection_of(root, owner="strategy_files").files(loaders.STRATEGIES[strategy].layout)


def warm(files):
    """Read every file once, so that its pages are in the page cache."""
    for path in files:
        with open(path, "rb") as f:
            while f.read(1 << 22):
                pass


def drop(files):
    """Ask the kernel to drop the files' clean pages from the page cache (no root needed)."""
    if not hasattr(os, "posix_fadvise"):
        return
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fdatasync(fd)  # dirty pages (a freshly made fixture) cannot be dropped; this writes nothing new
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def read_io_bytes():
    """Bytes this process caused to be fetched from storage (``read_bytes`` of /proc/self/io), or None."""
    try:
        with open("/proc/self/io") as f:
            for line in f:
                if line.startswith("read_bytes:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None
