"""Ops that move elements without changing them: reshape, transpose, permute, flatten, getitem,
concatenate (cat), stack, pad.

Each forward is a rearrangement y = x[p] for some map p from output positions to input
positions, so each backward is the transposed rearrangement: it puts every gy element back where
its value came from, adding where one input element was used several times.

    reshape, flatten        gx = gy.reshape(x.shape)
    transpose, permute      gx = gy.transpose(inverse permutation)
    getitem (basic)         gx = zeros; gx[index] = gy          (a view: no element used twice)
    getitem (advanced)      gx = scatter_add of gy at the flat positions p   (repeats add up)
    concatenate, stack      gx_k = the k-th piece of gy
    pad                     gx = gy without the padding, plus (reflect, replicate) the gradient
                            of every padded copy added onto its source element

Notation: ``gy`` is dL/dy, the gradient arriving from the loss; ``gx`` is what backward returns.
Axes follow NumPy and PyTorch: negative values count from the end.
"""
from __future__ import annotations

import math
import operator

import numpy as np

from minicv import backend
from minicv.autograd import Function, Tensor
from minicv.functional._args import shape_of as _shape_of
from minicv.functional.arith import promote

__all__ = ["reshape", "transpose", "permute", "flatten", "getitem", "concatenate", "cat",
           "stack", "pad"]


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def _int(op: str, name: str, value, shape: tuple) -> int:
    """``value`` as a Python int (NumPy integers accepted, bools refused)."""
    try:
        if isinstance(value, bool):
            raise TypeError
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int, got {value!r} (shape {shape})") from None


def _axis(op: str, axis, ndim: int, shape: tuple, name: str = "axis") -> int:
    """``axis`` as an index in [0, ndim), negative values counting from the end."""
    axis = _int(op, name, axis, shape)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: {name} {axis} is out of range for shape {shape} (must be in "
                         f"[{-ndim}, {ndim - 1}])")
    return axis % ndim


def _permutation(op: str, axes, shape: tuple) -> tuple:
    """``axes`` checked to be an ordering of all of ``shape``'s axes, made non-negative."""
    ndim = len(shape)
    if not isinstance(axes, (tuple, list)):
        raise TypeError(f"{op}: axes must be a tuple of ints, got {axes!r} (shape {shape})")
    perm = tuple(_axis(op, a, ndim, shape, name="axes entry") for a in axes)
    if sorted(perm) != list(range(ndim)):
        hint = " (torch.transpose(x, dim0, dim1) swapping two axes is permute here)" \
            if op == "transpose" and len(axes) == 2 else ""
        raise ValueError(f"{op}: axes {tuple(axes)} is not a permutation of the {ndim} axes of "
                         f"shape {shape}{hint}")
    return perm


# ---------------------------------------------------------------------------------------------
# reshape, transpose / permute
# ---------------------------------------------------------------------------------------------
class Reshape(Function):
    def forward(self, x, shape):
        self.save(in_shape=x.shape)
        return x.reshape(shape)

    def backward(self, gy):
        # reshape keeps the elements in row-major order: y.flat[i] = x.flat[i]
        return gy.reshape(self.saved.in_shape)


class Transpose(Function):
    def forward(self, x, axes):
        self.save(axes=axes)
        return x.transpose(axes)

    def backward(self, gy):
        # y axis k is x axis axes[k], so x axis axes[k] is y axis k: transpose by the inverse
        inverse = tuple(int(k) for k in np.argsort(self.saved.axes))
        return gy.transpose(inverse)


def _reshape_target(op: str, in_shape: tuple, shape) -> tuple:
    """``shape`` with its -1 (at most one) filled in, checked to hold as many elements."""
    items = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    target = [_int(op, "shape entry", n, in_shape) for n in items]
    size = math.prod(in_shape)
    unknown = [k for k, n in enumerate(target) if n == -1]
    if len(unknown) > 1:
        raise ValueError(f"{op}: shape {tuple(target)} has more than one -1 (input shape "
                         f"{in_shape})")
    if any(n < -1 for n in target):
        raise ValueError(f"{op}: shape {tuple(target)} has a negative size (input shape "
                         f"{in_shape})")
    if unknown:
        known = math.prod(n for n in target if n != -1)
        if known == 0 or size % known:
            raise ValueError(f"{op}: cannot reshape {in_shape} ({size} elements) into "
                             f"{tuple(target)}: no size for -1 makes the element counts match")
        target[unknown[0]] = size // known
    if math.prod(target) != size:
        raise ValueError(f"{op}: cannot reshape {in_shape} ({size} elements) into "
                         f"{tuple(target)} ({math.prod(target)} elements)")
    return tuple(target)


