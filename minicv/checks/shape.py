"""Gradient-check cases for minicv.functional.shape."""
import math

import numpy as np
from hypothesis import strategies as st

import minicv.functional as F
from minicv.checks import Case, register
from minicv.testing import arrays, shapes


def _signed(draw, axis, ndim):
    """``axis`` written as is or counted from the end."""
    return axis - ndim if draw(st.booleans()) else axis


def _rng(draw):
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


@register("reshape")
def _reshape(draw):
    shape = draw(shapes(1, 4))
    size = math.prod(shape)
    target = draw(st.sampled_from([(size,), (-1,), shape[::-1], (1, size, 1),
                                   (shape[0], -1), (-1, shape[-1], 1)]))
    return Case(lambda t: F.reshape(t, target), [draw(arrays(shape))])


@register("transpose")
def _transpose(draw):
    shape = draw(shapes(1, 4))
    ndim = len(shape)
    axes = None
    if draw(st.booleans()):
        axes = tuple(_signed(draw, a, ndim) for a in draw(st.permutations(range(ndim))))
    return Case(lambda t: F.transpose(t, axes), [draw(arrays(shape))])


@register("permute")
def _permute(draw):
    shape = draw(shapes(1, 4))
    ndim = len(shape)
    axes = tuple(_signed(draw, a, ndim) for a in draw(st.permutations(range(ndim))))
    return Case(lambda t: F.permute(t, axes), [draw(arrays(shape))])


@register("flatten")
def _flatten(draw):
    shape = draw(shapes(1, 4))
    ndim = len(shape)
    start = draw(st.integers(0, ndim - 1))
    end = draw(st.integers(start, ndim - 1))
    start, end = _signed(draw, start, ndim), _signed(draw, end, ndim)
    return Case(lambda t: F.flatten(t, start, end), [draw(arrays(shape))])


@register("getitem")
def _getitem(draw):
    """Basic indices (ints, strided and reversed slices, None, Ellipsis) and advanced ones
    (integer arrays with repeated entries, lists, boolean masks, and mixes of both)."""
    shape = draw(shapes(2, 3, min_side=2))
    n0, n1 = shape[0], shape[1]
    rng = _rng(draw)
    repeated = rng.integers(-n0, n0, size=draw(st.integers(1, 6)))      # repeats likely
    kinds = {
        "int": (draw(st.integers(-n0, n0 - 1)),),
        "slices": (slice(None, None, -1), slice(draw(st.integers(0, n1 - 1)), None,
                                                draw(st.sampled_from([1, 2, -1, -2])))),
        "none-ellipsis": (None, Ellipsis, draw(st.integers(0, shape[-1] - 1))),
        "int-array": (repeated,),
        "list": ([int(i) for i in repeated], slice(None, None, 2)),
        "2d-int-array": (..., rng.integers(0, shape[-1], size=(2, 3))),
        "mask": (rng.random(shape[:2]) < 0.5,),
        "mask-and-slice": (slice(None), rng.random(n1) < 0.6),
        "mixed": (repeated, slice(None), 1) if len(shape) == 3 else (repeated, 1),
        "two-arrays": (repeated, rng.integers(0, n1, size=repeated.shape)),
    }
    index = kinds[draw(st.sampled_from(sorted(kinds)))]
    return Case(lambda t: F.getitem(t, index), [draw(arrays(shape))])


@st.composite
def _joinable(draw, same_shape):
    """2 or 3 arrays and an axis; sizes along the axis differ unless ``same_shape``."""
    shape = draw(shapes(1, 3))
    ndim = len(shape)
    axis = draw(st.integers(0, ndim - 1))
    xs = []
    for _ in range(draw(st.integers(2, 3))):
        s = list(shape)
        if not same_shape:
            s[axis] = draw(st.integers(1, 3))
        xs.append(draw(arrays(tuple(s))))
    return xs, axis


@register("concatenate")
def _concatenate(draw):
    xs, axis = draw(_joinable(same_shape=False))
    axis = _signed(draw, axis, xs[0].ndim)
    return Case(lambda *ts: F.concatenate(list(ts), axis=axis), xs)


@register("stack")
def _stack(draw):
    xs, _ = draw(_joinable(same_shape=True))
    ndim = xs[0].ndim + 1
    axis = _signed(draw, draw(st.integers(0, ndim - 1)), ndim)
    return Case(lambda *ts: F.stack(list(ts), axis=axis), xs)


@register("pad")
def _pad(draw):
    """Constant (with crops), reflect and replicate padding of the last one or two axes."""
    mode = draw(st.sampled_from(["constant", "reflect", "replicate"]))
    shape = draw(shapes(1, 4, min_side=2, max_side=4))
    pairs = draw(st.integers(1, min(2, len(shape))))
    widths = []
    for k in range(pairs):
        n = shape[-1 - k]
        low = -(n // 2) if mode == "constant" else 0              # constant may crop
        high = n - 1 if mode == "reflect" else 3
        widths += [draw(st.integers(low, high)), draw(st.integers(low, high))]
    value = draw(st.sampled_from([0.0, 1.5])) if mode == "constant" else 0.0
    return Case(lambda t: F.pad(t, tuple(widths), mode=mode, value=value),
                [draw(arrays(shape))])
