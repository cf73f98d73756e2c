"""Benchmark detection evaluation (issue 6): COCO AP/AR for boxes and masks and VOC mAP on
5,000 synthetic images x 100 detections, against pycocotools when it is installed.

    python benchmarks/metrics.py [--size small|large] [--repeat N]

is ``minicv bench metrics --repeat 1 --warmup 0 ...`` (one evaluation takes seconds with minicv
and about a minute with pycocotools, so a single timed run is the default here; later options
win). The cases live in minicv/bench/metrics.py, the timing rules in minicv/bench/timing.py;
measured tables go to RESULTS.md.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's minicv

import minicv.bench.metrics  # noqa: E402,F401  (registers the suite until minicv.bench imports it)
from minicv.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["bench", "metrics", "--repeat", "1", "--warmup", "0", *sys.argv[1:]]))
