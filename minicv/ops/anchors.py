"""Anchors: the fixed reference boxes the Region Proposal Network scores and refines.

Faster R-CNN (Ren et al. 2015, Section 3.1) slides a small network over a feature map and, at
every position, predicts an objectness score and box deltas for A boxes of different sizes and
shapes centred there -- the anchors. They are the same for every image, so they are generated,
not learnt:

1. Cell anchors: for each size s and aspect ratio r = h / w, a box of area about s^2 centred on
   (0, 0):  h = s * sqrt(r),  w = s / sqrt(r),  box = round((-w / 2, -h / 2, w / 2, h / 2)).
   A = len(sizes) * len(aspect_ratios) per position, ratio-major:
   (r0, s0), (r0, s1), ..., (r1, s0), ...
2. Grid: a feature map of FH x FW cells at stride (SH, SW) = (H // FH, W // FW) of the
   (padded) image; cell (i, j) shifts the cell anchors by (j * SW, i * SH). The anchors come
   out as (FH * FW * A, 4), ordered (y, x, anchor): all A anchors of cell (0, 0), then of cell
   (0, 1), ... -- the order of the RPN head's (A * 4, FH, FW) output permuted to (FH, FW, A, 4).

With a feature pyramid (FPN) each level gets its own sizes (one per level, ``sizes=((32,),
(64,), (128,), (256,), (512,))``) and the levels' anchors are concatenated.

Everything follows torchvision's AnchorGenerator exactly, rounding included: cell anchors are
computed in float32 and rounded half to even (torch.round), the shift is anchored at the
cell's top-left corner (cell (0, 0) is centred at the image's origin, not at half a stride),
and the stride is the padded batch size divided by the feature map size, rounded down. The
anchors are equal to torchvision 0.29's, element for element.

Notation: H, W the (padded) image size; FH, FW a feature map's size; SH, SW its stride; A the
anchors per position.

References: Ren, He, Girshick & Sun, "Faster R-CNN: Towards Real-Time Object Detection with
Region Proposal Networks", NeurIPS 2015, Section 3.1.1; Lin et al., "Feature Pyramid Networks
for Object Detection", CVPR 2017, Section 4.1; torchvision,
torchvision/models/detection/anchor_utils.py.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from minicv import backend
from minicv.autograd import Tensor

__all__ = ["AnchorGenerator"]


def _cell_anchors(sizes, aspect_ratios) -> np.ndarray:
    """(A, 4) float32 anchors centred on (0, 0), ratio-major (torchvision's generate_anchors)."""
    scales = np.asarray(sizes, dtype=np.float32)                 # (S,)
    ratios = np.asarray(aspect_ratios, dtype=np.float32)         # (R,)  r = h / w
    h_ratios = np.sqrt(ratios)                                   # (R,)
    w_ratios = 1 / h_ratios                                      # (R,)  so that w * h = s^2
    ws = (w_ratios[:, None] * scales[None, :]).reshape(-1)       # (R * S,)
    hs = (h_ratios[:, None] * scales[None, :]).reshape(-1)       # (R * S,)
    base = np.stack([-ws, -hs, ws, hs], axis=1) / 2              # (A, 4)
    return np.round(base)                                        # half to even, as torch


def _shape_of(name: str, x) -> tuple:
    """The shape of an array or Tensor, or ``x`` itself when it is already a shape."""
    if isinstance(x, Tensor) or backend.is_array(x):
        return tuple(x.shape)
    try:
        shape = tuple(_integer(s) for s in x)
    except TypeError:
        raise TypeError(f"AnchorGenerator: {name} must be an array, a Tensor or a shape tuple, "
                        f"got {type(x).__name__}") from None
    return shape


def _integer(s) -> int:
    if isinstance(s, bool) or not isinstance(s, numbers.Integral):
        raise TypeError(f"not an integer: {s!r}")
    return int(s)


def _nested(name: str, values) -> tuple:
    """``values`` as a tuple of tuples of positive floats (torchvision's nesting rules)."""
    try:
        values = tuple(values)
        if values and not isinstance(values[0], (list, tuple)):
            values = (values,)
        values = tuple(tuple(float(v) for v in level) for level in values)
    except (TypeError, ValueError):
        raise ValueError(f"AnchorGenerator: {name} must be a tuple of tuples of numbers, one "
                         f"tuple per feature map, got {values!r}") from None
    if not values or not all(level for level in values):
        raise ValueError(f"AnchorGenerator: {name} needs at least one value per feature map, "
                         f"got {values!r}")
    if not all(v > 0 and math.isfinite(v) for level in values for v in level):
        raise ValueError(f"AnchorGenerator: {name} must be positive and finite, got {values!r}")
    return values


class AnchorGenerator:
    """Anchors for every position of one or more feature maps (torchvision's AnchorGenerator).

    Parameters
    ----------
    sizes : tuple of tuples of float
        Anchor sizes (square root of the area, in image pixels), one tuple per feature map.
        A flat tuple such as (32, 64, 128) means one size per feature map, as in torchvision.
    aspect_ratios : tuple of tuples of float
        Ratios h / w, one tuple per feature map; a single tuple is used for every map.

    Attributes
    ----------
    cell_anchors : list of (A_l, 4) float32 NumPy arrays
        The anchors of one position of each feature map, centred on (0, 0).

    Examples
    --------
    The single-level RPN of the Faster R-CNN paper: 3 sizes x 3 ratios = 9 anchors a position.

    >>> gen = AnchorGenerator(sizes=((128, 256, 512),), aspect_ratios=((0.5, 1.0, 2.0),))
    >>> gen.num_anchors_per_location()
    [9]
    >>> gen.cell_anchors[0][:3]             # ratio 0.5 (wide): w = s * sqrt(2), h = s / sqrt(2)
    array([[ -91.,  -45.,   91.,   45.],
           [-181.,  -91.,  181.,   91.],
           [-362., -181.,  362.,  181.]], dtype=float32)
    >>> anchors = gen((1, 3, 64, 96), [(1, 256, 4, 6)])   # shapes (or arrays) of the batch
    >>> anchors[0].shape                  # 4 * 6 positions * 9 anchors, at stride 16
    (216, 4)
    """

    def __init__(self, sizes=((128, 256, 512),), aspect_ratios=((0.5, 1.0, 2.0),)):
        if isinstance(sizes, (list, tuple)) and sizes and not isinstance(sizes[0], (list, tuple)):
            sizes = tuple((s,) for s in sizes)              # (32, 64) -> ((32,), (64,))
        sizes = _nested("sizes", sizes)
        if (isinstance(aspect_ratios, (list, tuple)) and aspect_ratios
                and not isinstance(aspect_ratios[0], (list, tuple))):
            aspect_ratios = (tuple(aspect_ratios),) * len(sizes)
        aspect_ratios = _nested("aspect_ratios", aspect_ratios)
        if len(aspect_ratios) == 1 and len(sizes) > 1:
            aspect_ratios = aspect_ratios * len(sizes)
        if len(sizes) != len(aspect_ratios):
            raise ValueError(f"AnchorGenerator: sizes has {len(sizes)} feature maps but "
                             f"aspect_ratios has {len(aspect_ratios)}; give one tuple of each "
                             f"per feature map")
        self.sizes = sizes
        self.aspect_ratios = aspect_ratios
        self.cell_anchors = [_cell_anchors(s, r) for s, r in zip(sizes, aspect_ratios)]

    def __repr__(self):
        return f"AnchorGenerator(sizes={self.sizes}, aspect_ratios={self.aspect_ratios})"

    def num_anchors_per_location(self) -> list:
        """A for each feature map: len(sizes[l]) * len(aspect_ratios[l])."""
        return [len(s) * len(r) for s, r in zip(self.sizes, self.aspect_ratios)]

    def grid_anchors(self, grid_sizes, strides, xp=np, dtype=np.float32) -> list:
        """Anchors over each feature map's grid.

        Parameters
        ----------
        grid_sizes : sequence of (FH, FW), one per feature map
        strides : sequence of (SH, SW), one per feature map
        xp : module
            numpy or cupy: where the anchors are made.
        dtype : dtype

        Returns
        -------
        list of (FH * FW * A, 4) arrays, ordered (y, x, anchor): anchor a of cell (i, j) is
        ``cell_anchors[l][a] + (j * SW, i * SH, j * SW, i * SH)`` at row (i * FW + j) * A + a.
        """
        if not len(grid_sizes) == len(strides) == len(self.cell_anchors):
            raise ValueError(f"AnchorGenerator: got {len(grid_sizes)} feature maps and "
                             f"{len(strides)} strides but the generator has "
                             f"{len(self.cell_anchors)} levels of sizes / aspect_ratios; they "
                             f"must match")
        anchors = []
        for (fh, fw), (sh, sw), cell in zip(grid_sizes, strides, self.cell_anchors):
            shifts_x = xp.arange(fw, dtype=xp.int64) * int(sw)            # (FW,)
            shifts_y = xp.arange(fh, dtype=xp.int64) * int(sh)            # (FH,)
            shift_y, shift_x = xp.meshgrid(shifts_y, shifts_x, indexing="ij")   # (FH, FW) each
            shift_x, shift_y = shift_x.reshape(-1), shift_y.reshape(-1)         # (FH * FW,)
            shifts = xp.stack([shift_x, shift_y, shift_x, shift_y], axis=1)     # (FH * FW, 4)
            base = xp.asarray(cell).astype(dtype)                               # (A, 4)
            grid = shifts[:, None, :].astype(dtype) + base[None, :, :]          # (FH * FW, A, 4)
            anchors.append(grid.reshape(-1, 4))
        return anchors

    def __call__(self, images, feature_maps) -> list:
        """Anchors for each image of a batch, all feature maps concatenated.

        Parameters
        ----------
        images : (N, C, H, W) array or Tensor, or its shape
            The (padded) batch; only its shape is read.
        feature_maps : sequence of (N, C_l, FH_l, FW_l) arrays or Tensors, or their shapes
            One per level of ``sizes``; a single one may be passed bare.

        Returns
        -------
        list of N arrays of shape (sum_l FH_l * FW_l * A_l, 4), levels in order, each level
        ordered (y, x, anchor). Every image of the batch gets the same anchors (torchvision's
        rule: they depend on the padded batch size, not on each image's own size). The
        arrays have the dtype and the library of the first feature map (float32 on the
        default backend when only shapes are given).

        Raises
        ------
        ValueError when a shape is not 4-D, the batch sizes differ, a feature map is larger
        than the image or empty, or the number of feature maps differs from the number of
        levels of ``sizes``.
        """
        if isinstance(feature_maps, Tensor) or backend.is_array(feature_maps):
            feature_maps = [feature_maps]
        feature_maps = list(feature_maps)
        if feature_maps and not isinstance(feature_maps[0], Tensor) and not backend.is_array(
                feature_maps[0]) and all(isinstance(v, numbers.Integral) for v in feature_maps):
            feature_maps = [tuple(feature_maps)]                 # one bare shape tuple
        image_shape = _shape_of("images", images)
        if len(image_shape) != 4:
            raise ValueError(f"AnchorGenerator: images must be (N, C, H, W) (or its shape), "
                             f"got shape {image_shape}")
        n, _, height, width = image_shape
        grid_sizes, strides = [], []
        for level, fmap in enumerate(feature_maps):
            shape = _shape_of(f"feature_maps[{level}]", fmap)
            if len(shape) != 4 or shape[0] != n:
                raise ValueError(f"AnchorGenerator: feature_maps[{level}] must be (N, C, FH, FW) "
                                 f"with N = {n} as images {image_shape}, got shape {shape}")
            fh, fw = shape[2:]
            if not (0 < fh <= height and 0 < fw <= width):
                raise ValueError(f"AnchorGenerator: feature_maps[{level}] of size (FH, FW) = "
                                 f"({fh}, {fw}) must be non-empty and no larger than the image "
                                 f"(H, W) = ({height}, {width})")
            grid_sizes.append((fh, fw))
            strides.append((height // fh, width // fw))
        first = next((f for f in feature_maps if isinstance(f, Tensor) or backend.is_array(f)),
                     None)
        if first is None:
            xp, dtype = backend.get_array_module(), np.float32
        else:
            data = first.data if isinstance(first, Tensor) else first
            xp = backend.get_array_module(data)
            dtype = data.dtype if data.dtype.kind == "f" else np.float32
        per_level = self.grid_anchors(grid_sizes, strides, xp=xp, dtype=dtype)
        anchors = xp.concatenate(per_level, axis=0)              # (sum_l FH * FW * A_l, 4)
        return [anchors.copy() for _ in range(n)]
