"""Slow, obviously correct loop references for minicv's ops -- used only by the tests.

Every function here follows an op's definition literally, one output element at a time, with
no vectorisation and nothing shared with minicv's implementation, so that a test comparing
the two compares two independent readings of the same rules. One section per op family.
"""
import math

import numpy as np


# =============================================================================================
# conv: Slow, obviously correct loop versions of conv2d and conv_transpose2d (used only by tests).
# =============================================================================================
#
# Both follow the definitions literally, independently of each other and of minicv's matrix
# formulation:
#
# - conv2d_ref: every output pixel is a sum over its window (a gather).
# - conv_transpose2d_ref: every input pixel adds a scaled copy of the kernel into the output
#   (a scatter) -- the "painting" definition of the transposed convolution.
#
# Notation as in minicv/functional/conv.py. All hyper-parameters are (height, width) pairs.


def conv2d_ref(x, weight, bias=None, stride=(1, 1), padding=(1, 1), dilation=(1, 1),
               groups=1, padding_after=None):
    """y[n, o, oh, ow] = b[o] + sum_{c, kh, kw} w[o, c, kh, kw] * x[n, c', ih, iw] with
    ih = oh*SH - PH + kh*DH, iw = ow*SW - PW + kw*DW (zero outside x), c' = g*C_in/G + c.

    ``padding_after`` (bottom, right) defaults to ``padding`` (symmetric padding)."""
    n, c_in, h, w = x.shape
    c_out, c_group, kh_, kw_ = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    ph2, pw2 = padding if padding_after is None else padding_after
    oh_ = (h + ph + ph2 - dh * (kh_ - 1) - 1) // sh + 1
    ow_ = (w + pw + pw2 - dw * (kw_ - 1) - 1) // sw + 1
    out_group = c_out // groups
    y = np.zeros((n, c_out, oh_, ow_), dtype=np.float64)
    for b in range(n):
        for o in range(c_out):
            g = o // out_group
            for oh in range(oh_):
                for ow in range(ow_):
                    total = 0.0 if bias is None else float(bias[o])
                    for c in range(c_group):
                        for kh in range(kh_):
                            for kw in range(kw_):
                                ih = oh * sh - ph + kh * dh
                                iw = ow * sw - pw + kw * dw
                                if 0 <= ih < h and 0 <= iw < w:
                                    total += (float(weight[o, c, kh, kw])
                                              * float(x[b, g * c_group + c, ih, iw]))
                    y[b, o, oh, ow] = total
    return y


def conv_transpose2d_ref(x, weight, bias=None, stride=(1, 1), padding=(0, 0),
                         output_padding=(0, 0), groups=1, dilation=(1, 1)):
    """Each input pixel x[n, c, h, w] adds x[n, c, h, w] * w[c, o, kh, kw] to output pixel
    (h*SH - PH + kh*DH, w*SW - PW + kw*DW) of output channel g*C_out/G + o, when that pixel lies
    in the (OH, OW) output, OH = (H - 1)*SH - 2*PH + DH*(KH - 1) + OPH + 1."""
    n, c_in, h, w = x.shape
    _, out_group, kh_, kw_ = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    oph, opw = output_padding
    c_out = out_group * groups
    in_group = c_in // groups
    oh_ = (h - 1) * sh - 2 * ph + dh * (kh_ - 1) + oph + 1
    ow_ = (w - 1) * sw - 2 * pw + dw * (kw_ - 1) + opw + 1
    y = np.zeros((n, c_out, oh_, ow_), dtype=np.float64)
    for b in range(n):
        for c in range(c_in):
            g = c // in_group
            for i in range(h):
                for j in range(w):
                    for o in range(out_group):
                        for kh in range(kh_):
                            for kw in range(kw_):
                                oh = i * sh - ph + kh * dh
                                ow = j * sw - pw + kw * dw
                                if 0 <= oh < oh_ and 0 <= ow < ow_:
                                    y[b, g * out_group + o, oh, ow] += (
                                        float(x[b, c, i, j]) * float(weight[c, o, kh, kw]))
    if bias is not None:
        y += np.asarray(bias, dtype=np.float64).reshape(1, c_out, 1, 1)
    return y


# =============================================================================================
# pooling: Slow, obviously correct loop versions of the pooling ops (forward only), for tests.
# =============================================================================================
#
# Each follows PyTorch's CPU kernels cell by cell (aten/src/ATen/native/cpu/MaxPoolKernel.cpp,
# AvgPoolKernel.cpp): plain Python loops over every output cell and every cell of its window, no
# vectorisation, no padding array. Inputs are NumPy arrays of shape (N, C, H, W).


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


# =============================================================================================
# upsample: Slow, obviously-correct loop references for minicv.functional.upsample (used by tests only).
# =============================================================================================
#
# One output pixel at a time, straight from PyTorch's rules (aten/src/ATen/native/UpSample.h):
# find the source coordinate along each axis, then copy (nearest) or blend the four neighbours
# (bilinear). No matrices, no vectorisation.


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
