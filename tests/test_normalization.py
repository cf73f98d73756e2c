"""batch_norm: forward and running-statistic updates against a per-channel NumPy loop, properties
of the training gradient, evaluation mode, dtypes and error messages. The float64 gradient checks
run from minicv/checks/normalization.py (tests/test_gradcheck_ops.py)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicv.functional as F
from minicv import backend
from minicv.autograd import Tensor
from minicv.functional import normalization
from minicv.gradcheck import GradcheckError, gradcheck


def batch_norm_reference(x, running_mean, running_var, weight, bias, training, momentum, eps):
    """torch.nn.functional.batch_norm, one channel at a time. Returns y and the new running
    statistics (copies; the inputs are not changed)."""
    channels = x.shape[1]
    y = np.empty_like(x)
    new_mean = None if running_mean is None else running_mean.copy()
    new_var = None if running_var is None else running_var.copy()
    for c in range(channels):
        values = x[:, c].ravel()
        count = values.size
        if training:
            mean = values.sum() / count
            var = ((values - mean) ** 2).sum() / count                 # biased
            if new_mean is not None:
                new_mean[c] = (1 - momentum) * running_mean[c] + momentum * mean
                new_var[c] = (1 - momentum) * running_var[c] + momentum * var * count / (count - 1)
        else:
            mean, var = running_mean[c], running_var[c]
        gamma = 1.0 if weight is None else weight[c]
        beta = 0.0 if bias is None else bias[c]
        y[:, c] = gamma * (x[:, c] - mean) / np.sqrt(var + eps) + beta
    return y, new_mean, new_var


@st.composite
def _problem(draw):
    channels = draw(st.integers(1, 4))
    if draw(st.booleans()):
        shape = (draw(st.integers(2, 6)), channels)
    else:
        shape = (draw(st.integers(1, 3)), channels, draw(st.integers(1, 4)),
                 draw(st.integers(2, 4)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.normal(1.0, 2.0, size=shape)
    affine = draw(st.booleans())
    weight = rng.uniform(0.5, 2.0, channels) if affine else None
    bias = rng.normal(size=channels) if affine else None
    running_mean, running_var = rng.normal(size=channels), rng.uniform(0.5, 2.0, channels)
    momentum = draw(st.sampled_from([0.1, 0.0, 1.0, 0.3]))
    eps = draw(st.sampled_from([1e-5, 1e-3]))
    return x, running_mean, running_var, weight, bias, momentum, eps


@pytest.mark.parametrize("training", [True, False])
def test_forward_and_running_statistics_match_the_loop_reference(training, xp):
    @given(_problem())
    def check(problem):
        x, rm, rv, w, b, momentum, eps = problem
        expected, expected_mean, expected_var = batch_norm_reference(
            x, rm, rv, w, b, training, momentum, eps)
        running_mean, running_var = xp.asarray(rm), xp.asarray(rv)
        y = F.batch_norm(xp.asarray(x), running_mean, running_var,
                         None if w is None else xp.asarray(w),
                         None if b is None else xp.asarray(b),
                         training=training, momentum=momentum, eps=eps)
        assert y.shape == x.shape and y.dtype == np.float64
        np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)
        # in place: the very arrays passed in now hold the new statistics (eval: unchanged)
        np.testing.assert_allclose(backend.to_cpu(running_mean), expected_mean, rtol=1e-12)
        np.testing.assert_allclose(backend.to_cpu(running_var), expected_var, rtol=1e-12)

    check()


def test_golden_values_and_update(xp):
    x = xp.asarray(np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 20.0]]))
    rm, rv = xp.zeros(2), xp.ones(2)
    y = F.batch_norm(x, rm, rv, training=True, momentum=0.5, eps=0.0)
    # channel 0: mean 3, biased var 8/3; channel 1: mean 20, biased var 200/3
    np.testing.assert_allclose(y.numpy()[:, 0], np.array([-2.0, 0.0, 2.0]) / np.sqrt(8 / 3))
    np.testing.assert_allclose(y.numpy()[:, 1], np.array([-10.0, 10.0, 0.0]) / np.sqrt(200 / 3))
    np.testing.assert_allclose(backend.to_cpu(rm), [1.5, 10.0])
    np.testing.assert_allclose(backend.to_cpu(rv), [0.5 + 0.5 * 4.0, 0.5 + 0.5 * 100.0])


def test_running_statistics_in_tensors_are_updated_through_data(xp):
    x = np.random.default_rng(0).normal(size=(4, 3, 2, 2))
    rm, rv = Tensor(xp.zeros(3, dtype=np.float64)), Tensor(xp.ones(3, dtype=np.float64))
    before = rm.data
    F.batch_norm(xp.asarray(x), rm, rv, training=True)
    _, expected_mean, expected_var = batch_norm_reference(x, np.zeros(3), np.ones(3), None,
                                                          None, True, 0.1, 1e-5)
    assert rm.data is before                                   # the same array, changed
    np.testing.assert_allclose(rm.numpy(), expected_mean, rtol=1e-12)
    np.testing.assert_allclose(rv.numpy(), expected_var, rtol=1e-12)


def test_training_without_running_statistics(xp):
    x = np.random.default_rng(1).normal(size=(5, 2))
    y = F.batch_norm(xp.asarray(x), None, None, training=True)
    expected, _, _ = batch_norm_reference(x, None, None, None, None, True, 0.1, 1e-5)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10)


def test_evaluation_accepts_a_single_value_per_channel(xp):
    y = F.batch_norm(xp.asarray(np.array([[2.0, 4.0]])), xp.asarray(np.array([1.0, 1.0])),
                     xp.asarray(np.array([4.0, 1.0])), eps=0.0)
    np.testing.assert_allclose(y.numpy(), [[0.5, 3.0]])


def _grads(xp, x, weight, bias, training, gy, eps=1e-5):
    tx = Tensor(xp.asarray(x), requires_grad=True)
    tw = Tensor(xp.asarray(weight), requires_grad=True)
    tb = Tensor(xp.asarray(bias), requires_grad=True)
    channels = x.shape[1]
    y = F.batch_norm(tx, xp.zeros(channels), xp.ones(channels), tw, tb, training=training,
                     eps=eps)
    y.backward(xp.asarray(gy))
    return y.numpy(), tx.grad, tw.grad, tb.grad


def test_training_gradient_is_orthogonal_to_shifts_and_scalings(xp):
    # with eps = 0, y does not change when a channel of x is shifted or scaled (the batch
    # statistics undo it), so gx sums to 0 over each channel and is orthogonal to xhat
    rng = np.random.default_rng(2)
    x, gy = rng.normal(size=(3, 2, 4, 5)), rng.normal(size=(3, 2, 4, 5))
    weight, bias = np.array([1.5, -0.5]), np.array([0.1, 0.2])
    y, gx, gw, gb = (backend.to_cpu(a) for a in _grads(xp, x, weight, bias, True, gy, eps=0.0))
    xhat = (y - bias[None, :, None, None]) / weight[None, :, None, None]
    np.testing.assert_allclose(gx.sum(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose((gx * xhat).sum(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(gw, (gy * xhat).sum(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(gb, gy.sum(axis=(0, 2, 3)), rtol=1e-12)


def test_evaluation_gradient_is_the_affine_scale(xp):
    rng = np.random.default_rng(3)
    x, gy = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    weight, bias = np.array([2.0, -1.0, 0.5]), np.zeros(3)
    _, gx, gw, gb = (backend.to_cpu(a) for a in _grads(xp, x, weight, bias, False, gy))
    # running mean 0, var 1: y = weight * x / sqrt(1 + eps) + bias
    np.testing.assert_allclose(gx, gy * weight / np.sqrt(1 + 1e-5), rtol=1e-12)
    np.testing.assert_allclose(gw, (gy * x / np.sqrt(1 + 1e-5)).sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(gb, gy.sum(axis=0), rtol=1e-12)


@pytest.mark.parametrize("training", [True, False])
def test_strided_input_and_a_second_backward(training, xp):
    # the op works on an (N, C, H*W) view of x and keeps x - mu for backward: a Fortran-ordered
    # x must give what its C-ordered copy gives, and backward must not consume what it saved
    rng = np.random.default_rng(6)
    x, gy = rng.normal(1.0, 2.0, size=(3, 2, 4, 5)), rng.normal(size=(3, 2, 4, 5))
    weight, bias = np.array([1.5, -0.5]), np.array([0.1, 0.2])
    results = []
    for data in (xp.asfortranarray(xp.asarray(x)), xp.ascontiguousarray(xp.asarray(x))):
        tx = Tensor(data, requires_grad=True)
        tw, tb = Tensor(xp.asarray(weight), requires_grad=True), Tensor(xp.asarray(bias),
                                                                         requires_grad=True)
        y = F.batch_norm(tx, xp.asarray(np.full(2, 0.5)), xp.asarray(np.full(2, 2.0)), tw, tb,
                         training=training)
        y.backward(xp.asarray(gy), retain_graph=True)
        first = [backend.to_cpu(t.grad).copy() for t in (tx, tw, tb)]
        tx.grad = tw.grad = tb.grad = None
        y.backward(xp.asarray(gy))
        for a, t in zip(first, (tx, tw, tb)):
            np.testing.assert_array_equal(backend.to_cpu(t.grad), a)
        results.append([y.numpy()] + first)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    expected, _, _ = batch_norm_reference(x, np.full(2, 0.5), np.full(2, 2.0), weight, bias,
                                          training, 0.1, 1e-5)
    np.testing.assert_allclose(results[0][0], expected, rtol=1e-10, atol=1e-12)


def test_float32_is_preserved_with_its_running_statistics(xp):
    x = Tensor(xp.asarray(np.random.default_rng(4).normal(size=(4, 3, 2, 2)).astype(np.float32)),
               requires_grad=True)
    weight = Tensor(xp.ones(3, dtype=np.float32), requires_grad=True)
    rm, rv = xp.zeros(3, dtype=np.float32), xp.ones(3, dtype=np.float32)
    y = F.batch_norm(x, rm, rv, weight, training=True, momentum=0.1, eps=1e-5)
    y.backward(xp.ones(y.shape, dtype=np.float32))
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    assert weight.grad.dtype == np.float32
    assert rm.dtype == np.float32 and rv.dtype == np.float32


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1, 1)])
def test_training_needs_more_than_one_value_per_channel(shape, xp):
    pattern = (r"batch_norm: expected more than 1 value per channel when training, got input "
               rf"of shape \({shape[0]}, 3")
    with pytest.raises(ValueError, match=pattern):
        F.batch_norm(xp.zeros(shape), xp.zeros(3), xp.ones(3), training=True)


@pytest.mark.parametrize("name", ["running_mean", "running_var", "weight", "bias"])
def test_per_channel_arguments_must_match_the_channels(name, xp):
    kwargs = {"running_mean": xp.zeros(3), "running_var": xp.ones(3), "weight": xp.ones(3),
              "bias": xp.zeros(3)}
    kwargs[name] = xp.ones(4)
    with pytest.raises(ValueError, match=rf"batch_norm: {name} must have shape \(C,\) = \(3,\) "
                                         rf"for input of shape \(2, 3, 4, 4\), got \(4,\)"):
        F.batch_norm(xp.zeros((2, 3, 4, 4)), training=True, **kwargs)


def test_input_needs_a_channel_axis(xp):
    with pytest.raises(ValueError, match=r"batch_norm: expected input of shape \(N, C\) or "
                                         r"\(N, C, H, W\), got shape \(5,\)"):
        F.batch_norm(xp.zeros(5), None, None, training=True)


def test_evaluation_needs_running_statistics(xp):
    with pytest.raises(ValueError, match=r"batch_norm: running_mean and running_var are "
                                         r"required in evaluation"):
        F.batch_norm(xp.zeros((2, 3)), None, xp.ones(3), training=False)


# ---------------------------------------------------------------------------------------------
# The gradient check catches a wrong backward
# ---------------------------------------------------------------------------------------------
def test_gradcheck_catches_the_evaluation_formula_used_in_training(monkeypatch):
    x = np.random.default_rng(5).normal(size=(4, 2, 3))

    def fn(t):
        return F.batch_norm(t, np.zeros(2), np.ones(2), training=True)

    assert gradcheck(fn, [x])

    def wrong_backward(self, gy):          # treats the batch statistics as constants
        return gy * self.saved.inv_std.reshape(1, -1, 1), None, None   # (C,) -> (1, C, 1)

    monkeypatch.setattr(normalization.BatchNorm, "backward", wrong_backward)
    with pytest.raises(GradcheckError, match="gradcheck failed for input 0"):
        gradcheck(fn, [x])
