"""Slow, obviously correct loop versions of the pooling ops (forward only), for tests.

Each follows PyTorch's CPU kernels cell by cell (aten/src/ATen/native/cpu/MaxPoolKernel.cpp,
AvgPoolKernel.cpp): plain Python loops over every output cell and every cell of its window, no
vectorisation, no padding array. Inputs are NumPy arrays of shape (N, C, H, W).
"""
import math

import numpy as np


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def pool_output_size_ref(size, kernel, stride, padding=0, dilation=1, ceil_mode=False):
    """Count the windows: window o starts at o*S in the padded axis of length L = H + 2P and is
    E = D(K - 1) + 1 long. Floor mode counts those that fit (o*S + E <= L); ceil mode also those
    that overshoot the end by less than a stride, provided they start inside the input or the
    left padding (o*S < H + P)."""
    length, extent = size + 2 * padding, dilation * (kernel - 1) + 1
    count, o = 0, 0
    while o * stride < length:
        start = o * stride
        if ceil_mode:
            fits = start + extent - length < stride and start < size + padding
        else:
            fits = start + extent <= length
        if not fits:
            break
        count, o = count + 1, o + 1
    return count


def max_pool2d_ref(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """(y, switches): PyTorch's loop. The running maximum starts at -inf with the switch at the
    window's first input cell; a cell takes over if it is strictly greater or NaN."""
    kh_, kw_ = _pair(kernel_size)
    sh, sw = _pair(kernel_size if stride is None else stride)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    n_, c_, h_, w_ = x.shape
    oh_ = pool_output_size_ref(h_, kh_, sh, ph, dh, ceil_mode)
    ow_ = pool_output_size_ref(w_, kw_, sw, pw, dw, ceil_mode)
    y = np.zeros((n_, c_, oh_, ow_), dtype=x.dtype)
    switches = np.zeros((n_, c_, oh_, ow_), dtype=np.int64)
    for n in range(n_):
        for c in range(c_):
            for oh in range(oh_):
                for ow in range(ow_):
                    best, best_at = -math.inf, None
                    for kh in range(kh_):
                        for kw in range(kw_):
                            h, w = oh * sh - ph + kh * dh, ow * sw - pw + kw * dw
                            if not (0 <= h < h_ and 0 <= w < w_):
                                continue             # padding: never chosen
                            if best_at is None:
                                best_at = h * w_ + w
                            value = x[n, c, h, w]
                            if value > best or math.isnan(value):
                                best, best_at = value, h * w_ + w
                    assert best_at is not None, "a window holding only padding"
                    y[n, c, oh, ow] = best
                    switches[n, c, oh, ow] = best_at
    return y, switches


def max_unpool2d_ref(x, indices, output_hw):
    """Zero planes of size output_hw, each value added at its flat index (repeats add up)."""
    n_, c_, h_, w_ = x.shape
    out_h, out_w = output_hw
    out = np.zeros((n_, c_, out_h, out_w), dtype=x.dtype)
    for n in range(n_):
        for c in range(c_):
            for i in range(h_):
                for j in range(w_):
                    k = int(indices[n, c, i, j])
                    assert 0 <= k < out_h * out_w
                    out[n, c, k // out_w, k % out_w] += x[n, c, i, j]
    return out


def avg_pool2d_ref(x, kernel_size, stride=None, padding=0, ceil_mode=False,
                   count_include_pad=True, divisor_override=None):
    """PyTorch's loop: the window is first clipped to the padded input (that size is the
    divisor with count_include_pad), then to the input (the cells summed, and the divisor
    without count_include_pad)."""
    kh_, kw_ = _pair(kernel_size)
    sh, sw = _pair(kernel_size if stride is None else stride)
    ph, pw = _pair(padding)
    n_, c_, h_, w_ = x.shape
    oh_ = pool_output_size_ref(h_, kh_, sh, ph, 1, ceil_mode)
    ow_ = pool_output_size_ref(w_, kw_, sw, pw, 1, ceil_mode)
    y = np.zeros((n_, c_, oh_, ow_), dtype=x.dtype)
    for n in range(n_):
        for c in range(c_):
            for oh in range(oh_):
                for ow in range(ow_):
                    h0, w0 = oh * sh - ph, ow * sw - pw
                    h1, w1 = min(h0 + kh_, h_ + ph), min(w0 + kw_, w_ + pw)
                    padded_size = (h1 - h0) * (w1 - w0)
                    h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, h_), min(w1, w_)
                    total = 0.0
                    for h in range(h0, h1):
                        for w in range(w0, w1):
                            total += float(x[n, c, h, w])
                    if divisor_override is not None:
                        divisor = divisor_override
                    elif count_include_pad:
                        divisor = padded_size
                    else:
                        divisor = (h1 - h0) * (w1 - w0)
                    y[n, c, oh, ow] = total / divisor
    return y
