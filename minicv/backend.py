"""The NumPy/CuPy switch: the only module in minicv that imports cupy.

Every op asks this module for ``xp`` -- the array library that owns its inputs -- and creates
arrays only through it, so one code path serves the CPU (NumPy) and the GPU (CuPy).

    >>> import numpy as np
    >>> get_array_module(np.zeros(3)) is np
    True

The default library for arrays created from nothing (``Tensor([1, 2])``, ``zeros``) is chosen by
:func:`use` or, at import time, by the ``MINICV_BACKEND`` environment variable ("numpy" or
"cupy"; "numpy" when unset).

Helpers that keep ops backend-neutral live here too: :func:`scatter_add` (a deterministic
index-add on both libraries, used by every backward pass that is a "gather transposed") and
:func:`sum_to` (sum a broadcast gradient back to an input's shape). :func:`keep_freed_memory`
tunes the C allocator under NumPy (the ``minicv`` command calls it).
"""
from __future__ import annotations

import os

import numpy as np

__all__ = [
    "BackendError", "DeviceMismatchError", "use", "current", "get_array_module", "gpu_available",
    "to_cpu", "to_gpu", "device_of", "is_array", "scatter_add", "sum_to", "keep_freed_memory",
]


class BackendError(RuntimeError):
    """CuPy was asked for but cannot be used (not installed, or no GPU visible)."""


class DeviceMismatchError(ValueError):
    """An op was given arrays that live on different devices."""


# ---------------------------------------------------------------------------------------------
# Finding CuPy (lazily: importing cupy costs a second or more, and most runs never need it)
# ---------------------------------------------------------------------------------------------
_cupy = None          # the cupy module once imported successfully
_cupy_problem = None  # why cupy cannot be used, once we know


def _load_cupy():
    """Return the cupy module, or raise BackendError saying exactly why it is unusable."""
    global _cupy, _cupy_problem
    if _cupy is not None:
        return _cupy
    if _cupy_problem is None:
        try:
            import cupy  # the one cupy import in minicv
        except ImportError as exc:
            _cupy_problem = ("CuPy is not installed (install a CuPy wheel for CUDA 12 with "
                             f"`pip install minicv[gpu]`): {exc}")
        else:
            try:
                count = cupy.cuda.runtime.getDeviceCount()
            except Exception as exc:  # CUDA driver missing or broken
                count, reason = 0, f"the CUDA runtime reported: {exc}"
            else:
                reason = "the CUDA runtime sees 0 devices"
            if count == 0:
                _cupy_problem = f"CuPy is installed but no GPU is visible ({reason})"
            else:
                _cupy = cupy
                return cupy
    raise BackendError(_cupy_problem)


def gpu_available() -> bool:
    """True when CuPy is installed and at least one GPU is visible."""
    try:
        _load_cupy()
    except BackendError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# The default backend
# ---------------------------------------------------------------------------------------------
_BACKENDS = ("numpy", "cupy")
_current = "numpy"


def use(name: str) -> None:
    """Make ``name`` ("numpy" or "cupy") the library for newly created arrays.

    Raises BackendError when "cupy" is asked for and cannot be used, saying whether CuPy is
    missing or no GPU is visible.
    """
    global _current
    if name not in _BACKENDS:
        raise ValueError(f"backend.use: name must be one of {_BACKENDS}, got {name!r}")
    if name == "cupy":
        _load_cupy()
    _current = name


def current() -> str:
    """The name of the default backend: "numpy" or "cupy"."""
    return _current


def _default_module():
    return np if _current == "numpy" else _load_cupy()


# ---------------------------------------------------------------------------------------------
# Which library owns these arrays?
# ---------------------------------------------------------------------------------------------
def _is_cupy_array(a) -> bool:
    # Checked by type name so that nothing here imports cupy just to ask.
    return type(a).__module__.split(".")[0] == "cupy"


def is_array(a) -> bool:
    """True for a NumPy or CuPy ndarray."""
    return isinstance(a, np.ndarray) or _is_cupy_array(a)


def device_of(a) -> str:
    """"gpu" for a CuPy array, "cpu" for anything else (NumPy arrays, Python scalars)."""
    return "gpu" if _is_cupy_array(a) else "cpu"


def get_array_module(*arrays, op: str | None = None):
    """Return numpy or cupy: the library that owns ``arrays``.

    Non-array arguments (Python scalars, None) are ignored. With no arrays at all, the default
    backend's module is returned. Arrays on both the CPU and the GPU raise
    DeviceMismatchError naming both devices and, when given, the op.
    """
    devices = {device_of(a) for a in arrays if is_array(a)}
    if len(devices) > 1:
        shapes = ", ".join(f"{device_of(a)} {tuple(a.shape)}" for a in arrays if is_array(a))
        where = f"{op}: " if op else ""
        raise DeviceMismatchError(
            f"{where}inputs live on different devices (cpu and gpu): {shapes}; "
            "move them with Tensor.to('cpu') or Tensor.to('gpu') first")
    if devices == {"gpu"}:
        return _load_cupy()
    if devices == {"cpu"}:
        return np
    return _default_module()


def to_cpu(a):
    """A NumPy copy of a CuPy array; NumPy arrays and scalars are returned as they are."""
    if _is_cupy_array(a):
        return a.get()
    return a if isinstance(a, np.ndarray) else np.asarray(a)


