"""Batch normalization (Ioffe & Szegedy, "Batch Normalization: Accelerating Deep Network
Training by Reducing Internal Covariate Shift", ICML 2015, Algorithm 1 and Section 3.1).

Notation: N batch size, C channels (axis 1), H, W spatial size; M = N*H*W is the number of values
per channel (M = N for (N, C) input). Statistics are taken per channel over every other axis:

    mu = mean(x),  var = mean((x - mu)^2)      (biased: divided by M)
    xhat = (x - mu) / sqrt(var + eps)
    y = weight * xhat + bias

In training the batch statistics are used and the running ones updated in place, as PyTorch:

    running_mean = (1 - momentum) * running_mean + momentum * mu
    running_var  = (1 - momentum) * running_var  + momentum * var * M / (M - 1)   (unbiased)

In evaluation the running statistics replace mu and var, so y is an affine function of x.
"""
from __future__ import annotations

import math

from minicv import backend
from minicv.autograd import Function, Tensor

__all__ = ["batch_norm"]


def _column(a):
    """(C,) -> (C, 1), broadcastable against the (N, C, L) view of the input."""
    return a.reshape(-1, 1)


class BatchNorm(Function):
    # Speed comes from touching the big arrays as few times as possible:
    # - x is viewed as (N, C, L) with L = H*W (L = 1 for (N, C) input), a free reshape, and the
    #   per-channel sums over its M = N*L values are einsums: "ncl->c" sums a channel,
    #   "ncl,ncl->c" is a per-channel dot product that never forms the product array. (NumPy's
    #   .sum over the strided axes (0, 2, 3) is several times slower; both accumulate in x's
    #   dtype.)
    # - xhat is never stored: the centred xc = x - mu is (the variance needs it anyway), and
    #   xhat = xc * inv_std is folded into per-channel factors, in forward and in backward.
    # - each full-size result is one new array, finished with in-place operations.
    def forward(self, x, weight, bias, running_mean, running_var, training, momentum, eps):
        xp = backend.get_array_module(x)
        n, c = x.shape[:2]
        x3 = x.reshape(n, c, math.prod(x.shape[2:]))    # (N, C, L)
        count = n * x3.shape[2]                         # M, values per channel
        if training:
            mean = xp.einsum("ncl->c", x3) / count      # (C,)
            xc = x3 - _column(mean)                     # (N, C, L) centred
            var = xp.einsum("ncl,ncl->c", xc, xc) / count   # (C,) biased, two-pass: accurate
            if running_mean is not None:                # in place: the caller's arrays change
                running_mean *= 1 - momentum
                running_mean += momentum * mean
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += momentum * var * (count / (count - 1))   # unbiased
        else:
            mean, var = running_mean.astype(x.dtype), running_var.astype(x.dtype)
            xc = x3 - _column(mean)                     # (N, C, L)
        inv_std = 1 / xp.sqrt(var + eps)                # (C,)
        scale = inv_std if weight is None else weight * inv_std      # (C,) weight / std
        self.save(xc=xc, inv_std=inv_std, scale=scale, count=count, training=training)
        y = xp.multiply(xc, _column(scale))             # (N, C, L) weight * xhat, one new array
        if bias is not None:
            y += _column(bias)
        return y.reshape(x.shape)

    def backward(self, gy):
        # With g = gy * weight, and sums over the M values of each channel:
        #   eval:   mu, var are constants     ->  gx = g * inv_std
        #   train:  mu, var depend on x as well, giving the compact form
        #           gx = inv_std / M * (M g - sum(g) - xhat sum(g xhat))
        #   gweight = sum(gy * xhat),  gbias = sum(gy)
        # weight is per channel, so sum(g) = weight gbias and sum(g xhat) = weight gweight:
        #           gx = weight inv_std / M * (M gy - gbias - xhat gweight),  xhat = xc inv_std
        s = self.saved
        xp = backend.get_array_module(gy)
        xc, m = s.xc, s.count
        gy3 = gy.reshape(xc.shape)                                      # (N, C, L)
        need_x, need_weight, need_bias = self.needs_input_grad[:3]
        train_x = need_x and s.training                                 # needs both sums
        gx = gweight = gbias = None
        if train_x or need_weight:
            gweight = xp.einsum("ncl,ncl->c", gy3, xc) * s.inv_std       # (C,) sum(gy * xhat)
        if train_x or need_bias:
            gbias = xp.einsum("ncl->c", gy3)                            # (C,) sum(gy)
        if need_x:
            # one new (N, C, H, W) array, filled through its (N, C, L) view (not returned as a
            # view: the engine would copy it)
            gx = xp.empty(gy.shape, xc.dtype)
            gx3 = gx.reshape(xc.shape)                                  # (N, C, L) view
            if s.training:
                xp.multiply(xc, _column(s.inv_std * gweight / m), out=gx3)   # xhat gweight / M
                gx3 += _column(gbias / m)                                     # + gbias / M
                xp.subtract(gy3, gx3, out=gx3)                                # gy - ...
                gx3 *= _column(s.scale)                                       # * weight inv_std
            else:
                xp.multiply(gy3, _column(s.scale), out=gx3)
        return gx, (gweight if need_weight else None), (gbias if need_bias else None)


