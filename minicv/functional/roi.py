"""Region features: roi_pool (Fast R-CNN) and roi_align (Mask R-CNN), forward and backward.

A two-stage detector classifies *regions* of one shared feature map. Both ops cut K regions of
interest (rois) out of an (N, C, H, W) map and resample each to a fixed PH x PW grid, so that a
single head can read boxes of any size:

    x (N, C, H, W),  rois (K, 5)  ->  y (K, C, PH, PW)

A roi row is (batch_index, x1, y1, x2, y2): the image it belongs to, then its box in the
coordinates of the *input image*; multiplying by ``spatial_scale`` (1/16 for a stride-16
backbone) gives feature-map coordinates. A list of per-image (L, 4) box arrays is accepted too
and becomes (K, 5) with the list position as batch index.

Notation: N batch, C channels, H and W the feature map, K rois, PH and PW the output size, s the
spatial scale, GH and GW the sampling grid of roi_align (samples per bin along each axis).

roi_pool (Girshick, "Fast R-CNN", ICCV 2015, Section 2.1) -- torchvision's CPU kernel, rule for
rule:
- each coordinate is multiplied by s and rounded half away from zero (C's ``round``: 2.5 -> 3,
  not NumPy's 2.5 -> 2);
- roi size = max(end - start + 1, 1) cells (end pixel included); bin = size / pooled size;
- bin p covers cells [floor(p * bin), ceil((p + 1) * bin)) offset by the start and clipped to
  [0, H) (columns likewise): neighbouring bins may share a cell;
- each bin keeps its maximum, the first one in row-major order on ties; an empty bin gives 0.
roi_align (He et al., "Mask R-CNN", ICCV 2017, Section 3) -- torchvision's CPU kernel:
- coordinates times s, no rounding; ``aligned=True`` then subtracts 0.5 (see roi_align);
- ``aligned=False`` clamps the roi's height and width to at least 1; bin = size / pooled size;
- GH = ``sampling_ratio`` if > 0, else ceil(roi height / PH) for that roi (GW likewise);
- sample i of bin p sits at start + p * bin + (i + 0.5) * bin / GH and is read bilinearly;
- the bin's value is the mean of its GH * GW samples.

RoIAlign is two matrix products
-------------------------------
For fixed boxes roi_align is LINEAR in the features, and SEPARABLE: a sample at (Y, X) reads
x with weight wy(Y, h) * wx(X, w), where wy spreads 1 over the two rows around Y (1 - frac to
floor(Y), frac to the row below) and wx does the same for columns. Averaging over the bin's
samples keeps the product form, so for every roi k (image b = b_k)

    y[k, c] = Wy[k]  x[b, c]  Wx[k]^T          (PH, H) (H, W) (W, PW) -> (PH, PW)

where row p of Wy[k] is the mean of wy(Y, .) over the GH sample rows of bin p -- the border
rules folded in -- and Wx[k] (PW, W) likewise. With H = 4, PH = 2, one roi from row 0.5 to 2.5,
GH = 2: the samples sit at 0.75, 1.25 (bin 0) and 1.75, 2.25 (bin 1); 0.75 gives row 0 a weight
0.25 and row 1 0.75, and so on, and each bin averages its two samples:

    Wy = [[0.125, 0.75,  0.125, 0    ],
          [0,     0.125, 0.75,  0.125]]

The whole op is then matrix algebra, which is both the explanation and the fast way:
- forward: for each image, its rois' Wy stacked into one (k*PH, H) matrix times the image laid
  out as (H, W*C), then a batched product with the Wx -- BLAS does the work, no loop over boxes;
- backward for the features: the same products transposed, gx[b, c] = sum over the rois k of
  image b of Wy[k]^T gy[k, c] Wx[k]. The sum over rois is part of a matrix product, so the result
  is the same bits on every run (no atomic adds: torchvision's CUDA kernel accumulates with
  atomics, and its gradients vary in the last bits from run to run).
The (K, PH, H) and (K, PW, W) matrices are built from the sample positions of all rois at once
(the adaptive grid makes the number of samples vary per roi: they are laid end to end, one
array entry per sample, and scattered into the matrices). The rois of an image then go through
in chunks of a few, grouped by height and first row. A chunk multiplies only the window of rows
and columns its rois read: with the map stored channels last, (N, H, W, C), that window is an
(Lr, Lc*C) matrix without any copy, and the chunk's (k*PH, Lc*C) intermediate stays in cache.

Gradients for the boxes
-----------------------
torchvision and Chainer give no gradient for the boxes. Here, when ``rois`` is a Tensor with
``requires_grad=True``, roi_align returns one. The output depends on a box only through the
sample positions, and each bilinear weight is piecewise linear in its sample position: between
integer positions, d(1 - frac)/dY = -1 and d(frac)/dY = +1; samples held at row 0 (Y <= 0),
snapped to row H - 1 (Y >= H - 1) or outside do not move their weights. A sample's position
Y = y1*s - offset + (y2 - y1)*s * t with t = (p + (i + 0.5)/GH) / PH, so

    dY/dy1 = s (1 - t),   dY/dy2 = s t         (s and 0 while the aligned=False clamp is active)

This gives matrices dWy/dy1 and dWy/dy2 of the same shape as Wy, and by the chain rule through
the weight matrix,

    dL/dy1_k = < dL/dWy[k], dWy[k]/dy1_k >,   dL/dWy[k] = sum_c gy[k, c] Wx[k] x[b, c]^T

(x1 and x2 through Wx likewise). The grid size GH = ceil(...) is piecewise constant, so it adds
nothing. The gradient is exact between the kinks -- a sample crossing an integer coordinate or
the map's border, the size crossing the clamp -- and is what finite differences give away from
them. Box gradients through the bilinear weights were first used by Precise RoI Pooling (Jiang
et al., "Acquisition of Localization Confidence for Accurate Object Detection", ECCV 2018), which
integrates the interpolated map over the bin to make them continuous everywhere.

RoI pooling with a sparse table
-------------------------------
A bin's value is the maximum over a rectangle of cells. Any rectangle of height h and width w is
covered by four (overlapping) rectangles of size 2^i x 2^j with 2^i <= h < 2^(i+1) and
2^j <= w < 2^(j+1), anchored at its four corners; a maximum does not mind overlaps. So the
maxima over all 2^i x 2^j rectangles are tabulated once per call by doubling -- M_(i,j+1) is the
maximum of M_(i,j) and M_(i,j) shifted by 2^j columns (rows likewise) -- and every bin is
answered with at most four lookups (one per corner; a side whose length is a power of two
needs one anchor only). This is the "sparse table" of range-minimum queries (Bender and
Farach-Colton, "The LCA Problem Revisited", LATIN 2000), on the whole (N, H, W, C) map at once.
Beside each maximum the table keeps the cell it came from, so that backward can send each
gradient to its bin's winning cell, with torchvision's "first maximum wins" rule: of equal
values, the smaller flat index h*W + w. For float32 the pair (value, cell) is packed into one
int64 that sorts the same way, so that one np.maximum compares pairs. Only the levels some bin
needs are built; without a gradient to compute, the table holds the values alone.

References: Girshick, "Fast R-CNN", ICCV 2015; He, Gkioxari, Dollar & Girshick, "Mask R-CNN",
ICCV 2017; Jiang, Luo, Mao, Xiao & Jiang, "Acquisition of Localization Confidence for Accurate
Object Detection" (IoU-Net, Precise RoI Pooling), ECCV 2018; torchvision
csrc/ops/cpu/roi_pool_kernel.cpp and roi_align_kernel.cpp (the rules).
"""
from __future__ import annotations

