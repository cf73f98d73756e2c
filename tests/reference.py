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


# =============================================================================================
# roi: Slow, obviously correct loop versions of roi_pool and roi_align (forward only), for tests.
# =============================================================================================
#
# Each follows torchvision's CPU kernels (csrc/ops/cpu/roi_pool_kernel.cpp, roi_align_kernel.cpp
# and roi_align_common.h) output cell by output cell: plain Python loops over the rois, the
# channels, the bins and every cell or sample of a bin, with the bilinear interpolation written
# out scalar by scalar as in torchvision's test_ops.py. Coordinates are computed in the dtype of x
# with NumPy scalars, in the kernels' order of operations, so float32 rounds as theirs does.
# Inputs: x (N, C, H, W) and rois (K, 5) NumPy arrays.


FLT_MAX = float(np.finfo(np.float32).max)


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
    _, c_, h_, w_ = x.shape
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
                h0 = math.floor(T(p) * bin_h)
                w0 = math.floor(T(q) * bin_w)
                h1 = math.ceil(T(p + 1) * bin_h)
                w1 = math.ceil(T(q + 1) * bin_w)
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
        grid_h = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / T(ph_))
        grid_w = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / T(pw_))
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


# =============================================================================================
# boxes: Slow loop references for minicv.ops (boxes, NMS, box coder, anchors): one box at a time, in
# =============================================================================================
# plain Python floats, written straight from the definitions so that they are easy to trust.
#
# They are the answer key of tests/test_boxes.py, test_coder.py and test_anchors.py.


def iou_scalar(a, b, dtype=float):
    """IoU of two boxes (x1, y1, x2, y2), in torchvision's order of operations, every
    intermediate rounded to ``dtype`` (``float`` = float64, or ``np.float32``). 0 when the
    union is 0 (two empty boxes), as minicv's box_iou."""
    a = [dtype(v) for v in a]
    b = [dtype(v) for v in b]
    zero = dtype(0)
    area_a = dtype(a[2] - a[0]) * dtype(a[3] - a[1])
    area_b = dtype(b[2] - b[0]) * dtype(b[3] - b[1])
    w = max(zero, dtype(min(a[2], b[2]) - max(a[0], b[0])))
    h = max(zero, dtype(min(a[3], b[3]) - max(a[1], b[1])))
    inter = dtype(w * h)
    union = dtype(dtype(area_a + area_b) - inter)
    return dtype(inter / union) if union != 0 else zero


def box_iou_loop(boxes1, boxes2):
    """(N, M) IoU matrix, one pair at a time."""
    out = np.zeros((len(boxes1), len(boxes2)))
    for i, a in enumerate(boxes1):
        for j, b in enumerate(boxes2):
            out[i, j] = iou_scalar(a, b)
    return out


def nms_loop(boxes, scores, iou_threshold, dtype=float):
    """Greedy NMS as in the papers: repeatedly keep the best remaining box and drop the boxes
    whose IoU with it exceeds the threshold. Ties in score: lower index first."""
    order = sorted(range(len(boxes)), key=lambda i: (-float(scores[i]), i))
    keep = []
    removed = [False] * len(boxes)
    for pos, i in enumerate(order):
        if removed[i]:
            continue
        keep.append(i)
        for j in order[pos + 1:]:
            if not removed[j] and float(iou_scalar(boxes[i], boxes[j], dtype)) > iou_threshold:
                removed[j] = True
    return np.array(keep, dtype=np.int64)


def batched_nms_loop(boxes, scores, idxs, iou_threshold):
    """NMS class by class, then all kept boxes merged by decreasing score (ties by index)."""
    kept = []
    for c in sorted(set(np.asarray(idxs).tolist())):
        members = [i for i in range(len(boxes)) if idxs[i] == c]
        local = nms_loop([boxes[i] for i in members], [scores[i] for i in members],
                         iou_threshold)
        kept.extend(members[k] for k in local)
    kept.sort(key=lambda i: (-float(scores[i]), i))
    return np.array(kept, dtype=np.int64)


def encode_scalar(gt, proposal, weights):
    """R-CNN appendix C deltas (tx, ty, tw, th) of one box pair, times the weights."""
    wx, wy, ww, wh = weights
    pw, ph = proposal[2] - proposal[0], proposal[3] - proposal[1]
    px, py = proposal[0] + pw / 2, proposal[1] + ph / 2
    gw, gh = gt[2] - gt[0], gt[3] - gt[1]
    gx, gy = gt[0] + gw / 2, gt[1] + gh / 2
    return [wx * (gx - px) / pw, wy * (gy - py) / ph, ww * math.log(gw / pw),
            wh * math.log(gh / ph)]


def decode_scalar(delta, box, weights, clip=math.log(1000 / 16)):
    """The box (x1, y1, x2, y2) that deltas (tx, ty, tw, th) make of ``box``."""
    wx, wy, ww, wh = weights
    pw, ph = box[2] - box[0], box[3] - box[1]
    px, py = box[0] + pw / 2, box[1] + ph / 2
    gx = px + pw * delta[0] / wx
    gy = py + ph * delta[1] / wy
    gw = pw * math.exp(min(delta[2] / ww, clip))
    gh = ph * math.exp(min(delta[3] / wh, clip))
    return [gx - gw / 2, gy - gh / 2, gx + gw / 2, gy + gh / 2]


def anchors_loop(sizes, aspect_ratios, grid_size, stride):
    """Anchors of one feature map, cell by cell in row-major order, then ratio by ratio and
    size by size, each rounded half to even (Python's round, like torch.round)."""
    (fh, fw), (sh, sw) = grid_size, stride
    out = []
    for i in range(fh):
        for j in range(fw):
            for r in aspect_ratios:
                for s in sizes:
                    w, h = s / math.sqrt(r), s * math.sqrt(r)
                    base = [round(-w / 2), round(-h / 2), round(w / 2), round(h / 2)]
                    out.append([base[0] + j * sw, base[1] + i * sh,
                                base[2] + j * sw, base[3] + i * sh])
    return np.array(out, dtype=np.float64).reshape(-1, 4)