def to_gpu(a):
    """A CuPy copy of a NumPy array (raises BackendError if the GPU cannot be used)."""
    cp = _load_cupy()
    return a if _is_cupy_array(a) else cp.asarray(a)


# ---------------------------------------------------------------------------------------------
# Backend-neutral helpers for ops
# ---------------------------------------------------------------------------------------------
def sum_to(g, shape):
    """Sum ``g`` over the axes that broadcasting added or stretched, so it gets ``shape``.

    This is the backward of broadcasting: if y = broadcast_to(x, g.shape) then
    dL/dx = sum of dL/dy over every axis where x had size 1 (or did not exist).
    """
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)                      # axes broadcasting put in front
    if lead < 0 or any(n != 1 and n != m for n, m in zip(shape, g.shape[lead:])):
        raise ValueError(f"sum_to: a gradient of shape {tuple(g.shape)} cannot come from "
                         f"broadcasting shape {shape}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def scatter_add(target, indices, values):
    """Deterministically add ``values`` into ``target`` at flat positions ``indices``, in place.

    target : (M, ...) array, updated in place and returned.
    indices : (...) integer array of positions along target's first axis, in [0, M); repeats
        are summed.
    values : indices.shape + target.shape[1:] array.

    This is the backward of a gather (``y = x[indices]`` gives
    ``gx = scatter_add(0, indices, gy)``). The result is the same bits on every run, on both
    backends: NumPy's ``add.at`` adds in index order; on CuPy an atomic-add kernel would sum
    repeats in an unpredictable order, so we build a sparse (M, K) selection matrix instead and
    multiply -- cuSPARSE's CSR product sums each row in a fixed order.
    """
    xp = get_array_module(target, indices, values, op="scatter_add")
    expected = tuple(indices.shape) + tuple(target.shape[1:])
    if tuple(values.shape) != expected:
        raise ValueError(f"scatter_add: values have shape {tuple(values.shape)} but indices "
                         f"{tuple(indices.shape)} into a target {tuple(target.shape)} need "
                         f"{expected}")
    indices = indices.reshape(-1)
    if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= target.shape[0]):
        raise IndexError(f"scatter_add: indices must lie in [0, {target.shape[0]}) for a target "
                         f"of shape {tuple(target.shape)}, got {int(indices.min())} to "
                         f"{int(indices.max())}")
    values = values.reshape((indices.shape[0],) + target.shape[1:])
    if xp is np:
        np.add.at(target, indices, values)
        return target
    import cupyx.scipy.sparse as cusparse   # part of cupy: only reached with CuPy arrays
    k = indices.shape[0]
    if k == 0:
        return target
    flat = values.reshape(k, -1)
    dtype = flat.dtype if flat.dtype in (xp.float32, xp.float64) else xp.float64
    select = cusparse.csr_matrix(
        (xp.ones(k, dtype=dtype), (indices.astype(xp.int32), xp.arange(k, dtype=xp.int32))),
        shape=(target.shape[0], k))
    target += (select @ flat.astype(dtype)).reshape(target.shape).astype(target.dtype)
    return target


# ---------------------------------------------------------------------------------------------
# The default from the environment
# ---------------------------------------------------------------------------------------------
_env = os.environ.get("MINICV_BACKEND", "").strip().lower()
if _env:
    if _env not in _BACKENDS:
        raise ValueError(f"MINICV_BACKEND must be one of {_BACKENDS}, got {_env!r}")
    _current = _env   # cupy is checked on first use, so importing minicv never fails for it


# ---------------------------------------------------------------------------------------------
# Host memory
# ---------------------------------------------------------------------------------------------
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3        # mallopt parameters, from glibc's malloc.h


def keep_freed_memory(limit: int = 1 << 30) -> bool:
    """Make glibc's malloc keep freed NumPy buffers for reuse instead of returning them to the
    operating system; True if the setting took (glibc), False elsewhere (nothing changes).

    Why: a training step allocates and frees the same large arrays (activations, gradients)
    every time. By default glibc serves big requests with fresh ``mmap`` pages or trims the
    heap after a big ``free``, so the next step touches brand-new pages: one page fault and
    one zeroed 4 KiB page at a time. A DeconvNet step at 90x120 (the "small" preset, batch 8)
    took ~20,000 page faults and ~490 ms; with this setting ~3 faults and ~400 ms (2 cores).
    PyTorch avoids the same cost with its own caching allocator.

    It raises glibc's ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` to ``limit`` bytes (see
    ``man mallopt``): requests below it come from the heap, and the heap keeps up to that much
    free memory. The price: the process's resident memory stays at its peak between steps
    instead of falling back (the peak itself does not grow: 413 against 417 MiB over 15 such
    DeconvNet steps). Process-wide and permanent: the ``minicv`` command calls it at start;
    call it yourself at the top of a training script if you want the same.
    """
    import ctypes
    import ctypes.util
    import platform

    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mmap_ok = mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(limit)) == 1 or \
        mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(32 * 2**20)) == 1      # glibc's old ceiling
    trim_ok = mallopt(_M_TRIM_THRESHOLD, ctypes.c_int(limit)) == 1
    return bool(mmap_ok and trim_ok)
