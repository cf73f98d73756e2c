"""Reductions: sum, mean, max, min over some axes (or all of them).

Every reduction takes ``axis`` as NumPy and PyTorch do: None (all axes), an int (negative counts
from the end) or a tuple of ints; ``keepdims=True`` keeps each reduced axis with size 1. The
backward passes all share one move -- put the reduced axes back into ``gy`` (size 1) and let it
broadcast over x:

    y = sum(x)   ->  gx = gy                      (every element contributed once)
    y = mean(x)  ->  gx = gy / R                  (R = number of elements reduced into y)
    y = max(x)   ->  gx = gy * [x == y] / T       (T = number of elements tied at the maximum)

``max`` and ``min`` return values only and follow ``torch.amax`` / ``torch.amin``: a tie splits
the gradient evenly among the tied elements, and NaN propagates (a NaN is the maximum, and the
gradient goes to the NaN entries).

Notation: ``gy`` is dL/dy, the gradient arriving from the loss; ``gx`` is what backward returns.
"""
from __future__ import annotations

import math
import operator

from minicv import backend
from minicv.autograd import Function, Tensor

__all__ = ["sum", "mean", "max", "min"]


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def _reduced_axes(op: str, axis, shape: tuple) -> tuple:
    """The axes ``axis`` names, as a sorted tuple of non-negative ints.

    None means every axis; an empty tuple means none (as NumPy).
    """
    ndim = len(shape)
    if axis is None:
        return tuple(range(ndim))
    items = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    axes = []
    for a in items:
        try:
            if isinstance(a, bool):
                raise TypeError
            a = operator.index(a)                               # ints and NumPy integers
        except TypeError:
            raise TypeError(f"{op}: axis must be None, an int or a tuple of ints, got {axis!r} "
                            f"for shape {shape}") from None
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a} is out of range for shape {shape} "
                             f"({ndim}-D, so axis must be in [{-ndim}, {ndim - 1}])")
        axes.append(a % ndim)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: axis {axis!r} repeats an axis (shape {shape})")
    return tuple(sorted(axes))


def _restore_axes(xp, gy, axes: tuple, keepdims: bool):
    """gy with the reduced ``axes`` put back as size-1 axes, ready to broadcast against x."""
    return gy if keepdims else xp.expand_dims(gy, axes)


# ---------------------------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------------------------
class Sum(Function):
    def forward(self, x, axis=None, keepdims=False):
        xp = backend.get_array_module(x)
        axes = _reduced_axes("sum", axis, tuple(x.shape))
        self.save(shape=x.shape, axes=axes, keepdims=keepdims)
        return xp.asarray(xp.sum(x, axis=axes, keepdims=keepdims))  # NumPy gives scalars for 0-d

    def backward(self, gy):
        # y_j = sum_{i in group j} x_i  ->  dy_j/dx_i = 1: each x_i gets its group's gy_j
        xp = backend.get_array_module(gy)
        s = self.saved
        return xp.broadcast_to(_restore_axes(xp, gy, s.axes, s.keepdims), s.shape)


class Mean(Function):
    def forward(self, x, axis=None, keepdims=False):
        xp = backend.get_array_module(x)
        axes = _reduced_axes("mean", axis, tuple(x.shape))
        count = math.prod(x.shape[a] for a in axes)            # R: elements per output
        self.save(shape=x.shape, axes=axes, keepdims=keepdims, count=count)
        return xp.asarray(xp.mean(x, axis=axes, keepdims=keepdims))

    def backward(self, gy):
        # y_j = (1/R) sum_{i in group j} x_i  ->  dy_j/dx_i = 1/R
        xp = backend.get_array_module(gy)
        s = self.saved
        # a Python int keeps gy's dtype; R = 0 (a mean over nothing) leaves gx empty anyway
        gy = _restore_axes(xp, gy, s.axes, s.keepdims) / (s.count or 1)
        return xp.broadcast_to(gy, s.shape)


