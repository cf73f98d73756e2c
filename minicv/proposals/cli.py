"""``minicv proposals``: recall of object proposals against their number, and their speed.

    minicv proposals                                    # selective search on 20 synthetic images
    minicv proposals --method sliding                   # the sliding-window baseline
    minicv proposals --data ../shared/data/raccoon --format voc --max-side 500 --out runs/ss
    minicv proposals --data val2017/ --annotations instances_val2017.json --format coco

Prints recall at IoU 0.5 and 0.7 (and the mean best IoU) for N = 1, 2, 5, ... proposals per
image and the seconds per image, and writes the recall curve as ``recall_<method>.png`` (needs
matplotlib) and its numbers as ``recall_<method>.json`` into ``--out``.
"""
from __future__ import annotations

import json
import os
import sys

from minicv.cli import command
from minicv.proposals.evaluate import METHODS, evaluate_proposals
from minicv.proposals.selective_search import MODES

FORMATS = ("synthetic", "voc", "coco")


def _arguments(parser):
    parser.add_argument("--data", default="synthetic",
                        help="'synthetic' (default, no download) or a dataset folder: VOC root "
                             "(JPEGImages/ or images/, Annotations/), or COCO images")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="dataset format (default: synthetic for --data synthetic, else voc)")
    parser.add_argument("--annotations", default=None,
                        help="COCO instances JSON (with --format coco)")
    parser.add_argument("--split", default="val",
                        help="synthetic split: train, val or test (default val)")
    parser.add_argument("--image-size", type=int, default=256,
                        help="synthetic image size in pixels (default 256)")
    parser.add_argument("--method", choices=METHODS, default="selective-search",
                        help="proposal method (default selective-search)")
    parser.add_argument("--mode", choices=sorted(MODES), default="fast",
                        help="selective search strategies (default fast: 8, as R-CNN)")
    parser.add_argument("--max-images", type=int, default=20,
                        help="evaluate the first N images (default 20; 0 for all)")
    parser.add_argument("--max-proposals", type=int, default=None,
                        help="keep at most this many proposals per image (default all)")
    parser.add_argument("--max-side", type=int, default=500,
                        help="shrink larger images to this longer side first (default 500; "
                             "0 to keep every size)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the ranking (default 0)")
    parser.add_argument("--out", default=None,
                        help="folder for recall_<method>.png and .json (default: print only)")


def _dataset(args):
    """The dataset named by --data/--format, or an error message."""
    fmt = args.format or ("synthetic" if args.data == "synthetic" else "voc")
    if fmt == "synthetic":
        if args.data != "synthetic":
            return None, f"--format synthetic needs --data synthetic, got {args.data!r}"
        from minicv.data import SyntheticShapes
        return SyntheticShapes(args.split, image_size=args.image_size), None
    if args.data == "synthetic":
        return None, f"--format {fmt} needs --data PATH (a dataset folder)"
    if not os.path.isdir(args.data):
        return None, f"--data {args.data!r} is not a folder"
    if fmt == "voc":
        from minicv.data import VOCDetection
        return VOCDetection(args.data), None
    if args.annotations is None:
        return None, "--format coco needs --annotations JSON"
    from minicv.data import COCODetection
    return COCODetection(args.data, args.annotations), None


def _plot(curve, path) -> bool:
    try:
        from minicv.viz.detection import recall_curve_figure
        recall_curve_figure([curve], path=path)
    except ImportError as exc:                 # matplotlib is the optional "plot" extra
        print(f"minicv proposals: no plot ({exc})", file=sys.stderr)
        return False
    return True


@command("proposals", "Recall of object proposals (selective search or sliding windows) against "
                      "their number at IoU 0.5 and 0.7, and seconds per image.", _arguments)
def _proposals(args) -> int:
    for name in ("max_images", "max_side"):
        if getattr(args, name) < 0:
            print(f"minicv proposals: --{name.replace('_', '-')} must be >= 0, got "
                  f"{getattr(args, name)}", file=sys.stderr)
            return 2
    if args.max_proposals is not None and args.max_proposals < 1:
        print(f"minicv proposals: --max-proposals must be >= 1, got {args.max_proposals}",
              file=sys.stderr)
        return 2
    try:
        dataset, problem = _dataset(args)
    except (ValueError, TypeError, OSError) as exc:      # a loader's own message names the file
        problem = str(exc)
    if problem:
        print(f"minicv proposals: {problem}", file=sys.stderr)
        return 2

    curve = evaluate_proposals(dataset, args.method, mode=args.mode,
                               max_images=args.max_images or None,
                               max_proposals=args.max_proposals, max_side=args.max_side or None,
                               seed=args.seed)
    what = args.method + (f" ({args.mode})" if args.method == "selective-search" else "")
    times = sorted(curve.seconds)
    median = times[len(times) // 2] if times else 0.0
    source = (f"synthetic ({args.split}, {args.image_size}x{args.image_size})"
              if args.data == "synthetic" else args.data)
    print(f"minicv proposals: {what} on {curve.num_images} images of {source}, "
          f"{curve.num_objects} objects")
    print(f"proposals per image: {curve.proposals_per_image:.0f}; seconds per image: "
          f"{curve.seconds_per_image:.3f} mean, {median:.3f} median\n")
    print(curve.table())
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        stem = os.path.join(args.out, f"recall_{args.method}")
        with open(stem + ".json", "w") as f:
            json.dump({**curve.to_dict(), "data": args.data, "mode": args.mode,
                       "seconds": curve.seconds}, f, indent=1)
        wrote = [stem + ".json"] + ([stem + ".png"] if _plot(curve, stem + ".png") else [])
        print("\nwrote " + ", ".join(wrote))
    return 0
