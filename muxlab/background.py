"""Run a stream in worker processes and consume its items here: ``background(stream, workers=1)``.

Items cross the process boundary with their numpy arrays in shared memory
(see :mod:`muxlab.transport`); only a small template of each item is
pickled. With ``workers > 1`` a mux is split into disjoint shards (see
:mod:`muxlab.shards`), one per worker, and their items are taken in turn.
"""

import itertools
import multiprocessing
import os
import pickle
import re
import secrets
import select
import signal
import sys
import threading
import traceback
import types
import weakref
from time import perf_counter
from collections import deque

import numpy as np

from . import shards, transport
from .errors import ParameterError, ParameterTypeError, WorkerError
from .knob import Knob
from .mux.base import BaseMux
from .streamer import Streamer
from .validation import check_int, short_repr

#: Seconds a closed run waits for its workers to stop before terminating them.
STOP_TIMEOUT = 5.0

#: How often (seconds) a waiting worker checks that its parent is still alive.
_PARENT_CHECK = 0.2

#: Seconds a worker may hold a first item back to send it with the next ones when the consumer waits
#: (only when its stream makes items in under a quarter of that, on average).
_LINGER = 1e-3

_RUNS = itertools.count()


def background(stream, workers=1, prefetch=8, start_method=None):
    """Return an iterable whose items are produced by ``stream`` running in worker processes.

    Parameters
    ----------
    stream : Streamer, mux or iterable
        What to run. Each iteration (pass) starts fresh workers.
    workers : int >= 1
        With 1, the items and their order are exactly those of ``stream``
        in this process (the same seed gives the same sequence). With more,
        ``stream`` must be a mux (StochasticMux, Mux, ShuffledMux,
        RoundRobinMux or ChainMux) with at least ``workers`` streams: worker
        ``w`` runs a shard holding streams ``w, w + workers, ...`` with ``k``
        split in proportion and a seed derived from ``(seed, w)``, so no
        stream is active in two workers; their items are taken in turn.
    prefetch : int >= 1
        Items each worker may produce ahead of the consumer. It bounds the
        memory in flight and how many items are *stale* after a live change.
    start_method : {'fork', 'spawn', 'forkserver'} or None
        How workers are started (None: multiprocessing's default). ``fork``
        copies the stream into the worker; the others pickle it.

    Returns
    -------
    Background
        A :class:`~muxlab.Streamer`: iterate it, or call ``iterate(max_iter)``,
        ``cycle()``.

    Notes
    -----
    **Live parameters.** Setting ``k`` (``n_active``), ``lam`` (``rate``) or
    ``weights`` on the returned object validates the value on ``stream``
    (in this process) and sends it to every worker; setting a
    :class:`~muxlab.Knob` that ``stream``'s streamers hold as an argument
    (a loader's ``n``) is noticed at the next item and sent too. Items the
    workers produced before the change reached them are not redone: at most
    ``prefetch`` items per worker follow the old values. (Setting ``k`` on
    ``stream`` itself changes only the copy in this process.)

    **Failures.** An exception in a worker reaches the consumer as the same
    type when it can be pickled (with notes naming the worker, the stream
    and the worker's traceback), else as :class:`~muxlab.WorkerError`. A
    worker that dies (a signal such as SIGKILL from the out-of-memory killer,
    or an exit) raises :class:`~muxlab.WorkerError` naming it and the signal
    as soon as its process ends; the stream never just stops.

    **Leaving early.** ``close()``, ``break`` (then garbage collection),
    KeyboardInterrupt and the end of the interpreter stop the workers and
    remove every shared-memory block. Workers ignore SIGINT (the consumer
    decides) and stop by themselves when this process dies.

    Shared memory is POSIX shared memory on Linux (``/dev/shm``).

    Examples
    --------
    >>> from muxlab import Mux, Streamer, background
    >>> mux = Mux([Streamer(range(i * 10, i * 10 + 3)) for i in range(4)], k=2, lam=2, random_state=0)
    >>> list(background(mux).iterate(20)) == list(mux.iterate(20))
    True
    >>> sorted(background(Mux(mux.streamers, k=2, lam=None, mode='exhaustive'), workers=2))
    [0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32]
    """
    return Background(stream, workers=workers, prefetch=prefetch, start_method=start_method)


