"""Activations: relu, leaky_relu, sigmoid, tanh, softmax, log_softmax, dropout.

Elementwise activations save what their derivative needs -- the sign of x for the ReLUs, the
output y for sigmoid and tanh, whose derivatives are functions of y alone:

    relu:        y = max(x, 0)                  dy/dx = 1 if x > 0 else 0
    leaky_relu:  y = x if x > 0 else a x        dy/dx = 1 if x > 0 else a
    sigmoid:     y = 1 / (1 + e^-x)             dy/dx = y (1 - y)
    tanh:        y = tanh x                     dy/dx = 1 - y^2

softmax and log_softmax act along one axis. Both subtract the maximum before exponentiating
(softmax is unchanged by a shift, and e^(x - max) <= 1 cannot overflow), so logits of 1e4 stay
finite. Their vector-Jacobian products need one reduction along the axis:

    softmax:      y = e^x / sum e^x             gx = y * (gy - sum(gy * y))
    log_softmax:  y = x - log sum e^x           gx = gy - softmax(x) * sum(gy)

dropout (Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from Overfitting",
JMLR 2014) is "inverted": kept activations are scaled by 1 / (1 - p) during training so that
evaluation is the identity.

Notation: ``gy`` is dL/dy, the gradient arriving from the loss; ``gx`` is what backward returns.
"""
from __future__ import annotations

import numpy as np

from minicv import backend
from minicv.autograd import Function, Tensor

__all__ = ["relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax", "dropout"]


