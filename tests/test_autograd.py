"""minicv.autograd: Tensor, Function, the backward pass and no_grad.

The ops used here are the arithmetic ones (minicv.functional.arith) plus small Functions
written in this file the way a learner would write their own layer, so the engine is tested on
its own terms: construction rules, operators, gradient accumulation, broadcasting, graph
freeing, deep graphs, multi-output and optional-input Functions.
"""
import sys
import types

import numpy as np
import pytest

import minicv
from minicv import Function, Tensor, backend, enable_grad, gradcheck, is_grad_enabled, no_grad
from minicv.backend import BackendError


# ---------------------------------------------------------------------------------------------
# Functions written as a learner would write them
# ---------------------------------------------------------------------------------------------
class Total(Function):
    """L = sum of all elements (a scalar loss to call backward on)."""

    def forward(self, x):
        self.save(shape=x.shape)
        return x.sum()

    def backward(self, gy):
        # dL/dx_i = 1: the gradient is gy broadcast back to x's shape
        return backend.get_array_module(gy).broadcast_to(gy, self.saved.shape)


def total(x):
    return Total.apply(x)


class Softplus(Function):
    """y = log(1 + e^x), written as a learner would for their own layer."""

    def forward(self, x):
        xp = backend.get_array_module(x)
        self.save(x=x)
        return xp.logaddexp(0, x)

    def backward(self, gy):
        # dy/dx = e^x / (1 + e^x) = sigmoid(x)
        xp = backend.get_array_module(gy)
        return gy / (1 + xp.exp(-self.saved.x))


class Halves(Function):
    """Split x along axis 0 into two halves: a Function with two outputs."""

    received = None      # the gradients backward was given, for inspection

    def forward(self, x):
        half = x.shape[0] // 2
        return x[:half], x[half:]

    def backward(self, g_first, g_second):
        Halves.received = (g_first, g_second)
        return backend.get_array_module(g_first).concatenate([g_first, g_second])


class Affine(Function):
    """y = x @ w + b with an optional bias (None when not given)."""

    seen_needs = None

    def forward(self, x, w, b):
        self.save(x=x, w=w)
        Affine.seen_needs = self.needs_input_grad
        y = x @ w
        return y if b is None else y + b

    def backward(self, gy):
        # dy/dx = gy w^T, dy/dw = x^T gy, dy/db = sum over the rows of gy
        x, w = self.saved.x, self.saved.w
        gx = gy @ w.T if self.needs_input_grad[0] else None
        gw = x.T @ gy if self.needs_input_grad[1] else None
        gb = gy.sum(axis=0) if self.needs_input_grad[2] else None
        return gx, gw, gb


class ArgmaxAndMax(Function):
    """Two outputs, one of them integer: the indices never require grad."""

    def forward(self, x):
        index = x.argmax(axis=-1)
        self.save(index=index, shape=x.shape)
        return x.max(axis=-1), index

    def backward(self, gy, g_index):
        xp = backend.get_array_module(gy)
        gx = xp.zeros(self.saved.shape, dtype=gy.dtype)
        xp.put_along_axis(gx, self.saved.index[..., None], gy[..., None], axis=-1)
        return gx


def leaf(values, dtype=np.float32):
    return Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def functions_in_graph(t):
    """Every Function reachable from t (while the graph is still linked)."""
    seen, stack = [], [t.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or any(fn is s for s in seen):
            continue
        seen.append(fn)
        stack.extend(i.grad_fn for i in (fn.inputs or ()) if i is not None)
    return seen


# ---------------------------------------------------------------------------------------------
# Construction and dtype rules
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("data, dtype", [
    ([1.0, 2.0], np.float32), (3.0, np.float32), ([[1, 2], [3, 4]], np.int64), (7, np.int64),
    ([True, False], np.bool_), ([1, 2.5], np.float32),
])
def test_python_data_dtype_rules(data, dtype):
    t = Tensor(data)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.data, np.asarray(data))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.int32, np.uint8])
def test_arrays_keep_their_dtype_and_memory(dtype):
    a = np.arange(6).reshape(2, 3).astype(dtype)
    t = Tensor(a)
    assert t.dtype == dtype and t.data is a


def test_numpy_scalar_keeps_its_dtype():
    assert Tensor(np.float64(2.0)).dtype == np.float64
    assert Tensor(np.float64(2.0)).shape == ()


