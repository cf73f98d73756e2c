"""Gradient-check cases for minicv.functional.normalization."""
from hypothesis import strategies as st

import minicv.functional as F
from minicv.checks import Case, register
from minicv.testing import arrays


@register("batch_norm")
def _batch_norm(draw):
    channels = draw(st.integers(1, 3))
    if draw(st.booleans()):                                              # (N, C)
        shape = (draw(st.integers(2, 5)), channels)
    else:                                                                # (N, C, H, W)
        height, width = draw(st.integers(1, 3)), draw(st.integers(2, 3))   # H*W >= 2 values
        shape = (draw(st.integers(1, 3)), channels, height, width)
    x = draw(arrays(shape))
    training = draw(st.booleans())
    mean0 = draw(arrays((channels,), low=-1.0, high=1.0))
    var0 = draw(arrays((channels,), low=0.5, high=2.0))

    def fn(t, weight=None, bias=None):
        # fresh running statistics on every call: training updates them in place, and each of
        # gradcheck's many evaluations must start from the same ones
        running_mean, running_var = mean0.copy(), var0.copy()
        return F.batch_norm(t, running_mean, running_var, weight, bias, training=training)

    if draw(st.booleans()):                                              # affine: check w, b too
        weight = draw(arrays((channels,), low=0.5, high=2.0))
        bias = draw(arrays((channels,)))
        return Case(fn, [x, weight, bias])
    return Case(fn, [x])
