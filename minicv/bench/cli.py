"""``minicv bench SUITE``: time a benchmark suite and print it as a Markdown table.

    minicv bench layers                       # the issue's shapes on NumPy (+ PyTorch CPU)
    minicv bench layers --size small          # tiny shapes: a smoke test in seconds
    minicv bench core --backend cupy          # on the GPU (+ PyTorch CUDA when available)
    OMP_NUM_THREADS=2 minicv bench layers     # pin NumPy's BLAS and PyTorch to 2 threads
    minicv bench models --isolate             # minicv and PyTorch each in a process of its own
"""
from __future__ import annotations

import sys

from minicv import bench
from minicv.backend import BackendError
from minicv.cli import command


def _arguments(parser):
    known = ", ".join(sorted(bench.SUITES))
    parser.add_argument("suite", nargs="?", metavar="SUITE", help=f"the suite to run: {known}")
    parser.add_argument("--backend", choices=["numpy", "cupy"], default="numpy",
                        help="array library minicv computes with (default numpy)")
    parser.add_argument("--size", choices=list(bench.SIZES), default="large",
                        help="large: the issues' shapes (default); small: tiny shapes, seconds")
    parser.add_argument("--repeat", type=int, default=10,
                        help="timed runs per measurement, the median is reported (default 10)")
    parser.add_argument("--warmup", type=int, default=2,
                        help="untimed runs before timing (default 2)")
    parser.add_argument("--no-torch", action="store_true",
                        help="skip the PyTorch comparison even when PyTorch is installed")
    parser.add_argument("--isolate", action="store_true",
                        help="time minicv and PyTorch each in a fresh process of its own "
                             "(a loaded PyTorch slows NumPy code down)")
    parser.add_argument("--side", choices=list(bench.SIDES), default="both",
                        help="time both libraries (default) or only one of them")
    parser.add_argument("--json", action="store_true",
                        help="print the report as JSON instead of a Markdown table")
    parser.add_argument("--list", action="store_true", help="list the suites and exit")


@command("bench", "Time a benchmark suite (minicv against PyTorch when installed) and print a "
                  "Markdown table.", _arguments)
def _bench(args) -> int:
    if args.list:
        for name in sorted(bench.SUITES):
            print(f"{name:<10} {bench.SUITES[name].help}")
        return 0
    known = ", ".join(sorted(bench.SUITES))
    if args.suite is None:
        print(f"minicv bench: name a suite: {known}", file=sys.stderr)
        return 2
    if args.suite not in bench.SUITES:
        print(f"minicv bench: unknown suite {args.suite!r}; known: {known}", file=sys.stderr)
        return 2
    if args.repeat < 1 or args.warmup < 0:
        print(f"minicv bench: --repeat must be at least 1 and --warmup at least 0, got "
              f"{args.repeat} and {args.warmup}", file=sys.stderr)
        return 2
    if args.isolate and args.side != "both":
        print(f"minicv bench: --isolate times both sides, it cannot be combined with --side "
              f"{args.side}", file=sys.stderr)
        return 2

    def progress(op):
        print(f"minicv bench {args.suite}: {op}", file=sys.stderr, flush=True)

    try:
        if args.isolate:
            report = bench.run_isolated(args.suite, backend=args.backend, size=args.size,
                                        repeat=args.repeat, warmup=args.warmup,
                                        compare_torch=not args.no_torch)
        else:
            report = bench.run(args.suite, backend=args.backend, size=args.size,
                               repeat=args.repeat, warmup=args.warmup,
                               compare_torch=not args.no_torch, progress=progress,
                               side=args.side)
    except (BackendError, RuntimeError) as exc:   # no CuPy or no GPU; a failed child process
        print(f"minicv bench: {exc}", file=sys.stderr)
        return 2
    print(report.to_json() if args.json else report.markdown())
    return 0
