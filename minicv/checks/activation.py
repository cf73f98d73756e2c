"""Gradient-check cases for minicv.functional.activation."""
from hypothesis import strategies as st

import minicv.functional as F
from minicv.checks import Case, register
from minicv.testing import arrays, away_from


@register("relu")
def _relu(draw):
    # the kink at 0: keep every value 0.05 away so x +- eps stays on one side
    return Case(F.relu, [draw(away_from((0.0,), margin=0.05))])


@register("leaky_relu")
def _leaky_relu(draw):
    slope = draw(st.sampled_from([0.01, 0.2, -0.5, 1.5]))
    x = draw(away_from((0.0,), margin=0.05))
    return Case(lambda t: F.leaky_relu(t, negative_slope=slope), [x])


@register("sigmoid")
def _sigmoid(draw):
    return Case(F.sigmoid, [draw(arrays(low=-8.0, high=8.0))])


@register("tanh")
def _tanh(draw):
    return Case(F.tanh, [draw(arrays(low=-3.0, high=3.0))])


@st.composite
def _array_and_axis(draw):
    x = draw(arrays(max_dims=3, low=-5.0, high=5.0))
    return x, draw(st.integers(-x.ndim, x.ndim - 1))


@register("softmax")
def _softmax(draw):
    x, axis = draw(_array_and_axis())
    return Case(lambda t: F.softmax(t, axis=axis), [x])


@register("log_softmax")
def _log_softmax(draw):
    x, axis = draw(_array_and_axis())
    return Case(lambda t: F.log_softmax(t, axis=axis), [x])


@register("dropout")
def _dropout(draw):
    p = draw(st.sampled_from([0.1, 0.5, 0.9]))
    seed = draw(st.integers(0, 2**32 - 1))
    x = draw(arrays())
    # the same seed on every call: gradcheck evaluates the function many times, and every
    # evaluation must draw the same mask
    return Case(lambda t: F.dropout(t, p=p, rng=seed), [x])
