"""Measure the memory a process uses while it streams data: readings, a sampling probe, peak reset.

All numbers are bytes. On Linux they come from ``/proc/PID/status`` (cheap to
read at every tick); elsewhere from psutil, with the fields it cannot supply
left as ``None`` and a note saying why.

What the numbers mean
---------------------
``rss``
    Resident set size (``VmRSS``): every page of the process that is in RAM
    now. It is the sum of the three parts below.
``rss_anon``
    Anonymous resident memory (``RssAnon``): pages backed by no file, i.e.
    the Python heap, numpy arrays, copies of data, decompressed ``.npz``
    members. This is the memory a loader *costs*: the kernel can only free
    it by swapping.
``rss_file``
    File-backed resident memory (``RssFile``): pages of files mapped into the
    process, such as ``np.load(..., mmap_mode='r')`` arrays and shared
    libraries. These are page-cache pages, shared with every other process
    mapping the same file, and reclaimable: the kernel can drop them under
    pressure and read them again from disk.
``rss_shmem``
    Shared-memory resident pages (``RssShmem``): System V / POSIX shared
    memory, and files on tmpfs (e.g. ``/dev/shm``) mapped into the process.
``peak_rss``
    The kernel's own high-water mark of ``rss`` (``VmHWM``), kept by the
    kernel rather than sampled: a sampled maximum misses short spikes
    between ticks, and for a fast run it misses nearly everything. (It is
    exact up to the kernel's per-CPU counter batching, a few hundred KiB.) It covers the life of the process unless
    it is reset with :func:`reset_peak`; for a child the parent can also get
    it from ``os.wait4(pid, 0)[2].ru_maxrss`` (KiB on Linux) once it exits.
``uss``
    Unique set size (:func:`read_uss`): memory that would be freed if the
    process exited now (its private pages). Slower to read, so a
    :class:`MemoryProbe` reads it only every ``uss_every`` ticks.

Examples
--------
>>> r = read_memory()
>>> r.rss > 0
True
>>> with MemoryProbe(interval=0.01) as probe:
...     block = bytearray(1 << 20)
>>> len(probe.readings) >= 2 and probe.peak_rss >= max(r.rss for r in probe.readings)
True
"""

import math
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import NamedTuple

from .errors import MuxlabError, ParameterError, ParameterTypeError
from .validation import check_int, check_positive_number

__all__ = [
    "MemoryProbe",
    "MemoryReading",
    "ProbeReading",
    "ProcessGoneError",
    "read_memory",
    "read_uss",
    "reset_peak",
]

#: Root of the proc filesystem; tests point it elsewhere to exercise the psutil fallback.
_PROC_ROOT = "/proc"

# /proc/PID/status field -> MemoryReading attribute
_STATUS_FIELDS = {
    "VmRSS": "rss",
    "RssAnon": "rss_anon",
    "RssFile": "rss_file",
    "RssShmem": "rss_shmem",
    "VmHWM": "peak_rss",
}


class ProcessGoneError(MuxlabError, ProcessLookupError):
    """The process being measured has exited (or is a zombie waiting to be reaped)."""


@dataclass(frozen=True, slots=True)
class MemoryReading:
    """One reading of a process's memory, in bytes (``None`` where not available).

    ``source`` is ``'proc'`` (``/proc/PID/status``) or ``'psutil'`` (fallback);
    ``notes`` say why any field is ``None``.
    """

    rss: int | None
    rss_anon: int | None
    rss_file: int | None
    rss_shmem: int | None
    peak_rss: int | None
    source: str
    notes: tuple = ()


class ProbeReading(NamedTuple):
    """One tick of a :class:`MemoryProbe`: seconds since start, bytes, and the counter value.

    ``uss`` is NaN on ticks where it was not read; memory fields are ``None``
    where the platform does not provide them; ``samples`` is ``None`` without
    a counter.
    """

    t: float
    rss: int | None
    rss_anon: int | None
    rss_file: int | None
    rss_shmem: int | None
    uss: float
    samples: object


# ---------------------------------------------------------------------------
# argument checks


