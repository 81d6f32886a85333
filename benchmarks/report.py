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
