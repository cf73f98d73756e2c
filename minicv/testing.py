"""Hypothesis strategies for gradient-checking ops -- minicv's and your own.

    from hypothesis import given
    from minicv import gradcheck
    from minicv.testing import arrays

    @given(arrays(min_dims=1, max_dims=3))
    def test_my_op_backward(x):
        gradcheck(my_op, [x])

Every array strategy draws NumPy float64 arrays (gradient checks run in float64) with finite
values of moderate size, because finite differences lie near overflow and near kinks. Strategies
for max-type ops keep values apart (``tie_free_arrays``); strategies for ReLU-type ops keep
values away from the kink (``away_from``).

Beside arrays, the module draws whole configurations of the vision ops, each valid by
construction (no rejection sampling, so they are fast and shrink well):

- ``conv_configs``  conv2d / conv_transpose2d: sizes, kernel, stride, padding, dilation, groups
- ``pool_configs``  max_pool2d / avg_pool2d, with PyTorch's output-size rule
  (``pool_output_size``)
- ``boxes`` and ``rois``  (N, 4) xyxy boxes and (K, 5) regions of interest of a chosen kind:
  valid, degenerate, partly outside or outside the image

Notation: N batch, C channels, H and W the input's height and width, KH and KW the kernel, SH and
SW the stride, PH and PW the padding, DH and DW the dilation, OH and OW the output's height and
width.

Requires hypothesis (``pip install minicv[test]``).
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = ["shapes", "arrays", "tie_free_arrays", "away_from", "conv_output_size",
           "conv_transpose_output_size", "pool_output_size", "conv_configs", "pool_configs",
           "boxes", "rois", "BOX_KINDS"]


# ---------------------------------------------------------------------------------------------
# Arrays
# ---------------------------------------------------------------------------------------------
def shapes(min_dims: int = 1, max_dims: int = 4, min_side: int = 1, max_side: int = 5):
    """Array shapes with ``min_dims..max_dims`` axes of ``min_side..max_side`` each."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def _shape(draw, shape, min_dims, max_dims, min_side, max_side):
    if shape is None:
        return draw(shapes(min_dims, max_dims, min_side, max_side))
    if isinstance(shape, tuple):
        return shape
    return draw(shape)


@st.composite
def arrays(draw, shape=None, *, min_dims: int = 1, max_dims: int = 4, min_side: int = 1,
           max_side: int = 5, low: float = -3.0, high: float = 3.0, dtype=np.float64):
    """Finite float arrays (float64 by default) with values in [low, high].

    Parameters
    ----------
    shape : tuple or strategy of tuples, optional
        Default: drawn with ``shapes(min_dims, max_dims, min_side, max_side)``.
    low, high : float
        Range of the values.
    dtype : dtype
        Float dtype of the result.

    Returns
    -------
    ndarray of ``shape``

    Notes
    -----
    The values come from a seeded standard generator rather than element by element, so large
    arrays are cheap to draw; hypothesis still chooses (and shrinks) the shape and the seed.
    """
    shape = _shape(draw, shape, min_dims, max_dims, min_side, max_side)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, size=shape).astype(dtype)


@st.composite
def tie_free_arrays(draw, shape=None, *, min_dims: int = 1, max_dims: int = 4,
                    min_side: int = 1, max_side: int = 5, gap: float = 1e-2, dtype=np.float64):
    """Arrays whose values are all distinct, any two at least ``gap`` apart.

    For max-type ops (max, max_pool2d, roi_pool): the argmax must not change when an element is
    nudged by the finite-difference step, or the numeric gradient is meaningless.

    Parameters
    ----------
    shape : tuple or strategy of tuples, optional
        Default: drawn with ``shapes(min_dims, max_dims, min_side, max_side)``.
    gap : float
        Smallest distance between two values (keep it far above gradcheck's ``eps``).

    Returns
    -------
    ndarray of ``shape``, centred on 0: an array of n elements spans about 1.25 * gap * n.

    Notes
    -----
    The values are a random permutation of ``1.25 * gap * (0, 1, 2, ...)``, centred, plus a
    jitter in [0, gap / 4): neighbours in sorted order differ by 1.25 gap -/+ the jitter, so by
    at least gap.
    """
    shape = _shape(draw, shape, min_dims, max_dims, min_side, max_side)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = int(np.prod(shape, dtype=np.int64))
    spacing = 1.25 * gap
    values = (rng.permutation(n) - n / 2) * spacing + rng.uniform(0, gap / 4, size=n)
    return values.reshape(shape).astype(dtype)