def _check_pid(owner, pid, must_exist=True):
    """Return ``pid`` as an int (``None`` stays ``None``), checking it names a running process."""
    if pid is None:
        return None
    pid = check_int(owner, "pid", pid, minimum=1)
    if must_exist and not _pid_exists(pid):
        raise ParameterError(
            f"{owner}: pid={pid} is not a running process; expected the pid of a running "
            f"process, or None for this process"
        )
    return pid


def _pid_exists(pid):
    if _proc_available():
        return os.path.exists(os.path.join(_PROC_ROOT, str(pid)))
    import psutil

    return psutil.pid_exists(pid)


# ---------------------------------------------------------------------------
# single readings


def _proc_available():
    return os.path.exists(os.path.join(_PROC_ROOT, "self", "status"))


def _parse_status(text, pid):
    """Parse the text of ``/proc/PID/status`` into a :class:`MemoryReading`."""
    values = {}
    state = None
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key == "State":
            state = rest.split()[0] if rest.split() else None
        elif key in _STATUS_FIELDS:
            number, *unit = rest.split()
            values[_STATUS_FIELDS[key]] = int(number) * (1024 if unit == ["kB"] else 1)
    if state in ("Z", "X"):
        raise ProcessGoneError(f"process {pid} has exited (state {state}, not yet reaped)")
    notes = ()
    missing = [k for k, attr in _STATUS_FIELDS.items() if attr not in values]
    if missing:
        notes = (
            f"pid {pid}: /proc status has no {', '.join(missing)} "
            f"(kernel thread, or a kernel older than 4.5 for RssAnon/RssFile/RssShmem)",
        )
    return MemoryReading(
        rss=values.get("rss"),
        rss_anon=values.get("rss_anon"),
        rss_file=values.get("rss_file"),
        rss_shmem=values.get("rss_shmem"),
        peak_rss=values.get("peak_rss"),
        source="proc",
        notes=notes,
    )


def _read_status_text(pid, dir_fd=None):
    """Read ``status`` of ``pid`` (``None``: this process), relative to an open ``/proc/PID`` if given.

    Raises :class:`ProcessGoneError` if the process no longer exists.
    """
    try:
        if dir_fd is not None:
            fd = os.open("status", os.O_RDONLY, dir_fd=dir_fd)
        else:
            fd = os.open(os.path.join(_PROC_ROOT, "self" if pid is None else str(pid), "status"), os.O_RDONLY)
        try:
            chunks = []
            while chunk := os.read(fd, 4096):
                chunks.append(chunk)
        finally:
            os.close(fd)
    except (FileNotFoundError, ProcessLookupError):
        raise ProcessGoneError(f"process {pid} no longer exists") from None
    return b"".join(chunks).decode("ascii", "replace")