class Background(Streamer):
    """A stream produced in worker processes; made by :func:`background` (see there)."""

    def __init__(self, stream, workers=1, prefetch=8, start_method=None, timeout=None):
        owner = "background"
        if not isinstance(stream, Streamer):
            try:
                stream = Streamer(stream)
            except ParameterTypeError:
                raise ParameterTypeError(
                    f"{owner}: stream={short_repr(stream)} ({type(stream).__name__}) is not a Streamer, a mux or "
                    f"an iterable"
                ) from None
        self.stream = stream
        self.workers = check_int(owner, "workers", workers, minimum=1)
        self.prefetch = check_int(owner, "prefetch", prefetch, minimum=1)
        methods = multiprocessing.get_all_start_methods()
        if start_method is not None and start_method not in methods:
            raise ParameterError(f"{owner}: start_method={start_method!r} is not one of {methods} (or None)")
        self.start_method = start_method
        if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ParameterError(f"{owner}: timeout={timeout!r}; expected a number of seconds > 0 or None")
        self.timeout = STOP_TIMEOUT if timeout is None else float(timeout)
        if self.workers > 1:
            if not shards.is_shardable(stream):
                raise ParameterTypeError(
                    f"{owner}: workers={self.workers} needs a mux to split into shards, got "
                    f"{short_repr(stream)} ({type(stream).__name__}); use workers=1 or a StochasticMux, Mux, "
                    f"ShuffledMux, RoundRobinMux or ChainMux"
                )
            if stream.n_streams < self.workers:
                raise ParameterError(
                    f"{owner}: workers={self.workers} but the mux has {stream.n_streams} streams; each worker "
                    f"needs its own streams, so expected workers <= {stream.n_streams}"
                )
        self.knobs = tuple(find_knobs(stream))
        self._runs = weakref.WeakSet()
        self._lock = threading.Lock()

    # -- Streamer interface -------------------------------------------------
    def _open(self):
        return self._iterate(None)

    def _iterate(self, max_iter):
        run = _Run(self, max_iter)
        with self._lock:
            self._runs.add(run)
        return run

    def close(self):
        """Stop every running pass of this object (their workers and shared memory)."""
        with self._lock:
            runs = list(self._runs)
        for run in runs:
            run.close()

    # -- live parameters ----------------------------------------------------
    def _live_mux(self, name):
        if not isinstance(self.stream, BaseMux) or not hasattr(type(self.stream), name):
            raise ParameterTypeError(
                f"background: {name} is a live parameter of a StochasticMux or Mux; this stream is "
                f"{short_repr(self.stream)}"
            )
        return self.stream

    def _broadcast(self, name, value):
        with self._lock:
            runs = list(self._runs)
        for run in runs:
            run.send_all(name, value)

    @property
    def k(self):
        """The mux's ``k`` (``n_active``): live, split among workers in proportion to their streams."""
        return self._live_mux("n_active").n_active

    @k.setter
    def k(self, value):
        mux = self._live_mux("n_active")
        mux.n_active = value
        self._broadcast("n_active", mux.n_active)

    n_active = k

    @property
    def lam(self):
        """The mux's ``lam`` (``rate``): live."""
        return self._live_mux("rate").rate

    @lam.setter
    def lam(self, value):
        mux = self._live_mux("rate")
        mux.rate = value
        self._broadcast("rate", mux.rate)

    rate = lam

    @property
    def weights(self):
        """The mux's normalised weights: live (each worker takes its streams' share)."""
        return self._live_mux("weights").weights

    @weights.setter
    def weights(self, value):
        mux = self._live_mux("weights")
        mux.weights = value
        self._broadcast("weights", mux.weights)

    def __repr__(self):
        return f"background({self.stream!r}, workers={self.workers}, prefetch={self.prefetch})"