# ---------------------------------------------------------------------------------------------
# Array helpers (also used by minicv.functional.loss)
# ---------------------------------------------------------------------------------------------
def _sigmoid(x):
    """1 / (1 + e^-x) without overflow: only e^-|x| <= 1 is ever computed.

    For x >= 0 it is 1 / (1 + e^-|x|); for x < 0 the same fraction times e^x / e^x,
    e^-|x| / (1 + e^-|x|).
    """
    xp = backend.get_array_module(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _log_softmax(x, axis):
    """x - log(sum(e^x)) along ``axis``, computed as z - log(sum(e^z)) with z = x - max(x)."""
    xp = backend.get_array_module(x)
    if x.size == 0:                                 # no maximum to subtract
        return x.copy()
    z = x - x.max(axis=axis, keepdims=True)        # every entry <= 0, the largest is 0
    return z - xp.log(xp.exp(z).sum(axis=axis, keepdims=True))


def _check_axis(op, axis, shape):
    """The axis as a non-negative int; IndexError naming the op when it is out of range."""
    ndim = len(shape)
    if not -ndim <= axis < ndim:
        raise IndexError(f"{op}: axis {axis} is out of range for input of shape {tuple(shape)}")
    return axis % ndim


def _generator(xp, rng, op):
    """A random generator of the array module ``xp`` from None, an int seed or a Generator."""
    if isinstance(rng, np.random.Generator) and xp is not np:
        rng = int(rng.integers(2**63))              # a NumPy generator seeds the GPU one
    if rng is None or isinstance(rng, (int, np.integer)):
        return xp.random.default_rng(rng)
    if not hasattr(rng, "random"):
        raise TypeError(f"{op}: rng must be None, an int seed or a random Generator, "
                        f"got {type(rng).__name__}")
    return rng


# ---------------------------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------------------------
class ReLU(Function):
    def forward(self, x):
        self.save(positive=x > 0)
        return backend.get_array_module(x).maximum(x, 0)

    def backward(self, gy):
        # dy/dx = 1 where x > 0, else 0 (0 at x = 0 itself, as PyTorch)
        return gy * self.saved.positive


class LeakyReLU(Function):
    def forward(self, x, negative_slope):
        positive = x > 0
        self.save(positive=positive, negative_slope=negative_slope)
        return backend.get_array_module(x).where(positive, x, x * negative_slope)

    def backward(self, gy):
        # dy/dx = 1 where x > 0, else negative_slope (also at x = 0, as PyTorch)
        xp = backend.get_array_module(gy)
        return xp.where(self.saved.positive, gy, gy * self.saved.negative_slope)


class Sigmoid(Function):
    def forward(self, x):
        y = _sigmoid(x)
        self.save(y=y)
        return y

    def backward(self, gy):
        # dy/dx = e^-x / (1 + e^-x)^2 = y (1 - y)
        y = self.saved.y
        return gy * y * (1 - y)


class Tanh(Function):
    def forward(self, x):
        y = backend.get_array_module(x).tanh(x)
        self.save(y=y)
        return y

    def backward(self, gy):
        # dy/dx = 1 - tanh(x)^2 = 1 - y^2
        y = self.saved.y
        return gy * (1 - y * y)


class Softmax(Function):
    def forward(self, x, axis):
        y = backend.get_array_module(x).exp(_log_softmax(x, axis))
        self.save(y=y, axis=axis)
        return y

    def backward(self, gy):
        # dy_i/dx_j = y_i (delta_ij - y_j), so
        # gx_j = sum_i gy_i y_i (delta_ij - y_j) = y_j (gy_j - sum_i gy_i y_i)
        y, axis = self.saved.y, self.saved.axis
        return y * (gy - (gy * y).sum(axis=axis, keepdims=True))


class LogSoftmax(Function):
    def forward(self, x, axis):
        y = _log_softmax(x, axis)
        self.save(y=y, axis=axis)
        return y

    def backward(self, gy):
        # y_i = x_i - log sum_k e^x_k, so dy_i/dx_j = delta_ij - softmax_j and
        # gx_j = gy_j - softmax_j * sum_i gy_i, with softmax = e^y
        y, axis = self.saved.y, self.saved.axis
        xp = backend.get_array_module(gy)
        return gy - xp.exp(y) * gy.sum(axis=axis, keepdims=True)


class Dropout(Function):
    def forward(self, x, p, generator):
        xp = backend.get_array_module(x)
        if p == 1:                                       # nothing kept (1 / (1 - p) undefined)
            mask = xp.zeros_like(x)
        else:
            keep = generator.random(x.shape) >= p        # True with probability 1 - p
            mask = keep.astype(x.dtype) * x.dtype.type(1 / (1 - p))  # 0 or 1/(1-p), x's dtype
        self.save(mask=mask)
        return x * mask

    def backward(self, gy):
        # y = x * mask with the same mask: dy/dx = mask (0 or 1/(1-p))
        return gy * self.saved.mask


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------
def relu(x) -> Tensor:
    """Rectified linear unit, max(x, 0) elementwise.

    Parameters
    ----------
    x : (...) Tensor or array

    Returns
    -------
    (...) Tensor, same shape and dtype. The gradient is 1 where x > 0 and 0 elsewhere (0 at
    x = 0, as PyTorch).

    Examples
    --------
    >>> relu(Tensor([-1.0, 0.0, 2.0]))
    Tensor([0., 0., 2.])
    """
    return ReLU.apply(x)


def leaky_relu(x, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, ``negative_slope * x`` elsewhere (Maas et al., 2013).

    Parameters
    ----------
    x : (...) Tensor or array
    negative_slope : float
        Slope for x <= 0. It is a constant, not a learned parameter.

    Returns
    -------
    (...) Tensor, same shape and dtype. The gradient is 1 where x > 0 and ``negative_slope``
    elsewhere (at x = 0 too, as PyTorch).

    Examples
    --------
    >>> leaky_relu(Tensor([-2.0, 3.0]), negative_slope=0.5)
    Tensor([-1.,  3.])
    """
    return LeakyReLU.apply(x, negative_slope=float(negative_slope))  # a Python float keeps float32


def sigmoid(x) -> Tensor:
    """The logistic function 1 / (1 + e^-x), elementwise.

    Parameters
    ----------
    x : (...) Tensor or array

    Returns
    -------
    (...) Tensor with values in [0, 1], same shape and dtype.

    Notes
    -----
    Computed from e^-|x| only, so it neither overflows nor warns for large |x|:
    sigmoid(1e4) = 1 and sigmoid(-1e4) = 0 exactly. dy/dx = y (1 - y).

    Examples
    --------
    >>> sigmoid(Tensor([-1e4, 0.0, 1e4]))
    Tensor([0. , 0.5, 1. ])
    """
    return Sigmoid.apply(x)


def tanh(x) -> Tensor:
    """Hyperbolic tangent, elementwise; dy/dx = 1 - y^2.

    Parameters
    ----------
    x : (...) Tensor or array

    Returns
    -------
    (...) Tensor with values in [-1, 1], same shape and dtype.

    Examples
    --------
    >>> tanh(Tensor([0.0]))
    Tensor([0.])
    """
    return Tanh.apply(x)


def softmax(x, axis: int = -1) -> Tensor:
    """e^x / sum(e^x) along ``axis``: each slice becomes a probability distribution.

    Parameters
    ----------
    x : (...) Tensor or array of logits, at least 1-D
    axis : int
        The axis to normalise (the class axis; 1 for (N, C, H, W) score maps).

    Returns
    -------
    (...) Tensor, same shape and dtype, non-negative and summing to 1 along ``axis``.

    Notes
    -----
    softmax(x) = softmax(x - max(x)); the shifted form is what is computed, so logits of 1e4 stay
    finite. The backward pass is gx = y * (gy - sum(gy * y, axis)).

    Examples
    --------
    >>> softmax(Tensor([[0.0, 0.0], [1e4, 0.0]]), axis=1)
    Tensor([[0.5, 0.5],
            [1. , 0. ]])
    """
    return Softmax.apply(x, axis=_check_axis("softmax", axis, np.shape(x)))


def log_softmax(x, axis: int = -1) -> Tensor:
    """log(softmax(x)) along ``axis``, computed without forming softmax.

    Parameters
    ----------
    x : (...) Tensor or array of logits, at least 1-D
    axis : int
        The axis to normalise.

    Returns
    -------
    (...) Tensor of log-probabilities (<= 0), same shape and dtype.

    Notes
    -----
    y = z - log(sum(e^z)) with z = x - max(x, axis), so extreme logits (1e4) give finite values
    (log(softmax) computed naively would be log(0) = -inf). The backward pass is
    gx = gy - softmax(x) * sum(gy, axis).

    Examples
    --------
    >>> log_softmax(Tensor([0.0, 1e4]))
    Tensor([-10000.,      0.])
    """
    return LogSoftmax.apply(x, axis=_check_axis("log_softmax", axis, np.shape(x)))


def dropout(x, p: float = 0.5, training: bool = True, rng=None) -> Tensor:
    """Inverted dropout: zero each element with probability ``p``, scale the rest by 1/(1-p).

    Parameters
    ----------
    x : (...) Tensor or array
    p : float in [0, 1]
        Probability of zeroing an element.
    training : bool
        When False (evaluation) dropout is the identity and ``x`` is returned unchanged.
    rng : None, int or Generator
        Source of the random mask: an int seed makes it reproducible; a Generator of x's array
        module is used as it is (a ``numpy.random.Generator`` seeds the CuPy generator when x
        lives on the GPU); None draws fresh entropy.

    Returns
    -------
    (...) Tensor, same shape and dtype. The expected value of each element equals x.

    Notes
    -----
    y = x * mask / (1 - p) with mask ~ Bernoulli(1 - p); the backward pass multiplies by the
    same mask: gx = gy * mask / (1 - p). p = 0 and ``training=False`` return ``x`` itself;
    p = 1 gives all zeros (and zero gradients), as PyTorch.

    Examples
    --------
    >>> y = dropout(Tensor([1.0, 1.0, 1.0, 1.0]), p=0.5, rng=0)
    >>> sorted(set(y.tolist()))         # kept elements are doubled
    [0.0, 2.0]
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p}")
    x = x if isinstance(x, Tensor) else Tensor(x)
    if not training or p == 0:
        return x
    generator = None if p == 1 else _generator(backend.get_array_module(x.data), rng, "dropout")
    return Dropout.apply(x, p=p, generator=generator)
