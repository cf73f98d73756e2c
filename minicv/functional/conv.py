"""Convolution and transposed convolution: conv2d and conv_transpose2d.

Notation: N batch; C_in, C_out channels; G groups; H, W the input's height and width; KH, KW the
kernel; SH, SW the stride; PH, PW the padding; DH, DW the dilation; OH, OW the output's height
and width. Layouts are PyTorch's: x (N, C_in, H, W); conv2d weight (C_out, C_in / G, KH, KW);
conv_transpose2d weight (C_in, C_out / G, KH, KW).

conv2d (a cross-correlation, like every deep-learning "convolution"):

    y[n, o, oh, ow] = b[o] + sum over c, kh, kw of
                      w[o, c, kh, kw] * xpad[n, g*C_in/G + c, oh*SH + kh*DH, ow*SW + kw*DW]

where xpad is x with PH zero rows above and below and PW zero columns left and right, and output
channel o belongs to group g = o // (C_out / G), which sees only its own C_in / G input channels.
Output size:

    OH = floor((H + 2*PH - DH*(KH - 1) - 1) / SH) + 1          (the same for OW)

conv_transpose2d is the adjoint (the transpose) of conv2d: conv2d is linear in x, y = A x, and
conv_transpose2d computes A^T x -- each input pixel *paints* a copy of the kernel, scaled by its
value, into the output, SH apart. With the same weight array and hyper-parameters it maps a
(N, C_out, OH, OW) map back to (N, C_in, H, W), so

    <conv2d(x, w), y> = <x, conv_transpose2d(y, w)>        (tests/test_conv.py checks it)

and its output size is the input size of the conv2d it transposes:

    OH = (H - 1)*SH - 2*PH + DH*(KH - 1) + output_padding + 1

(floor() in conv2d forgets up to SH - 1 rows; output_padding, smaller than the stride or the
dilation, says how many to give back.) Hence the transpose's other names: "deconvolution" (Zeiler
et al. 2010; Long et al. 2015 use it to upsample in FCN) and "fractionally strided convolution"
(Dumoulin & Visin 2016, Section 4).

Forward and backward are three array routines, and the two ops are the same three routines
read in different directions:

    ==========================  =============================  ================================
                                conv2d                         conv_transpose2d
    ==========================  =============================  ================================
    forward                     _conv2d_forward                _conv2d_backward_data
    gradient for x              _conv2d_backward_data          _conv2d_forward
    gradient for the weight     _conv2d_backward_weight(x, gy) _conv2d_backward_weight(gy, x)
    ==========================  =============================  ================================

conv_transpose2d's weight (C_in, C_out / G, KH, KW) *is* the weight of the conv2d that goes the
other way, from its C_out channels to its C_in channels, so it is passed along unchanged.

How it is computed (and why it is fast). Every fast method turns the convolution into matrix
products (GEMM, which NumPy hands to BLAS at close to the machine's peak); what differs is the
copying around them. The columns method ("im2col": Chellapilla et al. 2006, Caffe) lays out,
for every output pixel, the C_in*KH*KW input values it reads as one column of a matrix ``cols``
(C_in*KH*KW, OH*OW); then y = W cols, with W the weight seen as a (C_out, C_in*KH*KW) matrix --
a free reshape, because the weight's last three axes are in the order of the column's rows.
Copying ``cols`` pixel by pixel, or in runs of OW values, costs more than the product itself, so
minicv copies long contiguous runs instead:

1. *Phase planes.* Pad x and split it into SH*SW sub-images ("phases"),
   plane[a, b][i, j] = xpad[i*SH + a, j*SW + b]. (Padding is one copy into a zero buffer, the phases
   one transposed copy of it: a space-to-depth.) Tap (kh, kw) of output (oh, ow) reads
   xpad[oh*SH + kh*DH, ow*SW + kw*DW] = plane[a, b][oh + qh, ow + qw] with
   (qh, a) = divmod(kh*DH, SH) and (qw, b) = divmod(kw*DW, SW): a stride-1 read of one plane.
   For stride 1 there is a single plane, the padded input.
2. *Flat shifts.* Store each plane row-major with rows WQ = OW + max(qw) long, and compute every
   output row WQ wide too. Output (oh, ow) sits at flat index t = oh*WQ + ow and its tap reads
   the plane at t + qh*WQ + qw, so the tap's whole row of ``cols`` is ONE contiguous slice of
   the flattened plane: building ``cols`` takes KH*KW long copies per channel. The price: the
   last WQ - OW outputs of each row are garbage (they read into the next row) and are cropped,
   a few percent more arithmetic (2/58 for a 3x3 convolution of 56x56 maps). When the taps
   form a regular grid -- stride 1 (with any dilation), or a stride that divides the kernel
   (FCN's 4x4 stride-2 and 16x16 stride-8 upsamplers) -- the flat offsets of all the taps are
   one strided view of the planes, and ``cols`` is built by ONE copy of that view.
3. *Tiles.* The batch goes through a few images at a time (or, for a huge image, a band of
   output rows), so that a tile's columns (about 8 MB, the images side by side in one matrix
   (C_in*KH*KW, n*L)) stay in the CPU cache between their copy and their product, and no
   buffer grows with the batch.

The backward passes are the same pieces run backwards. The gradient for x multiplies W^T by gy
(widened with zeros in the garbage columns), adds each tap's row of the product back into the
planes at the offset it was read from ("col2im"), and reassembles x from the planes. The gradient
for the weight multiplies ``cols`` by gy^T, summed over tiles. Nothing the size of ``cols``
survives between forward and backward: the weight gradient rebuilds its tile's columns, one
cheap copy, instead of keeping them for the whole batch. Groups are the leading axis of the
matrix products (a batched matmul), not a loop.

References
----------
- V. Dumoulin and F. Visin, "A guide to convolution arithmetic for deep learning",
  arXiv:1603.07285, 2016 (output sizes, Sections 2-4; transposed convolution, Section 4).
- J. Long, E. Shelhamer and T. Darrell, "Fully Convolutional Networks for Semantic
  Segmentation", CVPR 2015, Section 3.3 (upsampling is backwards strided convolution).
- M. D. Zeiler, D. Krishnan, G. W. Taylor and R. Fergus, "Deconvolutional Networks", CVPR 2010.
- K. Chellapilla, S. Puri and P. Simard, "High Performance Convolutional Neural Networks for
  Document Processing", IWFHR 2006 (convolution as unrolling plus a matrix product).
"""
from __future__ import annotations

