"""minicv.bench: benchmark suites runnable from the installed package (``minicv bench``).

A *suite* is a generator registered with :func:`suite`. Given a :class:`Context` -- the array
module, the size asked for, and PyTorch when it is there to compare with -- it yields one
:class:`Case` per table row: a minicv forward, optionally its PyTorch twin, and the FLOPs of one
forward where counting them makes sense. :func:`run` times every case the same way (see
:mod:`minicv.bench.timing`) and returns a :class:`Report`, printed as a Markdown table.

    minicv bench layers                      # the issue's shapes, NumPy, PyTorch CPU if installed
    minicv bench layers --size small         # tiny shapes: a smoke test in seconds
    minicv bench core --backend cupy         # on the GPU, against PyTorch CUDA if available

Adding a suite is one decorator in a module imported at the bottom of this file::

    @suite("mine", "what it measures")
    def mine(ctx):
        x, x_torch = ctx.leaf(ctx.randn(8, 64, 56, 56))
        yield Case("relu", ctx.shape(x), lambda: F.relu(x),
                   ctx.torch and (lambda: ctx.torch.relu(x_torch)),
                   leaves=[x], torch_leaves=[x_torch])

The backward pass of every case starts from a fixed random upstream gradient of the output's
shape (``y.backward(g)``; a one-element output starts from 1), the same one for PyTorch.

:func:`run` times every minicv case of a suite first and every PyTorch twin after them, never
interleaved: PyTorch's OpenMP worker threads keep spinning for a while after each call and take
the cores from the NumPy code that runs next (on 2 cores, minicv's 3x3 conv2d on
(8, 64, 56, 56) takes 15 ms on its own and 29 ms right after a PyTorch call).

Even that is not enough for the long cases: with PyTorch merely *loaded*, an FCN-8s training
step of minicv took 365-387 ms against 257-318 ms in a process without it (2 cores). So
:func:`run_isolated` (``minicv bench SUITE --isolate``) times each side in a fresh Python
process of its own -- minicv where PyTorch is never imported, then the twins -- and merges the
two tables. Both processes build the cases from the same seeds, so they see the same data.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np

import minicv
from minicv.autograd import Tensor, no_grad
from minicv.backend import current as current_backend
from minicv.backend import get_array_module
from minicv.backend import use as use_backend
from minicv.bench import timing

__all__ = ["SUITES", "SIZES", "SIDES", "COLUMNS", "Suite", "Case", "Context", "Report", "suite",
           "run", "run_isolated", "measure", "measure_minicv", "measure_torch",
           "upstream_gradient"]

SIZES = ("small", "large")
SIDES = ("both", "minicv", "torch")     # what run() times: both libraries, or one of them

COLUMNS = ("op", "shape", "fwd ms", "fwd+bwd ms", "fwd GFLOP/s", "fwd+bwd GFLOP/s", "peak MiB",
           "torch fwd ms", "torch fwd+bwd ms", "ratio fwd", "ratio fwd+bwd")


# ---------------------------------------------------------------------------------------------
# Cases, suites and the registry
# ---------------------------------------------------------------------------------------------
@dataclass
class Case:
    """One row of a benchmark table.

    op : str                     what is measured, e.g. "conv2d 3x3 s1 p1 -> 64"
    shape : str                  the input shape, e.g. "(8, 64, 56, 56)"
    forward : () -> Tensor       one minicv forward; its output is what backward starts from
    torch_forward : () -> torch.Tensor, optional    the same computation in PyTorch
    flops : float, optional      floating-point operations of one forward (fwd+bwd counts 3x:
                                 for a convolution or a matrix product the input gradient and
                                 the weight gradient each cost one forward)
    leaves, torch_leaves         tensors whose ``.grad`` is cleared before each forward+backward,
                                 so that gradients are assigned, not accumulated, as after
                                 ``zero_grad()``
    backward : bool              False for an op without a gradient (nms): forward only, and the
                                 peak memory is that of one forward
    memory : bool                False skips the peak-memory run (tracemalloc slows pure-Python
                                 code such as pycocotools' evaluation ~40x)
    """
    op: str
    shape: str
    forward: Callable[[], Tensor]
    torch_forward: Callable[[], Any] | None = None
    flops: float | None = None
    leaves: Sequence = ()
    torch_leaves: Sequence = ()
    backward: bool = True
    memory: bool = True


@dataclass
class Suite:
    name: str
    help: str
    build: Callable[["Context"], Iterable[Case]]


SUITES: dict[str, Suite] = {}


def suite(name: str, help: str):
    """Register ``build(ctx) -> iterable of Case`` as suite ``name`` (``minicv bench NAME``)."""
    def decorate(build):
        SUITES[name] = Suite(name, help, build)
        return build
    return decorate


@dataclass
class Context:
    """What a suite builds its cases with.

    xp : module             numpy or cupy (from minicv.backend): where minicv computes
    size : str              "small" (tiny shapes, seconds) or "large" (the issues' shapes)
    torch : module or None  PyTorch, when installed and asked for; None means no comparison
    torch_device : str      "cpu" or "cuda"
    torchvision : module or None    torchvision, when PyTorch is compared and it is installed
                                    (the twin of the region ops); None otherwise
    rng : numpy Generator   for the host data both libraries start from
    """
    xp: Any
    size: str
    torch: Any = None
    torch_device: str = "cpu"
    torchvision: Any = None
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))

    @property
    def large(self) -> bool:
        return self.size == "large"

    def randn(self, *shape, scale: float = 1.0) -> np.ndarray:
        """Standard normal host data (float32) times ``scale``."""
        return (self.rng.standard_normal(shape) * scale).astype(np.float32)

    def leaf(self, host: np.ndarray, requires_grad: bool = True):
        """``(minicv Tensor, torch tensor or None)`` holding the same values, on their devices."""
        t = Tensor(self.xp.asarray(host), requires_grad=requires_grad)
        if self.torch is None:
            return t, None
        t_torch = self.torch.from_numpy(np.array(host)).to(self.torch_device)
        return t, (t_torch.requires_grad_() if requires_grad else t_torch)

    def shape(self, t) -> str:
        return str(tuple(t.shape))


# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------
def _clear_grads(tensors) -> None:
    for t in tensors:
        if t is not None:
            t.grad = None


def upstream_gradient(case: Case):
    """The fixed upstream gradient dL/dy of ``case`` as a host array (seed 1), the same values for
    both libraries; None when backward starts from 1 (a one-element output) or is not timed."""
    if not case.backward:
        return None
    with no_grad():
        y = case.forward()
    if y.size == 1:
        return None
    return np.random.default_rng(1).standard_normal(y.shape).astype(y.dtype)


def measure_minicv(case: Case, ctx: Context, g_host=None, repeat: int = 10,
                   warmup: int = 2) -> dict:
    """Time the minicv side of one case: a table row without the PyTorch columns.

    ``g_host`` is the upstream gradient from :func:`upstream_gradient`.
    """
    g = None if g_host is None else ctx.xp.asarray(g_host)

    def forward():
        with no_grad():
            case.forward()

    def forward_backward():
        _clear_grads(case.leaves)
        case.forward().backward(g)

    sync = timing.synchronizer(ctx.xp)
    row = {"op": case.op, "shape": case.shape,
           "fwd ms": timing.time_ms(forward, repeat, warmup, sync)}
    if case.backward:
        row["fwd+bwd ms"] = timing.time_ms(forward_backward, repeat, warmup, sync)
    if case.memory:
        row["peak MiB"] = timing.peak_mib(forward_backward if case.backward else forward,
                                          ctx.xp, sync)
    if case.flops:
        row["fwd GFLOP/s"] = case.flops / row["fwd ms"] / 1e6
        if case.backward:
            row["fwd+bwd GFLOP/s"] = 3 * case.flops / row["fwd+bwd ms"] / 1e6
    return row


def measure_torch(case: Case, ctx: Context, g_host=None, repeat: int = 10,
                  warmup: int = 2) -> dict:
    """Time the PyTorch twin of one case: the "torch ..." cells, empty without a twin."""
    torch = ctx.torch
    if torch is None or case.torch_forward is None:
        return {}
    g_torch = None if g_host is None else torch.from_numpy(g_host).to(ctx.torch_device)

    def torch_forward():
        with torch.no_grad():
            case.torch_forward()

    def torch_forward_backward():
        _clear_grads(case.torch_leaves)
        case.torch_forward().backward(g_torch)

    torch_sync = timing.torch_synchronizer(torch, ctx.torch_device)
    cells = {"torch fwd ms": timing.time_ms(torch_forward, repeat, warmup, torch_sync)}
    if case.backward:
        cells["torch fwd+bwd ms"] = timing.time_ms(torch_forward_backward, repeat, warmup,
                                                   torch_sync)
    return cells


def _with_ratios(row: dict) -> dict:
    """Add "ratio fwd" and "ratio fwd+bwd" (minicv / PyTorch) where both times are there."""
    for ratio, ms in (("ratio fwd", "fwd ms"), ("ratio fwd+bwd", "fwd+bwd ms")):
        if ms in row and f"torch {ms}" in row:
            row[ratio] = row[ms] / row[f"torch {ms}"]
    return row


def measure(case: Case, ctx: Context, repeat: int = 10, warmup: int = 2) -> dict:
    """Time one case (and its PyTorch twin when ``ctx.torch`` is set): one table row as a dict.

    For a single case only: :func:`run` calls :func:`measure_minicv` for every case first and
    :func:`measure_torch` after them (see the module docstring).
    """
    g_host = upstream_gradient(case)
    row = measure_minicv(case, ctx, g_host, repeat, warmup)
    row.update(measure_torch(case, ctx, g_host, repeat, warmup))
    return _with_ratios(row)


# ---------------------------------------------------------------------------------------------
# Running a suite
# ---------------------------------------------------------------------------------------------
@dataclass
class Report:
    """The result of :func:`run`: a header line and one dict per row (keys from COLUMNS).

    ``torch_words`` is the header's last part, what was compared with ("PyTorch 2.x on cpu, 2
    threads", "PyTorch comparison off", ...).
    """
    header: str
    rows: list
    columns: Sequence[str] = COLUMNS
    torch_words: str = ""

    def markdown(self) -> str:
        return self.header + "\n\n" + timing.format_table(self.rows, self.columns)

    def to_json(self) -> str:
        return json.dumps({"header": self.header, "rows": self.rows,
                           "torch_words": self.torch_words})

    @classmethod
    def from_json(cls, text: str) -> "Report":
        data = json.loads(text)
        return cls(data["header"], data["rows"], torch_words=data["torch_words"])


def _torch_for(xp, compare_torch: bool):
    """(torch or None, device, a few words for the header)."""
    if not compare_torch:
        return None, "cpu", "PyTorch comparison off"
    torch = timing.find_torch()
    if torch is None:
        return None, "cpu", "PyTorch not installed (no comparison)"
    if xp is np:
        return torch, "cpu", (f"PyTorch {torch.__version__} on cpu, "
                              f"{torch.get_num_threads()} threads")
    if not torch.cuda.is_available():
        return None, "cpu", f"PyTorch {torch.__version__} has no CUDA here (no comparison)"
    return torch, "cuda", f"PyTorch {torch.__version__} on {torch.cuda.get_device_name()}"


def _check(name: str, size: str, repeat: int, warmup: int) -> None:
    if name not in SUITES:
        raise ValueError(f"bench: unknown suite {name!r}; known: {', '.join(sorted(SUITES))}")
    if size not in SIZES:
        raise ValueError(f"bench: size must be one of {SIZES}, got {size!r}")
    if repeat < 1 or warmup < 0:
        raise ValueError(f"bench: repeat must be at least 1 and warmup at least 0, got "
                         f"repeat={repeat}, warmup={warmup}")


def run(name: str, backend: str = "numpy", size: str = "large", repeat: int = 10,
        warmup: int = 2, compare_torch: bool = True, progress=None, side: str = "both") -> Report:
    """Run benchmark suite ``name`` and return its :class:`Report`.

    Parameters
    ----------
    name : str               a key of SUITES ("core", "layers", ...)
    backend : str            "numpy" or "cupy" (the default backend while the suite runs)
    size : str               "small" (tiny shapes) or "large" (the issues' shapes)
    repeat, warmup : int     timed calls (the median is reported) and untimed calls before them
    compare_torch : bool     time PyTorch too when it is installed (CUDA when backend is cupy)
    progress : callable, optional    called with each case's op name before it is measured
    side : str               "both" (default); "minicv" or "torch" times that side only (the
                             other side's cells stay empty): :func:`run_isolated`'s processes

    Raises ValueError for an unknown suite, size or side or a repeat below 1, and
    minicv.backend.BackendError when "cupy" is asked for and cannot be used.
    """
    _check(name, size, repeat, warmup)
    if side not in SIDES:
        raise ValueError(f"bench: side must be one of {SIDES}, got {side!r}")
    previous = current_backend()
    use_backend(backend)   # arrays and parameters made from nothing land on this backend
    try:
        xp = get_array_module()
        torch, torch_device, torch_words = _torch_for(xp, compare_torch and side != "minicv")
        torchvision = None if torch is None else timing.find_torchvision()
        if torchvision is not None:
            torch_words += f", torchvision {torchvision.__version__}"
        ctx = Context(xp=xp, size=size, torch=torch, torch_device=torch_device,
                      torchvision=torchvision)
        header = (f"minicv {minicv.__version__} bench {name} (size {size}, median of {repeat} "
                  f"after {warmup} warm-ups) | backend {backend}, {timing.threads()} threads, "
                  f"{timing.describe_device(xp)} | {torch_words}")
        # All of minicv first, then all of PyTorch: its spinning threads would slow NumPy down.
        cases, gradients, rows = [], [], []
        for case in SUITES[name].build(ctx):
            if progress is not None:
                progress(case.op)
            gradients.append(upstream_gradient(case))
            rows.append(measure_minicv(case, ctx, gradients[-1], repeat, warmup)
                        if side != "torch" else {"op": case.op, "shape": case.shape})
            cases.append(case)
        for case, g_host, row in zip(cases, gradients, rows):
            row.update(measure_torch(case, ctx, g_host, repeat, warmup))
            _with_ratios(row)
    finally:
        use_backend(previous)
    return Report(header, rows, torch_words=torch_words)


def _run_child(name: str, side: str, backend: str, size: str, repeat: int, warmup: int,
               compare_torch: bool) -> Report:
    """``run(..., side=side)`` in a fresh ``python -m minicv bench ... --json`` process.

    Its progress lines go to this process's stderr as they come; its report comes back as JSON
    on stdout. Raises RuntimeError naming the command when it fails.
    """
    command = [sys.executable, "-m", "minicv", "bench", name, "--side", side, "--json",
               "--backend", backend, "--size", size, "--repeat", str(repeat),
               "--warmup", str(warmup)] + ([] if compare_torch else ["--no-torch"])
    # the child imports this very minicv, installed or not (benchmarks/*.py run from a checkout)
    here = os.path.dirname(os.path.dirname(os.path.abspath(minicv.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [here] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"bench: the {side} process of suite {name!r} failed (exit "
                           f"{done.returncode}): {' '.join(command)}")
    return Report.from_json(done.stdout)


def run_isolated(name: str, backend: str = "numpy", size: str = "large", repeat: int = 10,
                 warmup: int = 2, compare_torch: bool = True) -> Report:
    """:func:`run`, with minicv and PyTorch each timed in a fresh process of its own.

    First a process that times minicv and never imports PyTorch, then (when ``compare_torch``)
    one that times the twins; the rows are merged by position (both processes build the same
    cases from the same seeds) and the ratios computed here. Only built-in suites (those
    registered when ``minicv.bench`` is imported) exist in the child processes. Parameters and
    errors as for :func:`run`, plus RuntimeError when a child process fails.
    """
    _check(name, size, repeat, warmup)
    mine = _run_child(name, "minicv", backend, size, repeat, warmup, compare_torch=False)
    if not compare_torch:
        return mine
    theirs = _run_child(name, "torch", backend, size, repeat, warmup, compare_torch=True)
    if [(r["op"], r["shape"]) for r in mine.rows] != \
            [(r["op"], r["shape"]) for r in theirs.rows]:
        raise RuntimeError(f"bench: the minicv and torch processes of suite {name!r} built "
                           f"different cases")
    for row, twin in zip(mine.rows, theirs.rows):
        row.update({k: v for k, v in twin.items() if k.startswith("torch ")})
        _with_ratios(row)
    timed = any(key.startswith("torch ") for row in theirs.rows for key in row)
    words = theirs.torch_words + (" (each library in its own process)" if timed else "")
    header = mine.header[:len(mine.header) - len(mine.torch_words)] + words
    return Report(header, mine.rows, torch_words=words)


# Each module registers its suite when imported (issue 4 adds roi).
from minicv.bench import core, layers, metrics, models, roi  # noqa: E402,F401
