"""Losses: cross_entropy, nll_loss, binary_cross_entropy_with_logits, mse_loss, smooth_l1_loss.

PyTorch's names, arguments and rules (see SEMANTICS.md, "Losses"). Every loss computes one value
per element (per sample, or per pixel for (N, C, H, W) score maps) and then reduces them:

    reduction='none'  the per-element losses, shape of the target
    reduction='sum'   their sum
    reduction='mean'  their sum divided by the number of elements -- except for cross_entropy and
                      nll_loss, which divide by the summed class weights of the non-ignored
                      targets (a weighted mean)

The backward of a reduction hands each element dL/dloss_i = gy ('sum'), gy / denominator ('mean')
or gy_i ('none'); the op's own derivative is then applied elementwise.

Notation: N batch size, C classes (axis 1), d1, d2, ... optional extra axes (H, W for
segmentation); x the logits, t the target, w the class weights, p = softmax(x) along axis 1.

Class-index losses (Fast R-CNN uses them for its classifier, FCN per pixel):

    cross_entropy:  loss_i = -w[t_i] log p_i[t_i]          (0 where t_i == ignore_index)
                    dloss_i/dx_i = w[t_i] (p_i - onehot(t_i))

log_softmax and the negative log-likelihood are fused in one Function: the gradient softmax minus
one-hot is simpler and more accurate than chaining the two backward passes.
"""
from __future__ import annotations

import math

import numpy as np

from minicv import backend
from minicv.autograd import Function, Tensor, _is_float
from minicv.functional.activation import _sigmoid

__all__ = ["cross_entropy", "nll_loss", "binary_cross_entropy_with_logits", "mse_loss",
           "smooth_l1_loss"]

_REDUCTIONS = ("mean", "sum", "none")


# ---------------------------------------------------------------------------------------------
# Array helpers
# ---------------------------------------------------------------------------------------------
def _reduce(loss, reduction, denominator=None):
    """Reduce per-element losses: 'none' keeps them, 'sum' adds them, 'mean' divides the sum by
    ``denominator`` (default: the number of elements)."""
    xp = backend.get_array_module(loss)
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):   # nothing to average: NaN, as PyTorch
            total = total / (loss.size if denominator is None else denominator)
    return xp.asarray(total, dtype=loss.dtype)     # a 0-d array (NumPy's sum gives a scalar)


def _reduce_backward(gy, shape, reduction, denominator=None):
    """dL/d(per-element loss), of ``shape``, from gy = dL/d(reduced loss)."""
    xp = backend.get_array_module(gy)
    if reduction == "none":
        return gy
    if reduction == "mean":
        # An empty (or all-ignored) mean is NaN, but no element receives a gradient, so dividing
        # by 1 instead of 0 gives the zero gradient PyTorch gives, not NaN.
        if denominator is None:
            denominator = max(math.prod(shape), 1)
        else:
            denominator = xp.where(denominator == 0, 1, denominator)
        gy = gy / denominator
    return xp.broadcast_to(gy, shape)


def _class_weights(target, weight, ignore_index, dtype):
    """For class-index targets (N, d1, ...): which are not ignored, the index to gather (0
    where ignored, so that it is in range) and each target's weight w[t] (0 where ignored)."""
    valid = target != ignore_index                              # (N, d1, ...)
    index = target * valid                                      # (N, d1, ...) ignored: 0
    w_t = valid.astype(dtype) if weight is None else weight.astype(dtype)[index] * valid
    return valid, index, w_t


def _one_hot(index, n_classes):
    """(N, d1, ...) class indices -> (N, C, d1, ...) booleans, True at each index."""
    xp = backend.get_array_module(index)
    classes = xp.arange(n_classes).reshape((1, n_classes) + (1,) * (index.ndim - 1))
    return classes == xp.expand_dims(index, 1)                  # (N, C, d1, ...)


def _gather_classes(a, index):
    """a[n, index[n, ...], ...]: (N, C, d1, ...) and (N, d1, ...) -> (N, d1, ...)."""
    xp = backend.get_array_module(a)
    return xp.take_along_axis(a, xp.expand_dims(index, 1), axis=1)[:, 0]


