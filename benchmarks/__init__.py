"""The muxlab benchmark suite: ``python -m benchmarks`` (see ``benchmarks/__main__.py``).

One module per case group (``engine``, ``activation``, ``counters``, ``disk``, ``disk_scaling``, ``workers``),
``timing`` for the alternating runner and ratio statistics, ``machine`` to
describe the machine, ``report`` for the markdown table and the PNG chart.
pescador is imported lazily (``timing.load_pescador``): without it the
suite still runs and says "pescador not installed" where it would appear.
"""