def reshape(x, shape) -> Tensor:
    """The elements of x, in row-major order, arranged in a new ``shape``.

    Parameters
    ----------
    x : (...) Tensor or array
    shape : int or tuple of ints
        The new shape; one entry may be -1, meaning "whatever makes the sizes match".

    Returns
    -------
    Tensor of ``shape`` (a view of x's data where NumPy can make one).

    Raises
    ------
    ValueError if the element counts differ (naming both shapes), or for several -1 entries.

    Examples
    --------
    >>> import numpy as np
    >>> reshape(np.arange(6.0), (2, -1)).shape
    (2, 3)
    """
    in_shape = _shape_of(x)
    return Reshape.apply(x, shape=_reshape_target("reshape", in_shape, shape))


def transpose(x, axes=None) -> Tensor:
    """Permute the axes of x as ``numpy.transpose``: None reverses them.

    Parameters
    ----------
    x : (D0, ..., Dn-1) Tensor or array
    axes : tuple of ints, optional
        A permutation of ``range(n)`` (negative entries allowed): output axis k is input axis
        ``axes[k]``. Unlike ``torch.transpose(x, dim0, dim1)``, this is a full permutation -- it
        is :func:`permute` with a default.

    Returns
    -------
    Tensor of shape (D[axes[0]], ..., D[axes[n-1]]), a view of x's data.

    Examples
    --------
    >>> import numpy as np
    >>> transpose(np.zeros((2, 3, 4))).shape
    (4, 3, 2)
    """
    shape = _shape_of(x)
    axes = tuple(reversed(range(len(shape)))) if axes is None else axes
    return Transpose.apply(x, axes=_permutation("transpose", axes, shape))


def permute(x, axes) -> Tensor:
    """Permute the axes of x (``torch.permute``): output axis k is input axis ``axes[k]``.

    Parameters
    ----------
    x : (D0, ..., Dn-1) Tensor or array
    axes : tuple of ints
        A permutation of ``range(n)``; negative entries count from the end.

    Returns
    -------
    Tensor of shape (D[axes[0]], ..., D[axes[n-1]]).

    Examples
    --------
    >>> import numpy as np
    >>> permute(np.zeros((2, 3, 4, 5)), (0, 2, 3, 1)).shape    # NCHW -> NHWC
    (2, 4, 5, 3)
    """
    shape = _shape_of(x)
    return Transpose.apply(x, axes=_permutation("permute", axes, shape))


