"""``minicv train | eval | predict``: segmentation from the command line.

    minicv train fcn8s                                  # built-in synthetic shapes, minutes
    minicv train segnet --data ../shared/data/camvid --format camvid --time-limit 8
    minicv eval runs/fcn8s/model.npz                    # pixel acc, mean acc, IoU per class, mIoU
    minicv predict runs/fcn8s/model.npz photo.jpg       # writes photo_overlay.png
"""
from __future__ import annotations

import os
import sys

import numpy as np

from minicv.cli import command

_MODELS = ("fcn32s", "fcn16s", "fcn8s", "deconvnet", "segnet")


def _use_backend(name) -> bool:
    from minicv import backend
    try:
        backend.use(name)
    except backend.BackendError as exc:
        print(f"minicv: {exc}", file=sys.stderr)
        return False
    return True


def _train_arguments(parser):
    parser.add_argument("model", choices=_MODELS, metavar="MODEL",
                        help=f"one of {', '.join(_MODELS)}")
    parser.add_argument("--data", default="synthetic",
                        help="'synthetic' (default, built in) or a dataset folder")
    parser.add_argument("--format", choices=["camvid", "voc"], default=None,
                        help="layout of --data (default: detected from the folder)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="passes over the data (default 20, or with --time-limit alone: "
                             "as many as fit in the time)")
    parser.add_argument("--batch-size", type=int, default=16, help="images per step (default 16)")
    parser.add_argument("--lr", type=float, default=None,
                        help="Adam's peak learning rate, decayed by a cosine (default 5e-3 for "
                             "FCN, 1e-3 for DeconvNet and SegNet)")
    parser.add_argument("--schedule", choices=["cosine", "constant"], default="cosine",
                        help="learning-rate schedule (default cosine)")
    parser.add_argument("--preset", choices=["tiny", "small", "paper"], default=None,
                        help="model size (default: tiny on synthetic data, small on folders)")
    parser.add_argument("--weight-decay", type=float, default=1e-4,
                        help="L2 penalty (default 1e-4)")
    parser.add_argument("--size", default=None,
                        help="input size N or HxW (default: 64 synthetic, 90x120 CamVid, "
                             "256 VOC)")
    parser.add_argument("--num-images", type=int, default=None,
                        help="synthetic training images (default: the dataset's)")
    parser.add_argument("--val-images", type=int, default=None,
                        help="synthetic validation images (default: the dataset's)")
    parser.add_argument("--out", default="runs/{model}",
                        help="output folder for checkpoints and pictures (default runs/MODEL)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--class-weights", choices=["none", "median-frequency"], default="none",
                        help="loss weights per class (default none)")
    parser.add_argument("--resume", default=None, metavar="CHECKPOINT",
                        help="continue from a checkpoint written by an earlier run")
    parser.add_argument("--time-limit", type=float, default=None, metavar="MINUTES",
                        help="stop training after this many minutes (then validate); the "
                             "cosine schedule then decays over this time")
    parser.add_argument("--workers", type=int, default=0,
                        help="loader threads for decoding images (default 0)")
    parser.add_argument("--backend", choices=["numpy", "cupy"], default="numpy",
                        help="array library (default numpy)")


@command("train", "Train a segmentation model (FCN-32s/16s/8s, DeconvNet, SegNet) and write "
                  "checkpoints, a validation table and a picture grid.", _train_arguments)
def _train(args) -> int:
    from minicv.engine.segmentation import TrainConfig, fit, parse_size
    if not _use_backend(args.backend):
        return 2
    try:
        cfg = TrainConfig(model=args.model, data=args.data, format=args.format,
                          epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          weight_decay=args.weight_decay, size=parse_size(args.size),
                          num_images=args.num_images, val_images=args.val_images,
                          out=args.out, seed=args.seed,
                          class_weights=args.class_weights, resume=args.resume,
                          time_limit=args.time_limit, workers=args.workers,
                          schedule=args.schedule, preset=args.preset)
        fit(cfg)
    except (ValueError, FileNotFoundError, OSError) as exc:
        print(f"minicv train: {exc}", file=sys.stderr)
        return 2
    return 0


def _eval_arguments(parser):
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help="a .npz written by minicv train")
    parser.add_argument("--data", default=None,
                        help="dataset (default: the one the checkpoint was trained on)")
    parser.add_argument("--format", choices=["camvid", "voc"], default=None)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--backend", choices=["numpy", "cupy"], default="numpy")


@command("eval", "Score a checkpoint on its validation data: pixel accuracy, mean accuracy, "
                 "IoU per class and mIoU.", _eval_arguments)
