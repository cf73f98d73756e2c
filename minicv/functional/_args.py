"""Argument helpers shared by the op files: reading an ``int or (height, width)`` argument, the
shape of anything array-like, and the check that an input is a 4-D float map. Kept apart so each op file shows only its own algorithm."""
from __future__ import annotations

import operator

import numpy as np


def pair(op: str, name: str, value) -> tuple:
    """An int or a pair of ints as (height value, width value); TypeError naming op and name."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    try:
        if len(items) != 2 or any(isinstance(v, bool) for v in items):
            raise TypeError
        return tuple(operator.index(v) for v in items)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}") from None


def shape_of(x) -> tuple:
    """Shape of a Tensor, an array or nested lists of numbers."""
    return tuple(x.shape) if hasattr(x, "shape") else tuple(np.shape(x))


def check_float_4d(op: str, name: str, x) -> tuple:
    """The shape of ``x``, after checking it is a 4-D (N, C, H, W) float Tensor or array."""
    shape = shape_of(x)
    if len(shape) != 4:
        raise ValueError(f"{op}: {name} must be 4-D (N, C, H, W), got shape {shape}")
    dtype = getattr(x, "dtype", None)
    if dtype is None or np.dtype(dtype).kind != "f":
        raise TypeError(f"{op}: {name} must be a floating-point Tensor or array, got "
                        f"{type(x).__name__} of dtype {dtype} with shape {shape}")
    return shape
