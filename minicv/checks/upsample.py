"""Gradient-check cases for minicv.functional.upsample.

interpolate is linear in x for a fixed size and mode, so any input values are safe for finite
differences; the cases vary what builds the interpolation matrices: mode, align_corners, size
or scale_factor, upsampling and downsampling (each axis on its own), and odd sizes.
"""
import math

from hypothesis import strategies as st

import minicv.functional as F
from minicv.checks import Case, register
from minicv.testing import arrays

_FACTORS = (0.5, 0.7, 1.0, 1.3, 1.5, 2.0, 2.5, 3.0)   # down, same, up, fractional


@register("interpolate")
def _interpolate(draw):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    x = draw(arrays((n, c, h, w)))
    mode = draw(st.sampled_from(["nearest", "bilinear"]))
    align_corners = draw(st.booleans()) if mode == "bilinear" else None
    if draw(st.booleans()):
        size = (draw(st.integers(1, 8)), draw(st.integers(1, 8)))
        kwargs = {"size": size}
    else:
        factors = tuple(draw(st.sampled_from([f for f in _FACTORS if math.floor(side * f) >= 1]))
                        for side in (h, w))
        kwargs = {"scale_factor": factors}
    return Case(lambda t: F.interpolate(t, mode=mode, align_corners=align_corners, **kwargs),
                [x])