import math
import numbers
import operator
from dataclasses import dataclass

import numpy as np

from minicv import backend
from minicv.autograd import Function, Tensor, is_grad_enabled
from minicv.functional._args import check_float_4d

__all__ = ["roi_pool", "roi_align"]

# torchvision's roi_pool starts each bin's running maximum at -FLT_MAX (whatever the dtype)
_FLT_MAX = float(np.finfo(np.float32).max)
# Most sample rows (or columns) roi_align lays out for all rois together; an adaptive grid on a
# box of absurd size would otherwise exhaust memory (torchvision would loop for hours).
_MAX_SAMPLES = 2**22
# roi_align's chunks: at most this many elements in a chunk's (k*PH, W*C) intermediate. Small
# on the CPU, where it should stay in cache; large on the GPU, where each chunk costs a few
# kernel launches.
_CHUNK_ELEMENTS = {"cpu": 2**19, "gpu": 2**25}


# ---------------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------------
def _check_x(op: str, x) -> tuple:
    shape = check_float_4d(op, "x", x)
    if shape[2] < 1 or shape[3] < 1:
        raise ValueError(f"{op}: x of shape {shape} has an empty feature map; H and W must be "
                         "at least 1")
    return shape


def _output_size(op: str, output_size) -> tuple:
    """(PH, PW) from an int or a pair of ints, each at least 1."""
    items = (tuple(output_size) if isinstance(output_size, (tuple, list))
             else (output_size, output_size))
    try:
        if len(items) != 2 or any(isinstance(v, (bool, np.bool_)) for v in items):
            raise TypeError
        size = tuple(operator.index(v) for v in items)
    except TypeError:
        raise TypeError(f"{op}: output_size must be an int or a pair of ints (PH, PW), got "
                        f"{output_size!r}") from None
    if min(size) < 1:
        raise ValueError(f"{op}: output_size must be at least 1, got {output_size!r}")
    return size


def _spatial_scale(op: str, spatial_scale) -> float:
    if isinstance(spatial_scale, (bool, np.bool_)) or not isinstance(spatial_scale,
                                                                      numbers.Real):
        raise TypeError(f"{op}: spatial_scale must be a number, got {spatial_scale!r}")
    if not math.isfinite(spatial_scale) or spatial_scale <= 0:
        raise ValueError(f"{op}: spatial_scale must be positive and finite, got "
                         f"{spatial_scale!r}")
    return float(spatial_scale)


def _list_to_rois(op: str, boxes_per_image, x_data):
    """A list of per-image (L, 4) boxes -> one (K, 5) array (or Tensor, if a box Tensor needs a
    gradient) with the list position as batch index (torchvision's convert_boxes_to_roi_format)."""
    xp = backend.get_array_module(x_data)
    entries = []
    for i, boxes in enumerate(boxes_per_image):                 # a loop over the images
        raw = boxes.data if isinstance(boxes, Tensor) else boxes
        if not backend.is_array(raw):                           # nested lists: x's device
            raw = xp.asarray(np.asarray(raw))
        backend.get_array_module(x_data, raw, op=op)            # arrays: on x's device
        shape = tuple(raw.shape)
        if len(shape) != 2 or shape[1] != 4:
            raise ValueError(f"{op}: rois given as a list must hold one (L, 4) array of boxes "
                             f"(x1, y1, x2, y2) per image, but entry {i} has shape {shape}")
        if raw.dtype.kind not in "iuf":
            raise TypeError(f"{op}: boxes must be numbers, but entry {i} has dtype {raw.dtype}")
        entries.append((boxes, raw))
    if not entries:
        return xp.zeros((0, 5), dtype=x_data.dtype)
    dtype = next((raw.dtype for _, raw in entries if raw.dtype.kind == "f"), x_data.dtype)
    index = [xp.full((raw.shape[0], 1), i, dtype=dtype) for i, (_, raw) in enumerate(entries)]
    if any(isinstance(b, Tensor) and b.requires_grad for b, _ in entries):
        from minicv.functional.shape import concatenate   # keeps the boxes in the graph
        return concatenate([concatenate([col, b], axis=1)
                            for col, (b, _) in zip(index, entries)], axis=0)
    return xp.concatenate([xp.concatenate([col, raw.astype(dtype)], axis=1)
                           for col, (_, raw) in zip(index, entries)], axis=0)


