"""Suite "layers" (issue 3): the dense layers FCN and DeconvNet are built from.

    minicv bench layers [--size small|large] [--backend numpy|cupy]

Large shapes (the issue's): conv2d on (8, 64, 56, 56), 3x3, padding 1, 64 output channels, with
stride 1, stride 2, groups 4 and depthwise (groups 64); conv_transpose2d on (8, 64, 28, 28),
4x4, stride 2, padding 1, 64 channels (the x2 upsampling of FCN); max_pool2d 2x2 stride 2 with
its switches on (8, 64, 112, 112); max_unpool2d putting the pooled (8, 64, 56, 56) values back
at those switches; bilinear interpolate x2 on (8, 64, 56, 56). Small shapes: the same cases
with 2 images of 8 channels at a fifth of the size, to check that everything runs.

FLOPs (multiply and add count 2): conv2d computes N*OH*OW*C_out outputs, each a sum of
C_in/groups*KH*KW products, so 2*N*OH*OW*C_out*(C_in/groups)*KH*KW; conv_transpose2d is the
backward-data of the conv2d from its output back to its input and costs the same,
2*N*H*W*C_in*(C_out/groups)*KH*KW with H, W its input size. Forward+backward counts three
forwards (input gradient and weight gradient cost one each; the bias is negligible).
"""
from __future__ import annotations

import math

import minicv.functional as F
from minicv import backend
from minicv.autograd import Tensor, no_grad
from minicv.bench import Case, suite


def _conv_flops(n, c_in, c_out, groups, kh, kw, oh, ow) -> float:
    """2 * (number of outputs) * (products summed into each)."""
    return 2.0 * n * oh * ow * c_out * (c_in // groups) * kh * kw


def _conv2d_case(ctx, n, c_in, side, c_out, kernel, stride, padding, groups, label):
    """conv2d with bias; input, weight and bias all take gradients (a layer inside a network)."""
    x, x_t = ctx.leaf(ctx.randn(n, c_in, side, side))
    fan_in = c_in // groups * kernel * kernel
    w, w_t = ctx.leaf(ctx.randn(c_out, c_in // groups, kernel, kernel, scale=1 / math.sqrt(fan_in)))
    b, b_t = ctx.leaf(ctx.randn(c_out, scale=0.1))
    out = (side + 2 * padding - kernel) // stride + 1
    tF = ctx.torch.nn.functional if ctx.torch else None
    return Case(
        f"conv2d {kernel}x{kernel} s{stride} p{padding}{label} -> {c_out}", ctx.shape(x),
        lambda: F.conv2d(x, w, b, stride=stride, padding=padding, groups=groups),
        tF and (lambda: tF.conv2d(x_t, w_t, b_t, stride=stride, padding=padding, groups=groups)),
        flops=_conv_flops(n, c_in, c_out, groups, kernel, kernel, out, out),
        leaves=[x, w, b], torch_leaves=[x_t, w_t, b_t])


def _conv_transpose2d_case(ctx, n, c_in, side, c_out):
    """conv_transpose2d 4x4 stride 2 padding 1: (H, W) -> (2H, 2W), FCN's learnt upsampling."""
    x, x_t = ctx.leaf(ctx.randn(n, c_in, side, side))
    # weight layout (C_in, C_out / groups, KH, KW)
    w, w_t = ctx.leaf(ctx.randn(c_in, c_out, 4, 4, scale=1 / math.sqrt(c_in * 16)))
    b, b_t = ctx.leaf(ctx.randn(c_out, scale=0.1))
    tF = ctx.torch.nn.functional if ctx.torch else None
    return Case(
        f"conv_transpose2d 4x4 s2 p1 -> {c_out}", ctx.shape(x),
        lambda: F.conv_transpose2d(x, w, b, stride=2, padding=1),
        tF and (lambda: tF.conv_transpose2d(x_t, w_t, b_t, stride=2, padding=1)),
        flops=_conv_flops(n, c_out, c_in, 1, 4, 4, side, side),   # the conv2d it transposes
        leaves=[x, w, b], torch_leaves=[x_t, w_t, b_t])


def _max_pool2d_case(ctx, x_host):
    """max_pool2d 2x2 stride 2 with its switches (the indices DeconvNet keeps for unpooling)."""
    x, x_t = ctx.leaf(x_host)
    tF = ctx.torch.nn.functional if ctx.torch else None
    return Case("max_pool2d 2x2 s2 + indices", ctx.shape(x),
                lambda: F.max_pool2d(x, 2, 2, return_indices=True)[0],
                tF and (lambda: tF.max_pool2d(x_t, 2, 2, return_indices=True)[0]),
                leaves=[x], torch_leaves=[x_t])


def _max_unpool2d_case(ctx, x_host):
    """max_unpool2d 2x2 stride 2: pooled values back at their switches in a map of zeros."""
    with no_grad():
        pooled, switches = F.max_pool2d(Tensor(ctx.xp.asarray(x_host)), 2, 2,
                                         return_indices=True)
    p, p_t = ctx.leaf(backend.to_cpu(pooled.data))
    indices, indices_t = ctx.leaf(backend.to_cpu(switches.data), requires_grad=False)
    tF = ctx.torch.nn.functional if ctx.torch else None
    return Case("max_unpool2d 2x2 s2", ctx.shape(p),
                lambda: F.max_unpool2d(p, indices, 2, 2),
                tF and (lambda: tF.max_unpool2d(p_t, indices_t, 2, 2)),
                leaves=[p], torch_leaves=[p_t])


def _interpolate_case(ctx, n, c, side):
    """Bilinear x2 (FCN's fixed upsampling), align_corners=False as PyTorch's default."""
    x, x_t = ctx.leaf(ctx.randn(n, c, side, side))
    tF = ctx.torch.nn.functional if ctx.torch else None
    return Case("interpolate bilinear x2", ctx.shape(x),
                lambda: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False),
                tF and (lambda: tF.interpolate(x_t, scale_factor=2, mode="bilinear",
                                               align_corners=False)),
                leaves=[x], torch_leaves=[x_t])


@suite("layers", "conv2d, conv_transpose2d, max_pool2d, max_unpool2d, interpolate (issue 3)")
def layers(ctx):
    n, c = (8, 64) if ctx.large else (2, 8)
    side = 56 if ctx.large else 12                 # the feature map of VGG's third stage
    yield _conv2d_case(ctx, n, c, side, c, 3, 1, 1, 1, "")
    yield _conv2d_case(ctx, n, c, side, c, 3, 2, 1, 1, "")
    yield _conv2d_case(ctx, n, c, side, c, 3, 1, 1, 4, " groups=4")
    yield _conv2d_case(ctx, n, c, side, c, 3, 1, 1, c, f" groups={c} (depthwise)")
    yield _conv_transpose2d_case(ctx, n, c, side // 2, c)
    x_host = ctx.randn(n, c, 2 * side, 2 * side)
    yield _max_pool2d_case(ctx, x_host)
    yield _max_unpool2d_case(ctx, x_host)
    yield _interpolate_case(ctx, n, c, side)
