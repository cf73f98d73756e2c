"""Benchmark the region ops of issue 4 (roi_align, roi_pool, nms) against torchvision.ops when it
is installed (same thread count; without it the PyTorch columns read "-").

    OMP_NUM_THREADS=2 python benchmarks/roi.py [--size small|large] [--backend numpy|cupy]

is ``minicv bench roi ...``: the cases (and the distribution of their random boxes) live in
minicv/bench/roi.py, the timing rules in minicv/bench/timing.py, the columns are explained in
docs/benchmarks.md; measured tables go to RESULTS.md.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's minicv

from minicv.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["bench", "roi", *sys.argv[1:]]))