def _own_peak_from_rusage():
    """Peak RSS of this process from ``getrusage`` in bytes, or ``None`` where unavailable."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(maxrss) if sys.platform == "darwin" else int(maxrss) * 1024


def _read_psutil(pid, reason):
    """Fallback reading through psutil: ``rss`` and, where possible, the peak."""
    import psutil

    own = pid is None or pid == os.getpid()
    try:
        info = psutil.Process(pid).memory_info()
    except psutil.NoSuchProcess:
        raise ProcessGoneError(f"process {pid} no longer exists") from None
    except psutil.AccessDenied:
        return MemoryReading(None, None, None, None, None, "psutil",
                             (f"pid {pid}: {reason}, and psutil was denied access to its memory",))
    notes = [f"pid {pid}: {reason}: rss from psutil; rss_anon, rss_file and rss_shmem unavailable"]
    peak = getattr(info, "peak_wset", None)  # Windows: the kernel's own peak working set
    if peak is None and own:
        peak = _own_peak_from_rusage()
        if peak is not None:
            notes.append("peak_rss from getrusage(RUSAGE_SELF).ru_maxrss")
    if peak is None:
        notes.append(f"pid {pid}: no kernel peak RSS available for this process on {sys.platform}")
    return MemoryReading(int(info.rss), None, None, None, None if peak is None else int(peak),
                         "psutil", tuple(notes))


def read_memory(pid=None):
    """Return one :class:`MemoryReading` of a process (``None``: this process), in bytes.

    On Linux it parses ``/proc/PID/status`` (tens of microseconds); elsewhere
    it falls back to psutil, leaving unavailable fields as ``None`` with a
    note in ``notes``. Raises :class:`ProcessGoneError` if the process has
    exited, including a zombie not yet reaped by its parent.

    >>> r = read_memory()
    >>> r.rss == r.rss_anon + r.rss_file + r.rss_shmem, r.peak_rss >= r.rss
    (True, True)
    """
    pid = _check_pid("read_memory", pid, must_exist=False)
    if not _proc_available():
        return _read_psutil(pid, f"{_PROC_ROOT}/PID/status is not available on {sys.platform}")
    try:
        return _parse_status(_read_status_text(pid), pid)
    except PermissionError:
        return _read_psutil(pid, f"{_PROC_ROOT}/{pid}/status is not readable (permission denied)")


def read_uss(pid=None, notes=None):
    """Return the unique set size of a process in bytes, or ``None`` if not permitted.

    USS is the memory freed if the process exited now. It is read with
    ``psutil.Process(pid).memory_full_info().uss``, which walks the process's
    memory map: slower than :func:`read_memory`, so sample it less often.
    When it is not available, the reason is appended to ``notes`` (a list)
    if one is given. Raises :class:`ProcessGoneError` if the process has exited.

    >>> read_uss() > 0
    True
    """
    pid = _check_pid("read_uss", pid, must_exist=False)
    import psutil

    try:
        return int(psutil.Process(pid).memory_full_info().uss)
    except psutil.NoSuchProcess:  # includes ZombieProcess
        raise ProcessGoneError(f"process {pid} no longer exists") from None
    except (psutil.AccessDenied, AttributeError, NotImplementedError) as exc:
        if notes is not None:
            notes.append(f"pid {pid}: uss unavailable ({type(exc).__name__}: {exc})")
        return None


def reset_peak(pid=None):
    """Reset the kernel's peak RSS (``VmHWM``) of a process to its current RSS; return whether it worked.

    Writes ``5`` to ``/proc/PID/clear_refs`` (Linux 4.0+), which needs
    permission to modify the process (same user, or root). Call it just
    before a measured phase so :attr:`MemoryProbe.peak_rss` covers that
    phase only. Returns ``False`` where that is not possible (not Linux,
    no permission, process gone).

    >>> isinstance(reset_peak(), bool)
    True
    """
    pid = _check_pid("reset_peak", pid, must_exist=False)
    path = os.path.join(_PROC_ROOT, "self" if pid is None else str(pid), "clear_refs")
    try:
        with open(path, "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


# ---------------------------------------------------------------------------
# the sampling probe


class MemoryProbe:
    """Sample a process's memory on a background thread every ``interval`` seconds.

    Parameters
    ----------
    pid : int or None
        Process to sample (e.g. a child's ``Popen.pid``); ``None`` samples
        this process.
    interval : float
        Seconds between ticks (> 0). Each tick reads ``/proc/PID/status``.
    uss_every : int
        Read USS (slower) on every ``uss_every``-th tick (>= 1), and on the
        first and final readings; other ticks have ``uss`` NaN.
    counter : callable or None
        Zero-argument callable read at each tick (e.g. samples drawn so far),
        recorded as ``samples``.

    The probe takes one reading in :meth:`start`, one per tick, and a final
    one in :meth:`stop`, which also reads :attr:`peak_rss` from the kernel.
    The kernel updates VmHWM when memory is unmapped, from RSS counters kept
    in per-CPU batches, so it can trail a VmRSS reading by up to
    ``max(32, 2 * CPUs) * CPUs`` pages (256 KiB on 2 CPUs); :attr:`peak_rss`
    is therefore the larger of VmHWM and every sampled ``rss``, and the raw
    value stays in :attr:`kernel_peak_rss`. VmHWM covers the life of the
    process: call :func:`reset_peak` before :meth:`start` to measure one phase.
    If the process exits, sampling ends with a note in :attr:`notes`;
    nothing is raised. A probe runs once: make a new one for each
    measurement.

    Examples
    --------
    >>> probe = MemoryProbe(interval=0.01, counter=lambda: 7)
    >>> _ = probe.start()
    >>> _ = probe.stop()
    >>> probe.readings[-1].samples, probe.is_running
    (7, False)
    """

    def __init__(self, pid=None, interval=0.05, uss_every=10, counter=None):
        owner = "MemoryProbe"
        self.interval = check_positive_number(owner, "interval", interval, minimum=0, strict=True)
        self.uss_every = check_int(owner, "uss_every", uss_every, minimum=1)
        if counter is not None and not callable(counter):
            raise ParameterTypeError(
                f"{owner}: counter={counter!r} is a {type(counter).__name__}; "
                f"expected a callable taking no arguments, or None"
            )
        self.counter = counter
        pid = _check_pid(owner, pid)
        self.pid = os.getpid() if pid is None else pid
        self._own = pid is None or pid == os.getpid()
        #: Peak RSS in bytes, set by :meth:`stop`: the kernel's VmHWM, raised to the largest
        #: sampled rss if that is higher (see :attr:`kernel_peak_rss`); None before stop().
        self.peak_rss = None
        #: VmHWM exactly as the kernel reported it at :meth:`stop` (None before, or where unavailable).
        self.kernel_peak_rss = None
        self._readings = []
        self._notes = []
        self._stop_event = threading.Event()
        self._thread = None
        self._started = False
        self._stopped = False
        self._gone = False
        self._t0 = None
        self._tick = 0
        self._dir_fd = None
        self._psutil_process = None
        self._uss_ok = True
        self._counter_ok = True
        self._last_peak = None
        self._start_peak = None

    # -- public API ---------------------------------------------------------

    @property
    def readings(self):
        """The readings so far, a list of :class:`ProbeReading` (a copy: safe while running)."""
        return list(self._readings)

    @property
    def notes(self):
        """Notes about fallbacks, unavailable fields and the process exiting (a copy)."""
        return list(self._notes)

    @property
    def is_running(self):
        """True while the sampling thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self):
        """Take a first reading and start sampling on a daemon thread; return ``self``."""
        if self._started:
            raise MuxlabError(
                "MemoryProbe.start(): this probe has already been started; "
                "create a new MemoryProbe for each measurement"
            )
        self._started = True
        self._open()
        self._t0 = time.perf_counter()
        self._sample()
        self._start_peak = self._last_peak
        if not self._gone:
            self._thread = threading.Thread(target=self._run, name=f"muxlab-MemoryProbe-{self.pid}", daemon=True)
            self._thread.start()
        return self

    def stop(self):
        """Stop sampling, take a final reading and read :attr:`peak_rss`; return ``self``.

        Idempotent, and harmless on a probe that was never started.
        """
        if self._stopped or not self._started:
            return self
        self._stopped = True
        self._stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout=max(10.0, 10 * self.interval))
            if self._thread.is_alive():
                self._note("sampling thread did not finish within the join timeout (a slow counter?); "
                           "no final reading")
        if not self.is_running:
            self._sample(final=True)
            self._close()
        self.kernel_peak_rss = self._last_peak
        sampled = [r.rss for r in self._readings if r.rss is not None]
        if self.kernel_peak_rss is not None:
            self.peak_rss = max([self.kernel_peak_rss, *sampled])
        if self._gone and self.peak_rss is not None:
            self._note("peak_rss is the last VmHWM read before the process exited")
        self._check_stale_peak()
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
        return False

    def to_frame(self):
        """Return the readings as a pandas DataFrame, one row per reading, memory columns in bytes.

        Columns ``t, rss, rss_anon, rss_file, rss_shmem, uss`` (float64,
        NaN where not read) and ``samples`` when a counter was given;
        ``df.attrs`` holds ``pid``, ``interval``, ``peak_rss`` and ``notes``.
        """
        import pandas as pd

        columns = list(ProbeReading._fields)
        if self.counter is None:
            columns.remove("samples")
        rows = [r[: len(columns)] if self.counter is None else r for r in self.readings]
        df = pd.DataFrame(rows, columns=columns)
        for name in ("t", "rss", "rss_anon", "rss_file", "rss_shmem", "uss"):
            df[name] = df[name].astype("float64")
        df.attrs.update(pid=self.pid, interval=self.interval, peak_rss=self.peak_rss, notes=self.notes)
        return df

    def __repr__(self):
        state = "running" if self.is_running else ("stopped" if self._stopped else "not started")
        return (f"MemoryProbe(pid={self.pid}, interval={self.interval:g}, uss_every={self.uss_every}, "
                f"{state}, {len(self._readings)} readings)")

    # -- internals ------------------------------------------------------------

    def _note(self, text):
        if text not in self._notes:
            self._notes.append(text)

    def _open(self):
        """Hold ``/proc/PID`` open, so a reused pid can never be mistaken for the probed process."""
        if _proc_available():
            try:
                self._dir_fd = os.open(os.path.join(_PROC_ROOT, str(self.pid)), os.O_RDONLY | os.O_DIRECTORY)
            except (FileNotFoundError, ProcessLookupError):
                self._gone = True
                self._note(f"process {self.pid} had exited before start(); no readings")
            except OSError as exc:
                self._note(f"could not open {_PROC_ROOT}/{self.pid} ({exc}); reading by path")

    def _close(self):
        if self._dir_fd is not None:
            os.close(self._dir_fd)
            self._dir_fd = None

    def _read(self):
        if self._dir_fd is not None:
            try:
                return _parse_status(_read_status_text(self.pid, dir_fd=self._dir_fd), self.pid)
            except PermissionError:
                self._close()  # from now on read_memory() below, which falls back to psutil
        return read_memory(None if self._own else self.pid)

    def _read_uss(self):
        if not self._uss_ok:
            return math.nan
        import psutil

        if self._psutil_process is None:
            self._psutil_process = psutil.Process(self.pid)
        try:
            return float(self._psutil_process.memory_full_info().uss)
        except psutil.NoSuchProcess:
            raise ProcessGoneError(f"process {self.pid} no longer exists") from None
        except (psutil.AccessDenied, AttributeError, NotImplementedError) as exc:
            self._uss_ok = False
            self._note(f"pid {self.pid}: uss unavailable ({type(exc).__name__}: {exc}); uss column is NaN")
            return math.nan

    def _sample(self, final=False):
        """Take one reading and append it; on exit of the process, note it and return False."""
        if self._gone:
            return False
        t = time.perf_counter() - self._t0
        try:
            reading = self._read()
            uss = self._read_uss() if (final or self._tick % self.uss_every == 0) else math.nan
        except ProcessGoneError:
            self._gone = True
            self._note(f"process {self.pid} exited at t={t:.3f} s; sampling ended")
            return False
        for note in reading.notes:
            self._note(note)
        samples = None
        if self.counter is not None and self._counter_ok:
            try:
                samples = self.counter()
            except Exception as exc:  # user code: never let it kill the sampler
                self._counter_ok = False
                self._note(f"counter raised {type(exc).__name__}: {exc} at t={t:.3f} s; "
                           f"samples is None from then on")
        if reading.peak_rss is not None:
            self._last_peak = reading.peak_rss
        self._readings.append(ProbeReading(t, reading.rss, reading.rss_anon, reading.rss_file,
                                           reading.rss_shmem, uss, samples))
        self._tick += 1
        return True

    def _run(self):
        next_t = self._t0 + self.interval
        try:
            while True:
                delay = next_t - time.perf_counter()
                if self._stop_event.wait(max(delay, 0.0)):
                    return
                if not self._sample():
                    return
                now = time.perf_counter()
                next_t += self.interval
                if next_t < now:  # fell behind (slow USS read, busy machine): skip the missed ticks
                    next_t = now + self.interval - ((now - self._t0) % self.interval)
        except Exception as exc:  # never raise from the thread
            self._note(f"sampling stopped by {type(exc).__name__}: {exc}")

    def _check_stale_peak(self):
        sampled = [r.rss for r in self._readings if r.rss is not None]
        kernel = self.kernel_peak_rss
        if kernel is not None and sampled and kernel == self._start_peak and kernel > max(sampled):
            self._note(
                f"peak_rss ({kernel} bytes) was already reached before start() and exceeds every "
                f"sampled rss: it may predate the probe; call reset_peak() before start() to measure one phase"
            )
