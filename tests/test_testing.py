"""The strategies of minicv.testing draw what they promise.

Later op tests trust these strategies to give valid configurations, so every invariant is checked
here against an independent statement of it (a brute-force window count, a geometric
classification of boxes), and ``find`` proves that the interesting corners are reachable.
"""
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from minicv.testing import (BOX_KINDS, arrays, away_from, boxes, conv_configs,
                            conv_output_size, conv_transpose_output_size, pool_configs,
                            pool_output_size, rois, shapes, tie_free_arrays)

FIND = settings(max_examples=3000, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))


def draw_one(strategy):
    """One deterministic (and simplest) example of ``strategy``."""
    return find(strategy, lambda _: True, settings=FIND)


# ---------------------------------------------------------------------------------------------
# Brute-force references: count windows one by one
# ---------------------------------------------------------------------------------------------
def conv_windows(size, kernel, stride, padding, dilation):
    """Windows of a conv along one axis: window o starts at o*S in the padded input and spans
    D(K - 1) + 1 cells; it counts when it fits."""
    span = dilation * (kernel - 1) + 1
    return sum(1 for o in range(4 * size + 4 * padding + 4)
               if o * stride + span <= size + 2 * padding)


def pool_windows(size, kernel, stride, padding, dilation, ceil_mode):
    """Pooling windows along one axis. Floor mode: the windows that fit. Ceil mode: also a last
    window hanging over the end of the padded input by less than a stride, as long as it starts
    inside the input or the left padding."""
    span, padded = dilation * (kernel - 1) + 1, size + 2 * padding
    count = 0
    for o in range(4 * padded + 4):
        start = o * stride
        if ceil_mode:
            count += start + span - padded < stride and start < size + padding
        else:
            count += start + span <= padded
    return count


def conv_transpose_length(size, kernel, stride, padding, dilation, output_padding):
    """conv_transpose2d along one axis: input cell i spreads to i*S + j*D for every tap j; the
    full result is cropped by P on both sides and extended by output_padding at the end."""
    taps = [i * stride + j * dilation for i in range(size) for j in range(kernel)]
    return max(taps) + 1 - 2 * padding + output_padding


