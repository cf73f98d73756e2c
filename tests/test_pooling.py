"""max_pool2d (with switches), max_unpool2d, avg_pool2d and their layers.

Forward against the loop references in reference.py over the TESTING.md grid, the
rules (ties, NaN, -inf, duplicate indices), the switch properties DeconvNet relies on, hand-worked
gradients, error messages, and gradient checks that are seen to fail against a wrong backward.
The hypothesis-driven float64 gradient checks of the three ops run from minicv/checks/pooling.py
(tests/test_gradcheck_ops.py).
"""
import doctest
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import (avg_pool2d_ref, max_pool2d_ref, max_unpool2d_ref,
                               pool_output_size_ref)

import minicv.functional as F
import minicv.functional.pooling as pooling
import minicv.nn as nn
from minicv import backend, checks
from minicv.autograd import Tensor, no_grad
from minicv.gradcheck import GradcheckError, gradcheck
from minicv.testing import pool_configs, pool_output_size, tie_free_arrays

# The TESTING.md grid: kernel 2, 3 (and a non-square one); stride 1 (overlapping windows), 2 and
# mixed; every padding up to half the kernel; dilation 1, 2; ceil_mode; odd and even sizes.
KERNELS = [2, 3, (3, 2)]
STRIDES = [1, 2, (2, 1)]
DILATIONS = [1, 2]
SIZES = [(5, 7), (6, 6), (3, 4)]