def _check_rois(op: str, rois, x_data, scale: float):
    """(rois for the Function, host float64 copy (K, 5)), checked row by row."""
    if isinstance(rois, (list, tuple)):
        rois = _list_to_rois(op, rois, x_data)
    raw = rois.data if isinstance(rois, Tensor) else rois
    if not backend.is_array(raw):
        raise TypeError(f"{op}: rois must be a (K, 5) Tensor or array (batch_index, x1, y1, "
                        f"x2, y2), or a list of (L, 4) boxes per image; got "
                        f"{type(rois).__name__}")
    if raw.ndim != 2 or raw.shape[1] != 5:
        raise ValueError(f"{op}: rois must have shape (K, 5), rows (batch_index, x1, y1, x2, "
                         f"y2); got shape {tuple(raw.shape)}")
    if raw.dtype.kind not in "iuf":
        raise TypeError(f"{op}: rois must be numbers, got dtype {raw.dtype}")
    backend.get_array_module(x_data, raw, op=op)                # same device as x
    host = backend.to_cpu(raw).astype(np.float64)
    n = x_data.shape[0]
    finite = np.isfinite(host).all(axis=1)
    if not finite.all():
        k = int(np.argmin(finite))
        raise ValueError(f"{op}: rois row {k} is {host[k].tolist()}; batch indices and "
                         "coordinates must be finite (no NaN or inf)")
    batch = host[:, 0]
    whole = batch == np.floor(batch)
    if not whole.all():
        k = int(np.argmin(whole))
        raise ValueError(f"{op}: rois row {k} has batch index {float(batch[k])!r}, which is "
                         "not a whole number (column 0 is the index of the roi's image in x)")
    inside = (batch >= 0) & (batch < n)
    if not inside.all():
        k = int(np.argmin(inside))
        valid = f"0 to {n - 1}" if n else "none"
        raise IndexError(f"{op}: rois row {k} has batch index {int(batch[k])}, but x holds "
                         f"{n} image(s) (valid: {valid})")
    dtype = _geometry_dtype(x_data.dtype)             # the ops compute in x's precision
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = host[:, 1:].astype(dtype) * dtype(scale)            # (K, 4)
        sizes = scaled[:, 2:] - scaled[:, :2]                         # (K, 2)
        fits = np.isfinite(scaled).all(axis=1) & np.isfinite(sizes).all(axis=1)
    if not fits.all():
        k = int(np.argmin(fits))
        raise ValueError(f"{op}: rois row {k} is {host[k].tolist()}; times spatial_scale="
                         f"{scale:g} its coordinates (or the box size) overflow {np.dtype(dtype)}")
    return rois, host


def _geometry_dtype(dtype):
    """The precision the box arithmetic runs in: x's (float32 or float64), as torchvision's
    kernels compute in the input's scalar type."""
    return np.float64 if np.dtype(dtype) == np.float64 else np.float32


# ---------------------------------------------------------------------------------------------
# roi_pool: bins with integer borders, maxima from a sparse table
# ---------------------------------------------------------------------------------------------
def _round_half_away(v):
    """C's round(): halves go away from zero (NumPy's round goes to even). Exact: v - trunc(v)
    is computed without rounding error, unlike floor(v + 0.5)."""
    whole = np.trunc(v)
    return np.where(np.abs(v - whole) >= 0.5, whole + np.sign(v), whole)


def _pool_bins(c1, c2, length: int, pooled: int, scale: float):
    """Cells [lo, hi) of each bin of each roi along one axis: two (K, P) int64 host arrays.

    c1, c2 : (K,) start and end coordinates (host, in the geometry dtype).
    """
    dtype = c1.dtype.type
    limit = 2.0**40                  # keeps absurd (but finite) boxes away from int64 overflow
    start = np.clip(_round_half_away(c1 * dtype(scale)), -limit, limit).astype(np.int64)
    end = np.clip(_round_half_away(c2 * dtype(scale)), -limit, limit).astype(np.int64)
    size = np.maximum(end - start + 1, 1)                  # (K,) end cell included; >= 1
    bin_size = size.astype(dtype) / dtype(pooled)          # (K,)
    p = np.arange(pooled).astype(dtype)                    # (P,)
    lo = np.floor(p * bin_size[:, None]).astype(np.int64) + start[:, None]         # (K, P)
    hi = np.ceil((p + 1) * bin_size[:, None]).astype(np.int64) + start[:, None]    # (K, P)
    return np.clip(lo, 0, length), np.clip(hi, 0, length)


def _level(n):
    """floor(log2(n)) for integers n >= 1, exactly (frexp: n = m * 2^e with m in [0.5, 1))."""
    return np.frexp(n.astype(np.float64))[1] - 1


# A table entry is a pair (value, cell): the maximum of a rectangle and the flat cell h*W + w
# it sits in. The larger value wins; on equal values the smaller cell -- the first in row-major
# order, torchvision's rule. Without cells (no gradient wanted) cell is None. For float32 the
# pair is packed into one int64 whose order is exactly that rule (value bits high, inverted
# cell low), so that a single np.maximum compares pairs: several times less memory traffic.
def _larger(a, b):
    """The winner of two table entries (arrays of them), elementwise."""
    (va, ca), (vb, cb) = a, b
    xp = backend.get_array_module(va)
    if ca is None:                                   # values alone, or packed pairs
        return xp.maximum(va, vb), None
    b_wins = (vb > va) | ((vb == va) & (cb < ca))
    return xp.maximum(va, vb), ca + b_wins * (cb - ca)


def _words(keys):
    """The (low, high) 32-bit halves of int64 keys, as int32 views (no copy)."""
    xp = backend.get_array_module(keys)
    halves = keys.view(xp.int32).reshape(keys.shape + (2,))
    return (halves[..., 0], halves[..., 1]) if np.little_endian else (halves[..., 1],
                                                                      halves[..., 0])


def _pack(values, cells):
    """float32 values and int cells -> int64 keys ordered by value, then by earlier cell.

    high word: the float's bits made to sort like the float (a negative float's bits sort
    backwards, so its 31 lower bits are flipped); low word: ~cell, larger for earlier cells.
    """
    xp = backend.get_array_module(values)
    keys = xp.empty(values.shape, dtype=xp.int64)
    low, high = _words(keys)
    bits = (values + np.float32(0)).view(xp.int32)   # + 0 turns -0.0 into 0.0: zeros tie
    high[...] = bits ^ ((bits >> 31) & 0x7FFFFFFF)
    low[...] = ~cells
    return keys


def _unpack(keys):
    """Inverse of _pack: (float32 values, int32 cells). The key 0 gives (0.0, -1)."""
    xp = backend.get_array_module(keys)
    low, high = _words(keys)
    values = (high ^ ((high >> 31) & 0x7FFFFFFF)).view(xp.float32)
    return values, ~low


def _double(table, axis: int, shift: int):
    """Maxima over rectangles twice as long along ``axis``: each entry against the entry
    ``shift`` cells further on."""
    first = [slice(None)] * 4
    second = [slice(None)] * 4
    first[axis], second[axis] = slice(None, -shift), slice(shift, None)
    pick = lambda t, where: None if t is None else t[tuple(where)]   # noqa: E731
    return _larger((pick(table[0], first), pick(table[1], first)),
                   (pick(table[0], second), pick(table[1], second)))


