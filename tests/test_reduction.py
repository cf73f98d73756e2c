"""sum, mean, max, min: forward against NumPy, hand-worked gradients (ties, NaN, keepdims),
dtypes and error messages. The float64 gradient checks run from minicv/checks/reduction.py
(tests/test_gradcheck_ops.py)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicv.functional as F
from minicv import backend
from minicv.autograd import Tensor
from minicv.testing import shapes

OPS = {"sum": (F.sum, np.sum), "mean": (F.mean, np.mean), "max": (F.max, np.max),
       "min": (F.min, np.min)}


@st.composite
def _shape_and_axis(draw):
    shape = draw(shapes(1, 4))
    ndim = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return shape, None
    if kind == "int":
        return shape, draw(st.integers(-ndim, ndim - 1))
    axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return shape, tuple(a - ndim if draw(st.booleans()) else a for a in axes)


# ---------------------------------------------------------------------------------------------
# Forward
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(OPS))
def test_forward_matches_numpy(name, xp):
    op, reference = OPS[name]

    @given(_shape_and_axis(), st.booleans(), st.integers(0, 2**32 - 1))
    def check(shape_axis, keepdims, seed):
        shape, axis = shape_axis
        x = np.random.default_rng(seed).normal(size=shape)
        y = op(xp.asarray(x), axis=axis, keepdims=keepdims)
        expected = reference(x, axis=axis, keepdims=keepdims)
        assert y.shape == np.shape(expected)
        np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)

    check()


@pytest.mark.parametrize("name", sorted(OPS))
def test_full_reduction_keeps_float64_and_gives_0d(name, xp):
    # NumPy returns a scalar (np.float64) for a full reduction; it must stay a float64 tensor
    x = xp.asarray(np.array([[1.0, 2.0], [3.0, 4.5]]))
    y = OPS[name][0](x)
    assert y.shape == () and y.dtype == np.float64
    assert y.item() == pytest.approx(float(OPS[name][1](backend.to_cpu(x))))


@pytest.mark.parametrize("name", sorted(OPS))
def test_float32_is_preserved_forward_and_backward(name, xp):
    x = Tensor(xp.asarray(np.arange(12, dtype=np.float32).reshape(3, 4)), requires_grad=True)
    y = OPS[name][0](x, axis=1)
    assert y.dtype == np.float32
    y.backward(xp.ones(3, dtype=np.float32))
    assert x.grad.dtype == np.float32


def test_empty_tuple_axis_reduces_nothing():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(F.sum(x, axis=()).numpy(), x)
    np.testing.assert_array_equal(F.max(x, axis=()).numpy(), x)


def test_max_over_nonempty_axis_of_empty_array_is_empty():
    # the reduced axis (size 3) is not empty, only the other one: as NumPy, an empty result
    assert F.max(np.zeros((0, 3)), axis=1).shape == (0,)


def test_max_and_min_propagate_nan():
    x = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]])
    assert np.isnan(F.max(x, axis=1).numpy()[0]) and F.max(x, axis=1).numpy()[1] == 6.0
    assert np.isnan(F.min(x, axis=1).numpy()[0]) and F.min(x, axis=1).numpy()[1] == 4.0
    assert np.isnan(F.max(x).item())


def test_integer_input_reduces_without_gradient():
    y = F.sum(np.arange(6).reshape(2, 3), axis=0)
    np.testing.assert_array_equal(y.numpy(), [3, 5, 7])
    assert not y.requires_grad


def test_tensor_methods_call_the_ops():
    x = Tensor(np.arange(6.0).reshape(2, 3))
    assert x.sum(axis=1).tolist() == [3.0, 12.0]
    assert x.mean(axis=0, keepdims=True).shape == (1, 3)
    assert x.max().item() == 5.0 and x.min(axis=-1).tolist() == [0.0, 3.0]


# ---------------------------------------------------------------------------------------------
# Backward, hand-worked
# ---------------------------------------------------------------------------------------------
def test_sum_backward_broadcasts_gy_with_negative_axes(xp):
    x = Tensor(xp.zeros((2, 3, 4)), requires_grad=True)
    gy = np.array([10.0, 20.0, 30.0])
    F.sum(x, axis=(-1, 0)).backward(xp.asarray(gy))            # y has shape (3,)
    np.testing.assert_array_equal(backend.to_cpu(x.grad), np.broadcast_to(gy[None, :, None],
                                                                          (2, 3, 4)))


def test_mean_backward_with_keepdims_divides_by_count(xp):
    x = Tensor(xp.zeros((2, 3, 4)), requires_grad=True)
    y = F.mean(x, axis=(0, 2), keepdims=True)
    assert y.shape == (1, 3, 1)
    gy = np.array([8.0, 16.0, 24.0]).reshape(1, 3, 1)
    y.backward(xp.asarray(gy))
    np.testing.assert_array_equal(backend.to_cpu(x.grad), np.broadcast_to(gy / 8, (2, 3, 4)))


def test_max_splits_gradient_evenly_among_ties(xp):
    x = Tensor(xp.asarray([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [5.0, 0.0, 1.0]]),
               requires_grad=True)
    F.max(x, axis=1).backward(xp.asarray([6.0, 6.0, 6.0]))
    np.testing.assert_allclose(backend.to_cpu(x.grad),
                               [[0, 3, 3], [2, 2, 2], [6, 0, 0]], rtol=1e-15)


def test_min_splits_gradient_among_ties_over_all_axes(xp):
    x = Tensor(xp.asarray([[0.0, 4.0], [0.0, 0.0]]), requires_grad=True)
    F.min(x).backward()
    np.testing.assert_allclose(backend.to_cpu(x.grad), [[1 / 3, 0], [1 / 3, 1 / 3]])


def test_max_with_keepdims_and_negative_axis_gradient(xp):
    x = Tensor(xp.asarray([[[1.0, 7.0], [7.0, 2.0]]]), requires_grad=True)   # (1, 2, 2)
    y = F.max(x, axis=-2, keepdims=True)                                      # (1, 1, 2)
    np.testing.assert_array_equal(y.numpy(), [[[7.0, 7.0]]])
    y.backward(xp.asarray([[[1.0, 2.0]]]))
    np.testing.assert_array_equal(backend.to_cpu(x.grad), [[[0.0, 2.0], [1.0, 0.0]]])


def test_max_gradient_goes_to_the_nan_entries():
    x = Tensor(np.array([[1.0, np.nan, np.nan], [4.0, 5.0, 6.0]]), requires_grad=True)
    F.max(x, axis=1).backward(np.array([2.0, 3.0]))
    np.testing.assert_array_equal(x.grad, [[0.0, 1.0, 1.0], [0.0, 0.0, 3.0]])


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(OPS))
def test_axis_out_of_range_names_op_axis_and_shape(name):
    with pytest.raises(ValueError, match=rf"^{name}: axis 2 is out of range for shape \(2, 3\)"):
        OPS[name][0](np.zeros((2, 3)), axis=2)
    with pytest.raises(ValueError, match=rf"^{name}: axis -3 is out of range for shape \(2, 3\)"):
        OPS[name][0](np.zeros((2, 3)), axis=(0, -3))


@pytest.mark.parametrize("name", sorted(OPS))
def test_repeated_axis_is_refused(name):
    with pytest.raises(ValueError, match=rf"^{name}: axis \(1, -1\) repeats an axis "
                                         r"\(shape \(2, 3\)\)"):
        OPS[name][0](np.zeros((2, 3)), axis=(1, -1))


@pytest.mark.parametrize("axis", [1.0, "0", True, (0, 1.5)])
def test_non_integer_axis_is_a_type_error(axis):
    with pytest.raises(TypeError, match=r"^mean: axis must be None, an int or a tuple of ints, "
                                        r"got .* for shape \(2, 3\)"):
        F.mean(np.zeros((2, 3)), axis=axis)


@pytest.mark.parametrize("name", ["max", "min"])
def test_empty_reduction_names_op_axis_and_shape(name):
    with pytest.raises(ValueError, match=rf"^{name}: cannot reduce over zero-size axis 1 of "
                                         r"shape \(2, 0\)"):
        OPS[name][0](np.zeros((2, 0)), axis=1)
    with pytest.raises(ValueError, match=rf"^{name}: cannot reduce over zero-size axis 0 of "
                                         r"shape \(0, 3\)"):
        OPS[name][0](np.zeros((0, 3)))
