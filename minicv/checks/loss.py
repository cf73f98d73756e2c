"""Gradient-check cases for minicv.functional.loss."""
import numpy as np
from hypothesis import strategies as st

import minicv.functional as F
from minicv.checks import Case, register
from minicv.testing import arrays, away_from

_REDUCTIONS = ["mean", "sum", "none"]


@st.composite
def _class_problem(draw):
    """Scores (N, C) or (N, C, H, W), integer targets with about 30% ignored, optional weights."""
    n, n_classes = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    spatial = draw(st.sampled_from([(), (2, 3), (1, 2)]))
    x = draw(arrays((n, n_classes) + spatial, low=-4.0, high=4.0))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    ignore_index = draw(st.sampled_from([-100, 255]))
    target = rng.integers(0, n_classes, size=(n,) + spatial)
    ignored = rng.random(target.shape) < 0.3
    ignored.flat[0] = False        # at least one counted target: a 'mean' over none is NaN
    target[ignored] = ignore_index
    weight = rng.uniform(0.5, 2.0, n_classes) if draw(st.booleans()) else None
    return x, target, weight, ignore_index, draw(st.sampled_from(_REDUCTIONS))


@register("cross_entropy")
def _cross_entropy(draw):
    x, target, weight, ignore_index, reduction = draw(_class_problem())
    smoothing = draw(st.sampled_from([0.0, 0.0, 0.2]))
    return Case(lambda t, y: F.cross_entropy(t, y, weight, ignore_index, reduction, smoothing),
                [x, target])


@register("nll_loss")
def _nll_loss(draw):
    x, target, weight, ignore_index, reduction = draw(_class_problem())
    return Case(lambda t, y: F.nll_loss(t, y, weight, ignore_index, reduction), [x, target])


@register("binary_cross_entropy_with_logits")
def _bce_with_logits(draw):
    x = draw(arrays(max_dims=3, low=-5.0, high=5.0))
    target = draw(arrays(x.shape, low=0.0, high=1.0))
    last = x.shape[-1:]
    weight = draw(arrays(last, low=0.5, high=2.0)) if draw(st.booleans()) else None
    pos_weight = draw(arrays(last, low=0.5, high=3.0)) if draw(st.booleans()) else None
    reduction = draw(st.sampled_from(_REDUCTIONS))
    return Case(lambda t, y: F.binary_cross_entropy_with_logits(
        t, y, weight=weight, reduction=reduction, pos_weight=pos_weight), [x, target])


@register("mse_loss")
def _mse_loss(draw):
    x = draw(arrays())
    reduction = draw(st.sampled_from(_REDUCTIONS))
    return Case(lambda t, y: F.mse_loss(t, y, reduction=reduction),
                [x, draw(arrays(x.shape))])


@register("smooth_l1_loss")
def _smooth_l1_loss(draw):
    beta = draw(st.sampled_from([1.0, 0.5, 0.0]))
    target = draw(arrays())
    # kinks where |x - t| = beta (the pieces meet) -- at 0 itself for beta = 0 (L1)
    kinks = (-beta, beta) if beta > 0 else (0.0,)
    diff = draw(away_from(kinks, margin=0.05, shape=target.shape))
    reduction = draw(st.sampled_from(_REDUCTIONS))
    return Case(lambda t, y: F.smooth_l1_loss(t, y, reduction=reduction, beta=beta),
                [target + diff, target])