def _lookup(table, image, row_starts, col_starts):
    """The winner of the table entries anchored at the corners of each queried bin, as (Q, C)
    arrays. row_starts, col_starts : one or two anchor cells, (Q,) host arrays each."""
    xp = backend.get_array_module(table[0])
    _, h, w, c = table[0].shape
    best = None
    for r in row_starts:
        for s in col_starts:
            at = xp.asarray((image * h + r) * w + s)             # (Q,) rows of table (N*H*W, C)
            entry = tuple(None if t is None else xp.take(t.reshape(-1, c), at, axis=0)
                          for t in table)                        # (Q, C)
            if best is None:
                best = entry
            elif entry[1] is None:                   # a plain maximum, in place
                xp.maximum(best[0], entry[0], out=best[0])
            else:
                best = _larger(best, entry)
    return best


def _max_over_bins(x, batch, rows, cols, with_cells: bool):
    """Maximum of every bin, and (``with_cells``) the flat cell h*W + w it came from.

    x : (N, C, H, W); batch : (K,) host int; rows, cols : (lo, hi) pairs of (K, PH) and (K, PW)
    host int arrays from _pool_bins. Returns values (K, C, PH, PW), int cells of the same shape
    (-1 where the bin is empty or holds nothing above -FLT_MAX) or None, and whether any cell
    may be -1.
    """
    xp = backend.get_array_module(x)
    _, c, h, w = x.shape
    k, ph = rows[0].shape
    pw = cols[0].shape[1]

    # One query per bin (k, p, q).
    kk, pp, qq = (a.reshape(-1) for a in np.meshgrid(np.arange(k), np.arange(ph),
                                                      np.arange(pw), indexing="ij"))
    h0, h1 = rows[0][kk, pp], rows[1][kk, pp]                   # (Q,) rows [h0, h1)
    w0, w1 = cols[0][kk, qq], cols[1][kk, qq]                   # (Q,) columns [w0, w1)
    live = (h1 > h0) & (w1 > w0)                                # empty bins give 0
    level_h = np.where(live, _level(np.maximum(h1 - h0, 1)), -1)
    level_w = np.where(live, _level(np.maximum(w1 - w0, 1)), -1)
    # A side of a power-of-two length is covered by one table entry: no second anchor needed
    # (about half the bins, so this saves many lookups).
    single_h = (h1 - h0) == np.left_shift(1, np.maximum(level_h, 0))
    single_w = (w1 - w0) == np.left_shift(1, np.maximum(level_w, 0))
    if not live.any():                                          # nothing to look up
        return (xp.zeros((k, c, ph, pw), dtype=x.dtype),
                xp.full((k, c, ph, pw), -1, dtype=xp.int64) if with_cells else None, True)

    # Channels last, so that a lookup table[b, h, w] reads C neighbouring numbers. torchvision
    # compares with `>`, which a NaN never passes: a NaN is never chosen.
    values = xp.ascontiguousarray(x.transpose(0, 2, 3, 1))     # (N, H, W, C)
    if bool(xp.isnan(values).any()):
        values = xp.where(xp.isnan(values), -xp.inf, values)
    # torchvision's running maximum starts at -FLT_MAX: a bin holding nothing larger outputs
    # -FLT_MAX and passes no gradient (possible only if x holds such values: check x, smaller)
    low_values = bool((values <= -_FLT_MAX).any())
    table, packed = (values, None), False
    if with_cells:
        cells = xp.arange(h * w).reshape(1, h, w, 1)
        packed = values.dtype == np.float32 and h * w < 2**31
        table = ((_pack(values, cells), None) if packed
                 else (values, xp.array(xp.broadcast_to(cells, values.shape))))
    # The results, zero-initialised: empty bins keep value 0 and cell -1 (the key 0 unpacks
    # to exactly that).
    result = (xp.zeros((k, c, ph, pw), dtype=table[0].dtype),
              None if table[1] is None else xp.full((k, c, ph, pw), -1, dtype=table[1].dtype))

    top_w = int(level_w.max(initial=-1))
    top_h = [int(level_h[level_w == j].max(initial=-1)) for j in range(top_w + 1)]
    column_table = table                                        # level (0, 0): single cells
    for j in range(top_w + 1):                                  # 2^j columns ...
        if j:
            column_table = _double(column_table, axis=2, shift=2 ** (j - 1))
        table = column_table
        for i in range(top_h[j] + 1):                           # ... by 2^i rows
            if i:
                table = _double(table, axis=1, shift=2 ** (i - 1))
            for one_h, one_w in ((True, True), (True, False), (False, True), (False, False)):
                q = np.flatnonzero((level_h == i) & (level_w == j) & (single_h == one_h)
                                   & (single_w == one_w))
                if not q.size:
                    continue
                anchor_h = (h0[q],) if one_h else (h0[q], h1[q] - 2**i)   # first rows
                anchor_w = (w0[q],) if one_w else (w0[q], w1[q] - 2**j)   # first columns
                best = _lookup(table, batch[kk[q]], anchor_h, anchor_w)   # (Q, C) each
                where = (xp.asarray(kk[q]), slice(None), xp.asarray(pp[q]), xp.asarray(qq[q]))
                for r, b in zip(result, best):
                    if r is not None:
                        r[where] = b                            # (Q, C) into (K, C, PH, PW)

    out, won = _unpack(result[0]) if packed else result
    if low_values:
        floor = out <= -_FLT_MAX
        out[floor] = -_FLT_MAX
        if won is not None:
            won[floor] = -1
    return out, won, low_values or not live.all()


