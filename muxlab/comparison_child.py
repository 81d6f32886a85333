"""The child process of :func:`muxlab.compare`: stream one strategy and report what it cost.

Run as ``python .../muxlab/comparison_child.py`` (as a script, so that
joining a memory control group happens before numpy and muxlab are
imported, and is charged to the group); it reads its parameters as one
JSON line on stdin (the collection's files included, which may be too many
for a command line). If they name a memory control group, it joins it before
anything else. It speaks a line protocol on stdout (lines starting with
``muxlab:``): ``progress N`` while streaming, then ``result {json}`` (or
``error {json}``). After the result it keeps the mux, its streams and the
retained windows alive until its stdin closes, so the parent can take a last
reading of the steady state.
"""

import os
import sys

if __name__ == "__main__" and sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]  # run as a script: the package's folder must not shadow top-level modules

import collections  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

PREFIX = "muxlab:"
PROGRESS_EVERY = 64


def _say(kind, payload):
    sys.stdout.write(f"{PREFIX} {kind} {payload}\n")
    sys.stdout.flush()


def _major_faults():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_majflt


def _touch(array):
    """Read every element of a window, as a training step would; return a number that depends on them."""
    if array.dtype.kind in "biuf":
        return float(array.sum())
    return float(len(array.tobytes()))


def run(params):
    """Stream ``params['max_batches']`` windows with one strategy; return the measurements."""
    from muxlab import Collection, Mux, loaders, page_cache
    from muxlab.memory_probe import read_memory, read_uss

    collection = Collection.from_spec(params["collection"])
    key = collection.keys[0]
    streams = loaders.streams(params["strategy"], collection, params["n"], random_state=params["random_state"])
    mux = Mux(streams, k=params["k"], lam=params["lam"], random_state=params["random_state"])
    kept = collections.deque(maxlen=params["retain"])
    start_memory = read_memory()
    io_start = page_cache.read_io_bytes()
    faults_start = _major_faults()
    max_batches = params["max_batches"]
    # A consumer that reads every window (as a training step would) and keeps the
    # last `retain` alive. The pass is left suspended, not finished, so the
    # active streams are still open when the steady state is read.
    workers = params.get("workers")
    source = mux
    if workers:  # the mux runs in worker processes; this process only consumes
        from muxlab import background

        source = background(mux, workers=workers)
    it = iter(source.generate(max_batches=max_batches + 1))
    checksum = 0.0
    t0 = time.perf_counter()
    count = 0
    for batch in it:
        checksum += _touch(batch[key])
        kept.append(batch)
        count += 1
        if count % PROGRESS_EVERY == 0:
            _say("progress", count)
        if count == max_batches:
            break
    elapsed = time.perf_counter() - t0
    faults_end = _major_faults()
    _say("progress", count)
    end = read_memory()
    io_end = page_cache.read_io_bytes()
    stats = mux.stats
    result = {
        "windows": count,
        "seconds": elapsed,
        "rss_start": start_memory.rss,
        "rss_anon_start": start_memory.rss_anon,
        "rss": end.rss,
        "rss_anon": end.rss_anon,
        "rss_file": end.rss_file,
        "peak_rss": end.peak_rss,
        "uss": read_uss(),
        "bytes_read": None if io_start is None or io_end is None else io_end - io_start,
        "major_faults": faults_end - faults_start,
        "rows": int(sum(len(b[key]) for b in kept)),
        "activations": stats.activations.tolist(),
        "samples": stats.samples.tolist(),
    }
    if workers:
        result["processes"] = _process_rows(it)
    return result, (mux, streams, kept, it)


def _process_rows(run):
    """Memory of this process and its workers (``muxlab.process_tree``), each labelled with its role."""
    import os

    from muxlab import process_tree

    roles = {os.getpid(): "consumer"}
    roles.update({p.pid: f"worker {i}" for i, p in enumerate(run.procs)})
    rows = process_tree.as_records(process_tree.tree())
    for r in rows:
        r["role"] = roles.get(r["pid"], "other")
    return rows


def main():
    params = json.loads(sys.stdin.readline())
    try:
        if params.get("cgroup_procs"):  # first: what is loaded from here on is charged to the group
            with open(params["cgroup_procs"], "w") as f:
                f.write(str(os.getpid()))
        result, alive = run(params)
    except Exception as exc:  # reported to the parent, which raises it there
        _say("error", json.dumps({"type": type(exc).__name__, "message": str(exc)}))
        return 1
    _say("result", json.dumps(result))
    sys.stdin.read()  # hold everything alive until the parent has taken its last reading
    del alive
    return 0


if __name__ == "__main__":
    sys.exit(main())