def test_explicit_dtype_and_tensor_function():
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert Tensor(np.ones(2), dtype=np.float32).dtype == np.float32
    t = minicv.tensor([1.0], requires_grad=True)
    assert isinstance(t, Tensor) and t.requires_grad and t.dtype == np.float32


def test_tensor_of_tensor_shares_data():
    a = Tensor([1.0, 2.0])
    assert Tensor(a).data is a.data


@pytest.mark.parametrize("data", [[1, 2], np.arange(3), [True]])
def test_requires_grad_on_non_float_raises(data):
    with pytest.raises(TypeError, match=r"Tensor: only floating-point tensors can require "
                                        r"gradients, got dtype (int64|bool) with shape"):
        Tensor(data, requires_grad=True)


def test_unconvertible_data_raises():
    with pytest.raises(TypeError, match="Tensor: cannot make a tensor from data of dtype <U3"):
        Tensor("abc")


def test_properties():
    t = Tensor(np.zeros((2, 3, 4)), requires_grad=True)
    assert t.shape == (2, 3, 4) and isinstance(t.shape, tuple)
    assert t.ndim == 3 and t.size == 24 and isinstance(t.size, int) and len(t) == 2
    assert t.dtype == np.float64 and t.device == "cpu"
    assert t.is_leaf and t.grad is None and t.grad_fn is None and t.requires_grad
    y = t * 2
    assert not y.is_leaf and y.requires_grad and type(y.grad_fn).__name__ == "Mul"
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(Tensor(1.0))


def test_repr():
    assert repr(Tensor([1.0, 2.0])) == "Tensor([1., 2.])"
    assert repr(Tensor([1.0], requires_grad=True)) == "Tensor([1.], requires_grad=True)"
    assert repr(Tensor(np.array([0.5]))) == "Tensor([0.5], dtype=float64)"
    assert repr(Tensor([1, 2])) == "Tensor([1, 2], dtype=int64)"
    assert repr(leaf([1.0]) * 2) == "Tensor([2.], grad_fn=<Mul>)"


def test_item_numpy_tolist_detach():
    t = Tensor([[2.5]])
    assert t.item() == 2.5 and isinstance(t.item(), float)
    assert isinstance(Tensor([3]).item(), int)
    with pytest.raises(ValueError, match=r"item: only one-element tensors can be converted to a "
                                         r"Python number, got shape \(2,\)"):
        Tensor([1.0, 2.0]).item()
    x = leaf([1.0, 2.0])
    assert isinstance(x.numpy(), np.ndarray)
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0])
    assert x.tolist() == [1.0, 2.0]
    y = x * 3
    d = y.detach()
    assert d.data is y.data and not d.requires_grad and d.grad_fn is None and d.is_leaf
    z = d * 2            # nothing flows back through a detached tensor
    assert not z.requires_grad and z.grad_fn is None


# ---------------------------------------------------------------------------------------------
# Devices
# ---------------------------------------------------------------------------------------------
class FakeGpuArray:
    """A NumPy array in disguise: its type lives in a module named cupy, so it reads as GPU."""

    __module__ = "cupy"

    def __init__(self, host):
        self.host = np.asarray(host)
        self.shape, self.dtype = self.host.shape, self.host.dtype

    def get(self):
        return self.host

    def __mul__(self, other):            # just enough arithmetic for a forward pass
        return FakeGpuArray(self.host * _host(other))

    def __rmul__(self, other):
        return FakeGpuArray(_host(other) * self.host)


def _host(a):
    if isinstance(a, np.ndarray) or not backend.is_array(a):
        return a
    if isinstance(a, FakeGpuArray):
        return a.host
    raise TypeError(f"not a fake GPU array: {type(a)}")


@pytest.fixture
def fake_cupy(monkeypatch):
    """A cupy module with one visible 'GPU' whose arrays are FakeGpuArray."""
    module = types.ModuleType("cupy")
    module.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=lambda: 1))
    module.asarray = lambda a, dtype=None: FakeGpuArray(np.asarray(_host(a), dtype=dtype))
    monkeypatch.setitem(sys.modules, "cupy", module)
    monkeypatch.setattr(backend, "_cupy", None)
    monkeypatch.setattr(backend, "_cupy_problem", None)
    monkeypatch.setattr(backend, "_current", "numpy")
    return module


def test_to_cpu_is_identity():
    x = leaf([1.0])
    assert x.to("cpu") is x


