"""Tests of muxlab.memory_probe (formerly muxlab.instrument): memory readings checked against allocations of known size.

Tolerances. Each check compares a change in a memory field with the size of
an allocation made between two readings. What else can move that field in
the same window: rounding to pages (4 KiB, or 2 MiB with transparent huge
pages), numpy's array header, the interpreter's own small allocations
(readings, frames, pytest bookkeeping: kilobytes), and the per-CPU batching
of the kernel's RSS counters (at most 64 pages per CPU since Linux 6.2, so
well under 1 MiB on small machines). Together these stay below a few MB, so
``TOL = 20 MB`` (10 % of the 200 MB block) cannot hide a wrong field, a
wrong unit (KiB read as bytes is off by 1000x) or a missed allocation, yet
does not fail on noise. ``FLAT`` bounds fields that must not move at all.
"""

import math
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import muxlab.instrument
import muxlab.memory_probe as instrument
from muxlab.errors import MuxlabError, ParameterError, ParameterTypeError
from muxlab.memory_probe import MemoryProbe, ProcessGoneError, read_memory, read_uss, reset_peak

MB = 1_000_000
ALLOC = 200 * MB  # np.ones(25_000_000) of float64
TOL = 20 * MB
FLAT = 8 * MB

linux_only = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc (Linux)")


def _next_reading(probe, timeout=5.0):
    """Return a reading that began after this call (wait for two new ticks: the first may have begun before)."""
    n = len(probe.readings)
    deadline = time.monotonic() + timeout
    while len(probe.readings) < n + 2:
        assert probe.is_running, f"probe stopped while waiting for a reading; notes: {probe.notes}"
        assert time.monotonic() < deadline, "no new reading within the timeout"
        time.sleep(0.002)
    return probe.readings[-1]


def _wait_until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def _on_tmpfs(path):
    """True if ``path`` is on tmpfs, where mapped file pages count as RssShmem instead of RssFile."""
    path = os.path.realpath(path)
    best, fstype = "", None
    with open("/proc/self/mounts") as f:
        for line in f:
            _, mount_point, kind, *_ = line.split()
            if (path == mount_point or path.startswith(mount_point.rstrip("/") + "/")) and len(mount_point) > len(best):
                best, fstype = mount_point, kind
    return fstype == "tmpfs"


