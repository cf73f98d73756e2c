"""reshape, transpose, permute, flatten, getitem, concatenate, stack, pad: forward against NumPy,
backward against a reference built from NumPy's own indexing, dtypes and error messages. The
float64 gradient checks run from minicv/checks/shape.py (tests/test_gradcheck_ops.py)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicv.functional as F
from minicv import backend
from minicv.autograd import Tensor
from minicv.functional.shape import GetItem
from minicv.gradcheck import GradcheckError, gradcheck
from minicv.testing import shapes


def _cpu(a):
    return backend.to_cpu(a)


def _grad_of(op, x, gy, xp):
    """x.grad after op(Tensor(x)).backward(gy)."""
    t = Tensor(xp.asarray(x), requires_grad=True)
    op(t).backward(xp.asarray(gy))
    return _cpu(t.grad)


def _scatter_reference(positions, gy, size):
    """The gradient of y = x.flat[positions], one x element at a time (slow and obvious):
    element j receives the sum of gy over every output that was read from j."""
    gx = np.zeros(size)
    for j in range(size):
        gx[j] = gy[positions == j].sum()
    return gx


# ---------------------------------------------------------------------------------------------
# reshape, transpose, permute, flatten
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("target, expected", [((3, 4), (3, 4)), ((-1,), (12,)), (12, (12,)),
                                              ((2, -1, 3), (2, 2, 3)), ((1, 12, 1), (1, 12, 1))])
def test_reshape_forward_and_backward(target, expected, xp):
    x = np.arange(12.0).reshape(2, 6)
    y = F.reshape(xp.asarray(x), target)
    assert y.shape == expected
    np.testing.assert_array_equal(y.numpy(), x.reshape(expected))
    gy = np.arange(12.0).reshape(expected) * 10
    np.testing.assert_array_equal(_grad_of(lambda t: F.reshape(t, target), x, gy, xp),
                                  gy.reshape(2, 6))


def test_reshape_of_empty_array_with_known_sizes():
    assert F.reshape(np.zeros((0, 3)), (3, 0)).shape == (3, 0)


@given(shapes(1, 4), st.data())
def test_transpose_and_permute_match_numpy(shape, data):
    x = np.random.default_rng(0).normal(size=shape)
    perm = data.draw(st.permutations(range(len(shape))))
    signed = tuple(p - len(shape) if data.draw(st.booleans()) else p for p in perm)
    np.testing.assert_array_equal(F.transpose(x, signed).numpy(), np.transpose(x, perm))
    np.testing.assert_array_equal(F.permute(x, signed).numpy(), np.transpose(x, perm))
    np.testing.assert_array_equal(F.transpose(x).numpy(), x.T)
    # backward: the inverse permutation puts every gradient back in place
    gy = np.random.default_rng(1).normal(size=np.transpose(x, perm).shape)
    expected = np.zeros(shape)
    np.transpose(expected, perm)[...] = gy                        # write through the view
    np.testing.assert_array_equal(_grad_of(lambda t: F.permute(t, signed), x, gy, np), expected)


@pytest.mark.parametrize("shape, start, end, expected", [
    ((2, 3, 4, 5), 0, -1, (120,)), ((2, 3, 4, 5), 1, -1, (2, 60)),
    ((2, 3, 4, 5), 1, 2, (2, 12, 5)), ((2, 3, 4, 5), -2, -2, (2, 3, 4, 5)),
    ((2, 3, 4, 5), -3, 3, (2, 60)), ((7,), 0, 0, (7,)), ((), 0, -1, (1,)),
    ((2, 0, 3), 1, 2, (2, 0)),
])
def test_flatten_follows_torch(shape, start, end, expected, xp):
    x = np.arange(float(np.prod(shape))).reshape(shape)
    y = F.flatten(xp.asarray(x), start, end)
    assert y.shape == expected
    np.testing.assert_array_equal(y.numpy(), x.reshape(expected))
    gy = np.arange(float(np.prod(expected))).reshape(expected)
    np.testing.assert_array_equal(_grad_of(lambda t: F.flatten(t, start, end), x, gy, xp),
                                  gy.reshape(shape))


def test_tensor_methods_call_the_ops():
    x = Tensor(np.arange(24.0).reshape(2, 3, 4))
    assert x.reshape(6, 4).shape == (6, 4) and x.reshape((4, -1)).shape == (4, 6)
    assert x.transpose().shape == (4, 3, 2) and x.transpose(1, 0, 2).shape == (3, 2, 4)
    assert x.permute(0, 2, 1).shape == (2, 4, 3) and x.permute((2, 0, 1)).shape == (4, 2, 3)
    assert x.flatten(1).shape == (2, 12) and x.T.shape == (4, 3, 2)
    np.testing.assert_array_equal(x[1, ::-1, [0, 0]].numpy(), x.data[1, ::-1, [0, 0]])


@pytest.mark.parametrize("op", [
    lambda t: F.reshape(t, (3, -1)), lambda t: F.transpose(t), lambda t: F.permute(t, (1, 0)),
    lambda t: F.flatten(t), lambda t: F.getitem(t, [0, 0]), lambda t: F.getitem(t, (0, 1)),
    lambda t: F.concatenate([t, t], axis=1), lambda t: F.stack([t, t]),
    lambda t: F.pad(t, (1, -1, 1, 1), value=1.5), lambda t: F.pad(t, (1, 1), mode="reflect"),
    lambda t: F.pad(t, (2, 0), mode="replicate"),
], ids=["reshape", "transpose", "permute", "flatten", "getitem-advanced", "getitem-basic",
        "concatenate", "stack", "pad-constant", "pad-reflect", "pad-replicate"])
def test_float32_is_preserved_forward_and_backward(op, xp):
    x = Tensor(xp.asarray(np.arange(6, dtype=np.float32).reshape(2, 3)), requires_grad=True)
    y = op(x)
    assert y.dtype == np.float32
    y.backward(xp.ones(y.shape, dtype=np.float32))
    assert x.grad.dtype == np.float32 and x.grad.shape == (2, 3)


def test_reshape_errors():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"^reshape: cannot reshape \(2, 3\) \(6 elements\) "
                                         r"into \(4, 2\) \(8 elements\)"):
        F.reshape(x, (4, 2))
    with pytest.raises(ValueError, match=r"^reshape: cannot reshape \(2, 3\) \(6 elements\) "
                                         r"into \(4, -1\): no size for -1"):
        F.reshape(x, (4, -1))
    with pytest.raises(ValueError, match=r"^reshape: shape \(-1, -1\) has more than one -1 "
                                         r"\(input shape \(2, 3\)\)"):
        F.reshape(x, (-1, -1))
    with pytest.raises(ValueError, match=r"^reshape: shape \(-2, -3\) has a negative size"):
        F.reshape(x, (-2, -3))
    with pytest.raises(ValueError, match=r"^reshape: cannot reshape \(0, 3\) \(0 elements\) "
                                         r"into \(0, -1\): no size for -1"):
        F.reshape(np.zeros((0, 3)), (0, -1))
    with pytest.raises(TypeError, match=r"^reshape: shape entry must be an int, got 1.5 "
                                        r"\(shape \(2, 3\)\)"):
        F.reshape(x, (4, 1.5))


def test_transpose_permute_errors():
    x = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=r"^transpose: axes \(0, 1\) is not a permutation of "
                                         r"the 3 axes of shape \(2, 3, 4\) \(torch.transpose"):
        F.transpose(x, (0, 1))
    with pytest.raises(ValueError, match=r"^permute: axes \(0, 0, 1\) is not a permutation of "
                                         r"the 3 axes of shape \(2, 3, 4\)$"):
        F.permute(x, (0, 0, 1))
    with pytest.raises(ValueError, match=r"^permute: axes entry 3 is out of range for shape "
                                         r"\(2, 3, 4\) \(must be in \[-3, 2\]\)"):
        F.permute(x, (0, 1, 3))
    with pytest.raises(TypeError, match=r"^permute: axes must be a tuple of ints, got 2 "
                                        r"\(shape \(2, 3, 4\)\)"):
        F.permute(x, 2)


def test_flatten_errors():
    x = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=r"^flatten: start_dim 2 comes after end_dim 1 "
                                         r"\(shape \(2, 3, 4\)\)"):
        F.flatten(x, 2, 1)
    with pytest.raises(ValueError, match=r"^flatten: end_dim 3 is out of range for shape "
                                         r"\(2, 3, 4\)"):
        F.flatten(x, 0, 3)
    with pytest.raises(ValueError, match=r"^flatten: start_dim 1 is out of range for shape "
                                         r"\(\)"):
        F.flatten(np.zeros(()), 1)


# ---------------------------------------------------------------------------------------------
# getitem
# ---------------------------------------------------------------------------------------------
_RNG = np.random.default_rng(0)
INDICES = {
    "int": 1,
    "negative-int": (-1, 2),
    "slices": (slice(None, None, -1), slice(1, None, 2)),
    "negative-step": (slice(2, 0, -1), slice(None, None, -3), 0),
    "empty-slice": slice(3, 1),
    "none-ellipsis": (None, Ellipsis, 1, None),
    "ellipsis-only": Ellipsis,
    "int-array-repeats": np.array([2, 0, 2, -1, 2]),
    "list": [0, 0, 1],
    "empty-list": [],
    "2d-int-array": np.array([[0, 1], [1, 1]]),
    "mask": _RNG.random((3, 4)) < 0.5,
    "mask-rows": np.array([True, False, True]),
    "mask-list": [False, True, True],
    "mixed": (np.array([0, 2, 0]), slice(None), 2),
    "separated-arrays": (np.array([0, 2]), slice(1, 3), np.array([4, 4])),
    "two-arrays": (np.array([1, 1, 2]), np.array([3, 3, 0])),
    "array-after-slice": (slice(None), np.array([3, 0, 3]), None),
    "0d-array": np.array(2),
    "bool-scalar": True,
}


@pytest.mark.parametrize("name", sorted(INDICES))
def test_getitem_forward_and_backward_match_numpy_indexing(name, xp):
    x = np.arange(60.0).reshape(3, 4, 5)
    index = INDICES[name]
    index_xp = tuple(xp.asarray(i) if isinstance(i, np.ndarray) else i for i in index) \
        if isinstance(index, tuple) else (xp.asarray(index) if isinstance(index, np.ndarray)
                                          else index)
    y = F.getitem(xp.asarray(x), index_xp)
    expected = x[index]
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y.numpy(), expected)
    # the reference gradient: element j gets every gy whose output was read from j
    positions = np.arange(x.size).reshape(x.shape)[index]
    gy = np.random.default_rng(1).normal(size=expected.shape)
    gx = _grad_of(lambda t: F.getitem(t, index_xp), x, gy, xp)
    np.testing.assert_allclose(gx.reshape(-1), _scatter_reference(positions, gy, x.size),
                               rtol=1e-14)


def test_getitem_accepts_tensor_indices():
    x = Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    rows, mask = Tensor(np.array([2, 2])), Tensor(np.array([True, False, False, True]))
    y = x[rows, mask]                             # the mask's positions (0, 3) pair with rows
    np.testing.assert_array_equal(y.numpy(), [8.0, 11.0])
    y.backward(np.array([1.0, 2.0]))
    expected = np.zeros((3, 4))
    expected[2, 0], expected[2, 3] = 1.0, 2.0
    np.testing.assert_array_equal(x.grad, expected)


def test_getitem_repeated_indices_accumulate_exactly(xp):
    x = Tensor(xp.zeros(5), requires_grad=True)
    F.getitem(x, xp.asarray([0, 0, 4, 0, -1])).backward(xp.asarray([1.0, 2.0, 3.0, 4.0, 5.0]))
    np.testing.assert_array_equal(_cpu(x.grad), [7.0, 0.0, 0.0, 0.0, 8.0])
    # a mix of an index array and a slice: rows 1 (twice) and 0, all columns
    x = Tensor(xp.zeros((3, 2)), requires_grad=True)
    F.getitem(x, ([1, 0, 1], slice(None))).backward(xp.asarray([[1.0, 2.0], [3.0, 4.0],
                                                                 [5.0, 6.0]]))
    np.testing.assert_array_equal(_cpu(x.grad), [[3.0, 4.0], [6.0, 8.0], [0.0, 0.0]])


def test_getitem_gradient_accumulates_over_two_uses():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    (x[0] * x[0] + x[::-1][0]).backward()         # d/dx0 (x0^2) = 2, d/dx2 x2 = 1
    np.testing.assert_array_equal(x.grad, [2.0, 0.0, 1.0])


def test_gradcheck_catches_a_backward_that_overwrites_repeated_indices():
    # the classic bug: gx[index] = gy keeps only the last of the repeated gradients
    class Overwrites(GetItem):
        def backward(self, gy):
            gx = np.zeros(self.saved.shape)
            gx[self.saved.index] = gy
            return gx

    index = (np.array([1, 0, 1]),)
    x = np.random.default_rng(0).normal(size=(2, 3))
    gradcheck(lambda t: F.getitem(t, index), [x])                # the real op passes
    with pytest.raises(GradcheckError, match=r"gradcheck failed for input 0"):
        gradcheck(lambda t: Overwrites.apply(t, index=index, basic=False), [x])


@pytest.mark.parametrize("index, message", [
    (3, r"^getitem: index 3 is out of bounds for axis 0 with size 3 \(tensor shape \(3, 4\)\)"),
    (-4, r"^getitem: index -4 is out of bounds for axis 0 with size 3 \(tensor shape \(3, 4\)\)"),
    ((0, 4), r"^getitem: index 4 is out of bounds for axis 1 with size 4 \(tensor shape "
             r"\(3, 4\)\)"),
    ((Ellipsis, -5), r"^getitem: index -5 is out of bounds for axis 1 with size 4"),
    (np.array([0, 3]), r"^getitem: index 3 \(in an index array\) is out of bounds for axis 0 "
                       r"with size 3 \(tensor shape \(3, 4\)\)"),
    ([0, -4], r"^getitem: index -4 \(in an index array\) is out of bounds for axis 0 with "
              r"size 3"),
    ((slice(None), [1, 9]), r"^getitem: index 9 \(in an index array\) is out of bounds for "
                            r"axis 1 with size 4"),
    (np.array([True, False]), r"^getitem: boolean index of shape \(2,\) does not match axes "
                              r"0..0 of size \(3,\) \(tensor shape \(3, 4\)\)"),
    ((0, 1, 2), r"^getitem: too many indices for tensor of shape \(3, 4\): the index "
                r"addresses 3 axes"),
    ((Ellipsis, 0, Ellipsis), r"^getitem: an index can hold only one Ellipsis \(tensor shape "
                              r"\(3, 4\)\)"),
    (1.0, r"^getitem: only integers, slices, None, Ellipsis and integer or boolean arrays are "
          r"valid indices, got 1.0 \(tensor shape \(3, 4\)\)"),
    (np.array([0.0, 1.0]), r"^getitem: index arrays must hold integers or booleans, got dtype "
                           r"float64 \(tensor shape \(3, 4\)\)"),
])
def test_getitem_errors(index, message):
    with pytest.raises(IndexError, match=message):
        F.getitem(np.zeros((3, 4)), index)


# ---------------------------------------------------------------------------------------------
# concatenate, stack
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [0, 1, -1, -3])
def test_concatenate_forward_and_backward(axis, xp):
    shapes_ = [(2, 3, 4), (2, 3, 4)]
    shapes_[0] = tuple(1 if a == axis % 3 else n for a, n in enumerate(shapes_[0]))
    xs = [np.random.default_rng(k).normal(size=s) for k, s in enumerate(shapes_)]
    ts = [Tensor(xp.asarray(x), requires_grad=True) for x in xs]
    y = F.concatenate(ts, axis=axis)
    np.testing.assert_array_equal(y.numpy(), np.concatenate(xs, axis=axis))
    gy = np.random.default_rng(5).normal(size=y.shape)
    y.backward(xp.asarray(gy))
    first = xs[0].shape[axis]
    np.testing.assert_array_equal(_cpu(ts[0].grad), np.take(gy, range(first), axis=axis))
    np.testing.assert_array_equal(_cpu(ts[1].grad),
                                  np.take(gy, range(first, y.shape[axis]), axis=axis))


def test_cat_is_concatenate_and_mixes_tensors_with_arrays():
    assert F.cat is F.concatenate
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = F.cat((np.array([0.0]), a, np.array([3.0, 4.0])))
    np.testing.assert_array_equal(y.numpy(), [0.0, 1.0, 2.0, 3.0, 4.0])
    y.backward(np.array([10.0, 20.0, 30.0, 40.0, 50.0]))
    np.testing.assert_array_equal(a.grad, [20.0, 30.0])


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_stack_forward_and_backward(axis, xp):
    xs = [np.random.default_rng(k).normal(size=(2, 3)) for k in range(3)]
    ts = [Tensor(xp.asarray(x), requires_grad=k != 1) for k, x in enumerate(xs)]
    y = F.stack(ts, axis=axis)
    np.testing.assert_array_equal(y.numpy(), np.stack(xs, axis=axis))
    gy = np.random.default_rng(5).normal(size=y.shape)
    y.backward(xp.asarray(gy))
    for k in (0, 2):
        np.testing.assert_array_equal(_cpu(ts[k].grad), np.take(gy, k, axis=axis))
    assert ts[1].grad is None


def test_concatenate_errors():
    with pytest.raises(ValueError, match=r"^concatenate: shapes must match except along axis "
                                         r"1: tensor 0 has shape \(2, 3\) but tensor 1 has "
                                         r"shape \(3, 3\), tensor 2 has shape \(2, 3, 1\)$"):
        F.concatenate([np.zeros((2, 3)), np.zeros((3, 3)), np.zeros((2, 3, 1))], axis=1)
    with pytest.raises(ValueError, match=r"^concatenate: axis 2 is out of range for shape "
                                         r"\(2, 3\)"):
        F.concatenate([np.zeros((2, 3))] * 2, axis=2)
    with pytest.raises(ValueError, match=r"^concatenate: expected a non-empty list of tensors"):
        F.concatenate([])
    with pytest.raises(TypeError, match=r"^concatenate: expected a list or tuple of tensors, "
                                        r"got Tensor"):
        F.concatenate(Tensor(np.zeros((2, 3))))
    with pytest.raises(ValueError, match=r"^concatenate: zero-dimensional tensors cannot be "
                                         r"concatenated \(shapes \[\(\), \(\)\]\); use stack"):
        F.concatenate([np.zeros(()), np.zeros(())])


def test_stack_errors():
    with pytest.raises(ValueError, match=r"^stack: all tensors must have the same shape: tensor "
                                         r"0 has shape \(2, 3\) but tensor 2 has shape \(3, 2\)$"):
        F.stack([np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((3, 2))])
    with pytest.raises(ValueError, match=r"^stack: axis 3 is out of range for shape \(2, 3\) "
                                         r"\(must be in \[-3, 2\]\)"):
        F.stack([np.zeros((2, 3))] * 2, axis=3)
    with pytest.raises(ValueError, match=r"^stack: expected a non-empty list of tensors"):
        F.stack(())


# ---------------------------------------------------------------------------------------------
# pad
# ---------------------------------------------------------------------------------------------
def _np_pad(x, pad, mode, value=0.0):
    """Reference: PyTorch's flat pad (last axis first) through np.pad, crops by slicing."""
    widths = [(0, 0)] * x.ndim
    for k in range(len(pad) // 2):
        widths[x.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    grow = [(max(b, 0), max(a, 0)) for b, a in widths]
    np_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}[mode]
    kwargs = {"constant_values": value} if mode == "constant" else {}
    y = np.pad(x, grow, mode=np_mode, **kwargs)
    crop = tuple(slice(max(-b, 0), n - max(-a, 0)) for n, (b, a) in zip(y.shape, widths))
    return y[crop]


PADS = [
    ("constant", (1, 2), 0.0), ("constant", (0, 1, 2, 0), -1.5),
    ("constant", (1, 1, 1, 1, 1, 1), 2.0),
    ("constant", (-1, 2), 0.0), ("constant", (-2, -3, 1, -1), 9.0), ("constant", (7, -6), 3.0),
    ("constant", (-5, 0), 1.0), ("constant", (), 0.0),
    ("reflect", (1, 2), 0.0), ("reflect", (4, 4), 0.0), ("reflect", (2, 1, 1, 2), 0.0),
    ("reflect", (0, 0, 2, 0), 0.0),
    ("replicate", (3, 1), 0.0), ("replicate", (2, 0, 0, 4), 0.0),
    ("replicate", (1, 1, 1, 1, 1, 1), 0.0),
]


@pytest.mark.parametrize("mode, pad, value", PADS)
def test_pad_forward_and_backward_match_numpy(mode, pad, value, xp):
    x = np.arange(60.0).reshape(3, 4, 5)
    y = F.pad(xp.asarray(x), pad, mode=mode, value=value)
    expected = _np_pad(x, pad, mode, value)
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y.numpy(), expected)
    # reference gradient: pad the flat index array the same way (cropped or constant cells -1)
    index = np.arange(x.size, dtype=float).reshape(x.shape)
    positions = _np_pad(index, pad, mode, value=-1.0)
    gy = np.random.default_rng(2).normal(size=expected.shape)
    gx = _grad_of(lambda t: F.pad(t, pad, mode=mode, value=value), x, gy, xp)
    np.testing.assert_allclose(gx.reshape(-1), _scatter_reference(positions, gy, x.size),
                               rtol=1e-14)