import math
import threading
from typing import NamedTuple

import numpy as np

from minicv import backend
from minicv.autograd import Function, Tensor
from minicv.functional._args import pair as _pair

__all__ = ["conv2d", "conv_transpose2d"]


# ---------------------------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------------------------
def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """floor((size + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1 (may be < 1)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_transpose_output_size(size: int, kernel: int, stride: int, padding: int,
                               dilation: int, output_padding: int) -> int:
    """(size - 1)*stride - 2*padding + dilation*(kernel - 1) + output_padding + 1."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


class _Plan(NamedTuple):
    """Everything the three routines need to know about one convolution's shapes.

    ``padding`` is the padding before the first row and column; the padding after the last is
    implied by the output size (what the last output reads beyond the input is zero).
    """
    c_in: int            # channels of the conv2d input x (all groups)
    c_out: int           # channels of the conv2d output y (all groups)
    kernel: tuple        # (KH, KW)
    stride: tuple        # (SH, SW)
    padding: tuple       # (PH, PW)
    in_size: tuple       # (H, W) of the conv2d input
    out_size: tuple      # (OH, OW) of the conv2d output
    row: int             # WQ = OW + halo_cols: the length of a plane row and of a wide output row
    halo_rows: int       # max over taps of qh: plane rows a tile reads beyond its output rows
    taps: tuple          # per tap (kh, kw) in row-major order: (a, b, flat offset in plane a, b)
    grid: tuple | None   # (QH, QW, step_h, step_w) when the taps form a regular grid, else None


def _plan(in_size, c_in, c_out, kernel, stride, padding, dilation, out_size) -> _Plan:
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    halo_rows, halo_cols = (kh - 1) * dh // sh, (kw - 1) * dw // sw
    row = out_size[1] + halo_cols
    taps = []
    for i in range(kh):
        qh, a = divmod(i * dh, sh)           # tap row i reads plane row oh + qh of phase a
        for j in range(kw):
            qw, b = divmod(j * dw, sw)       # tap column j reads plane column ow + qw of phase b
            taps.append((a, b, qh * row + qw))
    return _Plan(c_in, c_out, tuple(kernel), tuple(stride), tuple(padding), tuple(in_size),
                 tuple(out_size), row, halo_rows, tuple(taps),
                 _grid(kernel, stride, dilation, row))


