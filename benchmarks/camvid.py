"""Train a small segmentation network on CamVid for a fixed time with minicv or with its PyTorch
twin, then score it on held-out frames.

    python benchmarks/camvid.py --model fcn8s --framework minicv --minutes 8
    python benchmarks/camvid.py --model fcn8s --framework torch --minutes 8     # needs torch

The same comparison on the built-in synthetic shapes, for a fixed number of steps (the "tiny"
preset there, as ``minicv train``), with a model option:

    python benchmarks/camvid.py --data synthetic --model deconvnet --framework torch \
        --steps 625 --batch-size 16 --lr 1e-3 [--convs 2,2,2,2,2]

Both frameworks start from the same weights (the twin is a copy of the freshly initialised
minicv model), see the same batches in the same order (one minicv DataLoader, seeded; random
left-right flips), use Adam with the same hyper-parameters and a cosine learning-rate decay over
the time budget (or the steps), and are stopped when the training time (evaluation excluded)
reaches it. Data: ../shared/data/camvid (SegNet's 11 classes, label 11 ignored) at a quarter of
the resolution (90x120); the 28 frames of the daylight sequence 0006R0 are held out for
validation, the 72 of 0001TP (dusk) and 0016E5 train. Prints one Markdown row: model,
framework, minutes trained, steps, images/s, held-out mIoU, pixel and boundary accuracy, and
the train/validation sizes.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "..", "..", "shared", "data", "camvid")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fcn8s", choices=["fcn32s", "fcn16s", "fcn8s",
                                                             "deconvnet", "segnet"])
    parser.add_argument("--framework", default="minicv", choices=["minicv", "torch"])
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--steps", type=int, default=None,
                        help="train for this many steps instead of --minutes")
    parser.add_argument("--preset", default=None,
                        help="model size (default: tiny on synthetic data, small on CamVid)")
    parser.add_argument("--convs", default=None,
                        help="convolutions per VGG stage, e.g. 2,2,2,2,2 (default: the preset's)")
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--size", default="90x120")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", default=None, help="write the trained minicv model here")
    args = parser.parse_args(argv)

    from minicv import models, optim
    from minicv.data import DataLoader, collate_segmentation
    from minicv.engine.checkpoint import save_checkpoint
    from minicv.engine.segmentation import (
        TrainConfig,
        cosine_lr,
        evaluate,
        make_datasets,
        parse_size,
        train_step,
    )
    from minicv.metrics import SegmentationMetrics
    from minicv.nn import init

    synthetic = args.data == "synthetic"
    if not synthetic and not os.path.isdir(args.data):
        print(f"no CamVid folder at {args.data}", file=sys.stderr)
        return 2
    if synthetic:
        cfg = TrainConfig(model=args.model, seed=args.seed)
    else:
        cfg = TrainConfig(model=args.model, data=args.data, format="camvid",
                          size=parse_size(args.size), seed=args.seed)
    train_set, val_set, info = make_datasets(cfg)
    init.manual_seed(args.seed)
    options = {} if args.convs is None else {"convs": tuple(int(c) for c in
                                                           args.convs.split(","))}
    model = models.get_model(args.model, info.num_classes,
                             preset=args.preset or ("tiny" if synthetic else "small"), **options)
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, drop_last=True,
                        collate_fn=collate_segmentation, seed=args.seed)
    budget = args.minutes * 60.0 if args.steps is None else float("inf")
    max_steps = args.steps if args.steps is not None else float("inf")

    if args.framework == "minicv":
        opt = optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)

        def step(images, masks):
            return train_step(model, opt, images, masks, info.ignore_index)

        def score():
            return evaluate(model, val_set, info, boundary_width=2).compute()
    else:
        import torch

        from minicv.bench.twins import torch_twin
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
        twin = torch_twin(model)
        opt_t = torch.optim.Adam([p for p in twin.parameters() if p.requires_grad], lr=args.lr,
                                 weight_decay=args.weight_decay)

        def step(images, masks):
            twin.train()
            loss = torch.nn.functional.cross_entropy(
                twin(torch.from_numpy(images)), torch.from_numpy(masks),
                ignore_index=-100 if info.ignore_index is None else info.ignore_index)
            opt_t.zero_grad()
            loss.backward()
            opt_t.step()
            return float(loss.detach())

        def score():
            twin.eval()
            metrics = SegmentationMetrics(info.num_classes, info.ignore_index,
                                          class_names=info.classes, boundary_width=2)
            for images, masks in DataLoader(val_set, batch_size=16,
                                            collate_fn=collate_segmentation):
                with torch.no_grad():
                    pred = twin(torch.from_numpy(images)).argmax(1).numpy()
                metrics.update(pred, masks)
            return metrics.compute()

    groups = opt.param_groups if args.framework == "minicv" else opt_t.param_groups
    trained, steps, epochs, losses = 0.0, 0, 0, []
    while trained < budget and steps < max_steps:
        epochs += 1
        for images, masks in loader:
            for group in groups:                   # cosine decay over the time or the steps
                group["lr"] = cosine_lr(args.lr, max(trained / budget, steps / max_steps))
            t0 = time.perf_counter()
            losses.append(step(images, masks))
            trained += time.perf_counter() - t0
            steps += 1
            if trained >= budget or steps >= max_steps:
                break
        print(f"epoch {epochs}: {trained / 60:.2f} min, loss {np.mean(losses[-10:]):.3f}",
              file=sys.stderr, flush=True)
    result = score()
    if args.save and args.framework == "minicv":
        from dataclasses import asdict
        save_checkpoint(args.save, model, {"model": model.name, "num_classes": info.num_classes,
                                           "config": asdict(model.config),
                                           "classes": list(info.classes),
                                           "ignore_index": info.ignore_index,
                                           "size": list(info.size), "mean": list(info.mean),
                                           "std": list(info.std),
                                           "data": "synthetic" if synthetic else "camvid"})
    print(f"| {args.model} | {args.framework} | {trained / 60:.2f} | {steps} | "
          f"{steps * args.batch_size / trained:.1f} | {result['miou']:.3f} | "
          f"{result['pixel_accuracy']:.3f} | {result['boundary_accuracy']:.3f} | "
          f"{len(train_set)}/{len(val_set)} |")
    print("per-class IoU: " + ", ".join(f"{c} {v:.2f}" for c, v in
                                        zip(info.classes, result["iou"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