def flatten(x, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes ``start_dim..end_dim`` (both included) into one, as ``torch.flatten``.

    Parameters
    ----------
    x : (D0, ..., Dn-1) Tensor or array
    start_dim, end_dim : int
        First and last axis to merge; negative values count from the end. A 0-d x is treated as
        shape (1,) (so it becomes a 1-element vector, as in PyTorch).

    Returns
    -------
    Tensor of shape (D0, ..., D[start-1], D[start] * ... * D[end], D[end+1], ...).

    Examples
    --------
    >>> import numpy as np
    >>> flatten(np.zeros((2, 3, 4, 5)), start_dim=1).shape
    (2, 60)
    """
    shape = _shape_of(x)
    padded = shape or (1,)              # torch: a 0-d tensor flattens to shape (1,)
    ndim = len(padded)
    start = _axis("flatten", start_dim, ndim, shape, name="start_dim")
    end = _axis("flatten", end_dim, ndim, shape, name="end_dim")
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
                         f"(shape {shape})")
    target = padded[:start] + (math.prod(padded[start:end + 1]),) + padded[end + 1:]
    return Reshape.apply(x, shape=target)


# ---------------------------------------------------------------------------------------------
# getitem
# ---------------------------------------------------------------------------------------------
def _index_items(index) -> tuple:
    """The parts of ``index`` as a tuple, Tensors replaced by their arrays and lists by arrays."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for it in items:
        if isinstance(it, Tensor):
            it = it.data
        elif isinstance(it, list):
            it = np.asarray(it)
            if it.size == 0:
                it = it.astype(np.int64)    # x[[]] selects nothing (NumPy reads [] as float)
        elif isinstance(it, (bool, np.bool_)):
            it = np.asarray(it)             # a scalar mask: x[True] adds an axis, as NumPy
        out.append(it)
    return tuple(out)


def _check_index(items: tuple, shape: tuple, xp) -> tuple:
    """Validate an index against ``shape``; return it with arrays moved to ``xp``.

    Raises IndexError naming getitem, the offending index part and the shape, as NumPy would
    (CuPy would silently wrap an out-of-range integer array instead).
    """
    ndim = len(shape)
    checked, consumed = [], 0
    for it in items:
        if backend.is_array(it):
            if it.dtype != bool and it.dtype.kind not in "iu":
                raise IndexError(f"getitem: index arrays must hold integers or booleans, got "
                                 f"dtype {it.dtype} (tensor shape {shape})")
            it = xp.asarray(it) if xp is not np else backend.to_cpu(it)
            consumed += it.ndim if it.dtype == bool else 1
        elif it is None or it is Ellipsis:
            pass
        elif isinstance(it, slice):
            consumed += 1
        else:
            try:
                it = operator.index(it)
            except TypeError:
                raise IndexError(f"getitem: only integers, slices, None, Ellipsis and integer "
                                 f"or boolean arrays are valid indices, got {it!r} (tensor "
                                 f"shape {shape})") from None
            consumed += 1
        checked.append(it)
    if sum(it is Ellipsis for it in checked) > 1:
        raise IndexError(f"getitem: an index can hold only one Ellipsis (tensor shape {shape})")
    if consumed > ndim:
        raise IndexError(f"getitem: too many indices for tensor of shape {shape}: the index "
                         f"addresses {consumed} axes")

    axis = 0                            # the axis of x the next index part applies to
    for it in checked:
        if it is Ellipsis:
            axis += ndim - consumed
        elif it is None:
            continue
        elif isinstance(it, slice):
            axis += 1
        elif isinstance(it, int):
            if not -shape[axis] <= it < shape[axis]:
                raise IndexError(f"getitem: index {it} is out of bounds for axis {axis} with "
                                 f"size {shape[axis]} (tensor shape {shape})")
            axis += 1
        elif it.dtype == bool:
            covered = shape[axis:axis + it.ndim]
            if tuple(it.shape) != covered:
                raise IndexError(f"getitem: boolean index of shape {tuple(it.shape)} does not "
                                 f"match axes {axis}..{axis + it.ndim - 1} of size {covered} "
                                 f"(tensor shape {shape})")
            axis += it.ndim
        else:
            if it.size:
                low, high = int(it.min()), int(it.max())
                bad = low if low < -shape[axis] else high
                if low < -shape[axis] or high >= shape[axis]:
                    raise IndexError(f"getitem: index {bad} (in an index array) is out of "
                                     f"bounds for axis {axis} with size {shape[axis]} (tensor "
                                     f"shape {shape})")
            axis += 1
    return tuple(checked)


class GetItem(Function):
    def forward(self, x, index, basic):
        self.save(shape=x.shape, index=index, basic=basic)
        return backend.get_array_module(x).asarray(x[index])   # NumPy gives scalars for x[i, j]

    def backward(self, gy):
        # y = x[index]: each gy element goes back to the x element it was read from; an element
        # read k times (repeated integer indices) receives the sum of those k gradients.
        xp = backend.get_array_module(gy)
        s = self.saved
        if s.basic:                     # a view: every x element appears at most once in y
            gx = xp.zeros(s.shape, dtype=gy.dtype)
            gx[s.index] = gy
            return gx
        size = math.prod(s.shape)
        positions = xp.arange(size).reshape(s.shape)[s.index]   # y's shape: flat source of each y
        gx = xp.zeros(size, dtype=gy.dtype)
        backend.scatter_add(gx, positions.reshape(-1), gy.reshape(-1))
        return gx.reshape(s.shape)


def getitem(x, index) -> Tensor:
    """``x[index]`` with NumPy's indexing rules (what ``Tensor.__getitem__`` calls).

    Parameters
    ----------
    x : (...) Tensor or array
    index : int, slice, None, Ellipsis, integer or boolean array/Tensor/list, or a tuple of these
        Basic indexing (ints, slices with any step, None, ``...``) selects a view; advanced
        indexing (integer arrays, lists, boolean masks, and mixes such as ``x[idx, :, 2]``)
        gathers a copy. Negative integers count from the end.

    Returns
    -------
    Tensor of NumPy's result shape for ``x.data[index]``.

    Raises
    ------
    IndexError for an index out of range (integers and integer arrays alike), a boolean mask
    of the wrong shape, too many indices, or an index of an unsupported type.

    Notes
    -----
    Backward scatters gy into zeros of x's shape. With advanced indices the same x element may
    be picked several times (``x[[0, 0, 1]]``); its gradient is then the sum of the gradients of
    all its copies, added in a fixed order by :func:`minicv.backend.scatter_add` so the result is
    deterministic on both backends.

    Examples
    --------
    >>> import numpy as np
    >>> x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    >>> getitem(x, [0, 0, 2]).sum().backward()
    >>> x.grad
    array([2., 0., 1.])
    """
    shape = _shape_of(x)
    x = x if isinstance(x, Tensor) else Tensor(x)
    index = _check_index(_index_items(index), shape, backend.get_array_module(x.data))
    basic = all(isinstance(it, (int, slice)) or it is None or it is Ellipsis for it in index)
    return GetItem.apply(x, index=index, basic=basic)


# ---------------------------------------------------------------------------------------------
# concatenate, stack
# ---------------------------------------------------------------------------------------------
def _sequence_shapes(op: str, tensors) -> list:
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of tensors, got "
                        f"{type(tensors).__name__}")
    if len(tensors) == 0:
        raise ValueError(f"{op}: expected a non-empty list of tensors")
    return [_shape_of(t) for t in tensors]


