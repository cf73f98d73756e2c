"""minicv.ops.BoxCoder: R-CNN box deltas against the scalar formulas, round trips, the exp
clamp, the differentiable decode and every error message."""
import doctest
import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minicv import backend, gradcheck
from minicv.autograd import Tensor
from minicv.ops import BoxCoder
from minicv.ops import coder as coder_module
from reference import decode_scalar, encode_scalar

WEIGHTS = [(10.0, 10.0, 5.0, 5.0), (1.0, 1.0, 1.0, 1.0)]


def random_boxes(n, seed, dtype=np.float64):
    """(n, 4) boxes with sizes in [2, 50] (never degenerate)."""
    rng = np.random.default_rng(seed)
    x1y1 = rng.uniform(-20, 100, (n, 2))
    wh = rng.uniform(2, 50, (n, 2))
    return np.concatenate([x1y1, x1y1 + wh], axis=1).astype(dtype)


@pytest.mark.parametrize("weights", WEIGHTS)
def test_encode_and_decode_match_the_scalar_formulas(xp, weights):
    gt, proposals = random_boxes(30, 1), random_boxes(30, 2)
    coder = BoxCoder(weights)
    deltas = coder.encode(xp.asarray(gt), xp.asarray(proposals))
    expected = [encode_scalar(g, p, weights) for g, p in zip(gt, proposals)]
    np.testing.assert_allclose(backend.to_cpu(deltas), expected, rtol=1e-12, atol=1e-12)
    some = np.random.default_rng(3).normal(0, 2, (30, 4))
    decoded = coder.decode(xp.asarray(some), xp.asarray(proposals))
    expected = [decode_scalar(d, p, weights) for d, p in zip(some, proposals)]
    np.testing.assert_allclose(backend.to_cpu(decoded), expected, rtol=1e-12, atol=1e-10)


@given(st.sampled_from(WEIGHTS), st.integers(0, 2**32 - 1), st.sampled_from([1, 5, 40]))
def test_decode_inverts_encode(weights, seed, n):
    gt, proposals = random_boxes(n, seed), random_boxes(n, seed + 1)
    coder = BoxCoder(weights)
    np.testing.assert_allclose(coder.decode(coder.encode(gt, proposals), proposals), gt,
                               rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("weights", WEIGHTS)
def test_round_trip_in_float32(weights):
    gt, proposals = random_boxes(50, 4, np.float32), random_boxes(50, 5, np.float32)
    coder = BoxCoder(weights)
    deltas = coder.encode(gt, proposals)
    assert deltas.dtype == np.float32
    back = coder.decode(deltas, proposals)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, gt, rtol=1e-5, atol=1e-3)


def test_golden_values_and_argument_order():
    coder = BoxCoder((10.0, 10.0, 5.0, 5.0))
    proposal = np.array([[0.0, 0.0, 10.0, 10.0]])
    gt = np.array([[2.0, 0.0, 12.0, 20.0]])    # centre 2 to the right, 5 lower; twice as high
    deltas = coder.encode(gt, proposal)        # torchvision's order: gt first
    np.testing.assert_allclose(deltas, [[10 * 2 / 10, 10 * 5 / 10, 0.0, 5 * math.log(2)]],
                               rtol=1e-15)
    np.testing.assert_allclose(coder.decode(deltas, proposal), gt, rtol=1e-15)


def test_class_specific_deltas_decode_class_by_class():
    coder = BoxCoder((10.0, 10.0, 5.0, 5.0))
    boxes = random_boxes(6, 6)
    deltas = np.random.default_rng(7).normal(0, 1, (6, 4 * 3))        # C = 3 classes
    out = coder.decode(deltas, boxes)
    assert out.shape == (6, 12)
    for c in range(3):
        np.testing.assert_array_equal(out[:, 4 * c:4 * c + 4],
                                      coder.decode(deltas[:, 4 * c:4 * c + 4], boxes))


