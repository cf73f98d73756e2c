"""minicv.functional: every op, forward and backward side by side, one family per file.

- arith.py        add, sub, mul, div, neg, pow, matmul, exp, log, sqrt, abs, clip, where
- reduction.py    sum, mean, max, min
- shape.py        reshape, transpose, permute, flatten, getitem, concatenate, stack, pad
- activation.py   relu, leaky_relu, sigmoid, tanh, softmax, log_softmax, dropout
- normalization.py batch_norm
- conv.py         conv2d, conv_transpose2d
- pooling.py      max_pool2d (with switches), max_unpool2d, avg_pool2d
- upsample.py     interpolate (bilinear, nearest)
- roi.py          roi_pool, roi_align (Fast / Mask R-CNN region features)
- loss.py         cross_entropy, nll_loss, binary_cross_entropy_with_logits, mse_loss, smooth_l1_loss
"""
from minicv.functional.arith import *          # noqa: F401,F403
from minicv.functional.reduction import *      # noqa: F401,F403
from minicv.functional.shape import *          # noqa: F401,F403
from minicv.functional.activation import *     # noqa: F401,F403
from minicv.functional.normalization import *  # noqa: F401,F403
from minicv.functional.loss import *           # noqa: F401,F403
from minicv.functional.conv import *           # noqa: F401,F403
from minicv.functional.pooling import *        # noqa: F401,F403
from minicv.functional.upsample import *       # noqa: F401,F403
from minicv.functional.roi import *            # noqa: F401,F403

from minicv.functional import (activation, arith, conv, loss, normalization, pooling,  # noqa: E402
                               reduction, roi, shape, upsample)

__all__ = [name for module in (arith, reduction, shape, activation, normalization, loss, conv,
                               pooling, upsample, roi)
           for name in module.__all__]
