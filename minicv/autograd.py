"""The autograd engine: Tensor, Function, backward, no_grad.

A :class:`Tensor` wraps an array (``data``, NumPy or CuPy) and, when it was computed by an op
from tensors that require gradients, remembers the :class:`Function` that made it
(``grad_fn``). Calling ``loss.backward()`` walks those functions from ``loss`` back to the
leaves in reverse topological order, asking each for the gradient of its inputs given the
gradient of its outputs (the chain rule, one vector-Jacobian product at a time):

    dL/dx = sum over the ops f that used x of  (df/dx)^T  dL/df

How to write an op (and so how to write your own layer -- see docs/own_layer.md)::

    class Square(Function):
        def forward(self, x):            # raw arrays in, raw arrays out
            self.save(x=x)               # keep, by name, what backward needs
            return x * x

        def backward(self, gy):          # dL/dy in, one dL/d(input) per input out
            return 2 * self.saved.x * gy

    y = Square.apply(x)                  # a Tensor with y.grad_fn = the Square instance

Gradients are first order: ``backward`` works on raw arrays, so the backward pass is not
itself recorded. Gradients are stored as raw arrays in ``leaf.grad``.
"""
from __future__ import annotations

import contextlib
from types import SimpleNamespace

import numpy as np

from minicv import backend

__all__ = ["Tensor", "Function", "no_grad", "enable_grad", "is_grad_enabled", "tensor"]

# ---------------------------------------------------------------------------------------------
# Recording on/off
# ---------------------------------------------------------------------------------------------
_grad_enabled = True


def is_grad_enabled() -> bool:
    """True while ops record the graph (everywhere except inside ``no_grad()``)."""
    return _grad_enabled


@contextlib.contextmanager
def _set_grad_enabled(mode: bool):
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, mode
    try:
        yield
    finally:
        _grad_enabled = previous


def no_grad():
    """Context manager (and decorator) in which ops record no graph: for evaluation and updates.

    >>> x = Tensor([1.0, 2.0], requires_grad=True)
    >>> with no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """
    return _set_grad_enabled(False)


def enable_grad():
    """Context manager that turns recording back on inside a ``no_grad()`` block."""
    return _set_grad_enabled(True)