# ---------------------------------------------------------------------------------------------
# Output-size formulas
# ---------------------------------------------------------------------------------------------
def test_pool_output_size_matches_window_count_on_a_grid():
    for size, kernel, stride, dilation, ceil_mode in itertools.product(
            range(1, 10), range(1, 5), range(1, 4), range(1, 3), (False, True)):
        for padding in range(kernel // 2 + 1):
            expected = pool_windows(size, kernel, stride, padding, dilation, ceil_mode)
            got = pool_output_size(size, kernel, stride, padding, dilation, ceil_mode)
            assert max(got, 0) == expected, (size, kernel, stride, padding, dilation, ceil_mode)


@pytest.mark.parametrize("args, expected", [
    # (size, kernel, stride, padding, dilation, ceil_mode) -> PyTorch's output size
    ((50, 3, 2, 0, 1, False), 24),     # nn.MaxPool2d(3, stride=2) on 50 x 32 gives 24 x 15
    ((32, 3, 2, 0, 1, False), 15),
    ((5, 2, 2, 0, 1, False), 2),
    ((5, 2, 2, 0, 1, True), 3),        # ceil mode adds the half-empty last window
    ((1, 2, 2, 1, 1, True), 1),        # ... but never one starting in the right padding
    ((4, 2, 2, 1, 1, True), 3),
    ((2, 3, 2, 0, 1, True), 1),        # the only window overshoots the input: allowed in ceil mode
    ((2, 3, 2, 0, 1, False), 0),       # ... and not in floor mode
    ((7, 3, 1, 1, 2, False), 5),       # dilation: effective kernel 5
])
def test_pool_output_size_known_values(args, expected):
    assert pool_output_size(*args) == expected


def test_ceil_mode_correction_is_the_only_difference_from_plain_ceil():
    # pre-correction: (1 + 2 - 2 + 1) // 2 + 1 = 2, but window 1 would start at 2 = H + P
    assert pool_output_size(1, 2, 2, padding=1, ceil_mode=True) == 1
    assert pool_output_size(1, 2, 2, padding=1, ceil_mode=False) == 1
    assert pool_output_size(3, 2, 2, padding=1, ceil_mode=True) == 2


def test_conv_output_sizes_against_brute_force():
    for size, kernel, stride, padding, dilation in itertools.product(
            range(1, 9), range(1, 4), range(1, 4), range(0, 3), range(1, 3)):
        if size + 2 * padding >= dilation * (kernel - 1) + 1:
            assert conv_output_size(size, kernel, stride, padding, dilation) == conv_windows(
                size, kernel, stride, padding, dilation)
        for output_padding in range(max(stride, dilation)):
            expected = conv_transpose_length(size, kernel, stride, padding, dilation,
                                             output_padding)
            assert conv_transpose_output_size(size, kernel, stride, padding, dilation,
                                              output_padding) == expected


# ---------------------------------------------------------------------------------------------
# conv_configs
# ---------------------------------------------------------------------------------------------
@given(conv_configs(allow_empty_batch=True))
def test_conv_configs_are_valid(cfg):
    groups = cfg["groups"]
    assert 1 <= groups <= 2
    assert cfg["C_in"] % groups == 0 and cfg["C_out"] % groups == 0
    assert 1 <= cfg["C_in"] <= 4 and 1 <= cfg["C_out"] <= 4
    assert 0 <= cfg["N"] <= 2 and isinstance(cfg["bias"], bool)
    for axis, (size, out) in enumerate([(cfg["H"], cfg["OH"]), (cfg["W"], cfg["OW"])]):
        k, s, p, d = (cfg[key][axis] for key in ("kernel_size", "stride", "padding", "dilation"))
        assert 1 <= size <= 7 and 1 <= k <= 3 and 1 <= s <= 2 and 0 <= p <= 2 and 1 <= d <= 2
        assert out >= 1
        assert out == conv_windows(size, k, s, p, d)
        # output_padding makes conv_transpose2d undo the shape change, and PyTorch accepts it
        op = cfg["output_padding"][axis]
        assert 0 <= op < s
        assert conv_transpose_length(out, k, s, p, d, op) == size
    n, kh, kw = cfg["N"], *cfg["kernel_size"]
    assert cfg["x_shape"] == (n, cfg["C_in"], cfg["H"], cfg["W"])
    assert cfg["weight_shape"] == (cfg["C_out"], cfg["C_in"] // groups, kh, kw)
    assert cfg["out_shape"] == (n, cfg["C_out"], cfg["OH"], cfg["OW"])


@given(conv_configs(transpose=True, max_size=5, max_kernel=4, max_stride=3, max_dilation=3))
def test_conv_transpose_configs_are_valid(cfg):
    groups = cfg["groups"]
    assert cfg["C_in"] % groups == 0 and cfg["C_out"] % groups == 0
    assert cfg["N"] >= 1
    for axis, (size, out) in enumerate([(cfg["H"], cfg["OH"]), (cfg["W"], cfg["OW"])]):
        k, s, p, d, op = (cfg[key][axis] for key in
                          ("kernel_size", "stride", "padding", "dilation", "output_padding"))
        assert 0 <= op < max(s, d)           # PyTorch: smaller than stride or dilation
        assert out >= 1
        assert out == conv_transpose_length(size, k, s, p, d, op)
    n, kh, kw = cfg["N"], *cfg["kernel_size"]
    assert cfg["weight_shape"] == (cfg["C_in"], cfg["C_out"] // groups, kh, kw)
    assert cfg["out_shape"] == (n, cfg["C_out"], cfg["OH"], cfg["OW"])


@given(conv_configs(max_size=2, max_kernel=4, max_padding=1, max_dilation=4))
def test_conv_configs_with_kernels_larger_than_the_input(cfg):
    for axis, (size, out) in enumerate([(cfg["H"], cfg["OH"]), (cfg["W"], cfg["OW"])]):
        k, s, p, d = (cfg[key][axis] for key in ("kernel_size", "stride", "padding", "dilation"))
        assert out >= 1 and out == conv_windows(size, k, s, p, d)


@given(st.data())
def test_conv_configs_respect_their_bounds(data):
    bounds = dict(max_batch=data.draw(st.integers(1, 3)),
                  max_channels=data.draw(st.integers(1, 6)),
                  max_size=data.draw(st.integers(1, 9)),
                  max_kernel=data.draw(st.integers(1, 5)),
                  max_stride=data.draw(st.integers(1, 3)),
                  max_padding=data.draw(st.integers(0, 3)),
                  max_dilation=data.draw(st.integers(1, 3)),
                  max_groups=data.draw(st.integers(1, 3)))
    cfg = data.draw(conv_configs(**bounds))
    assert 1 <= cfg["N"] <= bounds["max_batch"]
    assert cfg["groups"] <= max(1, min(bounds["max_groups"], bounds["max_channels"]))
    assert cfg["C_in"] <= max(bounds["max_channels"], cfg["groups"])
    for axis in range(2):
        assert max(cfg["kernel_size"][axis], 1) <= bounds["max_kernel"]
        assert cfg["stride"][axis] <= bounds["max_stride"]
        assert cfg["padding"][axis] <= bounds["max_padding"]
        assert cfg["dilation"][axis] <= bounds["max_dilation"]
    assert cfg["H"] <= bounds["max_size"] and cfg["W"] <= bounds["max_size"]
    assert cfg["OH"] >= 1 and cfg["OW"] >= 1


@pytest.mark.parametrize("name, strategy, condition", [
    ("empty batch", conv_configs(allow_empty_batch=True), lambda c: c["N"] == 0),
    ("grouped, strided, dilated, padded", conv_configs(),
     lambda c: c["groups"] == 2 and c["stride"] == (2, 2) and c["dilation"][0] == 2
     and c["padding"][0] > 0),
    ("non-square kernel", conv_configs(), lambda c: c["kernel_size"] == (3, 2)),
    ("output_padding 1", conv_configs(), lambda c: c["output_padding"][0] == 1),
    ("transpose: output_padding allowed by the dilation only", conv_configs(transpose=True),
     lambda c: c["output_padding"][0] >= c["stride"][0]),
    ("pool: ceil mode adds a window",
     pool_configs(), lambda c: c["ceil_mode"] and c["OH"] > pool_output_size(
         c["H"], c["kernel_size"][0], c["stride"][0], c["padding"][0], c["dilation"][0])),
    ("pool: overlapping dilated windows", pool_configs(),
     lambda c: c["stride"][0] < c["kernel_size"][0] and c["dilation"][0] == 2),
])
def test_configs_reach_the_corners(name, strategy, condition):
    assert condition(find(strategy, condition, settings=FIND))


# ---------------------------------------------------------------------------------------------
# pool_configs
# ---------------------------------------------------------------------------------------------
@given(pool_configs(allow_empty_batch=True))
def test_pool_configs_are_valid(cfg):
    assert 0 <= cfg["N"] <= 2 and 1 <= cfg["C"] <= 3
    for axis, (size, out) in enumerate([(cfg["H"], cfg["OH"]), (cfg["W"], cfg["OW"])]):
        k, s, p, d = (cfg[key][axis] for key in ("kernel_size", "stride", "padding", "dilation"))
        assert 1 <= size <= 7 and 1 <= k <= 3 and 1 <= s <= 2 and 1 <= d <= 2
        assert 0 <= p <= k // 2                      # PyTorch: at most half the kernel
        assert out >= 1
        assert out == pool_windows(size, k, s, p, d, cfg["ceil_mode"])
    assert cfg["x_shape"] == (cfg["N"], cfg["C"], cfg["H"], cfg["W"])
    assert cfg["out_shape"] == (cfg["N"], cfg["C"], cfg["OH"], cfg["OW"])


@given(pool_configs(max_size=3, max_kernel=5, max_stride=3, max_dilation=3))
def test_pool_configs_with_kernels_larger_than_the_input(cfg):
    for axis, (size, out) in enumerate([(cfg["H"], cfg["OH"]), (cfg["W"], cfg["OW"])]):
        k, s, p, d = (cfg[key][axis] for key in ("kernel_size", "stride", "padding", "dilation"))
        assert p <= k // 2 and out >= 1
        assert out == pool_windows(size, k, s, p, d, cfg["ceil_mode"])


@given(pool_configs(max_dilation=1, allow_ceil_mode=False))
def test_pool_configs_options_for_avg_pool(cfg):
    assert cfg["dilation"] == (1, 1) and cfg["ceil_mode"] is False


# ---------------------------------------------------------------------------------------------
# boxes and rois
# ---------------------------------------------------------------------------------------------
def classify(b, width, height, min_size, margin):
    """The kind of one xyxy box, from its geometry alone (None if it fits no kind)."""
    x1, y1, x2, y2 = b
    tol = 1e-9
    inside = x1 >= 0 and y1 >= 0 and x2 <= width and y2 <= height
    if inside and x2 - x1 >= min_size - tol and y2 - y1 >= min_size - tol:
        return "valid"
    if inside and x1 <= x2 and y1 <= y2 and (x1 == x2 or y1 == y2):
        return "degenerate"
    if x2 - x1 < min_size - tol or y2 - y1 < min_size - tol:
        return None
    overlap = (min(x2, width) - max(x1, 0)) * (min(y2, height) - max(y1, 0))
    if min(x2, width) > max(x1, 0) and min(y2, height) > max(y1, 0) and overlap > 0:
        return "partly_outside"
    if (x2 <= -margin + tol or x1 >= width + margin - tol or y2 <= -margin + tol
            or y1 >= height + margin - tol):
        return "outside"
    return None


@pytest.mark.parametrize("kind", BOX_KINDS)
@given(data=st.data())
def test_boxes_are_of_their_kind(kind, data):
    width = data.draw(st.sampled_from([1.0, 7.0, 32.0]))
    height = data.draw(st.sampled_from([2.0, 9.5, 32.0]))
    min_size = data.draw(st.sampled_from([0.5, 1.0]))
    margin = data.draw(st.sampled_from([0.0, 1.0, 16.0]))
    b = data.draw(boxes(width=width, height=height, kind=kind, min_size=min_size,
                        margin=margin))
    assert b.dtype == np.float64 and b.ndim == 2 and b.shape[1] == 4 and b.shape[0] <= 8
    assert np.all(np.isfinite(b))
    for row in b:
        assert classify(row, width, height, min_size, margin) == kind, row


@given(boxes(n=st.integers(0, 20), kind="any"))
def test_any_boxes_are_of_some_kind(b):
    for row in b:
        assert classify(row, 32.0, 32.0, 1.0, 1.0) in BOX_KINDS, row


@pytest.mark.parametrize("n", [0, 1, 5])
def test_boxes_count_is_honoured(n):
    b = draw_one(boxes(n=n))
    assert b.shape == (n, 4) and b.dtype == np.float64


@pytest.mark.parametrize("name, condition", [
    ("all four kinds in one draw",
     lambda b: {classify(r, 32, 32, 1, 1) for r in b} == set(BOX_KINDS)),
    ("a valid box touching the left and right borders",
     lambda b: any(r[0] == 0 and r[2] == 32 and classify(r, 32, 32, 1, 1) == "valid"
                   for r in b)),
    ("a point box", lambda b: any(r[0] == r[2] and r[1] == r[3] for r in b)),
    ("a box covering the whole image", lambda b: any(
        r[0] < 0 and r[1] < 0 and r[2] > 32 and r[3] > 32 for r in b)),
])
def test_boxes_reach_the_corners(name, condition):
    assert condition(find(boxes(n=8), condition, settings=FIND))


@given(rois(batch_size=3, kind="valid", width=16.0, height=8.0))
def test_rois_hold_batch_indices_and_boxes(r):
    assert r.dtype == np.float64 and r.ndim == 2 and r.shape[1] == 5
    assert np.all(r[:, 0] == np.floor(r[:, 0]))
    assert np.all((r[:, 0] >= 0) & (r[:, 0] < 3))
    for row in r[:, 1:]:
        assert classify(row, 16.0, 8.0, 1.0, 1.0) == "valid"


def test_rois_use_every_batch_index_and_allow_empty():
    r = find(rois(k=8, batch_size=3), lambda r: set(r[:, 0]) == {0.0, 1.0, 2.0}, settings=FIND)
    assert set(r[:, 0]) == {0.0, 1.0, 2.0}
    assert draw_one(rois(k=0)).shape == (0, 5)


@pytest.mark.parametrize("strategy, match", [
    (boxes(kind="inside"), r"boxes: kind must be 'any' or one of .*'inside'"),
    (boxes(width=0.5), r"boxes: min_size must be in \(0, min\(width, height\)\] = \(0, 0.5\]"),
    (boxes(margin=-1.0), "boxes: margin must be >= 0, got -1.0"),
    (rois(batch_size=0), "rois: batch_size must be at least 1, got 0"),
    (away_from((0.0, 0.015), margin=0.01), r"away_from: points \[0.0, 0.015\] must be more "
                                           r"than 2 \* margin = 0.02 apart"),
])
def test_bad_strategy_arguments_raise(strategy, match):
    with pytest.raises(ValueError, match=match):
        draw_one(strategy)


# ---------------------------------------------------------------------------------------------
# arrays, tie_free_arrays, away_from
# ---------------------------------------------------------------------------------------------
@given(arrays(min_dims=0, max_dims=3, low=-0.5, high=2.0))
def test_arrays_range_and_dtype(x):
    assert x.dtype == np.float64 and x.ndim <= 3
    assert np.all((x >= -0.5) & (x <= 2.0))


@given(arrays(shapes(2, 2, 3, 3), dtype=np.float32), arrays((2, 5)))
def test_arrays_shape_argument(a, b):
    assert a.shape == (3, 3) and a.dtype == np.float32
    assert b.shape == (2, 5)


@given(st.sampled_from([1e-3, 1e-2, 0.5]).flatmap(
    lambda gap: st.tuples(st.just(gap), tie_free_arrays(gap=gap, max_side=6))))
def test_tie_free_arrays_keep_the_gap(gap_and_x):
    gap, x = gap_and_x
    values = np.sort(x.reshape(-1))
    if values.size > 1:
        assert np.diff(values).min() >= gap * (1 - 1e-9)


@given(tie_free_arrays((4, 5), dtype=np.float32))
def test_tie_free_arrays_float32_distinct(x):
    assert x.dtype == np.float32 and x.shape == (4, 5)
    assert np.unique(x).size == x.size


@pytest.mark.parametrize("points, margin, low, high", [
    ((0.0,), 1e-2, -3.0, 3.0),
    ((-1.0, 1.5), 0.05, -3.0, 3.0),
    ((0.05,), 0.1, 0.0, 1.0),       # a kink near the border: values stay inside [low, high]
    ((0.0, 1.0), 0.2, 0.0, 1.0),
])
def test_away_from_keeps_the_margin(points, margin, low, high):
    @given(away_from(points, margin=margin, low=low, high=high, max_side=8))
    def check(x):
        assert np.all((x >= low) & (x <= high))
        for p in points:
            assert np.abs(x - p).min() >= margin * (1 - 1e-9)
    check()
