"""Benchmark one training step (forward, backward, Adam update) of FCN-8s, DeconvNet and SegNet
(small CPU presets, batch 8 of 90x120 images) against their PyTorch twins when PyTorch is
installed (same thread count), then the peak memory of a step for both.

    OMP_NUM_THREADS=2 python benchmarks/models.py [--size small|large] [--backend numpy|cupy]
                                                  [--same-process]

minicv and PyTorch are timed each in a fresh process of its own (``minicv bench models
--isolate``): with PyTorch loaded, the NumPy step of FCN-8s is ~1.3x slower on 2 cores.
``--same-process`` times both in this one process instead.

The timing table is ``minicv bench models ...``: the cases live in minicv/bench/models.py, the
timing rules in minicv/bench/timing.py. The memory table (NumPy backend only) comes from
``minicv.bench.models.memory_table``: tracemalloc for minicv, PyTorch's memory profiler for
the twin. Measured tables go to RESULTS.md.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's minicv

import minicv.bench.models as bench_models  # noqa: E402  (registers the suite)
from minicv.cli import main  # noqa: E402

if __name__ == "__main__":
    argv = sys.argv[1:]
    if "--same-process" in argv:
        argv.remove("--same-process")
    elif "--list" not in argv:
        argv.append("--isolate")
    status = main(["bench", "models", *argv])
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--size", default="large")
    options.add_argument("--backend", default="numpy")
    options.add_argument("--no-torch", action="store_true")
    options.add_argument("--list", action="store_true")
    args, _ = options.parse_known_args(argv)
    if status == 0 and args.backend == "numpy" and not args.list:
        print()
        print(bench_models.memory_table(args.size, compare_torch=not args.no_torch))
    sys.exit(status)
