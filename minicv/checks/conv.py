"""Gradient-check cases for minicv.functional.conv: conv2d and conv_transpose2d.

Both ops are linear in each input, so any values will do; the configurations come from
``minicv.testing.conv_configs``, which reaches every combination of kernel, stride, padding,
dilation, groups, output_padding, bias or not, and an empty batch. The input, the weight and
(when drawn) the bias are all checked.
"""
from hypothesis import strategies as st

import minicv.functional as F
from minicv.checks import Case, register
from minicv.testing import arrays, conv_configs


def _inputs(draw, config):
    x = draw(arrays(config["x_shape"]))
    weight = draw(arrays(config["weight_shape"]))
    bias = draw(arrays((config["C_out"],))) if config["bias"] else None
    return [x, weight] + ([bias] if bias is not None else [])


@register("conv2d")
def _conv2d(draw):
    config = draw(conv_configs())
    options = dict(stride=config["stride"], padding=config["padding"],
                   dilation=config["dilation"], groups=config["groups"])
    if config["stride"] == (1, 1) and draw(st.integers(0, 4)) == 0:
        options["padding"] = "same"                      # asymmetric when D(K - 1) is odd
    return Case(lambda x, w, b=None: F.conv2d(x, w, b, **options), _inputs(draw, config))


@register("conv_transpose2d")
def _conv_transpose2d(draw):
    config = draw(conv_configs(transpose=True))
    options = dict(stride=config["stride"], padding=config["padding"],
                   output_padding=config["output_padding"], dilation=config["dilation"],
                   groups=config["groups"])
    return Case(lambda x, w, b=None: F.conv_transpose2d(x, w, b, **options),
                _inputs(draw, config))
