"""interpolate, Upsample and nn.init.bilinear_.

interpolate: forward against the loop references in reference.py over modes,
align_corners, size and scale_factor, up- and downsampling, odd sizes and batch 0; golden values
taken from PyTorch for the rules that are easy to get subtly wrong (float32 index arithmetic,
the copy and doubling shortcuts); the gradient as the transposed matrices; NaN/inf stay local;
dtypes; every bad input. The float64 gradient checks run from minicv/checks/upsample.py
(tests/test_gradcheck_ops.py); one here shows the check catching a wrong backward.

bilinear_: the FCN kernel, its layouts, and the property that justifies it -- a ConvTranspose2d
initialised with it computes bilinear interpolation away from the border.
"""
import doctest

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicv.functional as F
from minicv import backend, nn
from minicv.autograd import Tensor
from minicv.functional import upsample
from minicv.gradcheck import GradcheckError, gradcheck
from minicv.nn import init
from reference import (interpolate_bilinear_ref, interpolate_nearest_ref,
                                nearest_source_index)

_FACTORS = [0.3, 0.5, 0.7, 1.0, 1.2, 1.5, 2.0, 2.05, 2.5, 3.0, 1 / 3]


@st.composite
def _problem(draw, max_batch=2):
    """An input and interpolate arguments, with the reference's output size and factors."""
    n, c = draw(st.integers(0, max_batch)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    mode = draw(st.sampled_from(["nearest", "bilinear"]))
    align_corners = draw(st.sampled_from([None, False, True])) if mode == "bilinear" else None
    if draw(st.booleans()):
        oh, ow = draw(st.integers(1, 13)), draw(st.integers(1, 13))
        size = (oh, ow) if draw(st.booleans()) or oh == ow else oh
        kwargs, scales = {"size": size}, (None, None)
        oh, ow = (size, size) if isinstance(size, int) else size
    else:
        sh = draw(st.sampled_from([f for f in _FACTORS if int(h * f) >= 1]))
        sw = draw(st.sampled_from([f for f in _FACTORS if int(w * f) >= 1]))
        factor = sh if sh == sw and draw(st.booleans()) else (sh, sw)
        kwargs, scales = {"scale_factor": factor}, (sh, sw)
        oh, ow = int(np.floor(h * sh)), int(np.floor(w * sw))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.normal(size=(n, c, h, w))
    return x, dict(kwargs, mode=mode, align_corners=align_corners), (oh, ow), scales


def _reference(x, kwargs, out_size, scales):
    if kwargs["mode"] == "nearest":
        return interpolate_nearest_ref(x, *out_size, *scales)
    return interpolate_bilinear_ref(x, *out_size, bool(kwargs["align_corners"]), *scales)


# ---------------------------------------------------------------------------------------------
# Forward
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_matches_the_loop_reference(dtype, xp):
    @given(_problem())
    def check(problem):
        x, kwargs, out_size, scales = problem
        x = x.astype(dtype)
        y = F.interpolate(xp.asarray(x), **kwargs)
        assert y.shape == x.shape[:2] + out_size and y.dtype == dtype
        expected = _reference(x, kwargs, out_size, scales)
        if kwargs["mode"] == "nearest":                    # a copy: bit for bit
            np.testing.assert_array_equal(y.numpy(), expected)
        elif dtype == np.float64:
            np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)
        else:
            np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5, atol=1e-6)

    check()


