"""Name the machine a run was measured on: platform, CPU, cores, versions, date, load."""

import datetime
import os
import platform


def cpu_model():
    """The CPU model from ``/proc/cpuinfo`` (``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average():
    """The 1, 5 and 15 minute load averages, as text (a shared machine is noisy: this says how much)."""
    if not hasattr(os, "getloadavg"):
        return "n/a"
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def describe():
    """A dict of ``label: text`` describing this machine and the software measured."""
    import numpy

    import muxlab

    from .timing import load_pescador

    pescador = load_pescador()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "CPU": cpu_model(),
        "cores": f"{os.cpu_count()} logical, {usable} usable by this process",
        "load average at start (1, 5, 15 min)": load_average(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "numpy": numpy.__version__,
        "muxlab": muxlab.__version__,
        "pescador": pescador.__version__ if pescador else "not installed",
    }