def test_to_unknown_device_raises():
    with pytest.raises(ValueError, match="Tensor.to: device must be 'cpu' or 'gpu', got 'tpu'"):
        leaf([1.0]).to("tpu")


@pytest.mark.skipif(backend.gpu_available(), reason="a GPU is visible here")
def test_to_gpu_without_gpu_raises_backend_error():
    with pytest.raises(BackendError, match="CuPy is not installed|no GPU is visible"):
        leaf([1.0]).to("gpu")


def test_to_moves_data_and_gradient(monkeypatch):
    monkeypatch.setattr(backend, "to_gpu", FakeGpuArray)
    x = leaf([1.0, 2.0])
    (x * 3).backward(np.ones(2, np.float32))
    g = x.to("gpu")
    assert g is not x and type(g) is Tensor and g.device == "gpu"
    assert isinstance(g.data, FakeGpuArray) and isinstance(g.grad, FakeGpuArray)
    np.testing.assert_array_equal(g.grad.host, [3.0, 3.0])
    assert g.requires_grad and g.is_leaf
    assert x.device == "cpu" and isinstance(x.grad, np.ndarray)    # the original is untouched
    back = g.to("cpu")
    assert back.device == "cpu"
    np.testing.assert_array_equal(back.data, [1.0, 2.0])
    np.testing.assert_array_equal(back.grad, [3.0, 3.0])


def test_to_gpu_through_the_backend(fake_cupy):
    x = leaf([1.0, 2.0])
    g = x.to("gpu")
    assert g.device == "gpu" and isinstance(g.data, FakeGpuArray) and g.dtype == np.float32
    assert g.to("gpu") is g
    np.testing.assert_array_equal(g.to("cpu").data, [1.0, 2.0])


@pytest.mark.parametrize("data, number, dtype", [
    ([1.0, 2.0], 2.0, np.float32), (np.array([1.0, 2.0]), 2, np.float64),
    ([1, 2], 3, np.int64), ([True, False], 2, np.int64),
])
def test_python_numbers_join_the_device_of_the_other_inputs(fake_cupy, data, number, dtype):
    # default backend numpy, tensor on the GPU: the number must be put on the GPU too, or the
    # op refuses the mix of devices
    x = Tensor(FakeGpuArray(Tensor(data).data))         # float32, float64, int64, bool
    for y in (x * number, number * x):
        assert y.device == "gpu" and y.dtype == dtype
        np.testing.assert_array_equal(y.data.host, np.asarray(data) * number)


def test_to_on_an_intermediate_gives_a_leaf(monkeypatch):
    monkeypatch.setattr(backend, "to_gpu", FakeGpuArray)
    y = leaf([1.0]) * 2
    moved = y.to("gpu")
    assert moved.grad_fn is None and moved.is_leaf and y.grad_fn is not None


# ---------------------------------------------------------------------------------------------
# Operators
# ---------------------------------------------------------------------------------------------
X = np.array([[1.5, -2.0, 3.0], [0.5, 4.0, -1.0]])
P = np.array([[0.5, 1.0, 2.0], [1.5, 2.5, 0.25]])        # positive, for pow and div


