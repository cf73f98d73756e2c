"""Training, evaluation and prediction for semantic segmentation (FCN, DeconvNet, SegNet).

The loop is the one every segmentation paper describes: per-pixel class scores
``logits = model(images)`` of shape (N, C, H, W), the pixel-wise cross-entropy against the
(N, H, W) label map (pixels carrying the ignore label contribute nothing; optional class weights
counter class imbalance, as SegNet's median-frequency balancing), backward, optimiser step. One
epoch is one pass over the training set; after each, the model is scored on the validation set
(confusion matrix -> pixel accuracy, mean accuracy, IoU per class, mIoU) and a checkpoint is
written, so a run can be resumed from any epoch.

    fit(TrainConfig(model="fcn8s"))            # what `minicv train fcn8s` runs

Data: the built-in synthetic shapes (default; no files), a CamVid-style folder or a Pascal VOC
segmentation folder; see :func:`make_datasets`.
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np

import minicv.functional as F
from minicv import backend, optim
from minicv.autograd import Tensor, no_grad
from minicv.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from minicv.engine.checkpoint import load_checkpoint, save_checkpoint

__all__ = [
    "DEFAULT_EPOCHS",
    "DEFAULT_LR",
    "UNLIMITED",
    "DataInfo",
    "TrainConfig",
    "class_weights",
    "cosine_lr",
    "evaluate",
    "fit",
    "make_datasets",
    "parse_size",
    "predict",
    "resolve_defaults",
    "stride_ceiling",
    "train_step",
]

DEFAULT_EPOCHS = 20
UNLIMITED = sys.maxsize                # epochs when only --time-limit ends training

# Adam's peak learning rate per model when --lr is not given. FCN trains well at 5e-3; the
# deeper DeconvNet/SegNet decoders (twice the layers, unpooling) do not learn the classes at that
# rate -- 5 minutes on the synthetic shapes: 0.19 val mIoU at 5e-3, 0.36 at 1e-3 (RESULTS.md).
DEFAULT_LR = {"fcn32s": 5e-3, "fcn16s": 5e-3, "fcn8s": 5e-3, "deconvnet": 1e-3, "segnet": 1e-3}


@dataclass
class TrainConfig:
    """Everything ``minicv train`` takes (its command-line options, one field each)."""
    model: str = "fcn8s"
    data: str = "synthetic"            # "synthetic" or a folder
    format: str | None = None          # "camvid" | "voc" for a folder
    epochs: int | None = None          # None: 20, or as many as --time-limit allows
    batch_size: int = 16
    lr: float | None = None            # Adam's peak learning rate; None = DEFAULT_LR[model]
    schedule: str = "cosine"           # "cosine" (decays to 0 by the end) | "constant"
    weight_decay: float = 1e-4
    size: tuple | None = None          # (H, W) the network sees; None = the data's default
    num_images: int | None = None      # synthetic training images (None = the dataset default)
    val_images: int | None = None      # synthetic validation images (None = the dataset default)
    out: str = "runs/{model}"
    seed: int = 0
    class_weights: str = "none"        # "none" | "median-frequency" (SegNet)
    resume: str | None = None
    time_limit: float | None = None    # minutes of training, then validate and stop
    boundary_width: int = 2            # band (px) around label edges for boundary accuracy
    workers: int = 0                   # loader threads (CamVid/VOC decoding)
    preset: str | None = None          # model size: None = "tiny" on synthetic, else "small"
    model_options: dict = field(default_factory=dict)   # overrides of the model's config
    progress: bool = True


@dataclass
class DataInfo:
    """What the model and the pictures need to know about the data."""
    name: str
    classes: tuple
    ignore_index: int | None
    size: tuple | None
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def parse_size(text):
    """ "64" -> (64, 64); "90x120" -> (90, 120) (height x width); None stays None."""
    if text is None or isinstance(text, tuple):
        return text
    if isinstance(text, int):
        return (text, text)
    parts = str(text).lower().split("x")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) not in (1, 2) or min(values) < 1:
        raise ValueError(f"size must be N or HxW with positive integers, got {text!r}")
    return values * 2 if len(values) == 1 else values


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
def _detect_format(root: str) -> str:
    if os.path.isdir(os.path.join(root, "SegmentationClass")):
        return "voc"
    if os.path.isdir(os.path.join(root, "trainannot")):
        return "camvid"
    raise ValueError(f"--data {root}: cannot tell its layout (no SegmentationClass/ for VOC, no "
                     "trainannot/ for CamVid); pass --format camvid|voc")


def make_datasets(cfg: TrainConfig):
    """(train, val, DataInfo) for ``cfg.data`` / ``cfg.format`` / ``cfg.size``.

    - synthetic: ``SyntheticShapes`` splits "train" and "val" at ``size`` (default 64x64).
    - camvid: ``CamVid`` split by sequence (frames of 0006R0 held out), resized to ``size``
      (default 90x120, a quarter of 360x480), ignore label 11.
    - voc: ``VOCSegmentation`` image sets "train" and "val", resized to ``size``
      (default 256x256), ignore label 255.
    Training samples are flipped left-right at random (seeded); all are normalised with the
    ImageNet mean and standard deviation.
    """
    from minicv import data
    from minicv.data import transforms as T

    size = parse_size(cfg.size)
    flip_seed = cfg.seed + 1
    if cfg.data == "synthetic":
        if cfg.format not in (None, "synthetic"):
            raise ValueError(f"--format {cfg.format} needs --data PATH (a folder)")
        size = size or (64, 64)
        normalize = T.Normalize(IMAGENET_MEAN, IMAGENET_STD)
        kwargs = {"image_size": size, "seed": cfg.seed, "cache": True}   # drawn once
        train = data.SyntheticShapes(
            "train", num_images=cfg.num_images,
            transforms=T.Compose([T.RandomHorizontalFlip(seed=flip_seed), normalize]), **kwargs)
        val = data.SyntheticShapes("val", num_images=cfg.val_images, transforms=normalize,
                                   **kwargs)
        info = DataInfo("synthetic", tuple(train.classes), None, size)
        return train, val, info

    root = cfg.data
    if not os.path.isdir(root):
        raise FileNotFoundError(f"--data {root}: no such folder")
    fmt = cfg.format or _detect_format(root)
    if fmt not in ("camvid", "voc"):
        raise ValueError(f"--format must be camvid or voc, got {fmt!r}")
    size = size or ((90, 120) if fmt == "camvid" else (256, 256))

    def make(split, tf):
        if fmt == "camvid":
            return data.CamVid(root, split=split, transforms=tf)
        return data.VOCSegmentation(root, image_set=split, transforms=tf)
    normalize = T.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    train = make("train", T.Compose([T.Resize(size), T.RandomHorizontalFlip(seed=flip_seed),
                                     normalize]))
    val = make("val", T.Compose([T.Resize(size), normalize]))
    info = DataInfo(fmt, tuple(train.classes), train.ignore_index, size)
    return train, val, info


def class_weights(dataset, num_classes: int, ignore_index=None, method="median-frequency"):
    """Per-class loss weights from the label frequencies of ``dataset`` (C,) float32.

    median-frequency (Eigen & Fergus 2015, used by SegNet): ``w_c = median(f) / f_c`` with
    ``f_c`` = pixels of class c / pixels of the images where c is present. A class never seen
    gets weight 0 (it has nothing to learn from).
    """
    if method != "median-frequency":
        raise ValueError(f"class_weights: method must be 'median-frequency', got {method!r}")
    pixels = np.zeros(num_classes, np.int64)
    present_in = np.zeros(num_classes, np.int64)          # pixels of images containing c
    for i in range(len(dataset)):
        mask = np.asarray(dataset[i][1]["mask"])
        valid = mask[mask != ignore_index] if ignore_index is not None else mask.ravel()
        counts = np.bincount(valid.ravel(), minlength=num_classes)[:num_classes]
        pixels += counts
        present_in += np.where(counts > 0, valid.size, 0)
    freq = np.where(present_in > 0, pixels / np.maximum(present_in, 1), 0.0)
    seen = freq > 0
    weights = np.zeros(num_classes)
    weights[seen] = np.median(freq[seen]) / freq[seen]
    return weights.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# One step, evaluation, prediction
# ---------------------------------------------------------------------------------------------
def train_step(model, optimizer, images, masks, ignore_index=None, weight=None) -> float:
    """Forward, pixel-wise cross-entropy, backward, update. Returns the loss.

    images : (N, 3, H, W) float array; masks : (N, H, W) int64 class indices.
    """
    xp = backend.get_array_module()
    x = Tensor(xp.asarray(images))
    target = xp.asarray(masks)
    logits = model(x)                                          # (N, C, H, W)
    loss = F.cross_entropy(logits, target, weight=weight,
                           ignore_index=-100 if ignore_index is None else ignore_index)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss.item())


def predict(model, images, batch_size: int = 16) -> np.ndarray:
    """Class index per pixel, (N, H, W) int64 on the CPU, for (N, 3, H, W) normalised images.

    The model is put in evaluation mode (BatchNorm uses its running statistics, dropout is off)
    and no graph is recorded.
    """
    xp = backend.get_array_module()
    model.eval()
    out = []
    with no_grad():
        for start in range(0, len(images), batch_size):
            logits = model(Tensor(xp.asarray(images[start:start + batch_size])))
            out.append(backend.to_cpu(logits.data.argmax(axis=1)).astype(np.int64))
    return np.concatenate(out) if out else np.zeros((0,) + tuple(images.shape[2:]), np.int64)


def evaluate(model, dataset, info: DataInfo, batch_size: int = 16, boundary_width=2,
             progress: bool = False):
    """Score ``model`` on ``dataset``: a filled :class:`minicv.metrics.SegmentationMetrics`."""
    from tqdm import tqdm

    from minicv.data import DataLoader, collate_segmentation
    from minicv.metrics import SegmentationMetrics

    metrics = SegmentationMetrics(info.num_classes, ignore_index=info.ignore_index,
                                  class_names=info.classes, boundary_width=boundary_width)
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=collate_segmentation)
    for images, masks in tqdm(loader, desc="validate", unit="batch", leave=False,
                              disable=not progress, file=sys.stderr):
        metrics.update(predict(model, images, batch_size), masks)
    return metrics


# ---------------------------------------------------------------------------------------------
# The whole run
# ---------------------------------------------------------------------------------------------
def _meta(cfg, model, info, epoch, metrics=None):
    return {"model": model.name, "num_classes": info.num_classes,
            "config": asdict(model.config), "classes": list(info.classes),
            "ignore_index": info.ignore_index, "size": list(info.size) if info.size else None,
            "mean": list(info.mean), "std": list(info.std), "data": info.name,
            "epoch": epoch, "train_config": {k: v for k, v in asdict(cfg).items()
                                             if k not in ("progress",)},
            "metrics": metrics or {}}


def _summary(result) -> dict:
    return {k: float(result[k]) for k in ("pixel_accuracy", "mean_accuracy", "miou", "fwiou",
                                          "boundary_accuracy") if k in result}


def cosine_lr(peak: float, progress: float) -> float:
    """Cosine decay (Loshchilov & Hutter 2017) from ``peak`` at progress 0 to 0 at progress 1.

    ``fit`` measures progress in steps *and*, under ``--time-limit``, in training time, and
    takes the larger, so a time-limited run still ends with a fully decayed learning rate.
    """
    return 0.5 * peak * (1.0 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))


def resolve_defaults(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with the defaults that depend on other fields filled in, and checked.

    - ``lr=None``: the model's DEFAULT_LR (checkpoints record the rate actually used).
    - ``epochs=None``: DEFAULT_EPOCHS, or, under ``--time-limit``, UNLIMITED -- the time alone
      ends training, and the cosine decays over that time.
    """
    if cfg.schedule not in ("cosine", "constant"):
        raise ValueError(f"train: --schedule must be cosine or constant, got {cfg.schedule!r}")
    if cfg.lr is None:
        cfg = replace(cfg, lr=DEFAULT_LR.get(cfg.model, 5e-3))
    if cfg.epochs is None:
        cfg = replace(cfg, epochs=DEFAULT_EPOCHS if cfg.time_limit is None else UNLIMITED)
    if cfg.epochs < 1 or cfg.batch_size < 1 or cfg.lr <= 0:
        raise ValueError(f"train: --epochs and --batch-size must be >= 1 and --lr > 0, got "
                         f"{cfg.epochs}, {cfg.batch_size}, {cfg.lr}")
    if cfg.time_limit is not None and not cfg.time_limit > 0:
        raise ValueError(f"train: --time-limit must be > 0 minutes, got {cfg.time_limit}")
    return cfg


