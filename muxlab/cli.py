"""The ``muxlab`` command: each subcommand is a few lines over the library."""

import argparse
import http.server
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
    )
    print()
    print(result.table())
    out = result.save(args.out)
    import matplotlib.pyplot as plt

    plt.close("all")
    print(f"\nwrote dashboard.png, summary.csv, timeline.csv and activations.csv in {out}/")
    return 0


def docs_command(args):
    """Build the documentation site (warnings are errors) and serve it on 127.0.0.1 until interrupted."""
    import functools
    import importlib.util
    import subprocess
    from pathlib import Path

    source = Path(__file__).resolve().parents[1] / "docs"
    out = Path(args.out)
    if not args.no_build:
        if not (source / "conf.py").is_file():
            print(f"muxlab docs: error: no docs/conf.py next to the package ({source}); "
                  "the site is built from a source checkout (pip install -e '.[docs]')", file=sys.stderr)
            return 2
        if importlib.util.find_spec("sphinx") is None or importlib.util.find_spec("myst_nb") is None:
            print("muxlab docs: error: Sphinx and MyST-NB are not installed; pip install -e '.[docs]'", file=sys.stderr)
            return 2
        build = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(source), str(out)]
        start = time.perf_counter()
        if subprocess.call(build) != 0:
            print(f"muxlab docs: error: the build failed (command: {' '.join(build)})", file=sys.stderr)
            return 1
        print(f"built {out / 'index.html'} in {time.perf_counter() - start:.1f} s", flush=True)
    elif not (out / "index.html").is_file():
        print(f"muxlab docs: error: --no-build, but {out} holds no built site (no index.html)", file=sys.stderr)
        return 2
    if args.no_serve:
        return 0
    handler = functools.partial(_QuietHandler, directory=str(out))
    with http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler) as server:
        print(f"serving {out}/ on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without a log line per request."""

    def log_message(self, format, *args):
        pass


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
    p.set_defaults(run=compare_command)

    p = sub.add_parser("docs", help="build the documentation site and serve it on 127.0.0.1")
    p.add_argument("--out", default="muxlab-out/docs", help="folder for the built site (default ./muxlab-out/docs)")
    p.add_argument("--port", type=_seed, default=8000, help="port on 127.0.0.1 (default 8000; 0 picks a free one)")
    p.add_argument("--no-serve", action="store_true", help="build only")
    p.add_argument("--no-build", action="store_true", help="serve the site already built in --out")
    p.set_defaults(run=docs_command)
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
