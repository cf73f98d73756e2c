"""Layers: Modules that hold parameters (or a mode) and call an op of minicv.functional.

Each layer's ``forward`` is a line or two: the calculus lives in the functional op, the layer
only owns the weights, their initialisation and the training/evaluation switch.

Parameters are float32 by default; pass ``dtype=np.float64`` for gradient checks. Layers that
draw random weights take ``rng`` (a NumPy Generator or seed; None uses nn.init's default
generator, see ``nn.init.manual_seed``).
"""
from __future__ import annotations

import math

import numpy as np

from minicv import backend
from minicv import functional as F
from minicv.nn import init
from minicv.nn.module import Module, Parameter

__all__ = ["Identity", "Linear", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Dropout", "Flatten",
           "BatchNorm1d", "BatchNorm2d"]


def _float_dtype(dtype, layer):
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{layer}: dtype must be a floating-point type, got {dtype}")
    return dtype


def _empty(shape, dtype):
    """An uninitialised array on the default backend (an initialiser fills it next)."""
    return backend.get_array_module().zeros(shape, dtype=dtype)


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. for a removed classifier head)."""

    def forward(self, x):
        return x


class Linear(Module):
    """y = x W^T + b.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
    dtype : floating dtype (float32)
    rng : numpy Generator, int seed or None

    Shapes: x (..., in_features) -> y (..., out_features);
    weight (out_features, in_features), bias (out_features,).

    Initialisation as PyTorch: W ~ kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)),
    and b ~ U(-1/sqrt(in), 1/sqrt(in)).

    Examples
    --------
    >>> layer = Linear(3, 2, rng=0)
    >>> layer.weight.shape, layer(np.ones((5, 3), dtype=np.float32)).shape
    ((2, 3), (5, 2))
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 dtype=np.float32, rng=None):
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Linear: in_features and out_features must be >= 1, got "
                             f"{in_features} and {out_features}")
        dtype = _float_dtype(dtype, "Linear")
        rng = init._generator(rng)
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(_empty((out_features, in_features), dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), rng=rng)
        if bias:
            self.bias = Parameter(_empty((out_features,), dtype))
            bound = 1 / math.sqrt(in_features)
            init.uniform_(self.bias, -bound, bound, rng=rng)
        else:
            self.bias = None

    def forward(self, x):
        if len(x.shape) == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear({self.extra_repr()}): input has shape {tuple(x.shape)} "
                             f"but its last axis must be in_features={self.in_features}")
        y = F.matmul(x, self.weight.T)               # (..., out_features)
        return y if self.bias is None else y + self.bias

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class ReLU(Module):
    """max(x, 0) elementwise."""

    def forward(self, x):
        return F.relu(x)


class LeakyReLU(Module):
    """x where x > 0, negative_slope * x elsewhere."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    """1 / (1 + exp(-x)) elementwise."""

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    """tanh(x) elementwise."""

    def forward(self, x):
        return F.tanh(x)


class Dropout(Module):
    """Zero each element with probability p and scale the rest by 1 / (1 - p), in training
    mode only; the identity after ``eval()`` (Srivastava et al. 2014, inverted dropout).

    ``rng`` (a Generator or seed) makes the masks reproducible; None leaves it to F.dropout.
    """

    def __init__(self, p: float = 0.5, rng=None):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p
        self.rng = None if rng is None else init._generator(rng)

    def forward(self, x):
        return F.dropout(x, self.p, training=self.training, rng=self.rng)

    def extra_repr(self):
        return f"p={self.p}"


class Flatten(Module):
    """Merge axes start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return F.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class _BatchNorm(Module):
    """Batch normalisation over axis 1 (Ioffe & Szegedy 2015):

        y = (x - mean) / sqrt(var + eps) * weight + bias

    Training mode normalises with the batch's statistics and updates the running ones:
    running = (1 - momentum) * running + momentum * batch (unbiased variance for running_var).
    Evaluation mode normalises with the running statistics. ``momentum=None`` uses the
    cumulative average (factor 1 / num_batches_tracked). With ``track_running_stats=False``
    there are no running statistics and batch statistics are used in both modes.
    """

    _expected = ""         # the input layout, for error messages
    _ndims = ()            # allowed numbers of input dimensions

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, *, dtype=np.float32):
        super().__init__()
        name = type(self).__name__
        if num_features < 1:
            raise ValueError(f"{name}: num_features must be >= 1, got {num_features}")
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum}")
        if eps <= 0:
            raise ValueError(f"{name}: eps must be > 0, got {eps}")
        dtype = _float_dtype(dtype, name)
        xp = backend.get_array_module()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(xp.ones(num_features, dtype=dtype))
            self.bias = Parameter(xp.zeros(num_features, dtype=dtype))
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", xp.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", xp.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", xp.zeros((), dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0

    def forward(self, x):
        shape = tuple(x.shape)
        if len(shape) not in self._ndims or shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.extra_repr()}): expected input of "
                             f"shape {self._expected.format(C=self.num_features)}, got {shape}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1          # in place: the buffer array is kept
            if self.momentum is None:              # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked)
        # batch statistics in training, and in evaluation too when nothing was tracked
        use_batch_stats = self.training or self.running_mean is None
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            training=use_batch_stats, momentum=factor, eps=self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) feature maps, statistics per channel over N, H, W."""
    _expected, _ndims = "(N, {C}, H, W)", (4,)


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs, statistics per channel."""
    _expected, _ndims = "(N, {C}) or (N, {C}, L)", (2, 3)
