"""Weight initialisers, with torch.nn.init's names: each fills a tensor in place and returns it.

Why the scale matters: a layer y = W x with fan_in inputs of unit variance gives outputs of
variance fan_in * Var(W). Keeping that near 1 layer after layer (so signals neither vanish nor
explode) asks for Var(W) = gain^2 / fan, where the gain makes up for what the nonlinearity
removes (ReLU zeroes half its inputs: gain sqrt(2)).

- Xavier/Glorot (Glorot & Bengio 2010): Var(W) = gain^2 * 2 / (fan_in + fan_out)
- Kaiming/He (He et al. 2015, "Delving Deep into Rectifiers", eq. 10): Var(W) = gain^2 / fan
  with fan = fan_in (forward signal) or fan_out (backward gradient)

A uniform U(-b, b) has variance b^2 / 3, so the uniform variants use b = sqrt(3) * std.

Fans of a weight of shape (C_out, C_in, KH, KW) (conv) or (out, in) (linear):
fan_in = C_in * KH * KW, fan_out = C_out * KH * KW.

Every random initialiser takes ``rng``: a NumPy Generator, an int seed, or None for the module's
default generator (reseed it with :func:`manual_seed`). Values are drawn on the CPU in float64,
cast to the tensor's dtype and copied onto its device, so a seed gives the same weights on NumPy
and CuPy.
"""
from __future__ import annotations

import math

import numpy as np

from minicv import backend
from minicv.autograd import Tensor

__all__ = ["manual_seed", "calculate_gain", "calculate_fan_in_and_fan_out", "uniform_",
           "normal_", "constant_", "zeros_", "ones_", "xavier_uniform_", "xavier_normal_",
           "kaiming_uniform_", "kaiming_normal_", "bilinear_"]

_default_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Reseed the generator used when an initialiser (or a layer) gets no ``rng``."""
    global _default_rng
    _default_rng = np.random.default_rng(seed)


def _generator(rng) -> np.random.Generator:
    if rng is None:
        return _default_rng
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def _fill(tensor, host_values):
    """Copy float64 NumPy values into ``tensor``'s array, in place, on its device."""
    data = tensor.data if isinstance(tensor, Tensor) else tensor
    xp = backend.get_array_module(data)
    data[...] = xp.asarray(host_values.astype(data.dtype))
    return tensor


def _shape(tensor):
    return tuple(tensor.shape)


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity (torch.nn.init.calculate_gain).

    ============================  =====================================
    linear, conv*d, sigmoid       1
    tanh                          5/3
    relu                          sqrt(2)
    leaky_relu                    sqrt(2 / (1 + negative_slope^2)), slope ``param`` (0.01)
    selu                          3/4
    ============================  =====================================

    >>> round(calculate_gain("leaky_relu", 0.2), 4)
    1.3868
    """
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel): in * prod(kernel) and
    out * prod(kernel). Needs at least 2 dimensions."""
    shape = _shape(tensor)
    if len(shape) < 2:
        raise ValueError(f"calculate_fan_in_and_fan_out: needs a tensor with at least 2 "
                         f"dimensions, got shape {shape}")
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _fan(tensor, mode, op):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{op}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a: float = 0.0, b: float = 1.0, rng=None):
    """Fill with values drawn from U(a, b)."""
    if not a <= b:
        raise ValueError(f"uniform_: need a <= b, got a={a}, b={b}")
    return _fill(tensor, _generator(rng).uniform(a, b, size=_shape(tensor)))


def normal_(tensor, mean: float = 0.0, std: float = 1.0, rng=None):
    """Fill with values drawn from N(mean, std^2)."""
    if std < 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    return _fill(tensor, _generator(rng).normal(mean, std, size=_shape(tensor)))


def constant_(tensor, val: float):
    """Fill with ``val``."""
    return _fill(tensor, np.full(_shape(tensor), val, dtype=np.float64))


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor, gain: float = 1.0, rng=None):
    """U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, rng)


def xavier_normal_(tensor, gain: float = 1.0, rng=None):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return normal_(tensor, 0.0, std, rng)


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", rng=None):
    """U(-b, b) with b = gain * sqrt(3 / fan) (He et al. 2015).

    ``a`` is the negative slope of the leaky_relu that follows (gain sqrt(2 / (1 + a^2))).
    PyTorch's Linear and Conv2d use a = sqrt(5), which gives b = 1 / sqrt(fan_in).
    """
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode, "kaiming_uniform_"))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, rng)


def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", rng=None):
    """N(0, std^2) with std = gain / sqrt(fan) (He et al. 2015)."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode, "kaiming_normal_"))
    return normal_(tensor, 0.0, std, rng)