def fit(cfg: TrainConfig, log=print) -> dict:
    """Train ``cfg.model`` on ``cfg.data``; write checkpoints and pictures into ``cfg.out``.

    Returns a dict with the final validation metrics (``miou``, ``pixel_accuracy``, ...),
    ``history`` (per epoch: loss, seconds, images/s, val mIoU), ``out`` and ``checkpoint``.
    """
    from tqdm import tqdm

    from minicv.data import DataLoader, collate_segmentation
    from minicv.models import get_model

    cfg = resolve_defaults(cfg)
    train_set, val_set, info = make_datasets(cfg)
    out = cfg.out.format(model=cfg.model)
    os.makedirs(out, exist_ok=True)

    from minicv.nn import init
    init.manual_seed(cfg.seed)
    preset = cfg.preset or ("tiny" if info.name == "synthetic" else "small")
    model = get_model(cfg.model, info.num_classes, preset=preset, **cfg.model_options)
    xp = backend.get_array_module()
    if xp is not np:
        model.to("gpu")
    optimizer = optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    start_epoch = 1
    if cfg.resume:
        ckpt = load_checkpoint(cfg.resume)
        ckpt.check_model(cfg.model, info.num_classes)
        model.load_state_dict(ckpt.model_state)
        if ckpt.optimizer_state is not None:
            optimizer.load_state_dict(ckpt.optimizer_state)
        start_epoch = int(ckpt.meta.get("epoch", 0)) + 1
        log(f"resumed from {cfg.resume} (epoch {start_epoch - 1})")

    weight = None
    if cfg.class_weights != "none":
        weights = class_weights(train_set, info.num_classes, info.ignore_index,
                                cfg.class_weights)
        weight = xp.asarray(weights)
        log("class weights: " + ", ".join(f"{c} {w:.2f}" for c, w in zip(info.classes, weights)))

    loader = DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True, drop_last=True,
                        collate_fn=collate_segmentation, seed=cfg.seed, num_workers=cfg.workers)
    log(f"train {cfg.model} ({model.num_parameters():,} parameters) on {info.name}: "
        f"{len(train_set)} training / {len(val_set)} validation images at "
        f"{info.size[0]}x{info.size[1]}, {info.num_classes} classes, batch {cfg.batch_size}, "
        f"Adam lr {cfg.lr:g} ({cfg.schedule}); output in {out}/")
    history, result = [], None
    budget = cfg.time_limit * 60.0 if cfg.time_limit else math.inf
    trained, stop = 0.0, False
    # the cosine's progress: steps done of all planned, or training time spent of the budget
    total_steps = (cfg.epochs - start_epoch + 1) * len(loader) if cfg.epochs < UNLIMITED \
        else math.inf
    step = 0
    checkpoint = None
    of = cfg.epochs if cfg.epochs < UNLIMITED else "-"
    for epoch in range(start_epoch, cfg.epochs + 1):
        model.train()
        losses, seen, t0 = [], 0, time.perf_counter()
        bar = tqdm(loader, desc=f"epoch {epoch}/{of}", unit="batch", disable=not cfg.progress,
                   file=sys.stderr)
        for images, masks in bar:
            if cfg.schedule == "cosine":
                progress = max(step / total_steps, (trained + time.perf_counter() - t0) / budget)
                for group in optimizer.param_groups:
                    group["lr"] = cosine_lr(cfg.lr, progress)
            losses.append(train_step(model, optimizer, images, masks, info.ignore_index, weight))
            seen += len(images)
            step += 1
            elapsed = time.perf_counter() - t0
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}",
                            img_s=f"{seen / max(elapsed, 1e-9):.1f}")
            if trained + elapsed >= budget:
                stop = True
                break
        bar.close()
        seconds = time.perf_counter() - t0
        trained += seconds
        result = evaluate(model, val_set, info, cfg.batch_size, cfg.boundary_width).compute()
        row = {"epoch": epoch, "loss": float(np.mean(losses)) if losses else math.nan,
               "seconds": seconds, "images_per_s": seen / max(seconds, 1e-9),
               **_summary(result)}
        history.append(row)
        log(f"epoch {epoch}: loss {row['loss']:.4f}, {row['images_per_s']:.1f} images/s, "
            f"val mIoU {row['miou']:.4f}, pixel acc {row['pixel_accuracy']:.4f} "
            f"({trained / 60:.1f} min trained)")
        checkpoint = os.path.join(out, f"epoch_{epoch:03d}.npz")
        save_checkpoint(checkpoint, model, _meta(cfg, model, info, epoch, _summary(result)),
                        optimizer)
        if stop:
            log(f"time limit of {cfg.time_limit:g} min reached")
            break
    if result is None:
        raise ValueError(f"train: nothing to do: resumed at epoch {start_epoch} > --epochs "
                         f"{cfg.epochs}")
    final = os.path.join(out, "model.npz")
    save_checkpoint(final, model, _meta(cfg, model, info, history[-1]["epoch"],
                                        _summary(result)), optimizer)
    metrics = evaluate(model, val_set, info, cfg.batch_size, cfg.boundary_width)
    log("\nvalidation (" + f"{len(val_set)} images):\n" + metrics.table())
    ceiling = stride_ceiling(model, val_set, info)
    if ceiling is not None:
        log(f"\nresolution ceiling of a stride-{model.output_stride} network on these labels "
            f"(a perfect stride-{model.output_stride} score map upsampled bilinearly, "
            f"minicv.metrics.stride_oracle): mIoU {ceiling:.4f}")
    grid = save_prediction_grid(model, val_set, info, os.path.join(out, "predictions.png"))
    log(f"\ncheckpoint: {final}\npictures:   {grid}")
    return {**_summary(result), "iou": np.asarray(result["iou"]).tolist(), "history": history,
            "out": out, "checkpoint": final, "minutes": trained / 60,
            "stride_ceiling": ceiling}