class RoIPooling(Function):
    def forward(self, x, rois, *, host_rois, output_size, spatial_scale):
        h, w = x.shape[2:]
        dtype = _geometry_dtype(x.dtype)
        boxes = host_rois.astype(dtype)
        batch = host_rois[:, 0].astype(np.int64)
        rows = _pool_bins(boxes[:, 2], boxes[:, 4], h, output_size[0], spatial_scale)
        cols = _pool_bins(boxes[:, 1], boxes[:, 3], w, output_size[1], spatial_scale)
        with_cells = is_grad_enabled() and self.needs_input_grad[0]
        y, won, silent = _max_over_bins(x, batch, rows, cols, with_cells)
        if with_cells:
            self.save(won=won, silent=silent, batch=batch, shape=x.shape)
        return y

    def backward(self, gy):
        # y[k, c, p, q] = x[b_k, c].flat[won[k, c, p, q]], so dy/dx is 1 at the winning cell and
        # 0 elsewhere: each gy goes to its bin's winner, summed where bins share one (they may
        # overlap by a cell, and rois overlap); empty bins (won = -1) send nothing. The rois get
        # no gradient: the rounding makes y piecewise constant in the box.
        if not self.needs_input_grad[0]:                # only the rois asked: they get none
            return None, None
        s = self.saved
        xp = backend.get_array_module(gy)
        n, c, h, w = s.shape
        plane = xp.asarray(s.batch)[:, None] * c + xp.arange(c)[None, :]          # (K, C)
        positions = plane[:, :, None, None] * (h * w) + s.won           # (K, C, PH, PW) flat
        if s.silent:                                # some bins have no winner (won = -1):
            positions[s.won < 0] = n * c * h * w    # into a spare cell, dropped below
        gx = xp.zeros(n * c * h * w + 1, dtype=gy.dtype)
        backend.scatter_add(gx, positions.reshape(-1), gy.reshape(-1))    # deterministic
        return gx[:-1].reshape(n, c, h, w), None


def roi_pool(x, rois, output_size, spatial_scale: float = 1.0) -> Tensor:
    """RoI max pooling (Fast R-CNN): the maximum of each of PH x PW integer-bordered bins.

    Parameters
    ----------
    x : (N, C, H, W) Tensor or array, floating point
        The feature map (H, W >= 1).
    rois : (K, 5) Tensor or array, or a list of N_i x 4 boxes per image
        Rows (batch_index, x1, y1, x2, y2) in input-image coordinates; batch indices are whole
        numbers in [0, N). A list holds one (L, 4) array or Tensor of (x1, y1, x2, y2) boxes per
        image, its position being the batch index. Coordinates are converted to x's dtype.
    output_size : int or (PH, PW)
    spatial_scale : float
        Feature-map coordinates = image coordinates * spatial_scale (1/16 for stride 16).

    Returns
    -------
    (K, C, PH, PW) Tensor, x's dtype. K = 0 gives an empty (0, C, PH, PW) result.

    Raises
    ------
    ValueError
        x not 4-D or with H or W of 0; rois not (K, 5) (or a list entry not (L, 4)); a roi
        row with NaN or inf, or whose coordinates times spatial_scale overflow x's dtype; a
        batch index that is not a whole number; output_size below 1; spatial_scale not
        positive and finite.
    IndexError
        A batch index outside [0, N).
    TypeError
        x not floating point; rois not numbers; output_size not ints.

    Notes
    -----
    torchvision's CPU kernel, rule for rule, with r = round_half_away_from_zero:

    - start = r(x1 * s), end = r(x2 * s) (2.5 -> 3, -2.5 -> -3), computed in x's dtype;
      roi width = max(end - start + 1, 1) -- the end cell is included, a malformed box is 1x1;
      bin = width / PW;
    - bin q covers the columns [floor(q * bin), ceil((q + 1) * bin)) + start, clipped to
      [0, W) (rows likewise), so neighbouring bins may share a cell;
    - the output is the bin's maximum; NaN is never chosen (a comparison with NaN is false);
      the running maximum starts at -FLT_MAX, so a bin of values <= -FLT_MAX gives -FLT_MAX;
      an empty bin (clipped away, or the roi outside the map) gives 0;
    - backward sends each output gradient to the first maximum of its bin in row-major order
      (none from empty bins), summed where cells are shared. The rois get no gradient.

    The maxima come from a sparse table of 2^i x 2^j rectangle maxima with the cell of each,
    at most four lookups per bin (module docstring).

    References
    ----------
    Girshick, "Fast R-CNN", ICCV 2015, Section 2.1.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> roi_pool(x, np.array([[0, 0, 0, 3, 3]], dtype=np.float32), 2).numpy()[0, 0]
    array([[ 5.,  7.],
           [13., 15.]], dtype=float32)
    >>> roi_pool(x, [np.array([[1.0, 1.0, 2.0, 2.0]])], 1).numpy()[0, 0]   # cells 1..2
    array([[10.]], dtype=float32)
    """
    op = "roi_pool"
    _check_x(op, x)
    size = _output_size(op, output_size)
    scale = _spatial_scale(op, spatial_scale)
    x_data = x.data if isinstance(x, Tensor) else x
    rois, host = _check_rois(op, rois, x_data, scale)
    return RoIPooling.apply(x, rois, host_rois=host, output_size=size, spatial_scale=scale)


# ---------------------------------------------------------------------------------------------
# roi_align: per-axis bilinear weight matrices
# ---------------------------------------------------------------------------------------------
@dataclass
class _AxisWeights:
    """roi_align along one axis, for all rois (host arrays; L = H or W, P = PH or PW)."""
    weights: np.ndarray        # (K, P, L): row p = mean over the bin's samples of their weights
    d_start: np.ndarray        # (K, P, L): d weights / d(first coordinate, x1 or y1), or None
    d_end: np.ndarray          # (K, P, L): d weights / d(second coordinate, x2 or y2), or None
    first: np.ndarray          # (K,) first cell any sample reads (L if none)
    end: np.ndarray            # (K,) one past the last cell read (0 if none)