@st.composite
def away_from(draw, points=(0.0,), margin: float = 1e-2, shape=None, *, min_dims: int = 1,
              max_dims: int = 4, min_side: int = 1, max_side: int = 5, low: float = -3.0,
              high: float = 3.0, dtype=np.float64):
    """Arrays in [low, high] whose values are at least ``margin`` from every kink in ``points``.

    For ops with kinks: 0 for relu and abs, the bounds for clip.

    Parameters
    ----------
    points : sequence of float
        The kinks; any two must be more than ``2 * margin`` apart.
    margin : float
        Smallest distance between a value and a kink.
    shape, min_dims, max_dims, min_side, max_side, low, high, dtype
        As for :func:`arrays`.

    Returns
    -------
    ndarray of ``shape``

    Notes
    -----
    A value closer than ``margin`` to a kink is pushed out to ``kink +/- margin`` on its own
    side, or on the other side when its own side would leave [low, high].
    """
    points = sorted(float(p) for p in points)
    if any(q - p <= 2 * margin for p, q in zip(points, points[1:])):
        raise ValueError(f"away_from: points {points} must be more than 2 * margin = "
                         f"{2 * margin:g} apart")
    x = draw(arrays(shape, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                    max_side=max_side, low=low, high=high, dtype=np.float64))
    for p in points:
        d = x - p
        side = np.where(d >= 0, 1.0, -1.0)
        pushed = p + side * margin
        pushed = np.where((pushed < low) | (pushed > high), p - side * margin, pushed)
        x = np.where(np.abs(d) < margin, pushed, x)
    return x.astype(dtype)


# ---------------------------------------------------------------------------------------------
# Output sizes (PyTorch's formulas)
# ---------------------------------------------------------------------------------------------
def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1) -> int:
    """Output length of conv2d along one axis: floor((H + 2P - D(K - 1) - 1) / S) + 1.

    >>> conv_output_size(7, kernel=3, stride=2, padding=1)
    4
    """
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_transpose_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0,
                               dilation: int = 1, output_padding: int = 0) -> int:
    """Output length of conv_transpose2d along one axis: (H - 1)S - 2P + D(K - 1) + OP + 1.

    >>> conv_transpose_output_size(4, kernel=3, stride=2, padding=1, output_padding=0)
    7
    """
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def pool_output_size(size: int, kernel: int, stride: int, padding: int = 0, dilation: int = 1,
                     ceil_mode: bool = False) -> int:
    """Output length of max_pool2d / avg_pool2d along one axis, exactly as PyTorch computes it.

    Parameters
    ----------
    size, kernel, stride, padding, dilation : int
        H, K, S, P, D along the axis.
    ceil_mode : bool
        Round the number of strides up instead of down.

    Returns
    -------
    int
        floor((H + 2P - D(K - 1) - 1 + (S - 1 if ceil_mode else 0)) / S) + 1, minus one in
        ceil mode when the last window would start at or after H + P, i.e. in the right padding
        (PyTorch: "ensure that the last pooling starts inside the image"). A result below 1
        means the configuration is invalid.

    Notes
    -----
    In window terms (window o starts at o*S in the padded input of length L = H + 2P and is
    E = D(K - 1) + 1 long): floor mode counts the windows that fit, o*S + E <= L; ceil mode also
    counts a window that overshoots the end by less than a stride, o*S + E - L < S, provided it
    starts inside the input or the left padding, o*S < H + P.

    >>> pool_output_size(5, kernel=2, stride=2), pool_output_size(5, 2, 2, ceil_mode=True)
    (2, 3)
    """
    out = (size + 2 * padding - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
           ) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