@pytest.mark.parametrize("op, reference", [
    (lambda x: x + 2, lambda x: x + 2), (lambda x: 2 + x, lambda x: 2 + x),
    (lambda x: x - 2, lambda x: x - 2), (lambda x: 2 - x, lambda x: 2 - x),
    (lambda x: x * 2.5, lambda x: x * 2.5), (lambda x: 2.5 * x, lambda x: 2.5 * x),
    (lambda x: x / 4, lambda x: x / 4), (lambda x: 4 / x, lambda x: 4 / x),
    (lambda x: x ** 2, lambda x: x ** 2), (lambda x: 2 ** x, lambda x: 2 ** x),
    (lambda x: -x, lambda x: -x), (lambda x: abs(x), np.abs),
    (lambda x: x + np.float64(1.5), lambda x: x + 1.5),
    (lambda x: np.float64(1.5) * x, lambda x: 1.5 * x),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scalar_operators_keep_the_dtype(op, reference, dtype):
    x = Tensor(P.astype(dtype), requires_grad=True)
    y = op(x)
    assert isinstance(y, Tensor) and y.dtype == dtype and y.requires_grad
    np.testing.assert_allclose(y.data, reference(P.astype(dtype)), rtol=1e-6)


@pytest.mark.parametrize("op", [
    lambda a, t: a + t, lambda a, t: a - t, lambda a, t: a * t, lambda a, t: a / t,
    lambda a, t: a ** t, lambda a, t: t + a, lambda a, t: t - a, lambda a, t: t * a,
    lambda a, t: t / a, lambda a, t: t ** a,
])
def test_operators_with_arrays_on_either_side(op):
    # ndarray (op) Tensor gives a Tensor thanks to __array_priority__, not an object array
    a, t = X + 3.0, Tensor(P, requires_grad=True)       # a > 0, so a ** t is defined
    y = op(a, t)
    assert isinstance(y, Tensor) and y.requires_grad and y.dtype == np.float64
    np.testing.assert_allclose(y.data, op(X + 3.0, P), rtol=1e-12)
    y.backward(np.ones_like(P))
    assert t.grad.shape == P.shape


def test_matmul_both_ways():
    a, w = np.arange(6.0).reshape(2, 3), Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    y = a @ w
    assert isinstance(y, Tensor) and y.requires_grad
    np.testing.assert_allclose(y.data, a @ w.data)
    z = Tensor(a) @ w.data.T[:, :3].T
    np.testing.assert_allclose(z.data, a @ w.data.T[:, :3].T)


@pytest.mark.parametrize("op", [lambda t: t * 2.5, lambda t: 2.5 * t, lambda t: t + 0.5,
                                lambda t: t / 2, lambda t: 1 / t])
def test_integer_tensor_with_a_python_number_gives_float32(op):
    # PyTorch: int64 tensor (op) Python float -> float32, the default float dtype, not float64
    y = op(Tensor([1, 2, 4]))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, op(np.array([1.0, 2.0, 4.0])))


def test_integer_operators_stay_integer():
    y = Tensor([1, 2]) * 3 + Tensor([1, 1])
    assert y.dtype == np.int64 and not y.requires_grad
    np.testing.assert_array_equal(y.data, [4, 7])


def test_truth_value():
    assert bool(Tensor([2.0])) and not bool(Tensor(0.0))
    assert bool(leaf([1.0]) > 0.5)
    with pytest.raises(ValueError, match=r"bool: the truth value of a tensor with 2 elements is "
                                         r"ambiguous \(shape \(2,\)\)"):
        bool(Tensor([1.0, 2.0]))


def test_comparisons_give_bool_tensors_outside_the_graph():
    x, y = leaf([1.0, 2.0, 3.0]), leaf([3.0, 2.0, 1.0])
    for result, expected in [(x < y, [True, False, False]), (x <= y, [True, True, False]),
                             (x > y, [False, False, True]), (x >= y, [False, True, True]),
                             (x == y, [False, True, False]), (x != y, [True, False, True]),
                             (x > 1.5, [False, True, True]),
                             (np.array([2.0, 2.0, 2.0]) > x, [True, False, False])]:
        assert isinstance(result, Tensor) and result.dtype == np.bool_
        assert not result.requires_grad and result.grad_fn is None
        np.testing.assert_array_equal(result.data, expected)
    assert len({x, y, x}) == 2           # hashing stays by identity although == is elementwise


# ---------------------------------------------------------------------------------------------
# Backward: accumulation, broadcasting, the engine's checks
# ---------------------------------------------------------------------------------------------
def test_reused_tensor_accumulates():
    x = leaf([1.0, -2.0, 3.0])
    total(x * x).backward()
    np.testing.assert_allclose(x.grad, [2.0, -4.0, 6.0])
    assert x.grad.dtype == np.float32


def test_diamond_graph():
    x = leaf([1.0, 2.0])
    a, b = x * 2, x * 3          # two paths from x ...
    c = a * b + a                # ... joined twice: c = 6x^2 + 2x
    total(c).backward()
    np.testing.assert_allclose(x.grad, 12 * np.array([1.0, 2.0]) + 2)


def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    total(x * 3).backward()
    total(x * x).backward()
    np.testing.assert_allclose(x.grad, 3 + 2 * np.array([1.0, 2.0]))


def test_leaf_gradients_are_not_aliased():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    g = np.array([1.0, 1.0], np.float32)
    (x + y).backward(g)                  # Add hands the same gy to both inputs
    x.grad += 10                         # in place, as an optimiser might
    np.testing.assert_array_equal(y.grad, [1.0, 1.0])
    np.testing.assert_array_equal(g, [1.0, 1.0])


def test_broadcast_gradients_are_summed_to_the_input_shape():
    x = leaf(np.arange(3.0).reshape(3, 1))          # (3, 1)
    y = leaf(np.arange(4.0))                        # (4,)
    b = leaf(2.0)                                   # ()
    total(x * y + b).backward()
    assert x.grad.shape == (3, 1) and y.grad.shape == (4,) and b.grad.shape == ()
    np.testing.assert_allclose(x.grad, np.full((3, 1), 6.0))
    np.testing.assert_allclose(y.grad, np.full(4, 3.0))
    np.testing.assert_allclose(b.grad, 12.0)


def test_backward_on_a_leaf_and_with_a_list_grad():
    x = leaf([1.0, 2.0])
    x.backward([0.5, 0.25])
    np.testing.assert_allclose(x.grad, [0.5, 0.25])
    assert x.grad.dtype == np.float32


def test_backward_needs_a_grad_for_non_scalars():
    y = leaf([1.0, 2.0]) * 2
    with pytest.raises(RuntimeError, match=r"backward: grad can be omitted only for a "
                                           r"one-element tensor, got shape \(2,\)"):
        y.backward()


def test_backward_of_one_element_non_scalar():
    x = leaf([[3.0]])
    (x * x).backward()
    np.testing.assert_allclose(x.grad, [[6.0]])


def test_backward_with_a_wrong_shaped_grad():
    y = leaf([1.0, 2.0, 3.0]) * 2
    with pytest.raises(ValueError, match=r"backward: grad has shape \(2,\) but the tensor has "
                                         r"shape \(3,\)"):
        y.backward(np.ones(2))


def test_backward_without_requires_grad():
    with pytest.raises(RuntimeError, match="backward: this tensor does not require grad"):
        Tensor([1.0]).backward()


def test_retain_graph():
    x = leaf([1.0, 2.0])
    loss = total(x * x)
    loss.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad, [2.0, 4.0])
    loss.backward()                                  # goes through the graph again ...
    np.testing.assert_allclose(x.grad, [4.0, 8.0])   # ... and accumulates
    with pytest.raises(RuntimeError, match=r"already freed .*retain_graph=True"):
        loss.backward()                              # ... but now the graph is gone


