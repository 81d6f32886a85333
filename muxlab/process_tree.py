"""Memory of a whole process tree (a consumer and its workers), per process and summed, from ``/proc``.

Resident memory counted per process double-counts what workers share: a
file's page cache mapped by four workers, or pages a forked worker has not
yet written (copy-on-write). ``/proc/PID/smaps_rollup`` gives each process's
*USS* (pages only it maps) and *PSS* (each shared page split evenly among the
processes that map it), so summing PSS over the tree counts every page once.
Anonymous and file-backed resident memory come from ``/proc/PID/status``
(``RssAnon``, ``RssFile``), the peak from the kernel (``VmHWM``). Linux only.
"""

import os
from dataclasses import asdict, dataclass

import psutil

FIELDS = ("anon", "file", "shmem", "uss", "pss", "pss_anon", "pss_file", "peak")


@dataclass
class ProcessMemory:
    """Memory of one process, in bytes (see the module docstring for what each field counts)."""

    pid: int
    name: str
    anon: int = 0
    file: int = 0
    shmem: int = 0
    uss: int = 0
    pss: int = 0
    pss_anon: int = 0
    pss_file: int = 0
    peak: int = 0


def read_process(pid):
    """Read one process's memory; None if it has ended."""
    try:
        status = _fields(f"/proc/{pid}/status")
        rollup = _fields(f"/proc/{pid}/smaps_rollup")
        with open(f"/proc/{pid}/comm") as f:
            name = f.read().strip()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return ProcessMemory(
        pid=pid,
        name=name,
        anon=status.get("RssAnon", 0),
        file=status.get("RssFile", 0),
        shmem=status.get("RssShmem", 0),
        uss=rollup.get("Private_Clean", 0) + rollup.get("Private_Dirty", 0),
        pss=rollup.get("Pss", 0),
        pss_anon=rollup.get("Pss_Anon", 0),
        pss_file=rollup.get("Pss_File", 0),
        peak=status.get("VmHWM", 0),
    )


def tree(pid=None):
    """Memory of ``pid`` (default: this process) and every descendant, the root first.

    >>> rows = tree()
    >>> rows[0].pid == os.getpid() and rows[0].pss > 0
    True
    """
    pid = os.getpid() if pid is None else pid
    pids = [pid]
    try:
        pids += [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    return [m for m in (read_process(p) for p in pids) if m is not None]


def total(rows):
    """The sums over ``rows`` of every field (``peak`` too: a bound, since peaks need not coincide).

    >>> total([ProcessMemory(1, 'a', anon=1, pss=2), ProcessMemory(2, 'b', anon=3, pss=4)])['pss']
    6
    """
    return {f: sum(getattr(r, f) for r in rows) for f in FIELDS}


def as_records(rows):
    """``rows`` as dicts (one per process), for ``pandas.DataFrame``."""
    return [asdict(r) for r in rows]


def _fields(path):
    """``Key: value kB`` lines of a /proc file as ``{key: bytes}``."""
    out = {}
    with open(path) as f:
        for line in f:
            key, _, rest = line.partition(":")
            parts = rest.split()
            if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
                out[key] = int(parts[0]) * 1024
    return out


__all__ = ["ProcessMemory", "as_records", "read_process", "total", "tree"]
