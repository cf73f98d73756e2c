"""Sliding windows: every box of a few sizes and shapes, on a regular grid -- the baseline that
object proposals replace.

A detector that classifies windows needs one window tight around each object. With windows of
size S (the square root of the area), aspect ratio R = width / height and a stride of a fraction
F of the window's side, a window has width w = S sqrt(R) and height h = S / sqrt(R), and along
each axis the grid holds

    n_x = floor((W - w) / (F w)) + 1,   n_y = floor((H - h) / (F h)) + 1

windows (none when the window is larger than the image), centred so the leftover margin is the
same on both sides. In all, N = sum over sizes and ratios of n_x * n_y. An object of exactly a
window's size and shape is at most half a step from a window, so it overlaps one by
IoU >= q / (2 - q), q = (1 - F/2)^2 (0.78 for F = 1/8); but objects come in every size and shape,
so it takes some 100,000 windows (the defaults on a 500x375 image: 104,063) to frame most of them
well.

Notation: H, W image height and width; S window size; R aspect ratio; F stride fraction.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["sliding_windows", "count_windows", "default_sizes"]

SMALLEST = 24.0        # the default sizes: 24 pixels, growing by sqrt(2) up to the image
SIZE_STEP = math.sqrt(2)
ASPECT_RATIOS = (0.5, 1.0, 2.0)
STRIDE = 0.125


def default_sizes(image_size) -> tuple:
    """Window sizes 24 * sqrt(2)**i for every i with a size not above max(H, W); for an image
    smaller than 24 pixels each way, its shorter side alone."""
    height, width = _check_size("default_sizes", image_size)
    if max(height, width) < SMALLEST:
        return (float(min(height, width)),)
    count = int(math.floor(math.log(max(height, width) / SMALLEST, SIZE_STEP) + 1e-9)) + 1
    return tuple(SMALLEST * SIZE_STEP ** i for i in range(count))


def _check_size(op: str, image_size) -> tuple:
    try:
        height, width = image_size
    except (TypeError, ValueError):
        raise ValueError(f"{op}: image_size must be a pair (H, W), got {image_size!r}") from None
    for name, value in (("height", height), ("width", width)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{op}: image_size must be two integers >= 1, got {image_size!r} "
                             f"({name} {value!r})")
    return int(height), int(width)


def _check_arguments(op: str, image_size, sizes, aspect_ratios, stride):
    height, width = _check_size(op, image_size)
    sizes = default_sizes((height, width)) if sizes is None else tuple(sizes)
    aspect_ratios = tuple(aspect_ratios)
    for name, values in (("sizes", sizes), ("aspect_ratios", aspect_ratios)):
        if not values or not all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                                 and math.isfinite(v) and v > 0 for v in values):
            raise ValueError(f"{op}: {name} must be a non-empty sequence of numbers > 0, got "
                             f"{values!r}")
    if not isinstance(stride, numbers.Real) or not 0 < stride <= 1:
        raise ValueError(f"{op}: stride must be a fraction of the window in (0, 1], got "
                         f"{stride!r}")
    return height, width, sizes, aspect_ratios, float(stride)


def _axis(extent: int, side: float, stride: float) -> np.ndarray:
    """Start coordinates of the windows of length ``side`` along an axis of length ``extent``:
    n = floor((extent - side) / (stride * side)) + 1 of them, centred."""
    if side > extent:
        return np.empty(0)
    step = stride * side
    n = int(math.floor((extent - side) / step + 1e-9)) + 1
    margin = (extent - side - (n - 1) * step) / 2
    return margin + step * np.arange(n)


def count_windows(image_size, sizes=None, aspect_ratios=ASPECT_RATIOS,
                  stride: float = STRIDE) -> int:
    """N, the number of windows :func:`sliding_windows` returns (the formula of the module
    docstring), without making them.

    >>> count_windows((375, 500))
    104063
    """
    height, width, sizes, aspect_ratios, stride = _check_arguments(
        "count_windows", image_size, sizes, aspect_ratios, stride)
    total = 0
    for size in sizes:
        for ratio in aspect_ratios:
            w, h = size * math.sqrt(ratio), size / math.sqrt(ratio)
            total += len(_axis(width, w, stride)) * len(_axis(height, h, stride))
    return total


def sliding_windows(image_size, sizes=None, aspect_ratios=ASPECT_RATIOS,
                    stride: float = STRIDE) -> np.ndarray:
    """Every window of the given sizes and aspect ratios on a regular grid over an image.

    Parameters
    ----------
    image_size : (int, int)
        (H, W) of the image.
    sizes : sequence of float, optional
        Window sizes S = sqrt(width * height) in pixels (default :func:`default_sizes`:
        24, 34, 48, ... up to max(H, W)).
    aspect_ratios : sequence of float
        Width / height of the windows (default 1/2, 1, 2).
    stride : float
        The grid step as a fraction of the window's width (x) and height (y), in (0, 1].

    Returns
    -------
    (N, 4) float32 array
        (x1, y1, x2, y2) windows inside the image, by size, then aspect ratio, then row, then
        column; N = :func:`count_windows`.

    Examples
    --------
    >>> sliding_windows((4, 8), sizes=[4], aspect_ratios=[1], stride=0.5)
    array([[0., 0., 4., 4.],
           [2., 0., 6., 4.],
           [4., 0., 8., 4.]], dtype=float32)
    """
    height, width, sizes, aspect_ratios, stride = _check_arguments(
        "sliding_windows", image_size, sizes, aspect_ratios, stride)
    boxes = []
    for size in sizes:
        for ratio in aspect_ratios:
            w, h = size * math.sqrt(ratio), size / math.sqrt(ratio)
            x1, y1 = np.meshgrid(_axis(width, w, stride), _axis(height, h, stride))  # (ny, nx)
            x1, y1 = x1.ravel(), y1.ravel()
            boxes.append(np.stack([x1, y1, x1 + w, y1 + h], axis=1))               # (nx*ny, 4)
    return np.concatenate(boxes).astype(np.float32)