# Source indices PyTorch 2.x gives (torch.nn.functional.interpolate on arange inputs).
_NEAREST_GOLDEN = [
    # 26 -> 22: float32 gives floor(11 * 1.1818181) = 12 where exact arithmetic gives 13
    ({"size": 22}, 26, [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 14, 15, 16, 17, 18, 20, 21, 22,
                        23, 24]),
    # scale 1 / 2.2 in float32 rounds up: o = 33 reads 15, not floor(33 / 2.2) = 14 in float64
    ({"scale_factor": 2.2}, 16, [0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 5, 6, 6, 7, 7, 8, 8, 9,
                                 9, 10, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15]),
    # an unchanged size copies, whatever the factor says (the formula would give 0, 0, 1)
    ({"scale_factor": 1.2}, 3, [0, 1, 2]),
    # an exact doubling takes o // 2 (the formula with 1 / 2.05 would start 0, 0, 0, 1)
    ({"scale_factor": 2.05}, 19, [i // 2 for i in range(38)]),
    ({"size": 3}, 5, [0, 1, 3]),
    ({"scale_factor": 0.7}, 5, [0, 1, 2]),
]


@pytest.mark.parametrize("kwargs, in_size, expected", _NEAREST_GOLDEN)
def test_nearest_picks_the_same_source_pixels_as_pytorch(kwargs, in_size, expected, xp):
    x = xp.arange(in_size, dtype=xp.float64).reshape(1, 1, 1, in_size)
    size = kwargs.get("size")
    factor = kwargs.get("scale_factor")
    y = F.interpolate(x, size=None if size is None else (1, size),
                      scale_factor=None if factor is None else (1.0, factor))
    assert y.numpy().ravel().astype(int).tolist() == expected
    scale = factor                                         # the reference agrees too
    assert [nearest_source_index(o, in_size, len(expected), scale)
            for o in range(len(expected))] == expected


# Values PyTorch 2.x gives for x = [[1, 2, 4], [8, 16, 32]].
_BILINEAR_GOLDEN = [
    ({"size": (3, 4)}, [[1.0, 1.625, 2.75, 4.0], [4.5, 7.3125, 12.375, 18.0],
                        [8.0, 13.0, 22.0, 32.0]]),
    ({"size": (3, 4), "align_corners": True}, [[1.0, 5 / 3, 8 / 3, 4.0], [4.5, 7.5, 12.0, 18.0],
                                               [8.0, 40 / 3, 64 / 3, 32.0]]),
    ({"scale_factor": (1.5, 0.7)}, [[1.2142857142857144, 3.2857142857142856],
                                    [5.4642857142857135, 14.785714285714283],
                                    [9.714285714285714, 26.285714285714285]]),
    # H: 2 * 1.2 -> 2 rows, copied; W: 3 * 2.5 -> 7 columns with scale 1 / 2.5
    ({"scale_factor": (1.2, 2.5)}, [[1.0, 1.1, 1.5, 1.9, 2.6, 3.4, 4.0],
                                    [8.0, 8.8, 12.0, 15.2, 20.8, 27.2, 32.0]]),
]


@pytest.mark.parametrize("kwargs, expected", _BILINEAR_GOLDEN)
def test_bilinear_values_match_pytorch(kwargs, expected, xp):
    x = xp.asarray([[[[1.0, 2.0, 4.0], [8.0, 16.0, 32.0]]]])
    y = F.interpolate(x, mode="bilinear", **kwargs)
    np.testing.assert_allclose(y.numpy()[0, 0], expected, rtol=1e-12)


def test_the_interpolation_matrix_of_the_docstring():
    i0, i1, lam = upsample._source_taps(2, 4, None, "bilinear", False, np.float64)
    a_h = upsample._interpolation_matrix(i0, i1, lam, 2)
    np.testing.assert_array_equal(a_h, [[1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]])
    np.testing.assert_array_equal(a_h.sum(axis=1), 1)     # every row is a convex blend


def test_identity_sizes_return_the_input(xp):
    x = xp.asarray(np.random.default_rng(0).normal(size=(2, 3, 4, 5)))
    for kwargs in ({"size": (4, 5)}, {"scale_factor": 1.0},
                   {"size": (4, 5), "mode": "bilinear"},
                   {"size": (4, 5), "mode": "bilinear", "align_corners": True}):
        np.testing.assert_array_equal(F.interpolate(x, **kwargs).numpy(), backend.to_cpu(x))


def test_a_one_pixel_output_with_align_corners_reads_the_top_left_corner():
    x = np.arange(12.0).reshape(1, 1, 3, 4)
    y = F.interpolate(x, size=1, mode="bilinear", align_corners=True)
    assert y.numpy().ravel().tolist() == [0.0]


def test_nan_and_inf_stay_local_in_bilinear(xp):
    """A product with the 0s of the matrices would spread one NaN over the whole plane; the
    gather path keeps it to the output pixels whose taps reach it, as PyTorch."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1, 2, 5, 6))
    x[0, 0, 2, 3], x[0, 1, 0, 0], x[0, 1, 4, 5] = np.nan, np.inf, -np.inf
    for align_corners in (False, True):
        y = F.interpolate(xp.asarray(x), size=(9, 7), mode="bilinear",
                          align_corners=align_corners).numpy()
        with np.errstate(invalid="ignore"):
            expected = interpolate_bilinear_ref(x, 9, 7, align_corners)
        np.testing.assert_array_equal(np.isnan(y), np.isnan(expected))
        np.testing.assert_array_equal(np.isinf(y), np.isinf(expected))
        assert 0 < np.isnan(y[0, 0]).sum() < 9 * 7 / 2      # local, but present
        finite = np.isfinite(expected)
        np.testing.assert_allclose(y[finite], expected[finite], rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Backward
# ---------------------------------------------------------------------------------------------
def test_gradient_of_the_sum_counts_how_often_each_pixel_is_read(xp):
    x = Tensor(xp.ones((1, 1, 2, 3)), requires_grad=True)
    F.interpolate(x, scale_factor=2).sum().backward()                       # nearest x2
    np.testing.assert_array_equal(backend.to_cpu(x.grad), np.full((1, 1, 2, 3), 4.0))
    x.grad = None
    # bilinear 2 -> 4 rows: A_h = [[1, 0], [.75, .25], [.25, .75], [0, 1]], column sums 2
    F.interpolate(x, size=(4, 3), mode="bilinear").sum().backward()
    np.testing.assert_array_equal(backend.to_cpu(x.grad), np.full((1, 1, 2, 3), 2.0))


def test_nearest_downsampling_sends_no_gradient_to_skipped_pixels(xp):
    x = Tensor(xp.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    y = F.interpolate(x, scale_factor=0.5)                                  # reads (0, 2) x (0, 2)
    np.testing.assert_array_equal(y.numpy()[0, 0], [[0, 2], [8, 10]])
    y.backward(xp.asarray([[[[1.0, 2.0], [3.0, 4.0]]]]))
    expected = np.zeros((4, 4))
    expected[::2, ::2] = [[1, 2], [3, 4]]
    np.testing.assert_array_equal(backend.to_cpu(x.grad)[0, 0], expected)


def test_backward_is_the_adjoint_of_forward():
    """<interpolate(x), g> = <x, interpolate^T(g)> with the transposed matrices, on a
    downsampling and an upsampling of unequal axes."""
    rng = np.random.default_rng(1)
    for size in ((7, 3), (2, 11)):
        x = Tensor(rng.normal(size=(2, 3, 5, 6)), requires_grad=True)
        y = F.interpolate(x, size=size, mode="bilinear")
        g = rng.normal(size=y.shape)
        y.backward(g)
        np.testing.assert_allclose((y.numpy() * g).sum(), (x.numpy() * x.grad).sum(),
                                   rtol=1e-12)


def test_gradcheck_catches_a_backward_that_sends_everything_to_the_nearer_pixel(monkeypatch):
    """A plausible slip: each output's gradient goes only to its heavier tap (as if the op were
    nearest). gradcheck must reject it."""
    def nearer_only_backward(self, gy):
        a_h, a_w = ((a == a.max(axis=1, keepdims=True)).astype(gy.dtype)
                    for a in (self.saved.a_h, self.saved.a_w))
        return upsample._resample(gy, a_h.T, a_w.T)

    x = np.random.default_rng(0).normal(size=(1, 2, 3, 4))
    op = lambda t: F.interpolate(t, size=(5, 7), mode="bilinear")  # noqa: E731
    assert gradcheck(op, [x])                                       # the real backward passes
    monkeypatch.setattr(upsample.Interpolate, "backward", nearer_only_backward)
    with pytest.raises(GradcheckError, match="gradcheck failed for input 0"):
        gradcheck(op, [x])


# ---------------------------------------------------------------------------------------------
# dtypes and shapes
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_float32_stays_float32_in_forward_and_backward(mode, xp):
    x = Tensor(xp.ones((2, 3, 4, 4), dtype=xp.float32), requires_grad=True)
    y = F.interpolate(x, scale_factor=1.5, mode=mode)
    assert y.dtype == np.float32
    y.backward(xp.ones(y.shape, dtype=xp.float32))
    assert x.grad.dtype == np.float32


def test_nearest_resizes_integer_label_maps(xp):
    labels = xp.asarray([[[[0, 1], [2, 255]]]], dtype=xp.int64)
    y = F.interpolate(labels, size=(4, 4))
    assert y.dtype == np.int64 and not y.requires_grad
    np.testing.assert_array_equal(y.numpy()[0, 0], [[0, 0, 1, 1], [0, 0, 1, 1],
                                                    [2, 2, 255, 255], [2, 2, 255, 255]])


def test_empty_batch(xp):
    x = Tensor(xp.zeros((0, 3, 4, 5)), requires_grad=True)
    for mode in ("nearest", "bilinear"):
        y = F.interpolate(x, size=(6, 2), mode=mode)
        assert y.shape == (0, 3, 6, 2)
        y.backward(xp.zeros(y.shape))
        assert x.grad.shape == (0, 3, 4, 5)
        x.grad = None


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------
_X = np.zeros((1, 2, 4, 4))


@pytest.mark.parametrize("x, kwargs, error, match", [
    (np.zeros((4, 4)), {"size": 2}, ValueError,
     r"interpolate: input must be 4-D \(N, C, H, W\), got shape \(4, 4\)"),
    (np.zeros((1, 2, 0, 4)), {"size": 2}, ValueError,
     r"interpolate: .* the input has shape \(1, 2, 0, 4\)"),
    (_X, {}, ValueError, r"interpolate: either size or scale_factor should be defined"),
    (_X, {"size": 2, "scale_factor": 2}, ValueError,
     r"interpolate: only one of size or scale_factor should be defined, got size=2 and "
     r"scale_factor=2"),
    (_X, {"size": 2, "mode": "bicubic"}, ValueError,
     r"interpolate: mode must be one of \('nearest', 'bilinear'\), got 'bicubic'"),
    (_X, {"size": 2, "align_corners": False}, ValueError,
     r"interpolate: align_corners option can only be set with the interpolating modes"),
    (_X, {"size": 2, "mode": "bilinear", "align_corners": "yes"}, TypeError,
     r"interpolate: align_corners must be True, False or None, got 'yes'"),
    (_X, {"size": (2, 2, 2)}, ValueError,
     r"interpolate: size must be a single value or a pair \(H, W\) .*got \(2, 2, 2\)"),
    (_X, {"scale_factor": (2.0,)}, ValueError,
     r"interpolate: scale_factor must be a single value or a pair \(H, W\) .*got \(2.0,\)"),
    (_X, {"size": 2.5}, TypeError, r"interpolate: size must be an int or a pair of them, got 2.5"),
    (_X, {"size": True}, TypeError, r"interpolate: size must be an int or a pair of them"),
    (_X, {"scale_factor": "2"}, TypeError,
     r"interpolate: scale_factor must be a number or a pair of them, got '2'"),
    (_X, {"size": (0, 3)}, ValueError,
     r"interpolate: input and output sizes should be greater than 0, but size=\(0, 3\) gives "
     r"an output of \(0, 3\) for an input of shape \(1, 2, 4, 4\)"),
    (_X, {"scale_factor": 0.2}, ValueError,
     r"but scale_factor=0.2 gives an output of \(0, 0\) for an input of shape \(1, 2, 4, 4\)"),
    (_X, {"scale_factor": -2}, ValueError,
     r"interpolate: scale_factor must be positive and finite, got -2"),
    (_X, {"scale_factor": float("inf")}, ValueError,
     r"interpolate: scale_factor must be positive and finite, got inf"),
    (np.zeros((1, 2, 4, 4), dtype=np.int64), {"size": 2, "mode": "bilinear"}, TypeError,
     r"interpolate: mode 'bilinear' needs a floating-point input, got dtype int64 with shape "
     r"\(1, 2, 4, 4\)"),
])
def test_bad_input_is_refused_with_a_clear_message(x, kwargs, error, match):
    with pytest.raises(error, match=match):
        F.interpolate(x, **kwargs)


# ---------------------------------------------------------------------------------------------
# Upsample
# ---------------------------------------------------------------------------------------------
def test_upsample_repr_is_pytorchs():
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"
    assert (repr(nn.Upsample(scale_factor=(2, 3), mode="bilinear"))
            == "Upsample(scale_factor=(2.0, 3.0), mode='bilinear')")
    assert (repr(nn.Upsample(size=(7, 9), mode="bilinear", align_corners=True))
            == "Upsample(size=(7, 9), mode='bilinear')")
    assert (repr(nn.UpsamplingBilinear2d(scale_factor=2))
            == "UpsamplingBilinear2d(scale_factor=2.0, mode='bilinear')")


def test_upsample_calls_interpolate_and_has_no_parameters(xp):
    x = xp.asarray(np.random.default_rng(0).normal(size=(2, 3, 4, 5)))
    layers = [(nn.Upsample(size=(7, 3), mode="bilinear"),
               {"size": (7, 3), "mode": "bilinear"}),
              (nn.Upsample(scale_factor=1.5), {"scale_factor": 1.5}),
              (nn.UpsamplingNearest2d(scale_factor=2), {"scale_factor": 2}),
              (nn.UpsamplingBilinear2d(size=6),
               {"size": 6, "mode": "bilinear", "align_corners": True})]
    for layer, kwargs in layers:
        assert list(layer.parameters()) == [] and layer.state_dict() == {}
        np.testing.assert_array_equal(layer(x).numpy(), F.interpolate(x, **kwargs).numpy())
    seq = nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear"))
    assert seq(Tensor(x, requires_grad=True)).requires_grad


@pytest.mark.parametrize("kwargs, error, match", [
    ({}, ValueError, r"Upsample: either size or scale_factor should be defined"),
    ({"size": 2, "mode": "area"}, ValueError, r"Upsample: mode must be one of"),
    ({"scale_factor": 2, "align_corners": True}, ValueError,
     r"Upsample: align_corners option can only be set with the interpolating modes"),
    ({"scale_factor": 0}, ValueError, r"Upsample: scale_factor must be positive and finite"),
])
def test_upsample_refuses_bad_arguments_when_built(kwargs, error, match):
    with pytest.raises(error, match=match):
        nn.Upsample(**kwargs)


def test_upsample_names_the_input_shape_when_the_size_does_not_fit():
    with pytest.raises(ValueError, match=r"scale_factor=0.1 gives an output of \(0, 0\) for an "
                                         r"input of shape \(1, 1, 4, 4\)"):
        nn.Upsample(scale_factor=0.1)(np.zeros((1, 1, 4, 4)))


# ---------------------------------------------------------------------------------------------
# nn.init.bilinear_
# ---------------------------------------------------------------------------------------------
def test_bilinear_kernels_are_fcns():
    # FCN's get_upsampling_weight: 1 - |i - center| / factor per axis, outer product
    assert init._bilinear_kernel_1d(4).tolist() == [0.25, 0.75, 0.75, 0.25]
    assert init._bilinear_kernel_1d(3).tolist() == [0.5, 1.0, 0.5]
    np.testing.assert_allclose(init._bilinear_kernel_1d(5), [1 / 3, 2 / 3, 1, 2 / 3, 1 / 3])
    assert init._bilinear_kernel_1d(1).tolist() == [1.0]
    w = init.bilinear_(np.zeros((3, 3, 4, 3)))                 # rectangular kernels too
    np.testing.assert_allclose(w[1, 1], np.outer([0.25, 0.75, 0.75, 0.25], [0.5, 1, 0.5]))


def test_bilinear_fills_the_diagonal_or_every_depthwise_channel(xp):
    weight = nn.Parameter(xp.full((3, 3, 4, 4), 7.0, dtype=xp.float32))
    assert init.bilinear_(weight) is weight
    w = weight.numpy()
    assert w.dtype == np.float32
    kernel = np.outer([0.25, 0.75, 0.75, 0.25], [0.25, 0.75, 0.75, 0.25])
    for i in range(3):
        for j in range(3):
            np.testing.assert_array_equal(w[i, j], kernel if i == j else 0)
    depthwise = init.bilinear_(np.zeros((3, 1, 4, 4)))
    for i in range(3):
        np.testing.assert_array_equal(depthwise[i, 0], kernel)
    single = init.bilinear_(np.zeros((1, 1, 4, 4)), groups=1)
    np.testing.assert_array_equal(single[0, 0], kernel)


def test_doctests_of_the_upsample_code():
    results = [doctest.testmod(module) for module in (upsample, nn.upsample)]
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    for test in finder.find(init.bilinear_, "bilinear_", globs={"bilinear_": init.bilinear_}):
        runner.run(test)
    results.append(runner.summarize(verbose=False))
    assert all(r.failed == 0 and r.attempted > 0 for r in results), results


@pytest.mark.parametrize("shape, groups, match", [
    ((3, 3, 4), None, r"bilinear_: needs a 4-D ConvTranspose2d weight .* got shape \(3, 3, 4\)"),
    ((3, 2, 4, 4), None, r"bilinear_: a weight of shape \(3, 2, 4, 4\) with groups=1 is not a "
                         r"channel-wise upsampling"),
    ((2, 1, 4, 4), 1, r"a weight of shape \(2, 1, 4, 4\) with groups=1 .* needs \(2, 2, KH, KW\) "
                      r"with groups=1 or \(2, 1, KH, KW\) with groups=2"),
    ((4, 2, 4, 4), 2, r"a weight of shape \(4, 2, 4, 4\) with groups=2"),
])
def test_bilinear_refuses_weights_that_mix_channels(shape, groups, match):
    with pytest.raises(ValueError, match=match):
        init.bilinear_(np.zeros(shape), groups=groups)


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_bilinear_conv_transpose_is_bilinear_interpolation_away_from_the_border(factor, xp):
    """FCN's reason for the initialisation: ConvTranspose2d(kernel 2f - f % 2, stride f,
    padding f // 2) with bilinear_ weights equals interpolate(scale_factor=f, "bilinear",
    align_corners=False) except on the f // 2 outermost rows and columns, where it reads zeros."""
    kernel, margin = 2 * factor - factor % 2, factor // 2
    rng = np.random.default_rng(factor)
    x = xp.asarray(rng.normal(size=(2, 3, 5, 6)))
    for weight, groups in ((init.bilinear_(xp.zeros((3, 3, kernel, kernel))), 1),
                           (init.bilinear_(xp.zeros((3, 1, kernel, kernel))), 3)):
        up = F.conv_transpose2d(x, weight, stride=factor, padding=margin,
                                groups=groups).numpy()
        expected = F.interpolate(x, scale_factor=factor, mode="bilinear").numpy()
        assert up.shape == expected.shape == (2, 3, 5 * factor, 6 * factor)
        inner = (..., slice(margin, up.shape[2] - margin), slice(margin, up.shape[3] - margin))
        np.testing.assert_allclose(up[inner], expected[inner], rtol=1e-12, atol=1e-12)
        if margin:                                 # the border really differs (zero padding)
            assert not np.allclose(up[..., 0, :], expected[..., 0, :])
