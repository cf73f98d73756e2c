"""Joint transforms: change an image and its target together, so the labels stay aligned.

A transform is a callable ``t(image, target) -> (image, target)``; a dataset applies its
``transforms`` argument in ``__getitem__``. Every geometric transform takes a uint8 (H, W, 3)
image; :class:`Normalize` comes last and turns it into float32 (3, H, W). Target keys:

- ``"mask"``   int (H, W) class per pixel: nearest neighbour; padding takes ``ignore_index``
- ``"masks"``  bool (K, H, W) instance masks: nearest neighbour; padding is False
- ``"boxes"``  float (K, 4) (x1, y1, x2, y2) continuous pixel coordinates: scaled, flipped,
  shifted and clipped like the pixels under them
- the per-instance vectors ``"labels"``, ``"iscrowd"``, ``"difficult"``, ``"truncated"``,
  ``"area"``: kept in step with the boxes when a crop drops an instance (``"area"`` is also
  scaled by resizing and recomputed by crops)
- anything else (``"image_id"``, ...) passes through unchanged.

A transform never modifies its input arrays or dict: it returns a new dict.

Nearest neighbour, the pixel-centre rule. Resizing n_in pixels to n_out, output pixel i has its
centre at (i + 0.5) * n_in / n_out in input coordinates and copies the input pixel containing
that point::

    src(i) = floor((i + 0.5) * n_in / n_out) = ((2 i + 1) * n_in) // (2 * n_out)

computed in integers, so it is exact (no rounding surprises at half pixels). PIL's NEAREST and
PyTorch's ``mode='nearest-exact'`` follow this rule; PyTorch's ``'nearest'`` takes
floor(i * n_in / n_out) and shifts labels by up to half an input pixel against the image.
Images are resized with Pillow's bilinear filter, which uses the same pixel-centre alignment
(``align_corners=False``) and averages over the whole footprint when shrinking (antialiasing).

Crops that cut objects (:class:`RandomCrop`, :class:`RandomScaleCrop`) clip the boxes to the
window and drop the instances left with less than ``min_area_fraction`` of their area; the
number dropped is added to ``target["dropped"]`` and to the transform's ``num_dropped``
counter, never lost silently. When instance masks are present the boxes are recomputed as the
tight boxes of the cropped masks, as detectron2 does for Mask R-CNN with crops
(``recompute_boxes``), and the fraction is counted in mask pixels. The semantic ``"mask"`` is
cropped like the image and nothing more: the visible pixels of a dropped instance keep their
class there (they are still that class; only the instance is too cut to detect).

Examples
--------
>>> import numpy as np
>>> image = np.zeros((4, 6, 3), np.uint8)
>>> target = {"mask": np.arange(24).reshape(4, 6), "boxes": np.array([[0., 0., 2., 4.]])}
>>> image, target = Resize((2, 3))(image, target)
>>> target["mask"]                      # rows 1, 3 and columns 1, 3, 5 of the 4 x 6 labels
array([[ 7,  9, 11],
       [19, 21, 23]])
>>> target["boxes"]
array([[0., 0., 1., 2.]])
>>> flip = RandomHorizontalFlip(p=1.0)
>>> flip(image, target)[1]["boxes"]     # x1' = W - x2, x2' = W - x1
array([[2., 0., 3., 2.]])
"""
from __future__ import annotations

import operator
import threading

import numpy as np
from PIL import Image

from minicv.ops.masks import masks_to_boxes  # one definition, shared with COCO

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "INSTANCE_KEYS",
    "Compose",
    "Normalize",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomScaleCrop",
    "Resize",
    "masks_to_boxes",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INSTANCE_KEYS = ("boxes", "labels", "masks", "iscrowd", "difficult", "truncated", "area")


# ---------------------------------------------------------------------------------------------
# Helpers on arrays
# ---------------------------------------------------------------------------------------------
def _describe(x) -> str:
    if isinstance(x, np.ndarray):
        return f"{x.dtype} array of shape {x.shape}"
    return type(x).__name__


def _check(op: str, image, target) -> tuple[int, int]:
    """(H, W) of a valid sample, or a TypeError / ValueError naming what is wrong."""
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
            and image.shape[2] == 3):
        raise TypeError(f"{op}: image must be a uint8 (H, W, 3) array (geometric transforms "
                        f"come before Normalize), got {_describe(image)}")
    if not isinstance(target, dict):
        raise TypeError(f"{op}: target must be a dict, got {type(target).__name__}")
    height, width = image.shape[:2]
    if "mask" in target and tuple(np.shape(target["mask"])) != (height, width):
        raise ValueError(f"{op}: target['mask'] has shape {tuple(np.shape(target['mask']))} "
                         f"but the image is (H, W) = ({height}, {width})")
    if "masks" in target:
        shape = tuple(np.shape(target["masks"]))
        if len(shape) != 3 or shape[1:] != (height, width):
            raise ValueError(f"{op}: target['masks'] has shape {shape} but the image needs "
                             f"(K, {height}, {width})")
    if "boxes" in target:
        shape = tuple(np.shape(target["boxes"]))
        if len(shape) != 2 or shape[1] != 4:
            raise ValueError(f"{op}: target['boxes'] must have shape (K, 4), got {shape}")
    return height, width


