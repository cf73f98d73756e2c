"""Slow, obviously correct loop versions of roi_pool and roi_align (forward only), for tests.

Each follows torchvision's CPU kernels (csrc/ops/cpu/roi_pool_kernel.cpp, roi_align_kernel.cpp
and roi_align_common.h) output cell by output cell: plain Python loops over the rois, the
channels, the bins and every cell or sample of a bin, with the bilinear interpolation written
out scalar by scalar as in torchvision's test_ops.py. Coordinates are computed in the dtype of x
with NumPy scalars, in the kernels' order of operations, so float32 rounds as theirs does.
Inputs: x (N, C, H, W) and rois (K, 5) NumPy arrays.
"""
import math

import numpy as np

FLT_MAX = float(np.finfo(np.float32).max)


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def round_half_away(v) -> int:
    """C's round(): 2.5 -> 3, -2.5 -> -3 (exact: the fraction is taken without rounding)."""
    a = abs(float(v))
    whole = math.floor(a)
    r = whole + (1 if a - whole >= 0.5 else 0)
    return int(r if v >= 0 else -r)


def roi_pool_ref(x, rois, output_size, spatial_scale=1.0):
    """(y (K, C, PH, PW), argmax (K, C, PH, PW) flat h*W + w or -1): the kernel's loop."""
    T = x.dtype.type
    ph_, pw_ = _pair(output_size)
    n_, c_, h_, w_ = x.shape
    k_ = rois.shape[0]
    y = np.zeros((k_, c_, ph_, pw_), dtype=x.dtype)
    argmax = np.full((k_, c_, ph_, pw_), -1, dtype=np.int64)
    scale = T(spatial_scale)
    for k in range(k_):
        b = int(rois[k, 0])
        start_w = round_half_away(T(rois[k, 1]) * scale)
        start_h = round_half_away(T(rois[k, 2]) * scale)
        end_w = round_half_away(T(rois[k, 3]) * scale)
        end_h = round_half_away(T(rois[k, 4]) * scale)
        roi_w = max(end_w - start_w + 1, 1)           # malformed rois become 1x1
        roi_h = max(end_h - start_h + 1, 1)
        bin_h = T(roi_h) / T(ph_)
        bin_w = T(roi_w) / T(pw_)
        for p in range(ph_):
            for q in range(pw_):
                h0 = int(math.floor(T(p) * bin_h))
                w0 = int(math.floor(T(q) * bin_w))
                h1 = int(math.ceil(T(p + 1) * bin_h))
                w1 = int(math.ceil(T(q + 1) * bin_w))
                h0 = min(max(h0 + start_h, 0), h_)
                h1 = min(max(h1 + start_h, 0), h_)
                w0 = min(max(w0 + start_w, 0), w_)
                w1 = min(max(w1 + start_w, 0), w_)
                empty = h1 <= h0 or w1 <= w0
                for c in range(c_):
                    best = 0.0 if empty else -FLT_MAX
                    best_at = -1
                    for h in range(h0, h1):
                        for w in range(w0, w1):
                            value = x[b, c, h, w]
                            if value > best:          # strict: the first maximum wins
                                best, best_at = value, h * w_ + w
                    y[k, c, p, q] = best
                    argmax[k, c, p, q] = best_at
    return y, argmax


def bilinear_interpolate(plane, y, x):
    """The value of the (H, W) plane at (y, x), with roi_align's border rules."""
    T = type(y)
    height, width = plane.shape
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return T(0)                                   # outside: 0 (still counted)
    if y <= 0:
        y = T(0)
    if x <= 0:
        x = T(0)
    y_low, x_low = int(y), int(x)
    if y_low >= height - 1:
        y_high = y_low = height - 1
        y = T(y_low)
    else:
        y_high = y_low + 1
    if x_low >= width - 1:
        x_high = x_low = width - 1
        x = T(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - T(y_low), x - T(x_low)
    hy, hx = T(1) - ly, T(1) - lx
    return (hy * hx * plane[y_low, x_low] + hy * lx * plane[y_low, x_high]
            + ly * hx * plane[y_high, x_low] + ly * lx * plane[y_high, x_high])


def roi_align_ref(x, rois, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    """(K, C, PH, PW): the kernel's loop over rois, channels, bins and samples."""
    T = x.dtype.type
    ph_, pw_ = _pair(output_size)
    k_, c_ = rois.shape[0], x.shape[1]
    y = np.zeros((k_, c_, ph_, pw_), dtype=x.dtype)
    offset = T(0.5) if aligned else T(0)
    scale = T(spatial_scale)
    for k in range(k_):
        b = int(rois[k, 0])
        start_w = T(rois[k, 1]) * scale - offset
        start_h = T(rois[k, 2]) * scale - offset
        end_w = T(rois[k, 3]) * scale - offset
        end_h = T(rois[k, 4]) * scale - offset
        roi_w, roi_h = end_w - start_w, end_h - start_h
        if not aligned:                               # malformed rois are forced to 1x1
            roi_w, roi_h = max(roi_w, T(1)), max(roi_h, T(1))
        bin_h, bin_w = roi_h / T(ph_), roi_w / T(pw_)
        grid_h = sampling_ratio if sampling_ratio > 0 else int(math.ceil(roi_h / T(ph_)))
        grid_w = sampling_ratio if sampling_ratio > 0 else int(math.ceil(roi_w / T(pw_)))
        count = max(grid_h * grid_w, 1)
        for c in range(c_):
            for p in range(ph_):
                for q in range(pw_):
                    total = T(0)
                    for iy in range(grid_h):
                        yy = start_h + T(p) * bin_h + T(iy + 0.5) * bin_h / T(grid_h)
                        for ix in range(grid_w):
                            xx = start_w + T(q) * bin_w + T(ix + 0.5) * bin_w / T(grid_w)
                            total += bilinear_interpolate(x[b, c], yy, xx)
                    y[k, c, p, q] = total / T(count)
    return y