def _data(a):
    """The raw array of a Tensor (running statistics are buffers, updated in place)."""
    return a.data if isinstance(a, Tensor) else a


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel of a batch, as ``torch.nn.functional.batch_norm``.

    Parameters
    ----------
    x : (N, C) or (N, C, H, W) Tensor or array
        The channel axis is 1; any number of trailing spatial axes works.
    running_mean, running_var : (C,) array or Tensor, or None
        Running statistics. Used instead of the batch statistics when ``training`` is False
        (then both are required); updated IN PLACE when ``training`` is True (a Tensor's
        ``.data`` is updated), or left alone when None.
    weight, bias : (C,) Tensor or array, optional
        Per-channel scale (gamma) and shift (beta); omitted means 1 and 0.
    training : bool
        Normalise with the batch statistics and update the running ones.
    momentum : float
        Weight of the new batch statistic in the running average.
    eps : float
        Added to the variance before the square root.

    Returns
    -------
    (N, C, H, W) Tensor, same shape and dtype as x. Gradients flow to x, weight and bias (not
    to the running statistics).

    Raises
    ------
    ValueError
        x with fewer than 2 axes; fewer than 2 values per channel in training (the variance of
        one value is 0 and the unbiased one undefined); statistics, weight or bias not (C,);
        missing running statistics in evaluation.

    Notes
    -----
    Training: y = weight * (x - mu) / sqrt(var + eps) + bias with the batch mean mu and the
    biased batch variance var, per channel over M = N*H*W values; the running variance is
    updated with the unbiased var * M / (M - 1). Backward (the compact form of the paper's
    chain rule, with g = gy * weight):

        gx = inv_std / M * (M g - sum(g) - xhat * sum(g * xhat))

    Evaluation: mu and var are the running statistics, constants, so gx = g * inv_std.

    References
    ----------
    Ioffe & Szegedy, "Batch Normalization", ICML 2015, Algorithm 1 and 2.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 10.0], [3.0, 30.0]])          # (N, C) = (2, 2)
    >>> rm, rv = np.zeros(2), np.ones(2)
    >>> batch_norm(x, rm, rv, training=True, eps=0.0)
    Tensor([[-1., -1.],
            [ 1.,  1.]], dtype=float64)
    >>> rm, rv                                            # mean (2, 20), unbiased var (2, 200)
    (array([0.2, 2. ]), array([ 1.1, 20.9]))
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    shape = x.shape
    running_mean, running_var = _data(running_mean), _data(running_var)
    backend.get_array_module(x.data, running_mean, running_var, _data(weight), _data(bias),
                             op="batch_norm")
    if len(shape) < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C) or (N, C, H, W), got "
                         f"shape {shape}")
    channels = shape[1]
    for name, a in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if a is not None and tuple(a.shape) != (channels,):
            raise ValueError(f"batch_norm: {name} must have shape (C,) = ({channels},) for "
                             f"input of shape {shape}, got {tuple(a.shape)}")
    if training:
        if x.size // max(channels, 1) < 2:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {shape}")
    elif running_mean is None or running_var is None:
        raise ValueError("batch_norm: running_mean and running_var are required in evaluation "
                         "(training=False)")
    return BatchNorm.apply(x, weight, bias, running_mean=running_mean, running_var=running_var,
                           training=bool(training), momentum=float(momentum), eps=float(eps))