class Concatenate(Function):
    def forward(self, *xs, axis):
        xs = promote(*xs)
        self.save(axis=axis, sizes=[x.shape[axis] for x in xs])
        return backend.get_array_module(*xs).concatenate(xs, axis=axis)

    def backward(self, gy):
        # y is the pieces x_0, x_1, ... laid end to end along axis: gx_k is gy's k-th piece
        xp = backend.get_array_module(gy)
        s = self.saved
        ends = np.cumsum(s.sizes)[:-1].tolist()                 # where each piece stops
        pieces = xp.split(gy, ends, axis=s.axis)
        return tuple(g if need else None for g, need in zip(pieces, self.needs_input_grad))


class Stack(Function):
    def forward(self, *xs, axis):
        xs = promote(*xs)
        self.save(axis=axis)
        return backend.get_array_module(*xs).stack(xs, axis=axis)

    def backward(self, gy):
        # y[..., k, ...] = x_k: gx_k is the k-th slice of gy along the new axis
        xp = backend.get_array_module(gy)
        slices = xp.moveaxis(gy, self.saved.axis, 0)           # (K, ...x's shape)
        return tuple(slices[k] if need else None for k, need in enumerate(self.needs_input_grad))


def concatenate(tensors, axis: int = 0) -> Tensor:
    """Join tensors end to end along an existing ``axis`` (``torch.cat``).

    Parameters
    ----------
    tensors : list or tuple of K Tensors or arrays
        All with the same number of axes and the same sizes except along ``axis``.
    axis : int
        The axis to join along; negative values count from the end.

    Returns
    -------
    Tensor whose ``axis`` has the summed size of the inputs' (dtype: NumPy's promotion).

    Raises
    ------
    ValueError naming every shape that does not fit, or an axis out of range.

    Examples
    --------
    >>> import numpy as np
    >>> concatenate([np.zeros((2, 3)), np.ones((1, 3))]).shape
    (3, 3)
    """
    shapes = _sequence_shapes("concatenate", tensors)
    first = shapes[0]
    if len(first) == 0:
        raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated "
                         f"(shapes {shapes}); use stack")
    axis = _axis("concatenate", axis, len(first), first)
    rest = lambda s: s[:axis] + s[axis + 1:]               # noqa: E731  (shape outside axis)
    bad = [(k, s) for k, s in enumerate(shapes) if len(s) != len(first) or rest(s) != rest(first)]
    if bad:
        offenders = ", ".join(f"tensor {k} has shape {s}" for k, s in bad)
        raise ValueError(f"concatenate: shapes must match except along axis {axis}: tensor 0 "
                         f"has shape {first} but {offenders}")
    return Concatenate.apply(*tensors, axis=axis)


