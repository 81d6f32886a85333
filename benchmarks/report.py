"""What a case returns (a :class:`Section`), and how the sections become markdown and a PNG."""

import math
from dataclasses import dataclass, field

NOT_INSTALLED = "pescador not installed"


@dataclass
class Target:
    """One stated target: the measured median and spread against what is required.

    ``passed`` is None when the target could not be measured (``why`` says why).
    """

    name: str
    quantity: str
    median: float | None
    lo: float | None
    hi: float | None
    required: str
    passed: bool | None
    why: str = ""

    @classmethod
    def check(cls, name, quantity, stats, op, bound):
        """A target met when ``stats.median <op> bound`` (``op`` is ``'>='`` or ``'<='``)."""
        passed = stats.median >= bound if op == ">=" else stats.median <= bound
        return cls(name, quantity, stats.median, stats.lo, stats.hi, f"{op} {bound:g}", passed)

    @property
    def result(self):
        if self.passed is None:
            return f"NOT MEASURED ({self.why})"
        return "PASS" if self.passed else "MISS"


@dataclass
class Section:
    """The outcome of one case: a table, notes, targets and data for the chart."""

    key: str
    title: str
    columns: list
    rows: list
    notes: list = field(default_factory=list)
    targets: list = field(default_factory=list)
    chart: dict = field(default_factory=dict)


# -- numbers ----------------------------------------------------------------
def fmt(x, digits=3):
    """A number with ``digits`` significant digits (more above 1000), never in scientific notation.

    >>> fmt(61.234), fmt(0.1834), fmt(1234567.0), fmt(0.00042), fmt(50), fmt(0.89974, 4)
    ('61.2', '0.183', '1234567', '0.000420', '50', '0.8997')
    """
    if x is None:
        return "n/a"
    a = abs(x)
    if a >= 1 and float(x).is_integer():
        return str(int(x))
    if a == 0:
        return "0"
    if a >= 1e-4:
        decimals = max(0, digits - 1 - math.floor(math.log10(a)))
        return f"{x:.{decimals}f}"
    return f"{x:.6f}"


def fmt_rate(items_per_s):
    """Items per second, scaled: ``'5.32 M/s'``.

    >>> fmt_rate(5_321_000), fmt_rate(85_400)
    ('5.32 M/s', '85.4 k/s')
    """
    if items_per_s >= 1e6:
        return f"{fmt(items_per_s / 1e6)} M/s"
    if items_per_s >= 1e3:
        return f"{fmt(items_per_s / 1e3)} k/s"
    return f"{fmt(items_per_s)} /s"


def fmt_spread(stats):
    """The min-max spread of a :class:`~benchmarks.timing.RatioStats`, as ``'lo–hi'``."""
    return f"{fmt(stats.lo)}–{fmt(stats.hi)}"


# -- markdown -----------------------------------------------------------------
def table(columns, rows):
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


METHOD = (
    "Each comparison runs its contenders alternately in one process (A B A B ..., "
    "{rounds} rounds after one unrecorded warm-up or calibration run); a ratio is computed "
    "round by round and we give the median of those ratios and their spread (min–max over the rounds). "
    "Absolute rates and times are medians over the rounds, valid for this machine only, and are "
    "always shown next to their ratios."
)