def _class_positions(index, n_classes):
    """Flat positions of a[n, index[n, ...], ...] in a C-contiguous (N, C, d1, ...) array.

    With L = d1*d2*... values per class map, element (n, c, l) sits at (n C + c) L + l. Indexing
    the flattened array with these reads (``a.reshape(-1)[pos]``) or writes
    (``a.reshape(-1)[pos] = v``) the target-class entries, one per (n, l): faster than
    take_along_axis / put_along_axis.
    """
    xp = backend.get_array_module(index)
    n = index.shape[0]
    length = math.prod(index.shape[1:])                         # L
    rows = xp.arange(0, n * n_classes * length, n_classes * length)   # (N,) n C L
    pos = index * length                                        # (N, d1, ...) c L
    pos += rows.reshape((n,) + (1,) * (index.ndim - 1))         # + n C L
    pos += xp.arange(length).reshape(index.shape[1:])           # + l
    return pos


# ---------------------------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------------------------
class CrossEntropy(Function):
    def forward(self, x, target, weight, ignore_index, reduction, label_smoothing):
        xp = backend.get_array_module(x)
        n_classes = x.shape[1]
        valid, index, w_t = _class_weights(target, weight, ignore_index, x.dtype)  # (N, d1, ...)
        w_c = 1 if weight is None else weight.astype(x.dtype).reshape(
            (1, n_classes) + (1,) * (x.ndim - 2))               # (1, C, 1, ...) along the classes
        # The log-softmax on one new array z, exponentiated in place for backward:
        #   z = x - max_c x  (<= 0: e^z cannot overflow),  log p = z - log sum_c e^z
        # p = e^z / sum_c e^z itself is only formed in backward, in the same pass as its scaling.
        z = x - x.max(axis=1, keepdims=True) if x.size else x.copy()   # (N, C, d1, ...)
        target_pos = _class_positions(index, n_classes)         # (N, d1, ...) flat positions
        z_t = z.reshape(-1)[target_pos]                         # (N, d1, ...) z at the target
        if label_smoothing > 0:
            z_w = (z * w_c).sum(axis=1)                         # (N, d1, ...) sum_c w_c z_c
        exp_z = xp.exp(z, out=z)                                # e^z, in place
        sum_exp = exp_z.sum(axis=1)                             # (N, d1, ...)
        log_sum_exp = xp.log(sum_exp)                           # (N, d1, ...)
        logp_t = z_t - log_sum_exp                              # (N, d1, ...) log p at the target
        loss = (1 - label_smoothing) * w_t * -logp_t            # -w[t] log p[t]
        w_sum = n_classes if weight is None else w_c.sum()      # sum_c w_c
        if label_smoothing > 0:
            # the uniform part of the smoothed target: -sum_c w_c log p_c, spread over C classes
            smooth = w_sum * log_sum_exp - z_w                  # (N, d1, ...)
            loss = loss + (label_smoothing / n_classes) * smooth
        loss = xp.where(valid, loss, 0)                         # ignored: exactly 0 (not -0.)
        denominator = xp.asarray(w_t.sum())
        self.save(exp_z=exp_z, sum_exp=sum_exp, p_t=xp.exp(logp_t), target_pos=target_pos,
                  valid=valid, w_t=w_t, w_c=w_c, w_sum=w_sum, reduction=reduction,
                  label_smoothing=label_smoothing, denominator=denominator)
        return _reduce(loss, reduction, denominator)

    def backward(self, gy):
        # loss_i = -sum_c q_ic log p_ic, with the target distribution q (0 where ignored)
        #   q_i = (1 - s) w[t_i] onehot(t_i) + (s / C) w          (s = label_smoothing)
        # and d(-log p_ic)/dx_ij = p_ij - delta_cj, so
        #   dloss_i/dx_i = (sum_c q_ic) p_i - q_i     (= w[t_i] (p_i - onehot(t_i)) when s = 0)
        s = self.saved
        xp = backend.get_array_module(gy)
        n_classes = s.exp_z.shape[1]
        smoothing = s.label_smoothing
        g = _reduce_backward(gy, s.w_t.shape, s.reduction, s.denominator)   # (N, d1, ...)
        g_target = g * ((1 - smoothing) * s.w_t)                # (N, d1, ...) 0 where ignored
        q_sum = g_target                                        # (N, d1, ...) g sum_c q_c
        if smoothing > 0:
            g_uniform = g * s.valid * (smoothing / n_classes)   # (N, d1, ...) 0 where ignored
            q_sum = g_target + s.w_sum * g_uniform
        # one new (N, C, d1, ...) array, C order so that its reshape(-1) is a view to write into
        gx = xp.empty(s.exp_z.shape, s.exp_z.dtype)
        xp.multiply(s.exp_z, xp.expand_dims(q_sum / s.sum_exp, 1), out=gx)   # g p sum_c q_c
        gx.reshape(-1)[s.target_pos] = s.p_t * q_sum - g_target   # target class: - g (1 - s) w[t]
        if smoothing > 0:
            gx -= xp.expand_dims(g_uniform, 1) * s.w_c          # every class: - g (s / C) w_c
        return gx, None


