"""Benchmark the core: autograd overhead, an MLP training step, and the heavy basic ops
(cross-entropy over a segmentation map, softmax, batch norm), against PyTorch on the CPU when it
is installed (same thread count).

    python benchmarks/core.py            # prints a Markdown table (see RESULTS.md)

Columns: forward ms, forward+backward ms (median of 10 after two warm-ups), peak extra NumPy memory
during forward+backward, the PyTorch times and the ratio minicv / PyTorch for forward+backward.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_mib, print_table, threads, time_ms, torch_or_none  # noqa: E402

import minicv  # noqa: E402
import minicv.functional as F  # noqa: E402
from minicv import Tensor, nn, optim  # noqa: E402

rng = np.random.default_rng(0)
torch = torch_or_none()


def case(name, shape, forward, torch_forward=None):
    """forward() -> scalar Tensor; torch_forward() -> scalar torch tensor."""
    def fwd_bwd():
        forward().backward()

    row = {"case": name, "shape": shape,
           "fwd ms": time_ms(lambda: forward()),
           "fwd+bwd ms": time_ms(fwd_bwd),
           "peak MiB": peak_mib(fwd_bwd)}
    if torch is not None and torch_forward is not None:
        with torch.no_grad():
            row["torch fwd ms"] = time_ms(lambda: torch_forward())
        row["torch fwd+bwd ms"] = time_ms(lambda: torch_forward().backward())
        row["ratio"] = row["fwd+bwd ms"] / row["torch fwd+bwd ms"]
    return row


def main():
    rows = []

    # 1. Engine overhead: a chain of 1,000 tiny ops (the cost of the bookkeeping, not the math)
    x = Tensor(np.ones(4, np.float32), requires_grad=True)

    def chain():
        y = x
        for _ in range(1000):
            y = y * 1.0001
        return y.sum()
    t_x = torch.ones(4, requires_grad=True) if torch else None

    def t_chain():
        y = t_x
        for _ in range(1000):
            y = y * 1.0001
        return y.sum()
    rows.append(case("chain of 1000 muls", "(4,)", chain, t_chain if torch else None))

    # 2. An MLP training step: Linear(784, 512) - ReLU - Linear(512, 10), batch 256
    xb = rng.normal(size=(256, 784)).astype(np.float32)
    yb = rng.integers(0, 10, size=256)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def mlp():
        opt.zero_grad()
        return F.cross_entropy(model(Tensor(xb)), yb)
    t_mlp = None
    if torch:
        t_model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(),
                                      torch.nn.Linear(512, 10))
        t_opt = torch.optim.SGD(t_model.parameters(), lr=0.01, momentum=0.9)
        t_xb, t_yb = torch.from_numpy(xb), torch.from_numpy(yb)

        def t_mlp():
            t_opt.zero_grad()
            return torch.nn.functional.cross_entropy(t_model(t_xb), t_yb)
    rows.append(case("MLP 784-512-10 + cross_entropy", "(256, 784)", mlp, t_mlp))

    # 3. Pixel-wise cross-entropy of a segmentation map with ignored pixels
    logits = rng.normal(size=(8, 21, 128, 128)).astype(np.float32)
    target = rng.integers(0, 21, size=(8, 128, 128))
    target[:, :8] = 255
    lt = Tensor(logits, requires_grad=True)
    t_lt = torch.from_numpy(logits).requires_grad_() if torch else None
    rows.append(case("cross_entropy ignore_index=255", "(8, 21, 128, 128)",
                     lambda: F.cross_entropy(lt, target, ignore_index=255),
                     (lambda: torch.nn.functional.cross_entropy(
                         t_lt, torch.from_numpy(target), ignore_index=255)) if torch else None))

    # 4. softmax over channels (weighted sum so the backward is not trivial)
    w = Tensor(rng.normal(size=logits.shape).astype(np.float32))
    t_w = torch.from_numpy(w.data) if torch else None
    rows.append(case("softmax axis=1", "(8, 21, 128, 128)",
                     lambda: (F.softmax(lt, axis=1) * w).sum(),
                     (lambda: (torch.softmax(t_lt, 1) * t_w).sum()) if torch else None))

    # 5. batch norm in training mode
    feat = rng.normal(size=(8, 64, 56, 56)).astype(np.float32)
    bn = nn.BatchNorm2d(64)
    ft = Tensor(feat, requires_grad=True)
    wf = Tensor(rng.normal(size=feat.shape).astype(np.float32))
    t_bn = torch.nn.BatchNorm2d(64) if torch else None
    t_ft = torch.from_numpy(feat).requires_grad_() if torch else None
    t_wf = torch.from_numpy(wf.data) if torch else None
    rows.append(case("BatchNorm2d train", "(8, 64, 56, 56)", lambda: (bn(ft) * wf).sum(),
                     (lambda: (t_bn(t_ft) * t_wf).sum()) if torch else None))

    print(f"minicv {minicv.__version__}, NumPy {np.__version__}, {threads()} threads"
          + (f", PyTorch {torch.__version__}" if torch else ", PyTorch not installed"))
    print()
    print_table(rows, ["case", "shape", "fwd ms", "fwd+bwd ms", "peak MiB", "torch fwd ms",
                       "torch fwd+bwd ms", "ratio"])


if __name__ == "__main__":
    main()