def test_huge_dw_is_clamped_before_exp():
    coder = BoxCoder()
    box = np.array([[0.0, 0.0, 16.0, 16.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # an exp overflow would warn
        out = coder.decode(np.array([[0.0, 0.0, 1e4, 1e4]]), box)
    # clamp at log(1000 / 16): a 16-pixel box grows to at most 1000 pixels, around its centre
    np.testing.assert_allclose(out, [[8 - 500, 8 - 500, 8 + 500, 8 + 500]], rtol=1e-12)
    tiny = coder.decode(np.array([[0.0, 0.0, -1e4, -1e4]]), box)    # no lower clamp
    np.testing.assert_allclose(tiny, [[8.0, 8.0, 8.0, 8.0]], atol=1e-12)
    # float32: exp(1e4) would be inf; clamped it is finite
    out32 = coder.decode(np.array([[0.0, 0.0, 1e4, 50.0]], np.float32), box)
    assert out32.dtype == np.float32 and np.all(np.isfinite(out32))
    # the clamp acts on dw / ww: 50 / 5 = 10 is cut to log 4 (w = 64), while
    # 5 log 2 / 5 = log 2 is below it (h = 32)
    weighted = BoxCoder((1.0, 1.0, 5.0, 5.0), bbox_xform_clip=math.log(4.0))
    np.testing.assert_allclose(weighted.decode(np.array([[0.0, 0.0, 50.0, 5 * math.log(2)]]),
                                               box), [[-24.0, -8.0, 40.0, 24.0]], rtol=1e-12)


def test_dtypes_follow_the_deltas():
    coder = BoxCoder()
    out = coder.decode(np.zeros((2, 4), np.float32), random_boxes(2, 8))     # float64 boxes
    assert out.dtype == np.float32
    mixed = coder.encode(random_boxes(2, 9, np.float32), random_boxes(2, 10))
    assert mixed.dtype == np.float64
    ints = coder.encode(np.array([[0, 0, 4, 4]]), np.array([[0, 0, 2, 2]]))
    assert ints.dtype == np.float32


def test_empty_inputs():
    coder = BoxCoder()
    assert coder.encode(np.zeros((0, 4)), np.zeros((0, 4))).shape == (0, 4)
    assert coder.decode(np.zeros((0, 8)), np.zeros((0, 4))).shape == (0, 8)


def test_decode_on_tensors_equals_the_array_path_and_is_differentiable():
    coder = BoxCoder((10.0, 10.0, 5.0, 5.0))
    boxes = random_boxes(4, 11)
    deltas = np.random.default_rng(12).normal(0, 1, (4, 8))     # far below the clamp
    out = coder.decode(Tensor(deltas), boxes)
    assert isinstance(out, Tensor) and out.shape == (4, 8)
    np.testing.assert_allclose(out.data, coder.decode(deltas, boxes), rtol=1e-15)
    gradcheck(lambda d: coder.decode(d, boxes), [deltas])
    gradcheck(lambda d, b: coder.decode(d, b), [deltas, boxes])   # into the boxes too


def test_decode_gradient_is_zero_where_clamped():
    coder = BoxCoder()
    d = Tensor(np.array([[0.0, 0.0, 100.0, 0.5]]), requires_grad=True)
    coder.decode(d, np.array([[0.0, 0.0, 16.0, 16.0]])).sum().backward()
    # sum of x1 + x2 = 2 ctr_x depends on dx only: dx gets 2 * pw = 32; dw clamped: 0;
    # sum of y1 + y2 = 2 ctr_y: no dependence on dh either
    np.testing.assert_allclose(d.grad, [[32.0, 32.0, 0.0, 0.0]], atol=1e-12)
    d2 = Tensor(np.array([[0.0, 0.0, 100.0, 0.5]]), requires_grad=True)
    out = coder.decode(d2, np.array([[0.0, 0.0, 16.0, 16.0]]))
    (out[:, 2] - out[:, 0] + out[:, 3] - out[:, 1]).sum().backward()   # width + height
    np.testing.assert_allclose(d2.grad, [[0.0, 0.0, 0.0, 16.0 * math.exp(0.5)]], rtol=1e-12)


def test_decode_gradcheck_can_fail():
    """The check above can fail: a decode that loses its graph to the deltas is caught."""
    coder = BoxCoder()
    boxes = random_boxes(2, 13)
    deltas = np.random.default_rng(14).normal(0, 1, (2, 4))

    def wrong(d):
        return coder.decode(Tensor(d.data), boxes) + 0 * d    # the graph to d is lost

    with pytest.raises(AssertionError):
        gradcheck(wrong, [deltas])


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("weights", [(1.0, 1.0, 1.0), (1.0, 0.0, 1.0, 1.0), (1.0, -2.0, 1, 1),
                                     (1.0, 1.0, float("inf"), 1.0), "abcd", None])
def test_bad_weights(weights):
    with pytest.raises(ValueError, match=r"^BoxCoder: weights must be four positive numbers "
                                         r"\(wx, wy, ww, wh\), got "):
        BoxCoder(weights)


def test_bad_clip():
    with pytest.raises(ValueError, match=r"^BoxCoder: bbox_xform_clip must be a number, got "
                                         r"'big'"):
        BoxCoder(bbox_xform_clip="big")


def test_decode_bad_deltas():
    coder, boxes = BoxCoder(), random_boxes(3, 15)
    for shape in [(3, 5), (3, 0), (12,), (3, 4, 1)]:
        with pytest.raises(ValueError, match=r"^BoxCoder\.decode: deltas must have shape "
                                             r"\(N, 4\) or \(N, 4 \* C\), got "
                                             + str(shape).replace("(", r"\(").replace(")", r"\)")):
            coder.decode(np.zeros(shape), boxes)
    with pytest.raises(ValueError, match=r"^BoxCoder\.decode: deltas \(2, 4\) and boxes "
                                         r"\(3, 4\) must hold the same number of boxes"):
        coder.decode(np.zeros((2, 4)), boxes)
    with pytest.raises(TypeError, match=r"^BoxCoder\.decode: deltas must be floating point, "
                                        r"got dtype int64 with shape \(3, 4\)"):
        coder.decode(np.zeros((3, 4), np.int64), boxes)


def test_decode_bad_boxes():
    coder = BoxCoder()
    with pytest.raises(ValueError, match=r"^BoxCoder\.decode: boxes must have shape \(N, 4\) "
                                         r".*got \(3, 5\)"):
        coder.decode(np.zeros((3, 4)), np.zeros((3, 5)))
    bad = random_boxes(3, 16)
    bad[1, 3] = np.nan
    with pytest.raises(ValueError, match=r"^BoxCoder\.decode: boxes must be finite, but box 1 "):
        coder.decode(np.zeros((3, 4)), bad)
    grad_boxes = Tensor(random_boxes(3, 17), requires_grad=True)
    with pytest.raises(TypeError, match=r"^BoxCoder\.decode: boxes require grad but have dtype "
                                        r"float64 while deltas have float32"):
        coder.decode(np.zeros((3, 4), np.float32), grad_boxes)


def test_encode_errors():
    coder = BoxCoder()
    good = random_boxes(3, 18)
    with pytest.raises(ValueError, match=r"^BoxCoder\.encode: gt_boxes \(2, 4\) and proposals "
                                         r"\(3, 4\) must hold the same number of boxes"):
        coder.encode(good[:2], good)
    with pytest.raises(ValueError, match=r"^BoxCoder\.encode: proposals must have shape "
                                         r"\(N, 4\) .*got \(3,\)"):
        coder.encode(good, np.zeros(3))
    flat = good.copy()
    flat[2] = [1.0, 1.0, 5.0, 1.0]                             # zero height
    with pytest.raises(ValueError, match=r"^BoxCoder\.encode: every box of proposals needs a "
                                         r"positive width and height .* but box 2 is "
                                         r"\[1\.0, 1\.0, 5\.0, 1\.0\]"):
        coder.encode(good, flat)
    inverted = good.copy()
    inverted[0] = [5.0, 1.0, 1.0, 4.0]
    with pytest.raises(ValueError, match=r"^BoxCoder\.encode: every box of gt_boxes needs a "
                                         r"positive width and height .* but box 0 is "):
        coder.encode(inverted, good)
    infinite = good.copy()
    infinite[0, 0] = np.inf
    with pytest.raises(ValueError, match=r"^BoxCoder\.encode: gt_boxes must be finite, but "
                                         r"box 0 of gt_boxes \(3, 4\) is \[inf, "):
        coder.encode(infinite, good)


def test_doctests_of_the_coder_code():
    result = doctest.testmod(coder_module)
    assert result.attempted > 0 and result.failed == 0
