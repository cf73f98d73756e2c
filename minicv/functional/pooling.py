"""Pooling: max_pool2d (with switches), max_unpool2d and avg_pool2d.

Max pooling keeps the largest value of each window. The position it came from -- the *switch* --
is what DeconvNet reuses: Zeiler & Fergus ("Visualizing and Understanding Convolutional
Networks", ECCV 2014, Section 2.1) record the switches to invert pooling approximately, and
Noh, Hong & Han ("Learning Deconvolution Network for Semantic Segmentation", ICCV 2015,
Section 3.2.1) unpool with them to put each activation back where it was found. Average pooling
replaces each window by its mean.

Notation: N batch, C channels, H and W the input's height and width, KH and KW the kernel,
SH and SW the stride (default: the kernel), PH and PW the padding, DH and DW the dilation, OH and
OW the output's height and width. Window (oh, ow) covers the input rows
oh*SH - PH + kh*DH (kh = 0 .. KH-1) and the columns ow*SW - PW + kw*DW (kw = 0 .. KW-1).

Output size (PyTorch's rule, the same for both poolings; avg_pool2d has D = 1):

    OH = floor((H + 2*PH - DH*(KH - 1) - 1 + (SH - 1 if ceil_mode else 0)) / SH) + 1

and in ceil mode OH drops by one if the last window would start in the right padding
(at or after H + PH): every window starts inside the input or the left padding. The default
size of max_unpool2d inverts it: (H - 1)*SH - 2*PH + KH.

Switches are flat offsets h*W + w of the chosen cell inside its own (H, W) plane, so that
``x[n, c].flat[switches[n, c]]`` gives the pooled values back and unpooling is one scatter:

    max_pool2d:    y[n, c, i, j] = x[n, c].flat[s[n, c, i, j]]
    max_unpool2d:  out[n, c].flat[s[n, c, i, j]] += x[n, c, i, j]     (zeros elsewhere)

The backward of each is the other one: max_pool2d's backward scatters gy through the switches
(it *is* max_unpool2d of gy onto the (H, W) plane), and max_unpool2d's backward gathers gy at
the switches (the pooling's forward with the switches already known).

A 4x4 plane pooled with a 2x2 window and put back (each maximum returns to its switch,
everything else becomes 0):

>>> import numpy as np
>>> x = np.array([[ 1,  2,  6,  5],
...               [ 3,  4,  7,  8],
...               [ 0,  9,  1,  1],
...               [12,  5,  3,  4]], dtype=np.float32).reshape(1, 1, 4, 4)
>>> y, switches = max_pool2d(x, kernel_size=2, return_indices=True)
>>> y.numpy()[0, 0]
array([[ 4.,  8.],
       [12.,  4.]], dtype=float32)
>>> switches.numpy()[0, 0]          # 4 is at (1, 1) -> 1*4 + 1 = 5; 12 at (3, 0) -> 12
array([[ 5,  7],
       [12, 15]])
>>> max_unpool2d(y, switches, kernel_size=2).numpy()[0, 0]
array([[ 0.,  0.,  0.,  0.],
       [ 0.,  4.,  0.,  8.],
       [ 0.,  0.,  0.,  0.],
       [12.,  0.,  0.,  4.]], dtype=float32)

How it is computed: a window has only KH*KW cells, so the ops loop over the kernel taps
(kh, kw), never over pixels. Tap (kh, kw) of every window at once is one strided slice of the
padded input, ``x_pad[:, :, kh*DH :: SH, kw*DW :: SW]`` cut to (OH, OW). max_pool2d compares the
slices in turn, keeping the running maximum and the number of the tap it came from; avg_pool2d
adds them (first along the rows, then along the columns: a box filter is separable).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from minicv import backend
from minicv.autograd import Function, Tensor, is_grad_enabled
from minicv.functional._args import check_float_4d as _check_float_4d
from minicv.functional._args import pair as _pair

__all__ = ["max_pool2d", "max_unpool2d", "avg_pool2d"]


# ---------------------------------------------------------------------------------------------
# Checking arguments
# ---------------------------------------------------------------------------------------------
def _pool_params(op: str, kernel_size, stride, padding, dilation=1, *,
                 padding_limit: bool = True) -> tuple:
    """Validated (kernel, stride, padding, dilation) pairs; stride None means the kernel."""
    kernel = _pair(op, "kernel_size", kernel_size)
    stride = kernel if stride is None else _pair(op, "stride", stride)
    padding = _pair(op, "padding", padding)
    dilation = _pair(op, "dilation", dilation)
    for name, value in (("kernel_size", kernel), ("stride", stride), ("dilation", dilation)):
        if min(value) < 1:
            raise ValueError(f"{op}: {name} must be at least 1, got {name}={value}")
    if min(padding) < 0:
        raise ValueError(f"{op}: padding must be non-negative, got padding={padding}")
    if padding_limit and any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(f"{op}: padding must be at most half the kernel (PH <= KH // 2, "
                         f"PW <= KW // 2), got padding={padding} for kernel_size={kernel}")
    return kernel, stride, padding, dilation


def _output_length(size, kernel, stride, padding, dilation, ceil_mode) -> int:
    """PyTorch's pooling output length along one axis (see the module docstring)."""
    out = (size + 2 * padding - dilation * (kernel - 1) - 1
           + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:   # the last window must not start
        out -= 1                                             # in the right padding
    return out


@dataclass(frozen=True)
class _Geometry:
    """Where the windows of a pooling lie. All pairs are (height value, width value)."""
    size: tuple       # (H, W) of the input
    kernel: tuple     # (KH, KW)
    stride: tuple     # (SH, SW)
    padding: tuple    # (PH, PW): added on the left/top
    dilation: tuple   # (DH, DW)
    out: tuple        # (OH, OW)
    after: tuple      # cells of padding needed after the input (bottom, right): PH or PW, more
                      # in ceil mode when the last window overshoots, less when none reaches it

    def rows(self, kh: int) -> slice:
        """The padded rows that tap row kh of the OH windows reads: kh*DH, kh*DH + SH, ..."""
        (sh, _), (dh, _), (oh, _) = self.stride, self.dilation, self.out
        return slice(kh * dh, kh * dh + sh * (oh - 1) + 1, sh)

    def cols(self, kw: int) -> slice:
        """The padded columns that tap column kw of the OW windows reads."""
        (_, sw), (_, dw), (_, ow) = self.stride, self.dilation, self.out
        return slice(kw * dw, kw * dw + sw * (ow - 1) + 1, sw)

    def tap(self, a, kh: int, kw: int):
        """Tap (kh, kw) of every window: a strided (N, C, OH, OW) view of the padded ``a``."""
        return a[:, :, self.rows(kh), self.cols(kw)]

    def taps(self):
        """(t, kh, kw) for the KH*KW taps in row-major window order."""
        kh_, kw_ = self.kernel
        return [(kh * kw_ + kw, kh, kw) for kh in range(kh_) for kw in range(kw_)]

    @property
    def overlapping(self) -> bool:
        """Do neighbouring windows share cells (stride below the dilated kernel extent)?"""
        return any(s < d * (k - 1) + 1
                   for s, d, k in zip(self.stride, self.dilation, self.kernel))

    def pad(self, x, value):
        """x with the padding around it (x itself when no window reaches outside it)."""
        (ph, pw), (bottom, right) = self.padding, self.after
        if ph == pw == bottom == right == 0:
            return x
        xp = backend.get_array_module(x)
        n, c, h, w = x.shape
        padded = xp.full((n, c, ph + h + bottom, pw + w + right), value, dtype=x.dtype)
        padded[:, :, ph: ph + h, pw: pw + w] = x
        return padded

    def crop(self, padded):
        """The inverse of pad: the input's cells of a padded array."""
        (ph, pw), (h, w) = self.padding, self.size
        return padded[:, :, ph: ph + h, pw: pw + w]

    def axis_windows(self, axis: int):
        """(O, K) host array: the input coordinate of each tap of each window along ``axis``."""
        o = np.arange(self.out[axis])[:, None]
        k = np.arange(self.kernel[axis])[None, :]
        return o * self.stride[axis] - self.padding[axis] + k * self.dilation[axis]


def _pool_geometry(op: str, x_shape: tuple, params: tuple, ceil_mode: bool) -> _Geometry:
    kernel, stride, padding, dilation = params
    _, c, h, w = x_shape
    if c == 0 or h == 0 or w == 0:
        raise ValueError(f"{op}: x of shape {x_shape} is empty; only the batch axis N may be 0 "
                         "(C, H and W must be at least 1)")
    out = tuple(_output_length(*args, ceil_mode)
                for args in zip((h, w), kernel, stride, padding, dilation))
    if min(out) < 1:
        raise ValueError(f"{op}: output size {out} is below 1 for x of shape {x_shape} with "
                         f"kernel_size={kernel}, stride={stride}, padding={padding}, "
                         f"dilation={dilation}, ceil_mode={ceil_mode}")
    after = tuple(max(0, (o - 1) * s + d * (k - 1) + 1 - p - size)   # last window's end - input's
                  for o, s, d, k, p, size in zip(out, stride, dilation, kernel, padding, (h, w)))
    return _Geometry((h, w), kernel, stride, padding, dilation, out, after)


# ---------------------------------------------------------------------------------------------
# Switches: flat offsets inside each (H, W) plane
# ---------------------------------------------------------------------------------------------
def _flat_positions(xp, switches, plane_size: int):
    """(N, C, ...) offsets inside each plane -> (N*C*...,) offsets into the whole (N, C, plane)."""
    n, c = switches.shape[:2]
    plane_start = xp.arange(n * c, dtype=xp.int64).reshape((n, c) + (1,) * (switches.ndim - 2))
    return (switches + plane_start * plane_size).reshape(-1)


def _scatter_to_planes(values, positions, shape, unique: bool):
    """zeros(shape) with values added at the flat positions (repeats summed, deterministically).

    ``unique=True`` promises no position repeats: a plain write then does the same, faster.
    """
    xp = backend.get_array_module(values)
    out = xp.zeros(int(np.prod(shape)), dtype=values.dtype)
    if unique:
        out[positions] = values.reshape(-1)
    else:
        backend.scatter_add(out, positions, values.reshape(-1))
    return out.reshape(shape)


# ---------------------------------------------------------------------------------------------
# max_pool2d
# ---------------------------------------------------------------------------------------------
class MaxPooling2D(Function):
    def forward(self, x, geometry, return_indices):
        xp = backend.get_array_module(x)
        g = geometry
        n, c, _, w = x.shape
        need_switches = return_indices or (is_grad_enabled() and self.needs_input_grad[0])
        x_pad = g.pad(x, -np.inf)                        # (N, C, PH + H + bottom, PW + W + right)
        tap_type = np.uint8 if len(g.taps()) <= 256 else np.int32

        # Visit the taps in window order, keeping the running maximum `best` and the number of
        # the tap it came from, `tap`. Each tap is copied into one contiguous buffer first:
        # NumPy's comparisons run several times faster on it than on the strided view. (This one
        # loop serves every configuration; reshaping x into (N, C, OH, KH, OW, KW) windows and
        # taking an argmax, the textbook way for kernel == stride, measured 3x slower.)
        best = g.tap(x_pad, 0, 0).copy()                 # (N, C, OH, OW), tap 0
        tap = xp.zeros(best.shape, dtype=tap_type) if need_switches else None
        value = xp.empty_like(best)
        for t, kh, kw in g.taps()[1:]:
            value[...] = g.tap(x_pad, kh, kw)
            if need_switches:
                # Strictly greater: on ties the earlier tap stays (the first maximum wins). A NaN
                # always takes over (as in PyTorch's kernel, so the last NaN is reported).
                better = (value > best) | xp.isnan(value)
                # where(better, t, tap), cheaper: taps come in increasing order, so t > tap
                xp.maximum(tap, better * tap_type(t), out=tap)
            xp.maximum(best, value, out=best)            # NaN propagates, like `better`

        if not need_switches:
            return best
        # A window whose input cells are all -inf kept tap 0 (nothing is > -inf), which may lie
        # in the padding; PyTorch reports its first cell inside the input instead.
        first = _first_inside_tap(g)                     # (OH, OW)
        if first.any():
            tap += (best == -np.inf) * xp.asarray(first.astype(tap_type))
        # tap number -> flat offset in the plane: window origin + the tap's offset in the window
        rows, cols = g.axis_windows(0), g.axis_windows(1)            # (OH, KH), (OW, KW)
        origin = rows[:, :1] * w + cols[:, 0]                         # (OH, OW)
        offset = (rows[0, :, None] - rows[0, 0]) * w + (cols[0] - cols[0, 0])   # (KH, KW)
        # (take is several times faster with int64 positions than with the small tap numbers)
        switches = xp.take(xp.asarray(offset.reshape(-1)), tap.astype(xp.int64))
        switches += xp.asarray(origin)                                # (N, C, OH, OW) int64
        self.save(switches=switches, geometry=g, n=n, c=c)
        return (best, switches) if return_indices else best

    def backward(self, gy, gswitches=None):
        # y[n, c, i, j] = x[n, c].flat[s[n, c, i, j]], so dy[n, c, i, j] / dx[n, c].flat[p] is
        # 1 if p = s[n, c, i, j] else 0:
        #     gx[n, c].flat[p] = sum of gy[n, c, i, j] over the (i, j) with s[n, c, i, j] = p
        # That is max_unpool2d of gy onto the (H, W) plane. Windows that do not overlap never
        # share a switch, so a plain write suffices; overlapping ones are summed.
        s = self.saved
        (h, w) = s.geometry.size
        positions = _flat_positions(backend.get_array_module(gy), s.switches, h * w)
        return _scatter_to_planes(gy, positions, (s.n, s.c, h, w),
                                  unique=not s.geometry.overlapping)


def _first_inside_tap(g: _Geometry):
    """(OH, OW) host array: the first tap of each window, in window order, inside the input."""
    first = []
    for axis in (0, 1):
        coords = g.axis_windows(axis)                              # (O, K)
        inside = (coords >= 0) & (coords < g.size[axis])
        first.append(inside.argmax(axis=1))                        # (O,) first True
    return first[0][:, None] * g.kernel[1] + first[1][None, :]


def _check_windows_reach_input(op: str, g: _Geometry, x_shape: tuple) -> None:
    """With dilation a window can fall entirely in the padding; refuse that (PyTorch returns -inf
    there with a switch outside the plane)."""
    for axis, name in ((0, "row"), (1, "column")):
        coords = g.axis_windows(axis)
        inside = ((coords >= 0) & (coords < g.size[axis])).any(axis=1)
        if not inside.all():
            o = int(np.argmin(inside))
            raise ValueError(
                f"{op}: the windows of output {name} {o} hold only padding (they read input "
                f"{name}s {coords[o].tolist()}, but x has {g.size[axis]}) for x of shape "
                f"{x_shape} with kernel_size={g.kernel}, stride={g.stride}, "
                f"padding={g.padding}, dilation={g.dilation}; use less padding or dilation")


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Maximum over sliding windows, optionally with the switches (as torch's max_pool2d).

    Parameters
    ----------
    x : (N, C, H, W) Tensor or array, floating point
        N may be 0; C, H and W must be at least 1.
    kernel_size : int or (KH, KW)
    stride : int or (SH, SW), optional
        Default: kernel_size (windows side by side).
    padding : int or (PH, PW)
        Implicit -inf cells added on both sides; at most half the kernel (PH <= KH // 2).
    dilation : int or (DH, DW)
        Spacing between the cells of a window.
    ceil_mode : bool
        Round the output size up instead of down (see Notes).
    return_indices : bool
        Also return the switches.

    Returns
    -------
    y : (N, C, OH, OW) Tensor, x's dtype
    switches : (N, C, OH, OW) int64 Tensor, only if ``return_indices``
        The flat offset h*W + w of each maximum inside its (H, W) plane; no gradient. Feed it
        to :func:`max_unpool2d`.

    Raises
    ------
    ValueError
        x not 4-D; C, H or W zero; kernel_size, stride or dilation below 1; negative padding or
        padding above half the kernel; an output size below 1; a window (possible with dilation)
        holding no input cell at all.
    TypeError
        x not floating point; a size argument that is not an int or a pair of ints.

    Notes
    -----
    OH = floor((H + 2PH - DH(KH - 1) - 1 + (SH - 1 if ceil_mode else 0)) / SH) + 1, minus one
    in ceil mode if the last window would start in the right padding (at or after H + PH).

    - Ties: the first maximum in row-major window order wins.
    - NaN propagates: a window holding a NaN outputs NaN and its switch points at a NaN (the
      last one in window order when there are several, as PyTorch's CPU kernel).
    - A window whose input cells are all -inf outputs -inf with its switch at its first input
      cell, as PyTorch. PyTorch returns an index outside the plane for a window that holds only
      padding; minicv refuses such configurations instead.
    - Backward: each gy goes to the one input cell that won its window, summed where
      overlapping windows chose the same cell: gx[n, c].flat[s] += gy[n, c, i, j].

    References
    ----------
    Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks", ECCV 2014, Sec. 2.1.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> max_pool2d(x, 3, stride=2, padding=1).numpy()[0, 0]
    array([[ 5.,  7.],
           [13., 15.]], dtype=float32)
    """
    op = "max_pool2d"
    x_shape = _check_float_4d(op, "x", x)
    params = _pool_params(op, kernel_size, stride, padding, dilation)
    geometry = _pool_geometry(op, x_shape, params, bool(ceil_mode))
    _check_windows_reach_input(op, geometry, x_shape)
    return MaxPooling2D.apply(x, geometry=geometry, return_indices=bool(return_indices))


# ---------------------------------------------------------------------------------------------
# max_unpool2d
# ---------------------------------------------------------------------------------------------
class MaxUnpooling2D(Function):
    def forward(self, x, indices, out_size):
        xp = backend.get_array_module(x)
        n, c = x.shape[:2]
        h, w = out_size
        positions = _flat_positions(xp, indices, h * w)              # (N*C*OH*OW,)
        if self.needs_input_grad[0]:
            self.save(positions=positions, shape=x.shape)
        # out[n, c].flat[indices[n, c, i, j]] += x[n, c, i, j]; repeated indices add up
        return _scatter_to_planes(x, positions, (n, c, h, w), unique=False)

    def backward(self, gy):
        # out.flat[p_k] = sum of the x_k with that position p_k, so d out.flat[p]/d x_k is 1 if
        # p = p_k else 0:  gx_k = gy.flat[p_k], a gather. The indices get no gradient.
        xp = backend.get_array_module(gy)
        s = self.saved
        return xp.take(gy.reshape(-1), s.positions).reshape(s.shape), None


def _unpool_size(x_shape, params, output_size) -> tuple:
    """The (H, W) of max_unpool2d's output: the default, or a checked ``output_size``."""
    op = "max_unpool2d"
    kernel, stride, padding, _ = params
    default = tuple((size - 1) * s - 2 * p + k
                    for size, s, p, k in zip(x_shape[2:], stride, padding, kernel))
    if output_size is None:
        out = default
    else:
        given = tuple(output_size) if isinstance(output_size, (tuple, list)) else output_size
        if not isinstance(given, tuple) or len(given) not in (2, 4):
            raise ValueError(f"{op}: output_size must hold 2 values (H, W) or 4 (N, C, H, W), "
                             f"got {output_size!r}")
        out = _pair(op, "output_size", given[-2:])
        for axis, name in ((0, "height"), (1, "width")):
            low, high = default[axis] - stride[axis], default[axis] + stride[axis]
            if not low < out[axis] < high:
                raise ValueError(
                    f"{op}: output_size {given} is impossible for x of shape {x_shape}: the "
                    f"{name} must lie strictly between {low} and {high} (the default "
                    f"{default[axis]} plus or minus the stride {stride[axis]})")
    if min(out) < 1:
        raise ValueError(f"{op}: output size {out} is below 1 for x of shape {x_shape} with "
                         f"kernel_size={kernel}, stride={stride}, padding={padding}")
    return out


def _check_switches(op: str, indices, x_shape: tuple, out_size: tuple):
    """The raw index array, checked: integer, x's shape, every value inside its plane."""
    raw = indices.data if isinstance(indices, Tensor) else indices
    if not backend.is_array(raw):
        raw = np.asarray(raw)
    if tuple(raw.shape) != x_shape:
        raise ValueError(f"{op}: indices have shape {tuple(raw.shape)} but x has shape "
                         f"{x_shape}; they must be equal (the switches of the pooling that "
                         "produced x)")
    if raw.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be integers, got dtype {raw.dtype}")
    plane = out_size[0] * out_size[1]
    if raw.size and (int(raw.min()) < 0 or int(raw.max()) >= plane):
        xp = backend.get_array_module(raw)
        where = np.unravel_index(int(xp.argmax((raw < 0) | (raw >= plane))), x_shape)
        bad = int(raw[where])
        raise IndexError(f"{op}: index {bad} at position {tuple(int(i) for i in where)} is "
                         f"outside the output plane of {out_size[0]} x {out_size[1]} = {plane} "
                         f"cells (valid: 0 to {plane - 1})")
    return raw


def max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """Put each value back at its switch in a zero plane: the partial inverse of max_pool2d.

    Parameters
    ----------
    x : (N, C, H, W) Tensor or array, floating point
        The pooled values.
    indices : (N, C, H, W) integer Tensor or array
        The switches from ``max_pool2d(..., return_indices=True)``: flat offsets h*W + w inside
        the output's (OH, OW) plane. No gradient flows to them.
    kernel_size, stride, padding : int or pair of ints
        Those of the pooling; they only set the default output size. stride defaults to
        kernel_size.
    output_size : (OH, OW) or (N, C, OH, OW), optional
        Default (H - 1)*SH - 2*PH + KH by (W - 1)*SW - 2*PW + KW. Give it when the pooled input
        had an odd size; it must lie strictly within one stride of the default.

    Returns
    -------
    (N, C, OH, OW) Tensor, x's dtype: zero except out[n, c].flat[indices[n, c, i, j]] =
    x[n, c, i, j].

    Raises
    ------
    ValueError
        x not 4-D; indices of another shape; output_size without 2 or 4 values, or not within
        one stride of the default; an output size below 1.
    IndexError
        An index outside the output plane [0, OH*OW) (never wrapped into another plane).
    TypeError
        x not floating point; integer-valued arguments that are not ints; indices not integers.

    Notes
    -----
    Repeated indices in one plane (possible with overlapping pooling windows, or hand-made
    indices) are SUMMED: out.flat[p] is the sum of every x value sent to p. PyTorch leaves this
    case undefined; the sum is deterministic and makes the gather below the exact gradient.

    Backward is a gather: gx[n, c, i, j] = gy[n, c].flat[indices[n, c, i, j]].

    References
    ----------
    Noh, Hong & Han, "Learning Deconvolution Network for Semantic Segmentation", ICCV 2015,
    Section 3.2.1 (unpooling).

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([[[[5.0, 7.0]]]])                       # (1, 1, 1, 2)
    >>> switches = np.array([[[[1, 3]]]])
    >>> max_unpool2d(y, switches, kernel_size=2).numpy()[0, 0]
    array([[0., 5., 0., 7.],
           [0., 0., 0., 0.]])
    """
    op = "max_unpool2d"
    x_shape = _check_float_4d(op, "x", x)
    params = _pool_params(op, kernel_size, stride, padding, padding_limit=False)
    out_size = _unpool_size(x_shape, params, output_size)
    raw = _check_switches(op, indices, x_shape, out_size)
    return MaxUnpooling2D.apply(x, raw, out_size=out_size)


# ---------------------------------------------------------------------------------------------
# avg_pool2d
# ---------------------------------------------------------------------------------------------
def _avg_divisor(g: _Geometry, count_include_pad: bool, divisor_override):
    """(OH, OW) host array: what each window's sum is divided by (PyTorch's rule)."""
    if divisor_override is not None:
        return np.full(g.out, divisor_override)
    counts = []
    for axis in (0, 1):
        start = np.arange(g.out[axis]) * g.stride[axis] - g.padding[axis]     # (O,)
        end = np.minimum(start + g.kernel[axis], g.size[axis] + g.padding[axis])
        if not count_include_pad:                        # only the input's cells count
            start, end = np.maximum(start, 0), np.minimum(end, g.size[axis])
        counts.append(end - start)
    return counts[0][:, None] * counts[1][None, :]


class AvgPooling2D(Function):
    def forward(self, x, geometry, divisor):
        xp = backend.get_array_module(x)
        g = geometry
        kh_, kw_ = g.kernel
        x_pad = g.pad(x, 0)                                      # (N, C, Hp, Wp)
        divisor = xp.asarray(divisor, dtype=x.dtype)             # (OH, OW)
        # Window sums, separably: add the KH rows of each window, then the KW columns.
        rows = sum(x_pad[:, :, g.rows(kh)] for kh in range(kh_))         # (N, C, OH, Wp)
        y = sum(rows[:, :, :, g.cols(kw)] for kw in range(kw_))          # (N, C, OH, OW)
        self.save(geometry=g, divisor=divisor, padded_shape=x_pad.shape)
        return y / divisor

    def backward(self, gy):
        # y[o] = sum of x[i] over the cells i of window o, / divisor[o]: each x[i] receives
        # gy[o] / divisor[o] from every window o holding it. Spread back separably: along the
        # columns of each window, then along its rows (the forward's steps, transposed).
        xp = backend.get_array_module(gy)
        s = self.saved
        g = s.geometry
        kh_, kw_ = g.kernel
        n, c, hp, wp = s.padded_shape
        share = gy / s.divisor                                   # (N, C, OH, OW)
        g_rows = xp.zeros((n, c, g.out[0], wp), dtype=gy.dtype)  # (N, C, OH, Wp)
        for kw in range(kw_):
            g_rows[:, :, :, g.cols(kw)] += share
        g_pad = xp.zeros((n, c, hp, wp), dtype=gy.dtype)         # (N, C, Hp, Wp)
        for kh in range(kh_):
            g_pad[:, :, g.rows(kh)] += g_rows
        return g.crop(g_pad)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """Mean over sliding windows (as torch's avg_pool2d).

    Parameters
    ----------
    x : (N, C, H, W) Tensor or array, floating point
        N may be 0; C, H and W must be at least 1.
    kernel_size : int or (KH, KW)
    stride : int or (SH, SW), optional
        Default: kernel_size.
    padding : int or (PH, PW)
        Implicit zeros added on both sides; at most half the kernel.
    ceil_mode : bool
        Round the output size up (as max_pool2d, with D = 1).
    count_include_pad : bool
        Whether the zero padding counts in the divisor.
    divisor_override : int, optional
        Divide every window sum by this instead (nonzero).

    Returns
    -------
    (N, C, OH, OW) Tensor, x's dtype.

    Raises
    ------
    ValueError
        As max_pool2d; divisor_override equal to 0.
    TypeError
        x not floating point; size arguments or divisor_override that are not ints.

    Notes
    -----
    y[o] = (sum of x over window o) / divisor[o], the window clipped to the input, where per
    axis the window starts at start = o*S - P and (PyTorch's rule):

    - count_include_pad=True: divisor = product over the axes of min(start + K, H + P) - start:
      the window clipped to the padded input, so the padding counts but the part of a ceil-mode
      window that overshoots the padding does not;
    - count_include_pad=False: divisor = the number of input cells in the window;
    - divisor_override: that number, everywhere.

    Backward: gx[i] = sum over the windows o holding cell i of gy[o] / divisor[o].

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    >>> avg_pool2d(x, 2, stride=1).numpy()[0, 0]
    array([[2., 3.],
           [5., 6.]], dtype=float32)
    >>> avg_pool2d(x, 2, padding=1, count_include_pad=False).numpy()[0, 0]
    array([[0. , 1.5],
           [4.5, 6. ]], dtype=float32)
    """
    op = "avg_pool2d"
    x_shape = _check_float_4d(op, "x", x)
    params = _pool_params(op, kernel_size, stride, padding)
    if divisor_override is not None:
        if isinstance(divisor_override, bool) or not isinstance(divisor_override,
                                                                (int, np.integer)):
            raise TypeError(f"{op}: divisor_override must be an int or None, got "
                            f"{divisor_override!r}")
        if divisor_override == 0:
            raise ValueError(f"{op}: divisor_override must not be zero")
    geometry = _pool_geometry(op, x_shape, params, bool(ceil_mode))
    divisor = _avg_divisor(geometry, bool(count_include_pad), divisor_override)
    return AvgPooling2D.apply(x, geometry=geometry, divisor=divisor)