def markdown(machine, command, settings, sections):
    """The whole report: machine, command, method, targets, then each case's table and notes."""
    out = ["# muxlab benchmarks", ""]
    out += ["## Machine", ""]
    out += [f"- {k}: {v}" for k, v in machine.items()]
    out += ["", "## Command", "", f"`{command}`" + (" (quick: tiny sizes, numbers not meaningful)" if settings.is_quick else ""), ""]
    out += [METHOD.format(rounds=settings.rounds), ""]
    targets = [t for s in sections for t in s.targets]
    if targets:
        out += ["## Targets", ""]
        rows = [
            [t.name, t.quantity, fmt(t.median, 4), "n/a" if t.lo is None else f"{fmt(t.lo)}–{fmt(t.hi)}", t.required, t.result]
            for t in targets
        ]
        out += [table(["target", "quantity", "median", "spread (min–max)", "required", "PASS/MISS"], rows), ""]
    for s in sections:
        out += [f"## {s.title}", "", table(s.columns, s.rows), ""]
        out += [f"- {n}" for n in s.notes]
        out += [""]
    out += ["Chart: `engine.png` (items/s per engine case, log scale; first-sample latency vs streamers).", ""]
    if any(s.key in DISK_KEYS for s in sections):
        out += [
            "Chart: `disk.png` (windows/s per strategy, warm and cold, with the in-RAM baseline, log scale; "
            "memory per strategy; windows/s and memory vs k, n and the number of files).",
            "",
        ]
    return "\n".join(out)


# -- chart --------------------------------------------------------------------
COLORS = {"muxlab": "tab:blue", "pescador": "tab:orange", "bare": "tab:gray"}


