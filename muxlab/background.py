"""Run a stream in worker processes and consume its items here: ``background(stream, workers=1)``.

Each worker writes its items into a ring of ``prefetch`` slots in shared
memory (see :mod:`muxlab.ring`): numpy arrays are copied, never pickled, and
an item's layout is pickled only when it changes (see
:mod:`muxlab.transport`). A pipe per worker carries what is not an item:
the first ring's name, live changes and stop to the worker, and wake-ups
both ways for a side that sleeps. With ``workers > 1`` a mux is split into
disjoint shards (see :mod:`muxlab.shards`), one per worker, and their items
are taken in turn.
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

from . import ring, shards, transport
from .errors import ParameterError, ParameterTypeError, WorkerError
from .knob import Knob
from .mux.base import BaseMux
from .streamer import Streamer
from .validation import check_int, short_repr

#: Seconds a closed run waits for its workers to stop before terminating them.
STOP_TIMEOUT = 5.0

#: How often (seconds) a waiting worker checks that its parent is still alive.
_PARENT_CHECK = 0.2

#: Seconds a sleeping side waits before looking at the other side's counter again (a missed wake-up costs no more).
_WAKE_TIMEOUT = 0.05

#: Seconds the consumer looks at a worker's published count before it sleeps (fast streams only, see RingReader.spin).
_SPIN = 1e-3

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

    **Waiting.** While a worker publishes items more often than every
    0.25 ms, a consumer waiting for one looks at the worker's counter for up
    to 1 ms before it sleeps: on a virtual machine a wake-up can cost more
    than making an item. Slower streams are waited for asleep; a worker
    wakes a sleeping consumer as soon as it publishes an item.

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
    through shared memory. ``min_port``, ``max_port``,
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
    """One pass: the workers, their pipes and rings (see :mod:`muxlab.ring`)."""

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
        self.readers = []
        self.pollers = [None] * n
        self.done = [False] * n
        self.turn = 0
        self.knobs = [(k, k.version) for k in owner.knobs]
        self.timeout = owner.timeout
        self.ordered = ring.ORDERED
        self.lock = threading.Lock()
        self.closed = False
        self._finalizer = weakref.finalize(
            self, _shutdown, self.conns, self.procs, self.readers, self.prefix, self.timeout
        )
        try:
            share_cpu = n >= (os.cpu_count() or 1)  # the consumer and the workers outnumber the processors
            for w in range(n):
                self.readers.append(ring.RingReader(f"{self.prefix}w{w}-", owner.prefetch, self.ordered, share_cpu))
            for w in range(n):
                others = [c for i, p in enumerate(pipes) for c in p if not (i == w and c is p[1])]
                child = pipes[w][1]
                proc = ctx.Process(
                    target=_worker_main,
                    args=(child, stream, w, n, seed, owner.prefetch, os.getpid(), f"{self.prefix}w{w}-", max_iter,
                          self.ordered, others if ctx.get_start_method() == "fork" else []),
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
            while True:
                w = self.turn
                if not self.done[w]:
                    reader = self.readers[w]
                    if not reader.ready():
                        self._wait(w)
                    kind, value = reader.take()
                    if reader.producer_waiting():
                        with self.lock:  # live changes may be sent from another thread
                            self._send(w, ("space",))
                    if kind == ring.ITEM:
                        self.turn = (w + 1) % n
                        self.count += 1
                        return value
                    if kind == ring.END:
                        self.done[w] = True
                    elif kind == ring.ERROR:
                        self._raise(w, value)
                    else:
                        raise WorkerError(f"background: unexpected record {kind!r} from worker {w}", worker=w,
                                          pid=self.procs[w].pid)
                if all(self.done):
                    break
                self.turn = (w + 1) % n
        except BaseException:
            self.close()
            raise
        self.close()
        raise StopIteration

    def _wait(self, w):
        """Sleep until worker ``w`` has published a record (raises WorkerError if it dies first)."""
        conn, proc = self.conns[w], self.procs[w]
        poller = self.pollers[w]
        if poller is None:
            # One poll object per worker for the whole run (cheaper than a selector per wait).
            poller = self.pollers[w] = select.poll()
            poller.register(conn.fileno(), select.POLLIN)
            poller.register(proc.sentinel, select.POLLIN)
        fd = conn.fileno()
        reader = self.readers[w]
        if reader.spin(_SPIN):
            return
        while True:
            if reader.ready() or not reader.sleep():
                return
            ready = [f for f, _ in poller.poll(_WAKE_TIMEOUT * 1000)]
            reader.awake()
            if fd in ready or conn.poll(0):
                self._messages(w)
            elif ready:  # only the sentinel: the worker ended; what it published is read first
                if reader.ready():
                    return
                self._died(w)

    def _messages(self, w):
        """Read every message worker ``w`` has sent (its first ring, counts in unordered mode)."""
        conn = self.conns[w]
        while conn.poll(0):
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                self._died(w)
            kind = msg[0]
            reader = self.readers[w]
            if kind == "bell":
                reader.heard(msg[1])
            elif kind == "ring" and not reader.attached:
                try:
                    reader.attach(*msg[1:])
                except FileNotFoundError:  # the worker failed and removed its blocks
                    self._died(w)
            else:
                raise WorkerError(f"background: unexpected message {kind!r} from worker {w}", worker=w,
                                  pid=self.procs[w].pid)

    def _raise(self, w, msg):
        payload, type_name, tb_text = msg
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
            pass  # the worker is gone; _wait reports why

    def _tell(self, w, msg):
        """Send a message the worker must act on (it checks its mail count once per item, not the pipe)."""
        self._send(w, msg)
        self.readers[w].post()

    def send_all(self, name, value):
        """Send a live change of the full mux to every worker (each takes its share)."""
        with self.lock:
            if self.closed:
                return
            for w in range(self.n_workers):
                if not self.done[w]:
                    self._tell(w, ("set", name, value))

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
                            self._tell(w, ("knob", i, value))
        return changed

    def close(self):
        """Stop the workers, wait for them (then terminate), and remove every shared-memory block."""
        if self.closed:
            return
        with self.lock:
            self.closed = True
        self._finalizer()


def _shutdown(conns, procs, readers, prefix, timeout):
    """Stop workers and free everything a run holds (also called at garbage collection and exit)."""
    for conn in conns:
        try:
            conn.send(("stop",))
        except Exception:
            pass
    for reader in readers:
        if reader is not None and reader.counters is not None:
            reader.post()
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
    for i, reader in enumerate(readers):
        if reader is not None:
            try:
                reader.close()
            except BufferError:  # an array still views its ring: the mapping goes with it
                pass
            readers[i] = None
    transport.unlink_prefix(prefix)
    for proc in procs:
        proc.close()


# --------------------------------------------------------------------------- worker side


def _worker_main(conn, stream, index, count, seed, prefetch, parent_pid, prefix, max_iter, ordered, close_fds):
    """A worker: run its share of ``stream`` and publish the items in its ring, ``prefetch`` at most ahead."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for c in close_fds:
        c.close()
    writer = None
    it = None
    try:
        writer = ring.RingWriter(prefix, prefetch, conn.send, ordered=ordered)
        knobs = find_knobs(stream)
        mux = stream
        if count > 1:
            mux = shards.shard(stream, index, count, shards.derive_seed(seed, index))
        if mux is not None:
            it = iter(mux) if max_iter is None else mux.iterate(max_iter)
        worker = _Worker(conn, stream, mux, index, count, knobs, writer, parent_pid)
        worker.run(it)
    except (_ParentGone, BrokenPipeError, ConnectionResetError):
        pass
    finally:
        if it is not None and hasattr(it, "close"):
            try:
                it.close()
            except Exception:
                pass
        if writer is not None:
            writer.close()
        transport.unlink_prefix(prefix)
        conn.close()


