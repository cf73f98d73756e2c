"""Slow, obviously-correct loop references for minicv.functional.upsample (used by tests only).

One output pixel at a time, straight from PyTorch's rules (aten/src/ATen/native/UpSample.h):
find the source coordinate along each axis, then copy (nearest) or blend the four neighbours
(bilinear). No matrices, no vectorisation.
"""
import math

import numpy as np


def nearest_source_index(o, in_size, out_size, scale_factor=None):
    """The input index output index ``o`` copies, PyTorch's legacy "nearest" rule.

    PyTorch computes it in float32 whatever the tensor's dtype, and copies an unchanged axis
    and takes o // 2 for an exact doubling before trying the formula.
    """
    if out_size == in_size:
        return o
    if out_size == 2 * in_size:
        return o // 2
    if scale_factor is not None:
        scale = np.float32(1.0 / scale_factor)
    else:
        scale = np.float32(in_size) / np.float32(out_size)
    return min(int(math.floor(np.float32(o) * scale)), in_size - 1)


def linear_source(o, in_size, out_size, align_corners, scale_factor=None, opmath=np.float64):
    """(i0, i1, lam): output index ``o`` is (1 - lam) * x[i0] + lam * x[i1] along one axis.

    ``opmath`` is the precision PyTorch computes the coordinate in (float32 for float32
    tensors, float64 for float64 ones).
    """
    if out_size == in_size:
        return o, o, 0.0
    if align_corners:
        scale = opmath(in_size - 1) / opmath(out_size - 1) if out_size > 1 else opmath(0)
        src = scale * opmath(o)
    else:
        if scale_factor is not None:
            scale = opmath(1.0 / scale_factor)
        else:
            scale = opmath(in_size) / opmath(out_size)
        src = scale * (opmath(o) + opmath(0.5)) - opmath(0.5)
        if src < 0:
            src = opmath(0)
    i0 = min(int(math.floor(src)), in_size - 1)
    lam = min(max(float(src) - i0, 0.0), 1.0)
    i1 = i0 + 1 if i0 < in_size - 1 else i0
    return i0, i1, opmath(lam)


def interpolate_nearest_ref(x, out_h, out_w, scale_h=None, scale_w=None):
    """torch.nn.functional.interpolate(x, mode="nearest") for an (N, C, H, W) array.

    scale_h, scale_w: the user's scale factors when the size came from scale_factor.
    """
    n_batch, channels, in_h, in_w = x.shape
    y = np.zeros((n_batch, channels, out_h, out_w), dtype=x.dtype)
    for n in range(n_batch):
        for c in range(channels):
            for oh in range(out_h):
                for ow in range(out_w):
                    ih = nearest_source_index(oh, in_h, out_h, scale_h)
                    iw = nearest_source_index(ow, in_w, out_w, scale_w)
                    y[n, c, oh, ow] = x[n, c, ih, iw]
    return y


def interpolate_bilinear_ref(x, out_h, out_w, align_corners=False, scale_h=None, scale_w=None):
    """torch.nn.functional.interpolate(x, mode="bilinear") for an (N, C, H, W) float array.

    Each output pixel blends its four neighbours: the W blend inside, the H blend outside, as
    PyTorch's CPU kernel does (the order matters only for rounding -- and for NaN/inf, which
    any tap reaching them, even with weight 0, passes on).
    """
    n_batch, channels, in_h, in_w = x.shape
    opmath = np.float64 if x.dtype == np.float64 else np.float32
    y = np.zeros((n_batch, channels, out_h, out_w), dtype=x.dtype)
    for n in range(n_batch):
        for c in range(channels):
            for oh in range(out_h):
                h0, h1, lh = linear_source(oh, in_h, out_h, align_corners, scale_h, opmath)
                for ow in range(out_w):
                    w0, w1, lw = linear_source(ow, in_w, out_w, align_corners, scale_w, opmath)
                    top = (1 - lw) * x[n, c, h0, w0] + lw * x[n, c, h0, w1]
                    bottom = (1 - lw) * x[n, c, h1, w0] + lw * x[n, c, h1, w1]
                    y[n, c, oh, ow] = (1 - lh) * top + lh * bottom
    return y