def _bilinear_kernel_1d(size: int) -> np.ndarray:
    """The 1-D bilinear upsampling kernel of length ``size``: a triangle 1 - |i - center| / f."""
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    return 1 - np.abs(np.arange(size) - center) / factor


def bilinear_(tensor, groups: int | None = None):
    """Fill a ConvTranspose2d weight with bilinear upsampling (FCN, Long et al. 2015, Sec. 3.3).

    Each channel is upsampled on its own: the weight's (c, c) kernels hold the bilinear filter
    and every other kernel is zero. FCN initialises its learnable upsampling layers this way
    (the ``get_upsampling_weight`` of its Caffe and PyTorch ports).

    Parameters
    ----------
    tensor : (C_in, C_out / groups, KH, KW) Tensor or array
        Either (C, C, KH, KW) -- a full ConvTranspose2d(C, C) gets the filter on its diagonal --
        or (C, 1, KH, KW) -- a depthwise ConvTranspose2d(C, C, groups=C) gets it for every
        channel.
    groups : int, optional
        The layer's groups, 1 or C, to say which of the two layouts is meant. By default a
        (C, C, ...) weight is read as groups=1 and a (C, 1, ...) weight as depthwise.

    Returns
    -------
    tensor, filled in place.

    Raises
    ------
    ValueError
        A weight that is not 4-D, or whose shape is neither of the two layouts (bilinear
        upsampling maps each channel to itself, so it needs C_out == C_in).

    Notes
    -----
    The filter along an axis of kernel size K is the triangle

        f = (K + 1) // 2,  center = f - 1 (K odd) or f - 0.5 (K even),
        filt[i] = 1 - |i - center| / f,

    and the 2-D kernel is the outer product of the KH and KW triangles. A ConvTranspose2d with
    kernel_size = 2f - f % 2, stride = f and padding = f // 2 then computes exactly
    ``F.interpolate(x, scale_factor=f, mode="bilinear", align_corners=False)`` everywhere but
    in the f // 2 outermost rows and columns: each output pixel receives the two nearest input
    pixels along each axis with the weights 1 - |distance| / f. On those border rows the
    transposed convolution reads zeros where interpolate repeats the edge pixel, so the border
    comes out darker (FCN crops it away).
    FCN starts its intermediate 2x upsampling layers from this filter and learns them, and
    keeps the final upsampling fixed to it.

    Examples
    --------
    >>> import numpy as np
    >>> w = bilinear_(np.zeros((2, 2, 4, 4)))        # ConvTranspose2d(2, 2, 4, stride=2, padding=1)
    >>> w[0, 0]
    array([[0.0625, 0.1875, 0.1875, 0.0625],
           [0.1875, 0.5625, 0.5625, 0.1875],
           [0.1875, 0.5625, 0.5625, 0.1875],
           [0.0625, 0.1875, 0.1875, 0.0625]])
    >>> float(abs(w[0, 1]).max())                    # channel 0 feeds only channel 0
    0.0
    """
    shape = _shape(tensor)
    if len(shape) != 4:
        raise ValueError(f"bilinear_: needs a 4-D ConvTranspose2d weight (C_in, C_out / groups, "
                         f"KH, KW), got shape {shape}")
    c_in, c_per_group, kh, kw = shape
    if groups is None:
        groups = c_in if c_per_group == 1 else 1
    depthwise = groups == c_in and c_per_group == 1
    diagonal = groups == 1 and c_per_group == c_in
    if not (depthwise or diagonal):
        raise ValueError(f"bilinear_: a weight of shape {shape} with groups={groups} is not a "
                         f"channel-wise upsampling; bilinear upsampling maps each channel to "
                         f"itself, so it needs ({c_in}, {c_in}, KH, KW) with groups=1 or "
                         f"({c_in}, 1, KH, KW) with groups={c_in}")
    kernel = np.outer(_bilinear_kernel_1d(kh), _bilinear_kernel_1d(kw))     # (KH, KW)
    values = np.zeros(shape, dtype=np.float64)
    if depthwise:
        values[:, 0] = kernel                       # every channel's own (1, KH, KW) filter
    else:
        channels = np.arange(c_in)
        values[channels, channels] = kernel         # the (c, c) kernels; zeros elsewhere
    return _fill(tensor, values)
