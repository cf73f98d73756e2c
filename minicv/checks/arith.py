"""Gradient-check cases for minicv.functional.arith."""
import numpy as np
from hypothesis import strategies as st

import minicv.functional as F
from minicv.checks import Case, register
from minicv.testing import arrays, away_from, shapes


@st.composite
def _broadcastable_pair(draw, low=-3.0, high=3.0, positive_b=False):
    """Two arrays whose shapes broadcast together (some axes of b set to 1 or dropped)."""
    shape = draw(shapes(1, 3))
    b_shape = tuple(1 if draw(st.booleans()) else n for n in shape)
    b_shape = b_shape[draw(st.integers(0, len(b_shape) - 1)):]
    a = draw(arrays(shape, low=low, high=high))
    b = draw(arrays(b_shape, low=0.5 if positive_b else low, high=high))
    if not positive_b and draw(st.booleans()):     # the broadcast operand on either side
        a, b = b, a
    return a, b


@register("add")
def _add(draw):
    return Case(F.add, list(draw(_broadcastable_pair())))


@register("sub")
def _sub(draw):
    return Case(F.sub, list(draw(_broadcastable_pair())))


@register("mul")
def _mul(draw):
    return Case(F.mul, list(draw(_broadcastable_pair())))


@register("div")
def _div(draw):
    return Case(F.div, list(draw(_broadcastable_pair(positive_b=True))))


@register("neg")
def _neg(draw):
    return Case(F.neg, [draw(arrays())])


@register("pow")
def _pow(draw):
    base = draw(arrays(low=0.5, high=2.0))
    if draw(st.booleans()):           # tensor exponent: checks both gradients
        return Case(F.pow, [base, draw(arrays(base.shape, low=-2.0, high=2.0))])
    exponent = draw(st.sampled_from([2, 3, 0.5, -1.5]))
    return Case(lambda t: F.pow(t, exponent), [base])


@register("matmul")
def _matmul(draw):
    m, k, n = (draw(st.integers(1, 4)) for _ in range(3))
    kind = draw(st.sampled_from(["2d", "batched", "vector-left", "vector-right", "broadcast",
                                 "dot", "vector-matrix"]))
    a_shape, b_shape = {
        "2d": ((m, k), (k, n)),
        "dot": ((k,), (k,)),
        "vector-matrix": ((k,), (k, n)),
        "batched": ((2, m, k), (2, k, n)),
        "vector-left": ((k,), (2, k, n)),
        "vector-right": ((m, k), (k,)),
        "broadcast": ((3, 1, m, k), (2, k, n)),
    }[kind]
    return Case(F.matmul, [draw(arrays(a_shape)), draw(arrays(b_shape))])


@register("exp")
def _exp(draw):
    return Case(F.exp, [draw(arrays(low=-3, high=3))])


@register("log")
def _log(draw):
    return Case(F.log, [draw(arrays(low=0.2, high=5.0))])


@register("sqrt")
def _sqrt(draw):
    return Case(F.sqrt, [draw(arrays(low=0.2, high=5.0))])


@register("abs")
def _abs(draw):
    return Case(F.abs, [draw(away_from((0.0,), margin=0.05))])


@register("clip")
def _clip(draw):
    lo, hi = -1.0, 1.5
    x = draw(away_from((lo, hi), margin=0.05))
    return Case(lambda t: F.clip(t, lo, hi), [x])


@register("where")
def _where(draw):
    a, b = draw(_broadcastable_pair())
    cond = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).random(
        np.broadcast_shapes(a.shape, b.shape)) < 0.5
    return Case(lambda x, y: F.where(cond, x, y), [a, b])
