"""Gradient-check cases for minicv.functional.reduction."""
from hypothesis import strategies as st

import minicv.functional as F
from minicv.checks import Case, register
from minicv.testing import arrays, shapes, tie_free_arrays


@st.composite
def _axis(draw, ndim):
    """None, one axis or a tuple of distinct axes, each maybe written negative."""
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    signed = lambda a: a - ndim if draw(st.booleans()) else a   # noqa: E731
    if kind == "int":
        return signed(draw(st.integers(0, ndim - 1)))
    axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(signed(a) for a in axes)


def _reduction_case(draw, op, values):
    shape = draw(shapes(1, 4))
    x = draw(values(shape))
    axis, keepdims = draw(_axis(len(shape))), draw(st.booleans())
    return Case(lambda t: op(t, axis=axis, keepdims=keepdims), [x])


@register("sum")
def _sum(draw):
    return _reduction_case(draw, F.sum, arrays)


@register("mean")
def _mean(draw):
    return _reduction_case(draw, F.mean, arrays)


# max/min: distinct values, so an eps nudge never changes which element is the extremum
@register("max")
def _max(draw):
    return _reduction_case(draw, F.max, tie_free_arrays)


@register("min")
def _min(draw):
    return _reduction_case(draw, F.min, tie_free_arrays)