def _pair(op: str, name: str, value) -> tuple[int, int]:
    """A positive int or a pair of positive ints as (H, W)."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else value
    try:
        height, width = (operator.index(v) for v in pair)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {name} must be an int or a pair (H, W) of ints, "
                        f"got {value!r}") from None
    if height < 1 or width < 1:
        raise ValueError(f"{op}: {name} must be positive, got (H, W) = ({height}, {width})")
    return height, width


def _box_area(boxes):
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _nearest_index(n_in: int, n_out: int) -> np.ndarray:
    """(n_out,) source index of each output pixel: floor((i + 0.5) * n_in / n_out)."""
    return ((2 * np.arange(n_out) + 1) * n_in) // (2 * n_out)


def _resize(image, target, height: int, width: int):
    """Resize a sample to (height, width): bilinear image, nearest labels, scaled boxes."""
    in_height, in_width = image.shape[:2]
    target = dict(target)
    if (height, width) == (in_height, in_width):
        return image, target
    image = np.array(Image.fromarray(image).resize((width, height), Image.BILINEAR))
    rows = _nearest_index(in_height, height)[:, None]                    # (OH, 1)
    cols = _nearest_index(in_width, width)[None, :]                      # (1, OW)
    if "mask" in target:
        target["mask"] = np.asarray(target["mask"])[rows, cols]          # (OH, OW)
    if "masks" in target:
        target["masks"] = np.asarray(target["masks"])[:, rows, cols]     # (K, OH, OW)
    scale_x, scale_y = width / in_width, height / in_height
    if "boxes" in target:
        boxes = np.asarray(target["boxes"])
        boxes = boxes if boxes.dtype.kind == "f" else boxes.astype(np.float32)
        target["boxes"] = boxes * np.array([scale_x, scale_y, scale_x, scale_y], boxes.dtype)
    if "area" in target:
        area = np.asarray(target["area"], np.float32)
        target["area"] = area * np.float32(scale_x * scale_y)
    return image, target


def _window(array, top: int, left: int, height: int, width: int, fill, axis: int = 0):
    """array[..., top:top + height, left:left + width, ...] with the spatial axes at
    ``axis, axis + 1``; the part of the window past the bottom or right edge is ``fill``."""
    shape = list(array.shape)
    shape[axis:axis + 2] = [height, width]
    out = np.full(shape, fill, array.dtype)
    inside_h = max(0, min(height, array.shape[axis] - top))
    inside_w = max(0, min(width, array.shape[axis + 1] - left))
    lead = (slice(None),) * axis
    out[lead + (slice(0, inside_h), slice(0, inside_w))] = \
        array[lead + (slice(top, top + inside_h), slice(left, left + inside_w))]
    return out


def _crop(image, target, top, left, height, width, fill, ignore_index, min_area_fraction):
    """Cut the window (top, left, height, width) out of a sample, padding past the bottom and
    right edges. Returns (image, target, number of instances dropped)."""
    image = _window(image, top, left, height, width, fill)
    target = dict(target)
    if "mask" in target:
        target["mask"] = _window(np.asarray(target["mask"]), top, left, height, width,
                                 ignore_index)
    keep = None
    if "masks" in target:
        masks = np.asarray(target["masks"], bool)
        before = masks.sum(axis=(1, 2))                                          # (K,)
        masks = _window(masks, top, left, height, width, False, axis=1)          # (K, h, w)
        after = masks.sum(axis=(1, 2))                                           # (K,)
        keep = (after > 0) & (after >= min_area_fraction * before)
        target["masks"] = masks
        if "boxes" in target:
            dtype = np.asarray(target["boxes"]).dtype
            target["boxes"] = masks_to_boxes(masks).astype(dtype if dtype.kind == "f"
                                                            else np.float32)
        if "area" in target:
            target["area"] = after.astype(np.float32)
    elif "boxes" in target:
        boxes = np.asarray(target["boxes"])
        boxes = boxes if boxes.dtype.kind == "f" else boxes.astype(np.float32)
        shift = np.array([left, top, left, top], boxes.dtype)
        limit = np.array([width, height, width, height], boxes.dtype)
        clipped = np.clip(boxes - shift, 0, limit)                               # (K, 4)
        before, after = _box_area(boxes), _box_area(clipped)
        keep = ((clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])
                & (after >= min_area_fraction * before))
        target["boxes"] = clipped
        if "area" in target:
            target["area"] = after.astype(np.float32)
    if keep is None:
        return image, target, 0
    for key in INSTANCE_KEYS:
        if key in target:
            target[key] = np.asarray(target[key])[keep]
    dropped = int((~keep).sum())
    target["dropped"] = int(target.get("dropped", 0)) + dropped
    return image, target, dropped


class _Random:
    """Base of the random transforms: its own generator, and a thread-safe dropped counter."""

    def __init__(self, seed=None):
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.num_dropped = 0
        self._lock = threading.Lock()

    def _count(self, dropped: int) -> None:
        if dropped:
            with self._lock:
                self.num_dropped += dropped


# ---------------------------------------------------------------------------------------------
# The transforms
# ---------------------------------------------------------------------------------------------
class Compose:
    """Apply transforms one after another: ``Compose([Resize(64), Normalize()])``."""

    def __init__(self, transforms):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got "
                                f"{type(t).__name__}")

    def __call__(self, image, target):
        for t in self.transforms:
            image, target = t(image, target)
        return image, target

    def __repr__(self):
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"


class Resize:
    """Resize to a fixed size, or the shorter side to a length (torchvision's rule).

    Parameters
    ----------
    size : int or (int, int)
        (H, W): exactly that size. An int: the shorter side becomes ``size`` and the longer
        ``int(size * long / short)`` (truncated, as torchvision).
    max_size : int, optional
        With an int ``size`` only: if the longer side would exceed ``max_size``, it becomes
        ``max_size`` and the shorter ``int(max_size * short / long)`` (Faster R-CNN's
        "shorter side 600, longer at most 1000").

    The image is resized bilinearly, ``mask``/``masks`` by exact nearest neighbour (the
    pixel-centre rule in the module docstring), ``boxes`` scaled by (W'/W, H'/H).
    """

    def __init__(self, size, max_size: int | None = None):
        if isinstance(size, (int, np.integer)):
            if size < 1:
                raise ValueError(f"Resize: size must be positive, got {size}")
            if max_size is not None and max_size <= size:
                raise ValueError(f"Resize: max_size must be larger than size, got "
                                 f"max_size={max_size} and size={size}")
            self.size = int(size)
        else:
            if max_size is not None:
                raise ValueError(f"Resize: max_size applies only to an int size (the shorter "
                                 f"side), got size={size!r}")
            self.size = _pair("Resize", "size", size)
        self.max_size = max_size

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """(H', W') for an input of (height, width)."""
        if isinstance(self.size, tuple):
            return self.size
        short, long = (width, height) if width <= height else (height, width)
        new_short, new_long = self.size, int(self.size * long / short)
        if self.max_size is not None and new_long > self.max_size:
            new_short, new_long = int(self.max_size * new_short / new_long), self.max_size
        return (new_long, new_short) if width <= height else (new_short, new_long)

    def __call__(self, image, target):
        height, width = _check("Resize", image, target)
        return _resize(image, target, *self.output_size(height, width))

    def __repr__(self):
        return f"Resize(size={self.size}, max_size={self.max_size})"


class RandomHorizontalFlip(_Random):
    """Mirror left-right with probability ``p``: columns reversed, x1' = W - x2, x2' = W - x1.

    Parameters
    ----------
    p : float
        Probability of flipping.
    seed : int, optional
        Seed of the transform's own ``np.random.Generator``.
    """

    def __init__(self, p: float = 0.5, seed=None):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        super().__init__(seed)
        self.p = p

    def __call__(self, image, target):
        height, width = _check("RandomHorizontalFlip", image, target)
        target = dict(target)
        if not self.rng.random() < self.p:
            return image, target
        image = image[:, ::-1].copy()
        if "mask" in target:
            target["mask"] = np.asarray(target["mask"])[:, ::-1].copy()
        if "masks" in target:
            target["masks"] = np.asarray(target["masks"])[:, :, ::-1].copy()
        if "boxes" in target:
            boxes = np.asarray(target["boxes"])
            flipped = boxes.copy()
            flipped[:, 0] = width - boxes[:, 2]
            flipped[:, 2] = width - boxes[:, 0]
            target["boxes"] = flipped
        return image, target

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


class RandomCrop(_Random):
    """Cut a random window of a fixed size; pad past the bottom/right if the image is smaller.

    Parameters
    ----------
    size : int or (int, int)
        (h, w) of the window.
    min_area_fraction : float
        An instance keeping less than this fraction of its area (of its mask pixels when
        ``masks`` is present) is dropped; the count goes to ``target["dropped"]`` and
        ``self.num_dropped``.
    ignore_index : int
        Label of padded ``mask`` pixels (pass the dataset's ignore label; 255 by default).
    fill : int or (int, int, int)
        Colour of padded image pixels.
    seed : int, optional
        Seed of the transform's own generator.

    Boxes are shifted by the window origin and clipped to it (or recomputed from the cropped
    masks when present; see the module docstring).
    """

    def __init__(self, size, min_area_fraction: float = 0.3, ignore_index: int = 255,
                 fill=0, seed=None):
        if not 0.0 <= min_area_fraction <= 1.0:
            raise ValueError(f"RandomCrop: min_area_fraction must be in [0, 1], got "
                             f"{min_area_fraction}")
        super().__init__(seed)
        self.size = _pair("RandomCrop", "size", size)
        self.min_area_fraction = min_area_fraction
        self.ignore_index = ignore_index
        self.fill = fill

    def _crop_random(self, image, target):
        height, width = image.shape[:2]
        crop_h, crop_w = self.size
        top = int(self.rng.integers(0, max(height - crop_h, 0) + 1))
        left = int(self.rng.integers(0, max(width - crop_w, 0) + 1))
        image, target, dropped = _crop(image, target, top, left, crop_h, crop_w, self.fill,
                                       self.ignore_index, self.min_area_fraction)
        self._count(dropped)
        return image, target

    def __call__(self, image, target):
        _check("RandomCrop", image, target)
        return self._crop_random(image, target)

    def __repr__(self):
        return (f"RandomCrop(size={self.size}, min_area_fraction={self.min_area_fraction}, "
                f"ignore_index={self.ignore_index})")


class RandomScaleCrop(RandomCrop):
    """Scale by a random factor, then cut (or pad to) a fixed-size window: the usual
    segmentation augmentation (FCN/DeepLab training: random scale, crop, ignore-label padding).

    Parameters
    ----------
    size : int or (int, int)
        (h, w) of the output.
    scale : (float, float)
        The factor s ~ Uniform(low, high) applied to both sides (rounded to whole pixels).
    ignore_index : int
        Label of padded ``mask`` pixels: pass the dataset's (255 by default).
    fill, min_area_fraction, seed
        As in :class:`RandomCrop`.
    """

    def __init__(self, size, scale=(0.5, 2.0), ignore_index: int = 255, fill=0,
                 min_area_fraction: float = 0.3, seed=None):
        low, high = scale
        if not 0 < low <= high:
            raise ValueError(f"RandomScaleCrop: scale must be (low, high) with "
                             f"0 < low <= high, got {scale!r}")
        super().__init__(size, min_area_fraction=min_area_fraction, ignore_index=ignore_index,
                         fill=fill, seed=seed)
        self.scale = (float(low), float(high))

    def __call__(self, image, target):
        height, width = _check("RandomScaleCrop", image, target)
        factor = self.rng.uniform(*self.scale)
        image, target = _resize(image, target, max(1, round(height * factor)),
                                max(1, round(width * factor)))
        return self._crop_random(image, target)

    def __repr__(self):
        return (f"RandomScaleCrop(size={self.size}, scale={self.scale}, "
                f"ignore_index={self.ignore_index})")


class Normalize:
    """uint8 (H, W, 3) -> float32 (3, H, W): (image / 255 - mean) / std per channel.

    The last transform: it changes the layout to the networks' (C, H, W). The target passes
    through unchanged. ``Normalize(mean=(0, 0, 0), std=(1, 1, 1))`` just scales to [0, 1].

    Parameters
    ----------
    mean, std : (float, float, float)
        Per RGB channel, on the [0, 1] scale; ImageNet's by default.
    """

    def __init__(self, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        self.mean = np.asarray(mean, np.float32).reshape(-1)
        self.std = np.asarray(std, np.float32).reshape(-1)
        if self.mean.shape != (3,) or self.std.shape != (3,):
            raise ValueError(f"Normalize: mean and std need 3 values (R, G, B), got "
                             f"{self.mean.shape[0]} and {self.std.shape[0]}")
        if not (self.std > 0).all():
            raise ValueError(f"Normalize: std must be positive, got {self.std.tolist()}")

    def __call__(self, image, target):
        if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
                and image.shape[2] == 3):
            raise TypeError(f"Normalize: image must be a uint8 (H, W, 3) array, got "
                            f"{_describe(image)} (is Normalize applied twice?)")
        scaled = image.astype(np.float32) * np.float32(1 / 255)               # (H, W, 3)
        out = (scaled - self.mean) / self.std                                  # (H, W, 3)
        return np.ascontiguousarray(out.transpose(2, 0, 1)), target           # (3, H, W)

    def __repr__(self):
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"
