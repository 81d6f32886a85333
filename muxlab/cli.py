"""The ``muxlab`` command: each subcommand is a few lines over the library."""

import argparse
import sys
import time

from .errors import MuxlabError


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
    if not value >= 1 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not accepted; expected a finite number >= 1")
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


def build_parser():
    parser = argparse.ArgumentParser(
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
    except KeyboardInterrupt:
        print(f"muxlab {args.command}: interrupted", file=sys.stderr)
        return 130
