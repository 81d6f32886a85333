"""muxlab.process_tree: per-process and summed memory of a process tree; PSS counts shared file pages once."""

import mmap
import multiprocessing
import os

import numpy as np
import pytest

from muxlab import process_tree

MB = 2**20
SIZE = 40 * MB


def hold(path, private_mb, ready, done):
    """A child: map ``path`` and touch every page, allocate ``private_mb`` of its own, then wait."""
    with open(path, "rb") as f:
        m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    total = sum(m[i] for i in range(0, len(m), mmap.PAGESIZE))
    own = np.ones(private_mb * MB // 8) if private_mb else None
    ready.release()
    done.wait(30)
    del own, total
    m.close()


@pytest.mark.timeout(60)
def test_shared_file_pages_are_split_by_pss_and_private_memory_is_the_owners(tmp_path):
    path = tmp_path / "shared.bin"
    path.write_bytes(os.urandom(SIZE))
    ctx = multiprocessing.get_context("fork")
    ready, done = ctx.Semaphore(0), ctx.Event()
    kids = [ctx.Process(target=hold, args=(str(path), mb, ready, done)) for mb in (0, 48)]
    for k in kids:
        k.start()
    try:
        for _ in kids:
            assert ready.acquire(timeout=30)
        rows = process_tree.tree()
        by_pid = {r.pid: r for r in rows}
        assert rows[0].pid == os.getpid() and {k.pid for k in kids} <= set(by_pid)
        a, b = by_pid[kids[0].pid], by_pid[kids[1].pid]
        # both map the whole file: each counts it as resident, PSS splits it between them
        assert a.file >= SIZE and b.file >= SIZE
        double_counted = (a.file + b.file) - (a.pss_file + b.pss_file)
        assert double_counted >= 0.9 * SIZE
        # the 48 MB array is the second child's alone
        assert b.anon - a.anon >= 0.9 * 48 * MB and b.uss - a.uss >= 0.9 * 48 * MB
        summed = process_tree.total(rows)
        assert summed["pss"] == sum(r.pss for r in rows) and summed["anon"] >= a.anon + b.anon
        assert process_tree.as_records(rows)[0]["pid"] == os.getpid()
    finally:
        done.set()
        for k in kids:
            k.join(10)


def test_an_ended_process_reads_as_none():
    p = multiprocessing.get_context("fork").Process(target=int)
    p.start()
    p.join()
    assert process_tree.read_process(p.pid) is None