class NLLLoss(Function):
    def forward(self, x, target, weight, ignore_index, reduction):
        xp = backend.get_array_module(x)
        valid, index, w_t = _class_weights(target, weight, ignore_index, x.dtype)  # (N, d1, ...)
        loss = xp.where(valid, -w_t * _gather_classes(x, index), 0)                # (N, d1, ...)
        denominator = xp.asarray(w_t.sum())
        self.save(index=index, w_t=w_t, n_classes=x.shape[1], reduction=reduction,
                  denominator=denominator)
        return _reduce(loss, reduction, denominator)

    def backward(self, gy):
        # loss_i = -w[t_i] x_i[t_i]: the gradient is -w[t_i] at the target class, 0 elsewhere
        s = self.saved
        xp = backend.get_array_module(gy)
        g = _reduce_backward(gy, s.index.shape, s.reduction, s.denominator)   # (N, d1, ...)
        gx = _one_hot(s.index, s.n_classes) * xp.expand_dims(-g * s.w_t, 1)  # (N, C, d1, ...)
        return gx, None


class BinaryCrossEntropyWithLogits(Function):
    def forward(self, x, target, weight, pos_weight, reduction):
        xp = backend.get_array_module(x)
        # softplus(-x) = log(1 + e^-x) = -log sigmoid(x), as max(-x, 0) + log(1 + e^-|x|)
        softplus_neg = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))
        log_weight = 1 if pos_weight is None else 1 + (pos_weight - 1) * target
        loss = (1 - target) * x + log_weight * softplus_neg       # = max(x,0) - x t + log(1+e^-|x|)
        if weight is not None:
            loss = loss * weight
        self.save(x=x, target=target, weight=weight, pos_weight=pos_weight,
                  log_weight=log_weight, softplus_neg=softplus_neg, reduction=reduction)
        return _reduce(loss, reduction)

    def backward(self, gy):
        # loss = (1 - t) x + l softplus(-x), l = 1 + (pos_weight - 1) t (l = 1 without it):
        #   dloss/dx = (1 - t) - l sigmoid(-x)        (= sigmoid(x) - t when l = 1)
        #   dloss/dt = -x + (pos_weight - 1) softplus(-x)
        s = self.saved
        g = _reduce_backward(gy, s.x.shape, s.reduction)
        if s.weight is not None:
            g = g * s.weight
        gx = gt = None
        if self.needs_input_grad[0]:
            gx = g * ((1 - s.target) - s.log_weight * _sigmoid(-s.x))
        if self.needs_input_grad[1]:
            dt = -s.x if s.pos_weight is None else -s.x + (s.pos_weight - 1) * s.softplus_neg
            gt = g * dt
        return gx, gt


class MSELoss(Function):
    def forward(self, x, target, reduction):
        diff = x - target
        self.save(diff=diff, reduction=reduction)
        return _reduce(diff * diff, reduction)

    def backward(self, gy):
        # d(x - t)^2/dx = 2 (x - t) = -d(x - t)^2/dt
        g = _reduce_backward(gy, self.saved.diff.shape, self.saved.reduction)
        gx = 2 * g * self.saved.diff
        return gx, -gx


