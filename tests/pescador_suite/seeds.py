"""How often pescador's seed-dependent chi-square tests pass, over 20 seeds, for pescador and for muxlab.

``test_mux_stacked_uniform_convergence`` (single_active mode, one case per
lifetime distribution) stacks two muxes of three ``_choice`` streams each
under a third mux, draws 1200 samples and asserts that a chi-square test of
uniformity over the 12 letters gives ``p >= 0.5``, for one fixed triple of
seeds. If the samples were uniform, p would be uniform on [0, 1] and the test
a coin toss; here the samples come in runs (an activation lasts ``rate``
draws), so counts vary more than a multinomial's and p is smaller still. This
script runs the same test body for seeds ``(1357 + i, 2468 + i, 12345 + i)``,
``i`` in 0..19, with each library, and prints how many seeds pass.

Usage: ``python tests/pescador_suite/seeds.py`` (needs pescador and scipy).
"""

import collections

import numpy as np
import scipy.stats

N_SEEDS = 20
DISTS = ("constant", "binomial", "poisson")
BASE_SEEDS = (1357, 2468, 12345)


def _choice(vals, seed=11111):
    rng = np.random.RandomState(seed=seed)
    n = len(vals)
    while True:
        yield vals[rng.randint(0, n)]


def stacked_uniform_pvalue(lib, dist, seeds):
    """The body of pescador's ``test_mux_stacked_uniform_convergence`` with the three muxes' seeds given; its p."""
    mux = lib.StochasticMux
    first = [lib.Streamer(_choice, pair) for pair in ("ab", "cd", "ef")]
    second = [lib.Streamer(_choice, pair) for pair in ("gh", "ij", "kl")]
    mux1 = mux(first, 2, rate=4, mode="single_active", random_state=seeds[0], dist=dist)
    mux2 = mux(second, 2, rate=4, mode="single_active", random_state=seeds[1], dist=dist)
    stacked = mux([mux1, mux2], 2, rate=None, mode="single_active", random_state=seeds[2])
    counter = collections.Counter(stacked.iterate(max_iter=12 * 100))
    assert set(counter) == set("abcdefghijkl"), counter
    return float(scipy.stats.chisquare(np.asarray(list(counter.values()))).pvalue)


def pass_counts(lib, n_seeds=N_SEEDS):
    """``{dist: (seeds passing p >= 0.5, list of p)}`` over ``n_seeds`` seed triples."""
    out = {}
    for dist in DISTS:
        ps = [stacked_uniform_pvalue(lib, dist, [s + i for s in BASE_SEEDS]) for i in range(n_seeds)]
        out[dist] = (sum(p >= 0.5 for p in ps), ps)
    return out


def main():
    import pescador

    import muxlab

    results = {"pescador": pass_counts(pescador), "muxlab": pass_counts(muxlab)}
    print(f"test_mux_stacked_uniform_convergence: seeds (of {N_SEEDS}) with chi-square p >= 0.5, and median p")
    print(f"{'dist':10} {'pescador 3.0.0':>16} {'muxlab':>16}")
    for dist in DISTS:
        cells = []
        for lib in ("pescador", "muxlab"):
            passed, ps = results[lib][dist]
            cells.append(f"{passed:2d} (p~{np.median(ps):.2f})")
        print(f"{dist:10} {cells[0]:>16} {cells[1]:>16}")
    totals = [sum(results[lib][d][0] for d in DISTS) for lib in ("pescador", "muxlab")]
    print(f"{'all':10} {totals[0]:>16} {totals[1]:>16}   (of {len(DISTS) * N_SEEDS})")
    return results


if __name__ == "__main__":
    main()
