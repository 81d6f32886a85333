"""Run a child process under a memory limit that covers its page cache, as on a machine with less RAM.

A collection larger than memory cannot stay in the page cache; to measure
that on any machine, :func:`muxlab.compare` (with ``memory_limit=``) puts
each strategy's child in its own memory control group. The kernel charges a
group for its processes' anonymous memory *and* for the page cache they read
in, and reclaims the group's cache when it reaches the limit, so the child
sees the corpus as a machine with that much RAM would.

Control groups are made under the caller's own group (so any limit above
still applies): ``memory.max`` in cgroup v2 or ``memory.limit_in_bytes`` in
cgroup v1, whichever the machine has and allows. Each group is removed when
its :class:`MemoryGroup` closes, also after a failure. Where no group can be
made, :class:`MemoryLimitError` says why in one line; a run is never silently
unlimited.

>>> parse_size('compare', 'memory_limit', '256MiB')
268435456
>>> parse_size('compare', 'memory_limit', '1.5GB')
1500000000
"""

import os
import re
import time

from .errors import MuxlabError, ParameterError, ParameterTypeError

#: The prefix of every group made here (tests look for leftovers by it).
GROUP_PREFIX = "muxlab-"

_V1_MOUNT = "/sys/fs/cgroup/memory"
_V2_MOUNT = "/sys/fs/cgroup"
_UNITS = {
    "": 1, "b": 1,
    "k": 1024, "kib": 1024, "kb": 1000,
    "m": 1024**2, "mib": 1024**2, "mb": 1000**2,
    "g": 1024**3, "gib": 1024**3, "gb": 1000**3,
    "t": 1024**4, "tib": 1024**4, "tb": 1000**4,
}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?)\s*([a-zA-Z]*)\s*$")
_counter = [0]


class MemoryLimitError(MuxlabError):
    """No memory limit can be set on this machine (the message says why and what would allow it)."""


def parse_size(owner, name, value):
    """Return a size in bytes from an int or a text such as ``'256MiB'``, ``'1.5GB'``, ``'512M'``."""
    accepted = "a number of bytes or a size such as '256MiB', '1GiB' or '500MB'"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ParameterTypeError(f"{owner}: {name}={value!r} is a {type(value).__name__}; expected {accepted}")
    if isinstance(value, str):
        match = _SIZE.match(value)
        unit = match.group(2).lower() if match else None
        if not match or unit not in _UNITS:
            raise ParameterError(f"{owner}: {name}={value!r} is not a size; expected {accepted}")
        value = float(match.group(1)) * _UNITS[unit]
    if value != value or value < 1 << 20:
        raise ParameterError(f"{owner}: {name}={value!r} is below 1 MiB; expected {accepted}")
    return int(value)