def _axis_weights(op, c1, c2, length: int, pooled: int, scale: float, aligned: bool,
                  sampling_ratio: int, derivatives: bool) -> _AxisWeights:
    """Bilinear weights of every bin of every roi along one axis (the rows with y1, y2 and H;
    the columns with x1, x2 and W). c1, c2 : (K,) host arrays in the geometry dtype.
    """
    dtype = c1.dtype.type
    k = c1.shape[0]
    offset = dtype(0.5) if aligned else dtype(0)
    start = c1 * dtype(scale) - offset                            # (K,)
    size = (c2 * dtype(scale) - offset) - start                   # (K,)
    clamped = np.zeros(k, dtype=bool) if aligned else size < 1    # the clamp is active here
    if not aligned:
        size = np.maximum(size, dtype(1))
    bin_size = size / dtype(pooled)                               # (K,)
    if sampling_ratio > 0:
        grid = np.full(k, float(sampling_ratio))
    else:                                       # adaptive; <= 0 (aligned, x2 < x1): no samples
        grid = np.maximum(np.ceil(bin_size), 0).astype(np.float64)
    total = float(pooled * grid.sum())
    if total > _MAX_SAMPLES:
        worst = int(np.argmax(grid))
        raise ValueError(f"{op}: the sampling grid needs {total:.0f} samples along an axis "
                         f"(rois row {worst} spans {float(size[worst]):g} feature cells, "
                         f"{grid[worst]:.0f} samples per bin); pass a smaller positive "
                         "sampling_ratio")
    grid = grid.astype(np.int64)

    # Every sample of every bin of every roi, laid end to end: roi k has P * grid[k] of them.
    count = pooled * grid                                         # (K,)
    roi = np.repeat(np.arange(k), count)                          # (S,) the roi of each sample
    j = np.arange(roi.size) - np.repeat(np.cumsum(count) - count, count)   # (S,) its number
    p, i = j // grid[roi], j % grid[roi]                          # (S,) bin, sample in the bin
    g = grid[roi].astype(dtype)
    # torchvision's expression and order of operations, in x's dtype
    pos = (start[roi] + p.astype(dtype) * bin_size[roi]) + (
        (i.astype(dtype) + dtype(0.5)) * bin_size[roi] / g)      # (S,)

    # Border rules: outside [-1, L] a sample reads 0 (but still counts in the mean); below 0
    # it reads cell 0; from L - 1 on it reads cell L - 1 alone.
    outside = (pos < -1) | (pos > length)
    clipped = np.clip(pos, 0, length)
    low = clipped.astype(np.int64)                                # floor, as clipped >= 0
    snap = low >= length - 1
    low = np.where(snap, length - 1, low)
    high = np.where(snap, length - 1, low + 1)
    frac = np.where(snap, dtype(0), clipped - low.astype(dtype))  # weight of the high cell
    keep = ~outside
    w_low = np.where(keep, dtype(1) - frac, dtype(0)) / g         # the mean's 1/grid folded in
    w_high = np.where(keep, frac, dtype(0)) / g

    flat = (roi * pooled + p) * length                            # (S,) start of its matrix row
    taps = np.concatenate([flat + low, flat + high])              # (2S,)

    def matrix(low_values, high_values):
        m = np.zeros(k * pooled * length, dtype=dtype)
        backend.scatter_add(m, taps, np.concatenate([low_values, high_values]))
        return m.reshape(k, pooled, length)

    first = np.full(k, length, dtype=np.int64)
    end = np.zeros(k, dtype=np.int64)
    np.minimum.at(first, roi[keep], low[keep])
    np.maximum.at(end, roi[keep], high[keep] + 1)

    d_start = d_end = None
    if derivatives:
        # d(frac)/d(pos) = 1 for a sample strictly inside (0, L - 1); the weights of clamped,
        # snapped and outside samples do not move.
        slope = (keep & (pos > 0) & ~snap).astype(dtype) / g
        t = (p.astype(dtype) + (i.astype(dtype) + dtype(0.5)) / g) / dtype(pooled)
        # pos = c1*s - offset + (c2 - c1)*s*t  (with the clamp: c1*s - offset + t)
        dpos_dstart = np.where(clamped[roi], dtype(scale), dtype(scale) * (1 - t))
        dpos_dend = np.where(clamped[roi], dtype(0), dtype(scale) * t)
        d_start = matrix(-slope * dpos_dstart, slope * dpos_dstart)
        d_end = matrix(-slope * dpos_dend, slope * dpos_dend)
    return _AxisWeights(matrix(w_low, w_high), d_start, d_end, first, end)


@dataclass(frozen=True)
class _Chunk:
    """Rois of one image that go through the matrix products together."""
    image: int
    rois: np.ndarray         # (k,) host indices into the K rois
    r0: int                  # the feature rows [r0, r1) and columns [c0, c1) they read
    r1: int
    c0: int
    c1: int


def _chunks(batch, rows: _AxisWeights, cols: _AxisWeights, per_chunk: int) -> list:
    """The rois that read anything, cut into chunks of at most per_chunk rois of one image.

    A chunk reads the union of its rois' windows, so rois of similar height (in powers of two)
    and first row go together: that keeps the union, and the work, small.
    """
    reads = (rows.end > rows.first) & (cols.end > cols.first)    # the others output 0
    height = np.floor(np.log2(np.maximum(rows.end - rows.first, 1)))
    order = np.lexsort((rows.first, height, batch))              # image, height, first row
    order = order[reads[order]]
    chunks = []
    for image in np.unique(batch[order]):                        # a loop over the images ...
        run = order[batch[order] == image]
        for s in range(0, run.size, per_chunk):                  # ... and chunks of their rois
            idx = run[s: s + per_chunk]
            chunks.append(_Chunk(int(image), idx, int(rows.first[idx].min()),
                                 int(rows.end[idx].max()), int(cols.first[idx].min()),
                                 int(cols.end[idx].max())))
    return chunks


def _align_forward(x_last, wy, wx, chunks, k_total: int):
    """y[k, c] = wy[k] @ x[b_k, c] @ wx[k]^T for every roi: (K, C, PH, PW).

    x_last : (N, H, W, C), the feature map with channels last: a chunk's window of rows
    [r0, r1) and columns [c0, c1) is then an (Lr, Lc*C) matrix without copying (each of its rows
    is contiguous). wy : (K, PH, H), wx : (K, PW, W), on x's device.
    """
    xp = backend.get_array_module(x_last)
    c = x_last.shape[3]
    ph, pw = wy.shape[1], wx.shape[1]
    out = xp.zeros((k_total, c, ph, pw), dtype=x_last.dtype)
    for ch in chunks:
        idx = xp.asarray(ch.rois)
        k, rows, cols = ch.rois.size, ch.r1 - ch.r0, ch.c1 - ch.c0
        window = x_last[ch.image, ch.r0:ch.r1, ch.c0:ch.c1].reshape(rows, cols * c)
        wy_k = wy[idx, :, ch.r0:ch.r1].reshape(k * ph, rows)                 # (k*PH, Lr)
        a = (wy_k @ window).reshape(k, ph, cols, c)                          # (k, PH, Lc, C)
        y = wx[idx, None, :, ch.c0:ch.c1] @ a                                # (k, PH, PW, C)
        out[idx] = y.transpose(0, 3, 1, 2)                                   # (k, C, PH, PW)
    return out