def test_second_backward_without_retain_graph_raises():
    x = leaf([1.0, 2.0])
    loss = total(x.exp())
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        loss.backward()


def test_graph_is_freed_after_backward():
    x = leaf([1.0, 2.0])
    h = x * 2
    loss = total(h.exp() * h)
    functions = functions_in_graph(loss)
    assert len(functions) == 4
    assert any(vars(fn.saved) for fn in functions)
    loss.backward()
    for fn in functions:
        assert fn.saved is None and fn.inputs is None, fn


def test_graph_is_kept_with_retain_graph():
    x = leaf([1.0, 2.0])
    loss = total(x.exp() * x)
    functions = functions_in_graph(loss)
    loss.backward(retain_graph=True)
    for fn in functions:
        assert fn.saved is not None and fn.inputs is not None, fn


def test_graph_is_freed_even_where_no_gradient_arrived():
    class DropsGradient(Function):
        def forward(self, x):
            return 2 * x

        def backward(self, gy):
            return None                      # claims: no gradient for x

    x = leaf([1.0, 2.0])
    h = x * 3                                # its Mul never receives a gradient
    loss = total(DropsGradient.apply(h))
    mul = h.grad_fn
    loss.backward()
    assert x.grad is None
    assert mul.saved is None and mul.inputs is None


def test_nothing_is_saved_without_recording():
    x = Tensor([1.0, 2.0])                   # requires no grad: nothing to record
    y = x * x
    assert y.grad_fn is None and not y.requires_grad
    with no_grad():
        z = leaf([1.0]) * 2
    assert z.grad_fn is None


# ---------------------------------------------------------------------------------------------
# Deep graphs: the backward pass must not recurse
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_long_chain(depth):
    x = leaf([1.0, -3.0], dtype=np.float64)
    y = x
    for i in range(depth):
        y = y * (2.0 if i % 2 == 0 else 0.5)        # exact in binary: the product stays 1
    assert sys.getrecursionlimit() < depth
    total(y).backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])
    np.testing.assert_array_equal(y.data, [1.0, -3.0])


