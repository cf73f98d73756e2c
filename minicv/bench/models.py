"""Suite "models" (issue 5): one training step of the segmentation networks against their
PyTorch twins.

    minicv bench models [--size small|large] [--backend numpy|cupy]

Each row is one network of ``minicv.models``, in training mode, with Adam (lr 1e-3) and
pixel-wise cross-entropy on random images and labels. Large (the issue's setting): the "small"
preset (the CamVid-sized networks), batch 8 of 3x90x120 images -- CamVid at a quarter of its
resolution -- and 11 classes. Small: the "tiny" preset, batch 2 of 3x32x32 images and 5
classes, to check that everything runs.

What the columns mean here (the table is the one of every suite, see minicv/bench/__init__.py):

- "fwd ms": the forward pass and the loss, in training mode (batch statistics), under no_grad;
- "fwd+bwd ms": one whole training step -- ``optimizer.step()`` with the gradients of the
  previous call's backward, ``zero_grad()``, forward, loss, backward. The case's forward opens
  with the update of the step before, so that the framework's forward+backward timing times an
  update too (the first call has no gradients yet and updates nothing; it is a warm-up call);
- "peak MiB": the most NumPy memory allocated during one such step above what was allocated
  before it (tracemalloc): activations kept for backward, the gradients, the temporaries. The
  weights, the optimiser's moments and conv2d's reused scratch buffers existed before and are
  not counted.

The twin is :func:`minicv.bench.twins.torch_twin` of the same model: torch.nn layers of the
same sizes holding the same initial weights, trained by torch.optim.Adam. PyTorch's peak
memory is not seen by tracemalloc; :func:`torch_peak_mib` measures it with PyTorch's own memory
profiler and :func:`memory_table` prints both (``python benchmarks/models.py`` prints it after
the timing table).
"""
from __future__ import annotations

import numpy as np

import minicv.functional as F
from minicv import optim
from minicv.bench import Case, Context, suite, timing
from minicv.models import get_model

__all__ = ["BENCH_MODELS", "setting", "training_step", "torch_training_step", "torch_peak_mib",
           "memory_table"]

BENCH_MODELS = ("fcn8s", "deconvnet", "segnet")


def setting(size: str) -> dict:
    """Preset, batch, image size and classes of a size: the issue's CamVid setting or a tiny
    one."""
    if size == "large":
        return dict(preset="small", batch=8, height=90, width=120, num_classes=11)
    return dict(preset="tiny", batch=2, height=32, width=32, num_classes=5)


def training_step(model, optimizer, images, masks):
    """A Case forward: the update for the previous backward, then forward and loss.

    Called as ``step().backward()`` it is one whole training step.
    """
    def step():
        optimizer.step()            # the gradients of the previous call (none at first)
        optimizer.zero_grad()
        return F.cross_entropy(model(images), masks)       # (N, K, H, W) logits -> scalar
    return step


def torch_training_step(torch, twin, optimizer, images, masks):
    """The same for a PyTorch twin."""
    def step():
        optimizer.step()
        optimizer.zero_grad()
        return torch.nn.functional.cross_entropy(twin(images), masks)
    return step


