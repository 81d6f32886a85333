"""The ``muxlab`` command: each subcommand is a few lines over the library."""

import argparse
import sys
import time

from .errors import MuxlabError


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: what is wrong and where to read more."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small; expected an integer >= 1")
    return value


def _rate(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 1 <= value <= 1e15:
        raise argparse.ArgumentTypeError(f"{text} is not accepted; expected a finite number >= 1 (at most 1e15)")
    return value


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; expected an integer >= 0")
    return value


def demo(args):
    """Stream from a Mux over endless in-memory streams and print per-stream activation counts."""
    from . import Mux, Streamer

    def endless(label):
        while True:
            yield label

    streams = [Streamer(endless, i) for i in range(args.streams)]
    mux = Mux(streams, k=args.k, lam=args.lam, random_state=args.seed)
    start = time.perf_counter()
    for _ in mux.generate(max_batches=args.samples):
        pass
    elapsed = time.perf_counter() - start
    frame = mux.stats.to_frame()
    print(frame.to_string(index=False, max_rows=args.rows))
    acts = frame["activations"]
    print(
        f"\n{args.samples} samples from {args.streams} streams, k={args.k} lam={args.lam:g}: "
        f"{int(acts.sum())} activations (mean {args.samples / max(int(acts.sum()), 1):.2f} samples each), "
        f"{args.samples / elapsed:,.0f} samples/s"
    )
    return 0


def fixtures_command(args):
    """Write a deterministic fixture collection."""
    from . import fixtures

    root = fixtures.make(args.dir, args.preset)
    if args.verify:
        fixtures.verify(root)
    manifest = fixtures.load_manifest(root)
    print(f"{args.preset}: {len(manifest['items'])} items in {root}")
    return 0


def compare_command(args):
    """Run every strategy in its own process, print the summary and write the dashboard and CSVs."""
    import matplotlib

    matplotlib.use("Agg")
    from . import fixtures
    from .comparison import compare

    root = args.root
    if root is None:
        print(f"fixtures: preset {args.preset!r} in {fixtures.default_root(args.preset) if args.preset != 'tiny' else 'data_fixtures/tiny'}")
        root = fixtures.ensure(args.preset)
    result = compare(
        root=root,
        strategies=args.strategies,
        k=args.k,
        lam=args.lam,
        n=args.n,
        max_batches=args.batches,
        retain=args.retain,
        cache=args.cache,
        random_state=args.seed,
        progress=not args.quiet,
        workers=args.workers,
    )
    print()
    print(result.table())
    if result.processes is not None:
        from .process_plots import process_table

        print()
        print(process_table(result.processes))
    out = result.save(args.out)
    import matplotlib.pyplot as plt

    plt.close("all")
    extra = ", processes.csv, workers.png" if result.processes is not None else ""
    print(f"\nwrote dashboard.png, summary.csv, timeline.csv, activations.csv{extra} in {out}/")
    return 0


def _strategy_list(text):
    from .loaders import STRATEGIES

    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in names if s not in STRATEGIES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"{text!r} names no known strategy; expected a comma-separated list of {', '.join(STRATEGIES)}"
        )
    return names


def build_parser():
    parser = _Parser(
        prog="muxlab", description="Understand and measure how training data is streamed from disk."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="stream from a Mux and print per-stream activation counts")
    p.add_argument("--streams", type=_positive_int, default=100, help="number of streams (default 100)")
    p.add_argument("--k", type=_positive_int, default=32, help="streams active at once (default 32)")
    p.add_argument("--lam", type=_rate, default=16.0, help="mean samples per activation (default 16)")
    p.add_argument("--samples", type=_positive_int, default=100_000, help="samples to draw (default 100000)")
    p.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    p.add_argument("--rows", type=_positive_int, default=20, help="table rows to print (default 20)")
    p.set_defaults(run=demo)

    from .fixtures import PRESETS

    p = sub.add_parser("fixtures", help="write a deterministic collection of NPZ and NPY files")
    p.add_argument("--preset", choices=list(PRESETS), default="tiny", help="which collection (default tiny)")
    p.add_argument("--dir", required=True, help="folder to write into (created if missing)")
    p.add_argument("--verify", action="store_true", help="check every checksum after writing")
    p.set_defaults(run=fixtures_command)

    p = sub.add_parser(
        "compare", help="measure the memory and speed of each loader strategy, each in a fresh process"
    )
    p.add_argument("--root", help="fixture folder with manifest.json (default: the --preset collection)")
    p.add_argument("--preset", choices=list(PRESETS), default="demo", help="collection to use without --root (default demo)")
    p.add_argument("--strategies", type=_strategy_list, default=None, help="comma-separated strategies (default all)")
    p.add_argument("--k", type=_positive_int, default=32, help="streams active at once (default 32)")
    p.add_argument("--lam", type=_rate, default=16.0, help="mean windows per activation (default 16)")
    p.add_argument("--n", type=_positive_int, default=16, help="rows per window (default 16)")
    p.add_argument("--batches", type=_positive_int, default=2000, help="windows per strategy (default 2000)")
    p.add_argument("--retain", type=_seed, default=32, help="batches the consumer keeps alive (default 32)")
    p.add_argument("--cache", choices=["warm", "cold"], default="warm", help="page cache before each run (default warm)")
    p.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    p.add_argument("--out", default="muxlab-out", help="output folder (default ./muxlab-out)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--workers", type=_positive_int, default=None,
        help="stream through N worker processes and measure the whole process tree (writes workers.png)",
    )
    p.set_defaults(run=compare_command)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except MuxlabError as exc:
        message = str(exc).splitlines()[0]
        print(f"muxlab {args.command}: error: {message}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"muxlab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"muxlab {args.command}: interrupted", file=sys.stderr)
        return 130
