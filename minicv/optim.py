"""Optimisers, learning-rate schedules and gradient clipping (torch.optim's names and maths).

An optimiser holds the parameters and, after ``loss.backward()`` has filled each ``p.grad``,
``step()`` updates ``p.data`` in place. Every update is vectorised per parameter on raw arrays
(NumPy or CuPy), outside the autograd graph, and keeps the parameter's dtype. Parameters whose
``grad`` is None (unused in this step, or frozen) are skipped.

    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    for x, target in batches:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), target)
        loss.backward()
        optimizer.step()

Notation: p the parameter, g its gradient, lr the learning rate, t the step count (from 1).

- SGD with momentum mu, dampening d and weight decay wd (Sutskever et al. 2013 as PyTorch):
      g <- g + wd p;   b <- g (first step), else mu b + (1 - d) g
      p <- p - lr (g + mu b)  with nesterov,   p <- p - lr b  without
- Adam (Kingma & Ba 2015, Algorithm 1); weight decay is an L2 term added to g:
      m <- beta1 m + (1 - beta1) g;   v <- beta2 v + (1 - beta2) g^2
      p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
- AdamW (Loshchilov & Hutter 2019): the same, but weight decay shrinks p directly,
      p <- p (1 - lr wd)   before the Adam step, instead of entering g.

Hyper-parameters live in ``optimizer.param_groups`` (a list of dicts, each with its "params"),
so a schedule changes ``group["lr"]`` and different layers may use different settings.
"""
from __future__ import annotations

import math

import numpy as np

from minicv import backend
from minicv.autograd import Tensor, no_grad

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "LRScheduler", "StepLR", "CosineAnnealingLR",
           "LinearLR", "LambdaLR", "clip_grad_norm_"]