def _grid(kernel, stride, dilation, row):
    """The taps as a regular grid, when they form one: (QH, QW, step_h, step_w) such that tap
    (kh, kw) = (qh*SH + a, qw*SW + b) reads phase plane (a, b) at flat offset
    qh*step_h + qw*step_w. An axis is regular when its stride is 1 (Q = K taps, DH apart) or
    its dilation is 1 and the stride divides the kernel (Q = K / S taps, one plane position
    apart) -- every 3x3 convolution, and the kernel-2s, stride-s upsampling of FCN. Then
    im2col is ONE strided copy instead of one copy per tap (256 for a 16x16 kernel)."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    if not all(s == 1 or (d == 1 and k % s == 0) for k, s, d in ((kh, sh, dh), (kw, sw, dw))):
        return None
    return (kh // sh, kw // sw, dh * row, dw)


# ---------------------------------------------------------------------------------------------
# Tiles and scratch buffers
# ---------------------------------------------------------------------------------------------
# About 8 MB of columns per tile on the CPU: the tile's copy and its matrix product then share
# the cache. A GPU has no such cache to fit, only memory: take big tiles there.
_TILE_BYTES = {"cpu": 8 * 2**20, "gpu": 256 * 2**20}


def _tiles(xp, plan: _Plan, n: int, itemsize: int):
    """Yield (images, first output row, end output row): whole images while a tile's buffers
    fit the budget, else bands of output rows of one image."""
    oh = plan.out_size[0]
    (kh, kw), (sh, sw) = plan.kernel, plan.stride
    # per output row of one image: the columns, the (wide) output and the planes
    row_elements = max(plan.c_in * kh * kw, plan.c_out, plan.c_in * sh * sw) * plan.row
    budget = _TILE_BYTES["cpu" if xp is np else "gpu"] // itemsize
    image_elements = oh * row_elements
    if image_elements <= budget:
        step = max(1, budget // image_elements)
        for n0 in range(0, n, step):
            yield slice(n0, min(n, n0 + step)), 0, oh
    else:
        rows = max(1, budget // row_elements)
        for i in range(n):
            for r0 in range(0, oh, rows):
                yield slice(i, i + 1), r0, min(oh, r0 + rows)


_workspace = threading.local()


def _scratch(xp, name: str, shape: tuple, dtype):
    """An uninitialised array of ``shape`` for use inside one routine call, never returned.

    On NumPy each thread keeps one buffer per name and dtype, grown on demand and reused:
    asking the operating system for a fresh ten-megabyte buffer on every call costs page faults
    that take as long as the copies themselves. CuPy's memory pool recycles blocks already.
    """
    if xp is not np:
        return xp.empty(shape, dtype=dtype)
    size = math.prod(shape)
    buffers = _workspace.__dict__.setdefault("buffers", {})
    key = (name, np.dtype(dtype))
    buf = buffers.get(key)
    if buf is None or buf.size < size:
        buf = buffers[key] = np.empty(size, dtype=dtype)
    return buf[:size].reshape(shape)


# ---------------------------------------------------------------------------------------------
# Phase planes: padded input <-> SH*SW stride-1 planes, for the rows a tile needs
# ---------------------------------------------------------------------------------------------
def _padded_span(size: int, pad: int, first: int, count: int):
    """Positions u in [0, count) of a padded buffer that starts at input position
    first - pad: (buffer slice, input slice) of those inside [0, size), or None."""
    lo, hi = max(0, pad - first), min(count, size + pad - first)
    if hi <= lo:
        return None
    return slice(lo, hi), slice(lo + first - pad, hi + first - pad)


def _tile_window(plan: _Plan, r0: int, rows: int):
    """Where a tile's padded buffer (rows*SH, WQ*SW), starting at padded row r0*SH, meets the
    input: ((buffer rows, buffer cols), (input rows, input cols)) slices, or None if nowhere."""
    (h, w), (sh, sw), (ph, pw) = plan.in_size, plan.stride, plan.padding
    span_h = _padded_span(h, ph, r0 * sh, rows * sh)
    span_w = _padded_span(w, pw, 0, plan.row * sw)
    if span_h is None or span_w is None:
        return None
    return (span_h[0], span_w[0]), (span_h[1], span_w[1])


def _to_planes(xp, x, plan: _Plan, images: slice, r0: int, r1: int):
    """The phase planes a tile of output rows [r0, r1) reads, flattened:
    (n, C_in, SH, SW, (rows + halo + 1) * WQ), with
    planes[n, c, a, b, i*WQ + j] = xpad[n, c, (r0 + i)*SH + a, j*SW + b]
    (one spare zero row at the end: the garbage outputs of the last row read into it).

    Stride 1: the planes are the padded input itself, one copy. Otherwise the padded rows of
    the tile are copied once into a buffer (n, C_in, R*SH, WQ*SW) = (n, C_in, R, SH, WQ, SW),
    and the phases come out of it by one transposed copy -- two array operations, not SH*SW."""
    sh, sw = plan.stride
    rows = r1 - r0 + plan.halo_rows + 1
    n = images.stop - images.start
    if sh * sw == 1:
        padded = _scratch(xp, "planes", (n, plan.c_in, rows, plan.row), x.dtype)
    else:
        padded = _scratch(xp, "padded", (n, plan.c_in, rows * sh, plan.row * sw), x.dtype)
    padded.fill(0)                                           # the zero padding
    window = _tile_window(plan, r0, rows)
    if window is not None:
        (brows, bcols), (xrows, xcols) = window
        padded[:, :, brows, bcols] = x[images, :, xrows, xcols]
    if sh * sw == 1:
        return padded.reshape(n, plan.c_in, 1, 1, rows * plan.row)
    planes = _scratch(xp, "planes", (n, plan.c_in, sh, sw, rows, plan.row), x.dtype)
    planes[...] = padded.reshape(n, plan.c_in, rows, sh, plan.row, sw).transpose(0, 1, 3, 5, 2, 4)
    return planes.reshape(n, plan.c_in, sh, sw, rows * plan.row)


def _add_from_planes(gx, planes, plan: _Plan, images: slice, r0: int, r1: int):
    """The adjoint of _to_planes: add the planes' values onto gx[images] (padding dropped).
    A tile of whole images owns its part of gx (zero so far) and assigns it; bands of rows of
    one image overlap by the halo and must add."""
    sh, sw = plan.stride
    rows = r1 - r0 + plan.halo_rows + 1
    n = images.stop - images.start
    padded = planes.reshape(n, plan.c_in, sh, sw, rows, plan.row).transpose(0, 1, 4, 2, 5, 3)
    padded = padded.reshape(n, plan.c_in, rows * sh, plan.row * sw)   # a copy when SH*SW > 1
    window = _tile_window(plan, r0, rows)
    if window is None:
        return
    (brows, bcols), (xrows, xcols) = window
    if r0 == 0 and r1 == plan.out_size[0]:
        gx[images, :, xrows, xcols] = padded[:, :, brows, bcols]
    else:
        gx[images, :, xrows, xcols] += padded[:, :, brows, bcols]


# ---------------------------------------------------------------------------------------------
# im2col and col2im by flat shifts
# ---------------------------------------------------------------------------------------------
def _im2col(xp, x, plan: _Plan, images: slice, r0: int, r1: int):
    """The columns of a tile, (C_in, KH*KW, n, L) with L = (r1 - r0)*WQ:
    cols[c, k, i, t] = the value tap k of image i's output at wide position t (of rows r0..r1)
    reads from channel c. Each (c, k, i) row is one contiguous slice of a phase plane; the
    images sit inside, so that a tile's columns are ONE matrix (C_in*KH*KW, n*L)."""
    planes = _to_planes(xp, x, plan, images, r0, r1)         # (n, C_in, SH, SW, plane size)
    n, length = planes.shape[0], (r1 - r0) * plan.row
    cols = _scratch(xp, "cols", (plan.c_in, len(plan.taps), n, length), x.dtype)
    if plan.grid is not None:
        # every tap's slice at once: a strided view (n, C_in, QH, SH, QW, SW, L) whose axes
        # (QH, SH) and (QW, SW) read as kh = qh*SH + a and kw = qw*SW + b
        (qh, qw, step_h, step_w), (sh, sw), item = plan.grid, plan.stride, planes.itemsize
        sn, sc, sa, sb, _ = planes.strides
        view = xp.lib.stride_tricks.as_strided(
            planes, shape=(n, plan.c_in, qh, sh, qw, sw, length),
            strides=(sn, sc, step_h * item, sa, step_w * item, sb, item))
        cols.reshape(plan.c_in, qh, sh, qw, sw, n, length)[...] = \
            view.transpose(1, 2, 3, 4, 5, 0, 6)
        return cols
    for k, (a, b, offset) in enumerate(plan.taps):
        cols[:, k] = planes[:, :, a, b, offset:offset + length].swapaxes(0, 1)
    return cols


