"""How `minicv bench` measures: wall time, peak memory, the optional PyTorch twin, the table.

Timing rules (the same for minicv and PyTorch):

- warm up first (``warmup`` calls: CuPy compiles its kernels and NumPy/BLAS touch their buffers
  on the first call), then report the median of ``repeat`` timed calls -- the median, not the
  mean, because a shared machine adds rare long outliers;
- work on a GPU is queued, not done, when a call returns: synchronise the device before
  starting the clock and again before reading it (:func:`synchronizer`), otherwise one measures
  only the time to launch the kernels.

Peak memory is "extra" memory: what one forward+backward allocated at its highest point above
what was allocated just before it (inputs, weights and the upstream gradient exist already and
are not counted; the output, saved buffers, temporaries and the gradients are).

- NumPy: :mod:`tracemalloc`, which sees every NumPy array buffer (NumPy reports its
  allocations to it) and Python objects; BLAS scratch space is not seen.
- CuPy: the default memory pool. Cached free blocks are released first, so the pool's
  ``total_bytes()`` after the call is the most it ever held during the call; its growth is an
  upper bound of the peak (the pool rounds each block up to 512 bytes and may not reuse a freed
  block for a request of another size).
"""
from __future__ import annotations

import os
import platform
import statistics
import time
import tracemalloc

import numpy as np

__all__ = ["threads", "find_torch", "find_torchvision", "synchronizer", "torch_synchronizer",
           "time_ms", "peak_mib", "describe_device", "format_table", "print_table"]


# ---------------------------------------------------------------------------------------------
# Threads and the optional PyTorch comparison
# ---------------------------------------------------------------------------------------------
def threads() -> int:
    """The thread count both libraries are held to: OMP_NUM_THREADS, default all cores.

    NumPy's BLAS reads OMP_NUM_THREADS when it starts, so set it in the environment
    (``OMP_NUM_THREADS=2 minicv bench layers``); PyTorch is then given the same count.
    """
    return int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1))


def find_torch():
    """PyTorch if it is installed (an optional comparison) with ``threads()`` threads, else None.

    Imported here, at run time, never by the package itself: minicv does not need PyTorch.
    """
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads())
    return torch


def find_torchvision():
    """torchvision if it is installed (the twin of the region ops in ``minicv bench roi``), else
    None.

    Like PyTorch, imported only here and only at run time. Its CPU kernels run on PyTorch's
    threads, so call :func:`find_torch` first (it sets their number).
    """
    try:
        import torchvision
    except ImportError:
        return None
    return torchvision


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------
def _nothing_to_wait_for():
    return None


def synchronizer(xp):
    """A function that waits until the device of array module ``xp`` has finished its work.

    NumPy computes before returning, so there is nothing to wait for. For CuPy, ``xp`` is the
    module object handed out by ``minicv.backend.get_array_module`` (minicv imports cupy only
    in backend.py) and the wait is ``xp.cuda.Device().synchronize()``.
    """
    if xp is np:
        return _nothing_to_wait_for
    return lambda: xp.cuda.Device().synchronize()


def torch_synchronizer(torch, device: str):
    """The same for PyTorch: ``torch.cuda.synchronize`` on "cuda", nothing on "cpu"."""
    return torch.cuda.synchronize if device == "cuda" else _nothing_to_wait_for


def time_ms(fn, repeat: int = 10, warmup: int = 2, sync=_nothing_to_wait_for) -> float:
    """Median wall time of ``fn()`` in milliseconds, after ``warmup`` untimed calls.

    ``sync()`` is called before the clock starts and before it is read (see
    :func:`synchronizer`), so queued GPU work is counted in the call that queued it.
    """
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(repeat):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        runs.append((time.perf_counter() - start) * 1e3)
    return statistics.median(runs)


# ---------------------------------------------------------------------------------------------
# Peak memory
# ---------------------------------------------------------------------------------------------
def peak_mib(fn, xp=np, sync=_nothing_to_wait_for) -> float:
    """Peak memory allocated during one ``fn()`` beyond what was allocated before it, in MiB.

    NumPy: tracemalloc's peak above its count at the start. CuPy (``xp`` the cupy module): the
    growth of the default memory pool's ``total_bytes()`` after its cached free blocks are
    released -- an upper bound of the peak (see the module docstring).
    """
    if xp is np:
        was_tracing = tracemalloc.is_tracing()
        if not was_tracing:
            tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        try:
            fn()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            if not was_tracing:
                tracemalloc.stop()
        return max(peak - base, 0) / 2**20
    pool = xp.get_default_memory_pool()
    sync()
    pool.free_all_blocks()            # now the pool holds exactly the blocks in use
    base = pool.total_bytes()
    fn()
    sync()
    return max(pool.total_bytes() - base, 0) / 2**20


# ---------------------------------------------------------------------------------------------
# The header line
# ---------------------------------------------------------------------------------------------
def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas_name() -> str:
    try:
        return np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except Exception:   # older NumPy: no dict mode; the name is only a nicety
        return "unknown BLAS"


def describe_device(xp) -> str:
    """A short description of where array module ``xp`` computes: CPU model or GPU name."""
    if xp is np:
        return (f"CPU {_cpu_name()} ({os.cpu_count()} cores), NumPy {np.__version__} "
                f"with {_blas_name()}")
    device = xp.cuda.Device()
    name = xp.cuda.runtime.getDeviceProperties(device.id)["name"]
    name = name.decode() if isinstance(name, bytes) else name
    return f"GPU {device.id} {name}, CuPy {xp.__version__}"


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------
def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def format_table(rows, columns) -> str:
    """A list of dicts as a Markdown table with the given column order ("-" where missing)."""
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(v.ljust(w) for v, w in zip(row, widths)) + " |" for row in cells]
    return "\n".join(lines)


def print_table(rows, columns) -> None:
    """Print :func:`format_table`."""
    print(format_table(rows, columns))
