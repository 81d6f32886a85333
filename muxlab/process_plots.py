"""Memory of a consumer and its workers per strategy: a chart and a text table over ``Comparison.processes``.

Like :mod:`muxlab.plots`, these functions take a DataFrame and draw or
format it; they never measure.
"""

from .units import MiB


def plot_process_memory(processes, fig=None):
    """Two panels: PSS per process stacked per strategy (the split), and the tree's sums by kind.

    The left panel stacks each process's PSS (consumer, worker 0, ...): the
    height is the memory the tree really uses, each shared page counted once.
    The right panel sets the summed resident memory (anonymous, file-backed)
    beside the summed PSS and USS: where RSS sums exceed PSS, workers share
    pages (page cache of memory-mapped files, pages not yet copied after fork).
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if fig is None:
        fig = plt.figure(figsize=(12, 4.5), layout="constrained")
    left, right = fig.subplots(1, 2)
    strategies = list(dict.fromkeys(processes["strategy"]))
    roles = list(dict.fromkeys(processes["role"]))
    x = np.arange(len(strategies))
    bottom = np.zeros(len(strategies))
    for role in roles:
        part = processes[processes["role"] == role].groupby("strategy")["pss"].sum()
        heights = np.array([part.get(s, 0.0) for s in strategies]) / MiB
        left.bar(x, heights, bottom=bottom, label=role)
        bottom += heights
    left.set_xticks(x, strategies, rotation=20, ha="right")
    left.set_ylabel("proportional set size (MiB)")
    left.set_title("memory per process (PSS, shared pages split)")
    left.legend(fontsize="small")

    kinds = [("anon", "resident anonymous (sum)"), ("file", "resident file-backed (sum)"), ("pss", "PSS (sum)"),
             ("uss", "USS (sum)")]
    sums = processes.groupby("strategy")[[k for k, _ in kinds]].sum()
    width = 0.8 / len(kinds)
    for i, (key, label) in enumerate(kinds):
        right.bar(x + (i - (len(kinds) - 1) / 2) * width, [sums.loc[s, key] / MiB for s in strategies], width,
                  label=label)
    right.set_xticks(x, strategies, rotation=20, ha="right")
    right.set_ylabel("MiB, summed over the process tree")
    right.set_title("whole tree: what is counted twice, what is shared")
    right.legend(fontsize="small")
    return fig


def process_table(processes):
    """Per strategy, each process's memory and the tree's sum, in MiB, as text.

    >>> import pandas as pd
    >>> df = pd.DataFrame([dict(strategy='s', role='consumer', pid=1, anon=MiB, file=2 * MiB, uss=MiB, pss=MiB,
    ...                         peak=3 * MiB)])
    >>> print(process_table(df))
    strategy     role  anon MiB  file MiB  uss MiB  pss MiB  peak MiB
           s consumer       1.0       2.0      1.0      1.0       3.0
           s      sum       1.0       2.0      1.0      1.0       3.0
    """
    import pandas as pd

    cols = ["anon", "file", "uss", "pss", "peak"]
    parts = []
    for strategy, group in processes.groupby("strategy", sort=False):
        rows = group[["strategy", "role", *cols]]
        total = dict(strategy=strategy, role="sum", **{c: group[c].sum() for c in cols})
        parts += [rows, pd.DataFrame([total])]
    table = pd.concat(parts, ignore_index=True)
    for c in cols:
        table[c] = (table[c] / MiB).round(1)
    return table.rename(columns={c: f"{c} MiB" for c in cols}).to_string(index=False)