def format_size(nbytes):
    """``268435456`` -> ``'256 MiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if nbytes < 1024 or unit == "GiB":
            return f"{nbytes:g} {unit}" if unit == "B" else f"{nbytes:.4g} {unit}"
        nbytes /= 1024
    return f"{nbytes:.4g} TiB"


def _own_group(controller_line_matches):
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                if controller_line_matches(controllers):
                    return path
    except OSError:
        return None
    return None


def find_parent():
    """Return ``(version, folder)`` where groups are made here, or raise :class:`MemoryLimitError` saying why."""
    v2_controllers = os.path.join(_V2_MOUNT, "cgroup.controllers")
    if os.path.isfile(v2_controllers):  # the unified hierarchy alone (cgroup v2)
        own = _own_group(lambda c: c == "") or "/"
        folder = os.path.join(_V2_MOUNT, own.lstrip("/"))
        try:
            with open(os.path.join(folder, "cgroup.controllers")) as f:
                available = f.read().split()
        except OSError as err:
            raise MemoryLimitError(_why(f"cannot read {folder}/cgroup.controllers ({err.strerror})")) from None
        if "memory" not in available:
            raise MemoryLimitError(_why(f"the memory controller is not delegated to {folder}"))
        if not os.access(folder, os.W_OK):
            raise MemoryLimitError(_why(f"{folder} is not writable by this user"))
        return 2, folder
    if os.path.isfile(os.path.join(_V1_MOUNT, "memory.limit_in_bytes")):
        own = _own_group(lambda c: "memory" in c.split(","))
        for folder in (os.path.join(_V1_MOUNT, own.lstrip("/")) if own else None, _V1_MOUNT):
            if folder and os.path.isdir(folder) and os.access(folder, os.W_OK):
                return 1, folder
        raise MemoryLimitError(_why(f"{_V1_MOUNT} is not writable by this user"))
    raise MemoryLimitError(_why("no memory control group hierarchy is mounted (neither cgroup v2 nor v1 memory)"))


def _why(reason):
    return (
        f"no memory limit can be set: {reason}; run as root, or under a delegated systemd scope "
        "(systemd-run --user --scope -p Delegate=yes ...), or without memory_limit"
    )


def check_available():
    """Raise :class:`MemoryLimitError` (one line: why, and what would allow it) unless groups can be made."""
    find_parent()


class MemoryGroup:
    """A memory control group with a limit on memory *including page cache*; remove it with :meth:`close`.

    Use as a context manager; a process joins by writing its pid into
    :attr:`procs` (:func:`join`). :meth:`stats` reads the group's peak and
    counters.
    """

    def __init__(self, limit):
        self.limit = int(limit)
        self.version, parent = find_parent()
        _counter[0] += 1
        self.path = os.path.join(parent, f"{GROUP_PREFIX}{os.getpid()}-{_counter[0]}-{time.monotonic_ns() % 10**6}")
        try:
            os.mkdir(self.path)
        except OSError as err:
            raise MemoryLimitError(_why(f"cannot make a group in {parent} ({err.strerror})")) from None
        try:
            if self.version == 2:
                self._write("memory.max", str(self.limit))
                self._write("memory.swap.max", "0", missing_ok=True)
            else:
                self._write("memory.limit_in_bytes", str(self.limit))
                self._write("memory.memsw.limit_in_bytes", str(self.limit), missing_ok=True)
        except OSError as err:
            self.close()
            raise MemoryLimitError(_why(f"cannot set the limit in {self.path} ({err.strerror})")) from None

    @property
    def procs(self):
        """The file a process writes its pid into to join the group."""
        return os.path.join(self.path, "cgroup.procs")

    def _write(self, name, text, missing_ok=False):
        path = os.path.join(self.path, name)
        if missing_ok and not os.path.exists(path):
            return
        with open(path, "w") as f:
            f.write(text)

    def _read(self, name):
        try:
            with open(os.path.join(self.path, name)) as f:
                return f.read()
        except OSError:
            return None

    def stats(self):
        """The group's peak usage (page cache included), limit hits, OOM kills and major faults (None if unknown)."""
        stat = {}
        for line in (self._read("memory.stat") or "").splitlines():
            key, _, value = line.partition(" ")
            if value.strip().isdigit():
                stat[key] = int(value)
        events = {}
        for line in (self._read("memory.events") or "").splitlines():
            key, _, value = line.partition(" ")
            if value.strip().isdigit():
                events[key] = int(value)
        if self.version == 2:
            peak = self._read("memory.peak")
            return {
                "group_peak": int(peak) if peak and peak.strip().isdigit() else None,
                "limit_hits": events.get("max"),
                "oom_kills": events.get("oom_kill"),
                "group_major_faults": stat.get("pgmajfault"),
            }
        peak = self._read("memory.max_usage_in_bytes")
        fails = self._read("memory.failcnt")
        oom = {}
        for line in (self._read("memory.oom_control") or "").splitlines():
            key, _, value = line.partition(" ")
            if value.strip().isdigit():
                oom[key] = int(value)
        return {
            "group_peak": int(peak) if peak else None,
            "limit_hits": int(fails) if fails else None,
            "oom_kills": oom.get("oom_kill"),
            "group_major_faults": stat.get("total_pgmajfault", stat.get("pgmajfault")),
        }

    def close(self):
        """Remove the group (its processes must have ended); safe to call twice."""
        if not os.path.isdir(self.path):
            return
        if self.version == 1:  # hand what the group still holds (page cache) back to its parent
            try:
                self._write("memory.force_empty", "0")
            except OSError:
                pass
        for attempt in range(50):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                left = (self._read("cgroup.procs") or "").split()
                if left and attempt in (0, 20):
                    for pid in left:  # a process that outlived its run must not keep the group
                        try:
                            os.kill(int(pid), 9)
                        except (ProcessLookupError, ValueError, PermissionError):
                            pass
                time.sleep(0.02)
        raise MuxlabError(f"could not remove the memory control group {self.path}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        return f"MemoryGroup({format_size(self.limit)}, v{self.version}, {self.path!r})"


def join(procs_path):
    """Move the calling process into the group whose ``cgroup.procs`` is ``procs_path``."""
    with open(procs_path, "w") as f:
        f.write(str(os.getpid()))


def leftover_groups(pid=None):
    """Groups this module made (in process ``pid``, default any) that still exist; none once every run has ended."""
    try:
        _, parent = find_parent()
    except MemoryLimitError:
        return []
    prefix = GROUP_PREFIX if pid is None else f"{GROUP_PREFIX}{pid}-"
    return sorted(os.path.join(parent, name) for name in os.listdir(parent) if name.startswith(prefix))
