"""Convolution layers: Conv2d and ConvTranspose2d (torch.nn's names, arguments, reprs and
default initialisation).

Each layer owns its weight and bias and calls the functional op; how the ops compute, and why
the transposed convolution is conv2d's backward pass run forwards, is in
minicv/functional/conv.py.

Default initialisation, as PyTorch: weight ~ kaiming_uniform(a=sqrt(5)), which is
U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), where
fan_in = weight.shape[1] * KH * KW (for ConvTranspose2d that is C_out / groups * KH * KW --
PyTorch's convention, kept so that the same seed gives weights of the same scale).

    >>> import numpy as np
    >>> conv = Conv2d(3, 8, 3, padding=1, rng=0)
    >>> conv
    Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
    >>> conv(np.zeros((2, 3, 32, 32), dtype=np.float32)).shape
    (2, 8, 32, 32)
    >>> up = ConvTranspose2d(8, 3, 4, stride=2, padding=1, rng=0)
    >>> up(np.zeros((2, 8, 16, 16), dtype=np.float32)).shape       # (16 - 1)*2 - 2 + 3 + 1
    (2, 3, 32, 32)
"""
from __future__ import annotations

import math

import numpy as np

from minicv import functional as F
from minicv.functional.conv import _pair, conv_transpose_output_size
from minicv.nn import init
from minicv.nn.layers import _empty, _float_dtype
from minicv.nn.module import Module, Parameter

__all__ = ["Conv2d", "ConvTranspose2d"]


class _ConvNd(Module):
    """What Conv2d and ConvTranspose2d share: hyper-parameters, parameters, initialisation."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 groups, bias, output_padding, weight_shape_of, dtype, rng):
        super().__init__()
        name = type(self).__name__
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels),
                           ("groups", groups)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name}: {arg} must be a positive int, got {value!r}")
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if value % groups:
                raise ValueError(f"{name}: {arg}={value} is not divisible by groups={groups}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair(name, "kernel_size", kernel_size)
        self.stride = _pair(name, "stride", stride)
        self.padding = padding if isinstance(padding, str) else _pair(name, "padding", padding)
        self.dilation = _pair(name, "dilation", dilation)
        self.output_padding = _pair(name, "output_padding", output_padding)
        self.groups = int(groups)
        for arg in ("kernel_size", "stride", "dilation"):
            if min(getattr(self, arg)) < 1:
                raise ValueError(f"{name}: {arg} must be at least 1, got {getattr(self, arg)}")
        if not isinstance(self.padding, str) and min(self.padding) < 0:
            raise ValueError(f"{name}: padding must be non-negative, got {self.padding}")

        dtype = _float_dtype(dtype, name)
        rng = init._generator(rng)
        self.weight = Parameter(_empty(weight_shape_of(self), dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), rng=rng)
        if bias:
            fan_in, _ = init.calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in)
            self.bias = Parameter(_empty((self.out_channels,), dtype))
            init.uniform_(self.bias, -bound, bound, rng=rng)
        else:
            self.bias = None

    def _check_input(self, x):
        shape = tuple(x.shape)
        if len(shape) != 4 or shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__}({self.extra_repr()}): expected input of "
                             f"shape (N, {self.in_channels}, H, W), got {shape}")

    def extra_repr(self):
        # PyTorch's format: defaults are left out, except the stride
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if isinstance(self.padding, str) or self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvNd):
    """2-D convolution layer: see :func:`minicv.functional.conv2d`.

    Parameters
    ----------
    in_channels, out_channels : int
        C_in and C_out, both divisible by ``groups``.
    kernel_size : int or (KH, KW)
    stride : int or (SH, SW)
    padding : int, (PH, PW), "valid" or "same" ("same" needs stride 1)
    dilation : int or (DH, DW)
    groups : int
    bias : bool
    dtype : floating dtype (float32)
    rng : numpy Generator, int seed or None

    Shapes: x (N, C_in, H, W) -> y (N, C_out, OH, OW) with
    OH = floor((H + 2*PH - DH*(KH - 1) - 1) / SH) + 1; weight (C_out, C_in / groups, KH, KW),
    bias (C_out,).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, *, dtype=np.float32, rng=None):
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Conv2d: padding must be an int, a pair of ints, 'valid' or "
                                 f"'same', got {padding!r}")
            if padding == "same" and _pair("Conv2d", "stride", stride) != (1, 1):
                raise ValueError(f"Conv2d: padding='same' needs stride 1 (as PyTorch), got "
                                 f"stride={stride!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, 0,
                         lambda m: (m.out_channels, m.in_channels // m.groups) + m.kernel_size,
                         dtype, rng)

    def forward(self, x):
        self._check_input(x)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution layer ("deconvolution"): see
    :func:`minicv.functional.conv_transpose2d`.

    Parameters
    ----------
    in_channels, out_channels : int
        C_in and C_out, both divisible by ``groups``.
    kernel_size : int or (KH, KW)
    stride : int or (SH, SW)
    padding : int or (PH, PW)
    output_padding : int or (OPH, OPW)
        Each smaller than the stride or the dilation.
    groups : int
    bias : bool
    dilation : int or (DH, DW)
    dtype : floating dtype (float32)
    rng : numpy Generator, int seed or None

    Call it as ``layer(x, output_size=None)``: ``output_size`` ((H, W) or (N, C, H, W)) picks
    the output size instead of ``output_padding``, between the smallest size and that plus
    stride - 1 (as PyTorch) -- handy to undo a conv2d whose input size is known.

    Shapes: x (N, C_in, H, W) -> y (N, C_out, OH, OW) with
    OH = (H - 1)*SH - 2*PH + DH*(KH - 1) + OPH + 1; weight (C_in, C_out / groups, KH, KW),
    bias (C_out,).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1, *,
                 dtype=np.float32, rng=None):
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d: padding must be an int or a pair of ints, got "
                             f"{padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, output_padding,
                         lambda m: (m.in_channels, m.out_channels // m.groups) + m.kernel_size,
                         dtype, rng)
        if any(o < 0 or o >= max(s, d) for o, s, d in
               zip(self.output_padding, self.stride, self.dilation)):
            raise ValueError(f"ConvTranspose2d: output_padding must be non-negative and smaller "
                             f"than stride or dilation along each axis, got output_padding="
                             f"{self.output_padding} with stride={self.stride} and dilation="
                             f"{self.dilation}")

    def _output_padding_for(self, x_shape, output_size):
        """output_padding giving ``output_size`` (PyTorch's ConvTranspose2d._output_padding)."""
        name = type(self).__name__
        size = tuple(output_size)
        if len(size) == 4:
            size = size[2:]
        if len(size) != 2:
            raise ValueError(f"{name}: output_size must hold 2 values (H, W) or 4 (N, C, H, W), "
                             f"got {tuple(output_size)}")
        smallest = tuple(conv_transpose_output_size(n, k, s, p, d, 0) for n, k, s, p, d in
                         zip(x_shape[2:], self.kernel_size, self.stride, self.padding,
                             self.dilation))
        for want, low, s in zip(size, smallest, self.stride):
            if not low <= want <= low + s - 1:
                largest = tuple(m + st - 1 for m, st in zip(smallest, self.stride))
                raise ValueError(f"{name}: output_size {size} is impossible for input "
                                 f"{tuple(x_shape)}: each side must lie between {smallest} and "
                                 f"{largest}")
        return tuple(want - low for want, low in zip(size, smallest))

    def forward(self, x, output_size=None):
        self._check_input(x)
        output_padding = (self.output_padding if output_size is None
                          else self._output_padding_for(x.shape, output_size))
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  output_padding, self.groups, self.dilation)