cat = concatenate


def stack(tensors, axis: int = 0) -> Tensor:
    """Join K tensors of one shape along a new ``axis`` (``torch.stack``).

    Parameters
    ----------
    tensors : list or tuple of K Tensors or arrays, all of shape (D0, ..., Dn-1)
    axis : int
        Where the new axis goes in the output, in [-(n + 1), n].

    Returns
    -------
    Tensor of shape (D0, ..., K, ..., Dn-1) with K at ``axis``.

    Raises
    ------
    ValueError naming every shape that differs from the first, or an axis out of range.

    Examples
    --------
    >>> import numpy as np
    >>> stack([np.zeros((2, 3)), np.ones((2, 3))], axis=-1).shape
    (2, 3, 2)
    """
    shapes = _sequence_shapes("stack", tensors)
    first = shapes[0]
    bad = [(k, s) for k, s in enumerate(shapes) if s != first]
    if bad:
        offenders = ", ".join(f"tensor {k} has shape {s}" for k, s in bad)
        raise ValueError(f"stack: all tensors must have the same shape: tensor 0 has shape "
                         f"{first} but {offenders}")
    axis = _axis("stack", axis, len(first) + 1, first)
    return Stack.apply(*tensors, axis=axis)


# ---------------------------------------------------------------------------------------------
# pad
# ---------------------------------------------------------------------------------------------
_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}  # -> NumPy's