class _ParentGone(Exception):
    """The consumer closed the pipe or died."""


class _Worker:
    def __init__(self, conn, stream, mux, index, count, knobs, writer, parent_pid):
        self.conn = conn
        self.stream = stream
        self.mux = mux
        self.index = index
        self.count = count
        self.knobs = knobs
        self.writer = writer
        self.parent_pid = parent_pid
        self.mail = 0
        self.poller = select.poll()
        self.poller.register(conn.fileno(), select.POLLIN)
        self.stopped = False

    def run(self, it):
        if it is None:
            self.finish(self.writer.put_end)
            return
        writer = self.writer
        counters = writer.counters
        MAIL, CONSUMER_WAITING, fence = ring.MAIL, ring.CONSUMER_WAITING, ring.fence
        nxt = it.__next__
        while True:
            if counters[MAIL] != self.mail:
                self.handle_messages()
                if self.stopped:
                    return
            if not writer.has_room():
                self.bell()  # the consumer may sleep on what is there
                self.wait_for_room()
                if self.stopped:
                    return
                continue
            try:
                item = nxt()
            except StopIteration:
                self.finish(writer.put_end)
                return
            except Exception as exc:
                message = self.error_message(exc)
                self.finish(lambda: writer.put_error(message))
                return
            try:
                writer.put(item)
            except Exception as exc:
                exc.add_note(f"the item could not be sent to the consumer: {short_repr(item)}")
                message = self.error_message(exc)
                self.finish(lambda: writer.put_error(message))
                return
            fence()  # the count just published is visible before the flag is read (see muxlab.ring)
            if counters[CONSUMER_WAITING]:  # it sleeps (no item was there when it looked): wake it now
                self.bell()

    def bell(self):
        """Wake the consumer if it sleeps and something is there to read."""
        counters = self.writer.counters
        ring.fence()
        if counters[ring.CONSUMER_WAITING] and self.writer.pending():
            counters[ring.CONSUMER_WAITING] = 0
            self.conn.send(("bell", self.writer.published))

    def finish(self, put):
        """Publish the last record (when there is room), wake the consumer and wait to be stopped."""
        while not self.writer.has_room():
            self.bell()
            self.wait_for_room()
            if self.stopped:
                return
        put()
        self.bell()
        while not self.stopped:
            self.wait()

    def wait_for_room(self):
        """Sleep until the consumer frees a slot (or sends something)."""
        writer = self.writer
        counters = writer.counters
        counters[ring.PRODUCER_WAITING] = 1
        ring.fence()
        while not writer.has_room() and not self.stopped:
            self.wait(_WAKE_TIMEOUT)
        counters[ring.PRODUCER_WAITING] = 0

    def wait(self, timeout=None):
        """Block until the consumer sends something (or ``timeout`` seconds pass), then read it."""
        step = _PARENT_CHECK if timeout is None else timeout
        while not self.poller.poll(step * 1000):
            if os.getppid() != self.parent_pid:
                raise _ParentGone
            if timeout is not None:
                return
        self.handle_messages()

    def handle_messages(self):
        conn = self.conn
        poll = self.poller.poll
        self.mail = self.writer.counters[ring.MAIL]  # read first: a message counted later is read on the next round
        while poll(0):
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                raise _ParentGone from None
            kind = msg[0]
            if kind == "set":
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

    def error_message(self, exc):
        """What the consumer raises from: ``(pickled exception or None, type name, traceback text)``."""
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
        return payload, type(exc).__qualname__, tb_text


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