def _align_backward(gy, wy, wx, chunks, x_shape, x_last=None, features: bool = True):
    """The transposed products: gx (N, C, H, W) or None, and, given x_last, dL/dWy (K, PH, H)
    and dL/dWx (K, PW, W) for the box gradient (else None)."""
    xp = backend.get_array_module(gy)
    n, c, h, w = x_shape
    ph, pw = wy.shape[1], wx.shape[1]
    gx_last = xp.zeros((n, h, w, c), dtype=gy.dtype) if features else None
    g_wy = xp.zeros_like(wy) if x_last is not None else None
    g_wx = xp.zeros_like(wx) if x_last is not None else None
    for ch in chunks:
        idx = xp.asarray(ch.rois)
        k, rows, cols = ch.rois.size, ch.r1 - ch.r0, ch.c1 - ch.c0
        gy_k = gy[idx].transpose(0, 2, 3, 1)                                 # (k, PH, PW, C)
        wx_k = wx[idx, None, :, ch.c0:ch.c1]                                 # (k, 1, PW, Lc)
        t = (wx_k.transpose(0, 1, 3, 2) @ gy_k).reshape(k * ph, cols * c)    # gy Wx: (k*PH, Lc*C)
        wy_k = wy[idx, :, ch.r0:ch.r1].reshape(k * ph, rows)                 # (k*PH, Lr)
        if features:        # the sum over the chunk's rois and bins is inside the product
            gx_last[ch.image, ch.r0:ch.r1, ch.c0:ch.c1] += (wy_k.T @ t).reshape(rows, cols, c)
        if x_last is not None:
            window = x_last[ch.image, ch.r0:ch.r1, ch.c0:ch.c1].reshape(rows, cols * c)
            # dL/dWy[k] = sum_c gy[k, c] Wx[k] x[b, c]^T   and   dL/dWx[k] = sum_c gy^T Wy x
            g_wy[idx, :, ch.r0:ch.r1] = (t @ window.T).reshape(k, ph, rows)
            a = (wy_k @ window).reshape(k, ph, cols, c)                      # Wy x: (k, PH, Lc, C)
            g_wx[idx, :, ch.c0:ch.c1] = (
                gy_k.transpose(0, 2, 1, 3).reshape(k, pw, ph * c)            # (k, PW, PH*C)
                @ a.transpose(0, 1, 3, 2).reshape(k, ph * c, cols))          # (k, PH*C, Lc)
    gx = xp.ascontiguousarray(gx_last.transpose(0, 3, 1, 2)) if features else None
    return gx, g_wy, g_wx


