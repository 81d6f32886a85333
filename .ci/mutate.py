#!/usr/bin/env python3
"""Mutation run: plant one single-line bug at a time in a copy of the tree and see whether the tests notice.

For developers, not part of CI. Each mutant replaces one exact piece of one line of a module with a
plausible bug; the module's tests (a subset of the default suite, with the doctests of the mutated
file) then run on a temporary copy of the repository. A mutant is

- ``killed`` when a test fails,
- ``timeout`` when a test fails at its timeout, or the run passes ``--budget`` seconds (a hang is a
  detected bug too, and counts as killed in the score),
- ``survived`` when every test passes: a bug the suite would let through,
- ``stale`` when its line is no longer in the file (the code changed: update the list).

Mutants marked equivalent (no observable change) are listed but left out of the score. The score is
killed + timeout over the non-equivalent mutants that ran; the last lines give it per group of
modules (the engine, user collections, worker processes, resume state) and in all, with the date,
the mutants killed only by a timeout and the survivors by id. To cover a new module, add a
``Module`` to ``MODULES``: its path, the tests that exercise it, its group and its mutations.

    python .ci/mutate.py                      # everything (about 10 s to a minute per mutant)
    python .ci/mutate.py --list               # the mutants, without running them
    python .ci/mutate.py --module maps.py     # one module (a substring of its path)
    python .ci/mutate.py --only loaders-5 stats-1
    python .ci/mutate.py | tee run.log        # then again, the timeouts only:
    python .ci/mutate.py --only $(awk '$2 == "timeout" {print $1}' run.log)

Mutants run one after the other, never in parallel (the machine is shared). Each mutant's tests
run in a session of their own with a per-test ``--timeout`` and a wall-clock ``--budget``; after
the run, every process left in that session is killed, the ``/dev/shm`` blocks named after its
processes are removed, and its temporary files (``TMPDIR`` and pytest's ``--basetemp`` point into
the copy of the tree) are deleted, so a mutant that breaks clean-up leaves nothing behind.

Module paths (for their doctests) come after the test files on the command line: with
``--import-mode=importlib``, two module paths before the tests import a second copy of the package.
The tests run with the project's configuration but without nbval (``-p no:nbval``): notebooks are
not among the tests of any module, and importing nbval costs seconds per mutant.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHM = "/dev/shm"


@dataclass(frozen=True)
class Mutation:
    old: str  # an exact piece of one line of the module
    new: str  # what it becomes
    what: str  # the bug, in words
    occurrence: int = 1  # which occurrence of ``old`` in the file, from 1
    equivalent: str = ""  # why the mutant changes nothing observable, if it does not


@dataclass(frozen=True)
class Module:
    path: str
    tests: tuple
    mutations: list = field(default_factory=list)
    group: str = "engine"  # the score is given per group
    deselect: tuple = ()  # tests of ``tests`` left out (node ids): slow and unrelated to the mutations


M = Mutation
MUX_TESTS = ("tests/test_stochastic_mux.py", "tests/test_live_parameters.py", "tests/test_ordered_muxes.py",
             "tests/test_properties.py")
RESUME_TESTS = ("tests/test_resume.py",) + MUX_TESTS
COLLECTION_TESTS = ("tests/test_collection.py", "tests/test_loaders.py", "tests/test_convert.py")
BACKGROUND_TESTS = ("tests/test_background.py", "tests/test_ring.py")
SCAN_RATE = ("tests/test_collection.py::test_scan_rate_on_20000_small_files",)  # 30 s writing 20,000 files; prints a rate the benchmark checks

# The groups a score is given for: the engine, and the modules added with user collections, worker
# processes and exact resume.
ENGINE, COLLECTION, BACKGROUND, RESUME = "engine", "collection", "background", "resume"

MODULES = [
    Module("muxlab/lifetimes.py", ("tests/test_lifetimes.py", "tests/test_stochastic_mux.py"), [
        M("out += rng.random(size) < frac", "out += rng.random(size) > frac", "random rounding biased the wrong way"),
        M("return 1 + rng.poisson(extra, size)", "return 1 + rng.poisson(rate, size)", "poisson mean rate + 1"),
        M("q = 1.0 - 1.0 / k", "q = 1.0 - 1.0 / (k + 1)", "binomial success rate off"),
        M("trials = _randomly_rounded(rng, extra / q, size)", "trials = int(extra / q)",
          "binomial trials truncated (pescador's bias)"),
        M("return m * q * (1 - q) + q * q * frac * (1 - frac)", "return m * q * (1 - q)",
          "variance of the binomial misses the rounding term"),
    ]),
    Module("muxlab/mux/stochastic.py", RESUME_TESTS, [
        M("ch.used[stream] = 1", "pass", "exhaustive re-activates streams"),
        M("slots.in_use[stream] -= 1", "slots.in_use[stream] -= 0", "a retired stream stays in use"),
        M("if mux._rate != slots.rate:", "if False:", "a live lam is ignored"),
        M("surplus = self.rng.choice(current, size=current - k, replace=False)",
          "surplus = self.rng.choice(current, size=max(0, current - k - 1), replace=False)",
          "lowering k leaves one slot too many"),
        M("for _ in range(k - current):", "for _ in range(k - current - 1):", "raising k opens one slot too few"),
        M("if mux._weights_version != self.chooser.weights_version:", "if False:", "live weights are ignored"),
        M('if reason == "exhausted" and self.mux.prune_empty_streams:', 'if reason == "exhausted":',
          "an empty activation is labelled pruned without pruning"),
        M('        self.retire(s, "error")', '        self.retire(s, "exhausted")',
          "on_error='skip' retires as exhausted"),
        M("r = rem[s] - 1", "r = rem[s] - 2", "lifetimes run out twice as fast"),
        M("self.picks = self.rng.integers(0, len(self.slots.nexts), size=size).tolist()",
          "self.picks = self.rng.integers(0, max(1, len(self.slots.nexts) - 1), size=size).tolist()",
          "the last slot is never picked"),
        M("return self._weights.copy()", "return self._weights", "mux.weights returns the internal array"),
        M('"misses": self.misses,', '"misses": 0,', "a checkpoint forgets the picks that yielded nothing"),
        M('"flag": self.flag,', '"flag": False,', "a checkpoint forgets a pending live change"),
        M("position = self.slots.yielded() - self.block_start + self.misses",
          "position = self.slots.yielded() - self.block_start", "a resumed pass replays picks that missed",
          occurrence=1),
    ], group=RESUME),
    Module("muxlab/mux/base.py", MUX_TESTS, [
        M('if self.on_error == "raise":', 'if self.on_error == "skip":', "on_error reversed"),
        M("self.stats.add_retirement(stream, got, reason)", 'self.stats.add_retirement(stream, got, "lifetime")',
          "ordered muxes count every retirement as 'lifetime'"),
        M("                self.active.remove(stream)", "                pass",
          "an ordered mux's retired stream stays active"),
        M("got = self.counts[stream] - self.opened_at[stream]", "got = self.counts[stream]",
          "an activation's samples include earlier activations'"),
    ]),
    Module("muxlab/mux/round_robin.py", MUX_TESTS, [
        M("order = rng.permutation(self.n_streams).tolist()", "rng.permutation(self.n_streams).tolist()",
          "permuted_cycle keeps the first order"),
        M('if self.mode == "exhaustive" or n == p.round_start:', 'if self.mode == "exhaustive":',
          "a cycle of empty streams spins"),
        M("pos += 1", "pos += 2", "every other stream skipped"),
    ]),
    Module("muxlab/mux/shuffled.py", MUX_TESTS, [
        M('"exhausted" if counts[s] > p.opened_at[s] else "pruned"', '"pruned" if counts[s] > p.opened_at[s] else "exhausted"',
          "pruned and exhausted labelled the wrong way round"),
        M("nexts[s] = p.activate(s, s) if got else None", "nexts[s] = p.activate(s, s)",
          "an empty stream is never dropped"),
        M("return self._weights.copy()", "return self._weights", "mux.weights returns the internal array"),
        M("cdf = np.cumsum(weights / weights.sum())", "cdf = np.cumsum(weights)",
          "weights not renormalised after a stream is dropped"),
    ]),
    Module("muxlab/mux/chain.py", MUX_TESTS, [
        M('if self.mode == "exhaustive" or n == p.round_start:', 'if self.mode == "exhaustive":',
          "a cycle of empty streams spins"),
        M('p.retire(s, 0, "exhausted")', 'p.retire(s, 0, "lifetime")', "an ended stream retired as 'lifetime'"),
    ]),
    Module("muxlab/stats.py", MUX_TESTS, [
        M("active = np.bincount(self.active, minlength=self.n_streams)", "active = self.activations",
          "to_frame()['active'] filled from activations"),
        M("del self.errors[: len(self.errors) - self.max_errors]",
          "del self.errors[: len(self.errors) - self.max_errors + 1]", "errors trimmed to 999"),
        M("self._samples = (-samples).tolist()", "self._samples = samples.tolist()",
          "reset during a pass adds the pass's samples instead of removing them"),
        M("self.passes += 1", "self.passes += 0", "passes are not counted"),
        M("self.retirements[reason] += 1", 'self.retirements["lifetime"] += 1',
          "every retirement counted as 'lifetime'"),
        M("self._samples[stream] += samples", "self._samples[stream] += samples + 1",
          "samples over-counted at retirement"),
        M("self._activations[stream] += 1", "self._activations[stream] += 2", "activations double-counted"),
    ]),
    Module("muxlab/loaders.py", ("tests/test_loaders.py", "tests/test_robustness.py"), [
        M("allow_pickle=False) as data", "allow_pickle=True) as data", "sample_npz allows pickles", occurrence=1),
        M("allow_pickle=False) as data", "allow_pickle=True) as data", "sample_npz_copy allows pickles", occurrence=2),
        M("allow_pickle=False) as data", "allow_pickle=True) as data", "sample_npz_cached allows pickles",
          occurrence=3),
        M("return n_total - n + 1", "return n_total - n", "a window never ends on the last row (the seed's bug)"),
        M("if entry is not None and entry[0] is header:", "if entry is not None:",
          "the shared map is reused after its file was replaced"),
        M("_SHARED_MAPS.popitem(last=False)", "_SHARED_MAPS.popitem(last=True)", "the newest shared map is evicted"),
        M("            _SHARED_MAPS.move_to_end(key)", "            pass", "a reused map is not marked recent"),
        M('_memmap(path, header, "c")', '_memmap(path, header, "r")', "npy_mmap maps read-only, not copy-on-write"),
        M("yield {key: data[key][i : i + n].copy() for key in keys}", "yield {key: data[key][i : i + n] for key in keys}",
          "npz_copy yields views"),
        M("if header.shape[0] != first:", "if header.shape[0] < first:", "more X rows than Y rows accepted"),
        M("                if size.value != n:", "                if False:", "a knob change never reaches sample_npz"),
        M("return np.random.default_rng(int(random_state))", "return np.random.default_rng()",
          "an int seed is ignored"),
    ]),
    Module("muxlab/maps.py", ("tests/test_maps.py",), [
        M("if len(batch) == buffer_size:", "if len(batch) > buffer_size:", "batches one item too big"),
        M("if batch and partial:", "if batch:", "the partial batch is always yielded"),
        M('out = tuple(_pick("tuples", item, keys, where.n))', 'out = tuple(_pick("tuples", item, keys[::-1], where.n))',
          "tuples in reverse key order"),
        M("fresh = (rng.random(_DRAW_BLOCK) < prob).tolist()", "fresh = (rng.random(_DRAW_BLOCK) > prob).tolist()",
          "cache takes fresh items with probability 1 - prob"),
        M("                    return\n            yield store[slot]", "                    continue\n            yield store[slot]",
          "cache replays forever after its stream ends"),
        M("if len(store) == n_cache:", "if len(store) > n_cache:", "the cache holds one item too many"),
        M("yield (x[0] if in_single else x, y[0] if out_single else y)",
          "yield (x[0] if in_single else x, y if out_single else y)", "keras_tuples outputs a list for one key"),
    ]),
    # -- resume state -------------------------------------------------------------------------------------
    Module("muxlab/state.py", ("tests/test_resume.py", "tests/test_pickling.py"), [
        M('if state["version"] != STATE_VERSION:', "if False:", "a state of another format version is accepted"),
        M("if got.get(key) != expected.get(key):", "if False:", "a state of another configuration is accepted"),
        M("if info.min <= lo and hi <= info.max:", "if hi <= info.max:",
          "negative counters wrap around in the smallest dtype"),
        M("if n is not None and a.size != n:", "if False:", "a counter of another stream count is accepted"),
        M("return np.unpackbits(bits, count=n).astype(bool)", "return np.unpackbits(bits).astype(bool)",
          "decoded flags padded to a multiple of 8"),
        M('(value.isdigit() or (value[:1] == "-" and value[1:].isdigit()))', "value.isdigit()",
          "negative integers of a generator state stay strings",
          equivalent="the states of numpy's bit generators (PCG64, MT19937, Philox, SFC64) hold no negative integers"),
    ], group=RESUME),
    Module("muxlab/mux/passes.py", RESUME_TESTS, [
        M("return running[-1] if running else None", "return running[0] if running else None",
          "stats.active reads the oldest running pass"),
        M("            add(stream, got)", "            add(stream, max(got - 1, 0))",
          "a closing pass loses one item of each open activation"),
        M("            take(stream, got)", "            take(stream, 0)",
          "a restored pass's open activations are counted twice"),
        M("            if p.restored is not None:", "            if False:", "a restored pass does not take over"),
        M("np.add.at(activations, streams, 1)", "activations[streams] += 1",
          "two slots on one stream count one activation"),
        M("            p.hand_over()", "            pass", "a pass's open activations are lost when it ends"),
    ], group=RESUME),
    Module("muxlab/mux/slots.py", RESUME_TESTS, [
        M("return self.stream[:m], [a - b for a, b in zip(self.life[:m], self.rem[:m])]",
          "return self.stream[:m], [b - a for a, b in zip(self.life[:m], self.rem[:m])]",
          "live items counted as remaining minus lifetime"),
        M("return self.retired_total + sum(self.life) - sum(self.rem)", "return sum(self.life) - sum(self.rem)",
          "items of retired activations not counted as yielded"),
        M('"lifetimes": list(self.lifetimes),', '"lifetimes": [],', "pre-drawn lifetimes not saved"),
        M('self.retired_total = int(state["retired_total"])', "self.retired_total = 0",
          "items yielded before the checkpoint not restored"),
        M("            self.in_use[stream] += 1", "            pass", "restored slots not marked in use"),
        M("for lst in (self.stream, self.iters, self.nexts, self.life, self.rem):",
          "for lst in (self.stream, self.nexts, self.life, self.rem):",
          "removing a slot leaves the iterators misaligned"),
        M('self.k = state["k"]', "self.k = self.k", "a live k is not restored"),
    ], group=RESUME),
    Module("muxlab/mux/chooser.py", RESUME_TESTS, [
        M("taken = self.used if self.exhaustive else in_use", "taken = self.used",
          "single_active ignores streams in use"),
        M("if excluded is not None or np.any(w != w[0]):", "if excluded is not None:",
          "unequal weights treated as uniform"),
        M("if len(self.empty_seen) >= self.n_eligible:", "if len(self.empty_seen) > self.n_eligible:",
          "without pruning, all-empty streams spin forever"),
        M("if self.n_eligible <= 0:", "if self.n_eligible < 0:", "pruning the last stream does not end the pass",
          equivalent="choose then finds no weight left on unpruned streams and ends the pass all the same"),
        M("            excluded |= np.frombuffer(bytes(self.used), dtype=np.uint8).astype(bool)", "            pass",
          "exhaustive weights keep the used streams"),
        M("free[[stream for stream, held in in_use.items() if held]] = False", "free[list(in_use)] = False",
          "single_active never again chooses a stream that was once active"),
        M('"candidates": self.candidates[self.cand_j :],', '"candidates": self.candidates,',
          "a checkpoint replays candidates already taken"),
        M('"empty_seen": sorted(self.empty_seen),', '"empty_seen": [],', "empty streams seen not saved"),
        M('self.dead = bool(state["dead"])', "self.dead = False", "an ended pass comes back alive"),
        M('"weights": self.weights.tolist() if own_weights else None,', '"weights": None,',
          "a pass's weights before a live change not saved"),
    ], group=RESUME),
    # -- user collections ---------------------------------------------------------------------------------
    Module("muxlab/collection.py", COLLECTION_TESTS, [
        M("if i.rows < n]", "if i.rows <= n]", "an item of exactly n rows counted as skipped"),
        M("if i.rows >= n]", "if i.rows > n]", "an item of exactly n rows left out of usable"),
        M("if arrays[key].rows != first:", "if False:", "keys with different row counts accepted"),
        M('if bad and on_bad == "raise":', 'if len(bad) > 1 and on_bad == "raise":',
          "a single bad file is skipped without on_bad='skip'"),
        M("if match.rows != item.rows:", "if False:", "add_layouts pairs items of different lengths"),
        M("missing = [k for k in keys if k not in self._keys]", "missing = []", "with_keys accepts unknown keys"),
        M(' or len(set(keys)) != len(keys):', ':', "repeated keys accepted"),
        M("(os.path.realpath(manifest_path), st.st_ino, st.st_size, st.st_mtime_ns, keys)",
          "(os.path.realpath(manifest_path), keys)", "a rewritten manifest is read from the cache"),
        M("elif any(arrays[k].shape != from_npy[k].shape or arrays[k].dtype != from_npy[k].dtype for k in keys):",
          "elif False:", "npz and npy layouts of different arrays accepted"),
        M("if real in seen:", "if False:", "a symbolic link back up the tree is followed"),
    ], group=COLLECTION, deselect=SCAN_RATE),
    Module("muxlab/headers.py", COLLECTION_TESTS, [
        M("if dtype.hasobject:", "if False:", "the header check lets object arrays through"),
        M("if total_bytes - end < header.nbytes:", "if total_bytes - end < header.nbytes - 1:",
          "an array one byte short is not seen as truncated"),
        M("if not shape:", "if False:", "a 0-d array accepted"),
        M("if flags & 0x1:", "if False:", "an encrypted member is read"),
        M('name = raw_name.decode("utf-8" if flags & 0x800 else "cp437")', 'name = raw_name.decode("cp437")',
          "UTF-8 member names decoded as cp437"),
        M("                    i += 8", "                    i += 4", "zip64 extra fields read at the wrong offset"),
        M('length, start = int.from_bytes(head[8:12], "little"), 12', 'length, start = int.from_bytes(head[8:10], "little"), 10',
          "a version 2.0 header read with a version 1.0 length"),
    ], group=COLLECTION, deselect=SCAN_RATE),
    # -- worker processes ---------------------------------------------------------------------------------
    Module("muxlab/shards.py", BACKGROUND_TESTS, [
        M("return list(range(index, n_streams, count))", "return list(range(index, n_streams - 1, count))",
          "the last stream is in no shard"),
        M("for i in order[: k - sum(out)]:", "for i in order[: k - sum(out) - 1]:", "k split one slot short"),
        M("out = [max(1, o) if s else 0 for o, s in zip(out, sizes)]", "out = [o if s else 0 for o, s in zip(out, sizes)]",
          "a shard with streams can get no slot"),
        M("return np.random.SeedSequence(int(random_state), spawn_key=tuple(keys))",
          "return np.random.SeedSequence(int(random_state))", "every worker gets the same seed"),
        M('my_k = split_k(total_k, sizes, cap=mux.mode != "with_replacement")[index]',
          "my_k = split_k(total_k, sizes)[index]", "a shard gets more slots than streams in single_active",
          equivalent="the mux refuses k > n_streams outside with_replacement, and then no share exceeds its streams"),
        M("ShuffledMux(streamers, weights=weights, **common)", "ShuffledMux(streamers, **common)",
          "ShuffledMux shards drop the weights"),
    ], group=BACKGROUND),
    Module("muxlab/background.py", BACKGROUND_TESTS, [
        M('if name == "n_active":', 'if name == "k":', "a live k reaches every worker unsplit"),
        M("if self.max_iter is not None and self.count >= self.max_iter:",
          "if self.max_iter is not None and self.count > self.max_iter:", "max_iter yields one item too many"),
        M("            if counters[CONSUMER_WAITING]:  # it sleeps", "            if False:  # it sleeps",
          "a sleeping consumer is not woken when an item is published"),
        M("                    if kind == ring.END:\n                        self.done[w] = True",
          "                    if kind == ring.END:\n                        pass", "the end of a worker's stream is missed"),
        M("                        self.turn = (w + 1) % n", "                        self.turn = w",
          "one worker is drained before the next"),
        M("if stream.n_streams < self.workers:", "if stream.n_streams <= self.workers:",
          "as many workers as streams refused"),
        M("            mux = shards.shard(stream, index, count, shards.derive_seed(seed, index))",
          "            mux = shards.shard(stream, index, count, shards.derive_seed(seed, 0))",
          "every worker derives the same seed"),
    ], group=BACKGROUND),
    Module("muxlab/transport.py", BACKGROUND_TESTS, [
        M("offset += -(-a.nbytes // ALIGN) * ALIGN", "offset += (a.nbytes // ALIGN) * ALIGN",
          "arrays laid out overlapping"),
        M("        if name.startswith(prefix):", "        if name == prefix:", "blocks of a run are not removed"),
        M("if all(type(v) is np.ndarray and not v.dtype.hasobject for v in values):",
          "if all(type(v) is np.ndarray for v in values):", "object arrays sent through shared memory"),
    ], group=BACKGROUND),
    Module("muxlab/ring.py", BACKGROUND_TESTS, [
        M("value = transport.unpack(template, transport.views(self.bytes[base : base + end].copy(), kinds))",
          "value = transport.unpack(template, transport.views(self.bytes[base : base + end], kinds))",
          "received arrays are views of a slot that is reused"),
        M("        self.limit = self.counters[CONSUMED] + self.slots", "        self.limit = self.counters[CONSUMED] + self.slots + 1",
          "a record overwrites one the consumer has not read"),
        M("if k != key or not isinstance(a, np.ndarray) or a.shape != s or not (a.dtype is d or a.dtype == d):",
          "if k != key or not isinstance(a, np.ndarray) or not (a.dtype is d or a.dtype == d):",
          "an item of another shape reuses the last layout"),
        M("if self.block is not None and need <= size and not (size > MIN_SLOT and need * 4 < size):",
          "if self.block is not None and not (size > MIN_SLOT and need * 4 < size):", "a larger record overflows its slot"),
        M("        return self.announced > self.consumed", "        return self.counters[PUBLISHED] > self.consumed",
          "unordered mode reads records no message announced"),
        M("        self.counters[CONSUMER_WAITING] = 1\n", "        self.counters[CONSUMER_WAITING] = 0\n",
          "the consumer sleeps without raising its flag"),
    ], group=BACKGROUND),
]


def tracked_files():
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    return [p for p in out.splitlines() if (ROOT / p).is_file()]


def copy_tree(dest):
    for rel in tracked_files():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)


def mutants(selected_modules, only):
    n = {}
    for module in MODULES:
        stem = Path(module.path).stem if module.path.count("/") == 1 else "-".join(Path(module.path).parts[1:])
        stem = stem.removesuffix(".py")
        for mutation in module.mutations:
            n[stem] = n.get(stem, 0) + 1
            ident = f"{stem}-{n[stem]}"
            if selected_modules and not any(s in module.path for s in selected_modules):
                continue
            if only and ident not in only:
                continue
            yield ident, module, mutation


def apply(text, mutation):
    """``text`` with the mutation applied, or None if its line is not there (the code changed)."""
    start = -1
    for _ in range(mutation.occurrence):
        start = text.find(mutation.old, start + 1)
        if start < 0:
            return None
    return text[:start] + mutation.new + text[start + len(mutation.old):]


def _session_pids(sid):
    """Processes in session ``sid`` (the test run and whatever it started)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == sid:
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def _shm_blocks():
    try:
        return {name for name in os.listdir(SHM) if name.startswith("muxlab-")}
    except FileNotFoundError:
        return set()