def chart(sections, path):
    """Write the PNG: items/s per engine case (log bars) and first-sample latency vs streamers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = {s.key: s.chart for s in sections}
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [3, 2]})

    rates = data.get("engine")
    if rates:
        cases = rates["cases"]
        names = [n for n in ("muxlab", "pescador", "bare") if n in rates["rates"]]
        width = 0.8 / len(names)
        for j, name in enumerate(names):
            xs = [i + (j - (len(names) - 1) / 2) * width for i in range(len(cases))]
            ys = rates["rates"][name]
            left.bar(xs, ys, width, label=name, color=COLORS[name])
        left.set_yscale("log")
        left.set_xticks(range(len(cases)))
        left.set_xticklabels(cases, rotation=25, ha="right", fontsize=8)
        left.set_ylabel("items/s (median, log scale)")
        left.set_title("Throughput per case")
        bottom, top = left.get_ylim()
        left.set_ylim(bottom, top * 8)  # room for the legend above the bars
        left.legend(loc="upper left", ncol=len(names))
    else:
        left.text(0.5, 0.5, "engine case not run", ha="center", va="center")
        left.set_axis_off()

    latency = data.get("activation")
    if latency:
        for name, points in latency["latency"].items():
            if points:
                xs, ys = zip(*points)
                right.plot(xs, [y * 1e3 for y in ys], marker="o", label=name, color=COLORS[name])
        right.set_xscale("log")
        right.set_yscale("log")
        right.set_xlabel("number of streamers")
        right.set_ylabel("time to first sample, ms (median, log)")
        right.set_title("Activation: first sample (k=32, rate=16)")
        right.legend()
    else:
        right.text(0.5, 0.5, "activation case not run", ha="center", va="center")
        right.set_axis_off()

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- disk chart ---------------------------------------------------------------
DISK_KEYS = ("disk", "disk_memory", "disk_scaling")
STRATEGY_COLORS = {
    "npz": "tab:red",
    "npz_copy": "tab:orange",
    "npy_mmap": "tab:blue",
    "npz_cached": "tab:purple",
    "npy_mmap_readonly": "tab:cyan",
}


def _color(strategy):
    return STRATEGY_COLORS.get(strategy, "tab:gray")


def _not_run(ax, what):
    ax.text(0.5, 0.5, f"{what} not run", ha="center", va="center")
    ax.set_axis_off()


def disk_chart(sections, path):
    """Write the disk PNG: windows/s and memory per strategy (left), and their scaling in k, n and files (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = {s.key: s.chart for s in sections}
    fig, axes = plt.subplots(2, 4, figsize=(19, 8.5), gridspec_kw={"width_ratios": [1.5, 1, 1, 1]})

    rates, ax = data.get("disk"), axes[0, 0]
    if rates:
        names = list(rates["rates"])
        width = 0.38
        for j, cache in enumerate(("warm", "cold")):
            xs = [i + (j - 0.5) * width for i in range(len(names))]
            ys = [rates["rates"][s].get(cache, float("nan")) for s in names]
            style = dict(alpha=1.0, hatch=None) if cache == "warm" else dict(alpha=0.45, hatch="//")
            ax.bar(xs, ys, width, color=[_color(s) for s in names], edgecolor="black", linewidth=0.5, **style)
        ax.axhline(rates["baseline"], color="black", linestyle="--")
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        handles = [
            Patch(facecolor="lightgray", edgecolor="black", label="warm"),
            Patch(facecolor="white", edgecolor="black", hatch="//", label="cold"),
            Line2D([], [], color="black", linestyle="--", label="in-RAM baseline (median)"),
        ]
        ax.set_yscale("log")
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=20, ha="right", fontsize=8)
        ax.set_ylabel("windows/s (median, log)")
        ax.set_title("Disk: windows/s per strategy (k=32, n=16)")
        bottom, top = ax.get_ylim()
        ax.set_ylim(bottom, top * 6)
        ax.legend(handles=handles, loc="upper left", ncol=3, fontsize=8)
    else:
        _not_run(ax, "disk case")

    memory, ax = data.get("disk_memory"), axes[1, 0]
    if memory:
        names = list(dict.fromkeys(s for s, _ in memory["memory"]))
        kinds = (("peak", "peak"), ("anon", "anonymous"), ("file", "file-backed"))
        width = 0.26
        for j, (kind, label) in enumerate(kinds):
            xs = [i + (j - 1) * width for i in range(len(names))]
            warm = [memory["memory"].get((s, "warm"), {}).get(kind, float("nan")) for s in names]
            cold = [memory["memory"].get((s, "cold"), {}).get(kind, float("nan")) for s in names]
            ax.bar(xs, warm, width, label=f"{label} (warm)", color=f"C{j}")
            ax.plot(xs, cold, "k.", markersize=8, label="cold" if j == 0 else None)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=20, ha="right", fontsize=8)
        ax.set_ylabel("MiB at end of run (peak: VmHWM)")
        ax.set_title("Memory per strategy (muxlab.compare)")
        ax.set_ylim(0, ax.get_ylim()[1] * 1.3)  # room for the legend above the bars
        ax.legend(fontsize=8, loc="upper left", ncol=2)
    else:
        _not_run(ax, "disk memory")

    scaling = data.get("disk_scaling")
    for col, axis in enumerate(("k", "n", "files"), start=1):
        top, low = axes[0, col], axes[1, col]
        if not scaling:
            _not_run(top, "disk scaling")
            _not_run(low, "disk scaling")
            continue
        points = [p for p in scaling["points"] if p["axis"] == axis]
        for strategy in dict.fromkeys(p["strategy"] for p in points):
            mine = sorted((p for p in points if p["strategy"] == strategy), key=lambda p: p["value"])
            xs = [p["value"] for p in mine]
            c = _color(strategy)
            top.plot(xs, [p["rate"] for p in mine], marker="o", color=c, label=strategy)
            top.plot(xs, [p["base_rate"] for p in mine], linestyle="--", color=c, alpha=0.6, label=f"in-RAM ({strategy} runs)")
            low.plot(xs, [p["anon"] for p in mine], marker="o", color=c, label=f"{strategy} anonymous")
            low.plot(xs, [p["peak"] for p in mine], marker="s", linestyle=":", color=c, label=f"{strategy} peak")
        for ax in (top, low):
            ax.set_xscale("log", base=2 if axis != "n" else 10)
            ax.set_xlabel(axis if axis != "files" else "number of files")
        top.set_yscale("log")
        top.set_ylabel("windows/s (median, log)")
        top.set_title(f"windows/s vs {axis}")
        low.set_ylim(bottom=0)
        low.set_ylabel("MiB (anonymous at end, peak)")
        low.set_title(f"memory vs {axis}")
        top.legend(fontsize=7)
        low.legend(fontsize=7)

    # fixed margins: tight_layout would draw the 8 panels twice (about a second)
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.09, top=0.96, wspace=0.3, hspace=0.42)
    fig.savefig(path, dpi=100)
    plt.close(fig)