def _col2im_add(xp, gx, dcols, plan: _Plan, images: slice, r0: int, r1: int):
    """The adjoint of _im2col: add every tap's row of ``dcols`` (C_in, KH*KW, n, L) back at the
    plane positions it was read from, then the planes onto gx."""
    sh, sw = plan.stride
    n, length = dcols.shape[2], dcols.shape[-1]
    rows = r1 - r0 + plan.halo_rows
    planes = _scratch(xp, "planes", (n, plan.c_in, sh, sw, (rows + 1) * plan.row), dcols.dtype)
    planes.fill(0)
    if plan.grid is not None:
        # the SH*SW taps sharing a shift (qh, qw) write different planes: one add for them all
        qh, qw, step_h, step_w = plan.grid
        dcols = dcols.reshape(plan.c_in, qh, sh, qw, sw, n, length)
        for i in range(qh):
            for j in range(qw):
                offset = i * step_h + j * step_w
                planes[..., offset:offset + length] += dcols[:, i, :, j].transpose(3, 0, 1, 2, 4)
    else:
        for k, (a, b, offset) in enumerate(plan.taps):
            planes[:, :, a, b, offset:offset + length] += dcols[:, k].swapaxes(0, 1)
    _add_from_planes(gx, planes, plan, images, r0, r1)


def _widen(xp, gy, plan: _Plan, images: slice, r0: int, r1: int):
    """gy's rows r0..r1 of a tile's images as one matrix of wide rows (C_out, n*L), zero in
    the WQ - OW garbage columns, so that garbage positions contribute nothing to the products
    that follow."""
    n, c_out, ow = images.stop - images.start, gy.shape[1], plan.out_size[1]
    wide = _scratch(xp, "wide", (c_out, n, r1 - r0, plan.row), gy.dtype)
    wide[..., :ow] = gy[images, :, r0:r1].swapaxes(0, 1)
    wide[..., ow:] = 0
    return wide.reshape(c_out, n * (r1 - r0) * plan.row)