def _eval(args) -> int:
    from minicv.engine.checkpoint import load_checkpoint
    from minicv.engine.segmentation import TrainConfig, evaluate, make_datasets
    if not _use_backend(args.backend):
        return 2
    try:
        ckpt = load_checkpoint(args.checkpoint)
        model = ckpt.build_model()
        meta = ckpt.meta
        trained = meta.get("train_config", {})
        cfg = TrainConfig(model=meta["model"], data=args.data or trained.get("data", "synthetic"),
                          format=args.format or trained.get("format"),
                          size=tuple(meta["size"]) if meta.get("size") else None,
                          seed=trained.get("seed", 0), val_images=trained.get("val_images"))
        _, val, info = make_datasets(cfg)
        if info.num_classes != meta["num_classes"]:
            raise ValueError(f"{args.checkpoint}: checkpoint has {meta['num_classes']} classes "
                             f"but {cfg.data} has {info.num_classes}")
        from minicv import backend
        if backend.get_array_module() is not np:
            model.to("gpu")
        metrics = evaluate(model, val, info, args.batch_size,
                           trained.get("boundary_width", 2), progress=True)
    except (ValueError, FileNotFoundError, OSError) as exc:
        print(f"minicv eval: {exc}", file=sys.stderr)
        return 2
    print(f"{meta['model']} (epoch {meta.get('epoch')}) on {info.name}, {len(val)} validation "
          f"images:")
    print(metrics.table())
    return 0


def _predict_arguments(parser):
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help="a .npz written by minicv train")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files to segment")
    parser.add_argument("--out", default=None,
                        help="folder for the overlays (default: next to each image)")
    parser.add_argument("--alpha", type=float, default=0.5, help="overlay opacity (default 0.5)")
    parser.add_argument("--backend", choices=["numpy", "cupy"], default="numpy")


def read_rgb(path) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB (``minicv.data``'s reader); ValueError naming the
    file if it cannot be decoded."""
    from minicv.data._io import read_image
    try:
        return read_image(path, op="minicv predict")
    except ValueError as exc:
        raise ValueError(f"{path}: cannot read the image ({exc.__cause__ or exc})") from exc


def segment_image(model, image: np.ndarray, meta: dict) -> np.ndarray:
    """Class per pixel (H, W) for an (H, W, 3) uint8 image, at the image's own resolution.

    The image goes through the validation transforms of training -- resized to the size the
    model was trained at (bilinear) and normalised with the training mean and std -- is
    segmented, and the label map is resized back (nearest neighbour).
    """
    from PIL import Image

    from minicv.data import transforms as T
    from minicv.engine.segmentation import predict
    h, w = image.shape[:2]
    size = tuple(meta["size"]) if meta.get("size") else (h, w)
    x, _ = T.Compose([T.Resize(size), T.Normalize(meta["mean"], meta["std"])])(image, {})
    labels = predict(model, x[None])[0]                                      # (h', w')
    return np.asarray(Image.fromarray(labels.astype(np.uint8)).resize((w, h), Image.NEAREST),
                      dtype=np.int64)


@command("predict", "Segment images with a checkpoint and write colour overlays "
                    "(IMAGE_overlay.png) and label maps (IMAGE_labels.png).", _predict_arguments)
def _predict(args) -> int:
    from minicv.engine.checkpoint import load_checkpoint
    from minicv.viz.segmentation import overlay, save_png
    if not _use_backend(args.backend):
        return 2
    try:
        ckpt = load_checkpoint(args.checkpoint)
        model = ckpt.build_model()
        from minicv import backend
        if backend.get_array_module() is not np:
            model.to("gpu")
        meta = ckpt.meta
        for path in args.images:
            image = read_rgb(path)
            labels = segment_image(model, image, meta)
            stem = os.path.splitext(os.path.basename(path))[0]
            folder = args.out or os.path.dirname(os.path.abspath(path))
            out = os.path.join(folder, f"{stem}_overlay.png")
            save_png(overlay(image, labels, meta["num_classes"], alpha=args.alpha), out)
            from PIL import Image
            Image.fromarray(labels.astype(np.uint8)).save(os.path.join(folder,
                                                                       f"{stem}_labels.png"))
            counts = np.bincount(labels.ravel(), minlength=meta["num_classes"])
            shares = ", ".join(f"{meta['classes'][k]} {100 * c / labels.size:.1f}%"
                               for k, c in enumerate(counts) if c)
            print(f"{path}: {out} ({shares})")
    except (ValueError, FileNotFoundError, OSError) as exc:
        print(f"minicv predict: {exc}", file=sys.stderr)
        return 2
    return 0
