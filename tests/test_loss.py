"""cross_entropy, nll_loss, binary_cross_entropy_with_logits, mse_loss, smooth_l1_loss: forward
against slow NumPy loops written from PyTorch's formulas (class weights, ignore_index, label
smoothing, every reduction), hand-worked gradients, extreme logits, dtypes and error messages.
The float64 gradient checks run from minicv/checks/loss.py (tests/test_gradcheck_ops.py)."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicv.functional as F
from minicv import backend
from minicv.autograd import Tensor
from minicv.functional import loss as loss_module
from minicv.gradcheck import GradcheckError, gradcheck

REDUCTIONS = ["mean", "sum", "none"]


# ---------------------------------------------------------------------------------------------
# Slow references: one sample (or pixel) at a time
# ---------------------------------------------------------------------------------------------
def _positions(target_shape):
    """Every (n, d1, ...) position of a target, in row-major order."""
    return list(np.ndindex(*target_shape))


def _reduce_reference(losses, total_weight, reduction):
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / total_weight if total_weight != 0 else math.nan


def cross_entropy_reference(x, target, weight=None, ignore_index=-100, reduction="mean",
                            label_smoothing=0.0):
    """PyTorch's cross_entropy: log_softmax over axis 1, weighted NLL, label smoothing
    (1 - s) * nll + s / C * sum_c w_c * (-log p_c), 'mean' divided by sum of w[t] counted."""
    n_classes = x.shape[1]
    w = np.ones(n_classes) if weight is None else weight
    losses = np.zeros(target.shape)
    total_weight = 0.0
    for pos in _positions(target.shape):
        cls = int(target[pos])
        if cls == ignore_index:
            continue
        scores = [float(x[(pos[0], c) + pos[1:]]) for c in range(n_classes)]
        top = max(scores)
        log_sum = top + math.log(sum(math.exp(s - top) for s in scores))
        log_p = [s - log_sum for s in scores]
        nll = -w[cls] * log_p[cls]
        smooth = sum(-w[c] * log_p[c] for c in range(n_classes))
        losses[pos] = (1 - label_smoothing) * nll + label_smoothing / n_classes * smooth
        total_weight += w[cls]
    return _reduce_reference(losses, total_weight, reduction)


def nll_loss_reference(x, target, weight=None, ignore_index=-100, reduction="mean"):
    w = np.ones(x.shape[1]) if weight is None else weight
    losses = np.zeros(target.shape)
    total_weight = 0.0
    for pos in _positions(target.shape):
        cls = int(target[pos])
        if cls != ignore_index:
            losses[pos] = -w[cls] * x[(pos[0], cls) + pos[1:]]
            total_weight += w[cls]
    return _reduce_reference(losses, total_weight, reduction)


def bce_with_logits_reference(x, t, weight=None, pos_weight=None, reduction="mean"):
    """The textbook form -w [pw t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))] (moderate x)."""
    s = 1 / (1 + np.exp(-x))
    pw = 1.0 if pos_weight is None else pos_weight
    losses = -(pw * t * np.log(s) + (1 - t) * np.log(1 - s))
    if weight is not None:
        losses = losses * weight
    return _reduce_reference(losses, losses.size, reduction)


def smooth_l1_reference(x, t, beta):
    out = np.empty(x.shape)
    for i in np.ndindex(*x.shape):
        d = x[i] - t[i]
        out[i] = 0.5 * d * d / beta if abs(d) < beta else abs(d) - 0.5 * beta
    return out


def _value(y):
    return y.numpy() if y.ndim else y.item()


# ---------------------------------------------------------------------------------------------
# cross_entropy and nll_loss
# ---------------------------------------------------------------------------------------------
@st.composite
def _class_problem(draw):
    n, n_classes = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    spatial = draw(st.sampled_from([(), (3,), (2, 3), (1, 2, 2)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.normal(0.0, 3.0, size=(n, n_classes) + spatial)
    ignore_index = draw(st.sampled_from([-100, 255, 0]))
    target = rng.integers(0, n_classes, size=(n,) + spatial)
    target[rng.random(target.shape) < draw(st.sampled_from([0.0, 0.3, 1.0]))] = ignore_index
    weight = rng.uniform(0.2, 3.0, n_classes) if draw(st.booleans()) else None
    return x, target, weight, ignore_index


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_matches_the_loop_reference(reduction, xp):
    @given(_class_problem(), st.sampled_from([0.0, 0.1, 1.0]))
    def check(problem, smoothing):
        x, target, weight, ignore_index = problem
        expected = cross_entropy_reference(x, target, weight, ignore_index, reduction, smoothing)
        y = F.cross_entropy(xp.asarray(x), xp.asarray(target),
                            None if weight is None else xp.asarray(weight),
                            ignore_index=ignore_index, reduction=reduction,
                            label_smoothing=smoothing)
        assert y.shape == np.shape(expected) and y.dtype == np.float64
        np.testing.assert_allclose(_value(y), expected, rtol=1e-10, atol=1e-12)

    check()


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_the_loop_reference_and_composes_to_cross_entropy(reduction, xp):
    @given(_class_problem())
    def check(problem):
        x, target, weight, ignore_index = problem
        w = None if weight is None else xp.asarray(weight)
        log_p = F.log_softmax(xp.asarray(x), axis=1)
        y = F.nll_loss(log_p, xp.asarray(target), w, ignore_index, reduction)
        expected = nll_loss_reference(log_p.numpy(), target, weight, ignore_index, reduction)
        np.testing.assert_allclose(_value(y), expected, rtol=1e-12, atol=1e-12)
        ce = F.cross_entropy(xp.asarray(x), xp.asarray(target), w, ignore_index, reduction)
        np.testing.assert_allclose(_value(y), _value(ce), rtol=1e-10, atol=1e-12)

    check()


def test_cross_entropy_golden_values(xp):
    logits = xp.asarray(np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 0.0]]))
    target = xp.asarray(np.array([0, 1, -100]))
    y = F.cross_entropy(logits, target, reduction="none").numpy()
    np.testing.assert_allclose(y, [math.log(2), 2 + math.log(1 + math.exp(-2)), 0.0])
    assert F.cross_entropy(logits, target).item() == pytest.approx((y[0] + y[1]) / 2)
    weight = xp.asarray(np.array([3.0, 1.0]))
    assert F.cross_entropy(logits, target, weight).item() == pytest.approx(
        (3 * y[0] + y[1]) / 4)                        # divided by the summed weights, 3 + 1
    # label smoothing 0.2 on a uniform prediction changes nothing: every class costs log 2
    assert F.cross_entropy(logits[:1], target[:1], label_smoothing=0.2).item() == \
        pytest.approx(math.log(2))


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_the_weight_sum(xp):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 4, 2, 3))
    target = rng.integers(0, 4, size=(5, 2, 3))
    target[0, 0, :] = 255
    weight = np.array([0.5, 1.0, 2.0, 3.0])
    t = Tensor(xp.asarray(x), requires_grad=True)
    F.cross_entropy(t, xp.asarray(target), xp.asarray(weight), ignore_index=255).backward()
    p = np.exp(x - x.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    valid = target != 255
    onehot = np.zeros_like(x)
    for pos in zip(*np.nonzero(valid)):
        onehot[(pos[0], target[pos]) + pos[1:]] = 1.0
    w_t = np.where(valid, weight[np.where(valid, target, 0)], 0.0)
    expected = (p - onehot) * w_t[:, None] / w_t.sum()
    np.testing.assert_allclose(backend.to_cpu(t.grad), expected, rtol=1e-12, atol=1e-15)
    assert np.all(backend.to_cpu(t.grad)[0, :, 0, :] == 0)     # ignored pixels: no gradient


def test_cross_entropy_with_every_target_ignored(xp):
    x = Tensor(xp.asarray(np.random.default_rng(1).normal(size=(2, 3, 2))), requires_grad=True)
    target = xp.full((2, 2), -100)
    with np.errstate(all="raise"):                   # NaN on purpose, without a warning
        mean = F.cross_entropy(x, target)
    assert math.isnan(mean.item())                   # 0 / 0, as PyTorch
    assert F.cross_entropy(x, target, reduction="sum").item() == 0.0
    np.testing.assert_array_equal(F.cross_entropy(x, target, reduction="none").numpy(),
                                  np.zeros((2, 2)))
    mean.backward()
    np.testing.assert_array_equal(backend.to_cpu(x.grad), np.zeros((2, 3, 2)))   # not NaN


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_on_a_strided_input_and_a_second_backward(smoothing, xp):
    # the op gathers and writes target-class entries through flat positions of C-ordered
    # arrays, and keeps e^z for backward: a Fortran-ordered input must give the same loss and
    # gradient as its C-ordered copy, and backward must not consume what it saved
    rng = np.random.default_rng(7)
    x = rng.normal(0.0, 3.0, size=(2, 4, 3, 5))
    target = rng.integers(0, 4, size=(2, 3, 5))
    target[0, 1] = 255
    weight = xp.asarray(np.array([0.5, 1.0, 2.0, 3.0]))
    grads = []
    for logits in (xp.asfortranarray(xp.asarray(x)), xp.ascontiguousarray(xp.asarray(x))):
        t = Tensor(logits, requires_grad=True)
        y = F.cross_entropy(t, xp.asarray(target), weight, ignore_index=255,
                            label_smoothing=smoothing)
        y.backward(retain_graph=True)
        first = backend.to_cpu(t.grad).copy()
        t.grad = None
        y.backward()
        np.testing.assert_array_equal(backend.to_cpu(t.grad), first)
        grads.append((y.item(), first))
    assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-12)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-12, atol=1e-15)
    expected = cross_entropy_reference(x, target, backend.to_cpu(weight), 255, "mean",
                                       smoothing)
    assert grads[0][0] == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_extreme_logits_stay_finite(smoothing, xp):
    x = Tensor(xp.asarray(np.array([[1e4, 0.0, -1e4], [1e4, 0.0, -1e4]])), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = F.cross_entropy(x, xp.asarray(np.array([0, 2])), reduction="sum",
                            label_smoothing=smoothing)
        y.backward()
    grad = backend.to_cpu(x.grad)
    assert np.isfinite(y.item()) and np.all(np.isfinite(grad))
    if smoothing == 0:
        assert y.item() == 2e4                       # the second sample: -log p = 1e4 - (-1e4)
        np.testing.assert_array_equal(grad, [[0.0, 0.0, 0.0], [1.0, 0.0, -1.0]])


def test_cross_entropy_accepts_uint8_targets_with_ignore_255(xp):
    x = np.random.default_rng(2).normal(size=(2, 3, 2, 2))
    target = np.array([[[0, 255], [2, 1]], [[255, 255], [1, 0]]], dtype=np.uint8)
    y = F.cross_entropy(xp.asarray(x), xp.asarray(target), ignore_index=255)
    expected = cross_entropy_reference(x, target.astype(np.int64), ignore_index=255)
    assert y.item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("op", [F.cross_entropy, F.nll_loss])
def test_class_losses_keep_float32(op, xp):
    x = Tensor(xp.asarray(np.random.default_rng(3).normal(size=(4, 3)).astype(np.float32)),
               requires_grad=True)
    y = op(x, xp.asarray(np.array([0, 2, 1, -100])), xp.ones(3, dtype=np.float64))
    y.backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_class_loss_errors(name, xp):
    op = getattr(F, name)
    x = xp.zeros((2, 5, 3))
    good = xp.zeros((2, 3), dtype=np.int64)
    with pytest.raises(TypeError, match=rf"{name}: target must hold integer class indices, got "
                                        r"dtype float64 with shape \(2, 3\)"):
        op(x, xp.zeros((2, 3)))
    with pytest.raises(ValueError, match=rf"{name}: target has shape \(2, 5\) but input "
                                         r"\(2, 5, 3\) needs \(2, 3\)"):
        op(x, xp.zeros((2, 5), dtype=np.int64))
    bad = xp.asarray(np.array([[0, 1, 5], [0, -100, 0]]))
    with pytest.raises(IndexError, match=rf"{name}: target holds class index 5, outside "
                                         r"\[0, 5\) and not ignore_index \(-100\)"):
        op(x, bad)
    with pytest.raises(IndexError, match=r"class index -1, outside \[0, 5\)"):
        op(x, xp.asarray(np.array([[0, 1, 2], [0, -1, 0]])))
    with pytest.raises(IndexError, match=r"class index -100, outside \[0, 5\) and not "
                                         r"ignore_index \(255\)"):
        op(x, xp.asarray(np.array([[0, 1, 2], [0, -100, 0]])), ignore_index=255)
    with pytest.raises(ValueError, match=rf"{name}: weight must have shape \(C,\) = \(5,\) for "
                                         r"input \(2, 5, 3\), got \(4,\)"):
        op(x, good, weight=xp.ones(4))
    with pytest.raises(ValueError, match=rf"{name}: reduction must be 'mean', 'sum' or 'none', "
                                         r"got 'avg'"):
        op(x, good, reduction="avg")
    with pytest.raises(ValueError, match=rf"{name}: input must have shape \(N, C\) or "
                                         r"\(N, C, d1, ...\), got \(5,\)"):
        op(xp.zeros(5), xp.zeros((), dtype=np.int64))
    with pytest.raises(TypeError, match=rf"{name}: input must be floating-point, got dtype int64"):
        op(xp.zeros((2, 5), dtype=np.int64), xp.zeros(2, dtype=np.int64))


@pytest.mark.parametrize("smoothing", [-0.1, 1.5])
def test_cross_entropy_label_smoothing_must_be_a_probability(smoothing, xp):
    with pytest.raises(ValueError, match=rf"cross_entropy: label_smoothing must be in \[0, 1\], "
                                         rf"got {smoothing}"):
        F.cross_entropy(xp.zeros((2, 3)), xp.zeros(2, dtype=np.int64),
                        label_smoothing=smoothing)


# ---------------------------------------------------------------------------------------------
# binary_cross_entropy_with_logits
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_matches_the_textbook_formula(reduction, xp):
    @given(st.integers(0, 2**32 - 1), st.booleans(), st.booleans())
    def check(seed, use_weight, use_pos_weight):
        rng = np.random.default_rng(seed)
        x = rng.normal(0.0, 4.0, size=(3, 4))
        t = rng.uniform(0.0, 1.0, size=(3, 4))
        weight = rng.uniform(0.5, 2.0, size=(3, 4)) if use_weight else None
        pos_weight = rng.uniform(0.5, 3.0, size=(4,)) if use_pos_weight else None
        expected = bce_with_logits_reference(x, t, weight, pos_weight, reduction)
        y = F.binary_cross_entropy_with_logits(
            xp.asarray(x), xp.asarray(t), None if weight is None else xp.asarray(weight),
            reduction, None if pos_weight is None else xp.asarray(pos_weight))
        np.testing.assert_allclose(_value(y), expected, rtol=1e-10, atol=1e-12)

    check()


def test_bce_with_logits_gradients(xp):
    rng = np.random.default_rng(4)
    x, t = rng.normal(size=(6,)), rng.uniform(size=(6,))
    pos_weight = np.array(2.5)
    tx, tt = Tensor(xp.asarray(x), requires_grad=True), Tensor(xp.asarray(t), requires_grad=True)
    F.binary_cross_entropy_with_logits(tx, tt, reduction="sum").backward()
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(backend.to_cpu(tx.grad), s - t, rtol=1e-12)
    np.testing.assert_allclose(backend.to_cpu(tt.grad), -x, rtol=1e-12)
    tx.grad = tt.grad = None
    F.binary_cross_entropy_with_logits(tx, tt, reduction="mean",
                                       pos_weight=xp.asarray(pos_weight)).backward()
    np.testing.assert_allclose(backend.to_cpu(tx.grad),
                               ((1 - t) - (1 + 1.5 * t) * (1 - s)) / 6, rtol=1e-12)
    np.testing.assert_allclose(backend.to_cpu(tt.grad),
                               (-x + 1.5 * np.log1p(np.exp(-x))) / 6, rtol=1e-12)


def test_bce_with_logits_extreme_logits_stay_finite(xp):
    x = Tensor(xp.asarray(np.array([1e4, -1e4, 1e4, -1e4])), requires_grad=True)
    t = xp.asarray(np.array([1.0, 0.0, 0.0, 1.0]))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = F.binary_cross_entropy_with_logits(x, t, reduction="none",
                                               pos_weight=xp.asarray(np.array([2.0])))
        y.backward(xp.ones(4))
    np.testing.assert_array_equal(y.numpy(), [0.0, 0.0, 1e4, 2e4])
    np.testing.assert_array_equal(backend.to_cpu(x.grad), [0.0, 0.0, 1.0, -2.0])


def test_bce_with_logits_keeps_float32(xp):
    x = Tensor(xp.asarray(np.array([0.5, -2.0], dtype=np.float32)), requires_grad=True)
    y = F.binary_cross_entropy_with_logits(x, xp.asarray(np.array([1.0, 0.0], np.float32)))
    y.backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


def test_bce_with_logits_errors(xp):
    op = F.binary_cross_entropy_with_logits
    name = "binary_cross_entropy_with_logits"
    with pytest.raises(ValueError, match=rf"{name}: input has shape \(2, 3\) but target has "
                                         r"shape \(3,\); they must be equal"):
        op(xp.zeros((2, 3)), xp.zeros(3))
    with pytest.raises(TypeError, match=rf"{name}: target must be floating-point "
                                        r"\(probabilities\), got dtype int64"):
        op(xp.zeros(3), xp.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match=rf"{name}: weight of shape \(2,\) does not broadcast "
                                         r"to input of shape \(2, 3\)"):
        op(xp.zeros((2, 3)), xp.zeros((2, 3)), weight=xp.ones(2))
    with pytest.raises(ValueError, match=rf"{name}: pos_weight of shape \(4, 1, 3\) does not "
                                         r"broadcast to input of shape \(2, 3\)"):
        op(xp.zeros((2, 3)), xp.zeros((2, 3)), pos_weight=xp.ones((4, 1, 3)))


# ---------------------------------------------------------------------------------------------
# mse_loss and smooth_l1_loss
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [1.0, 0.3, 2.0])
def test_smooth_l1_loss_matches_the_piecewise_reference(reduction, beta, xp):
    rng = np.random.default_rng(5)
    x, t = rng.normal(0.0, 2.0, size=(4, 5)), rng.normal(0.0, 2.0, size=(4, 5))
    expected = _reduce_reference(smooth_l1_reference(x, t, beta), x.size, reduction)
    y = F.smooth_l1_loss(xp.asarray(x), xp.asarray(t), reduction=reduction, beta=beta)
    np.testing.assert_allclose(_value(y), expected, rtol=1e-12)


def test_smooth_l1_loss_golden_values_and_gradient(xp):
    x = Tensor(xp.asarray(np.array([0.5, -0.25, 3.0, -2.0, 1.0])), requires_grad=True)
    t = Tensor(xp.zeros(5, dtype=np.float64), requires_grad=True)
    y = F.smooth_l1_loss(x, t, reduction="none")
    np.testing.assert_allclose(y.numpy(), [0.125, 0.03125, 2.5, 1.5, 0.5])
    y.backward(xp.ones(5))
    # d/beta inside |d| < 1, sign(d) outside; at |d| = beta both pieces give 1
    np.testing.assert_allclose(backend.to_cpu(x.grad), [0.5, -0.25, 1.0, -1.0, 1.0])
    np.testing.assert_allclose(backend.to_cpu(t.grad), [-0.5, 0.25, -1.0, 1.0, -1.0])


def test_smooth_l1_loss_with_beta_0_is_the_l1_loss(xp):
    x = Tensor(xp.asarray(np.array([0.5, -0.25, 0.0, -2.0])), requires_grad=True)
    with np.errstate(all="raise"):                       # no division by beta = 0
        y = F.smooth_l1_loss(x, xp.zeros(4), reduction="sum", beta=0.0)
        y.backward()
    assert y.item() == 2.75
    np.testing.assert_array_equal(backend.to_cpu(x.grad), [1.0, -1.0, 0.0, -1.0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_forward_and_gradient(reduction, xp):
    rng = np.random.default_rng(6)
    x, t = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    tx, tt = Tensor(xp.asarray(x), requires_grad=True), Tensor(xp.asarray(t), requires_grad=True)
    y = F.mse_loss(tx, tt, reduction=reduction)
    expected = _reduce_reference((x - t) ** 2, x.size, reduction)
    np.testing.assert_allclose(_value(y), expected, rtol=1e-12)
    y.backward(None if reduction != "none" else xp.ones((3, 4)))
    scale = 1 / x.size if reduction == "mean" else 1.0
    np.testing.assert_allclose(backend.to_cpu(tx.grad), 2 * (x - t) * scale, rtol=1e-12)
    np.testing.assert_allclose(backend.to_cpu(tt.grad), -2 * (x - t) * scale, rtol=1e-12)


@pytest.mark.parametrize("name", ["mse_loss", "smooth_l1_loss"])
def test_regression_losses_keep_float32(name, xp):
    x = Tensor(xp.asarray(np.array([0.5, -2.0], dtype=np.float32)), requires_grad=True)
    y = getattr(F, name)(x, xp.asarray(np.array([1.0, 0.0], np.float32)))
    y.backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


def test_mean_of_an_empty_loss_is_nan_with_zero_size_gradient(xp):
    x = Tensor(xp.zeros((0, 3)), requires_grad=True)
    with np.errstate(all="raise"):
        y = F.mse_loss(x, xp.zeros((0, 3)))
        y.backward()
    assert math.isnan(y.item()) and x.grad.shape == (0, 3)


@pytest.mark.parametrize("name", ["mse_loss", "smooth_l1_loss"])
def test_regression_loss_errors(name, xp):
    op = getattr(F, name)
    with pytest.raises(ValueError, match=rf"{name}: input has shape \(2, 3\) but target has "
                                         r"shape \(1, 3\); they must be equal"):
        op(xp.zeros((2, 3)), xp.zeros((1, 3)))
    with pytest.raises(ValueError, match=rf"{name}: reduction must be 'mean', 'sum' or 'none', "
                                         r"got 'elementwise_mean'"):
        op(xp.zeros(3), xp.zeros(3), reduction="elementwise_mean")


def test_smooth_l1_loss_rejects_a_negative_beta(xp):
    with pytest.raises(ValueError, match=r"smooth_l1_loss: beta must be non-negative, got -0.5"):
        F.smooth_l1_loss(xp.zeros(3), xp.zeros(3), beta=-0.5)


def test_bce_with_logits_rejects_an_unknown_reduction(xp):
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: reduction must be "
                                         r"'mean', 'sum' or 'none', got 'max'"):
        F.binary_cross_entropy_with_logits(xp.zeros(3), xp.zeros(3), reduction="max")


# ---------------------------------------------------------------------------------------------
# The gradient check catches a wrong backward
# ---------------------------------------------------------------------------------------------
def test_gradcheck_catches_a_cross_entropy_backward_that_forgets_the_weight_sum(monkeypatch):
    rng = np.random.default_rng(7)
    x, target = rng.normal(size=(4, 3)), np.array([0, 2, 1, 1])
    weight = np.array([0.5, 2.0, 1.5])

    def fn(t):
        return F.cross_entropy(t, target, weight)

    assert gradcheck(fn, [x])
    original = loss_module.CrossEntropy.backward

    def wrong_backward(self, gy):             # 'mean' as if divided by N instead of sum of w[t]
        self.saved.denominator = self.saved.denominator * 0 + len(target)
        return original(self, gy)

    monkeypatch.setattr(loss_module.CrossEntropy, "backward", wrong_backward)
    with pytest.raises(GradcheckError, match="gradcheck failed for input 0"):
        gradcheck(fn, [x])


def test_gradcheck_catches_a_smooth_l1_backward_with_the_wrong_inner_slope(monkeypatch):
    x, t = np.array([0.3, -0.6, 2.0]), np.zeros(3)

    def wrong_backward(self, gy):             # slope d instead of d / beta inside |d| < beta
        gx = gy * np.clip(self.saved.diff, -1, 1)
        return gx, -gx

    monkeypatch.setattr(loss_module.SmoothL1Loss, "backward", wrong_backward)
    with pytest.raises(GradcheckError):
        gradcheck(lambda a, b: F.smooth_l1_loss(a, b, reduction="sum", beta=0.5), [x, t])
