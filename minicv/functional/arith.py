"""Elementwise arithmetic and math: add, sub, mul, div, neg, pow, matmul, exp, log, sqrt, abs,
clip, where.

Binary ops broadcast like NumPy. Their backward returns the gradient at the broadcast shape; the
engine (``autograd._fit_gradient``) sums it back to each input's shape, so the ops here state
only the calculus:

    y = a + b   ->  ga = gy,        gb = gy
    y = a * b   ->  ga = gy * b,    gb = gy * a
    y = a / b   ->  ga = gy / b,    gb = -gy * a / b^2

Notation: ``gy`` is dL/dy, the gradient arriving from the loss; ``ga``, ``gb``, ``gx`` are what
backward returns.
"""
from __future__ import annotations

from minicv import backend
from minicv.autograd import Function, Tensor

__all__ = ["add", "sub", "mul", "div", "neg", "pow", "matmul", "exp", "log", "sqrt", "abs",
           "clip", "where"]


def promote(*arrays):
    """Integer and boolean arrays meeting a float array take the float dtype, as in PyTorch
    (int64 labels * float32 scores is float32) -- NumPy alone would give float64."""
    floats = [a.dtype for a in arrays if a is not None and a.dtype.kind == "f"]
    if not floats:
        return arrays
    dtype = floats[0] if len(set(floats)) == 1 else backend.get_array_module(
        *arrays).result_type(*floats)
    return tuple(a.astype(dtype) if a is not None and a.dtype.kind in "iub" else a
                 for a in arrays)


class Add(Function):
    def forward(self, a, b):
        a, b = promote(a, b)
        return a + b

    def backward(self, gy):
        # d(a + b)/da = d(a + b)/db = 1
        return gy, gy


class Sub(Function):
    def forward(self, a, b):
        a, b = promote(a, b)
        return a - b

    def backward(self, gy):
        # d(a - b)/da = 1, d(a - b)/db = -1
        return gy, -gy


class Mul(Function):
    def forward(self, a, b):
        a, b = promote(a, b)
        self.save(a=a, b=b)
        return a * b

    def backward(self, gy):
        # d(ab)/da = b, d(ab)/db = a
        a, b = self.saved.a, self.saved.b
        ga = gy * b if self.needs_input_grad[0] else None
        gb = gy * a if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    def forward(self, a, b):
        if a.dtype.kind in "iub" and b.dtype.kind in "iub":   # true division of integers:
            a, b = a.astype("float32"), b.astype("float32")   # float32, as PyTorch
        a, b = promote(a, b)
        self.save(a=a, b=b)
        return a / b

    def backward(self, gy):
        # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
        a, b = self.saved.a, self.saved.b
        ga = gy / b if self.needs_input_grad[0] else None
        gb = -gy * a / (b * b) if self.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Pow(Function):
    """y = a ** b for a tensor base and a tensor (or number) exponent."""

    def forward(self, a, b):
        a, b = promote(a, b)
        y = a ** b
        self.save(a=a, b=b, y=y)
        return y

    def backward(self, gy):
        # d(a^b)/da = b a^(b-1);  d(a^b)/db = a^b log(a)  (defined for a > 0)
        a, b, y = self.saved.a, self.saved.b, self.saved.y
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = gy * b * a ** (b - 1)
        if self.needs_input_grad[1]:
            xp = backend.get_array_module(a)
            gb = gy * y * xp.log(xp.where(a > 0, a, 1))   # 0 where a <= 0 (as PyTorch's 0^b)
        return ga, gb


