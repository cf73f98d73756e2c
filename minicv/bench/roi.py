"""Suite "roi" (issue 4): the region ops of Fast/Faster/Mask R-CNN against torchvision.ops.

    minicv bench roi [--size small|large] [--backend numpy|cupy]

Large shapes (the issue's): features (2, 256, 50, 50) -- an 800x800 image at stride 16 --
and 512 random rois, spatial_scale 1/16, output 7x7:

- roi_align, sampling_ratio 2, aligned=True (Mask R-CNN's RoIAlign), forward and
  forward+backward (gradient of the features; the rois are constants, as in torchvision);
- roi_pool (Fast R-CNN's RoI max pooling), forward and forward+backward;
- nms on 2000 random boxes at IoU 0.7 (the RPN's proposal filter), forward only.

Small shapes: the same cases on (2, 8, 13, 13) features of a 208x208 image, 32 rois, and nms on
200 boxes, to check that everything runs.

The boxes are drawn by :func:`random_boxes` with fixed seeds (rois: seed 1, their batch indices
seed 2; nms boxes seed 3, scores uniform in [0, 1) seed 4), sides from 1/50 to 1/2 of the image
(16 to 400 pixels at 800x800), so every run and both libraries see the same boxes. torchvision
is the twin when it is installed next to PyTorch (same thread count; its CPU RoI kernels are
single-threaded loops over the output); without it the PyTorch columns read "-".
"""
from __future__ import annotations

import numpy as np

import minicv.functional as F
from minicv import ops
from minicv.bench import Case, suite

__all__ = ["random_boxes", "random_rois"]


def random_boxes(n: int, image_size: float, seed: int, min_size: float = 16.0,
                 max_size: float = 400.0) -> np.ndarray:
    """``n`` random boxes (x1, y1, x2, y2) in a square image, float32, shape (n, 4).

    The distribution: x1 and y1 uniform in [0, image_size); width and height uniform in
    [min_size, max_size]; x2 = min(x1 + width, image_size), likewise y2 (clipped to the image,
    so boxes near the right or bottom border can end up narrower than ``min_size``).
    ``seed`` fixes them: the same boxes on every run, for minicv and torchvision alike.
    """
    rng = np.random.default_rng(seed)
    x1y1 = rng.uniform(0, image_size, (n, 2))                            # (n, 2)
    wh = rng.uniform(min_size, max_size, (n, 2))                         # (n, 2)
    x2y2 = np.minimum(x1y1 + wh, image_size)                             # (n, 2)
    return np.concatenate([x1y1, x2y2], axis=1).astype(np.float32)       # (n, 4)


def random_rois(k: int, batch: int, image_size: float, seed: int, **sizes) -> np.ndarray:
    """``k`` rois (batch_index, x1, y1, x2, y2), float32, shape (k, 5): :func:`random_boxes`
    with a batch index drawn uniformly from 0 .. batch - 1 (seed + 1)."""
    index = np.random.default_rng(seed + 1).integers(0, batch, k)        # (k,)
    boxes = random_boxes(k, image_size, seed, **sizes)                   # (k, 4)
    return np.concatenate([index[:, None].astype(np.float32), boxes], axis=1)   # (k, 5)


def _sizes(image_size):
    """Box sides from 1/50 to 1/2 of the image: 16 to 400 pixels in an 800x800 image."""
    return {"min_size": image_size / 50, "max_size": image_size / 2}


def _roi_cases(ctx, n, c, side, k, image_size, output_size):
    """roi_align and roi_pool on the same features and rois."""
    scale = 1 / 16
    x, x_tv = ctx.leaf(ctx.randn(n, c, side, side))
    rois_host = random_rois(k, n, image_size, seed=1, **_sizes(image_size))
    rois, rois_tv = ctx.leaf(rois_host, requires_grad=False)
    tvops = ctx.torchvision.ops if ctx.torchvision is not None else None
    shape = ctx.shape(x)
    where = f"{k} rois, scale 1/16"
    yield Case(
        f"roi_align {output_size}x{output_size} sampling 2 aligned ({where})", shape,
        lambda: F.roi_align(x, rois, output_size, spatial_scale=scale, sampling_ratio=2,
                            aligned=True),
        tvops and (lambda: tvops.roi_align(x_tv, rois_tv, output_size, spatial_scale=scale,
                                           sampling_ratio=2, aligned=True)),
        leaves=[x], torch_leaves=[x_tv])
    yield Case(
        f"roi_pool {output_size}x{output_size} ({where})", shape,
        lambda: F.roi_pool(x, rois, output_size, spatial_scale=scale),
        tvops and (lambda: tvops.roi_pool(x_tv, rois_tv, output_size, spatial_scale=scale)),
        leaves=[x], torch_leaves=[x_tv])


def _nms_case(ctx, count, image_size, iou_threshold):
    """nms on ``count`` random boxes with uniform random scores: forward only."""
    boxes_host = random_boxes(count, image_size, seed=3, **_sizes(image_size))
    scores_host = np.random.default_rng(4).uniform(size=count).astype(np.float32)
    boxes, boxes_tv = ctx.leaf(boxes_host, requires_grad=False)
    scores, scores_tv = ctx.leaf(scores_host, requires_grad=False)
    tvops = ctx.torchvision.ops if ctx.torchvision is not None else None
    return Case(f"nms IoU {iou_threshold} ({count} boxes)", ctx.shape(boxes),
                lambda: ops.nms(boxes, scores, iou_threshold),
                tvops and (lambda: tvops.nms(boxes_tv, scores_tv, iou_threshold)),
                backward=False)


@suite("roi", "roi_align, roi_pool and nms against torchvision.ops (issue 4)")
def roi(ctx):
    if ctx.large:
        yield from _roi_cases(ctx, n=2, c=256, side=50, k=512, image_size=800, output_size=7)
        yield _nms_case(ctx, count=2000, image_size=800, iou_threshold=0.7)
    else:
        yield from _roi_cases(ctx, n=2, c=8, side=13, k=32, image_size=208, output_size=7)
        yield _nms_case(ctx, count=200, image_size=208, iou_threshold=0.7)
