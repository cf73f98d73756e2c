"""Suite "core" (issue 2): the autograd engine's overhead, an MLP training step, and the heavy
basic ops (cross-entropy over a segmentation map, softmax, batch norm).

    minicv bench core [--size small|large] [--backend numpy|cupy]

The first row is pure bookkeeping -- a chain of tiny multiplications costs what the engine
spends per recorded op, not arithmetic; the others move megabytes.
"""
from __future__ import annotations

import numpy as np

import minicv.functional as F
from minicv import nn, optim
from minicv.bench import Case, suite


@suite("core", "autograd overhead, an MLP step, cross-entropy, softmax, batch norm (issue 2)")
def core(ctx):
    torch = ctx.torch
    big = ctx.large

    # 1. Engine overhead: a chain of tiny ops (the cost of the bookkeeping, not the math)
    length = 1000 if big else 100
    x, x_t = ctx.leaf(np.ones(4, np.float32))

    def chain():
        y = x
        for _ in range(length):
            y = y * 1.0001
        return y.sum()

    def chain_torch():
        y = x_t
        for _ in range(length):
            y = y * 1.0001
        return y.sum()
    yield Case(f"chain of {length} muls", ctx.shape(x), chain, torch and chain_torch,
               leaves=[x], torch_leaves=[x_t])

    # 2. An MLP's forward and backward: Linear(D, H) - ReLU - Linear(H, 10) + cross-entropy
    #    (the optimiser only zeroes the gradients; its update is not timed)
    batch, features, hidden = (256, 784, 512) if big else (16, 32, 24)
    x_host = ctx.randn(batch, features)
    labels_host = ctx.rng.integers(0, 10, size=batch)
    xb, xb_t = ctx.leaf(x_host, requires_grad=False)
    labels, labels_t = ctx.leaf(labels_host, requires_grad=False)
    model = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, 10))
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def mlp():
        opt.zero_grad()
        return F.cross_entropy(model(xb), labels)
    mlp_torch = None
    if torch is not None:
        model_t = torch.nn.Sequential(torch.nn.Linear(features, hidden), torch.nn.ReLU(),
                                      torch.nn.Linear(hidden, 10)).to(ctx.torch_device)
        opt_t = torch.optim.SGD(model_t.parameters(), lr=0.01, momentum=0.9)

        def mlp_torch():
            opt_t.zero_grad()
            return torch.nn.functional.cross_entropy(model_t(xb_t), labels_t)
    flops = 2 * batch * (features * hidden + hidden * 10)     # the two matrix products
    yield Case(f"MLP {features}-{hidden}-10 + cross_entropy", ctx.shape(xb), mlp, mlp_torch,
               flops=flops)

    # 3. Pixel-wise cross-entropy of a segmentation map with ignored pixels
    n, classes, side = (8, 21, 128) if big else (2, 5, 16)
    logits, logits_t = ctx.leaf(ctx.randn(n, classes, side, side))
    target_host = ctx.rng.integers(0, classes, size=(n, side, side))
    target_host[:, : side // 16] = 255
    target, target_t = ctx.leaf(target_host, requires_grad=False)
    yield Case("cross_entropy ignore_index=255", ctx.shape(logits),
               lambda: F.cross_entropy(logits, target, ignore_index=255),
               torch and (lambda: torch.nn.functional.cross_entropy(logits_t, target_t,
                                                                    ignore_index=255)),
               leaves=[logits], torch_leaves=[logits_t])

    # 4. softmax over channels
    yield Case("softmax axis=1", ctx.shape(logits), lambda: F.softmax(logits, axis=1),
               torch and (lambda: torch.softmax(logits_t, 1)),
               leaves=[logits], torch_leaves=[logits_t])

    # 5. batch norm in training mode
    n, channels, side = (8, 64, 56) if big else (2, 8, 12)
    feat, feat_t = ctx.leaf(ctx.randn(n, channels, side, side))
    bn = nn.BatchNorm2d(channels)
    bn_t = torch.nn.BatchNorm2d(channels).to(ctx.torch_device) if torch else None
    yield Case("BatchNorm2d train", ctx.shape(feat), lambda: bn(feat),
               torch and (lambda: bn_t(feat_t)),
               leaves=[feat, *bn.parameters()],
               torch_leaves=[feat_t, *(bn_t.parameters() if torch else ())])