def test_pad_hand_worked_gradients():
    x = np.array([1.0, 2.0, 3.0])
    assert F.pad(x[None], (2, 2), mode="reflect").tolist() == [[3, 2, 1, 2, 3, 2, 1]]
    assert F.pad(x[None], (2, 2), mode="replicate").tolist() == [[1, 1, 1, 2, 3, 3, 3]]
    ones = np.ones((1, 7))
    np.testing.assert_array_equal(
        _grad_of(lambda t: F.pad(t, (2, 2), mode="reflect"), x[None], ones, np), [[2, 3, 2]])
    np.testing.assert_array_equal(
        _grad_of(lambda t: F.pad(t, (2, 2), mode="replicate"), x[None], ones, np), [[3, 1, 3]])
    # crop the first element, pad two on the right: gx = [0, gy0, gy1]
    np.testing.assert_array_equal(
        _grad_of(lambda t: F.pad(t, (-1, 2)), x, np.array([5.0, 6.0, 7.0, 8.0]), np),
        [0.0, 5.0, 6.0])


def test_pad_replicate_of_an_empty_unpadded_axis():
    assert F.pad(np.zeros((0, 3)), (1, 1), mode="replicate").shape == (0, 5)


@pytest.mark.parametrize("args, kwargs, error, message", [
    (((1, 2, 3),), {}, ValueError, r"^pad: pad must hold \(before, after\) pairs, got 3 values "
                                   r"\(1, 2, 3\) \(shape \(2, 3\)\)"),
    (((1, 1, 1, 1, 1, 1),), {}, ValueError, r"^pad: padding \(1, 1, 1, 1, 1, 1\) has 3 "
                                            r"\(before, after\) pairs but the input has only 2 "
                                            r"axes \(shape \(2, 3\)\)"),
    (((3, 0),), {"mode": "reflect"}, ValueError, r"^pad: reflect padding \(3, 0\) of axis 1 must "
                                                 r"be smaller than its size 3 \(shape \(2, 3\)\)"),
    (((0, 0, 0, 2),), {"mode": "reflect"}, ValueError, r"^pad: reflect padding \(0, 2\) of axis "
                                                       r"0 must be smaller than its size 2"),
    (((-1, 1),), {"mode": "replicate"}, ValueError, r"^pad: negative padding \(-1, 1\) crops, "
                                                    r"which only mode 'constant' allows, got "
                                                    r"mode 'replicate' \(shape \(2, 3\)\)"),
    (((-2, -2),), {}, ValueError, r"^pad: padding \(-2, -2\) crops axis 1 of size 3 below zero "
                                  r"\(shape \(2, 3\)\)"),
    (((1, 1),), {"mode": "circular"}, ValueError, r"^pad: mode must be 'constant', 'reflect' or "
                                                  r"'replicate', got 'circular'"),
    (((1, 1),), {"mode": "reflect", "value": 1.0}, ValueError, r"^pad: mode 'reflect' takes no "
                                                               r"value, got value=1.0"),
    (((1, 1.5),), {}, TypeError, r"^pad: pad entry must be an int, got 1.5 \(shape \(2, 3\)\)"),
    ((2,), {}, TypeError, r"^pad: pad must be a tuple of ints, got 2 \(shape \(2, 3\)\)"),
])
def test_pad_errors(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        F.pad(np.zeros((2, 3)), *args, **kwargs)


def test_pad_replicate_of_empty_axis_is_refused():
    with pytest.raises(ValueError, match=r"^pad: replicate padding \(1, 0\) of axis 0 has "
                                         r"nothing to replicate: the axis has size 0 "
                                         r"\(shape \(0, 3\)\)"):
        F.pad(np.zeros((0, 3)), (0, 0, 1, 0), mode="replicate")
