"""Benchmark the dense layers of issue 3 (conv2d, conv_transpose2d, max_pool2d with switches,
max_unpool2d, bilinear interpolate) against PyTorch when it is installed (same thread count).

    OMP_NUM_THREADS=2 python benchmarks/layers.py [--size small|large] [--backend numpy|cupy]

is ``minicv bench layers ...``: the cases live in minicv/bench/layers.py, the timing rules in
minicv/bench/timing.py, the columns are explained in docs/benchmarks.md; measured tables go to
RESULTS.md.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's minicv

from minicv.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["bench", "layers", *sys.argv[1:]]))
