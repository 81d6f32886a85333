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
killed + timeout over the non-equivalent mutants that ran. To cover a new module, add a ``Module``
to ``MODULES``: its path, the tests that exercise it, and its mutations.

    python .ci/mutate.py                      # everything (about 20 s to a minute per mutant)
    python .ci/mutate.py --list               # the mutants, without running them
    python .ci/mutate.py --module maps.py     # one module (a substring of its path)
    python .ci/mutate.py --only loaders-5 stats-1

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
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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


M = Mutation
MUX_TESTS = ("tests/test_stochastic_mux.py", "tests/test_live_parameters.py", "tests/test_ordered_muxes.py",
             "tests/test_properties.py")

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
    Module("muxlab/mux/stochastic.py", MUX_TESTS, [
        M("                self.used[stream] = 1", "                pass", "exhaustive re-activates streams"),
        M("taken = self.used if self.exhaustive else self.in_use", "taken = self.used",
          "single_active ignores streams in use"),
        M("        self.in_use[stream] -= 1", "        self.in_use[stream] -= 0", "a retired stream stays in use"),
        M("if mux._rate != self.rate:", "if False:", "a live lam is ignored"),
        M("surplus = self.rng.choice(current, size=current - k, replace=False)",
          "surplus = self.rng.choice(current, size=max(0, current - k - 1), replace=False)",
          "lowering k leaves one slot too many"),
        M("for _ in range(k - current):", "for _ in range(k - current - 1):", "raising k opens one slot too few"),
        M("if mux._weights_version != self.weights_version:", "if False:", "live weights are ignored"),
        M("self.retirement_counts[reason] += 1", 'self.retirement_counts["lifetime"] += 1',
          "every retirement counted as 'lifetime'"),
        M('if reason == "exhausted" and self.mux.prune_empty_streams:', 'if reason == "exhausted":',
          "an empty activation is labelled pruned without pruning"),
        M("self.sample_counts[stream] += got", "self.sample_counts[stream] += got + 1",
          "samples over-counted at retirement"),
        M("                self.activation_counts[stream] += 1", "                self.activation_counts[stream] += 2",
          "activations double-counted"),
        M('        self.retire(s, "error")', '        self.retire(s, "exhausted")',
          "on_error='skip' retires as exhausted"),
        M("if excluded.any() or np.any(w != w[0]):", "if excluded.any():", "unequal weights treated as uniform"),
        M("r = rem[s] - 1", "r = rem[s] - 2", "lifetimes run out twice as fast"),
        M("self.picks = self.rng.integers(0, len(self.nexts), size=size).tolist()",
          "self.picks = self.rng.integers(0, max(1, len(self.nexts) - 1), size=size).tolist()",
          "the last slot is never picked"),
        M("if len(self.empty_seen) >= self.n_eligible:", "if len(self.empty_seen) > self.n_eligible:",
          "without pruning, all-empty streams spin forever"),
        M("return self._weights.copy()", "return self._weights", "mux.weights returns the internal array"),
        M("if self.n_eligible <= 0:", "if self.n_eligible < 0:", "pruning the last stream does not end the pass",
          equivalent="choose_stream then finds no weight left on unpruned streams and ends the pass all the same"),
    ]),
    Module("muxlab/mux/base.py", MUX_TESTS, [
        M('if self.on_error == "raise":', 'if self.on_error == "skip":', "on_error reversed"),
        M("mux.stats.retirements[reason] += 1", "mux.stats.retirements[reason] += 0",
          "ordered muxes count no retirement"),
        M("mux.stats._activations[stream] += 1", "mux.stats._activations[stream] += 0",
          "ordered muxes count no activation"),
        M("got = self.counts[stream] - self.started[stream]", "got = self.counts[stream]",
          "an activation's samples include earlier activations'"),
    ]),
    Module("muxlab/mux/round_robin.py", MUX_TESTS, [
        M("order = rng.permutation(self.n_streams).tolist()", "rng.permutation(self.n_streams).tolist()",
          "permuted_cycle keeps the first order"),
        M('if self.mode == "exhaustive" or n == n_before:', 'if self.mode == "exhaustive":',
          "a cycle of empty streams spins"),
        M("pos += 1", "pos += 2", "every other stream skipped"),
    ]),
    Module("muxlab/mux/shuffled.py", MUX_TESTS, [
        M('"exhausted" if counts[s] > st.started[s] else "pruned"', '"pruned" if counts[s] > st.started[s] else "exhausted"',
          "pruned and exhausted labelled the wrong way round"),
        M("nexts[s] = st.activate(s, s) if got else None", "nexts[s] = st.activate(s, s)",
          "an empty stream is never dropped"),
        M("return self._weights.copy()", "return self._weights", "mux.weights returns the internal array"),
        M("cdf = np.cumsum(weights / total)", "cdf = np.cumsum(weights)",
          "weights not renormalised after a stream is dropped"),
    ]),
    Module("muxlab/mux/chain.py", MUX_TESTS, [
        M('if self.mode == "exhaustive" or n == n_before:', 'if self.mode == "exhaustive":',
          "a cycle of empty streams spins"),
        M('st.retire(s, 0, "exhausted")', 'st.retire(s, 0, "lifetime")', "an ended stream retired as 'lifetime'"),
    ]),
    Module("muxlab/stats.py", MUX_TESTS, [
        M("active = np.bincount(self.active, minlength=self.n_streams)", "active = self.activations",
          "to_frame()['active'] filled from activations"),
        M("return np.asarray(self._passes[-1].active_streams(), dtype=np.int64)",
          "return np.asarray(self._passes[0].active_streams(), dtype=np.int64)",
          "stats.active reads the oldest running pass"),
        M("del self.errors[: len(self.errors) - self.max_errors]",
          "del self.errors[: len(self.errors) - self.max_errors + 1]", "errors trimmed to 999"),
        M("                if v:", "                if v > 1:", "a stream's single sample is lost at the end of a pass"),
        M("                    self._samples[i] -= v", "                    self._samples[i] += v",
          "reset during a pass adds the pass's samples instead of removing them"),
        M("self.passes += 1", "self.passes += 0", "passes are not counted"),
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
        M('X, Y = _memmap(npy_x, hx, "c"), _memmap(npy_y, hy, "c")',
          'X, Y = _memmap(npy_x, hx, "r"), _memmap(npy_y, hy, "r")', "npy_mmap maps read-only, not copy-on-write"),
        M('yield dict(X=data["X"][i : i + n].copy(), Y=data["Y"][i : i + n].copy())',
          'yield dict(X=data["X"][i : i + n], Y=data["Y"][i : i + n].copy())', "npz_copy yields a view of X"),
        M("if hx.shape[0] != hy.shape[0]:", "if hx.shape[0] < hy.shape[0]:", "more X rows than Y rows accepted"),
        M("if dtype.hasobject:", "if False:", "the header check lets object arrays through"),
        M("                if size.value != n:", "                if False:", "a knob change never reaches sample_npz"),
        M("return np.random.default_rng(int(random_state))", "return np.random.default_rng()",
          "an int seed is ignored"),
    ]),
    Module("muxlab/maps.py", ("tests/test_maps.py",), [
        M("if len(batch) == buffer_size:", "if len(batch) > buffer_size:", "batches one item too big"),
        M("if batch and partial:", "if batch:", "the partial batch is always yielded"),
        M('yield tuple(_pick("tuples", item, keys, index))', 'yield tuple(_pick("tuples", item, keys[::-1], index))',
          "tuples in reverse key order"),
        M("fresh = (rng.random(_DRAW_BLOCK) < prob).tolist()", "fresh = (rng.random(_DRAW_BLOCK) > prob).tolist()",
          "cache takes fresh items with probability 1 - prob"),
        M("                    return\n            yield store[slot]", "                    continue\n            yield store[slot]",
          "cache replays forever after its stream ends"),
        M("if len(store) == n_cache:", "if len(store) > n_cache:", "the cache holds one item too many"),
        M("yield (x[0] if in_single else x, y[0] if out_single else y)",
          "yield (x[0] if in_single else x, y if out_single else y)", "keras_tuples outputs a list for one key"),
    ]),
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