# ---------------------------------------------------------------------------------------------
# The three routines
# ---------------------------------------------------------------------------------------------
def _conv2d_forward(x, weight, bias, stride, padding, dilation, groups, out_size):
    """conv2d on arrays: y = W cols + b per tile.

    x : (N, C_in, H, W); weight : (C_out, C_in / G, KH, KW); bias : (C_out,) or None;
    out_size : (OH, OW), usually the formula's, smaller when a caller needs fewer rows.
    Returns y : (N, C_out, OH, OW), a new array.
    """
    xp = backend.get_array_module(x, weight)
    n, c_in = x.shape[:2]
    c_out, c_group, kh, kw = weight.shape
    plan = _plan(x.shape[2:], c_in, c_out, (kh, kw), stride, padding, dilation, out_size)
    (oh, ow), wq = plan.out_size, plan.row
    w_mat = weight.reshape(groups, c_out // groups, c_group * kh * kw)   # (G, C_out/G, K)
    y = xp.empty((n, c_out, oh, ow), dtype=x.dtype)
    for images, r0, r1 in _tiles(xp, plan, n, x.dtype.itemsize):
        cols = _im2col(xp, x, plan, images, r0, r1)                     # (C_in, KH*KW, n, L)
        nb, length = cols.shape[2], cols.shape[2] * cols.shape[3]
        wide = _scratch(xp, "wide", (groups, c_out // groups, length), x.dtype)
        xp.matmul(w_mat, cols.reshape(groups, -1, length), out=wide)  # (G, C_out/G, n*L)
        wide = wide.reshape(c_out, nb, r1 - r0, wq)[..., :ow].swapaxes(0, 1)   # crop garbage
        if bias is None:
            y[images, :, r0:r1] = wide
        else:
            xp.add(wide, bias.reshape(1, c_out, 1, 1), out=y[images, :, r0:r1])
    return y


def _conv2d_backward_data(gy, weight, x_shape, stride, padding, dilation, groups):
    """The gradient of conv2d for its input: gx = A^T gy, i.e. conv_transpose2d.

    gy : (N, C_out, OH, OW); weight : (C_out, C_in / G, KH, KW); x_shape : (N, C_in, H, W).
    Per tile: dcols = W^T gy (the columns' gradient), then col2im adds each tap back.
    Returns gx : (N, C_in, H, W), a new array.
    """
    xp = backend.get_array_module(gy, weight)
    n, c_in, h, w = x_shape
    c_out, c_group, kh, kw = weight.shape
    plan = _plan((h, w), c_in, c_out, (kh, kw), stride, padding, dilation, gy.shape[2:])
    w_mat_t = weight.reshape(groups, c_out // groups, c_group * kh * kw).swapaxes(1, 2)
    gx = xp.zeros(x_shape, dtype=gy.dtype)                  # w_mat_t: (G, K, C_out/G)
    for images, r0, r1 in _tiles(xp, plan, n, gy.dtype.itemsize):
        gy_wide = _widen(xp, gy, plan, images, r0, r1)                  # (C_out, n*L)
        nb, length = images.stop - images.start, gy_wide.shape[-1]
        dcols = _scratch(xp, "cols", (groups, c_group * kh * kw, length), gy.dtype)
        xp.matmul(w_mat_t, gy_wide.reshape(groups, -1, length), out=dcols)  # (G, K, n*L)
        _col2im_add(xp, gx, dcols.reshape(c_in, kh * kw, nb, length // nb), plan, images,
                    r0, r1)
    return gx


def _conv2d_backward_weight(x, gy, weight_shape, stride, padding, dilation, groups):
    """The gradient of conv2d for its weight: gw = sum over images of gy cols^T.

    x : (N, C_in, H, W); gy : (N, C_out, OH, OW); weight_shape : (C_out, C_in / G, KH, KW).
    Computed transposed, gw^T = cols gy^T (G, K, C_out/G): BLAS runs that orientation faster.
    Returns gw : weight_shape, a new array.
    """
    xp = backend.get_array_module(x, gy)
    n, c_in = x.shape[:2]
    c_out, c_group, kh, kw = weight_shape
    plan = _plan(x.shape[2:], c_in, c_out, (kh, kw), stride, padding, dilation, gy.shape[2:])
    gw_t = xp.zeros((groups, c_group * kh * kw, c_out // groups), dtype=x.dtype)
    for images, r0, r1 in _tiles(xp, plan, n, x.dtype.itemsize):
        cols = _im2col(xp, x, plan, images, r0, r1)                     # (C_in, KH*KW, n, L)
        gy_wide = _widen(xp, gy, plan, images, r0, r1)                  # (C_out, n*L)
        length = gy_wide.shape[-1]
        gw_t += xp.matmul(cols.reshape(groups, -1, length),            # (G, K, C_out/G)
                          gy_wide.reshape(groups, -1, length).swapaxes(1, 2))
    return xp.ascontiguousarray(gw_t.swapaxes(1, 2)).reshape(weight_shape)


# ---------------------------------------------------------------------------------------------
# The ops
# ---------------------------------------------------------------------------------------------
class Conv2d(Function):
    """y = conv2d(x, w) + b, with x, w, b the inputs and the rest keyword hyper-parameters."""

    def forward(self, x, weight, bias, stride, padding, dilation, groups, out_size):
        self.save(x=x, weight=weight)
        self.save(params=dict(stride=stride, padding=padding, dilation=dilation, groups=groups))
        return _conv2d_forward(x, weight, bias, stride, padding, dilation, groups, out_size)

    def backward(self, gy):
        # y = A(w) x + b, linear in x and in w:
        #   gx = A^T gy                          (conv_transpose2d of gy)
        #   gw[o, c, kh, kw] = sum over n, oh, ow of gy[n, o, oh, ow] * xpad[n, c, tap]
        #   gb[o] = sum over n, oh, ow of gy[n, o, oh, ow]
        x, weight = self.saved.x, self.saved.weight
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            gx = _conv2d_backward_data(gy, weight, x.shape, **self.saved.params)
        if self.needs_input_grad[1]:
            gw = _conv2d_backward_weight(x, gy, weight.shape, **self.saved.params)
        if self.needs_input_grad[2]:
            gb = gy.sum(axis=(0, 2, 3))
        return gx, gw, gb


class ConvTranspose2d(Function):
    """y = conv_transpose2d(x, w) + b: conv2d's backward-data, read forwards."""

    def forward(self, x, weight, bias, stride, padding, dilation, groups, out_size):
        # The conv2d being transposed maps out_size (C_out channels) to x's size (C_in): its
        # weight is ours, (C_in, C_out / G, KH, KW) read as (C_out', C_in' / G, KH, KW).
        self.save(x=x, weight=weight)
        self.save(params=dict(stride=stride, padding=padding, dilation=dilation, groups=groups))
        n, c_out = x.shape[0], weight.shape[1] * groups
        y = _conv2d_backward_data(x, weight, (n, c_out) + tuple(out_size), **self.saved.params)
        if bias is not None:
            y += bias.reshape(1, c_out, 1, 1)
        return y

    def backward(self, gy):
        # y = A^T x + b with A the conv2d above, so:
        #   gx = A gy                            (conv2d of gy: the forward routine)
        #   gw = conv2d's weight gradient with the roles of input and output swapped
        #   gb[o] = sum over n, h, w of gy[n, o, h, w]
        x, weight = self.saved.x, self.saved.weight
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            gx = _conv2d_forward(gy, weight, None, out_size=x.shape[2:], **self.saved.params)
        if self.needs_input_grad[1]:
            gw = _conv2d_backward_weight(gy, x, weight.shape, **self.saved.params)
        if self.needs_input_grad[2]:
            gb = gy.sum(axis=(0, 2, 3))
        return gx, gw, gb


# ---------------------------------------------------------------------------------------------
# Checking arguments
# ---------------------------------------------------------------------------------------------
def _as_input(value):
    """Tensors and arrays pass; anything else (nested lists) becomes a Tensor."""
    if value is None or isinstance(value, Tensor) or backend.is_array(value):
        return value
    return Tensor(value)


def _check_inputs(op: str, x, weight, bias, weight_layout: str) -> None:
    x_shape, w_shape = tuple(x.shape), tuple(weight.shape)
    if len(x_shape) != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C_in, H, W), got shape {x_shape}")
    if len(w_shape) != 4:
        raise ValueError(f"{op}: weight must be 4-D {weight_layout}, got shape {w_shape}")
    if min(x_shape[1:]) < 1:
        raise ValueError(f"{op}: input of shape {x_shape} is empty; only the batch axis N may "
                         "be 0")
    if min(w_shape) < 1:
        raise ValueError(f"{op}: weight of shape {w_shape} is empty")
    named = [("input", x), ("weight", weight)] + ([("bias", bias)] if bias is not None else [])
    for name, a in named:
        if np.dtype(a.dtype).kind != "f":
            raise TypeError(f"{op}: {name} must be floating point, got dtype {a.dtype} with "
                            f"shape {tuple(a.shape)}")
    for name, a in named[1:]:
        if a.dtype != x.dtype:
            raise TypeError(f"{op}: input has dtype {x.dtype} but {name} has dtype {a.dtype} "
                            f"(input {x_shape}, {name} {tuple(a.shape)}); cast one of them")


def _check_groups(op: str, groups) -> int:
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    return int(groups)


def _check_hyper(op: str, stride, padding, dilation) -> tuple:
    stride, dilation = _pair(op, "stride", stride), _pair(op, "dilation", dilation)
    padding = _pair(op, "padding", padding)
    for name, value in (("stride", stride), ("dilation", dilation)):
        if min(value) < 1:
            raise ValueError(f"{op}: {name} must be at least 1, got {name}={value}")
    if min(padding) < 0:
        raise ValueError(f"{op}: padding must be non-negative, got padding={padding}")
    return stride, padding, dilation


def _check_bias(op: str, bias, weight_shape: tuple, c_out: int) -> None:
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise ValueError(f"{op}: bias has shape {tuple(bias.shape)} but weight {weight_shape} "
                         f"needs ({c_out},)")


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------
def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation), as torch.nn.functional.conv2d.

    Parameters
    ----------
    x : (N, C_in, H, W) Tensor or array, floating point
        N may be 0 (the output is then empty too).
    weight : (C_out, C_in / groups, KH, KW) Tensor or array, x's dtype
    bias : (C_out,) Tensor or array, optional
    stride : int or (SH, SW), >= 1
    padding : int or (PH, PW) >= 0, or "valid" (no padding) or "same"
        Zeros added on both sides. "same" keeps (H, W) (stride 1 only, as PyTorch): the total
        padding DH*(KH - 1) is split with the odd row or column at the bottom or right.
    dilation : int or (DH, DW), >= 1
        Spacing between kernel taps ("atrous" convolution).
    groups : int
        C_in and C_out are split into ``groups`` groups; output group g sees input group g only.

    Returns
    -------
    (N, C_out, OH, OW) Tensor, x's dtype, with
    OH = floor((H + 2*PH - DH*(KH - 1) - 1) / SH) + 1 and likewise OW.

    Raises
    ------
    ValueError for inputs that are not 4-D, channels that do not match the weight or are not
    divisible by groups, a bias of the wrong shape, stride or dilation below 1, negative
    padding, or an output size below 1; TypeError for non-float inputs or mixed dtypes.

    Notes
    -----
    y[n, o, oh, ow] = b[o] + sum_{c, kh, kw} w[o, c, kh, kw] xpad[n, c', oh*SH + kh*DH,
    ow*SW + kw*DW] with c' running over the input channels of o's group. The gradient for x is
    conv_transpose2d of the output gradient with the same weight; see the module docstring for
    how all three passes are computed as matrix products over phase planes.

    References
    ----------
    Dumoulin & Visin, "A guide to convolution arithmetic for deep learning", 2016, Section 2.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> w = np.ones((1, 1, 2, 2), dtype=np.float32)          # sums each 2x2 window
    >>> conv2d(x, w, stride=2).numpy()[0, 0]
    array([[10., 18.],
           [42., 50.]], dtype=float32)
    >>> conv2d(x, w, padding=1).shape                         # OH = (4 + 2 - 1 - 1) / 1 + 1
    (1, 1, 5, 5)
    """
    op = "conv2d"
    x, weight, bias = _as_input(x), _as_input(weight), _as_input(bias)
    _check_inputs(op, x, weight, bias, "(C_out, C_in / groups, KH, KW)")
    groups = _check_groups(op, groups)
    x_shape, w_shape = tuple(x.shape), tuple(weight.shape)
    c_out, c_group, kh, kw = w_shape
    if x_shape[1] % groups:
        raise ValueError(f"{op}: C_in={x_shape[1]} of input {x_shape} is not divisible by "
                         f"groups={groups}")
    if c_out % groups:
        raise ValueError(f"{op}: C_out={c_out} of weight {w_shape} is not divisible by "
                         f"groups={groups}")
    if x_shape[1] != c_group * groups:
        raise ValueError(f"{op}: input {x_shape} has C_in={x_shape[1]} channels but weight "
                         f"{w_shape} with groups={groups} expects C_in = weight.shape[1] * "
                         f"groups = {c_group * groups}")
    _check_bias(op, bias, w_shape, c_out)
    same = isinstance(padding, str) and padding == "same"
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(f"{op}: padding must be an int, a pair of ints, 'valid' or 'same', "
                             f"got {padding!r}")
        stride, _, dilation = _check_hyper(op, stride, 0, dilation)
        if same and stride != (1, 1):
            raise ValueError(f"{op}: padding='same' needs stride 1 (as PyTorch), got "
                             f"stride={stride}")
        # "same": the total padding D*(K - 1) is split, the odd one after (bottom, right)
        padding = ((dilation[0] * (kh - 1)) // 2, (dilation[1] * (kw - 1)) // 2) if same else (0, 0)
    else:
        stride, padding, dilation = _check_hyper(op, stride, padding, dilation)
    if same:
        out_size = x_shape[2:]
    else:
        out_size = tuple(conv_output_size(s, k, st, p, d) for s, k, st, p, d in
                         zip(x_shape[2:], (kh, kw), stride, padding, dilation))
    if min(out_size) < 1:
        raise ValueError(f"{op}: output size {out_size} is below 1 for input {x_shape} with "
                         f"kernel {(kh, kw)}, stride {stride}, padding {padding}, dilation "
                         f"{dilation}: OH = floor((H + 2*PH - DH*(KH - 1) - 1) / SH) + 1")
    return Conv2d.apply(x, weight, bias, stride=stride, padding=padding, dilation=dilation,
                        groups=groups, out_size=out_size)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups: int = 1, dilation=1) -> Tensor:
    """2-D transposed convolution ("deconvolution"), as torch.nn.functional.conv_transpose2d.

    The adjoint of conv2d: each input pixel adds a copy of the kernel, scaled by its value, to
    the output, the copies SH and SW apart. It is computed as the backward-data pass of conv2d
    (``_conv2d_backward_data``), and its own backward-data pass is conv2d's forward.

    Parameters
    ----------
    x : (N, C_in, H, W) Tensor or array, floating point
    weight : (C_in, C_out / groups, KH, KW) Tensor or array, x's dtype
        The weight of the conv2d that maps C_out channels back to C_in (note the order).
    bias : (C_out,) Tensor or array, optional
    stride, padding, dilation : int or pair
        Those of the conv2d being transposed. ``padding`` removes PH rows from the top and
        the bottom of the full output (>= 0).
    output_padding : int or pair
        Extra rows (columns) at the bottom (right), each smaller than the stride or the
        dilation: picks the output size among those the conv2d maps to (H, W).
    groups : int

    Returns
    -------
    (N, C_out, OH, OW) Tensor, x's dtype, with
    OH = (H - 1)*SH - 2*PH + DH*(KH - 1) + output_padding + 1 and likewise OW.

    Raises
    ------
    ValueError as for conv2d, and for an output_padding not smaller than the stride or the
    dilation; TypeError for non-float inputs or mixed dtypes.

    Notes
    -----
    <conv2d(z, weight), x> = <z, conv_transpose2d(x, weight)> for every z of the output's
    shape. With stride S each output phase (o mod S) is painted by its own subset of the kernel
    taps: a random kernel gives the phases different sums, which shows as a checkerboard, and a
    kernel size not divisible by S adds uneven overlap on top (Odena et al. 2016). FCN
    initialises its upsampling layers with a bilinear kernel (``nn.init.bilinear_``), whose
    phase sums are equal.

    References
    ----------
    Dumoulin & Visin, "A guide to convolution arithmetic for deep learning", 2016, Section 4;
    Long, Shelhamer & Darrell, "Fully Convolutional Networks", CVPR 2015, Section 3.3;
    Zeiler, Krishnan, Taylor & Fergus, "Deconvolutional Networks", CVPR 2010.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[[[1, 2], [3, 4]]]], dtype=np.float32)
    >>> w = np.ones((1, 1, 2, 2), dtype=np.float32)
    >>> conv_transpose2d(x, w, stride=2).numpy()[0, 0]       # each pixel paints a 2x2 block
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.],
           [3., 3., 4., 4.],
           [3., 3., 4., 4.]], dtype=float32)
    """
    op = "conv_transpose2d"
    x, weight, bias = _as_input(x), _as_input(weight), _as_input(bias)
    _check_inputs(op, x, weight, bias, "(C_in, C_out / groups, KH, KW)")
    groups = _check_groups(op, groups)
    x_shape, w_shape = tuple(x.shape), tuple(weight.shape)
    c_in, c_out_group, kh, kw = w_shape
    if x_shape[1] % groups:
        raise ValueError(f"{op}: C_in={x_shape[1]} of input {x_shape} is not divisible by "
                         f"groups={groups}")
    if x_shape[1] != c_in:
        raise ValueError(f"{op}: input {x_shape} has C_in={x_shape[1]} channels but weight "
                         f"{w_shape} expects C_in = weight.shape[0] = {c_in}")
    c_out = c_out_group * groups
    _check_bias(op, bias, w_shape, c_out)
    stride, padding, dilation = _check_hyper(op, stride, padding, dilation)
    output_padding = _pair(op, "output_padding", output_padding)
    if min(output_padding) < 0 or any(op_ >= max(s, d) for op_, s, d in
                                      zip(output_padding, stride, dilation)):
        raise ValueError(f"{op}: output_padding must be non-negative and smaller than stride or "
                         f"dilation along each axis, got output_padding={output_padding} with "
                         f"stride={stride} and dilation={dilation}")
    out_size = tuple(conv_transpose_output_size(s, k, st, p, d, o) for s, k, st, p, d, o in
                     zip(x_shape[2:], (kh, kw), stride, padding, dilation, output_padding))
    if min(out_size) < 1:
        raise ValueError(f"{op}: output size {out_size} is below 1 for input {x_shape} with "
                         f"kernel {(kh, kw)}, stride {stride}, padding {padding}, dilation "
                         f"{dilation}, output_padding {output_padding}: OH = (H - 1)*SH - 2*PH "
                         "+ DH*(KH - 1) + output_padding + 1")
    return ConvTranspose2d.apply(x, weight, bias, stride=stride, padding=padding,
                                 dilation=dilation, groups=groups, out_size=out_size)