# ---------------------------------------------------------------------------------------------
# Op configurations
# ---------------------------------------------------------------------------------------------
@st.composite
def conv_configs(draw, max_batch: int = 2, max_channels: int = 4, max_size: int = 7,
                 max_kernel: int = 3, max_stride: int = 2, max_padding: int = 2,
                 max_dilation: int = 2, max_groups: int = 2, allow_empty_batch: bool = False,
                 transpose: bool = False):
    """Valid conv2d (or, with ``transpose=True``, conv_transpose2d) configurations.

    Parameters
    ----------
    max_batch, max_channels, max_size : int
        Upper bounds for N, for C_in and C_out, for H and W.
    max_kernel, max_stride, max_padding, max_dilation : int
        Upper bounds for each of KH, KW, SH, SW, PH, PW, DH, DW (drawn per axis).
    max_groups : int
        Upper bound for groups; C_in and C_out are drawn as multiples of groups.
    allow_empty_batch : bool
        Let N be 0.
    transpose : bool
        Draw a conv_transpose2d configuration instead of a conv2d one.

    Returns
    -------
    dict
        ``N, C_in, C_out, H, W`` : int (H, W: the input size);
        ``kernel_size, stride, padding, dilation, output_padding`` : (int, int) pairs;
        ``groups`` : int; ``bias`` : bool (whether to pass a bias of shape (C_out,));
        ``OH, OW`` : int, the output size, at least 1;
        ``x_shape`` (N, C_in, H, W), ``weight_shape``, ``out_shape`` (N, C_out, OH, OW).

    Notes
    -----
    conv2d: weight (C_out, C_in / groups, KH, KW) and OH = floor((H + 2PH - DH(KH - 1) - 1) / SH)
    + 1 >= 1. ``output_padding`` is then the remainder of that division: with it,
    conv_transpose2d maps an (N, C_out, OH, OW) input with the same weight and hyper-parameters
    back to (N, C_in, H, W) -- the pair for the adjoint test
    <conv2d(x, w), y> = <x, conv_transpose2d(y, w)>.

    conv_transpose2d: weight (C_in, C_out / groups, KH, KW), ``output_padding`` is drawn below
    max(stride, dilation) (PyTorch's rule) and OH = (H - 1)SH - 2PH + DH(KH - 1) + OPH + 1 >= 1.

    Each size is drawn so that the output is non-empty: for conv2d the kernel is drawn after H
    and the padding (K <= H + 2P), then the dilation (D(K - 1) + 1 <= H + 2P); for
    conv_transpose2d the padding is drawn last, at most half of (H - 1)S + D(K - 1) + OP.
    """
    groups = draw(st.integers(1, max(1, min(max_groups, max_channels))))
    c_in = groups * draw(st.integers(1, max(1, max_channels // groups)))
    c_out = groups * draw(st.integers(1, max(1, max_channels // groups)))
    n = draw(st.integers(0 if allow_empty_batch else 1, max_batch))
    size, kernel, stride, padding, dilation, output_padding, out = ([], [], [], [], [], [], [])
    for _ in range(2):                                      # the H axis, then the W axis
        h = draw(st.integers(1, max_size))
        s = draw(st.integers(1, max_stride))
        if not transpose:
            p = draw(st.integers(0, max_padding))
            k = draw(st.integers(1, max(1, min(max_kernel, h + 2 * p))))
            d_max = max_dilation if k == 1 else min(max_dilation, (h + 2 * p - 1) // (k - 1))
            d = draw(st.integers(1, max(1, d_max)))
            o = conv_output_size(h, k, s, p, d)
            op = (h + 2 * p - d * (k - 1) - 1) % s          # what floor() dropped
        else:
            k = draw(st.integers(1, max_kernel))
            d = draw(st.integers(1, max_dilation))
            op = draw(st.integers(0, max(s, d) - 1))
            p = draw(st.integers(0, min(max_padding, ((h - 1) * s + d * (k - 1) + op) // 2)))
            o = conv_transpose_output_size(h, k, s, p, d, op)
        for values, v in zip((size, kernel, stride, padding, dilation, output_padding, out),
                             (h, k, s, p, d, op, o)):
            values.append(v)
    kh, kw = kernel
    weight_shape = ((c_in, c_out // groups, kh, kw) if transpose
                    else (c_out, c_in // groups, kh, kw))
    return {
        "N": n, "C_in": c_in, "C_out": c_out, "H": size[0], "W": size[1],
        "kernel_size": tuple(kernel), "stride": tuple(stride), "padding": tuple(padding),
        "dilation": tuple(dilation), "output_padding": tuple(output_padding),
        "groups": groups, "bias": draw(st.booleans()), "OH": out[0], "OW": out[1],
        "x_shape": (n, c_in, size[0], size[1]), "weight_shape": weight_shape,
        "out_shape": (n, c_out, out[0], out[1]),
    }


@st.composite
def pool_configs(draw, max_batch: int = 2, max_channels: int = 3, max_size: int = 7,
                 max_kernel: int = 3, max_stride: int = 2, max_dilation: int = 2,
                 allow_ceil_mode: bool = True, allow_empty_batch: bool = False):
    """Valid max_pool2d / avg_pool2d configurations (PyTorch's rules).

    Parameters
    ----------
    max_batch, max_channels, max_size : int
        Upper bounds for N, C, and for H and W.
    max_kernel, max_stride, max_dilation : int
        Upper bounds for each of KH, KW, SH, SW, DH, DW (drawn per axis). Pass
        ``max_dilation=1`` for avg_pool2d, which has no dilation.
    allow_ceil_mode : bool
        Let ``ceil_mode`` be True.
    allow_empty_batch : bool
        Let N be 0.

    Returns
    -------
    dict
        ``N, C, H, W`` : int; ``kernel_size, stride, padding, dilation`` : (int, int) pairs;
        ``ceil_mode`` : bool; ``OH, OW`` : int, at least 1 (from :func:`pool_output_size`);
        ``x_shape`` (N, C, H, W) and ``out_shape`` (N, C, OH, OW).

    Notes
    -----
    The padding is at most half the kernel, PH <= KH // 2 (PyTorch refuses more). The output is
    non-empty when the first window, E = D(K - 1) + 1 long, fits the padded input -- or, in ceil
    mode, overshoots it by less than a stride: E <= H + 2P + (S - 1 if ceil_mode else 0). The
    kernel is drawn first, then the padding at least (K - H - c) / 2 (possible because
    P = K // 2 always suffices), then the dilation up to (H + 2P + c - 1) / (K - 1); a dilation
    that would leave some window with padding only is replaced by 1.
    """
    ceil_mode = draw(st.booleans()) if allow_ceil_mode else False
    n = draw(st.integers(0 if allow_empty_batch else 1, max_batch))
    c = draw(st.integers(1, max_channels))
    size, kernel, stride, padding, dilation, out = [], [], [], [], [], []
    for _ in range(2):                                      # the H axis, then the W axis
        h = draw(st.integers(1, max_size))
        s = draw(st.integers(1, max_stride))
        k = draw(st.integers(1, max_kernel))
        slack = s - 1 if ceil_mode else 0                   # how far ceil mode may overshoot
        p_min = max(0, -(-(k - h - slack) // 2))            # ceil((K - H - slack) / 2)
        p = draw(st.integers(p_min, k // 2))
        d_max = max_dilation if k == 1 else min(max_dilation, (h + 2 * p + slack - 1) // (k - 1))
        d = draw(st.integers(1, max(1, d_max)))
        # A dilated window can straddle the whole input and see only padding (H=1, K=2, P=1,
        # D=2): such a window has no maximum. With D = 1 every window reaches the input.
        o = pool_output_size(h, k, s, p, d, ceil_mode)
        cells = np.arange(o)[:, None] * s - p + np.arange(k)[None, :] * d   # (OH, K)
        if not ((cells >= 0) & (cells < h)).any(axis=1).all():
            d = 1
        for values, v in zip((size, kernel, stride, padding, dilation),
                             (h, k, s, p, d)):
            values.append(v)
        out.append(pool_output_size(h, k, s, p, d, ceil_mode))
    return {
        "N": n, "C": c, "H": size[0], "W": size[1], "kernel_size": tuple(kernel),
        "stride": tuple(stride), "padding": tuple(padding), "dilation": tuple(dilation),
        "ceil_mode": ceil_mode, "OH": out[0], "OW": out[1],
        "x_shape": (n, c, size[0], size[1]), "out_shape": (n, c, out[0], out[1]),
    }


# ---------------------------------------------------------------------------------------------
# Boxes and regions of interest
# ---------------------------------------------------------------------------------------------
BOX_KINDS = ("valid", "degenerate", "partly_outside", "outside")

# Interval kinds along one axis of length L (the image is [0, L]).
_INSIDE, _POINT, _CROSSING, _OUTSIDE = range(4)


def _axis_intervals(rng, kinds, length, min_size, margin):
    """Intervals (a, b) along one axis, one per entry of ``kinds``:

    _INSIDE    0 <= a, a + min_size <= b <= length (an end sits on the border now and then)
    _POINT     a == b in [0, length]
    _CROSSING  a < 0 < b or a < length < b, b - a >= min_size: overlaps the image and leaves it
    _OUTSIDE   b <= -margin or a >= length + margin, b - a >= min_size
    """
    n = kinds.shape[0]
    reach = max(length / 2, min_size)                     # how far boxes stick out
    step = 1e-2 * min(1.0, length)                        # keeps strict inequalities strict

    a = rng.uniform(0, length - min_size, n)
    b = np.minimum(a + min_size + rng.uniform(0, 1, n) * (length - min_size - a), length)
    a = np.where(rng.random(n) < 0.2, 0.0, a)
    b = np.where(rng.random(n) < 0.2, length, b)
    inside = (a, b)

    p = rng.uniform(0, length, n)
    p = np.where(rng.random(n) < 0.2, rng.choice([0.0, float(length)], n), p)
    point = (p, p)

    left_a = -rng.uniform(step, reach, n)                 # crosses 0
    left_b = np.maximum(rng.uniform(0, length, n), np.maximum(left_a + min_size, step))
    left_b = np.where(rng.random(n) < 0.2, length, left_b)
    mode = rng.integers(0, 3, n)                          # left, right (mirrored) or both
    cross_a = np.choose(mode, [left_a, length - left_b, -rng.uniform(step, reach, n)])
    cross_b = np.choose(mode, [left_b, length - left_a, length + rng.uniform(step, reach, n)])
    crossing = (cross_a, cross_b)

    gap = margin + rng.uniform(0, reach, n)               # distance from the image
    extent = min_size + rng.uniform(0, reach, n)
    before = rng.random(n) < 0.5
    out_a = np.where(before, -gap - extent, length + gap)
    out_b = np.where(before, -gap, length + gap + extent)
    outside = (out_a, out_b)

    candidates = (inside, point, crossing, outside)
    return (np.choose(kinds, [c[0] for c in candidates]),
            np.choose(kinds, [c[1] for c in candidates]))


def _box_array(rng, n, width, height, kind, min_size, margin):
    """(n, 4) boxes: the body of :func:`boxes`, on a NumPy generator."""
    if kind == "any":
        box_kinds = rng.integers(0, len(BOX_KINDS), n)
    else:
        box_kinds = np.full(n, BOX_KINDS.index(kind))
    # Per box, the interval kind along x and along y.
    which = rng.integers(0, 3, n)                  # x only, y only, or both axes are special
    other = rng.choice([_INSIDE, _CROSSING, _OUTSIDE], n)
    special = np.choose(box_kinds, [np.full(n, _INSIDE), np.full(n, _POINT),
                                    np.full(n, _CROSSING), np.full(n, _OUTSIDE)])
    companion = np.where(box_kinds == BOX_KINDS.index("outside"), other, _INSIDE)
    x_kind = np.where(which == 1, companion, special)
    y_kind = np.where(which == 0, companion, special)
    # An outside box needs one outside axis only: "both" then means x outside, y anything.
    y_kind = np.where((box_kinds == BOX_KINDS.index("outside")) & (which == 2), other, y_kind)
    x1, x2 = _axis_intervals(rng, x_kind, width, min_size, margin)
    y1, y2 = _axis_intervals(rng, y_kind, height, min_size, margin)
    return np.stack([x1, y1, x2, y2], axis=1).astype(np.float64).reshape(n, 4)


def _count(draw, n, default_max):
    if n is None:
        return draw(st.integers(0, default_max))
    if isinstance(n, int):
        return n
    return draw(n)


def _check_box_args(name, width, height, kind, min_size, margin):
    if kind != "any" and kind not in BOX_KINDS:
        raise ValueError(f"{name}: kind must be 'any' or one of {BOX_KINDS}, got {kind!r}")
    if not 0 < min_size <= min(width, height):
        raise ValueError(f"{name}: min_size must be in (0, min(width, height)] = "
                         f"(0, {min(width, height):g}], got {min_size!r}")
    if margin < 0:
        raise ValueError(f"{name}: margin must be >= 0, got {margin!r}")


@st.composite
def boxes(draw, n=None, *, width: float = 32.0, height: float = 32.0, kind: str = "any",
          min_size: float = 1.0, margin: float = 1.0):
    """Boxes (x1, y1, x2, y2) of one kind relative to a ``width`` x ``height`` image.

    Parameters
    ----------
    n : int or strategy of int, optional
        Number of boxes N (default: 0 to 8).
    width, height : float
        The image is [0, width] x [0, height], in continuous pixel coordinates.
    kind : {"valid", "degenerate", "partly_outside", "outside", "any"}
        - "valid": inside the image (borders included), x2 - x1 >= min_size and
          y2 - y1 >= min_size.
        - "degenerate": inside the image with zero width or zero height (or both), x1 <= x2,
          y1 <= y2.
        - "partly_outside": at least min_size wide and high, overlapping the image with positive
          area and leaving it on at least one side.
        - "outside": at least min_size wide and high, at least ``margin`` away from the image
          along x or along y (so no overlap at all).
        - "any": each box takes one of those kinds at random.
    min_size : float
        Smallest side of the non-degenerate boxes; must lie in (0, min(width, height)].
    margin : float
        Distance of the "outside" boxes from the image.

    Returns
    -------
    (N, 4) float64 ndarray in xyxy order.

    Notes
    -----
    Coordinates are fractional, but box ends land exactly on the image borders now and then
    (a fifth of the time for each end), where ops have their edge cases.
    """
    _check_box_args("boxes", width, height, kind, min_size, margin)
    count = _count(draw, n, 8)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return _box_array(rng, count, float(width), float(height), kind, min_size, margin)


@st.composite
def rois(draw, k=None, *, batch_size: int = 2, width: float = 32.0, height: float = 32.0,
         kind: str = "any", min_size: float = 1.0, margin: float = 1.0):
    """Regions of interest (batch_index, x1, y1, x2, y2) for roi_pool / roi_align.

    Parameters
    ----------
    k : int or strategy of int, optional
        Number of regions K (default: 0 to 8).
    batch_size : int
        N of the feature map: batch indices are drawn in [0, N).
    width, height, kind, min_size, margin
        As for :func:`boxes`, in the coordinates of the input image (the feature map's size
        divided by ``spatial_scale``).

    Returns
    -------
    (K, 5) float64 ndarray: column 0 holds whole-number batch indices, columns 1-4 the box.
    """
    _check_box_args("rois", width, height, kind, min_size, margin)
    if batch_size < 1:
        raise ValueError(f"rois: batch_size must be at least 1, got {batch_size!r}")
    count = _count(draw, k, 8)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    batch_index = rng.integers(0, batch_size, count).astype(np.float64)
    box = _box_array(rng, count, float(width), float(height), kind, min_size, margin)
    return np.concatenate([batch_index[:, None], box], axis=1)  # (K, 5)
