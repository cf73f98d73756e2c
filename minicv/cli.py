"""The ``minicv`` command (also ``python -m minicv``).

Each subcommand is a function registered with :func:`command`, which names it, gives its help
line, and declares its arguments; later subsystems (training, evaluation, benchmarks) add theirs
the same way, in their own modules listed in ``_SUBCOMMAND_MODULES``.

    minicv gradcheck                   # every registered op
    minicv gradcheck relu matmul --examples 50
"""
from __future__ import annotations

import argparse
import importlib
import sys

from minicv import backend

__all__ = ["main", "command"]

# name -> (help, add_arguments(parser), run(args) -> exit status)
_COMMANDS: dict = {}

# Modules that register subcommands when imported (later issues append theirs).
_SUBCOMMAND_MODULES = ["minicv.cli", "minicv.bench.cli", "minicv.engine.cli",
                       "minicv.proposals.cli"]


def command(name: str, help: str, arguments=None):
    """Register ``run(args) -> int`` as subcommand ``name``.

    ``arguments(parser)`` adds the subcommand's options to its argparse parser.
    """
    def decorate(run):
        _COMMANDS[name] = (help, arguments or (lambda parser: None), run)
        return run
    return decorate


def build_parser() -> argparse.ArgumentParser:
    from minicv import __version__
    for module in _SUBCOMMAND_MODULES:
        importlib.import_module(module)
    parser = argparse.ArgumentParser(
        prog="minicv", description="minicv: segmentation and detection networks from scratch "
                                   "in NumPy/CuPy.")
    parser.add_argument("--version", action="version", version=f"minicv {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, add_arguments, run) in _COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        add_arguments(sub)
        sub.set_defaults(run=run)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 2
    backend.keep_freed_memory()     # reuse freed NumPy buffers: no page faults every step
    return int(args.run(args) or 0)


# ---------------------------------------------------------------------------------------------
# minicv gradcheck
# ---------------------------------------------------------------------------------------------
def _gradcheck_arguments(parser):
    parser.add_argument("ops", nargs="*", metavar="OP",
                        help="ops to check (default: every registered op)")
    parser.add_argument("--examples", type=int, default=25,
                        help="hypothesis examples per op (default 25)")
    parser.add_argument("--backend", choices=["numpy", "cupy"], default="numpy",
                        help="array library to run the ops on (default numpy)")
    parser.add_argument("--seed", type=int, default=None,
                        help="random seed for hypothesis (default: derandomized, repeatable)")
    parser.add_argument("--list", action="store_true", help="list the registered ops and exit")


@command("gradcheck", "Gradient-check ops against finite differences over hypothesis examples.",
         _gradcheck_arguments)
def _gradcheck(args) -> int:
    try:
        from minicv import checks
    except ImportError as exc:   # hypothesis is a test extra
        print(f"minicv gradcheck needs hypothesis: pip install 'minicv[test]' ({exc})",
              file=sys.stderr)
        return 2
    from tqdm import tqdm

    from minicv import backend

    if args.list:
        print("\n".join(sorted(checks.CASES)))
        return 0
    unknown = [op for op in args.ops if op not in checks.CASES]
    if unknown:
        print(f"minicv gradcheck: unknown op(s) {', '.join(unknown)}; known: "
              f"{', '.join(sorted(checks.CASES))}", file=sys.stderr)
        return 2
    if args.examples < 1:
        print("minicv gradcheck: --examples must be at least 1", file=sys.stderr)
        return 2
    if args.backend == "cupy":
        try:
            backend.use("cupy")
        except backend.BackendError as exc:
            print(f"minicv gradcheck: {exc}", file=sys.stderr)
            return 2

    ops = args.ops or sorted(checks.CASES)
    reports = []
    with tqdm(ops, desc="gradcheck", unit="op", file=sys.stderr) as bar:
        for op in bar:
            bar.set_postfix_str(op)
            reports.append(checks.check_op(op, args.examples, args.backend, args.seed))

    width = max(len("op"), *(len(r.op) for r in reports))
    print(f"{'op':<{width}}  {'examples':>8}  {'worst rel. error':>16}  result")
    for r in reports:
        print(f"{r.op:<{width}}  {r.examples:>8}  {r.worst_rel_error:>16.2e}  "
              f"{'pass' if r.passed else 'FAIL'}")
    failed = [r for r in reports if not r.passed]
    for r in failed:
        print(f"\n{r.op}: {r.message}")
    print(f"\n{len(reports) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0