class ZMQStreamer(Background):
    """pescador's ``ZMQStreamer`` name and signature over ``background(streamer, workers=1)``.

    pescador code runs after changing its import. No network socket is
    opened (pescador's binds a TCP port on every interface): items go
    through a pipe and shared memory. ``min_port``, ``max_port``,
    ``max_tries`` and ``copy`` are accepted for compatibility and unused
    (every array is copied out of shared memory, so items are always the
    consumer's own). ``timeout`` is how long, in seconds, a closed stream
    waits for its worker before terminating it (None: 5 s; it never waits
    forever).

    >>> from muxlab import Streamer, ZMQStreamer
    >>> list(ZMQStreamer(Streamer(range(5)))(max_iter=3))
    [0, 1, 2]
    """

    def __init__(self, streamer, min_port=49152, max_port=65535, max_tries=100, copy=False, timeout=None):
        super().__init__(streamer, workers=1, timeout=timeout)
        self.min_port = min_port
        self.max_port = max_port
        self.max_tries = max_tries
        self.copy = copy

    def __repr__(self):
        return f"ZMQStreamer({self.stream!r})"


def find_knobs(stream):
    """Every :class:`~muxlab.Knob` that ``stream``'s streamers take as an argument, once each, in a fixed order.

    The search goes into muxes, wrapped Streamers and Streamers passed as arguments (maps over a mux).

    >>> from muxlab import Knob, Mux, Streamer, buffer_stream
    >>> n = Knob(16)
    >>> mux = Mux([Streamer(range, n), Streamer(range, n)], k=1, lam=1)
    >>> find_knobs(Streamer(buffer_stream, mux, 4)) == [n]
    True
    """
    found = {}
    seen = set()

    def walk(s):
        if id(s) in seen:
            return
        seen.add(id(s))
        if isinstance(s, BaseMux):
            for sub in s.streamers:
                walk(sub)
            return
        if isinstance(s, Streamer):
            for a in itertools.chain(s.args, s.kwargs.values()):
                if isinstance(a, Knob):
                    found.setdefault(id(a), a)
                elif isinstance(a, Streamer):  # a map over a mux: Streamer(buffer_stream, mux, 32)
                    walk(a)
            if isinstance(getattr(s, "streamer", None), Streamer):
                walk(s.streamer)

    walk(stream)
    return list(found.values())


# --------------------------------------------------------------------------- consumer side


