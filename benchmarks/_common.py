"""Shared helpers for the benchmark scripts: timing, peak memory, the optional PyTorch twin,
and the table printer. Timings are the median of several runs after a warm-up; memory is the
peak of NumPy allocations (tracked by tracemalloc) above what was allocated before the call."""
from __future__ import annotations

import os
import statistics
import time
import tracemalloc


def threads() -> int:
    """The thread count both libraries are held to (OMP_NUM_THREADS, default: all cores)."""
    return int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1))


def torch_or_none():
    """PyTorch if it is installed (an optional comparison), with the same thread count."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads())
    return torch


def time_ms(fn, repeat: int = 10, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` in milliseconds."""
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1e3)
    return statistics.median(runs)


def peak_mib(fn) -> float:
    """Peak NumPy memory allocated during ``fn()`` beyond what existed before, in MiB."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / 2**20


def print_table(rows, columns):
    """Print a list of dicts as a Markdown table with the given column order."""
    def fmt(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
        return str(v)
    cells = [[fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(row, widths)) + " |")
