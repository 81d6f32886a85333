"""Run a Voila or JupyterLab server for a browser test: a free port on 127.0.0.1, its own process group, a clean stop.

Voila starts each page's kernel in a session of its own (jupyter_client does
that so it can interrupt it), so stopping Voila's process group does not reach
the kernels: Voila shuts them down itself on SIGTERM, and :meth:`VoilaServer.stop`
kills by pid whatever it started that is still alive after that.

If the test process itself dies first (the suite's watchdog ends a hung run
with ``os._exit``, so no cleanup runs), a small guard process started with the
server kills the server and every process under it, kernels included.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

HOST = "127.0.0.1"

#: The guard: ``python -c GUARD OWNER_PID SERVER_PID``, a child of the owner, waits until the owner is gone
#: (the guard is handed to another parent then, even while the owner is an unreaped zombie), then kills the
#: server's tree.
GUARD = """
import os, sys, time, psutil
owner, server = (int(a) for a in sys.argv[1:3])
while os.getppid() == owner and psutil.pid_exists(server):
    time.sleep(0.5)
try:
    root = psutil.Process(server)
    procs = root.children(recursive=True) + [root]
except psutil.NoSuchProcess:
    procs = []
for p in procs:
    try:
        p.kill()
    except psutil.NoSuchProcess:
        pass
psutil.wait_procs(procs, timeout=5)
"""


def free_port(host=HOST):
    """Return a TCP port on ``host`` that nothing listens on now.

    >>> 1024 <= free_port() <= 65535
    True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def listening(port, host=HOST, timeout=0.5):
    """True if a TCP connection to ``host:port`` is accepted.

    >>> listening(free_port())
    False
    """
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class VoilaServer:
    """``voila NOTEBOOK`` on ``127.0.0.1:<free port>``, output to ``log_path``; a context manager.

    ``env`` is added to this process's environment. :meth:`start` returns once
    the port accepts connections (a TCP connect, so no page and no kernel is
    requested), or raises ``RuntimeError`` with the end of the log.
    """

    def __init__(self, notebook, log_path, env=None, cwd=None, port=None, start_timeout=60.0):
        self.notebook = Path(notebook)
        self.log_path = Path(log_path)
        self.env = dict(env or {})
        self.cwd = cwd
        self.port = free_port() if port is None else port
        self.start_timeout = start_timeout
        self.url = f"http://{HOST}:{self.port}/"
        self.process = None
        self.guard = None  # the process that cleans up if this one dies without stop()
        self.started = []  # every process seen under the server (kernels included), for stop()
        self.killed = []  # pids that stop() had to SIGKILL
        self._log = None

    def command(self):
        return [
            sys.executable, "-m", "voila", str(self.notebook),
            "--no-browser",
            f"--port={self.port}",
            f"--Voila.ip={HOST}",
            "--Voila.port_retries=0",  # fail rather than serve on another port
        ]

    def start(self):
        env = {**os.environ, **self.env}
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(self.command(), cwd=self.cwd, env=env, stdin=subprocess.DEVNULL,
                                        stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.guard = subprocess.Popen([sys.executable, "-c", GUARD, str(os.getpid()), str(self.process.pid)],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while not listening(self.port):
            problem = None
            if self.process.poll() is not None:
                problem = f"{self.command()[2]} exited with code {self.process.returncode} before listening on {self.url}"
            elif time.monotonic() > deadline:
                problem = f"{self.command()[2]} did not listen on {self.url} within {self.start_timeout:.0f} s"
            if problem:
                tail = self.log_tail()
                self.stop()
                raise RuntimeError(f"{problem}:\n{tail}")
            time.sleep(0.1)
        return self

    def note_children(self):
        """Remember the processes running under the server now (the kernels of the pages loaded)."""
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return
        known = {p.pid for p in self.started}
        self.started += [p for p in children if p.pid not in known]

    def stop(self, timeout=15.0):
        """SIGTERM to the server's process group, SIGKILL after ``timeout`` s; then kill leftover kernels.

        Returns the pids that had to be killed (empty when everything ended on SIGTERM), also kept in
        :attr:`killed`.
        """
        killed = self.killed
        if self.process is None:
            return killed
        self.note_children()
        pgid = self.process.pid  # start_new_session: the server leads its own group
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            killed.append(self.process.pid)
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout)
        # Kernels live in sessions of their own; Voila shuts them down on SIGTERM, or they notice
        # their parent is gone within a second or two. Give them that, then kill by pid.
        _, alive = psutil.wait_procs(self.started, timeout=timeout)
        for p in alive:
            killed.append(p.pid)
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=5)
        if self.guard is not None:
            self.guard.kill()
            self.guard.wait()
            self.guard = None
        if self._log is not None:
            self._log.close()
            self._log = None
        return killed

    def alive(self):
        """The pids of the processes this server started (itself and kernels) that still run."""
        pids = [p.pid for p in self.started if _running(p)]
        if self.process is not None and self.process.poll() is None:
            pids.insert(0, self.process.pid)
        return pids

    def log_tail(self, chars=4000):
        """The last ``chars`` characters of the server's output (kernels' included); all of it for None."""
        if self._log is not None:
            self._log.flush()
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return text if chars is None else text[-chars:]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class LabServer(VoilaServer):
    """``jupyter lab`` serving ``root`` on ``127.0.0.1:<free port>`` without a token; a context manager.

    Everything JupyterLab writes (settings, workspaces, runtime files,
    configuration) goes under ``state``, never into the home directory; it
    checks for no update and fetches no news. The page exposes the
    application as ``window.jupyterapp``.
    """

    def __init__(self, root, log_path, state, env=None, **kwargs):
        self.root = Path(root)
        self.state = Path(state)
        for sub in ("config", "runtime", "settings", "workspaces"):
            (self.state / sub).mkdir(parents=True, exist_ok=True)
        # No "get notified about Jupyter news?" toast over the page, and no fetch of the news feed.
        news = self.state / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        news.parent.mkdir(parents=True, exist_ok=True)
        news.write_text('{"fetchNews": "false"}')
        env = {"JUPYTER_CONFIG_DIR": str(self.state / "config"), "JUPYTER_RUNTIME_DIR": str(self.state / "runtime"),
               "JUPYTERLAB_SETTINGS_DIR": str(self.state / "settings"),
               "JUPYTERLAB_WORKSPACES_DIR": str(self.state / "workspaces"), **(env or {})}
        super().__init__(self.root, log_path, env=env, cwd=self.root, **kwargs)
        self.url = f"http://{HOST}:{self.port}/lab"

    def command(self):
        return [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            f"--ServerApp.ip={HOST}",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root}",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            "--ServerApp.allow_root=True",  # CI runs as root
            "--ServerApp.terminals_enabled=False",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.extension_manager=readonly",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.news_url=",
            f"--LabApp.user_settings_dir={self.state / 'settings'}",
            f"--LabApp.workspaces_dir={self.state / 'workspaces'}",
        ]


def _running(p):
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
