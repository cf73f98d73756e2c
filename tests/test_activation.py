"""relu, leaky_relu, sigmoid, tanh, softmax, log_softmax, dropout: forward against NumPy,
hand-worked gradients, extreme inputs, dtypes, dropout statistics and error messages.
The float64 gradient checks run from minicv/checks/activation.py (tests/test_gradcheck_ops.py)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicv.functional as F
from minicv import backend
from minicv.autograd import Tensor
from minicv.functional import activation
from minicv.gradcheck import GradcheckError, gradcheck
from minicv.testing import arrays


# ---------------------------------------------------------------------------------------------
# NumPy references, written plainly
# ---------------------------------------------------------------------------------------------
def softmax_reference(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


ELEMENTWISE = {
    "relu": (F.relu, lambda x: np.where(x > 0, x, 0.0)),
    "leaky_relu": (F.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x)),
    "sigmoid": (F.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    "tanh": (F.tanh, np.tanh),
}


def _run(op, x, xp, **kwargs):
    """op(x) and dL/dx for L = sum(y * r) with a fixed random cotangent r."""
    t = Tensor(xp.asarray(x), requires_grad=True)
    y = op(t, **kwargs)
    r = np.random.default_rng(1).normal(size=x.shape).astype(x.dtype)
    y.backward(xp.asarray(r))
    return y.numpy(), backend.to_cpu(t.grad), r


# ---------------------------------------------------------------------------------------------
# Elementwise activations
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_forward_matches_numpy(name, xp):
    op, reference = ELEMENTWISE[name]

    @given(arrays(low=-10.0, high=10.0))
    def check(x):
        y = op(xp.asarray(x))
        assert y.shape == x.shape
        np.testing.assert_allclose(y.numpy(), reference(x), rtol=1e-12, atol=1e-15)

    check()


@pytest.mark.parametrize("slope", [0.0, 0.2, -0.5, 2.0])
def test_leaky_relu_slope_forward_and_backward(slope, xp):
    x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0])
    y, gx, r = _run(F.leaky_relu, x, xp, negative_slope=slope)
    np.testing.assert_array_equal(y, np.where(x > 0, x, slope * x))
    # the gradient at 0 itself is the negative slope (PyTorch tests x > 0)
    np.testing.assert_array_equal(gx, r * np.array([slope, slope, slope, 1.0, 1.0]))


def test_relu_gradient_is_a_step_with_zero_at_zero(xp):
    x = np.array([-1.0, 0.0, 1e-300, 2.0])
    y, gx, r = _run(F.relu, x, xp)
    np.testing.assert_array_equal(y, [0.0, 0.0, 1e-300, 2.0])
    np.testing.assert_array_equal(gx, r * np.array([0.0, 0.0, 1.0, 1.0]))


def test_sigmoid_and_tanh_gradients_are_functions_of_the_output(xp):
    x = np.array([-3.0, -0.7, 0.0, 0.4, 5.0])
    _, gx, r = _run(F.sigmoid, x, xp)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(gx, r * s * (1 - s), rtol=1e-13)
    _, gx, r = _run(F.tanh, x, xp)
    np.testing.assert_allclose(gx, r / np.cosh(x) ** 2, rtol=1e-10)   # 1 - y^2 cancels
    _, gx, _ = _run(F.sigmoid, np.array([0.0]), xp)
    assert gx[0] == pytest.approx(0.25 * np.random.default_rng(1).normal(size=1)[0])


def test_sigmoid_is_stable_at_extreme_inputs(xp):
    x = np.array([-1e4, -800.0, -40.0, 0.0, 40.0, 800.0, 1e4])
    with np.errstate(over="raise", invalid="raise", divide="raise"):   # warnings -> errors
        y, gx, _ = _run(F.sigmoid, x, xp)
        y32 = F.sigmoid(xp.asarray(x.astype(np.float32))).numpy()
    np.testing.assert_array_equal(y[[0, 1, 3, 5, 6]], [0.0, 0.0, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(y[[2, 4]], [np.exp(-40.0) / (1 + np.exp(-40.0)),
                                           1 / (1 + np.exp(-40.0))], rtol=1e-15)
    assert np.all(np.isfinite(gx)) and gx[0] == 0 and gx[-1] == 0
    np.testing.assert_array_equal(y32[[0, 3, 6]], np.array([0.0, 0.5, 1.0], np.float32))


@pytest.mark.parametrize("name", sorted(ELEMENTWISE) + ["softmax", "log_softmax", "dropout"])
def test_float32_stays_float32_forward_and_backward(name, xp):
    op = ELEMENTWISE[name][0] if name in ELEMENTWISE else getattr(F, name)
    kwargs = {"rng": 0} if name == "dropout" else {}
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    y, gx, _ = _run(op, x, xp, **kwargs)
    assert y.dtype == np.float32 and gx.dtype == np.float32


def test_tensor_methods_call_the_activations(xp):
    x = Tensor(xp.asarray(np.array([[-1.0, 2.0], [0.5, -3.0]])))
    np.testing.assert_array_equal(x.relu().numpy(), F.relu(x).numpy())
    np.testing.assert_array_equal(x.sigmoid().numpy(), F.sigmoid(x).numpy())
    np.testing.assert_array_equal(x.tanh().numpy(), F.tanh(x).numpy())
    np.testing.assert_array_equal(x.softmax(axis=0).numpy(), F.softmax(x, axis=0).numpy())
    np.testing.assert_array_equal(x.log_softmax(axis=0).numpy(),
                                  F.log_softmax(x, axis=0).numpy())


# ---------------------------------------------------------------------------------------------
# softmax and log_softmax
# ---------------------------------------------------------------------------------------------
@st.composite
def _array_and_axis(draw):
    x = draw(arrays(max_dims=4, low=-20.0, high=20.0))
    return x, draw(st.integers(-x.ndim, x.ndim - 1))


def test_softmax_and_log_softmax_forward_match_numpy(xp):
    @given(_array_and_axis())
    def check(x_axis):
        x, axis = x_axis
        expected = softmax_reference(x, axis)
        y = F.softmax(xp.asarray(x), axis=axis).numpy()
        np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(y.sum(axis=axis), 1.0, rtol=1e-12)
        log_y = F.log_softmax(xp.asarray(x), axis=axis).numpy()
        np.testing.assert_allclose(log_y, np.log(expected), rtol=1e-12, atol=1e-12)

    check()


def test_softmax_backward_is_the_jacobian_transpose_times_gy(xp):
    # the Jacobian of softmax written out: J[i, j] = dy_i/dx_j = y_i (delta_ij - y_j)
    x = np.array([[0.3, -1.2, 2.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    y, gx, r = _run(F.softmax, x, xp, axis=1)
    for row in range(2):
        s = softmax_reference(x[row], 0)
        jacobian = np.diag(s) - np.outer(s, s)
        np.testing.assert_allclose(gx[row], jacobian.T @ r[row], rtol=1e-12, atol=1e-15)
    # log_softmax: J[i, j] = delta_ij - softmax_j
    _, gx, r = _run(F.log_softmax, x, xp, axis=1)
    for row in range(2):
        jacobian = np.eye(4) - softmax_reference(x[row], 0)[None, :]
        np.testing.assert_allclose(gx[row], jacobian.T @ r[row], rtol=1e-12, atol=1e-15)


def test_softmax_and_log_softmax_stay_finite_for_extreme_logits(xp):
    x = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y, gy_soft, _ = _run(F.softmax, x, xp, axis=-1)
        log_y, gy_log, _ = _run(F.log_softmax, x, xp, axis=-1)
    np.testing.assert_array_equal(y[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(y[1], [1 / 3] * 3, rtol=1e-15)
    np.testing.assert_array_equal(log_y[0], [0.0, -1e4, -2e4])
    np.testing.assert_allclose(log_y[1], [-np.log(3)] * 3, rtol=1e-15)
    assert np.all(np.isfinite(gy_soft)) and np.all(np.isfinite(gy_log))


def test_softmax_of_an_empty_array_is_empty(xp):
    assert F.softmax(xp.zeros((0, 3)), axis=1).shape == (0, 3)
    assert F.log_softmax(xp.zeros((2, 0)), axis=1).shape == (2, 0)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_axis_out_of_range_is_an_index_error(name, xp):
    with pytest.raises(IndexError, match=rf"{name}: axis 2 is out of range for input of "
                                         r"shape \(2, 3\)"):
        getattr(F, name)(xp.zeros((2, 3)), axis=2)
    with pytest.raises(IndexError, match=rf"{name}: axis -3 is out of range"):
        getattr(F, name)(xp.zeros((2, 3)), axis=-3)


# ---------------------------------------------------------------------------------------------
# dropout
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_keeps_the_mean_and_drops_a_fraction_p(p, xp):
    x = xp.ones((1000, 1000))
    y = F.dropout(x, p=p, rng=1234).numpy()
    kept = y != 0
    assert abs(y.mean() - 1.0) < 0.01                   # inverted dropout: E[y] = x
    assert abs((~kept).mean() - p) < 0.005
    np.testing.assert_allclose(y[kept], 1 / (1 - p), rtol=1e-15)


def test_dropout_backward_uses_the_same_mask(xp):
    x = np.random.default_rng(0).normal(size=(50, 40))
    y, gx, r = _run(F.dropout, x, xp, p=0.3, rng=7)
    mask = y / x                                         # 0 or 1/(1-p) per element
    np.testing.assert_allclose(gx, r * mask, rtol=1e-12)
    assert set(np.round(np.unique(mask), 12)) == {0.0, round(1 / 0.7, 12)}


def test_dropout_is_reproducible_with_a_seed_or_generator(xp):
    x = xp.ones((64, 64))
    a = F.dropout(x, p=0.5, rng=3).numpy()
    np.testing.assert_array_equal(a, F.dropout(x, p=0.5, rng=3).numpy())
    assert not np.array_equal(a, F.dropout(x, p=0.5, rng=4).numpy())
    g1 = F.dropout(x, p=0.5, rng=np.random.default_rng(5)).numpy()
    g2 = F.dropout(x, p=0.5, rng=np.random.default_rng(5)).numpy()
    np.testing.assert_array_equal(g1, g2)
    gen = np.random.default_rng(5)                       # a generator advances between calls
    assert not np.array_equal(F.dropout(x, p=0.5, rng=gen).numpy(),
                              F.dropout(x, p=0.5, rng=gen).numpy())


def test_dropout_in_evaluation_or_with_p0_is_the_identity(xp):
    x = Tensor(xp.asarray(np.arange(6.0).reshape(2, 3)), requires_grad=True)
    assert F.dropout(x, p=0.5, training=False) is x
    assert F.dropout(x, p=0.0) is x
    y = F.dropout(xp.asarray(np.arange(3.0)), p=0.7, training=False)   # arrays become Tensors
    assert isinstance(y, Tensor)
    np.testing.assert_array_equal(y.numpy(), [0.0, 1.0, 2.0])


def test_dropout_with_p1_gives_zeros_and_zero_gradient(xp):
    x = np.random.default_rng(0).normal(size=(4, 5))
    y, gx, _ = _run(F.dropout, x, xp, p=1.0)
    np.testing.assert_array_equal(y, np.zeros((4, 5)))
    np.testing.assert_array_equal(gx, np.zeros((4, 5)))


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_rejects_p_outside_0_1(p, xp):
    with pytest.raises(ValueError, match=rf"dropout: p must be a probability in \[0, 1\], "
                                         rf"got {p}"):
        F.dropout(xp.ones(3), p=p)


def test_dropout_rejects_an_rng_that_is_not_a_generator(xp):
    with pytest.raises(TypeError, match="dropout: rng must be None, an int seed or a random "
                                        "Generator, got str"):
        F.dropout(xp.ones(3), p=0.5, rng="seed")


# ---------------------------------------------------------------------------------------------
# The gradient check catches a wrong backward
# ---------------------------------------------------------------------------------------------
def test_gradcheck_catches_a_softmax_backward_without_the_sum_term(monkeypatch):
    x = np.random.default_rng(0).normal(size=(3, 4))
    assert gradcheck(lambda t: F.softmax(t, axis=1), [x])

    def wrong_backward(self, gy):                    # forgets "- sum(gy * y)": diagonal only
        return self.saved.y * gy

    monkeypatch.setattr(activation.Softmax, "backward", wrong_backward)
    with pytest.raises(GradcheckError, match="gradcheck failed for input 0"):
        gradcheck(lambda t: F.softmax(t, axis=1), [x])


def test_gradcheck_catches_a_sigmoid_backward_of_the_wrong_sign(monkeypatch):
    x = np.random.default_rng(0).normal(size=(5,))
    monkeypatch.setattr(activation.Sigmoid, "backward",
                        lambda self, gy: -gy * self.saved.y * (1 - self.saved.y))
    with pytest.raises(GradcheckError):
        gradcheck(F.sigmoid, [x])
