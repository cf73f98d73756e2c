"""Numerical gradient checking: is an op's hand-written backward the derivative of its forward?

The check compares the analytic gradient from ``backward()`` with central differences computed
in float64:

    dL/dx_i  ~=  (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)

where L = <r, f(x)> projects every output onto a fixed random cotangent r, so that a single
backward pass gives the analytic J^T r for all inputs at once and any wrong entry of the Jacobian
J shows up (with probability one for a random r).

- Small inputs (at most ``max_full`` elements): every element is perturbed -- the whole of
  J^T r is compared entry by entry, and a failure names the worst entry.
- Large inputs: ``directions`` random unit directions u per input; the numeric directional
  derivative (L(x + eps u) - L(x - eps u)) / (2 eps) is compared with <J^T r, u> (as Chainer's
  check_backward does).

Pass/fail per entry: |analytic - numeric| <= atol + rtol * |numeric| (PyTorch's defaults).
Inputs are copied before being perturbed, so broadcast views with zero strides are safe.
The function must be deterministic (seed any randomness inside it) and smooth at the inputs
(keep them away from kinks: see minicv.testing).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from minicv import backend
from minicv.autograd import Tensor, _is_float

__all__ = ["gradcheck", "GradcheckError", "GradcheckResult", "numerical_grad"]


class GradcheckError(AssertionError):
    """The analytic and numeric gradients disagree."""


@dataclass
class GradcheckResult:
    passed: bool
    worst_ratio: float = 0.0     # max over entries of |a - n| / (atol + rtol |n|); passes at <= 1
    max_rel_error: float = 0.0   # max over entries of |a - n| / max(|a|, |n|, atol)
    message: str = ""
    checked: list = field(default_factory=list)   # indices of the inputs that were checked

    def __bool__(self):
        return self.passed


def _outputs(fn, tensors):
    out = fn(*tensors)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, Tensor) and _is_float(o.dtype)]


def _projected_loss(fn, arrays, cotangents) -> float:
    """L = sum_k <r_k, y_k> for the outputs y_k of fn at the given raw arrays (no graph)."""
    from minicv.autograd import no_grad
    with no_grad():
        outs = _outputs(fn, [Tensor(a) if a is not None else None for a in arrays])
    return float(sum((o.data.astype(np.float64) * r).sum() for o, r in zip(outs, cotangents)))


def numerical_grad(fn, arrays, index, cotangents, eps):
    """Central-difference gradient of L = <r, fn(...)> with respect to ``arrays[index]``."""
    x = arrays[index]
    xp = backend.get_array_module(x)
    grad = xp.zeros(x.shape, dtype=np.float64)
    work = list(arrays)
    flat_grad = grad.reshape(-1)
    base = x.copy()
    for i in range(x.size):
        pos = base.copy(); pos.reshape(-1)[i] += eps    # noqa: E702
        neg = base.copy(); neg.reshape(-1)[i] -= eps    # noqa: E702
        work[index] = pos
        lp = _projected_loss(fn, work, cotangents)
        work[index] = neg
        ln = _projected_loss(fn, work, cotangents)
        flat_grad[i] = (lp - ln) / (2 * eps)
    return grad


def _location(k: int, shape) -> str:
    """Name entry k of the compared values: an element of the input, or a direction."""
    if shape is None:
        return f"random direction {k}"
    return f"element {tuple(int(j) for j in np.unravel_index(k, shape))}"


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, *,
              wrt=None, max_full: int = 256, directions: int = 3, seed: int = 0,
              raise_exception: bool = True) -> GradcheckResult:
    """Check ``fn``'s backward against central differences, in float64.

    Parameters
    ----------
    fn : callable
        Takes Tensors (one per entry of ``inputs``) and returns a Tensor or a tuple of Tensors.
    inputs : sequence of arrays, Tensors, numbers or None
        Floating inputs are converted to float64 and checked; integer inputs (indices, labels)
        and None are passed through unchecked.
    eps, atol, rtol : float
        Step of the central difference and the tolerance |a - n| <= atol + rtol |n|.
    wrt : sequence of int, optional
        Indices of the inputs to check (default: every floating input).
    max_full : int
        Inputs with at most this many elements are checked element by element; larger ones
        along ``directions`` random unit directions.
    seed : int
        Seeds the random cotangent and directions, so a failure reproduces.
    raise_exception : bool
        Raise GradcheckError on failure (default) instead of only returning the result.

    Returns
    -------
    GradcheckResult (truthy when passed), with the worst error ratio and relative error.

    Raises
    ------
    GradcheckError naming the input, the worst element and the analytic and numeric values.

    Examples
    --------
    >>> import numpy as np, minicv.functional as F
    >>> x = np.random.default_rng(0).normal(size=(3, 4))
    >>> bool(gradcheck(lambda t: F.tanh(t), [x]))
    True
    """
    rng = np.random.default_rng(seed)
    arrays = []
    for x in inputs:
        if x is None:
            arrays.append(None)
            continue
        a = x.data if isinstance(x, Tensor) else x
        if not backend.is_array(a):
            a = np.asarray(a)
        # copy: perturbing a zero-stride broadcast view would change many elements at once
        arrays.append(a.astype(np.float64) if _is_float(a.dtype) else a.copy())
    if wrt is None:
        wrt = [i for i, a in enumerate(arrays) if a is not None and _is_float(a.dtype)]
    if not wrt:
        raise ValueError("gradcheck: no floating-point input to check")
    for i in wrt:
        if arrays[i] is None or not _is_float(arrays[i].dtype):
            kind = "None" if arrays[i] is None else f"dtype {arrays[i].dtype}"
            raise TypeError(f"gradcheck: wrt names input {i}, which is {kind}; only "
                            "floating-point inputs have gradients")

    # Analytic: one backward pass of L = <r, y> gives J^T r for every input.
    tensors = [None if a is None else Tensor(a.copy(), requires_grad=(i in wrt))
               for i, a in enumerate(arrays)]
    outs = _outputs(fn, tensors)
    if not outs:
        raise ValueError("gradcheck: fn returned no floating-point Tensor")
    for o in outs:
        if o.dtype != np.float64:
            raise TypeError(f"gradcheck: fn returned {o.dtype} for float64 inputs; ops must "
                            "keep float64 so the check is meaningful")
    xp = backend.get_array_module(outs[0].data)
    cotangents = [xp.asarray(rng.standard_normal(o.shape)) for o in outs]
    live = [(o, r) for o, r in zip(outs, cotangents) if o.requires_grad]
    for k, (o, r) in enumerate(live):      # leaves accumulate sum_k J_k^T r_k
        gy = r.copy()                      # backward gets its own copy of the cotangent...
        o.backward(gy, retain_graph=k < len(live) - 1)
        if not bool((gy == r).all()):      # ...and must not write into it
            raise GradcheckError("gradcheck: a backward modified its incoming gradient gy in "
                                 "place; backward must treat gy as read-only")
    analytic = {}
    for i in wrt:
        g = tensors[i].grad
        analytic[i] = xp.zeros(arrays[i].shape) if g is None else g

    result = GradcheckResult(passed=True, checked=list(wrt))
    compared = False
    for i in wrt:
        x = arrays[i]
        a_grad = analytic[i]
        if x.size <= max_full:
            n_grad = numerical_grad(fn, arrays, i, cotangents, eps)
            pairs = (a_grad.reshape(-1), n_grad.reshape(-1))
            full = True
        else:
            a_list, n_list = [], []
            for _ in range(directions):
                u = rng.standard_normal(x.shape)
                u = xp.asarray(u / np.linalg.norm(u))
                work = list(arrays)
                work[i] = x + eps * u
                lp = _projected_loss(fn, work, cotangents)
                work[i] = x - eps * u
                ln = _projected_loss(fn, work, cotangents)
                n_list.append((lp - ln) / (2 * eps))
                a_list.append(float((a_grad * u).sum()))
            pairs = (np.array(a_list), np.array(n_list))
            full = False
        a_vals, n_vals = (backend.to_cpu(p) for p in pairs)
        if a_vals.size == 0:
            continue
        compared = True
        diff = np.abs(a_vals - n_vals)
        ratio = diff / (atol + rtol * np.abs(n_vals))
        rel = diff / np.maximum(np.maximum(np.abs(a_vals), np.abs(n_vals)), atol)
        worst_rel = float(rel.max()) if np.all(np.isfinite(rel)) else np.inf   # NaN counts
        result.max_rel_error = max(result.max_rel_error, worst_rel)
        if not np.all(np.isfinite(ratio)):
            k = int(np.argmax(~np.isfinite(ratio)))
            ratio_k = np.inf
        else:
            k = int(np.argmax(ratio))
            ratio_k = float(ratio[k])
        result.worst_ratio = max(result.worst_ratio, ratio_k)
        if ratio_k > 1 and result.passed:
            result.passed = False
            result.message = (
                f"gradcheck failed for input {i} (shape {tuple(x.shape)}) at "
                f"{_location(k, x.shape if full else None)}: "
                f"analytic {float(a_vals[k]):.10g} vs numeric {float(n_vals[k]):.10g} "
                f"(|diff| {diff[k]:.3g} > atol {atol:g} + rtol {rtol:g} * |numeric|)")
    if not compared:
        raise ValueError("gradcheck: every checked input is empty, so nothing was compared; "
                         "check shapes with at least one element")
    if not result.passed and raise_exception:
        raise GradcheckError(result.message)
    return result