def test_long_chain_dropped_without_backward():
    x = leaf([1.0])
    y = x
    for _ in range(100_000):
        y = y + 1.0
    del y                      # freeing a deep graph must not overflow the C stack either
    assert x.grad is None


def test_wide_graph():
    x = leaf(np.ones(3))
    parts = [x * float(k) for k in range(1000)]
    y = parts[0]
    for p in parts[1:]:
        y = y + p
    total(y).backward()
    np.testing.assert_allclose(x.grad, np.full(3, sum(range(1000))))


# ---------------------------------------------------------------------------------------------
# no_grad
# ---------------------------------------------------------------------------------------------
def test_no_grad_records_nothing_and_nests():
    x = leaf([1.0, 2.0])
    assert is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        y = x * 2
        with no_grad():
            assert not is_grad_enabled()
        assert not is_grad_enabled()
        with enable_grad():
            assert is_grad_enabled()
            z = x * 2
        assert not is_grad_enabled()
    assert is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None


def test_no_grad_restores_after_an_exception():
    with pytest.raises(KeyError):
        with no_grad():
            raise KeyError("boom")
    assert is_grad_enabled()


def test_no_grad_as_a_decorator():
    @no_grad()
    def evaluate(t):
        assert not is_grad_enabled()
        return t * 2

    x = leaf([1.0])
    for _ in range(2):                      # a decorated function can run more than once
        y = evaluate(x)
        assert not y.requires_grad and y.grad_fn is None
        assert is_grad_enabled()