# ---------------------------------------------------------------------------------------------
# Converting user data to arrays
# ---------------------------------------------------------------------------------------------
def _as_array(data, dtype=None):
    """An ndarray for ``data``: arrays keep their dtype (float64 stays float64); Python numbers
    and lists become float32 if they hold floats, int64 if integers, bool if booleans."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.generic):   # a NumPy scalar (from a 0-d result): keep its dtype
        data = np.asarray(data)
    if backend.is_array(data):
        return data if dtype is None or data.dtype == dtype else data.astype(dtype)
    xp = backend.get_array_module()
    host = np.asarray(data)
    if dtype is None:
        if host.dtype.kind == "f":
            dtype = np.float32
        elif host.dtype.kind in "iu":
            dtype = np.int64
        elif host.dtype.kind == "b":
            dtype = np.bool_
        else:
            raise TypeError(f"Tensor: cannot make a tensor from data of dtype {host.dtype} "
                            f"(type {type(data).__name__}); use numbers or numeric arrays")
    return xp.asarray(host.astype(dtype, copy=False))


def _is_float(dtype) -> bool:
    return np.dtype(dtype).kind == "f"


# ---------------------------------------------------------------------------------------------
# Tensor
# ---------------------------------------------------------------------------------------------
class Tensor:
    """An array that can remember how it was computed.

    Parameters
    ----------
    data : array_like
        A NumPy or CuPy array (kept as it is, dtype included), or numbers/lists (converted to
        float32 -- or int64 for integers -- on the default backend).
    requires_grad : bool
        Whether ``backward()`` should compute ``dL/d(this tensor)`` into ``.grad``.
    dtype : dtype, optional
        Convert the data to this dtype.

    Attributes
    ----------
    data : ndarray           the values
    grad : ndarray or None   dL/d(data) after ``backward()`` (leaves, and tensors that called
                             ``retain_grad()``); a raw array of the same shape and dtype
    requires_grad : bool
    grad_fn : Function or None   the op that produced this tensor (None for leaves)
    """

    __array_priority__ = 1000   # so that ``ndarray + Tensor`` calls Tensor.__radd__
    __hash__ = object.__hash__  # == is elementwise (as in PyTorch); hashing stays by identity

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        self.data = _as_array(data, dtype)
        if requires_grad and not _is_float(self.data.dtype):
            raise TypeError(f"Tensor: only floating-point tensors can require gradients, "
                            f"got dtype {self.data.dtype} with shape {tuple(self.data.shape)}")
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self.grad_fn = None
        self._output_index = 0      # which output of grad_fn this tensor is
        self._retains_grad = False

    # --- properties ------------------------------------------------------------------------
    shape = property(lambda self: tuple(self.data.shape))
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: int(self.data.size))
    device = property(lambda self: backend.device_of(self.data), doc='"cpu" or "gpu"')
    is_leaf = property(lambda self: self.grad_fn is None,
                       doc="True for tensors not produced by a recorded op")

    def __bool__(self):
        if self.size != 1:
            raise ValueError(f"bool: the truth value of a tensor with {self.size} elements is "
                             f"ambiguous (shape {self.shape}); reduce it first (.data.any())")
        return bool(self.data.reshape(()).item())

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        body = np.array2string(backend.to_cpu(self.data), separator=", ", prefix="Tensor(")
        extra = ""
        if self.dtype != np.float32:
            extra += f", dtype={self.dtype}"
        if self.device != "cpu":
            extra += f", device='{self.device}'"
        if self.grad_fn is not None:
            extra += f", grad_fn=<{type(self.grad_fn).__name__}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    # --- leaving the graph -----------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (copied from the GPU if needed; not tracked)."""
        return backend.to_cpu(self.data)

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted to a Python "
                             f"number, got shape {self.shape}")
        return self.data.reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def detach(self) -> "Tensor":
        """A new tensor sharing the data, cut from the graph (requires_grad=False)."""
        return Tensor(self.data)

    def to(self, device: str) -> "Tensor":
        """This tensor on ``device`` ("cpu" or "gpu"), its gradient moved along with it.

        Returns ``self`` when it is already there; otherwise a new leaf of the same class.
        """
        if device not in ("cpu", "gpu"):
            raise ValueError(f"Tensor.to: device must be 'cpu' or 'gpu', got {device!r}")
        if device == self.device:
            return self
        move = backend.to_gpu if device == "gpu" else backend.to_cpu
        out = Tensor.__new__(type(self))
        out.__dict__.update(self.__dict__)
        out.data = move(self.data)
        out.grad = None if self.grad is None else move(self.grad)
        out.grad_fn, out._output_index = None, 0
        return out

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor during ``backward()``."""
        self._retains_grad = True

    # --- backward ---------------------------------------------------------------------------
    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Compute dL/dx for every leaf x that requires grad, with L this tensor.

        Parameters
        ----------
        grad : array_like, optional
            dL/d(self), same shape as self. May be omitted only for a one-element tensor
            (then it is 1).
        retain_graph : bool
            Keep the graph (and the arrays ops saved) so backward can run through it again.
            By default it is freed as it is walked.
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no grad_fn "
                               "(did you build it inside no_grad(), or from detached tensors?)")
        xp = backend.get_array_module(self.data)
        if grad is None:
            if self.size != 1:
                raise RuntimeError(f"backward: grad can be omitted only for a one-element "
                                   f"tensor, got shape {self.shape}; pass grad=dL/dself")
            grad = xp.ones_like(self.data)
        else:
            grad = _as_array(grad, self.dtype)
            backend.get_array_module(self.data, grad, op="backward")
            if tuple(grad.shape) != self.shape:
                raise ValueError(f"backward: grad has shape {tuple(grad.shape)} but the tensor "
                                 f"has shape {self.shape}")
        _run_backward(self, grad, retain_graph)

    # --- operators (each is an op in minicv.functional) -------------------------------------
    def __add__(self, other): return F.add(self, other)
    def __radd__(self, other): return F.add(other, self)
    def __sub__(self, other): return F.sub(self, other)
    def __rsub__(self, other): return F.sub(other, self)
    def __mul__(self, other): return F.mul(self, other)
    def __rmul__(self, other): return F.mul(other, self)
    def __truediv__(self, other): return F.div(self, other)
    def __rtruediv__(self, other): return F.div(other, self)
    def __pow__(self, exponent): return F.pow(self, exponent)
    def __rpow__(self, base): return F.pow(base, self)
    def __matmul__(self, other): return F.matmul(self, other)
    def __rmatmul__(self, other): return F.matmul(other, self)
    def __neg__(self): return F.neg(self)
    def __abs__(self): return F.abs(self)
    def __getitem__(self, index): return F.getitem(self, index)

    # Comparisons give boolean tensors outside the graph.
    def _compare(self, other, op):
        other = other.data if isinstance(other, Tensor) else other
        return Tensor(op(self.data, other))

    def __lt__(self, other): return self._compare(other, lambda a, b: a < b)
    def __le__(self, other): return self._compare(other, lambda a, b: a <= b)
    def __gt__(self, other): return self._compare(other, lambda a, b: a > b)
    def __ge__(self, other): return self._compare(other, lambda a, b: a >= b)
    def __eq__(self, other): return self._compare(other, lambda a, b: a == b)
    def __ne__(self, other): return self._compare(other, lambda a, b: a != b)

    # --- methods (thin wrappers around minicv.functional) -----------------------------------
    def exp(self): return F.exp(self)
    def log(self): return F.log(self)
    def sqrt(self): return F.sqrt(self)
    def abs(self): return F.abs(self)
    def relu(self): return F.relu(self)
    def sigmoid(self): return F.sigmoid(self)
    def tanh(self): return F.tanh(self)
    def softmax(self, axis=-1): return F.softmax(self, axis=axis)
    def log_softmax(self, axis=-1): return F.log_softmax(self, axis=axis)
    def clip(self, min=None, max=None): return F.clip(self, min, max)
    def sum(self, axis=None, keepdims=False): return F.sum(self, axis=axis, keepdims=keepdims)
    def mean(self, axis=None, keepdims=False): return F.mean(self, axis=axis, keepdims=keepdims)
    def max(self, axis=None, keepdims=False): return F.max(self, axis=axis, keepdims=keepdims)
    def min(self, axis=None, keepdims=False): return F.min(self, axis=axis, keepdims=keepdims)
    def flatten(self, start_dim=0, end_dim=-1): return F.flatten(self, start_dim, end_dim)

    def reshape(self, *shape):
        return F.reshape(self, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)

    def transpose(self, *axes):
        return F.transpose(self, axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else (axes or None))

    def permute(self, *axes):
        return F.permute(self, axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes)

    @property
    def T(self):
        return F.transpose(self)


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Same as ``Tensor(data, requires_grad, dtype)`` (PyTorch's spelling)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# Function: one op, forward and backward on raw arrays
# ---------------------------------------------------------------------------------------------
class Function:
    """Base class of every op. Subclass it and write ``forward`` and ``backward``.

    ``forward(self, *arrays, **params)`` receives raw arrays (``None`` where an optional input
    such as a bias was not given) plus keyword hyper-parameters, saves what backward needs with
    ``self.save(name=array)`` and returns an array or a tuple of arrays.

    ``backward(self, *gys)`` receives one gradient array per output (zeros for outputs that did
    not reach the loss) and returns one gradient per input -- ``None`` for inputs that take no
    gradient (integer indices, or inputs with ``self.needs_input_grad[i]`` False). A gradient may
    have a broadcast shape: the engine sums it back to the input's shape.

    Call an op with ``MyOp.apply(*inputs, **params)``; inputs may be Tensors, arrays or numbers.
    """

    def __init__(self):
        self.saved = SimpleNamespace()   # what backward needs, by name; freed after backward
        self.inputs = None               # the input Tensors (None once the graph is freed)
        self.needs_input_grad = ()       # for each input: does it want a gradient?
        self.outputs_meta = ()           # (shape, dtype) of each output, for missing gradients

    def save(self, **arrays) -> None:
        """Keep arrays for backward: ``self.save(x=x)`` then ``self.saved.x``."""
        vars(self.saved).update(arrays)

    def forward(self, *arrays, **params):
        raise NotImplementedError(f"{type(self).__name__} must define forward")

    def backward(self, *gys):
        raise NotImplementedError(f"{type(self).__name__} must define backward")

    @classmethod
    def apply(cls, *inputs, **params):
        fn = cls()
        tensors = _lift_inputs(inputs)
        arrays = [None if t is None else t.data for t in tensors]
        backend.get_array_module(*arrays, op=cls.__name__)   # refuse mixed cpu/gpu inputs
        fn.needs_input_grad = tuple(t is not None and t.requires_grad for t in tensors)

        outputs = fn.forward(*arrays, **params)

        single = not isinstance(outputs, tuple)
        outputs = (outputs,) if single else outputs
        record = _grad_enabled and any(fn.needs_input_grad)
        results = []
        for i, out in enumerate(outputs):
            t = Tensor(out)
            if record and _is_float(t.dtype):
                t.requires_grad, t.grad_fn, t._output_index = True, fn, i
            results.append(t)
        if record:
            fn.inputs = tensors
            fn.outputs_meta = tuple((out.shape, out.dtype) for out in outputs)
        else:
            fn.saved = None                                    # nothing will call backward
        return results[0] if single else tuple(results)

    def __repr__(self):
        return f"<{type(self).__name__}>"


def _lift_inputs(inputs):
    """Tensors stay; arrays become constant Tensors; Python numbers become constant Tensors on
    the device of the other inputs, with the dtype of their floating input (so ``x * 2`` keeps
    x float32, or float64). As in PyTorch, an integer tensor meeting a Python float becomes
    float32 (``labels * 0.5``), not NumPy's float64."""
    arrays = [x.data if isinstance(x, Tensor) else x for x in inputs
              if isinstance(x, Tensor) or backend.is_array(x)]
    like = next((a for a in arrays if _is_float(a.dtype)), None)
    if like is None and any(isinstance(x, (float, np.floating)) for x in inputs):
        inputs = [Tensor(_as_array(x).astype(np.float32))
                  if (isinstance(x, Tensor) or backend.is_array(x)) and x.dtype.kind in "iub"
                  else x for x in inputs]
        like = next((x.data for x in inputs if isinstance(x, Tensor)), None)
    home = like if like is not None else next(iter(arrays), None)   # numbers go where it lives
    lifted = []
    for x in inputs:
        if x is None or isinstance(x, Tensor):
            lifted.append(x)
        elif backend.is_array(x):
            lifted.append(Tensor(x))
        elif isinstance(x, (bool, int, float, np.number)):
            dtype = like.dtype if like is not None else _as_array(x).dtype
            xp = backend.get_array_module(*([] if home is None else [home]))
            lifted.append(Tensor(xp.asarray(x, dtype=dtype)))
        else:
            lifted.append(Tensor(x))
    return lifted


