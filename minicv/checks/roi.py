"""Gradient-check cases for minicv.functional.roi: roi_pool, roi_align, and roi_align's box
gradient.

- "roi_pool": features with distinct values (at least 1e-2 apart), so the finite-difference
  nudge never changes which cell wins a bin; boxes of every kind (minicv.testing.rois).
- "roi_align": features (roi_align is linear in them, so there is no kink to avoid), boxes of
  every kind, aligned True/False, sampling_ratio -1, 1, 2.
- "roi_align_boxes": the gradient with respect to the box coordinates, boxes given as a list of
  per-image (L, 4) Tensors. It is piecewise smooth: it has kinks where a sample crosses an
  integer coordinate (its bilinear taps change) or the border rules switch (-1, 0, L - 1, L), and
  where the aligned=False size clamp or the adaptive grid count switches. The draws avoid them by
  construction (:func:`kink_free_boxes`): a fixed sampling_ratio, a size away from the clamp,
  and each box shifted until none of its samples lies within 1e-3 of an integer.
"""
import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

import minicv.functional as F
from minicv.checks import Case, register
from minicv.testing import arrays, rois, tie_free_arrays

_SCALES = (1.0, 0.5, 0.25)


@st.composite
def _roi_config(draw, max_size: int = 7, max_batch: int = 2, max_channels: int = 3):
    """A feature-map shape, spatial_scale, output_size and (K, 5) rois of every kind."""
    n, c = draw(st.integers(1, max_batch)), draw(st.integers(1, max_channels))
    h, w = draw(st.integers(1, max_size)), draw(st.integers(1, max_size))
    scale = draw(st.sampled_from(_SCALES))
    output_size = draw(st.sampled_from([1, 2, 3, (2, 3), (3, 1)]))
    boxes = draw(rois(st.integers(0, 4), batch_size=n, width=w / scale, height=h / scale))
    return (n, c, h, w), scale, output_size, boxes


@register("roi_pool")
def _roi_pool(draw):
    shape, scale, output_size, boxes = draw(_roi_config())
    x = draw(tie_free_arrays(shape))
    # the rois ride along as an input (unchecked: wrt) so that they move to the GPU with x
    return Case(lambda t, r: F.roi_pool(t, r, output_size, scale), [x, boxes], {"wrt": [0]})


@register("roi_align")
def _roi_align(draw):
    shape, scale, output_size, boxes = draw(_roi_config())
    x = draw(arrays(shape))
    options = {"spatial_scale": scale, "sampling_ratio": draw(st.sampled_from([-1, 1, 2])),
               "aligned": draw(st.booleans())}
    return Case(lambda t, r: F.roi_align(t, r, output_size, **options), [x, boxes],
                {"wrt": [0]})


def sample_positions(c1, c2, pooled: int, scale: float, sampling_ratio: int, aligned: bool):
    """(L, pooled * sampling_ratio) feature coordinates of roi_align's samples along one axis,
    for boxes from c1 to c2 (the op's formula, restated on its own)."""
    offset = 0.5 if aligned else 0.0
    size = (c2 - c1) * scale
    if not aligned:
        size = np.maximum(size, 1.0)
    g = sampling_ratio
    t = (np.arange(pooled)[:, None] + (np.arange(g)[None, :] + 0.5) / g) / pooled   # (P, G)
    return c1[:, None] * scale - offset + size[:, None] * t.reshape(1, -1)


def kink_free_boxes(boxes, image_size, output_size, scale: float, sampling_ratio: int,
                    aligned: bool, margin: float = 1e-3):
    """Shift and stretch (L, 4) boxes so that roi_align's box gradient is smooth around them.

    Parameters
    ----------
    boxes : (L, 4) float array, (x1, y1, x2, y2) in image coordinates
    image_size : (H, W) of the feature map
    output_size : (PH, PW)
    scale, sampling_ratio, aligned : roi_align's arguments (sampling_ratio must be positive:
        the adaptive grid count changes with the box size)
    margin : smallest distance, in feature cells, between a sample and an integer coordinate;
        also between the scaled size and 1 when aligned is False (the clamp)

    Returns
    -------
    (L, 4) array, or None when no shift among the candidates works (draw again).
    """
    boxes = np.array(boxes, dtype=np.float64)
    for axis, (first, second) in enumerate(((1, 3), (0, 2))):      # rows (y), then columns (x)
        pooled = output_size[axis]
        size = (boxes[:, second] - boxes[:, first]) * scale
        near_clamp = np.abs(size - 1) < margin
        if not aligned:
            boxes[:, second] += np.where(near_clamp, 4 * margin / scale, 0.0)
        # Try shifts of the whole box until every sample of it is `margin` from an integer.
        shifts = np.arange(40)[:, None] * (0.0371 / scale)          # (M, 1)
        ok = np.zeros((40, boxes.shape[0]), dtype=bool)
        for m in range(40):                                         # a few candidates
            pos = sample_positions(boxes[:, first] + shifts[m], boxes[:, second] + shifts[m],
                                   pooled, scale, sampling_ratio, aligned)
            ok[m] = (np.abs(pos - np.round(pos)) >= margin).all(axis=1)
        if not ok.any(axis=0).all():
            return None
        best = shifts[ok.argmax(axis=0), 0]                         # (L,) first working shift
        boxes[:, first] += best
        boxes[:, second] += best
    return boxes


@register("roi_align_boxes")
def _roi_align_boxes(draw):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    h, w = draw(st.integers(2, 7)), draw(st.integers(2, 7))
    scale = draw(st.sampled_from(_SCALES))
    output_size = draw(st.sampled_from([(1, 1), (2, 2), (2, 3), (3, 2)]))
    sampling_ratio = draw(st.sampled_from([1, 2, 3]))
    aligned = draw(st.booleans())
    x = draw(arrays((n, c, h, w)))
    per_image = []
    for _ in range(n):                                              # one box list per image
        drawn = draw(rois(st.integers(1, 3), batch_size=1, width=w / scale,
                          height=h / scale))[:, 1:]
        boxes = kink_free_boxes(drawn, (h, w), output_size, scale, sampling_ratio, aligned)
        assume(boxes is not None)
        per_image.append(boxes)

    def fn(t, *boxes):
        return F.roi_align(t, list(boxes), output_size, scale, sampling_ratio, aligned)

    return Case(fn, [x, *per_image])
