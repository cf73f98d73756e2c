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
           "kaiming_uniform_", "kaiming_normal_"]

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
