"""Hypothesis strategies for gradient-checking ops -- minicv's and your own.

    from hypothesis import given
    from minicv import gradcheck
    from minicv.testing import arrays

    @given(arrays(min_dims=1, max_dims=3))
    def test_my_op_backward(x):
        gradcheck(my_op, [x])

Every strategy draws NumPy float64 arrays (gradient checks run in float64) with finite values
of moderate size, because finite differences lie near overflow and near kinks. Strategies for
max-type ops keep values apart (``tie_free_arrays``); strategies for ReLU-type ops keep values
away from the kink (``away_from``).

Requires hypothesis (``pip install minicv[test]``).
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = ["shapes", "arrays", "tie_free_arrays", "away_from"]


def shapes(min_dims: int = 1, max_dims: int = 4, min_side: int = 1, max_side: int = 5):
    """Array shapes with ``min_dims..max_dims`` axes of ``min_side..max_side`` each."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


@st.composite
def arrays(draw, shape=None, *, min_dims: int = 1, max_dims: int = 4, min_side: int = 1,
           max_side: int = 5, low: float = -3.0, high: float = 3.0, dtype=np.float64):
    """Finite float arrays (float64 by default) with values in [low, high].

    shape : tuple or strategy of tuples, optional (default: drawn with ``shapes(...)``).

    The values come from a seeded standard generator rather than element by element, so large
    arrays are cheap to draw; hypothesis still chooses (and shrinks) the shape and the seed.
    """
    if shape is None:
        shape = draw(shapes(min_dims, max_dims, min_side, max_side))
    elif not isinstance(shape, tuple):
        shape = draw(shape)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, size=shape).astype(dtype)


@st.composite
def tie_free_arrays(draw, shape=None, *, min_dims: int = 1, max_dims: int = 4,
                    min_side: int = 1, max_side: int = 5, gap: float = 1e-2, dtype=np.float64):
    """Arrays whose values are all distinct, any two at least ``gap`` apart.

    For max-type ops (max, max_pool2d, roi_pool): the argmax must not change when an element is
    nudged by the finite-difference step, or the numeric gradient is meaningless. The values are
    a random permutation of ``gap * (0, 1, 2, ...)`` shifted to be centred, plus jitter below
    gap / 4.
    """
    if shape is None:
        shape = draw(shapes(min_dims, max_dims, min_side, max_side))
    elif not isinstance(shape, tuple):
        shape = draw(shape)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = int(np.prod(shape, dtype=np.int64))
    values = (rng.permutation(n) - n / 2) * gap + rng.uniform(0, gap / 4, size=n)
    return values.reshape(shape).astype(dtype)


@st.composite
def away_from(draw, points=(0.0,), margin: float = 1e-2, shape=None, *, min_dims: int = 1,
              max_dims: int = 4, min_side: int = 1, max_side: int = 5, low: float = -3.0,
              high: float = 3.0, dtype=np.float64):
    """Arrays in [low, high] whose values are at least ``margin`` from every kink in ``points``
    (0 for relu and abs; the clip bounds for clip). Values too close are pushed out to the
    margin on their own side."""
    x = draw(arrays(shape, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                    max_side=max_side, low=low, high=high, dtype=np.float64))
    for p in points:
        d = x - p
        close = np.abs(d) < margin
        x = np.where(close, p + np.where(d >= 0, margin, -margin), x)
    return x.astype(dtype)