def _problem(ctx: Context, name: str):
    """The input images, the minicv step and the PyTorch step (None without PyTorch) of a row.

    The twin is built on the first call of its step, from the weights the minicv model had
    here: building it runs PyTorch code, whose spinning threads must not overlap the minicv
    timings (see minicv/bench/__init__.py).
    """
    s = setting(ctx.size)
    images, images_t = ctx.leaf(ctx.randn(s["batch"], 3, s["height"], s["width"]),
                                requires_grad=False)
    labels = ctx.rng.integers(0, s["num_classes"], size=(s["batch"], s["height"], s["width"]))
    masks, masks_t = ctx.leaf(labels, requires_grad=False)
    model = get_model(name, s["num_classes"], preset=s["preset"], rng=0)
    trainable = [p for p in model.parameters() if p.requires_grad]
    forward = training_step(model, optim.Adam(trainable, lr=1e-3), images, masks)
    if ctx.torch is None:
        return images, forward, None
    initial = model.state_dict()                          # host copies, before any step
    built = []

    def torch_forward():
        if not built:
            from minicv.bench.twins import torch_twin
            twin = torch_twin(model, device=ctx.torch_device)
            twin.load_state_dict({k: ctx.torch.from_numpy(v) for k, v in initial.items()})
            twin_trainable = [p for p in twin.parameters() if p.requires_grad]
            built.append(torch_training_step(ctx.torch, twin,
                                             ctx.torch.optim.Adam(twin_trainable, lr=1e-3),
                                             images_t, masks_t))
        return built[0]()
    return images, forward, torch_forward


@suite("models", "one training step (forward, backward, Adam) of FCN-8s, DeconvNet, SegNet "
                 "(issue 5)")
def models(ctx):
    for name in BENCH_MODELS:
        images, forward, torch_forward = _problem(ctx, name)
        yield Case(f"{name} train step (Adam)", ctx.shape(images), forward, torch_forward)


# ---------------------------------------------------------------------------------------------
# PyTorch's peak memory
# ---------------------------------------------------------------------------------------------
def torch_peak_mib(fn) -> float | None:
    """Peak memory PyTorch allocated during one ``fn()`` above what existed before, in MiB.

    Measured with PyTorch's memory profiler (``torch.profiler.profile(profile_memory=True)``):
    its timeline lists every tensor created and destroyed during the call; the running sum of
    their sizes peaks at the answer -- the same quantity tracemalloc gives for NumPy. Uses the
    profiler's private ``_memory_profiler`` module; None when that is not available.
    """
    try:
        from torch.profiler import ProfilerActivity, profile
        from torch.profiler import _memory_profiler as memory_profiler
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            fn()
        timeline = memory_profiler.MemoryProfile(prof.profiler.kineto_results).timeline
        create, destroy = memory_profiler.Action.CREATE, memory_profiler.Action.DESTROY
    except Exception:       # no torch, or another version's private API
        return None
    current = peak = 0
    for _, action, _, size in timeline:
        if action == create:
            current += size
        elif action == destroy:
            current -= size
        peak = max(peak, current)
    return peak / 2**20


def memory_table(size: str = "large", compare_torch: bool = True) -> str:
    """Peak memory of one training step of each BENCH_MODELS network, minicv (tracemalloc)
    against its PyTorch twin (PyTorch's memory profiler) when PyTorch is installed and
    ``compare_torch``, as a Markdown table. NumPy backend."""
    import minicv
    torch = timing.find_torch() if compare_torch else None
    ctx = Context(xp=np, size=size, torch=torch)
    rows = []
    for name in BENCH_MODELS:
        images, forward, torch_forward = _problem(ctx, name)
        for _ in range(2):                  # the optimiser's moments exist before the measure
            forward().backward()
        row = {"model": name, "shape": ctx.shape(images),
               "minicv peak MiB": timing.peak_mib(lambda step=forward: step().backward())}
        if torch_forward is not None:
            for _ in range(2):
                torch_forward().backward()
            row["torch peak MiB"] = torch_peak_mib(lambda step=torch_forward: step().backward())
            if row["torch peak MiB"]:
                row["ratio"] = row["minicv peak MiB"] / row["torch peak MiB"]
        rows.append(row)
    torch_words = f"PyTorch {torch.__version__}" if torch else "PyTorch not installed"
    header = (f"minicv {minicv.__version__} peak memory of one training step (size {size}) | "
              f"minicv: tracemalloc | {torch_words}: torch.profiler memory timeline")
    return header + "\n\n" + timing.format_table(
        rows, ["model", "shape", "minicv peak MiB", "torch peak MiB", "ratio"])