class Max(Function):
    """Values-only maximum over axes (torch.amax); :class:`Min` reuses it with ``xp.min``."""

    name = "max"

    def _reduce(self, xp, x, axes):
        return xp.max(x, axis=axes, keepdims=True)

    def forward(self, x, axis=None, keepdims=False):
        xp = backend.get_array_module(x)
        shape = tuple(x.shape)
        axes = _reduced_axes(self.name, axis, shape)
        empty = [a for a in axes if shape[a] == 0]
        if empty:
            raise ValueError(f"{self.name}: cannot reduce over zero-size axis {empty[0]} of "
                             f"shape {shape} (an empty reduction has no {self.name})")
        y = self._reduce(xp, x, axes)                           # reduced axes kept, size 1
        if self.needs_input_grad[0]:
            # The share of gy each element receives: 1/T for the T elements equal to the
            # extremum (NaN counts as equal to a NaN result), 0 for the rest.
            hit = (x == y) | xp.isnan(x)
            share = hit.astype(x.dtype)
            share /= share.sum(axis=axes, keepdims=True)
            self.save(axes=axes, keepdims=keepdims, share=share)
        return y if keepdims else xp.squeeze(y, axis=axes)

    def backward(self, gy):
        # dy_j/dx_i = 1/T_j if x_i is one of the T_j elements tied at the extremum y_j, else 0
        xp = backend.get_array_module(gy)
        s = self.saved
        return _restore_axes(xp, gy, s.axes, s.keepdims) * s.share


class Min(Max):
    name = "min"

    def _reduce(self, xp, x, axes):
        return xp.min(x, axis=axes, keepdims=True)


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------
def sum(x, axis=None, keepdims: bool = False) -> Tensor:
    """Sum of the elements over ``axis``.

    Parameters
    ----------
    x : (...) Tensor or array
    axis : None, int or tuple of ints
        Axes to reduce; None reduces all of them, negative values count from the end.
    keepdims : bool
        Keep each reduced axis with size 1 (PyTorch's ``keepdim``).

    Returns
    -------
    Tensor of x's shape without the reduced axes (with them as size 1 if ``keepdims``), of x's
    dtype.

    Raises
    ------
    ValueError if an axis is out of range or repeated; TypeError if it is not an int.

    Notes
    -----
    Backward: gx = gy broadcast back over the reduced axes.

    Examples
    --------
    >>> import numpy as np
    >>> sum(np.arange(6.0).reshape(2, 3), axis=1)
    Tensor([ 3., 12.], dtype=float64)
    """
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims: bool = False) -> Tensor:
    """Arithmetic mean over ``axis`` (arguments as :func:`sum`).

    Returns
    -------
    Tensor of x's shape without the reduced axes (size 1 if ``keepdims``), of x's dtype. The mean
    over zero elements is NaN (as NumPy and PyTorch), with NumPy's RuntimeWarning.

    Notes
    -----
    Backward: gx = gy / R broadcast back over the reduced axes, R = number of reduced elements.

    Examples
    --------
    >>> import numpy as np
    >>> mean(np.arange(6.0).reshape(2, 3), axis=0)
    Tensor([1.5, 2.5, 3.5], dtype=float64)
    """
    return Mean.apply(x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims: bool = False) -> Tensor:
    """Largest element over ``axis``, values only (``torch.amax``; arguments as :func:`sum`).

    For the position of the maximum use NumPy's ``argmax`` on ``x.data``.

    Returns
    -------
    Tensor of x's shape without the reduced axes (size 1 if ``keepdims``), of x's dtype.

    Raises
    ------
    ValueError if a reduced axis has size 0 (there is no maximum of nothing), or an axis is out
    of range.

    Notes
    -----
    - Ties: the gradient is split evenly among the tied maxima (as torch.amax), so
      max([1, 3, 3]) sends gy/2 to each 3.
    - NaN propagates: a slice holding a NaN has maximum NaN, and its gradient is split among the
      NaN entries.

    Examples
    --------
    >>> import numpy as np
    >>> x = Tensor(np.array([1.0, 3.0, 3.0]), requires_grad=True)
    >>> max(x).backward()
    >>> x.grad
    array([0. , 0.5, 0.5])
    """
    return Max.apply(x, axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims: bool = False) -> Tensor:
    """Smallest element over ``axis``, values only (``torch.amin``; as :func:`max` otherwise).

    Ties split the gradient evenly; NaN propagates (a NaN is the minimum too). A reduced axis of
    size 0 raises ValueError.

    Examples
    --------
    >>> import numpy as np
    >>> min(np.array([[4.0, 1.0], [2.0, 5.0]]), axis=-1, keepdims=True)
    Tensor([[1.],
            [2.]], dtype=float64)
    """
    return Min.apply(x, axis=axis, keepdims=keepdims)