def _pad_widths(pad, mode: str, shape: tuple) -> list:
    """PyTorch's flat ``pad`` (last axis first) as NumPy's [(before, after)] for every axis."""
    ndim = len(shape)
    pairs = len(pad) // 2
    if pairs > ndim:
        raise ValueError(f"pad: padding {tuple(pad)} has {pairs} (before, after) pairs but the "
                         f"input has only {ndim} axes (shape {shape})")
    widths = [(0, 0)] * ndim
    for k in range(pairs):              # pair k pads axis -1 - k
        widths[ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    for axis, (before, after) in enumerate(widths):
        n = shape[axis]
        if mode == "constant":
            if n + before + after < 0:
                raise ValueError(f"pad: padding ({before}, {after}) crops axis {axis} of size "
                                 f"{n} below zero (shape {shape})")
        elif min(before, after) < 0:
            raise ValueError(f"pad: negative padding ({before}, {after}) crops, which only mode "
                             f"'constant' allows, got mode {mode!r} (shape {shape})")
        elif mode == "reflect" and (before >= n or after >= n) and (before or after):
            raise ValueError(f"pad: reflect padding ({before}, {after}) of axis {axis} must be "
                             f"smaller than its size {n} (shape {shape})")
        elif mode == "replicate" and n == 0 and (before or after):
            raise ValueError(f"pad: replicate padding ({before}, {after}) of axis {axis} has "
                             f"nothing to replicate: the axis has size 0 (shape {shape})")
    return widths


class ConstantPad(Function):
    def forward(self, x, widths, value):
        xp = backend.get_array_module(x)
        # A negative width crops, so per axis the kept input range [src) lands on [dst) of y:
        # both are empty when the crop eats the whole axis.
        out_shape, src, dst = [], [], []
        for n, (before, after) in zip(x.shape, widths):
            m = n + before + after
            keep = max(n + min(before, 0) + min(after, 0), 0)   # input elements kept
            x0, y0 = max(-before, 0), max(before, 0)            # where they start in x and y
            out_shape.append(m)
            src.append(slice(x0, x0 + keep))
            dst.append(slice(y0, y0 + keep))
        src, dst = tuple(src), tuple(dst)
        self.save(shape=x.shape, src=src, dst=dst)
        y = xp.full(out_shape, value, dtype=x.dtype)
        y[dst] = x[src]
        return y

    def backward(self, gy):
        # y[dst] = x[src] and the rest of y is the constant: x elements in src get gy[dst],
        # cropped ones get 0
        xp = backend.get_array_module(gy)
        s = self.saved
        gx = xp.zeros(s.shape, dtype=gy.dtype)
        gx[s.src] = gy[s.dst]
        return gx


class IndexPad(Function):
    """Reflect and replicate padding: y = x.flat[positions], positions the padded flat indices."""

    def forward(self, x, widths, mode):
        xp = backend.get_array_module(x)
        flat_index = xp.arange(x.size).reshape(x.shape)
        positions = xp.pad(flat_index, widths, mode=_PAD_MODES[mode])   # y's shape
        self.save(shape=x.shape, positions=positions)
        return x.reshape(-1)[positions]

    def backward(self, gy):
        # Each y element is a copy of x.flat[positions]: an x element mirrored or replicated
        # into the border gets the sum of the gradients of all its copies.
        xp = backend.get_array_module(gy)
        s = self.saved
        gx = xp.zeros(math.prod(s.shape), dtype=gy.dtype)
        backend.scatter_add(gx, s.positions.reshape(-1), gy.reshape(-1))
        return gx.reshape(s.shape)


def pad(x, pad, mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad (or, with negative widths in constant mode, crop) x, with ``torch.nn.functional.pad``'s
    conventions.

    Parameters
    ----------
    x : (D0, ..., Dn-1) Tensor or array
    pad : tuple of 2P ints, P <= n
        (before, after) pairs starting from the LAST axis: ``(left, right)`` pads axis -1,
        ``(left, right, top, bottom)`` pads axes -1 and -2, and so on. NumPy's ``np.pad`` width
        list is the reverse: ``[..., (top, bottom), (left, right)]``.
    mode : {"constant", "reflect", "replicate"}
        - "constant": fill with ``value``. Negative widths crop that many elements from that
          side (as PyTorch allows), so ``pad(x, (-1, -1))`` drops the first and last column.
        - "reflect": mirror without repeating the edge ([1, 2, 3] with (2, 2) -> 3 2 1 2 3 2 1);
          every width must be smaller than its axis.
        - "replicate": repeat the edge element ([1, 2, 3] with (2, 2) -> 1 1 1 2 3 3 3).
        Reflect and replicate take non-negative widths. PyTorch allows them on the last 1 to 3
        axes of 2-D to 5-D inputs only; minicv allows any axes.
    value : float
        The fill of constant mode (it keeps x's dtype). Other modes take no value.

    Returns
    -------
    Tensor of shape (..., D[n-2] + top + bottom, D[n-1] + left + right), of x's dtype.

    Raises
    ------
    ValueError for an odd number of widths, more pairs than axes, an unknown mode, a reflect
    width not smaller than its axis, a negative width outside constant mode, or a crop larger
    than the axis. TypeError for widths that are not ints.

    Notes
    -----
    Backward of constant padding cuts the border off gy (and puts zeros where x was cropped).
    Reflect and replicate pads are gathers ``y = x.flat[positions]``, where ``positions`` is the
    flat index array ``arange(x.size)`` padded the same way; their backward scatter-adds gy at
    those positions, so an element copied into the border collects the gradient of each copy.

    Examples
    --------
    >>> import numpy as np
    >>> pad(np.array([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect")
    Tensor([[3., 2., 1., 2., 3., 2.]], dtype=float64)
    >>> pad(np.array([[1.0, 2.0, 3.0]]), (-1, 1), value=9.0)
    Tensor([[2., 3., 9.]], dtype=float64)
    """
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be 'constant', 'reflect' or 'replicate', got {mode!r}")
    shape = _shape_of(x)
    if not isinstance(pad, (tuple, list)):
        raise TypeError(f"pad: pad must be a tuple of ints, got {pad!r} (shape {shape})")
    pad = tuple(_int("pad", "pad entry", p, shape) for p in pad)
    if len(pad) % 2:
        raise ValueError(f"pad: pad must hold (before, after) pairs, got {len(pad)} values "
                         f"{pad} (shape {shape})")
    if mode != "constant" and value != 0:
        raise ValueError(f"pad: mode {mode!r} takes no value, got value={value!r}")
    widths = _pad_widths(pad, mode, shape)
    if mode == "constant":
        return ConstantPad.apply(x, widths=widths, value=value)
    return IndexPad.apply(x, widths=widths, mode=mode)