class RoIAlignment(Function):
    def forward(self, x, rois, *, host_rois, output_size, spatial_scale, sampling_ratio,
                aligned):
        xp = backend.get_array_module(x)
        _, c, h, w = x.shape
        dtype = _geometry_dtype(x.dtype)
        boxes = host_rois.astype(dtype)
        batch = host_rois[:, 0].astype(np.int64)
        box_grad = is_grad_enabled() and self.needs_input_grad[1]
        axis = {"scale": spatial_scale, "aligned": aligned, "sampling_ratio": sampling_ratio,
                "derivatives": box_grad}
        rows = _axis_weights("roi_align", boxes[:, 2], boxes[:, 4], h, output_size[0], **axis)
        cols = _axis_weights("roi_align", boxes[:, 1], boxes[:, 3], w, output_size[1], **axis)
        wy = xp.asarray(rows.weights.astype(x.dtype))              # (K, PH, H) on x's device
        wx = xp.asarray(cols.weights.astype(x.dtype))              # (K, PW, W)
        budget = _CHUNK_ELEMENTS[backend.device_of(x)]
        chunks = _chunks(batch, rows, cols, max(1, budget // max(1, output_size[0] * w * c)))

        x_last = xp.ascontiguousarray(x.transpose(0, 2, 3, 1))      # (N, H, W, C)
        bad = ~xp.isfinite(x_last)
        if not bool(bad.any()):
            y = _align_forward(x_last, wy, wx, chunks, boxes.shape[0])
        else:
            # In a matrix product a zero weight meets every NaN of the window (0 * NaN = NaN).
            # Compute on the finite cells, then mark NaN the outputs that read a bad cell with
            # a non-zero weight; the others stay exact.
            y = _align_forward(xp.where(bad, 0, x_last), wy, wx, chunks, boxes.shape[0])
            reads_bad = _align_forward(bad.astype(x.dtype), (wy > 0).astype(x.dtype),
                                       (wx > 0).astype(x.dtype), chunks, boxes.shape[0]) > 0
            y[reads_bad] = xp.nan
        self.save(wy=wy, wx=wx, chunks=chunks, x_shape=x.shape)
        if box_grad:
            self.save(x_last=x_last, rows=rows, cols=cols)
        return y

    def backward(self, gy):
        # y[k, c] = Wy[k] x[b, c] Wx[k]^T is linear in x:
        #     gx[b, c] = sum over the rois k of image b of  Wy[k]^T gy[k, c] Wx[k]
        # and depends on the box through Wy, Wx only (y1 via Wy, say):
        #     dL/dy1_k = < dL/dWy[k], dWy[k]/dy1_k >,   dL/dWy[k] = sum_c gy[k, c] Wx[k] x[b, c]^T
        s = self.saved
        xp = backend.get_array_module(gy)
        box_grad = self.needs_input_grad[1]
        gx, g_wy, g_wx = _align_backward(gy, s.wy, s.wx, s.chunks, s.x_shape,
                                         s.x_last if box_grad else None,
                                         features=self.needs_input_grad[0])
        g_rois = None
        if box_grad:
            def through(g_w, d_w):          # < dL/dW[k], dW[k]/d coordinate >, for every k
                return (g_w * xp.asarray(d_w.astype(g_w.dtype))).sum(axis=(1, 2))

            g_rois = xp.stack([xp.zeros(gy.shape[0], dtype=gy.dtype),    # the batch index
                               through(g_wx, s.cols.d_start), through(g_wy, s.rows.d_start),
                               through(g_wx, s.cols.d_end), through(g_wy, s.rows.d_end)],
                              axis=1)                                      # (K, 5)
        return gx, g_rois


def roi_align(x, rois, output_size, spatial_scale: float = 1.0, sampling_ratio: int = -1,
              aligned: bool = False) -> Tensor:
    """RoIAlign (Mask R-CNN): the mean of bilinearly interpolated samples in PH x PW bins.

    Parameters
    ----------
    x : (N, C, H, W) Tensor or array, floating point
        The feature map (H, W >= 1).
    rois : (K, 5) Tensor or array, or a list of (L, 4) boxes per image
        Rows (batch_index, x1, y1, x2, y2) in input-image coordinates; batch indices are whole
        numbers in [0, N). A list holds one (L, 4) array or Tensor of boxes per image, its
        position being the batch index. Coordinates are converted to x's dtype. A Tensor with
        ``requires_grad=True`` (or list entries that are) receives the box gradient.
    output_size : int or (PH, PW)
    spatial_scale : float
        Feature-map coordinates = image coordinates * spatial_scale.
    sampling_ratio : int
        Samples per bin along each axis (GH = GW = sampling_ratio); 0 or less (default -1)
        means adaptive: GH = ceil(roi height / PH), GW = ceil(roi width / PW), per roi -- as
        torchvision, which treats every value <= 0 as adaptive.
    aligned : bool
        Subtract half a pixel from the scaled coordinates (see Notes). Detectron2 and
        torchvision's newer models use True; False is the original Mask R-CNN op.

    Returns
    -------
    (K, C, PH, PW) Tensor, x's dtype. K = 0 gives an empty (0, C, PH, PW) result.

    Raises
    ------
    ValueError
        x not 4-D or with H or W of 0; rois not (K, 5) (or a list entry not (L, 4)); a roi
        row with NaN or inf, or whose coordinates times spatial_scale overflow x's dtype; a
        batch index that is not a whole number; output_size below 1; spatial_scale not
        positive and finite; an adaptive grid too large to lay out (a box of absurd size:
        pass a positive sampling_ratio).
    IndexError
        A batch index outside [0, N).
    TypeError
        x not floating point; rois not numbers; output_size or sampling_ratio not ints.

    Notes
    -----
    torchvision's CPU kernel, rule for rule, in x's dtype (along y; x likewise):

    - start = y1 * s - offset, end = y2 * s - offset, offset = 0.5 if aligned else 0. With
      aligned=True, a feature cell's centre sits at its index + 0.5 in box units, so a box
      [0, W] covers the cells exactly; without it, samples land half a cell off.
    - roi height = end - start, clamped to at least 1 when aligned is False (never when
      True: a box with y2 < y1 then has a negative height and, adaptive, no samples, so its
      output is 0 -- torchvision's CPU kernel raises an error there); bin = height / PH.
    - GH = sampling_ratio if > 0, else ceil(height / PH) for that roi (0 if negative).
    - sample i of bin p sits at Y = start + p * bin + (i + 0.5) * bin / GH.
    - a sample with Y < -1 or Y > H (or X < -1, X > W) reads 0 but still counts; Y <= 0
      reads row 0; if floor(Y) >= H - 1 it reads row H - 1 alone; otherwise rows floor(Y) and
      floor(Y) + 1 with weights 1 - frac and frac (frac = Y - floor(Y)).
    - output = sum of the samples / max(GH * GW, 1).
    - NaN or inf in x: the outputs whose samples read such a cell with a non-zero weight
      are NaN, the others exact (torchvision may give inf instead of NaN there).

    Backward: gx[b, c] = sum over the rois k of image b of Wy[k]^T gy[k, c] Wx[k], with the
    weight matrices of the module docstring: each output gradient is split over the 4 cells
    around every sample with its bilinear weights / the sample count, as in torchvision, but
    summed by matrix products -- the same bits on every run. The box gradient (column 0, the
    batch index, gets 0) is exact between kinks: it ignores that the adaptive grid size and
    the aligned=False clamp change with the box, and samples crossing a cell border or the
    map's edge (derivation in the module docstring; the idea of box gradients through the
    bilinear weights comes from Precise RoI Pooling, Jiang et al. 2018). A box gradient
    through a map holding NaN or inf is NaN for all rois of that image.

    References
    ----------
    He, Gkioxari, Dollar & Girshick, "Mask R-CNN", ICCV 2017, Section 3 (RoIAlign).
    Jiang et al., "Acquisition of Localization Confidence for Accurate Object Detection",
    ECCV 2018 (Precise RoI Pooling: gradients for the box coordinates).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> rois = np.array([[0, 0, 0, 4, 4]], dtype=np.float32)
    >>> roi_align(x, rois, 4, sampling_ratio=1, aligned=True).numpy()[0, 0]   # the identity
    array([[ 0.,  1.,  2.,  3.],
           [ 4.,  5.,  6.,  7.],
           [ 8.,  9., 10., 11.],
           [12., 13., 14., 15.]], dtype=float32)
    >>> roi_align(x, rois, 2, sampling_ratio=1, aligned=True).numpy()[0, 0]   # 2x2 means
    array([[ 2.5,  4.5],
           [10.5, 12.5]], dtype=float32)
    >>> from minicv import Tensor
    >>> boxes = Tensor([[0.0, 0.0, 3.0, 3.0]], requires_grad=True)
    >>> y = roi_align(x, [boxes], 1, sampling_ratio=1)      # one sample, at (1.5, 1.5)
    >>> y.numpy()[0, 0]
    array([[7.5]], dtype=float32)
    >>> y.backward(np.ones((1, 1, 1, 1), dtype=np.float32))
    >>> boxes.grad           # the sample moves half as fast as x1; dy/dX = 1, dy/dY = 4
    array([[0.5, 2. , 0.5, 2. ]], dtype=float32)
    """
    op = "roi_align"
    _check_x(op, x)
    size = _output_size(op, output_size)
    scale = _spatial_scale(op, spatial_scale)
    if isinstance(sampling_ratio, (bool, np.bool_)):
        raise TypeError(f"{op}: sampling_ratio must be an int, got {sampling_ratio!r}")
    try:
        sampling_ratio = operator.index(sampling_ratio)
    except TypeError:
        raise TypeError(f"{op}: sampling_ratio must be an int, got {sampling_ratio!r}") from None
    x_data = x.data if isinstance(x, Tensor) else x
    rois, host = _check_rois(op, rois, x_data, scale)
    return RoIAlignment.apply(x, rois, host_rois=host, output_size=size, spatial_scale=scale,
                              sampling_ratio=sampling_ratio, aligned=bool(aligned))
