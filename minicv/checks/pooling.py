"""Gradient-check cases for minicv.functional.pooling: max_pool2d, max_unpool2d, avg_pool2d."""
import numpy as np
from hypothesis import strategies as st

import minicv.functional as F
from minicv.checks import Case, register
from minicv.testing import arrays, pool_configs, tie_free_arrays


# max_pool2d: distinct values at least 1e-2 apart, so the eps nudge of a finite difference never
# changes which cell wins a window
@register("max_pool2d")
def _max_pool2d(draw):
    config = draw(pool_configs())   # every window reaches the input
    x = draw(tie_free_arrays(config["x_shape"]))
    options = dict(kernel_size=config["kernel_size"], stride=config["stride"],
                   padding=config["padding"], dilation=config["dilation"],
                   ceil_mode=config["ceil_mode"], return_indices=draw(st.booleans()))
    return Case(lambda t: F.max_pool2d(t, **options), [x])


# max_unpool2d: switches from a pooling whose windows do not overlap (stride >= kernel), so no
# two values land on the same cell; now and then random indices with repeats instead, which
# unpooling sums (its documented rule), so the gather backward is exact there too
@register("max_unpool2d")
def _max_unpool2d(draw):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    kernel, stride, padding, size = [], [], [], []
    for _ in range(2):                                      # the H axis, then the W axis
        k = draw(st.integers(1, 3))
        p = draw(st.integers(0, k // 2))
        kernel.append(k)
        stride.append(draw(st.integers(k, k + 1)))
        padding.append(p)
        size.append(draw(st.integers(max(1, k - 2 * p), 7)))   # at least one window
    h, w = size
    x = draw(tie_free_arrays((n, c, h, w)))
    _, switches = F.max_pool2d(x, kernel, stride, padding, return_indices=True)
    switches = switches.numpy()
    if draw(st.integers(0, 3)) == 0:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        switches = rng.integers(0, h * w, size=switches.shape)
    values = draw(arrays(switches.shape))
    # the pooled input's size is always within one stride of the default, so it is allowed
    output_size = draw(st.sampled_from([(h, w), (n, c, h, w)]))
    return Case(lambda t: F.max_unpool2d(t, switches, kernel, stride, padding,
                                         output_size=output_size), [values])


@register("avg_pool2d")
def _avg_pool2d(draw):
    config = draw(pool_configs(max_dilation=1))
    x = draw(arrays(config["x_shape"]))
    options = dict(kernel_size=config["kernel_size"], stride=config["stride"],
                   padding=config["padding"], ceil_mode=config["ceil_mode"],
                   count_include_pad=draw(st.booleans()),
                   divisor_override=draw(st.sampled_from([None, None, 1, 3, -2])))
    return Case(lambda t: F.avg_pool2d(t, **options), [x])