class _Run:
    """One pass: the workers, their pipes, and the items received but not yet handed out."""

    def __init__(self, owner, max_iter):
        self.closed = True
        self.max_iter = max_iter
        self.count = 0
        self.owner_repr = repr(owner.stream)
        stream = owner.stream
        self.stream = stream
        n = owner.workers
        self.n_workers = n
        self.prefix = f"muxlab-{os.getpid()}-{next(_RUNS)}-{secrets.token_hex(3)}-"
        ctx = multiprocessing.get_context(owner.start_method)
        seed = shards.fixed_seed(stream.random_state) if n > 1 else None
        pipes = [ctx.Pipe(duplex=True) for _ in range(n)]
        self.conns = [p[0] for p in pipes]
        self.procs = []
        self.maps = [dict() for _ in range(n)]
        self.queues = [deque() for _ in range(n)]
        self.pollers = [None] * n
        self.done = [False] * n
        self.turn = 0
        self.knobs = [(k, k.version) for k in owner.knobs]
        self.timeout = owner.timeout
        self.lock = threading.Lock()
        self.closed = False
        self._finalizer = weakref.finalize(self, _shutdown, self.conns, self.procs, self.maps, self.prefix, self.timeout)
        try:
            for w in range(n):
                others = [c for i, p in enumerate(pipes) for c in p if not (i == w and c is p[1])]
                child = pipes[w][1]
                proc = ctx.Process(
                    target=_worker_main,
                    args=(child, stream, w, n, seed, owner.prefetch, os.getpid(), f"{self.prefix}w{w}-", max_iter,
                          others if ctx.get_start_method() == "fork" else []),
                    name=f"muxlab-background-{w}",
                    daemon=True,
                )
                try:
                    proc.start()
                except (pickle.PicklingError, TypeError, AttributeError) as err:
                    raise ParameterTypeError(
                        f"background: stream={short_repr(stream)} cannot be sent to a worker started with "
                        f"start_method={ctx.get_start_method()!r}: {err}; use start_method='fork'"
                    ) from err
                self.procs.append(proc)
            for p in pipes:
                p[1].close()
        except BaseException:
            for p in pipes:
                p[1].close()
            self.close()
            raise

    def __iter__(self):
        return self

    def __next__(self):
        if self.closed:
            raise StopIteration
        if self.max_iter is not None and self.count >= self.max_iter:
            self.close()
            raise StopIteration
        if self.knobs:
            self._check_knobs()
        n = self.n_workers
        try:
            for _ in range(n + 1):
                w = self.turn
                if not self.done[w]:
                    q = self.queues[w]
                    if not q:
                        self._receive(w)
                    if q:
                        item, release = q.popleft()
                        if release is not None:
                            with self.lock:  # live changes may be sent from another thread
                                self._send(w, release)
                        self.turn = (w + 1) % n
                        self.count += 1
                        return item
                if all(self.done):
                    break
                self.turn = (w + 1) % n
        except BaseException:
            self.close()
            raise
        self.close()
        raise StopIteration

    def _receive(self, w):
        """Wait for worker ``w``'s next message and queue its items (sets ``done[w]`` at its end)."""
        conn, proc = self.conns[w], self.procs[w]
        poller = self.pollers[w]
        if poller is None:
            # One poll object per worker for the whole run (cheaper than a selector per wait).
            poller = self.pollers[w] = select.poll()
            poller.register(conn.fileno(), select.POLLIN)
            poller.register(proc.sentinel, select.POLLIN)
        fd = conn.fileno()
        while True:
            ready = [f for f, _ in poller.poll()]
            if fd in ready:
                try:
                    msg = conn.recv()
                except (EOFError, OSError):
                    self._died(w)
            else:
                if conn.poll(0):
                    continue
                self._died(w)
            kind = msg[0]
            if kind == "items":
                self._unpack(w, msg)
                return
            if kind == "end":
                self.done[w] = True
                return
            if kind == "error":
                self._raise(w, msg)
            raise WorkerError(f"background: unexpected message {kind!r} from worker {w}", worker=w, pid=proc.pid)

    def _unpack(self, w, msg):
        _, bid, name, size, retired, header, end = msg
        maps = self.maps[w]
        for old in retired:
            m = maps.pop(old, None)
            if m is not None:
                m.close()
        if name is not None:
            maps[bid] = transport.Mapping(name, size)
        q = self.queues[w]
        m = maps.get(bid)
        items = transport.items_of(header, m.read(end) if m is not None else transport.empty_batch())
        for item in items:
            q.append((item, None))
        q[-1] = (items[-1], ("release", bid, len(items)))

    def _raise(self, w, msg):
        _, payload, type_name, tb_text = msg
        proc = self.procs[w]
        exc = None
        if payload is not None:
            try:
                exc = pickle.loads(payload)
            except Exception:
                exc = None
        where = f"in background worker {w} of {self.n_workers} (pid {proc.pid}) streaming {self.owner_repr}"
        if not isinstance(exc, BaseException):
            raise WorkerError(
                f"background: {type_name} raised {where}; it could not be sent back as itself.\n"
                f"Worker traceback:\n{tb_text}",
                worker=w,
                pid=proc.pid,
                traceback=tb_text,
            )
        exc.add_note(f"raised {where}; worker traceback:\n{tb_text.rstrip()}")
        raise exc

    def _died(self, w):
        proc = self.procs[w]
        proc.join(1.0)
        code = proc.exitcode
        if code is not None and code < 0:
            try:
                sig = signal.Signals(-code).name
            except ValueError:
                sig = f"signal {-code}"
            how = f"was killed by {sig}" + (" (the out-of-memory killer sends SIGKILL)" if sig == "SIGKILL" else "")
        else:
            sig = None
            how = f"exited with code {code} before the end of its stream"
        raise WorkerError(
            f"background: worker {w} of {self.n_workers} (pid {proc.pid}) {how} while streaming {self.owner_repr}",
            worker=w,
            pid=proc.pid,
            signal=sig,
            exitcode=code,
        )

    def _send(self, w, msg):
        try:
            self.conns[w].send(msg)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # the worker is gone; _receive reports why

    def send_all(self, name, value):
        """Send a live change of the full mux to every worker (each takes its share)."""
        with self.lock:
            if self.closed:
                return
            for w in range(self.n_workers):
                if not self.done[w]:
                    self._send(w, ("set", name, value))

    def _check_knobs(self):
        changed = False
        for i, (knob, version) in enumerate(self.knobs):
            if knob.version != version:
                self.knobs[i] = (knob, knob.version)
                value = knob.value
                changed = True
                with self.lock:
                    for w in range(self.n_workers):
                        if not self.done[w] and not self.closed:
                            self._send(w, ("knob", i, value))
        return changed

    def close(self):
        """Stop the workers, wait for them (then terminate), and remove every shared-memory block."""
        if self.closed:
            return
        with self.lock:
            self.closed = True
        self._finalizer()


