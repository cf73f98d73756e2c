"""Benchmark the core of issue 2 (autograd overhead, an MLP training step, cross-entropy over a
segmentation map, softmax, batch norm) against PyTorch when it is installed (same thread count).

    OMP_NUM_THREADS=2 python benchmarks/core.py [--size small|large] [--backend numpy|cupy]

is ``minicv bench core ...``: the cases live in minicv/bench/core.py, the timing rules in
minicv/bench/timing.py, the columns are explained in docs/benchmarks.md; measured tables go to
RESULTS.md.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's minicv

from minicv.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["bench", "core", *sys.argv[1:]]))