def run_tests(tree, module, budget, timeout, tests=None, deselect=()):
    """Run the tests in their own session; afterwards nothing of theirs is left running or in /dev/shm."""
    deselect = [a for node in deselect for a in ("--deselect", node)]
    args = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:nbval",
            "-o", "addopts=--doctest-modules --import-mode=importlib", f"--timeout={timeout}",
            f"--basetemp={tree / '.tmp' / 'pytest'}", *deselect, *(tests or (*module.tests, module.path))]
    scratch = tree / ".tmp"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1", TMPDIR=str(scratch))
    blocks_before = _shm_blocks()
    seen = set()
    t0 = time.monotonic()
    proc = subprocess.Popen(args, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    reader = ThreadPoolExecutor(1)
    output = reader.submit(proc.stdout.read)
    timed_out = False
    try:
        while proc.poll() is None:
            seen.update(_session_pids(proc.pid))
            if time.monotonic() - t0 > budget:
                timed_out = True
                break
            time.sleep(0.5)
    finally:
        left = set(_session_pids(proc.pid))
        seen |= left
        for pid in left:  # a hung test, or a worker a mutant left running
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        proc.wait()
        out = output.result()
        reader.shutdown()
        for name in _shm_blocks() - blocks_before:  # blocks named after a process of this run
            pid = name.split("-")[1]
            if pid.isdigit() and int(pid) in seen:
                try:
                    os.unlink(os.path.join(SHM, name))
                except FileNotFoundError:
                    pass
        shutil.rmtree(scratch, ignore_errors=True)
    seconds = time.monotonic() - t0
    if timed_out:
        return "timeout", seconds, f"no result within {budget:.0f} s"
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", out, re.M)
    if proc.returncode == 0:
        return "survived", seconds, ""
    if "ran past its timeout" in out or "Timeout (" in out:
        return "timeout", seconds, failed[0] if failed else "watchdog"
    if proc.returncode == 1 and failed:
        return "killed", seconds, failed[0]
    return "error", seconds, out[-2000:]


def main(argv=None):
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # clean up the copy on kill
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", default=[], help="only modules whose path contains this")
    parser.add_argument("--only", nargs="*", default=[], help="only these mutant ids (see --list)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--timeout", type=float, default=60, help="per-test timeout in s (markers may set more)")
    parser.add_argument("--tests", nargs="*", default=None, help="run these tests instead of each module's own")
    parser.add_argument("--budget", type=float, default=600, help="wall-clock limit in s for one mutant's run")
    parser.add_argument("--summary", nargs="+", metavar="LOG",
                        help="print the score from the output of earlier runs (a later line wins) and exit")
    args = parser.parse_args(argv)
    chosen = list(mutants(args.module, set(args.only)))
    if args.summary:
        return summarise_logs(chosen, args.summary)
    if args.list:
        for ident, module, m in chosen:
            print(f"{ident:16} {module.path}: {m.what}" + (f"  [equivalent: {m.equivalent}]" if m.equivalent else ""))
        return 0

    results = {}
    with tempfile.TemporaryDirectory(prefix="muxlab-mutate-") as tmp:
        tree = Path(tmp)
        copy_tree(tree)
        # the unmutated tests must pass first (one run for every module chosen)
        every = args.tests or list(dict.fromkeys([t for _, m, _ in chosen for t in m.tests] + [m.path for _, m, _ in chosen]))
        skip = () if args.tests else tuple(dict.fromkeys(d for _, m, _ in chosen for d in m.deselect))
        status, seconds, detail = run_tests(tree, None, args.budget, args.timeout, every, skip)
        if status != "survived":
            print(f"the tests fail without any mutant ({status}): {detail}", file=sys.stderr)
            return 2
        print(f"unmutated: the tests pass ({seconds:.0f} s)", flush=True)
        for ident, module, mutation in chosen:
            path = tree / module.path
            original = path.read_text()
            mutated = apply(original, mutation)
            if mutated is None:
                status, seconds, detail = "stale", 0.0, f"{mutation.old!r} not found"
            else:
                path.write_text(mutated)
                try:
                    status, seconds, detail = run_tests(tree, module, args.budget, args.timeout, args.tests,
                                                        () if args.tests else module.deselect)
                finally:
                    path.write_text(original)
            if mutation.equivalent:
                detail = f"(equivalent: {mutation.equivalent}) {detail}"
            results[ident] = status, mutation, module.group
            print(f"{ident:16} {status:9} {seconds:6.1f}s  {mutation.what}  {detail.splitlines()[0] if detail else ''}",
                  flush=True)

    print(summary(results, time.strftime("%Y-%m-%d")))
    bad = [s for s, m, _ in results.values() if s in ("error", "stale") or (s == "survived" and not m.equivalent)]
    return 1 if bad else 0


def summarise_logs(chosen, logs):
    """Print the score of the mutants in ``chosen`` from run logs (``ident status ...`` lines; a later line wins)."""
    found, day = {}, None
    for log in logs:
        text = Path(log).read_text()
        day = max(day or "", *re.findall(r"^score on (\S+):", text, re.M), time.strftime("%Y-%m-%d", time.gmtime(
            os.stat(log).st_mtime)))
        found.update(re.findall(r"^(\S+)\s+(killed|timeout|survived|stale|error)\s", text, re.M))
    results = {i: (found[i], m, module.group) for i, module, m in chosen if i in found}
    missing = [i for i, _, _ in chosen if i not in found]
    print(summary(results, day))
    if missing:
        print(f"not in the logs ({len(missing)}): " + " ".join(missing))
    return 0


def summary(results, day):
    """The score per group and in all: killed (timeouts included) over the non-equivalent mutants that ran.

    ``results`` maps a mutant's id to ``(status, mutation, group)``.

    >>> r = {"a-1": ("killed", M("x", "y", ""), "g"), "a-2": ("timeout", M("x", "y", ""), "g"),
    ...      "a-3": ("survived", M("x", "y", ""), "g"), "a-4": ("survived", M("x", "y", "", equivalent="same"), "g")}
    >>> print(summary(r, "2026-01-01"))
    group g: 2/3 killed (1 by timeout: a-2); survived: a-3; equivalent: a-4
    score on 2026-01-01: 2/3 = 67% of non-equivalent mutants killed (1 by timeout); survived: a-3
    """
    lines = []
    for group in [*dict.fromkeys(g for _, _, g in results.values()), None]:
        items = [(i, s, m) for i, (s, m, g) in results.items() if group is None or g == group]
        counted = [(i, s) for i, s, m in items if not m.equivalent and s in ("killed", "timeout", "survived")]
        caught = sum(s != "survived" for _, s in counted)
        timeouts = [i for i, s in counted if s == "timeout"]
        survivors = [i for i, s in counted if s == "survived"]
        not_run = [f"{i} ({s})" for i, s, _ in items if s in ("stale", "error")]
        equivalent = [i for i, _, m in items if m.equivalent]
        if group is None:
            share = f" = {caught / len(counted):.0%} of non-equivalent mutants" if counted else ""
            head = f"score on {day}: {caught}/{len(counted)}{share} killed"
            head += f" ({len(timeouts)} by timeout)" if timeouts else ""
        else:
            head = f"group {group}: {caught}/{len(counted)} killed"
            head += f" ({len(timeouts)} by timeout: {' '.join(timeouts)})" if timeouts else ""
        parts = [head]
        parts += ["survived: " + " ".join(survivors)] if survivors else []
        parts += ["not run: " + ", ".join(not_run)] if not_run else []
        parts += ["equivalent: " + " ".join(equivalent)] if equivalent and group is not None else []
        lines.append("; ".join(parts))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