def _paddings(kernel):
    kh, kw = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    return sorted({(ph, pw) for ph in range(kh // 2 + 1) for pw in range(kw // 2 + 1)})


def _grid(dilations):
    for kernel, stride, dilation, ceil_mode, size in itertools.product(
            KERNELS, STRIDES, dilations, [False, True], SIZES):
        for padding in _paddings(kernel):
            yield kernel, stride, padding, dilation, ceil_mode, size


def _reaches_input(kernel, stride, padding, dilation, ceil_mode, size):
    """False when a dilated window holds only padding (max_pool2d refuses that)."""
    for k, s, p, d, n in zip(*(v if isinstance(v, tuple) else (v, v)
                               for v in (kernel, stride, padding, dilation)), size):
        out = pool_output_size_ref(n, k, s, p, d, ceil_mode)
        if out < 1 or any(not any(0 <= o * s - p + j * d < n for j in range(k))
                          for o in range(out)):
            return False
    return True


def _random(shape, seed, kind="normal"):
    """Test inputs: normal values, or with ties / NaN / -inf sprinkled in."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if kind == "ties":
        x = np.round(x)                                    # many equal values per window
    elif kind == "nan":
        x[rng.random(shape) < 0.2] = np.nan
    elif kind == "-inf":
        x[rng.random(shape) < 0.6] = -np.inf
    return x


# ---------------------------------------------------------------------------------------------
# Output size
# ---------------------------------------------------------------------------------------------
def test_output_size_formula_matches_counting_windows():
    for size, kernel, stride, dilation in itertools.product(range(1, 9), range(1, 4),
                                                            range(1, 4), range(1, 3)):
        for padding, ceil_mode in itertools.product(range(kernel // 2 + 1), [False, True]):
            expected = pool_output_size_ref(size, kernel, stride, padding, dilation, ceil_mode)
            args = (size, kernel, stride, padding, dilation, ceil_mode)
            assert max(pool_output_size(*args), 0) == expected, args
            assert pooling._output_length(*args) == pool_output_size(*args), args


def test_ceil_mode_keeps_a_last_window_only_if_it_starts_inside():
    # H=5, K=2, S=2: floor 2 windows, ceil 3 (the third starts at row 4, inside)
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    assert F.max_pool2d(x, 2).shape == (1, 1, 2, 2)
    assert F.max_pool2d(x, 2, ceil_mode=True).shape == (1, 1, 3, 3)
    # H=4, K=2, S=2, P=1: ceil would give 4 windows, but the 4th starts at 5 >= H + P: dropped
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    assert F.max_pool2d(x, 2, padding=1, ceil_mode=True).shape == (1, 1, 3, 3)


# ---------------------------------------------------------------------------------------------
# max_pool2d forward
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["normal", "ties", "nan", "-inf"])
def test_max_pool2d_matches_reference_over_the_grid(kind, xp):
    checked = 0
    for number, (kernel, stride, padding, dilation, ceil_mode, size) in enumerate(
            _grid(DILATIONS)):
        if not _reaches_input(kernel, stride, padding, dilation, ceil_mode, size):
            continue
        x = _random((2, 2) + size, number, kind)
        y, switches = F.max_pool2d(xp.asarray(x), kernel, stride, padding, dilation,
                                   ceil_mode=ceil_mode, return_indices=True)
        y_ref, switches_ref = max_pool2d_ref(x, kernel, stride, padding, dilation, ceil_mode)
        args = (kernel, stride, padding, dilation, ceil_mode, size)
        np.testing.assert_array_equal(y.numpy(), y_ref, err_msg=str(args))   # NaN == NaN here
        np.testing.assert_array_equal(switches.numpy(), switches_ref, err_msg=str(args))
        assert switches.dtype == np.int64 and not switches.requires_grad
        assert 0 <= switches.numpy().min() and switches.numpy().max() < size[0] * size[1]
        checked += 1
    assert checked > 300


@given(pool_configs(allow_empty_batch=True), st.integers(0, 2**32 - 1),
       st.sampled_from(["normal", "ties", "nan"]))
def test_max_pool2d_matches_reference_on_random_configs(config, seed, kind):
    x = _random(config["x_shape"], seed, kind)
    options = {k: config[k] for k in ("kernel_size", "stride", "padding", "dilation",
                                      "ceil_mode")}
    y, switches = F.max_pool2d(x, **options, return_indices=True)
    y_ref, switches_ref = max_pool2d_ref(x, **options)
    assert y.shape == config["out_shape"]
    np.testing.assert_array_equal(y.numpy(), y_ref)
    np.testing.assert_array_equal(switches.numpy(), switches_ref)


def test_max_pool2d_ties_go_to_the_first_maximum():
    x = np.array([[1.0, 3.0, 3.0, 0.0],
                  [3.0, 2.0, 5.0, 5.0],
                  [7.0, 7.0, 1.0, 1.0],
                  [7.0, 7.0, 1.0, 1.0]]).reshape(1, 1, 4, 4)
    y, switches = F.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(y.numpy()[0, 0], [[3.0, 5.0], [7.0, 1.0]])
    np.testing.assert_array_equal(switches.numpy()[0, 0], [[1, 6], [8, 10]])


def test_max_pool2d_nan_propagates_with_its_switch():
    # PyTorch's rule: a NaN is the maximum; with several, the last in window order is reported
    nan = np.nan
    x = np.array([[1.0, nan, 4.0, 2.0],
                  [nan, 9.0, 3.0, nan],
                  [5.0, 6.0, 8.0, 1.0],
                  [7.0, 2.0, 0.0, 3.0]]).reshape(1, 1, 4, 4)
    y, switches = F.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(y.numpy()[0, 0], [[nan, nan], [7.0, 8.0]])
    np.testing.assert_array_equal(switches.numpy()[0, 0], [[4, 7], [12, 10]])
    assert np.isnan(F.max_pool2d(x, 2).numpy()[0, 0, 0, 0])       # the values-only path too


def test_max_pool2d_all_minus_inf_window_points_at_its_first_input_cell():
    # -inf everywhere with padding 1: every window is a tie at -inf; the switch is the window's
    # first cell inside the input, never a padding cell (PyTorch gives the same)
    x = np.full((1, 1, 3, 3), -np.inf)
    y, switches = F.max_pool2d(x, 2, padding=1, return_indices=True)
    assert np.all(y.numpy() == -np.inf)
    np.testing.assert_array_equal(switches.numpy()[0, 0], [[0, 1], [3, 4]])


def test_max_pool2d_padding_is_never_chosen():
    x = -np.arange(1.0, 10.0).reshape(1, 1, 3, 3)          # all negative, padding is -inf
    y, switches = F.max_pool2d(x, 3, stride=1, padding=1, return_indices=True)
    y_ref, switches_ref = max_pool2d_ref(x, 3, 1, 1)
    np.testing.assert_array_equal(y.numpy(), y_ref)
    np.testing.assert_array_equal(switches.numpy(), switches_ref)


def test_max_pool2d_batch_zero_and_float32(xp):
    y, switches = F.max_pool2d(xp.zeros((0, 3, 5, 5), dtype=np.float32), 2,
                               return_indices=True)
    assert y.shape == switches.shape == (0, 3, 2, 2)
    assert y.dtype == np.float32 and switches.dtype == np.int64
    x = Tensor(xp.asarray(np.random.default_rng(0).standard_normal((2, 3, 6, 6)),
                          dtype=np.float32), requires_grad=True)
    y = F.max_pool2d(x, 3, stride=2, padding=1)
    assert y.dtype == np.float32
    y.backward(xp.ones(y.shape, dtype=np.float32))
    assert x.grad.dtype == np.float32


def test_max_pool2d_without_grad_gives_the_same_values():
    x = _random((2, 3, 7, 6), 1)
    with_switches, _ = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    with no_grad():
        values_only = F.max_pool2d(Tensor(x, requires_grad=True), 3, 2, 1)
    np.testing.assert_array_equal(values_only.numpy(), with_switches.numpy())
    assert values_only.grad_fn is None


def test_max_pool2d_does_not_modify_its_input():
    x = _random((1, 2, 4, 4), 2)
    before = x.copy()
    F.max_pool2d(x, 1)                                     # one tap: the output is x itself
    F.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(x, before)


# ---------------------------------------------------------------------------------------------
# max_pool2d backward (hand-worked; the hypothesis gradcheck is in checks/pooling.py)
# ---------------------------------------------------------------------------------------------
def test_max_pool2d_gradient_goes_to_the_switch_only():
    x = Tensor(np.array([[1.0, 5.0], [3.0, 2.0]]).reshape(1, 1, 2, 2), requires_grad=True)
    F.max_pool2d(x, 2).backward(np.full((1, 1, 1, 1), 7.0))
    np.testing.assert_array_equal(x.grad[0, 0], [[0.0, 7.0], [0.0, 0.0]])


def test_max_pool2d_gradient_sums_where_overlapping_windows_share_the_maximum():
    # the centre wins all four 2x2 windows of a 3x3 map (stride 1)
    x = Tensor(np.array([[1.0, 2.0, 3.0], [4.0, 9.0, 5.0], [6.0, 7.0, 8.0]]).reshape(1, 1, 3, 3),
               requires_grad=True)
    F.max_pool2d(x, 2, stride=1).backward(np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 2, 2))
    expected = np.zeros((3, 3))
    expected[1, 1] = 10.0
    np.testing.assert_array_equal(x.grad[0, 0], expected)


@given(pool_configs(), st.integers(0, 2**32 - 1))
def test_max_pool2d_backward_matches_the_unpooling_of_gy(config, seed):
    # max_pool2d's backward is max_unpool2d of gy through the switches onto the input plane
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal(config["x_shape"]), requires_grad=True)
    options = {k: config[k] for k in ("kernel_size", "stride", "padding", "dilation",
                                      "ceil_mode")}
    y, switches = F.max_pool2d(x, **options, return_indices=True)
    gy = rng.standard_normal(y.shape)
    y.backward(gy)
    expected = max_unpool2d_ref(gy, switches.numpy(), (config["H"], config["W"]))
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# max_unpool2d
# ---------------------------------------------------------------------------------------------
def test_max_unpool2d_puts_values_at_their_indices(xp):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 3, 4))
    indices = np.stack([rng.permutation(7 * 9)[:12] for _ in range(6)]).reshape(2, 3, 3, 4)
    out = F.max_unpool2d(xp.asarray(x), xp.asarray(indices), 3, stride=2, output_size=(7, 9))
    assert out.shape == (2, 3, 7, 9)
    np.testing.assert_array_equal(out.numpy(), max_unpool2d_ref(x, indices, (7, 9)))


def test_max_unpool2d_default_and_explicit_output_sizes():
    x = np.ones((1, 1, 3, 4))
    indices = np.zeros((1, 1, 3, 4), dtype=np.int64)
    assert F.max_unpool2d(x, indices, 2).shape == (1, 1, 6, 8)               # (H - 1)S + K
    assert F.max_unpool2d(x, indices, 3, stride=2, padding=1).shape == (1, 1, 5, 7)
    assert F.max_unpool2d(x, indices, 2, output_size=(7, 9)).shape == (1, 1, 7, 9)
    assert F.max_unpool2d(x, indices, 2, output_size=(5, 7)).shape == (1, 1, 5, 7)
    assert F.max_unpool2d(x, indices, 2, output_size=[1, 1, 7, 7]).shape == (1, 1, 7, 7)
    assert F.max_unpool2d(x, indices, (2, 3), stride=(2, 1)).shape == (1, 1, 6, 6)


def test_max_unpool2d_repeated_indices_are_summed_and_both_get_the_gradient():
    x = Tensor(np.array([1.0, 2.0, 4.0]).reshape(1, 1, 1, 3), requires_grad=True)
    indices = np.array([3, 3, 0]).reshape(1, 1, 1, 3)
    out = F.max_unpool2d(x, indices, 2, stride=(2, 1))                      # (1, 1, 2, 4)
    np.testing.assert_array_equal(out.numpy()[0, 0], [[4.0, 0.0, 0.0, 3.0], [0.0] * 4])
    out.backward(np.arange(8.0).reshape(1, 1, 2, 4))
    np.testing.assert_array_equal(x.grad[0, 0, 0], [3.0, 3.0, 0.0])


def test_max_unpool2d_backward_is_a_gather_and_keeps_float32(xp):
    x = Tensor(xp.ones((1, 2, 1, 2), dtype=np.float32), requires_grad=True)
    indices = xp.asarray(np.array([[[[0, 5]], [[2, 3]]]]))
    out = F.max_unpool2d(x, indices, 2, stride=2)                            # (1, 2, 2, 4)
    assert out.dtype == np.float32
    gy = np.arange(16, dtype=np.float32).reshape(1, 2, 2, 4)
    out.backward(xp.asarray(gy))
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(backend.to_cpu(x.grad).reshape(-1), [0.0, 5.0, 10.0, 11.0])


def test_max_unpool2d_batch_zero():
    out = F.max_unpool2d(np.zeros((0, 2, 3, 3)), np.zeros((0, 2, 3, 3), dtype=np.int64), 2)
    assert out.shape == (0, 2, 6, 6)


# ---------------------------------------------------------------------------------------------
# Properties of the switches (DeconvNet)
# ---------------------------------------------------------------------------------------------
@st.composite
def _tiling_pools(draw, positive=False):
    """A tie-free x and a pooling whose windows tile it (kernel == stride), odd sizes too."""
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    h, w = draw(st.integers(k[0], 8)), draw(st.integers(k[1], 8))
    x = draw(tie_free_arrays((draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w)))
    if positive:
        x = x - x.min() + 1.0
    return x, k


@given(_tiling_pools())
def test_unpool_of_pool_keeps_each_maximum_at_its_switch_and_zeros_elsewhere(case):
    x, kernel = case
    n, c, h, w = x.shape
    y, switches = F.max_pool2d(x, kernel, return_indices=True)
    out = F.max_unpool2d(y, switches, kernel, output_size=(h, w)).numpy()
    planes = out.reshape(n, c, h * w)
    flat = switches.numpy().reshape(n, c, -1)
    np.testing.assert_array_equal(np.take_along_axis(planes, flat, axis=2),
                                  y.numpy().reshape(n, c, -1))
    np.testing.assert_array_equal(np.take_along_axis(x.reshape(n, c, -1), flat, axis=2),
                                  y.numpy().reshape(n, c, -1))     # the switch is x's argmax
    elsewhere = np.ones(planes.shape, dtype=bool)
    np.put_along_axis(elsewhere, flat, False, axis=2)
    assert np.all(planes[elsewhere] == 0)


@given(_tiling_pools(positive=True))
def test_pool_unpool_pool_returns_the_same_values_and_switches(case):
    # Positive values (activations after a ReLU, as in DeconvNet): a negative window maximum
    # would lose to the zeros unpooling writes around it.
    x, kernel = case
    h, w = x.shape[2:]
    y, switches = F.max_pool2d(x, kernel, return_indices=True)
    out = F.max_unpool2d(y, switches, kernel, output_size=(h, w))
    y2, switches2 = F.max_pool2d(out, kernel, return_indices=True)
    np.testing.assert_array_equal(y2.numpy(), y.numpy())
    np.testing.assert_array_equal(switches2.numpy(), switches.numpy())


def test_pool_unpool_pool_with_an_odd_size_and_explicit_output_size():
    x = np.random.default_rng(5).permutation(2 * 3 * 7 * 5).reshape(2, 3, 7, 5) + 1.0
    y, switches = F.max_pool2d(x, 2, return_indices=True)              # (2, 3, 3, 2)
    out = F.max_unpool2d(y, switches, 2, output_size=x.shape)         # back to 7 x 5
    assert out.shape == x.shape
    assert np.all(out.numpy()[:, :, 6, :] == 0) and np.all(out.numpy()[:, :, :, 4] == 0)
    y2, switches2 = F.max_pool2d(out, 2, return_indices=True)
    np.testing.assert_array_equal(y2.numpy(), y.numpy())
    np.testing.assert_array_equal(switches2.numpy(), switches.numpy())


# ---------------------------------------------------------------------------------------------
# avg_pool2d
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("divisor_override", [None, 3])
def test_avg_pool2d_matches_reference_over_the_grid(count_include_pad, divisor_override, xp):
    checked = 0
    for number, (kernel, stride, padding, _, ceil_mode, size) in enumerate(_grid([1])):
        x = _random((2, 2) + size, number)
        y = F.avg_pool2d(xp.asarray(x), kernel, stride, padding, ceil_mode, count_include_pad,
                         divisor_override)
        expected = avg_pool2d_ref(x, kernel, stride, padding, ceil_mode, count_include_pad,
                                  divisor_override)
        np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12,
                                   err_msg=str((kernel, stride, padding, ceil_mode, size)))
        checked += 1
    assert checked > 100


@given(pool_configs(max_dilation=1, allow_empty_batch=True), st.integers(0, 2**32 - 1),
       st.booleans(), st.sampled_from([None, 2, -3]))
def test_avg_pool2d_matches_reference_on_random_configs(config, seed, count_include_pad,
                                                         divisor_override):
    x = _random(config["x_shape"], seed)
    options = dict(kernel_size=config["kernel_size"], stride=config["stride"],
                   padding=config["padding"], ceil_mode=config["ceil_mode"],
                   count_include_pad=count_include_pad, divisor_override=divisor_override)
    y = F.avg_pool2d(x, **options)
    assert y.shape == config["out_shape"]
    np.testing.assert_allclose(y.numpy(), avg_pool2d_ref(x, **options), rtol=1e-12, atol=1e-12)


def test_avg_pool2d_ceil_mode_divisor_counts_padding_but_not_the_overshoot():
    # H = W = 4, K = 3, S = 2, P = 1, ceil mode: windows start at -1, 1, 3; the last one spans
    # rows 3..5, clipped to the padded input (rows up to 4) -> 2 rows count with padding, 1 without
    x = np.ones((1, 1, 4, 4))
    with_pad = F.avg_pool2d(x, 3, 2, 1, ceil_mode=True).numpy()[0, 0]
    # each entry: (input cells in the window) / (window size clipped to the padded input)
    np.testing.assert_allclose(with_pad, np.array([[4 / 9, 6 / 9, 2 / 6],
                                                   [6 / 9, 9 / 9, 3 / 6],
                                                   [2 / 6, 3 / 6, 1 / 4]]))
    without_pad = F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)
    np.testing.assert_allclose(without_pad.numpy(), np.ones((1, 1, 3, 3)))


def test_avg_pool2d_gradient_by_hand_and_float32():
    x = Tensor(np.ones((1, 1, 3, 3), dtype=np.float32), requires_grad=True)
    y = F.avg_pool2d(x, 2, stride=1)                      # 4 overlapping 2x2 windows
    assert y.dtype == np.float32
    y.backward(np.ones((1, 1, 2, 2), dtype=np.float32))
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad[0, 0], np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 4)


# ---------------------------------------------------------------------------------------------
# Gradient checks, and that they catch a wrong backward
# ---------------------------------------------------------------------------------------------
def test_gradcheck_overlapping_windows_with_shared_maxima():
    x = np.random.default_rng(0).permutation(25).reshape(1, 1, 5, 5) * 0.1
    gradcheck(lambda t: F.max_pool2d(t, 3, stride=1, padding=1), [x])


def test_gradcheck_catches_a_max_pool_backward_that_overwrites_instead_of_summing(monkeypatch):
    # A 4x4 map whose maximum sits in the middle: the four 3x3 windows (stride 1) all choose it,
    # so its gradient is the sum of four gy. The bug: a plain write, as if windows never overlap.
    x = np.random.default_rng(1).permutation(16).reshape(1, 1, 4, 4) * 0.1
    x[0, 0, 1, 1] = 5.0

    def pool(t):
        return F.max_pool2d(t, 3, stride=1)

    gradcheck(pool, [x])                                   # the real backward passes

    def overwriting_backward(self, gy, gswitches=None):
        s = self.saved
        h, w = s.geometry.size
        positions = pooling._flat_positions(np, s.switches, h * w)
        return pooling._scatter_to_planes(gy, positions, (s.n, s.c, h, w), unique=True)

    monkeypatch.setattr(pooling.MaxPooling2D, "backward", overwriting_backward)
    with pytest.raises(GradcheckError, match="gradcheck failed for input 0"):
        gradcheck(pool, [x])


def test_gradcheck_catches_an_unpool_backward_that_ignores_the_planes(monkeypatch):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 2, 2, 2))
    _, switches = F.max_pool2d(rng.permutation(64).reshape(2, 2, 4, 4) * 1.0, 2,
                               return_indices=True)

    def unpool(t):
        return F.max_unpool2d(t, switches.numpy(), 2)

    gradcheck(unpool, [x])

    def plane_zero_backward(self, gy, gindices=None):      # gathers from plane (0, 0) only
        w = gy.shape[2] * gy.shape[3]
        return gy.reshape(-1)[self.saved.positions % w].reshape(self.saved.shape), None

    monkeypatch.setattr(pooling.MaxUnpooling2D, "backward", plane_zero_backward)
    with pytest.raises(GradcheckError):
        gradcheck(unpool, [x])


def test_gradcheck_catches_an_avg_backward_with_the_wrong_divisor(monkeypatch):
    x = np.random.default_rng(3).standard_normal((1, 2, 5, 5))

    def pool(t):
        return F.avg_pool2d(t, 3, stride=2, padding=1, count_include_pad=False)

    gradcheck(pool, [x])
    real_backward = pooling.AvgPooling2D.backward

    def full_window_backward(self, gy):                    # divides by K*K = 9 everywhere
        return real_backward(self, gy * self.saved.divisor / 9)

    monkeypatch.setattr(pooling.AvgPooling2D, "backward", full_window_backward)
    with pytest.raises(GradcheckError):
        gradcheck(pool, [x])


def test_registered_cases_pass():
    for name in ("max_pool2d", "max_unpool2d", "avg_pool2d"):
        report = checks.check_op(name, max_examples=10)
        assert report.passed and report.examples > 0, report


# ---------------------------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------------------------
def test_layer_reprs_golden():
    assert repr(nn.MaxPool2d(2)) == (
        "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)")
    assert repr(nn.MaxPool2d(3, 2, 1, 1, True, True)) == (
        "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True)")
    assert repr(nn.MaxPool2d((2, 3), (1, 2))) == (
        "MaxPool2d(kernel_size=(2, 3), stride=(1, 2), padding=0, dilation=1, ceil_mode=False)")
    assert repr(nn.MaxUnpool2d(2)) == (
        "MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))")
    assert repr(nn.MaxUnpool2d((2, 3), 1, 1)) == (
        "MaxUnpool2d(kernel_size=(2, 3), stride=(1, 1), padding=(1, 1))")
    assert repr(nn.AvgPool2d(2)) == "AvgPool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(nn.AvgPool2d(3, 2, 1, True, False, 4)) == (
        "AvgPool2d(kernel_size=3, stride=2, padding=1)")
    assert repr(nn.Sequential(nn.MaxPool2d(2), nn.AvgPool2d(2))) == (
        "Sequential(\n"
        "  (0): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n"
        "  (1): AvgPool2d(kernel_size=2, stride=2, padding=0)\n"
        ")")


def test_layers_call_the_functional_ops():
    x = _random((2, 3, 7, 6), 4)
    pool = nn.MaxPool2d(3, stride=2, padding=1, return_indices=True, ceil_mode=True)
    y, switches = pool(x)
    y_f, switches_f = F.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), y_f.numpy())
    np.testing.assert_array_equal(switches.numpy(), switches_f.numpy())
    out = nn.MaxUnpool2d(3, stride=2, padding=1)(y, switches, output_size=x.shape[2:])
    np.testing.assert_array_equal(
        out.numpy(), F.max_unpool2d(y, switches, 3, 2, 1, output_size=x.shape[2:]).numpy())
    avg = nn.AvgPool2d(2, 1, 1, False, False, None)(x)
    np.testing.assert_array_equal(avg.numpy(), F.avg_pool2d(x, 2, 1, 1, False, False).numpy())
    assert nn.MaxPool2d(2).num_parameters() == 0 and not nn.MaxPool2d(2).state_dict()


def test_layers_refuse_bad_hyper_parameters_when_built():
    with pytest.raises(ValueError, match=r"^MaxPool2d: padding must be at most half the kernel"):
        nn.MaxPool2d(2, padding=2)
    with pytest.raises(ValueError, match=r"^AvgPool2d: stride must be at least 1, got "
                                         r"stride=\(0, 0\)"):
        nn.AvgPool2d(2, stride=0)
    with pytest.raises(TypeError, match=r"^MaxUnpool2d: kernel_size must be an int or a pair"):
        nn.MaxUnpool2d((2, 2, 2))


# ---------------------------------------------------------------------------------------------
# Bad input: exact type and message
# ---------------------------------------------------------------------------------------------
X = np.zeros((1, 1, 4, 4))


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
def test_pool_errors(op):
    pool = getattr(F, op)
    with pytest.raises(ValueError, match=rf"^{op}: padding must be non-negative, got "
                                         r"padding=\(-1, -1\)$"):
        pool(X, 2, padding=-1)
    with pytest.raises(ValueError, match=rf"^{op}: padding must be at most half the kernel "
                                         r"\(PH <= KH // 2, PW <= KW // 2\), got "
                                         r"padding=\(0, 2\) for kernel_size=\(3, 3\)$"):
        pool(X, 3, padding=(0, 2))
    with pytest.raises(ValueError, match=rf"^{op}: x of shape \(1, 1, 0, 4\) is empty; only "
                                         "the batch axis N may be 0"):
        pool(np.zeros((1, 1, 0, 4)), 2)
    with pytest.raises(ValueError, match=rf"^{op}: x of shape \(1, 0, 4, 4\) is empty"):
        pool(np.zeros((1, 0, 4, 4)), 2)
    with pytest.raises(ValueError, match=rf"^{op}: output size \(0, 2\) is below 1 for x of "
                                         r"shape \(1, 1, 1, 4\) with kernel_size=\(2, 2\), "
                                         r"stride=\(2, 2\), padding=\(0, 0\)"):
        pool(np.zeros((1, 1, 1, 4)), 2)
    with pytest.raises(ValueError, match=rf"^{op}: x must be 4-D \(N, C, H, W\), got shape "
                                         r"\(4, 4\)$"):
        pool(np.zeros((4, 4)), 2)
    with pytest.raises(ValueError, match=rf"^{op}: stride must be at least 1, got "
                                         r"stride=\(0, 0\)$"):
        pool(X, 2, stride=0)
    with pytest.raises(ValueError, match=rf"^{op}: kernel_size must be at least 1, got "
                                         r"kernel_size=\(0, 2\)$"):
        pool(X, (0, 2))
    with pytest.raises(TypeError, match=rf"^{op}: kernel_size must be an int or a pair of "
                                        r"ints, got \(2, 2, 2\)$"):
        pool(X, (2, 2, 2))
    with pytest.raises(TypeError, match=rf"^{op}: stride must be an int or a pair of ints, got "
                                        "1.5$"):
        pool(X, 2, stride=1.5)
    with pytest.raises(TypeError, match=rf"^{op}: x must be a floating-point Tensor or array, "
                                        r"got ndarray of dtype int64 with shape \(1, 1, 4, 4\)$"):
        pool(np.zeros((1, 1, 4, 4), dtype=np.int64), 2)


def test_max_pool2d_refuses_windows_that_hold_only_padding():
    # H = 1, K = 2, P = 1, D = 2: the window covers rows -1 and 1, both outside the input
    # (PyTorch returns -inf there with a switch outside the plane)
    with pytest.raises(ValueError, match=r"^max_pool2d: the windows of output row 0 hold only "
                                         r"padding \(they read input rows \[-1, 1\], but x has "
                                         r"1\) for x of shape \(1, 1, 1, 3\)"):
        F.max_pool2d(np.zeros((1, 1, 1, 3)), 2, stride=1, padding=1, dilation=2)
    with pytest.raises(ValueError, match=r"^max_pool2d: dilation must be at least 1"):
        F.max_pool2d(X, 2, dilation=0)


def test_avg_pool2d_divisor_override_errors():
    with pytest.raises(ValueError, match=r"^avg_pool2d: divisor_override must not be zero$"):
        F.avg_pool2d(X, 2, divisor_override=0)
    with pytest.raises(TypeError, match=r"^avg_pool2d: divisor_override must be an int or "
                                        "None, got 1.5$"):
        F.avg_pool2d(X, 2, divisor_override=1.5)


def test_max_unpool2d_errors():
    y = np.ones((1, 1, 2, 2))
    switches = np.array([[[[0, 3], [9, 15]]]])
    with pytest.raises(ValueError, match=r"^max_unpool2d: indices have shape \(1, 1, 1, 2\) "
                                         r"but x has shape \(1, 1, 2, 2\); they must be equal"):
        F.max_unpool2d(y, switches[:, :, :1], 2)
    # 16 would be cell 0 of the NEXT plane in a flat scatter: it must be refused, not wrapped
    with pytest.raises(IndexError, match=r"^max_unpool2d: index 16 at position \(0, 0, 1, 1\) "
                                         r"is outside the output plane of 4 x 4 = 16 cells "
                                         r"\(valid: 0 to 15\)$"):
        F.max_unpool2d(np.ones((2, 1, 2, 2)), np.array([[[[0, 3], [9, 16]]],
                                                        [[[0, 1], [2, 3]]]]), 2)
    with pytest.raises(IndexError, match=r"^max_unpool2d: index -1 at position \(0, 0, 0, 1\)"):
        F.max_unpool2d(y, np.array([[[[0, -1], [9, 15]]]]), 2)
    with pytest.raises(ValueError, match=r"^max_unpool2d: output_size \(6, 6\) is impossible "
                                         r"for x of shape \(1, 1, 2, 2\): the height must lie "
                                         r"strictly between 2 and 6 \(the default 4 plus or "
                                         r"minus the stride 2\)$"):
        F.max_unpool2d(y, switches, 2, output_size=(6, 6))
    with pytest.raises(ValueError, match=r"^max_unpool2d: output_size \(4, 2\) is impossible .* "
                                         "the width must lie strictly between 2 and 6"):
        F.max_unpool2d(y, switches, 2, output_size=(4, 2))
    with pytest.raises(ValueError, match=r"^max_unpool2d: output_size must hold 2 values "
                                         r"\(H, W\) or 4 \(N, C, H, W\), got \(4, 4, 4\)$"):
        F.max_unpool2d(y, switches, 2, output_size=(4, 4, 4))
    with pytest.raises(ValueError, match=r"^max_unpool2d: output size \(0, 0\) is below 1"):
        F.max_unpool2d(np.ones((1, 1, 1, 1)), np.zeros((1, 1, 1, 1), dtype=np.int64), 2,
                       padding=1)
    with pytest.raises(TypeError, match=r"^max_unpool2d: indices must be integers, got dtype "
                                        "float64$"):
        F.max_unpool2d(y, switches.astype(np.float64), 2)
    with pytest.raises(ValueError, match=r"^max_unpool2d: x must be 4-D \(N, C, H, W\), got "
                                         r"shape \(2, 2\)$"):
        F.max_unpool2d(np.ones((2, 2)), np.zeros((2, 2), dtype=np.int64), 2)


# ---------------------------------------------------------------------------------------------
# The docstring examples, and PyTorch itself when it is installed
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("module", [pooling, nn.pooling], ids=["functional", "nn"])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_agrees_with_pytorch_when_installed():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(7)
    compared = 0
    for number in range(150):
        size = tuple(int(v) for v in rng.integers(1, 8, 2))
        kernel = tuple(int(v) for v in rng.integers(1, 4, 2))
        stride = tuple(int(v) for v in rng.integers(1, 4, 2))
        dilation = tuple(int(v) for v in rng.integers(1, 3, 2))
        padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
        ceil_mode = bool(rng.integers(0, 2))
        args = (kernel, stride, padding, dilation, ceil_mode, size)
        if not _reaches_input(*args):
            continue
        x = _random((2, 2) + size, number, ["normal", "ties", "nan", "-inf"][number % 4])
        y, switches = F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode, True)
        y_t, switches_t = tf.max_pool2d(torch.from_numpy(x), kernel, stride, padding, dilation,
                                        ceil_mode, True)
        np.testing.assert_array_equal(y.numpy(), y_t.numpy(), err_msg=str(args))
        np.testing.assert_array_equal(switches.numpy(), switches_t.numpy(), err_msg=str(args))
        include_pad, override = bool(rng.integers(0, 2)), [None, 3][number % 2]
        avg = F.avg_pool2d(np.nan_to_num(x, neginf=-1.0), kernel, stride, padding, ceil_mode,
                           include_pad, override)
        avg_t = tf.avg_pool2d(torch.from_numpy(np.nan_to_num(x, neginf=-1.0)), kernel, stride,
                              padding, ceil_mode, include_pad, override)
        np.testing.assert_allclose(avg.numpy(), avg_t.numpy(), rtol=1e-12, atol=1e-12)
        compared += 1
    assert compared > 80