# ---------------------------------------------------------------------------------------------
# Functions: several outputs, optional inputs, integer outputs, needs_input_grad, retain_grad
# ---------------------------------------------------------------------------------------------
def test_multi_output_function_with_one_output_unused():
    x = leaf(np.arange(1.0, 7.0))
    first, second = Halves.apply(x)
    assert first.grad_fn is second.grad_fn and first.shape == second.shape == (3,)
    total(first * first).backward()                      # second never reaches the loss
    g_first, g_second = Halves.received
    np.testing.assert_allclose(g_first, [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(g_second, np.zeros(3))  # missing gradient treated as zeros
    assert g_second.dtype == np.float32
    np.testing.assert_allclose(x.grad, [2.0, 4.0, 6.0, 0.0, 0.0, 0.0])


def test_multi_output_function_backward_from_the_second_output():
    x = leaf(np.arange(1.0, 5.0))
    first, second = Halves.apply(x)
    second.backward(np.array([10.0, 20.0], np.float32))
    np.testing.assert_allclose(x.grad, [0.0, 0.0, 10.0, 20.0])


def test_multi_output_function_both_outputs_used():
    x = leaf(np.arange(1.0, 5.0))
    first, second = Halves.apply(x)
    total(first * 2 + second * 3).backward()
    np.testing.assert_allclose(x.grad, [2.0, 2.0, 3.0, 3.0])


def test_function_with_none_input():
    x, w = leaf(np.ones((2, 3))), leaf(np.arange(12.0).reshape(3, 4))
    y = Affine.apply(x, w, None)
    assert Affine.seen_needs == (True, True, False)
    total(y).backward()
    np.testing.assert_allclose(w.grad, np.full((3, 4), 2.0))
    np.testing.assert_allclose(x.grad, np.tile(np.arange(12.0).reshape(3, 4).sum(1), (2, 1)))
    b = leaf(np.zeros(4))
    total(Affine.apply(x, w, b)).backward()
    np.testing.assert_allclose(b.grad, np.full(4, 2.0))


def test_needs_input_grad_content():
    x = leaf(np.ones((2, 3)))
    Affine.apply(Tensor(np.ones((2, 3), np.float32)), x.data.T.copy(), None)
    assert Affine.seen_needs == (False, False, False)
    Affine.apply(np.ones((2, 3), np.float32), Tensor(np.ones((3, 2), np.float32),
                                                     requires_grad=True), 1.0)
    assert Affine.seen_needs == (False, True, False)


def test_needs_input_grad_skips_unneeded_gradients():
    w = leaf(np.ones((3, 2)))
    y = Affine.apply(np.ones((4, 3), np.float32), w, None)   # x is a constant array
    total(y).backward()
    np.testing.assert_allclose(w.grad, np.full((3, 2), 4.0))


def test_integer_outputs_never_require_grad():
    x = leaf([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    values, index = ArgmaxAndMax.apply(x)
    assert values.requires_grad and values.grad_fn is not None
    assert index.dtype == np.int64 and not index.requires_grad and index.grad_fn is None
    total(values).backward()
    np.testing.assert_array_equal(x.grad, [[0, 1, 0], [1, 0, 0]])


def test_retain_grad_on_intermediates():
    x = leaf([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    k = h * 2                    # not retained
    loss = total(h * h + k)
    loss.retain_grad()
    loss.backward()
    np.testing.assert_allclose(h.grad, 2 * np.array([3.0, 6.0]) + 2)   # both uses summed
    assert k.grad is None
    np.testing.assert_allclose(loss.grad, 1.0)
    np.testing.assert_allclose(x.grad, 3 * h.grad)


def test_backward_returning_the_wrong_number_of_gradients():
    class TwoForOne(Function):
        def forward(self, x):
            return x * 1

        def backward(self, gy):
            return gy, gy

    with pytest.raises(RuntimeError, match="TwoForOne.backward returned 2 gradients for 1 inputs"):
        total(TwoForOne.apply(leaf([1.0]))).backward()


@pytest.mark.parametrize("input_shape, grad_shape", [((3,), (4,)), ((2, 3), (3, 2)),
                                                     ((2, 3), (6,))])
def test_backward_returning_a_wrong_shape_is_refused(input_shape, grad_shape):
    class WrongShape(Function):
        def forward(self, x):
            return x * 1

        def backward(self, gy):
            return np.ones(grad_shape, gy.dtype)

    x = leaf(np.ones(input_shape))
    pattern = (rf"WrongShape.backward returned a gradient of shape "
               rf"{tuple(grad_shape)} for input 0 of shape {tuple(input_shape)}")
    with pytest.raises(RuntimeError, match=pattern.replace("(", r"\(").replace(")", r"\)")):
        total(WrongShape.apply(x)).backward()


def test_backward_gradient_is_cast_to_the_input_dtype():
    class Float64Grad(Function):
        def forward(self, x):
            return x * 1

        def backward(self, gy):
            return gy.astype(np.float64)

    x = leaf([1.0, 2.0])
    total(Float64Grad.apply(x)).backward()
    assert x.grad.dtype == np.float32


def test_user_function_passes_gradcheck():
    x = np.random.default_rng(0).normal(size=(3, 4)) * 3
    assert gradcheck(Softplus.apply, [x])
    assert gradcheck(lambda t: Softplus.apply(t * t), [x])
    w = np.random.default_rng(1).normal(size=(4, 2))
    b = np.random.default_rng(2).normal(size=(2,))
    assert gradcheck(Affine.apply, [x, w, b])
    assert gradcheck(lambda a, c: Affine.apply(a, c, None), [x, w])


def test_user_function_float32_stays_float32():
    x = leaf([[-1.0, 0.0, 2.0]])
    y = Softplus.apply(x)
    assert y.dtype == np.float32
    total(y).backward()
    np.testing.assert_allclose(x.grad, 1 / (1 + np.exp(-np.array([[-1.0, 0.0, 2.0]]))),
                               rtol=1e-6)


def test_leaf_gradients_never_share_memory():
    # Add hands the same gy to both inputs, and Reshape hands back a view: each leaf must still
    # own its gradient, since optimisers and clip_grad_norm_ update .grad in place.
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.ones((2, 3)), requires_grad=True)
    c = Tensor(np.ones(6), requires_grad=True)
    y = a + b + c.reshape(2, 3)
    y.backward(np.full((2, 3), 2.0))
    a.grad *= 10
    np.testing.assert_array_equal(b.grad, np.full((2, 3), 2.0))
    np.testing.assert_array_equal(c.grad, np.full(6, 2.0))
    assert c.grad.base is None and not np.shares_memory(a.grad, b.grad)


def test_integer_tensors_meeting_float32_tensors_stay_float32():
    # PyTorch's promotion: int64 labels * float32 scores is float32 (NumPy alone gives float64)
    import minicv.functional as F
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    labels = Tensor(np.arange(3))
    mask = np.array([True, False, True])
    for y in (labels * x, x / (labels + 1), labels + x, x - np.arange(3), x ** Tensor([1, 2, 3]),
              F.where(mask, x, np.arange(3)), F.concatenate([x, np.arange(2)]),
              F.stack([x, np.arange(3)]), mask * x):
        assert y.dtype == np.float32
    (labels * x).sum().backward()
    assert x.grad.dtype == np.float32
