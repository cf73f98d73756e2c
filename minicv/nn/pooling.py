"""Pooling layers: MaxPool2d, MaxUnpool2d, AvgPool2d (torch.nn's names, arguments and reprs).

They hold only hyper-parameters; the work (and the calculus) is in minicv.functional.pooling.
A DeconvNet pairs them: ``MaxPool2d(2, return_indices=True)`` hands its switches to
``MaxUnpool2d(2)`` in the mirrored decoder layer.

    >>> import numpy as np
    >>> pool, unpool = MaxPool2d(2, return_indices=True), MaxUnpool2d(2)
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> y, switches = pool(x)
    >>> unpool(y, switches).numpy()[0, 0]
    array([[ 0.,  0.,  0.,  0.],
           [ 0.,  5.,  0.,  7.],
           [ 0.,  0.,  0.,  0.],
           [ 0., 13.,  0., 15.]], dtype=float32)
"""
from __future__ import annotations

from minicv import functional as F
from minicv.functional.pooling import _pool_params
from minicv.nn.module import Module

__all__ = ["MaxPool2d", "MaxUnpool2d", "AvgPool2d"]


class MaxPool2d(Module):
    """Max pooling over (N, C, H, W) input: see :func:`minicv.functional.max_pool2d`.

    Parameters
    ----------
    kernel_size : int or (KH, KW)
    stride : int or (SH, SW), optional
        Default: kernel_size.
    padding : int or (PH, PW)
        -inf padding, at most half the kernel.
    dilation : int or (DH, DW)
    return_indices : bool
        Return (y, switches) instead of y; the switches feed :class:`MaxUnpool2d`.
    ceil_mode : bool
        Round the output size up.

    Shapes: x (N, C, H, W) -> y and switches (N, C, OH, OW).

    The argument order is torch.nn.MaxPool2d's (return_indices before ceil_mode, the reverse
    of the functional form).
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        _pool_params("MaxPool2d", kernel_size, stride, padding, dilation)   # fail early
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxUnpool2d(Module):
    """Puts values back at their switches: see :func:`minicv.functional.max_unpool2d`.

    Parameters
    ----------
    kernel_size : int or (KH, KW)
    stride : int or (SH, SW), optional
        Default: kernel_size.
    padding : int or (PH, PW)
        Those of the MaxPool2d whose switches are used; they set the default output size.

    Call it as ``unpool(x, indices, output_size=None)``. Shapes: x and indices (N, C, H, W) ->
    (N, C, OH, OW), by default OH = (H - 1)*SH - 2*PH + KH; pass ``output_size`` (the pooled
    input's size) when that input had an odd size.
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding, _ = _pool_params(
            "MaxUnpool2d", kernel_size, stride, padding, padding_limit=False)

    def forward(self, x, indices, output_size=None):
        return F.max_unpool2d(x, indices, self.kernel_size, self.stride, self.padding,
                              output_size=output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """Average pooling: see :func:`minicv.functional.avg_pool2d`.

    Parameters
    ----------
    kernel_size : int or (KH, KW)
    stride : int or (SH, SW), optional
        Default: kernel_size.
    padding : int or (PH, PW)
        Zero padding, at most half the kernel.
    ceil_mode : bool
    count_include_pad : bool
        Count the zero padding in the divisor.
    divisor_override : int, optional
        Divide every window sum by this instead.

    Shapes: x (N, C, H, W) -> (N, C, OH, OW).
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__()
        _pool_params("AvgPool2d", kernel_size, stride, padding)             # fail early
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        # torch.nn.AvgPool2d prints these three only
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