def stride_ceiling(model, dataset, info: DataInfo) -> float | None:
    """The validation mIoU of ``minicv.metrics.stride_oracle`` at the model's output stride --
    what a PERFECT coarse score map would score after FCN's bilinear upsampling -- or None for
    a model that decodes to full resolution (no ``output_stride``, or stride 1).

    Printed at the end of ``minicv train`` for the FCNs: it says how much of the gap to 1.0 is
    the stride's, not the training's (docs/segmentation.md, "How fine can a stride-s FCN
    draw?").
    """
    stride = getattr(model, "output_stride", 1)
    if stride <= 1 or len(dataset) == 0:
        return None
    from minicv.metrics import SegmentationMetrics, stride_oracle
    metrics = SegmentationMetrics(info.num_classes, info.ignore_index)
    for index in range(len(dataset)):
        mask = np.asarray(dataset[index][1]["mask"])
        metrics.update(stride_oracle(mask, info.num_classes, stride, info.ignore_index), mask)
    return float(metrics.compute()["miou"])


def save_prediction_grid(model, dataset, info: DataInfo, path, count: int = 6) -> str:
    """image | ground truth | prediction for the first ``count`` images of ``dataset``."""
    from minicv.viz.segmentation import denormalize, segmentation_grid

    samples = [dataset[i] for i in range(min(count, len(dataset)))]
    images = np.stack([s[0] for s in samples]).astype(np.float32)
    preds = predict(model, images)
    scale = max(1, 192 // max(images.shape[2], images.shape[3]))
    segmentation_grid({"image": [denormalize(im, info.mean, info.std) for im in images],
                       "ground truth": [s[1]["mask"] for s in samples],
                       "prediction": list(preds)},
                      classes=info.classes, ignore_index=info.ignore_index, scale=scale,
                      path=path)
    return path