# ---------------------------------------------------------------------------------------------
# Optimizer base
# ---------------------------------------------------------------------------------------------
class Optimizer:
    """Base class: keeps ``param_groups`` and per-parameter ``state``; subclasses write
    ``_update(p, grad, state, group)``.

    Parameters
    ----------
    params : iterable of Tensors, or of dicts ``{"params": [...], "lr": ...}`` (param groups;
        keys missing from a group take the optimiser's defaults)
    defaults : dict of hyper-parameters
    """

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.state = {}             # Parameter -> dict of arrays (momentum buffers, ...)
        self.param_groups = []
        params = list(params) if not isinstance(params, Tensor) else [params]
        if not params:
            raise ValueError(f"{self._name}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self):
        return type(self).__name__

    def add_param_group(self, group: dict) -> None:
        """Add a group of parameters, with hyper-parameters overriding the defaults."""
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{self._name}: a param group must be a dict with 'params', got "
                            f"{type(group).__name__}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{self._name}: parameters must be Tensors, got "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{self._name}: cannot optimise a non-leaf tensor of shape "
                                 f"{p.shape} (it was computed by {p.grad_fn})")
        known = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in known for p in params) or len({id(p) for p in params}) < len(params):
            raise ValueError(f"{self._name}: a parameter appears in more than one group")
        full = {**self.defaults, **{k: v for k, v in group.items() if k != "params"}}
        self._check_hyperparameters(full)
        full["params"] = params
        self.param_groups.append(full)

    def _check_hyperparameters(self, group: dict) -> None:
        if group["lr"] < 0:
            raise ValueError(f"{self._name}: lr must be >= 0, got {group['lr']}")
        if group.get("weight_decay", 0) < 0:
            raise ValueError(f"{self._name}: weight_decay must be >= 0, got "
                             f"{group['weight_decay']}")

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None (PyTorch's default ``set_to_none=True``)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def step(self, closure=None):
        """Update every parameter that has a gradient. ``closure``, if given, is called first
        (with the graph recorded) to recompute the loss, which is returned."""
        loss = None
        if closure is not None:
            loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    if tuple(p.grad.shape) != p.shape:
                        raise ValueError(f"{self._name}.step: gradient has shape "
                                         f"{tuple(p.grad.shape)} but the parameter {p.shape}")
                    self._update(p, p.grad, self.state.setdefault(p, {}), group)
        return loss

    def _update(self, p, grad, state: dict, group: dict) -> None:
        raise NotImplementedError(f"{self._name} must define _update(p, grad, state, group)")

    # --- saving -----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """{"state": {index: {name: NumPy array or number}}, "param_groups": [{..., "params":
        [indices]}]}, parameters numbered in the order of the groups (as PyTorch)."""
        index, groups = {}, []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index[id(p)] = len(index)
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        state = {}
        for p, values in self.state.items():
            state[index[id(p)]] = {k: _host_copy(v) for k, v in values.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyper-parameters and state saved by :meth:`state_dict` from an optimiser
        over parameters of the same shapes; arrays go to each parameter's device and dtype."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"{self._name}.load_state_dict: the state has {len(groups)} param "
                             f"groups but the optimiser {len(self.param_groups)}")
        params = []
        for i, (saved, group) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{self._name}.load_state_dict: group {i} has "
                                 f"{len(saved['params'])} parameters in the state but "
                                 f"{len(group['params'])} in the optimiser")
            params.extend(group["params"])
        for index, values in state_dict["state"].items():
            p = params[int(index)]
            for name, value in values.items():
                if backend.is_array(value) and tuple(value.shape) != p.shape:
                    raise ValueError(f"{self._name}.load_state_dict: state {name!r} of "
                                     f"parameter {index} has shape {tuple(value.shape)} but "
                                     f"the parameter {p.shape}")
        for saved, group in zip(groups, self.param_groups):
            group.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {}
        for index, values in state_dict["state"].items():
            p = params[int(index)]
            xp = backend.get_array_module(p.data)
            self.state[p] = {
                name: (xp.asarray(backend.to_cpu(v) if xp is np else v).astype(p.dtype)
                       if backend.is_array(v) else v)
                for name, v in values.items()}


def _host_copy(v):
    if not backend.is_array(v):
        return v
    host = backend.to_cpu(v)
    return host.copy() if host is v else host


# ---------------------------------------------------------------------------------------------
# SGD, Adam, AdamW
# ---------------------------------------------------------------------------------------------
class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, exactly as torch.optim.SGD.

    Parameters
    ----------
    params : iterable of Parameters or param groups
    lr : float              learning rate (no default, as PyTorch)
    momentum : float        mu >= 0 (0: plain SGD)
    dampening : float       d: the new gradient enters the buffer with weight (1 - d)
    weight_decay : float    L2 penalty wd: g <- g + wd * p
    nesterov : bool         look-ahead momentum; needs momentum > 0 and dampening = 0

    Examples
    --------
    With g = 1 at every step the buffer grows 1, 1.5, 1.75 (momentum 0.5):

    >>> from minicv.nn import Parameter
    >>> p = Parameter(np.array([1.0]))
    >>> sgd = SGD([p], lr=0.1, momentum=0.5)
    >>> for _ in range(3):
    ...     p.grad = np.array([1.0])
    ...     sgd.step()
    >>> p.data.round(6)
    array([0.575])
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _check_hyperparameters(self, group):
        super()._check_hyperparameters(group)
        if group["momentum"] < 0:
            raise ValueError(f"SGD: momentum must be >= 0, got {group['momentum']}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: nesterov needs momentum > 0 and dampening = 0, got "
                             f"momentum={group['momentum']}, dampening={group['dampening']}")

    def _update(self, p, grad, state, group):
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        if wd != 0:
            grad = grad + wd * p.data
        if mu != 0:
            buf = state.get("momentum_buffer")
            if buf is None:                       # first step: the buffer starts at g
                buf = state["momentum_buffer"] = grad.copy()
            else:
                buf *= mu
                buf += (1 - group["dampening"]) * grad
            grad = grad + mu * buf if group["nesterov"] else buf
        p.data -= lr * grad


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) exactly as torch.optim.Adam.

    Parameters
    ----------
    lr : float                      step size (1e-3)
    betas : (float, float)          decay rates of the first and second moment estimates
    eps : float                     added to the denominator for stability
    weight_decay : float            L2 penalty added to the gradient (see AdamW for decoupled)
    amsgrad : bool                  divide by the running maximum of v (Reddi et al. 2018)
    """

    _decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad))

    def _check_hyperparameters(self, group):
        super()._check_hyperparameters(group)
        for i, beta in enumerate(group["betas"]):
            if not 0 <= beta < 1:
                raise ValueError(f"{self._name}: betas[{i}] must be in [0, 1), got {beta}")
        if group["eps"] < 0:
            raise ValueError(f"{self._name}: eps must be >= 0, got {group['eps']}")

    def _update(self, p, grad, state, group):
        lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], \
            group["weight_decay"]
        xp = backend.get_array_module(p.data)
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p.data)       # m
            state["exp_avg_sq"] = xp.zeros_like(p.data)    # v
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(p.data)
        if wd != 0:
            if self._decoupled:
                p.data *= 1 - lr * wd                       # AdamW: shrink the weights
            else:
                grad = grad + wd * p.data                   # Adam: L2 term in the gradient
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * grad * grad
        if group["amsgrad"]:
            xp.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        bias_correction1 = 1 - beta1 ** t
        bias_correction2 = 1 - beta2 ** t
        denom = xp.sqrt(v) / math.sqrt(bias_correction2) + eps
        p.data -= (lr / bias_correction1) * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019), as torch.optim.AdamW:
    p <- p (1 - lr * weight_decay), then the Adam step on the plain gradient."""

    _decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


# ---------------------------------------------------------------------------------------------
# Learning-rate schedules
# ---------------------------------------------------------------------------------------------
class LRScheduler:
    """Base class: sets each group's lr to ``get_lr()`` of the current epoch.

    Creating a scheduler records each group's starting lr as ``initial_lr`` and applies epoch
    0; every ``step()`` (call it once per epoch, after ``optimizer.step()``) moves one epoch on.
    Schedules here are closed forms lr(epoch), so they do not drift and can jump to any epoch.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, got "
                            f"{type(optimizer).__name__}")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def get_lr(self) -> list:
        """The lr of each group at ``self.last_epoch``."""
        raise NotImplementedError(f"{type(self).__name__} must define get_lr()")

    def step(self) -> None:
        self.last_epoch += 1
        self._last_lr = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr

    def get_last_lr(self) -> list:
        """The lr of each group set by the last ``step()``."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer" and not callable(v)}

    def load_state_dict(self, state: dict) -> None:
        self.__dict__.update(state)


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** (epoch // step_size): decay by gamma every step_size epochs."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if step_size < 1:
            raise ValueError(f"StepLR: step_size must be >= 1, got {step_size}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * self.gamma ** (self.last_epoch // self.step_size)
                for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2
    (Loshchilov & Hutter 2017, SGDR, without restarts): from base_lr down to eta_min at T_max.

    >>> from minicv.nn import Parameter
    >>> schedule = CosineAnnealingLR(SGD([Parameter([0.0])], lr=1.0), T_max=4)
    >>> lrs = []
    >>> for _ in range(5):
    ...     lrs.append(round(schedule.get_last_lr()[0], 4))
    ...     schedule.step()
    >>> lrs
    [1.0, 0.8536, 0.5, 0.1464, 0.0]
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        if T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be >= 1, got {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base - self.eta_min) * cosine for base in self.base_lrs]


class LinearLR(LRScheduler):
    """Linear warm-up (or decay) of the lr factor from start_factor to end_factor over
    total_iters epochs, then constant: lr = base_lr * (start + (end - start) *
    min(epoch, total_iters) / total_iters)."""

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: need 0 < start_factor <= 1 and 0 <= end_factor <= 1, "
                             f"got {start_factor} and {end_factor}")
        if total_iters < 1:
            raise ValueError(f"LinearLR: total_iters must be >= 1, got {total_iters}")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, \
            total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        progress = min(self.last_epoch, self.total_iters) / self.total_iters
        factor = self.start_factor + (self.end_factor - self.start_factor) * progress
        return [base * factor for base in self.base_lrs]


class LambdaLR(LRScheduler):
    """lr = base_lr * lr_lambda(epoch), for any schedule written as a function, e.g. warm-up
    then cosine: ``LambdaLR(opt, lambda e: min(1, (e + 1) / 5) * (1 + cos(pi * e / 100)) / 2)``.
    """

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1):
        if not callable(lr_lambda):
            raise TypeError(f"LambdaLR: lr_lambda must be callable, got "
                            f"{type(lr_lambda).__name__}")
        self.lr_lambda = lr_lambda
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * self.lr_lambda(self.last_epoch) for base in self.base_lrs]


# ---------------------------------------------------------------------------------------------
# Gradient clipping
# ---------------------------------------------------------------------------------------------
def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    The total norm is the ``norm_type``-norm of the vector of every gradient entry (inf: the
    largest |g|). If it exceeds max_norm, every gradient is multiplied, in place, by
    max_norm / (total_norm + 1e-6) -- only when that coefficient is below 1 (as PyTorch's
    torch.nn.utils.clip_grad_norm_).

    Parameters
    ----------
    parameters : Tensor or iterable of Tensors (those with ``grad`` None are ignored)
    max_norm : float
    norm_type : float or inf
    error_if_nonfinite : bool
        Raise ValueError when the total norm is NaN or inf, instead of scaling every gradient
        by NaN (a NaN norm) or by 0 (an infinite one).

    Returns
    -------
    float : the total norm before clipping.

    Examples
    --------
    >>> from minicv.nn import Parameter
    >>> p = Parameter(np.zeros(2))
    >>> p.grad = np.array([3.0, 4.0])
    >>> clip_grad_norm_([p], max_norm=1.0)
    5.0
    >>> p.grad.round(6)
    array([0.6, 0.8])
    """
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm}")
    if not grads:
        return 0.0
    xp = backend.get_array_module(*grads, op="clip_grad_norm_")
    norm_type = float(norm_type)
    if norm_type == math.inf:
        norms = xp.stack([xp.abs(g).max().astype(np.float64) for g in grads])
        total = float(norms.max())
    else:
        # ||g||_p over everything = (sum over parameters of ||g_i||_p^p)^(1/p)
        powers = xp.stack([(xp.abs(g.astype(np.float64)) ** norm_type).sum() for g in grads])
        total = float(powers.sum() ** (1.0 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise ValueError(f"clip_grad_norm_: the total {norm_type}-norm of the gradients is "
                         f"{total}")
    coef = max_norm / (total + 1e-6)
    if not coef >= 1:              # a NaN norm scales every gradient by NaN, as in PyTorch
        for g in grads:
            g *= g.dtype.type(coef)
    return total
