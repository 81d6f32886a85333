"""Configuration shared by the whole suite: helper imports, Hypothesis profiles, and how a hung test ends.

Timeouts
--------
Every test has a timeout (``timeout`` in ``pyproject.toml``, or a ``pytest.mark.timeout``
marker). pytest-timeout's own ``signal`` method fails the test with ``pytest.fail``,
which Hypothesis catches like any failure: it then runs the test again to shrink and
replay the example, the alarm does not fire a second time, and a loop that never ends
hangs the whole run. Its ``thread`` method ends the whole process instead, and neither
can interrupt C code that holds the GIL (a timer thread needs the GIL too). So this
file replaces the timer (through pytest-timeout's ``pytest_timeout_set_timer`` hook):

- at the timeout, SIGALRM raises :class:`Timeout`, a ``BaseException`` that Hypothesis
  does not catch: the test fails at once, and the run goes on with the next test;
- at ``WATCHDOG_FACTOR`` times the timeout, if the test still has not ended (stuck in C
  code, or swallowing the exception), faulthandler's watchdog thread, which needs no
  GIL, prints every thread's traceback on the real stderr and ends the process with
  exit status 1.

``tests/test_suite_timeouts.py`` checks both under this configuration.

Hypothesis
----------
The ``muxlab`` profile is loaded by default: deterministic examples (the same ones in
every run, so a green CI run stays green), no example database, and a deadline per
example. Each property test sets its own ``max_examples``. ``--hypothesis-profile
explore`` draws new random examples on every run instead, for hunting new bugs.
"""

import faulthandler
import os
import signal
import sys
import threading
import time
import traceback
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import settings
from pytest_timeout import is_debugging

sys.path.insert(0, str(Path(__file__).parent))

# --------------------------------------------------------------------------- Hypothesis

#: A single example of a property test takes milliseconds; this is hundreds of times that.
EXAMPLE_DEADLINE = timedelta(seconds=5)

settings.register_profile("muxlab", derandomize=True, database=None, deadline=EXAMPLE_DEADLINE, print_blob=True)
settings.register_profile("explore", derandomize=False, database=None, deadline=EXAMPLE_DEADLINE, print_blob=True)
settings.load_profile("muxlab")


# --------------------------------------------------------------------------- shared fixtures

#: Hosts a browser test may load pages from.
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture(scope="session")
def tiny():
    """The bundled tiny collection (8 items), generated on first use."""
    from muxlab import fixtures

    return fixtures.ensure("tiny")


def _wait_until(condition, timeout=3.0, every=0.01):
    """Poll ``condition`` until it is true or ``timeout`` seconds passed; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


@pytest.fixture
def wait_until():
    """``wait_until(condition, timeout=3.0, every=0.01)``: poll until true or timed out; return the last value."""
    return _wait_until


def _local_only(blocked):
    """A ``page.route`` handler: requests to 127.0.0.1/localhost go on, any other is aborted and noted in ``blocked``."""
    from urllib.parse import urlsplit

    def handle(route):
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    return handle


@pytest.fixture
def local_only():
    """``local_only(blocked)``: a Playwright ``page.route`` handler that keeps a page on this machine."""
    return _local_only


# --------------------------------------------------------------------------- timeouts

#: The watchdog ends the process at this multiple of a test's timeout.
WATCHDOG_FACTOR = 1.5


class Timeout(BaseException):
    """A test ran past its timeout.

    Not an ``Exception`` (nor pytest's ``Failed``), so that neither Hypothesis nor an
    ``except Exception`` in the code under test takes it for an ordinary failure and
    goes on running.
    """


_stderr_fd = None


def _real_stderr(config):
    """A descriptor of the process's stderr as it was before pytest captured it."""
    global _stderr_fd
    if _stderr_fd is None:
        capture = config.pluginmanager.getplugin("capturemanager")
        if capture is None:
            _stderr_fd = os.dup(2)
        else:
            with capture.global_and_fixture_disabled():
                _stderr_fd = os.dup(2)
    return _stderr_fd


def _other_threads_stacks():
    here = threading.get_ident()
    names = {t.ident: t.name for t in threading.enumerate()}
    out = []
    for ident, frame in sys._current_frames().items():
        if ident != here:
            out.append(f"--- stack of thread {names.get(ident, ident)!r}\n" + "".join(traceback.format_stack(frame)))
    return "".join(out)


@pytest.hookimpl
def pytest_timeout_set_timer(item, settings):
    if settings.method != "signal":
        return None  # pytest-timeout's own thread method
    timeout = settings.timeout
    faulthandler.dump_traceback_later(timeout * WATCHDOG_FACTOR, exit=True, file=_real_stderr(item.config))
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:

        def on_alarm(signum, frame):
            if not settings.disable_debugger_detection and is_debugging():
                return
            stacks = _other_threads_stacks()
            if stacks:
                sys.stderr.write(stacks)
            raise Timeout(f"{item.nodeid} ran past its timeout of {timeout:g} s")

        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)

    def cancel():
        faulthandler.cancel_dump_traceback_later()
        if in_main_thread:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)

    item.cancel_timeout = cancel  # where pytest-timeout's cancel hook looks for it
    return True


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Pause the alarm while pytest builds a report: that is not the test's time.

    A report parses the test's source, and an exception raised by a signal handler inside
    ``ast.parse`` leaves CPython's parser broken (SystemError, an internal error that ends the run).
    The watchdog still runs.
    """
    paused = 0.0
    if threading.current_thread() is threading.main_thread():
        paused = signal.setitimer(signal.ITIMER_REAL, 0)[0]
    try:
        yield
    finally:
        if paused > 0:
            signal.setitimer(signal.ITIMER_REAL, paused)


@pytest.hookimpl
def pytest_enter_pdb():
    faulthandler.cancel_dump_traceback_later()  # a debugging session is not a hang
