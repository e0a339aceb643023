"""`python -m bench workload|run|compare`: see `python -m bench --help`."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import workload
from .run import PHASES, run


def _phases(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in PHASES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown phase(s) {', '.join(unknown)}; "
                                         f"choose from {', '.join(PHASES)}")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("workload", help="generate the workload files")
    make.add_argument("--scale", type=float, default=1.0, help="1 = XIFBench x10 (default)")
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--out", type=Path, required=True, help="directory to (re)write")
    for name, text in (("run", "Accord alone (make bench)"),
                       ("compare", "Accord and Label Studio (make bench-compare)")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--scale", type=float, default=1.0)
        sub.add_argument("--seed", type=int, default=0)
        sub.add_argument("--quick", action="store_true", help="shorter loops, to try it out")
        sub.add_argument("--only", type=_phases, default=PHASES,
                         help=f"comma-separated phases (default: {','.join(PHASES)})")
    args = parser.parse_args()
    if args.command == "workload":
        summary = workload.generate(args.out, args.scale, args.seed)
        counts = summary["counts"]
        print(f"{args.out}: {counts['items']:,} items, {counts['responses']:,} responses, "
              f"{counts['decisions']:,} decisions, {counts['pairs']:,} pairs, "
              f"{counts['labels']:,} labels")
        return
    run(scale=args.scale, quick=args.quick, only=args.only, compare=args.command == "compare",
        seed=args.seed)


if __name__ == "__main__":
    main()
