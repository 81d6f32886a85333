"""The ``muxlab`` command: each subcommand is a few lines over the library."""

import argparse
import http.server
import sys
import time

from .errors import MuxlabError, ParameterError
from .validation import check_int, check_positive_number


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: what is wrong and where to read more."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _number(text):
    """The text as an int if it spells one, else as a float (the check then says what was expected)."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def _flag(check, convert=_number):
    """An argparse type: ``convert`` the text, then ``check(value)`` with the library's own check and message."""

    def parse(text):
        value = text
        if convert is not None:
            try:
                value = convert(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        try:
            return check(value)
        except MuxlabError as err:
            raise argparse.ArgumentTypeError(str(err).split(": ", 1)[-1]) from None

    return parse


def _compare_param(name, convert=_number):
    """An argparse type checking a value as :class:`~muxlab.compare_params.CompareParams` does."""
    from .compare_params import CompareParams

    def check(value):
        value = CompareParams.check("compare", name, value)
        return list(value) if name == "strategies" else value

    return _flag(check, convert)


def _at_least(name, minimum):
    """An argparse type for an integer flag ``>= minimum``."""
    return _flag(lambda value: check_int("muxlab", name, value, minimum=minimum))


def _lam(value):
    """The mean lifetime, with the Mux's own limits."""
    from .mux.stochastic import MAX_RATE

    return check_positive_number("muxlab", "lam", value, minimum=1, maximum=MAX_RATE)


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
    from .loaders import collection_of

    if args.paths and args.root:
        raise ParameterError("compare: give PATH... or --root, not both (--root is the former spelling)")
    paths = args.paths or ([args.root] if args.root else [])
    if not paths:
        print(f"collection: the bundled {args.preset!r} demo in {fixtures.default_root(args.preset) if args.preset != 'tiny' else 'data_fixtures/tiny'}")
        source = fixtures.ensure(args.preset)
        if args.keys:
            raise ParameterError("compare: --keys applies to your own files (PATH...); the bundled demo holds X and Y")
    else:
        source = paths[0] if len(paths) == 1 else paths
    collection = collection_of(source, args.keys, owner="compare")
    if args.npy:
        from .collection import Collection

        collection = collection.add_layouts(Collection.scan(args.npy, keys=collection.keys))
    print(collection)
    result = compare(
        collection,
        strategies=args.strategies,
        k=args.k,
        lam=args.lam,
        n=args.n,
        max_batches=args.batches,
        retain=args.retain,
        cache=args.cache,
        random_state=args.seed,
        memory_limit=args.memory_limit,
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


def convert_command(args):
    """Write one NAME.<key>.npy per item and key of SRC into DEST (verified, resumable)."""
    from .collection import Collection

    source = Collection.scan(args.src, keys=args.keys or ("X", "Y"), on_bad=args.on_bad)
    print(source)
    converted = source.to_npy(args.dest, progress=not args.quiet)
    print(f"{converted}\nnext: muxlab compare {args.src} --npy {args.dest}" + (f" --keys {','.join(args.keys)}" if args.keys else ""))
    return 0


def _keys(text):
    keys = tuple(k.strip() for k in text.split(",") if k.strip())
    if not keys or len(set(keys)) != len(keys):
        raise argparse.ArgumentTypeError(f"{text!r} names no keys; expected comma-separated array names, e.g. features,labels")
    return keys


def _size(text):
    from .memory_limit import parse_size

    try:
        return parse_size("--memory-limit", "value", text) and text
    except MuxlabError as err:
        raise argparse.ArgumentTypeError(str(err).split(": ", 1)[-1]) from None


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


def build_parser():
    parser = _Parser(
        prog="muxlab", description="Understand and measure how training data is streamed from disk."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="stream from a Mux and print per-stream activation counts")
    p.add_argument("--streams", type=_at_least("streams", 1), default=100, help="number of streams (default 100)")
    p.add_argument("--k", type=_at_least("k", 1), default=32, help="streams active at once (default 32)")
    p.add_argument("--lam", type=_flag(_lam), default=16.0, help="mean samples per activation (default 16)")
    p.add_argument("--samples", type=_at_least("samples", 1), default=100_000, help="samples to draw (default 100000)")
    p.add_argument("--seed", type=_at_least("seed", 0), default=0, help="random seed (default 0)")
    p.add_argument("--rows", type=_at_least("rows", 1), default=20, help="table rows to print (default 20)")
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
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="your data: folders (searched recursively), globs or files of .npz/.npy (default: the bundled demo)")
    p.add_argument("--keys", type=_keys, default=None, help="comma-separated array names of every item (default X,Y)")
    p.add_argument("--npy", metavar="DIR", default=None, help="the .npy layout of PATH, as written by muxlab convert")
    p.add_argument("--memory-limit", type=_size, default=None, metavar="SIZE",
                   help="run each strategy under this much memory, page cache included (e.g. 256MiB)")
    p.add_argument("--root", help=argparse.SUPPRESS)
    p.add_argument("--preset", choices=list(PRESETS), default="demo", help="bundled collection to use without PATH (default demo)")
    p.add_argument("--strategies", type=_compare_param("strategies", None), default=None,
                   help="comma-separated strategies (default all)")
    p.add_argument("--k", type=_compare_param("k"), default=32, help="streams active at once (default 32)")
    p.add_argument("--lam", type=_compare_param("lam"), default=16.0, help="mean windows per activation (default 16)")
    p.add_argument("--n", type=_compare_param("n"), default=16, help="rows per window (default 16)")
    p.add_argument("--batches", type=_compare_param("max_batches"), default=2000,
                   help="windows per strategy (default 2000)")
    p.add_argument("--retain", type=_compare_param("retain"), default=32,
                   help="windows the consumer keeps alive (default 32)")
    p.add_argument("--cache", type=_compare_param("cache", None), default="warm", metavar="{warm,cold}",
                   help="page cache before each run (default warm)")
    p.add_argument("--seed", type=_compare_param("random_state"), default=0, help="random seed (default 0)")
    p.add_argument("--out", default="muxlab-out", help="output folder (default ./muxlab-out)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--workers", type=_at_least("workers", 1), default=None,
        help="stream through N worker processes and measure the whole process tree (writes workers.png)",
    )
    p.set_defaults(run=compare_command)

    p = sub.add_parser("convert", help="write one NAME.<key>.npy per array of your archives (memory-mappable)")
    p.add_argument("src", metavar="SRC", help="folder, glob or file of .npz archives (only read)")
    p.add_argument("dest", metavar="DEST", help="folder to write into (not inside SRC; created if missing)")
    p.add_argument("--keys", type=_keys, default=None, help="comma-separated array names of every item (default X,Y)")
    p.add_argument("--on-bad", choices=["raise", "skip"], default="raise", help="unreadable files: stop (default) or leave out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=convert_command)

    p = sub.add_parser("docs", help="build the documentation site and serve it on 127.0.0.1")
    p.add_argument("--out", default="muxlab-out/docs", help="folder for the built site (default ./muxlab-out/docs)")
    p.add_argument("--port", type=_at_least("port", 0), default=8000, help="port on 127.0.0.1 (default 8000; 0 picks a free one)")
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