# ---------------------------------------------------------------------------------------------
# The backward pass
# ---------------------------------------------------------------------------------------------
def _topological_order(root: Function) -> list:
    """Functions reachable from ``root``, each before every function that made its inputs.

    An explicit stack instead of recursion, so a chain of 100,000 ops works.
    """
    order, visited = [], {root}
    stack = [(root, iter(_graph_inputs(root)))]
    while stack:
        fn, children = stack[-1]
        for child in children:
            if child not in visited:
                visited.add(child)
                stack.append((child, iter(_graph_inputs(child))))
                break
        else:                     # every input's function is placed: place this one
            stack.pop()
            order.append(fn)
    order.reverse()               # post-order reversed = outputs before inputs
    return order


def _graph_inputs(fn: Function):
    if fn.inputs is None:
        raise RuntimeError(f"backward: the graph through {type(fn).__name__} was already freed "
                           "by an earlier backward(); pass retain_graph=True to the first call "
                           "to go through it twice")
    return [t.grad_fn for t in fn.inputs
            if t is not None and t.requires_grad and t.grad_fn is not None]


def _fit_gradient(gx, t: Tensor, fn: Function, i: int):
    """Check an op's gradient for input ``i`` and bring it to the input's shape and dtype."""
    if tuple(gx.shape) != t.shape:
        try:
            gx = backend.sum_to(gx, t.shape)    # undo broadcasting
        except ValueError:
            raise RuntimeError(f"{type(fn).__name__}.backward returned a gradient of shape "
                               f"{tuple(gx.shape)} for input {i} of shape {t.shape}") from None
    if gx.dtype != t.dtype:
        gx = gx.astype(t.dtype)
    return gx