def _shutdown(conns, procs, maps, prefix, timeout):
    """Stop workers and free everything a run holds (also called at garbage collection and exit)."""
    for conn in conns:
        try:
            conn.send(("stop",))
        except Exception:
            pass
    for proc in procs:
        proc.join(timeout)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
            proc.join(1.0)
        if proc.is_alive():
            proc.kill()
            proc.join()
    for conn in conns:
        conn.close()
    for m in maps:
        for mapping in m.values():
            mapping.close()
        m.clear()
    transport.unlink_prefix(prefix)
    for proc in procs:
        proc.close()


# --------------------------------------------------------------------------- worker side


def _worker_main(conn, stream, index, count, seed, prefetch, parent_pid, prefix, max_iter, close_fds):
    """A worker: run its share of ``stream`` and send the items, ``prefetch`` at most ahead of the consumer."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for c in close_fds:
        c.close()
    pool = transport.BlockPool(prefix, limit=prefetch + 1)
    it = None
    try:
        knobs = find_knobs(stream)
        mux = stream
        if count > 1:
            mux = shards.shard(stream, index, count, shards.derive_seed(seed, index))
        if mux is not None:
            it = iter(mux) if max_iter is None else mux.iterate(max_iter)
        worker = _Worker(conn, stream, mux, index, count, knobs, pool, prefetch, parent_pid)
        worker.run(it)
    except _ParentGone:
        pass
    finally:
        if it is not None and hasattr(it, "close"):
            try:
                it.close()
            except Exception:
                pass
        pool.close()
        transport.unlink_prefix(prefix)
        conn.close()


class _ParentGone(Exception):
    """The consumer closed the pipe or died."""


class _Worker:
    def __init__(self, conn, stream, mux, index, count, knobs, pool, prefetch, parent_pid):
        self.conn = conn
        self.stream = stream
        self.mux = mux
        self.index = index
        self.count = count
        self.knobs = knobs
        self.pool = pool
        self.prefetch = prefetch
        self.parent_pid = parent_pid
        self.outstanding = 0
        self.pending = []
        self.batch = max(1, prefetch // 2)
        self.first_pending = 0.0
        self.item_time = _LINGER  # until measured, assume a slow stream: send at once
        self.poller = select.poll()
        self.poller.register(conn.fileno(), select.POLLIN)
        self.stopped = False

    def run(self, it):
        if it is None:
            self.conn.send(("end",))
            return
        pending = self.pending
        poll = self.poller.poll
        nxt = it.__next__
        while True:
            if poll(0):
                self.handle_messages()
                if self.stopped:
                    return
            if self.outstanding == 0 and pending and perf_counter() - self.first_pending + self.item_time >= _LINGER:
                self.flush()
            if self.outstanding + len(pending) >= self.prefetch:
                if pending and self.outstanding == 0:
                    self.flush()
                    continue
                self.wait()
                if self.stopped:
                    return
                continue
            started = perf_counter()
            try:
                item = nxt()
            except StopIteration:
                self.flush()
                self.conn.send(("end",))
                self.wait_for_stop()
                return
            except Exception as exc:
                self.flush()
                self.send_error(exc)
                self.wait_for_stop()
                return
            arrays = []
            template = transport.pack(item, arrays)
            pending.append((template, arrays))
            # Items go in batches of half the budget (the consumer reads one
            # batch while the next is made; a batch costs one message, not one
            # per item), or sooner when the consumer has nothing left and waiting
            # for one more item would make the first one _LINGER old (a slow
            # stream is not held back).
            now = perf_counter()
            self.item_time += 0.1 * (now - started - self.item_time)  # running mean of the time per item
            if len(pending) == 1:
                self.first_pending = now
            if len(pending) >= self.batch or (
                self.outstanding == 0 and now - self.first_pending + self.item_time >= _LINGER
            ):
                self.flush()

    def flush(self):
        pending = self.pending
        if not pending:
            return
        header, arrays, specs, end = transport.plan(pending)
        bid, name, size = None, None, 0
        if end:
            bid, block, new = self.pool.get(end)
            block.write(arrays, specs)
            name = block.name if new else None
            size = block.size
        self.conn.send(("items", bid, name, size, self.pool.take_retired(), header, end))
        self.outstanding += len(pending)
        pending.clear()

    def wait(self):
        """Block until the consumer sends something (a release, a change, stop)."""
        while not self.poller.poll(_PARENT_CHECK * 1000):
            if os.getppid() != self.parent_pid:
                raise _ParentGone
        self.handle_messages()

    def wait_for_stop(self):
        while not self.stopped:
            self.wait()

    def handle_messages(self):
        conn = self.conn
        poll = self.poller.poll
        while poll(0):
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                raise _ParentGone from None
            kind = msg[0]
            if kind == "release":
                _, bid, n = msg
                if bid is not None:
                    self.pool.release(bid)
                self.outstanding -= n
            elif kind == "set":
                self.apply(msg[1], msg[2])
            elif kind == "knob":
                self.knobs[msg[1]].value = msg[2]
            elif kind == "stop":
                self.stopped = True
                return

    def apply(self, name, value):
        mux = self.mux
        if mux is None:
            return
        if self.count > 1:
            if name == "n_active":
                value = shards.shard_k(self.stream, self.index, self.count, value)
            elif name == "weights":
                value = shards.shard_weights(value, shards.shard_indices(len(value), self.index, self.count))
                if value is None:
                    return  # every stream of this shard has weight 0: keep the old weights
        setattr(mux, name, value)

    def send_error(self, exc):
        tb_text = "".join(traceback.format_exception(exc))
        if self.count > 1:
            mine = shards.shard_indices(self.stream.n_streams, self.index, self.count)
            for note in getattr(exc, "__notes__", ()):
                m = re.match(r"raised by stream (\d+) of", note)
                if m and int(m.group(1)) < len(mine):
                    exc.add_note(f"(stream {m.group(1)} of worker {self.index}'s shard is stream "
                                 f"{mine[int(m.group(1))]} of the full mux)")
                    break
        try:
            payload = pickle.dumps(exc)
            pickle.loads(payload)
        except Exception:
            payload = None
        self.conn.send(("error", payload, type(exc).__qualname__, tb_text))


__all__ = ["Background", "ZMQStreamer", "background", "find_knobs"]


class _CallableModule(types.ModuleType):
    """This module, callable as :func:`background`.

    ``muxlab.background`` is the function, but importing the submodule again
    (``importlib``, test collectors) sets the package attribute to the module;
    calling it then still does what the caller means.
    """

    def __call__(self, *args, **kwargs):
        return background(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