class MatMul(Function):
    """y = a @ b with NumPy's rules: 1-D operands are promoted, leading axes broadcast."""

    def forward(self, a, b):
        self.save(a=a, b=b)
        return a @ b

    def backward(self, gy):
        # For 2-D: ga = gy b^T (M, K), gb = a^T gy (K, N). Promote 1-D operands to matrices so
        # one formula covers all cases, then drop the added axes again.
        xp = backend.get_array_module(gy)
        a, b = self.saved.a, self.saved.b
        a2 = a[None, :] if a.ndim == 1 else a                   # (..., M, K)
        b2 = b[:, None] if b.ndim == 1 else b                   # (..., K, N)
        gy2 = gy
        if b.ndim == 1:
            gy2 = gy2[..., None]                                # (..., M, 1)
        if a.ndim == 1:
            gy2 = gy2[..., None, :]                             # (..., 1, N)
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = gy2 @ xp.swapaxes(b2, -1, -2)                   # (..., M, K)
            ga = backend.sum_to(ga, a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            gb = xp.swapaxes(a2, -1, -2) @ gy2                   # (..., K, N)
            gb = backend.sum_to(gb, b2.shape).reshape(b.shape)
        return ga, gb


class Exp(Function):
    def forward(self, x):
        y = backend.get_array_module(x).exp(x)
        self.save(y=y)
        return y

    def backward(self, gy):
        # d(e^x)/dx = e^x = y
        return gy * self.saved.y


class Log(Function):
    def forward(self, x):
        self.save(x=x)
        return backend.get_array_module(x).log(x)

    def backward(self, gy):
        # d(log x)/dx = 1/x
        return gy / self.saved.x


class Sqrt(Function):
    def forward(self, x):
        y = backend.get_array_module(x).sqrt(x)
        self.save(y=y)
        return y

    def backward(self, gy):
        # d(sqrt x)/dx = 1 / (2 sqrt x)
        return gy / (2 * self.saved.y)


class Abs(Function):
    def forward(self, x):
        self.save(x=x)
        return backend.get_array_module(x).abs(x)

    def backward(self, gy):
        # d|x|/dx = sign(x) (0 at x = 0, as PyTorch)
        return gy * backend.get_array_module(gy).sign(self.saved.x)


class Clip(Function):
    def forward(self, x, min=None, max=None):
        xp = backend.get_array_module(x)
        inside = xp.ones(x.shape, dtype=bool)
        if min is not None:
            inside &= x >= min
        if max is not None:
            inside &= x <= max
        self.save(inside=inside)
        return xp.clip(x, min, max)

    def backward(self, gy):
        # 1 where min <= x <= max, else 0 (the bounds themselves pass the gradient, as PyTorch)
        return gy * self.saved.inside


class Where(Function):
    def forward(self, condition, a, b):
        a, b = promote(a, b)
        self.save(condition=condition)
        return backend.get_array_module(a, b).where(condition, a, b)

    def backward(self, gy):
        # y takes a where condition holds, b elsewhere; the condition gets no gradient
        c = self.saved.condition
        zero = gy.dtype.type(0)
        ga = backend.get_array_module(gy).where(c, gy, zero) if self.needs_input_grad[1] else None
        gb = backend.get_array_module(gy).where(c, zero, gy) if self.needs_input_grad[2] else None
        return None, ga, gb


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------
def add(a, b) -> Tensor:
    """a + b, broadcasting. ``a``, ``b``: Tensors, arrays or numbers."""
    return Add.apply(a, b)


def sub(a, b) -> Tensor:
    """a - b, broadcasting."""
    return Sub.apply(a, b)


def mul(a, b) -> Tensor:
    """a * b elementwise, broadcasting."""
    return Mul.apply(a, b)


def div(a, b) -> Tensor:
    """a / b elementwise, broadcasting."""
    return Div.apply(a, b)


def neg(x) -> Tensor:
    """-x."""
    return Neg.apply(x)


def pow(a, b) -> Tensor:
    """a ** b elementwise. The gradient for the exponent uses log(a) and is 0 where a <= 0."""
    return Pow.apply(a, b)


def matmul(a, b) -> Tensor:
    """Matrix product with NumPy's ``@`` rules.

    Parameters
    ----------
    a : (..., M, K) or (K,)
    b : (..., K, N) or (K,)

    Returns
    -------
    (..., M, N), with the axes of 1-D operands removed.
    """
    a_shape = a.shape if hasattr(a, "shape") else ()
    b_shape = b.shape if hasattr(b, "shape") else ()
    if len(a_shape) == 0 or len(b_shape) == 0:
        raise ValueError(f"matmul: operands must be at least 1-D, got a {tuple(a_shape)} and "
                         f"b {tuple(b_shape)}")
    if a_shape[-1] != b_shape[0 if len(b_shape) == 1 else -2]:
        raise ValueError(f"matmul: inner dimensions differ: a {tuple(a_shape)} @ b "
                         f"{tuple(b_shape)}")
    return MatMul.apply(a, b)


def exp(x) -> Tensor:
    """e ** x elementwise."""
    return Exp.apply(x)


def log(x) -> Tensor:
    """Natural logarithm elementwise."""
    return Log.apply(x)


def sqrt(x) -> Tensor:
    """Square root elementwise."""
    return Sqrt.apply(x)


def abs(x) -> Tensor:
    """|x| elementwise; the gradient at 0 is 0."""
    return Abs.apply(x)


def clip(x, min=None, max=None) -> Tensor:
    """Limit x to [min, max] (either may be None), as torch.clamp.

    The gradient is 1 where min <= x <= max and 0 where x was clipped.
    """
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    return Clip.apply(x, min=min, max=max)


def where(condition, a, b) -> Tensor:
    """Elementwise ``a if condition else b``, broadcasting all three.

    ``condition`` is a boolean Tensor or array and receives no gradient.
    """
    cond = condition.data if isinstance(condition, Tensor) else condition
    if not backend.is_array(cond):
        cond = backend.get_array_module().asarray(cond)
    if cond.dtype != bool:
        raise TypeError(f"where: condition must be boolean, got dtype {cond.dtype} with shape "
                        f"{tuple(cond.shape)}")
    return Where.apply(cond, a, b)
