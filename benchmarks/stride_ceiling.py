"""How well can a network that predicts at output stride s segment a dataset, at best?

FCN-32s, -16s and -8s compute their class scores on a grid s = 32, 16, 8 pixels apart and
interpolate them bilinearly to the input size (Long et al. 2015, Sec. 4.2). Whatever they learn,
their boundaries come from interpolating a coarse grid. This script measures that limit on the
validation labels themselves -- an "oracle" that knows the answer
(``minicv.metrics.stride_oracle``):

    scores = the class one-hot of the TRUE label map, averaged over each s x s cell
    prediction = argmax of the scores upsampled bilinearly by s (align_corners=False)

and prints the oracle's mIoU (and boundary accuracy) per stride. A trained FCN-8s cannot be
expected to beat the stride-8 column by much (its learnt upsampler starts as this bilinear
interpolation), while DeconvNet/SegNet decode back to stride 1 and are not bound by it.

    python benchmarks/stride_ceiling.py [--sizes 64 96 128] [--camvid ../shared/data/camvid]

Pure NumPy and minicv (no PyTorch). Results go to RESULTS.md.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from minicv.metrics import SegmentationMetrics, stride_oracle  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
STRIDES = (32, 16, 8, 4, 2)


def table(name: str, masks: np.ndarray, num_classes: int, ignore_index=None) -> list[str]:
    rows = []
    for stride in STRIDES:
        metrics = SegmentationMetrics(num_classes, ignore_index, boundary_width=2)
        metrics.update(stride_oracle(masks, num_classes, stride, ignore_index), masks)
        result = metrics.compute()
        rows.append(f"| {name} | {masks.shape[1]}x{masks.shape[2]} | {stride} | "
                    f"{result['miou']:.3f} | {result['pixel_accuracy']:.3f} | "
                    f"{result['boundary_accuracy']:.3f} |")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 96, 128],
                        help="synthetic image sides to measure (default 64 96 128)")
    parser.add_argument("--camvid", default=os.path.join(HERE, "..", "..", "shared", "data",
                                                          "camvid"))
    parser.add_argument("--camvid-size", default="90x120")
    args = parser.parse_args(argv)

    from minicv.data import CamVid, SyntheticShapes
    from minicv.data import transforms as T
    from minicv.engine.segmentation import parse_size

    rows = ["| data | size | stride | oracle mIoU | pixel acc | boundary acc (2 px) |",
            "|------|------|--------|-------------|-----------|---------------------|"]
    for side in args.sizes:
        val = SyntheticShapes("val", image_size=side)
        masks = np.stack([val[i][1]["mask"] for i in range(len(val))])
        rows += table("synthetic val (200)", masks, val.num_classes)
    if os.path.isdir(args.camvid):
        size = parse_size(args.camvid_size)
        val = CamVid(args.camvid, "val", transforms=T.Resize(size))
        masks = np.stack([val[i][1]["mask"] for i in range(len(val))])
        rows += table(f"CamVid val ({len(val)})", masks, 11, val.ignore_index)
    else:
        print(f"(no CamVid at {args.camvid}: skipped)", file=sys.stderr)
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
