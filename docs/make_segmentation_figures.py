"""Draw the pictures of docs/segmentation.md from trained checkpoints.

    minicv train fcn32s && minicv train fcn16s && minicv train fcn8s && minicv train deconvnet &&
        minicv train segnet
    python docs/make_segmentation_figures.py runs          # reads runs/<model>/model.npz

writes docs/figures/segmentation_fcn_variants.png (image | ground truth | FCN-32s | FCN-16s |
FCN-8s | DeconvNet | SegNet on the same validation images, for the models trained) and prints
each model's validation mIoU and boundary accuracy.
"""
from __future__ import annotations

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

TITLES = {"fcn32s": "FCN-32s", "fcn16s": "FCN-16s", "fcn8s": "FCN-8s", "deconvnet": "DeconvNet",
          "segnet": "SegNet"}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    runs = argv[0] if argv else "runs"
    count = int(argv[1]) if len(argv) > 1 else 5
    from minicv.engine import evaluate, load_checkpoint, make_datasets, predict
    from minicv.engine.segmentation import TrainConfig
    from minicv.viz.segmentation import denormalize, segmentation_grid

    columns, val, info = {}, None, None
    for name, title in TITLES.items():
        path = os.path.join(runs, name, "model.npz")
        if not os.path.exists(path):
            continue
        ckpt = load_checkpoint(path)
        model = ckpt.build_model()
        if val is None:
            trained = ckpt.meta["train_config"]
            _, val, info = make_datasets(TrainConfig(size=tuple(ckpt.meta["size"]),
                                                     seed=trained.get("seed", 0)))
            samples = [val[i] for i in range(count)]
            images = np.stack([s[0] for s in samples])
            columns["image"] = [denormalize(im, info.mean, info.std) for im in images]
            columns["ground truth"] = [s[1]["mask"] for s in samples]
        columns[title] = list(predict(model, images))
        result = evaluate(model, val, info).compute()
        print(f"{title:<10} mIoU {result['miou']:.3f}  pixel acc "
              f"{result['pixel_accuracy']:.3f}  boundary acc {result['boundary_accuracy']:.3f}")
    if val is None:
        print(f"no checkpoints under {runs}/<model>/model.npz", file=sys.stderr)
        return 2
    out = os.path.join(HERE, "figures", "segmentation_fcn_variants.png")
    segmentation_grid(columns, classes=info.classes, scale=3, path=out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