def _free_pid():
    """A pid that belonged to a process which has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ---------------------------------------------------------------------------
# numbers against known allocations


@linux_only
def test_rss_anon_rises_and_falls_with_a_numpy_allocation():
    with MemoryProbe(interval=0.01, uss_every=1000) as probe:
        before = _next_reading(probe)
        block = np.ones(25_000_000)  # writes every page
        during = _next_reading(probe)
        del block
        after = _next_reading(probe)
    rise = during.rss_anon - before.rss_anon
    fall = during.rss_anon - after.rss_anon
    print(f"rss_anon rise {rise / MB:.1f} MB, fall {fall / MB:.1f} MB for a {ALLOC / MB:.0f} MB block")
    assert abs(rise - ALLOC) < TOL
    assert abs(fall - ALLOC) < TOL
    assert abs(during.rss_file - before.rss_file) < FLAT  # heap memory is not file-backed
    assert abs((during.rss - before.rss) - rise) < FLAT
    assert during.rss == during.rss_anon + during.rss_file + during.rss_shmem
    sampled_max = max(r.rss for r in probe.readings)
    assert probe.peak_rss >= sampled_max >= during.rss
    # VmHWM itself may trail a VmRSS reading: the kernel batches RSS counters per
    # CPU and updates the high-water mark lazily, so the probe reports the larger.
    assert probe.peak_rss == max(probe.kernel_peak_rss, sampled_max)


@linux_only
def test_rss_file_rises_with_mmap_reads_while_rss_anon_stays_flat(tmp_path):
    path = tmp_path / "block.f8"
    chunk = np.ones(1 << 17).tobytes()  # 1 MiB
    with open(path, "wb") as f:
        for _ in range(100):
            f.write(chunk)
    del chunk
    size = os.path.getsize(path)
    field = "rss_shmem" if _on_tmpfs(path) else "rss_file"
    with MemoryProbe(interval=0.01, uss_every=1000) as probe:
        before = _next_reading(probe)
        m = np.memmap(path, dtype=np.float64, mode="r")
        total = float(m.sum())  # faults in every page of the file
        during = _next_reading(probe)
        del m
        after = _next_reading(probe)
    assert total == size / 8
    rise = getattr(during, field) - getattr(before, field)
    anon_change = during.rss_anon - before.rss_anon
    print(f"{field} rise {rise / MB:.1f} MB for a {size / MB:.1f} MB file; rss_anon change {anon_change / MB:.2f} MB")
    assert abs(rise - size) < TOL
    assert abs(anon_change) < FLAT
    assert abs(getattr(during, field) - getattr(after, field) - size) < TOL  # unmapped: gone again


@linux_only
def test_peak_rss_is_the_kernel_peak_that_sampling_misses():
    if not reset_peak():
        pytest.skip("cannot write /proc/self/clear_refs here")
    with MemoryProbe(interval=10.0) as probe:  # no tick falls inside the spike below
        block = np.ones(25_000_000)
        del block
    sampled = max(r.rss for r in probe.readings)
    missed = probe.peak_rss - sampled
    print(f"peak_rss exceeds the largest sampled rss by {missed / MB:.1f} MB")
    assert len(probe.readings) == 2  # start and stop only
    assert probe.peak_rss >= sampled
    assert abs(missed - ALLOC) < TOL
    # without a reset, the next probe inherits that peak, and says so
    with MemoryProbe(interval=10.0) as inherited:
        pass
    assert inherited.kernel_peak_rss >= probe.kernel_peak_rss
    assert any("may predate the probe" in n for n in inherited.notes), inherited.notes
    assert not any("may predate" in n for n in probe.notes)
    # reset_peak brings VmHWM back down to the current RSS
    assert reset_peak() is True
    now = read_memory()
    assert abs((probe.peak_rss - now.peak_rss) - ALLOC) < TOL
    assert now.peak_rss >= now.rss


def test_reset_peak_reports_failure_instead_of_raising():
    assert reset_peak(_free_pid()) is False
    with pytest.raises(ParameterTypeError, match="pid='1'"):
        reset_peak("1")


@linux_only
def test_probe_a_child_process_by_pid():
    child = (
        "import sys, numpy as np\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "block = np.ones(150_000_000 // 8)\n"
        "print('allocated', flush=True)\n"
        "sys.stdin.readline()\n"
    )
    with subprocess.Popen([sys.executable, "-c", child], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True) as proc:
        try:
            assert proc.stdout.readline().strip() == "ready"
            own_before = read_memory()
            with MemoryProbe(pid=proc.pid, interval=0.01, uss_every=1) as probe:
                before = _next_reading(probe)
                proc.stdin.write("\n")
                proc.stdin.flush()
                assert proc.stdout.readline().strip() == "allocated"
                during = _next_reading(probe)
            own_after = read_memory()
        finally:
            proc.kill()
    rise = during.rss_anon - before.rss_anon
    uss_rise = during.uss - before.uss
    print(f"child rss_anon rise {rise / MB:.1f} MB, uss rise {uss_rise / MB:.1f} MB for 150 MB")
    assert probe.pid == proc.pid
    assert abs(rise - 150 * MB) < TOL
    assert abs(uss_rise - 150 * MB) < TOL
    assert probe.peak_rss >= during.rss >= 150 * MB
    assert abs(own_after.rss_anon - own_before.rss_anon) < FLAT  # we measured the child, not ourselves


@linux_only
@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize("reaped", [True, False], ids=["reaped", "zombie"])
def test_probed_process_exiting_mid_run_ends_sampling_with_a_note(reaped):
    with subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.readline()"], stdin=subprocess.PIPE) as proc:
        probe = MemoryProbe(pid=proc.pid, interval=0.005, uss_every=2).start()
        _next_reading(probe)
        proc.stdin.close()  # the child reads EOF and exits
        if reaped:
            proc.wait()
        assert _wait_until(lambda: not probe.is_running), "sampling did not end after the process exited"
        n = len(probe.readings)
        probe.stop()
    assert len(probe.readings) == n  # no final reading of a dead process
    assert any(f"process {proc.pid} exited" in note for note in probe.notes), probe.notes
    assert probe.peak_rss is not None and probe.peak_rss > 0  # last VmHWM seen
    assert any("last VmHWM" in note for note in probe.notes)
    with pytest.raises(ProcessGoneError):
        read_memory(proc.pid)


# ---------------------------------------------------------------------------
# lifecycle


def _probe_threads():
    return [t for t in threading.enumerate() if t.name.startswith("muxlab-MemoryProbe")]


def test_start_stop_leaves_no_thread_and_stop_is_prompt_and_idempotent():
    before = set(threading.enumerate())
    probe = MemoryProbe(interval=30.0).start()
    assert probe.is_running and len(_probe_threads()) == 1 and _probe_threads()[0].daemon
    started = time.perf_counter()
    probe.stop()
    assert time.perf_counter() - started < 1.0  # Event.wait returns at once, not after 30 s
    assert _probe_threads() == [] and set(threading.enumerate()) <= before
    n, peak = len(probe.readings), probe.peak_rss
    assert n == 2 and peak is not None
    assert probe.stop() is probe
    assert (len(probe.readings), probe.peak_rss) == (n, peak)
    with pytest.raises(MuxlabError, match="already been started"):
        probe.start()


def test_a_probe_never_started_can_be_stopped():
    probe = MemoryProbe()
    assert probe.stop() is probe and probe.stop() is probe
    assert probe.readings == [] and probe.peak_rss is None and not probe.is_running
    assert len(probe.to_frame()) == 0


def test_context_manager_stops_on_exception():
    with pytest.raises(KeyError):
        with MemoryProbe(interval=0.01) as probe:
            assert probe.is_running
            raise KeyError("boom")
    assert not probe.is_running and _probe_threads() == [] and probe.peak_rss is not None


# ---------------------------------------------------------------------------
# arguments


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        ({"interval": 0}, ParameterError, "interval=0.0"),
        ({"interval": -0.5}, ParameterError, "interval=-0.5"),
        ({"interval": math.nan}, ParameterError, "interval=nan"),
        ({"interval": math.inf}, ParameterError, "interval=inf"),
        ({"interval": "fast"}, ParameterTypeError, "interval='fast'"),
        ({"interval": None}, ParameterTypeError, "interval=None"),
        ({"interval": True}, ParameterTypeError, "interval=True"),
        ({"uss_every": 0}, ParameterError, "uss_every=0"),
        ({"uss_every": 2.5}, ParameterTypeError, "uss_every=2.5"),
        ({"uss_every": True}, ParameterTypeError, "uss_every=True"),
        ({"pid": 0}, ParameterError, "pid=0"),
        ({"pid": -3}, ParameterError, "pid=-3"),
        ({"pid": "1"}, ParameterTypeError, "pid='1'"),
        ({"pid": 1.0}, ParameterTypeError, "pid=1.0"),
        ({"counter": 5}, ParameterTypeError, "counter=5"),
    ],
)
def test_bad_arguments_are_rejected_with_a_message(kwargs, error, text):
    with pytest.raises(error) as info:
        MemoryProbe(**kwargs)
    message = str(info.value)
    assert message.startswith("MemoryProbe:") and text in message and "expected" in message


def test_a_pid_that_is_not_running_is_rejected():
    pid = _free_pid()
    with pytest.raises(ParameterError, match=f"pid={pid} is not a running process"):
        MemoryProbe(pid=pid)


# ---------------------------------------------------------------------------
# records and frame


def test_counter_is_recorded_in_a_samples_column():
    drawn = [0]
    with MemoryProbe(interval=0.005, uss_every=3, counter=lambda: drawn[0]) as probe:
        for _ in range(4):
            _next_reading(probe)
            drawn[0] += 10
    df = probe.to_frame()
    assert list(df.columns) == ["t", "rss", "rss_anon", "rss_file", "rss_shmem", "uss", "samples"]
    assert df["samples"].iloc[0] == 0 and df["samples"].iloc[-1] == drawn[0] == 40
    assert df["samples"].is_monotonic_increasing and df["t"].is_monotonic_increasing
    assert df["samples"].nunique() == 5  # every value of the counter was seen
    ticks = df["uss"].notna().to_numpy()
    assert ticks[:-1].tolist() == [i % 3 == 0 for i in range(len(df) - 1)] and ticks[-1]  # final reads uss
    assert (df.dtypes.drop("samples") == "float64").all()
    assert df.attrs["peak_rss"] == probe.peak_rss and df.attrs["pid"] == os.getpid()
    assert "samples" not in MemoryProbe().to_frame().columns


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_failing_counter_is_noted_not_raised():
    def counter():
        raise RuntimeError("no count")

    with MemoryProbe(interval=0.005, counter=counter) as probe:
        _next_reading(probe)
    assert all(r.samples is None for r in probe.readings) and len(probe.readings) >= 3
    assert any("counter raised RuntimeError: no count" in n for n in probe.notes)


@linux_only
def test_read_memory_matches_proc_status_units():
    r = read_memory()
    with open("/proc/self/status") as f:
        vmrss_kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    assert r.source == "proc" and r.notes == ()
    assert abs(r.rss - vmrss_kib * 1024) < FLAT
    assert r.peak_rss >= r.rss == r.rss_anon + r.rss_file + r.rss_shmem
    uss = read_uss()
    assert 0 < uss <= r.rss + FLAT


# ---------------------------------------------------------------------------
# fallbacks


def test_without_proc_psutil_gives_rss_and_notes_why_the_rest_is_missing(tmp_path, monkeypatch):
    import psutil

    monkeypatch.setattr(instrument, "_PROC_ROOT", str(tmp_path / "no-proc"))
    r = read_memory()
    assert r.source == "psutil"
    assert abs(r.rss - psutil.Process().memory_info().rss) < FLAT
    assert (r.rss_anon, r.rss_file, r.rss_shmem) == (None, None, None)
    assert r.peak_rss is not None and r.peak_rss >= r.rss - FLAT  # ru_maxrss, converted to bytes
    assert any("not available" in n for n in r.notes)
    other = read_memory(os.getppid())
    assert other.rss is not None
    assert other.peak_rss is not None or any("no kernel peak" in n for n in other.notes)
    assert reset_peak() is False

    with MemoryProbe(interval=0.005) as probe:
        _next_reading(probe)
    df = probe.to_frame()
    assert df["rss"].notna().all() and df["rss_anon"].isna().all()
    assert probe.peak_rss is not None
    assert any("rss_anon, rss_file and rss_shmem unavailable" in n for n in probe.notes)


def test_uss_not_permitted_gives_none_and_a_note(monkeypatch):
    import psutil

    def denied(self):
        raise psutil.AccessDenied(self.pid)

    monkeypatch.setattr(psutil.Process, "memory_full_info", denied)
    notes = []
    assert read_uss(notes=notes) is None
    assert len(notes) == 1 and "uss unavailable (AccessDenied" in notes[0]
    with MemoryProbe(interval=0.005, uss_every=1) as probe:
        _next_reading(probe)
    assert probe.to_frame()["uss"].isna().all() and probe.to_frame()["rss"].notna().all()
    assert sum("uss unavailable" in n for n in probe.notes) == 1


def test_the_former_module_name_is_the_memory_probe_itself():
    assert muxlab.instrument is instrument and muxlab.instrument.MemoryProbe is MemoryProbe
    code = "import muxlab.instrument as m, muxlab.memory_probe as p, sys; print(m is p, sys.modules['muxlab.instrument'] is p)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["True", "True"], out.stderr