def _accumulate(current, g):
    # Out of place: an op may hand the same array to several inputs (add returns gy twice).
    return g if current is None else current + g


def _own(g, shared: set):
    """``g`` itself, or a copy if it is a view or an array that is also held elsewhere: a
    tensor's ``.grad`` must own its memory, since optimisers update it in place."""
    if g.base is not None or id(g) in shared:
        g = g.copy()
    shared.add(id(g))
    return g


def _run_backward(root: Tensor, grad, retain_graph: bool) -> None:
    if root.grad_fn is None:                      # a leaf: dL/dL = grad
        root.grad = _accumulate(root.grad, grad.copy())
        return
    shared = {id(grad)}                           # arrays a .grad must not keep as its own
    order = _topological_order(root.grad_fn)
    # pending[fn][k] = dL/d(output k of fn), summed over every consumer seen so far
    pending = {root.grad_fn: [None] * len(root.grad_fn.outputs_meta)}
    pending[root.grad_fn][root._output_index] = grad
    if root._retains_grad:
        root.grad = _accumulate(root.grad, grad.copy())
    for fn in order:
        gys = pending.pop(fn, None)
        if gys is None:                           # no gradient reached it (all None upstream)
            if not retain_graph:
                fn.saved, fn.inputs = None, None
            continue
        xp = backend.get_array_module(*[g for g in gys if g is not None])
        gys = [xp.zeros(shape, dtype) if g is None and _is_float(dtype) else g
               for g, (shape, dtype) in zip(gys, fn.outputs_meta)]   # integer outputs: None
        shared.update(id(g) for g in gys)
        gxs = fn.backward(*gys)
        if not isinstance(gxs, tuple):
            gxs = (gxs,)
        if len(gxs) != len(fn.inputs):
            raise RuntimeError(f"{type(fn).__name__}.backward returned {len(gxs)} gradients "
                               f"for {len(fn.inputs)} inputs")
        for i, (t, gx) in enumerate(zip(fn.inputs, gxs)):
            if t is None or gx is None or not t.requires_grad:
                continue
            gx = _fit_gradient(gx, t, fn, i)
            if t.grad_fn is None:                 # a leaf: store the gradient
                t.grad = _own(gx, shared) if t.grad is None else t.grad + gx
            else:                                 # an intermediate: pass it on
                slots = pending.setdefault(t.grad_fn, [None] * len(t.grad_fn.outputs_meta))
                slots[t._output_index] = _accumulate(slots[t._output_index], gx)
                if t._retains_grad:
                    t.grad = _own(gx, shared) if t.grad is None else t.grad + gx
        if not retain_graph:                      # free the saved arrays and the links
            fn.saved, fn.inputs = None, None


# Tensor's operators call the ops in minicv.functional, which itself imports Tensor and
# Function from this module; importing it last, once both classes exist, breaks the cycle.
from minicv import functional as F  # noqa: E402