def run_tests(tree, module, budget, timeout, tests=None):
    args = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:nbval",
            "-o", "addopts=--doctest-modules --import-mode=importlib", f"--timeout={timeout}",
            *(tests or (module.path, *module.tests))]
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1")
    t0 = time.monotonic()
    try:
        r = subprocess.run(args, cwd=tree, env=env, capture_output=True, text=True, timeout=budget)
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - t0, f"no result within {budget} s"
    out = r.stdout + r.stderr
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", out, re.M)
    if r.returncode == 0:
        return "survived", time.monotonic() - t0, ""
    if "ran past its timeout" in out or "Timeout (" in out:
        return "timeout", time.monotonic() - t0, failed[0] if failed else "watchdog"
    if r.returncode in (1,) and failed:
        return "killed", time.monotonic() - t0, failed[0]
    return "error", time.monotonic() - t0, out[-2000:]


def main(argv=None):
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # clean up the copy on kill
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", default=[], help="only modules whose path contains this")
    parser.add_argument("--only", nargs="*", default=[], help="only these mutant ids (see --list)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--timeout", type=float, default=60, help="per-test timeout in s (markers may set more)")
    parser.add_argument("--tests", nargs="*", default=None, help="run these tests instead of each module's own")
    parser.add_argument("--budget", type=float, default=600, help="wall-clock limit in s for one mutant's run")
    args = parser.parse_args(argv)
    chosen = list(mutants(args.module, set(args.only)))
    if args.list:
        for ident, module, m in chosen:
            print(f"{ident:16} {module.path}: {m.what}" + (f"  [equivalent: {m.equivalent}]" if m.equivalent else ""))
        return 0

    results = {}
    with tempfile.TemporaryDirectory(prefix="muxlab-mutate-") as tmp:
        tree = Path(tmp)
        copy_tree(tree)
        # the unmutated tests must pass first (one run for every module chosen)
        every = args.tests or list(dict.fromkeys(p for _, m, _ in chosen for p in (m.path, *m.tests)))
        status, seconds, detail = run_tests(tree, None, args.budget, args.timeout, every)
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
                    status, seconds, detail = run_tests(tree, module, args.budget, args.timeout, args.tests)
                finally:
                    path.write_text(original)
            if mutation.equivalent:
                detail = f"(equivalent: {mutation.equivalent}) {detail}"
            results[ident] = status, mutation
            print(f"{ident:16} {status:9} {seconds:6.1f}s  {mutation.what}  {detail.splitlines()[0] if detail else ''}",
                  flush=True)

    counted = [s for s, m in results.values() if not m.equivalent and s in ("killed", "timeout", "survived")]
    caught = sum(s in ("killed", "timeout") for s in counted)
    tally = {s: sum(1 for t, _ in results.values() if t == s) for s in ("killed", "timeout", "survived", "stale", "error")}
    print(", ".join(f"{k} {v}" for k, v in tally.items()) + f"; equivalent {sum(1 for _, m in results.values() if m.equivalent)}")
    if counted:
        print(f"score: {caught}/{len(counted)} = {caught / len(counted):.0%} of non-equivalent mutants caught")
    survivors = [i for i, (s, m) in results.items() if s == "survived" and not m.equivalent]
    if survivors:
        print("survived: " + " ".join(survivors))
    return 1 if survivors or tally["error"] or tally["stale"] else 0


if __name__ == "__main__":
    sys.exit(main())
