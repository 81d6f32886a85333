"""Disk case: loader strategies through muxlab.compare (to be filled in once the loaders land)."""


def run_disk(settings):
    """Windows/s per loader strategy, warm and cold page cache, against an in-RAM baseline.

    It will build a fixture corpus (``muxlab.fixtures``), run each loader
    strategy of the ``muxlab.loaders`` registry (NPZ, NPZ with a copy,
    memory-mapped NPY, ...) in a fresh child process through
    ``muxlab.compare`` (``muxlab/comparison.py``), warm and cold cache
    reported separately, alternating the strategies round by round like the
    other cases, and report for each strategy windows/s, its ratio to an
    in-RAM baseline (the same windows sliced from arrays already in memory)
    with the spread of that ratio, and peak memory (VmHWM) next to it. It
    returns a :class:`benchmarks.report.Section` with key ``'disk'``; add
    ``'disk'`` to ``DEFAULT_CASES`` in ``benchmarks/__main__.py`` then.
    """
    raise NotImplementedError(
        "benchmarks: the 'disk' case is not written yet; it waits for muxlab.loaders and muxlab.compare "
        "(see benchmarks/disk.py)"
    )