class SmoothL1Loss(Function):
    def forward(self, x, target, reduction, beta):
        xp = backend.get_array_module(x)
        diff = x - target
        size = xp.abs(diff)
        if beta == 0:                                          # the L1 loss (no division by 0)
            loss = size
        else:
            loss = xp.where(size < beta, 0.5 * diff * diff / beta, size - 0.5 * beta)
        self.save(diff=diff, reduction=reduction, beta=beta)
        return _reduce(loss, reduction)

    def backward(self, gy):
        # d/dd: d / beta where |d| < beta (the quadratic part), sign(d) elsewhere (the linear
        # part; both are +-1 at |d| = beta); d = x - t, so gt = -gx
        s = self.saved
        xp = backend.get_array_module(gy)
        slope = xp.sign(s.diff)
        if s.beta > 0:
            slope = xp.where(xp.abs(s.diff) < s.beta, s.diff / s.beta, slope)
        gx = _reduce_backward(gy, s.diff.shape, s.reduction) * slope
        return gx, -gx


# ---------------------------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------------------------
def _as_tensor(a):
    return a if isinstance(a, Tensor) else Tensor(a)


def _check_reduction(op, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check_class_inputs(op, x, target, weight, ignore_index, reduction):
    """Check a class-index loss's arguments; return x as a Tensor, target as an int64 array and
    weight as an array (or None)."""
    x, target = _as_tensor(x), _as_tensor(target).data
    weight = None if weight is None else _as_tensor(weight).data
    backend.get_array_module(x.data, target, weight, op=op)
    _check_reduction(op, reduction)
    if x.ndim < 2:
        raise ValueError(f"{op}: input must have shape (N, C) or (N, C, d1, ...), got {x.shape}")
    if not _is_float(x.dtype):
        raise TypeError(f"{op}: input must be floating-point, got dtype {x.dtype}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got dtype "
                        f"{target.dtype} with shape {tuple(target.shape)}")
    expected = (x.shape[0],) + x.shape[2:]
    if tuple(target.shape) != expected:
        raise ValueError(f"{op}: target has shape {tuple(target.shape)} but input {x.shape} "
                         f"needs {expected}")
    n_classes = x.shape[1]
    if weight is not None and tuple(weight.shape) != (n_classes,):
        raise ValueError(f"{op}: weight must have shape (C,) = ({n_classes},) for input "
                         f"{x.shape}, got {tuple(weight.shape)}")
    target = target.astype(np.int64, copy=False)
    outside = (target != ignore_index) & ((target < 0) | (target >= n_classes))
    if outside.any():
        raise IndexError(f"{op}: target holds class index {int(target[outside][0])}, outside "
                         f"[0, {n_classes}) and not ignore_index ({ignore_index})")
    return x, target, weight


def _check_pair(op, x, target, float_target=False):
    """Both as Tensors, after checking that their shapes are equal (losses do not broadcast)."""
    x, target = _as_tensor(x), _as_tensor(target)
    backend.get_array_module(x.data, target.data, op=op)
    if x.shape != target.shape:
        raise ValueError(f"{op}: input has shape {x.shape} but target has shape "
                         f"{target.shape}; they must be equal")
    if float_target and not _is_float(target.dtype):
        raise TypeError(f"{op}: target must be floating-point (probabilities), got dtype "
                        f"{target.dtype}")
    if _is_float(x.dtype) and not _is_float(target.dtype):    # integer targets take x's dtype
        target = Tensor(target.data.astype(x.dtype))            # (PyTorch's promotion)
    return x, target


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------
def cross_entropy(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy between logits and class indices, as torch.nn.functional.

    Parameters
    ----------
    input : (N, C) or (N, C, d1, d2, ...) Tensor or array
        Unnormalised class scores (logits); the class axis is 1.
    target : (N,) or (N, d1, d2, ...) integer Tensor or array
        Class indices in [0, C), or ``ignore_index``.
    weight : (C,) Tensor or array, optional
        Weight of each class (a constant: it receives no gradient).
    ignore_index : int
        Targets equal to it contribute neither loss nor gradient (e.g. 255 for VOC borders).
    reduction : {'mean', 'sum', 'none'}
        'none' returns the (N, d1, ...) per-element losses (0 where ignored).
    label_smoothing : float in [0, 1]
        Mix the one-hot target with the uniform distribution (Szegedy et al., 2016).

    Returns
    -------
    () Tensor, or (N, d1, ...) for reduction='none'.

    Notes
    -----
    With p = softmax(input) along axis 1 and s = label_smoothing, each non-ignored element has

        loss_i = (1 - s) * w[t_i] * (-log p_i[t_i]) + (s / C) * sum_c w_c * (-log p_ic)

    'mean' divides the sum of the loss_i by the sum of w[t_i] over non-ignored targets (every
    target ignored: NaN, as PyTorch, with zero gradients); 'sum' does not divide. The
    log-softmax is computed after subtracting the maximum, so logits of 1e4 give finite losses
    and gradients. Backward: dloss_i/dinput_i = (sum_c q_ic) p_i - q_i for the smoothed, weighted
    target q_i -- w[t_i] (p_i - onehot(t_i)) without smoothing.

    Raises
    ------
    TypeError for a non-integer target; ValueError for a target shape other than
    (N, d1, ...), a weight not (C,), an unknown reduction, label_smoothing outside [0, 1];
    IndexError for a class index outside [0, C) that is not ignore_index.

    Examples
    --------
    >>> logits = Tensor([[0.0, 0.0], [1e4, 0.0]])
    >>> round(cross_entropy(logits, [0, 1], reduction="sum").item(), 4)   # log 2 + 1e4
    10000.6934
    >>> cross_entropy(logits, [0, -100], reduction="none")
    Tensor([0.6931472, 0.       ])
    """
    x, target, weight = _check_class_inputs("cross_entropy", input, target, weight,
                                            ignore_index, reduction)
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    return CrossEntropy.apply(x, target, weight=weight, ignore_index=ignore_index,
                              reduction=reduction, label_smoothing=float(label_smoothing))


def nll_loss(input, target, weight=None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices given log-probabilities, as torch.nn.functional.

    ``nll_loss(log_softmax(x, axis=1), t)`` equals ``cross_entropy(x, t)``.

    Parameters
    ----------
    input : (N, C) or (N, C, d1, ...) Tensor or array of log-probabilities (class axis 1)
    target : (N,) or (N, d1, ...) integer Tensor or array, in [0, C) or ``ignore_index``
    weight : (C,) Tensor or array, optional; a constant
    ignore_index : int
    reduction : {'mean', 'sum', 'none'}

    Returns
    -------
    () Tensor, or (N, d1, ...) for reduction='none'.

    Notes
    -----
    loss_i = -w[t_i] * input_i[t_i] (0 where ignored); 'mean' divides by the sum of w[t_i] over
    the non-ignored targets. The gradient is -w[t_i] at the target class and 0 elsewhere.

    Examples
    --------
    >>> nll_loss(Tensor([[-0.5, -2.0], [-1.0, -0.25]]), [1, 0]).item()
    1.5
    """
    x, target, weight = _check_class_inputs("nll_loss", input, target, weight, ignore_index,
                                            reduction)
    return NLLLoss.apply(x, target, weight=weight, ignore_index=ignore_index,
                         reduction=reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """Sigmoid plus binary cross-entropy in one numerically stable op, as torch.nn.functional.

    Parameters
    ----------
    input : (...) Tensor or array of logits
    target : (...) floating Tensor or array, same shape, values in [0, 1]
        Receives a gradient too when it requires one (as in PyTorch).
    weight : Tensor or array broadcastable to input's shape, optional
        Rescales each element's loss (a constant).
    reduction : {'mean', 'sum', 'none'}
        'mean' is the plain mean over all elements.
    pos_weight : Tensor or array broadcastable to input's shape, optional
        Weight of the positive term, e.g. (C,) for (N, C) multi-label input (a constant).

    Returns
    -------
    () Tensor, or the input's shape for reduction='none'.

    Notes
    -----
    loss = -weight * [pos_weight * t * log sigmoid(x) + (1 - t) * log(1 - sigmoid(x))], computed
    without forming sigmoid(x):

        loss = (1 - t) x + l * softplus(-x),    l = 1 + (pos_weight - 1) t
        softplus(-x) = log(1 + e^-x) = max(-x, 0) + log(1 + e^-|x|)

    (without pos_weight: max(x, 0) - x t + log(1 + e^-|x|)). Only e^-|x| <= 1 is exponentiated,
    so logits of 1e4 give finite values and gradients. dloss/dx = (1 - t) - l sigmoid(-x)
    (sigmoid(x) - t without pos_weight); dloss/dt = -x + (pos_weight - 1) softplus(-x).

    Raises
    ------
    ValueError when target's shape differs from input's, or weight or pos_weight does not
    broadcast to it; TypeError for a non-floating target.

    Examples
    --------
    >>> binary_cross_entropy_with_logits(Tensor([0.0, 1e4, -1e4]), Tensor([1.0, 1.0, 1.0]),
    ...                                  reduction="none")
    Tensor([6.931472e-01, 0.000000e+00, 1.000000e+04])
    """
    op = "binary_cross_entropy_with_logits"
    _check_reduction(op, reduction)
    x, target = _check_pair(op, input, target, float_target=True)
    constants = {}
    for name, a in (("weight", weight), ("pos_weight", pos_weight)):
        a = None if a is None else _as_tensor(a).data
        if a is not None:
            backend.get_array_module(x.data, a, op=op)
            try:
                fits = np.broadcast_shapes(tuple(a.shape), x.shape) == x.shape
            except ValueError:
                fits = False
            if not fits:
                raise ValueError(f"{op}: {name} of shape {tuple(a.shape)} does not broadcast "
                                 f"to input of shape {x.shape}")
        constants[name] = a
    return BinaryCrossEntropyWithLogits.apply(x, target, reduction=reduction, **constants)


def mse_loss(input, target, reduction: str = "mean") -> Tensor:
    """Mean squared error (x - t)^2, as torch.nn.functional.

    Parameters
    ----------
    input, target : (...) Tensors or arrays of the same shape (no broadcasting: a shape
        mismatch is an error, where PyTorch only warns); both receive gradients.
    reduction : {'mean', 'sum', 'none'}

    Returns
    -------
    () Tensor, or the input's shape for reduction='none'.

    Notes
    -----
    dloss/dx = 2 (x - t) = -dloss/dt, divided by the number of elements for 'mean'.

    Examples
    --------
    >>> mse_loss(Tensor([1.0, 2.0]), Tensor([1.0, 4.0])).item()
    2.0
    """
    _check_reduction("mse_loss", reduction)
    x, target = _check_pair("mse_loss", input, target)
    return MSELoss.apply(x, target, reduction=reduction)


def smooth_l1_loss(input, target, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Smooth L1 (Huber-like) loss of Fast R-CNN's box regression, as torch.nn.functional.

    Parameters
    ----------
    input, target : (...) Tensors or arrays of the same shape (no broadcasting); both receive
        gradients.
    reduction : {'mean', 'sum', 'none'}
    beta : float >= 0
        Where the loss turns from quadratic to linear. beta = 0 is the L1 loss |x - t|.

    Returns
    -------
    () Tensor, or the input's shape for reduction='none'.

    Notes
    -----
    With d = x - t:

        loss = 0.5 d^2 / beta     if |d| < beta
               |d| - 0.5 beta     otherwise

    The two pieces meet with equal value and slope at |d| = beta; dloss/dd = d / beta inside,
    sign(d) outside. Fast R-CNN (Girshick, ICCV 2015, eq. 3) uses beta = 1.

    Examples
    --------
    >>> smooth_l1_loss(Tensor([0.5, 3.0]), Tensor([0.0, 0.0]), reduction="none")
    Tensor([0.125, 2.5  ])
    """
    _check_reduction("smooth_l1_loss", reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    x, target = _check_pair("smooth_l1_loss", input, target)
    return SmoothL1Loss.apply(x, target, reduction=reduction, beta=float(beta))
