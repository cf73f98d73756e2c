"""conv2d and conv_transpose2d: forward against the loop references (tests/reference.py)
over the TESTING.md grid and hypothesis-drawn configurations, the adjoint property, dtypes,
the tiling of the batch, the layers, error messages, and gradient checks that fail on a broken
backward. The hypothesis-driven float64 gradient checks of both ops run from
minicv/checks/conv.py (tests/test_gradcheck_ops.py)."""
import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import conv2d_ref, conv_transpose2d_ref

import minicv.functional as F
from minicv import backend, nn
from minicv.autograd import Tensor
from minicv.functional import conv
from minicv.gradcheck import GradcheckError, gradcheck
from minicv.testing import arrays, conv_configs


def _random(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def _run(op, xp, x, w, b, **options):
    """Run ``op`` on the ``xp`` backend; return the output as a NumPy array."""
    def to(a):
        return None if a is None else xp.asarray(a)

    y = op(to(x), to(w), to(b), **options)
    return backend.to_cpu(y.data)


# ---------------------------------------------------------------------------------------------
# Forward against the loop references: the TESTING.md grid
# ---------------------------------------------------------------------------------------------
KERNELS = [(1, 1), (3, 3), (3, 2)]
STRIDES = [(1, 1), (2, 2), (2, 1)]
PADDINGS = [(0, 0), (1, 1), (1, 0)]
DILATIONS = [(1, 1), (2, 2)]
# batch 0, 1, 2; groups 1, 2; bias off and on -- looped inside each test
INNER = list(itertools.product([0, 1, 2], [1, 2], [False, True]))


@pytest.mark.parametrize("kernel, stride, padding, dilation",
                         list(itertools.product(KERNELS, STRIDES, PADDINGS, DILATIONS)))
def test_conv2d_matches_the_loop_reference_over_the_grid(kernel, stride, padding, dilation):
    rng = np.random.default_rng(0)
    h, w = 7, 6                                             # odd and even sizes
    for n, groups, with_bias in INNER:
        c_in, c_out = 2 * groups, 3 * groups
        x = _random(rng, (n, c_in, h, w))
        weight = _random(rng, (c_out, c_in // groups) + kernel)
        bias = _random(rng, (c_out,)) if with_bias else None
        y = F.conv2d(x, weight, bias, stride, padding, dilation, groups)
        expected = conv2d_ref(x, weight, bias, stride, padding, dilation, groups)
        assert y.shape == expected.shape
        np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kernel, stride, padding, dilation",
                         list(itertools.product(KERNELS, STRIDES, PADDINGS, DILATIONS)))
def test_conv_transpose2d_matches_the_loop_reference_over_the_grid(kernel, stride, padding,
                                                                  dilation):
    rng = np.random.default_rng(1)
    h, w = 5, 4
    output_paddings = [(0, 0), (min(1, max(stride[0], dilation[0]) - 1),
                                min(1, max(stride[1], dilation[1]) - 1))]
    for (n, groups, with_bias), output_padding in itertools.product(INNER, output_paddings):
        c_in, c_out = 2 * groups, 3 * groups
        x = _random(rng, (n, c_in, h, w))
        weight = _random(rng, (c_in, c_out // groups) + kernel)
        bias = _random(rng, (c_out,)) if with_bias else None
        options = dict(stride=stride, padding=padding, output_padding=output_padding,
                       groups=groups, dilation=dilation)
        expected = conv_transpose2d_ref(x, weight, bias, **options)
        y = F.conv_transpose2d(x, weight, bias, **options)
        assert y.shape == expected.shape
        np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------------------------------------
# Forward against the references: hypothesis configurations, both backends
# ---------------------------------------------------------------------------------------------
@given(config=conv_configs(allow_empty_batch=True), seed=st.integers(0, 2**32 - 1))
def test_conv2d_matches_the_reference_for_drawn_configurations(config, seed):
    rng = np.random.default_rng(seed)
    x, weight = _random(rng, config["x_shape"]), _random(rng, config["weight_shape"])
    bias = _random(rng, (config["C_out"],)) if config["bias"] else None
    options = dict(stride=config["stride"], padding=config["padding"],
                   dilation=config["dilation"], groups=config["groups"])
    y = F.conv2d(x, weight, bias, **options)
    assert y.shape == config["out_shape"]
    np.testing.assert_allclose(y.numpy(), conv2d_ref(x, weight, bias, **options),
                               rtol=1e-10, atol=1e-10)


@given(config=conv_configs(allow_empty_batch=True, transpose=True),
       seed=st.integers(0, 2**32 - 1))
def test_conv_transpose2d_matches_the_reference_for_drawn_configurations(config, seed):
    rng = np.random.default_rng(seed)
    x, weight = _random(rng, config["x_shape"]), _random(rng, config["weight_shape"])
    bias = _random(rng, (config["C_out"],)) if config["bias"] else None
    options = dict(stride=config["stride"], padding=config["padding"],
                   output_padding=config["output_padding"], groups=config["groups"],
                   dilation=config["dilation"])
    y = F.conv_transpose2d(x, weight, bias, **options)
    assert y.shape == config["out_shape"]
    np.testing.assert_allclose(y.numpy(), conv_transpose2d_ref(x, weight, bias, **options),
                               rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("transpose", [False, True])
def test_both_backends_agree_with_the_reference(xp, transpose):
    rng = np.random.default_rng(2)
    x = _random(rng, (2, 4, 7, 5))
    bias = _random(rng, (6,))
    options = dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)
    if transpose:
        weight = _random(rng, (4, 3, 3, 2))
        options["output_padding"] = (1, 0)
        expected = conv_transpose2d_ref(x, weight, bias, **options)
        y = _run(F.conv_transpose2d, xp, x, weight, bias, **options)
    else:
        weight = _random(rng, (6, 2, 3, 2))
        expected = conv2d_ref(x, weight, bias, **options)
        y = _run(F.conv2d, xp, x, weight, bias, **options)
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------------------------------------
# The transpose is the adjoint
# ---------------------------------------------------------------------------------------------
@given(config=conv_configs(max_channels=6, max_size=9, max_kernel=4, max_stride=3,
                           max_dilation=3, max_groups=3),
       seed=st.integers(0, 2**32 - 1))
def test_conv_transpose2d_is_the_adjoint_of_conv2d(config, seed):
    # <conv2d(x, w), y> = <x, conv_transpose2d(y, w)> with the same weight array; the
    # output_padding conv_configs gives brings conv_transpose2d back to x's size
    rng = np.random.default_rng(seed)
    x, weight = _random(rng, config["x_shape"]), _random(rng, config["weight_shape"])
    y = _random(rng, config["out_shape"])
    options = dict(stride=config["stride"], padding=config["padding"],
                   dilation=config["dilation"], groups=config["groups"])
    forward = F.conv2d(x, weight, **options).numpy()
    back = F.conv_transpose2d(y, weight, output_padding=config["output_padding"],
                              **options).numpy()
    assert back.shape == x.shape
    lhs, rhs = float((forward * y).sum()), float((x * back).sum())
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-10)


def test_conv_transpose2d_gradient_for_its_input_is_conv2d():
    # the backward of conv_transpose2d with respect to x is conv2d of the output gradient
    rng = np.random.default_rng(3)
    x = Tensor(_random(rng, (2, 4, 5, 6)), requires_grad=True)
    weight = _random(rng, (4, 2, 3, 3))
    options = dict(stride=2, padding=1, dilation=1, groups=2)
    y = F.conv_transpose2d(x, weight, output_padding=1, **options)
    gy = _random(rng, y.shape)
    y.backward(gy)
    np.testing.assert_allclose(x.grad, F.conv2d(gy, weight, **options).numpy(), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Padding modes, tiling, dtypes, empty batch
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel, dilation", [((3, 3), (1, 1)), ((2, 4), (1, 1)),
                                              ((3, 2), (2, 1)), ((1, 5), (1, 2))])
def test_same_padding_keeps_the_size_and_puts_the_odd_row_after(kernel, dilation):
    rng = np.random.default_rng(4)
    x, weight = _random(rng, (2, 3, 6, 7)), _random(rng, (4, 3) + kernel)
    y = F.conv2d(x, weight, padding="same", dilation=dilation)
    total = [d * (k - 1) for k, d in zip(kernel, dilation)]
    before = tuple(t // 2 for t in total)
    after = tuple(t - t // 2 for t in total)
    expected = conv2d_ref(x, weight, None, (1, 1), before, dilation, 1, padding_after=after)
    assert y.shape == (2, 4, 6, 7)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(F.conv2d(x, weight, padding="valid").numpy(),
                                  F.conv2d(x, weight, padding=0).numpy())


@pytest.mark.parametrize("tile_bytes, tiles", [
    (8, [(0, 1, 0, 1), (0, 1, 1, 2), (0, 1, 2, 3), (0, 1, 3, 4)]),   # one output row per tile
    (7000, [(0, 1, 0, 2), (0, 1, 2, 4)]),                            # bands of two rows
    (40000, [(0, 2, 0, 4), (2, 3, 0, 4)]),                           # two whole images
])
def test_tiles_of_row_bands_and_of_several_images_give_the_same_result(monkeypatch,
                                                                      tile_bytes, tiles):
    monkeypatch.setitem(conv._TILE_BYTES, "cpu", tile_bytes)
    rng = np.random.default_rng(5)
    x = Tensor(_random(rng, (3, 4, 9, 8)), requires_grad=True)
    weight = Tensor(_random(rng, (6, 2, 3, 3)), requires_grad=True)
    options = dict(stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=2)
    plan = conv._plan((9, 8), 4, 6, (3, 3), options["stride"], options["padding"],
                      options["dilation"], (4, 10))
    got = [(i.start, i.stop, r0, r1) for i, r0, r1 in conv._tiles(np, plan, 3, 8)]
    assert got[:len(tiles)] == tiles and len(got) == len(tiles) * (3 if tiles[0][1] == 1 else 1)
    y = F.conv2d(x, weight, **options)
    np.testing.assert_allclose(y.numpy(), conv2d_ref(x.data, weight.data, None, **options),
                               rtol=1e-10, atol=1e-10)
    gy = _random(rng, y.shape)
    y.backward(gy)
    # both gradients against the loop reference through the adjoint identities
    # <gx, u> = <gy, conv2d(u, w)> and <gw, v> = <gy, conv2d(x, v)>
    u, v = _random(rng, x.shape), _random(rng, weight.shape)
    assert float((x.grad * u).sum()) == pytest.approx(
        float((gy * conv2d_ref(u, weight.data, None, **options)).sum()), rel=1e-10)
    assert float((weight.grad * v).sum()) == pytest.approx(
        float((gy * conv2d_ref(x.data, v, None, **options)).sum()), rel=1e-10)


@pytest.mark.parametrize("kernel, stride, dilation, regular", [
    ((3, 3), (1, 1), (1, 1), True),       # every stride-1 convolution: a KH x KW grid
    ((3, 2), (1, 1), (2, 3), True),       # dilated: the grid's steps are the dilation
    ((4, 4), (2, 2), (1, 1), True),       # FCN's 2x upsampler: 2x2 shifts of 2x2 phases
    ((16, 16), (8, 8), (1, 1), True),     # FCN-8s's 8x upsampler
    ((4, 3), (2, 1), (1, 2), True),       # one axis by phases, the other dilated
    ((3, 3), (2, 2), (1, 1), False),      # the stride does not divide the kernel
    ((4, 4), (2, 2), (2, 1), False),      # strided and dilated
])
def test_a_regular_tap_grid_is_copied_at_once_with_the_per_tap_loops_results(
        monkeypatch, kernel, stride, dilation, regular):
    rng = np.random.default_rng(11)
    options = dict(stride=stride, padding=(1, 2), dilation=dilation)
    x = _random(rng, (2, 4, 37, 29))
    weight = _random(rng, (6, 4) + kernel)
    out_size = tuple(conv.conv_output_size(s, k, st, 1 if i == 0 else 2, d) for i, (s, k, st, d)
                     in enumerate(zip(x.shape[2:], kernel, stride, dilation)))
    plan = conv._plan(x.shape[2:], 4, 6, kernel, stride, options["padding"], dilation, out_size)
    assert (plan.grid is not None) == regular

    def run():
        xt, wt = Tensor(x, requires_grad=True), Tensor(weight, requires_grad=True)
        y = F.conv2d(xt, wt, **options)
        y.backward(np.cos(np.arange(y.size)).reshape(y.shape))
        yt = F.conv_transpose2d(Tensor(y.data, requires_grad=True), wt, **options)
        return y.numpy(), xt.grad, wt.grad, yt.numpy()

    fast = run()
    monkeypatch.setattr(conv, "_grid", lambda *args: None)   # the per-tap loops
    slow = run()
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast[0], conv2d_ref(x, weight, None, **options), rtol=1e-10,
                               atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtypes_are_kept_forward_and_backward(dtype):
    rng = np.random.default_rng(6)
    for op, w_shape in ((F.conv2d, (4, 3, 3, 3)), (F.conv_transpose2d, (3, 4, 3, 3))):
        x = Tensor(_random(rng, (2, 3, 6, 6), dtype), requires_grad=True)
        weight = Tensor(_random(rng, w_shape, dtype), requires_grad=True)
        bias = Tensor(_random(rng, (4,), dtype), requires_grad=True)
        y = op(x, weight, bias, stride=2, padding=1)
        assert y.dtype == dtype
        y.sum().backward()
        assert x.grad.dtype == weight.grad.dtype == bias.grad.dtype == dtype


def test_float32_matches_float64_closely():
    rng = np.random.default_rng(7)
    x, weight = _random(rng, (2, 8, 12, 12)), _random(rng, (16, 8, 3, 3))
    y32 = F.conv2d(x.astype(np.float32), weight.astype(np.float32), padding=1).numpy()
    y64 = F.conv2d(x, weight, padding=1).numpy()
    np.testing.assert_allclose(y32, y64, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("transpose", [False, True])
def test_an_empty_batch_gives_an_empty_output_and_gradients(transpose):
    rng = np.random.default_rng(8)
    x = Tensor(np.zeros((0, 4, 6, 5)), requires_grad=True)
    weight = Tensor(_random(rng, (4, 3, 3, 3) if transpose else (6, 2, 3, 3)),
                    requires_grad=True)
    bias = Tensor(_random(rng, (6,)), requires_grad=True)
    if transpose:
        y = F.conv_transpose2d(x, weight, bias, stride=2, groups=2, output_padding=1)
        assert y.shape == (0, 6, 14, 12)
    else:
        y = F.conv2d(x, weight, bias, stride=2, padding=1, groups=2)
        assert y.shape == (0, 6, 3, 3)
    y.backward(np.zeros(y.shape))
    assert x.grad.shape == x.shape
    np.testing.assert_array_equal(weight.grad, np.zeros(weight.shape))
    np.testing.assert_array_equal(bias.grad, np.zeros(6))


def test_inputs_may_be_tensors_arrays_lists_or_strided_views():
    rng = np.random.default_rng(9)
    x = _random(rng, (2, 5, 7, 3)).transpose(0, 3, 1, 2)            # (2, 3, 5, 7), a view
    weight = _random(rng, (3, 3, 3, 4)).transpose(3, 2, 0, 1)       # (4, 3, 3, 3), a view
    expected = conv2d_ref(x, weight, None, (1, 1), (0, 0), (1, 1), 1)
    for a, b in ((x, weight), (Tensor(x), Tensor(weight)), (x.tolist(), weight.tolist())):
        np.testing.assert_allclose(F.conv2d(a, b).numpy(), expected, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Gradient checks: a few fixed configurations, and sabotaged backwards that must be caught
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op, options, w_shape", [
    ("conv2d", dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2), (4, 1, 3, 2)),
    ("conv2d", dict(padding="same", dilation=(1, 1)), (3, 2, 2, 4)),
    ("conv_transpose2d", dict(stride=2, padding=1, output_padding=1, groups=2), (2, 2, 3, 3)),
    # output_padding >= stride (allowed when the dilation is larger): rows no conv2d reaches
    ("conv_transpose2d", dict(stride=1, padding=0, output_padding=(1, 0), dilation=(2, 1)),
     (2, 3, 3, 2)),
])
def test_gradcheck_passes_on_fixed_configurations(op, options, w_shape):
    rng = np.random.default_rng(10)
    x, weight = rng.normal(size=(2, 2, 5, 4)), rng.normal(size=w_shape)
    c_out = w_shape[0] if op == "conv2d" else w_shape[1] * options.get("groups", 1)
    bias = rng.normal(size=(c_out,))
    fn = getattr(F, op)
    assert gradcheck(lambda a, b, c: fn(a, b, c, **options), [x, weight, bias])


def test_gradcheck_catches_a_weight_gradient_that_drops_a_tap(monkeypatch):
    right = conv._conv2d_backward_weight

    def drop_first_tap(*args, **kwargs):
        gw = right(*args, **kwargs)
        gw[:, :, 0, 0] = 0                                  # forget the top-left tap
        return gw

    rng = np.random.default_rng(11)
    x, weight = rng.normal(size=(2, 2, 5, 5)), rng.normal(size=(3, 2, 3, 3))
    check = lambda a, b: F.conv2d(a, b, padding=1)          # noqa: E731
    assert gradcheck(check, [x, weight])
    monkeypatch.setattr(conv, "_conv2d_backward_weight", drop_first_tap)
    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(check, [x, weight])


def test_gradcheck_catches_a_transposed_input_gradient_with_a_flipped_kernel(monkeypatch):
    # conv_transpose2d's gradient for x is conv2d with the SAME kernel, not a flipped one
    # (its forward is _conv2d_backward_data, so only its backward goes through _conv2d_forward)
    right = conv._conv2d_forward

    def flipped(x, weight, *args, **kwargs):
        return right(x, weight[:, :, ::-1, ::-1], *args, **kwargs)

    rng = np.random.default_rng(12)
    x, weight = rng.normal(size=(1, 2, 4, 4)), rng.normal(size=(2, 3, 3, 3))
    check = lambda a: F.conv_transpose2d(a, weight, stride=2)   # noqa: E731
    assert gradcheck(check, [x])
    monkeypatch.setattr(conv, "_conv2d_forward", flipped)
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(check, [x])


# ---------------------------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------------------------
def test_conv2d_layer_initialises_as_pytorch():
    layer = nn.Conv2d(6, 8, (3, 2), groups=2, rng=0)
    fan_in = 3 * 3 * 2                                       # C_in / groups * KH * KW
    bound = 1 / math.sqrt(fan_in)
    rng = np.random.default_rng(0)                            # the same draws, in order
    gain = math.sqrt(2.0 / (1 + 5))                           # leaky_relu gain at a = sqrt(5)
    w_bound = math.sqrt(3.0) * gain / math.sqrt(fan_in)       # = 1 / sqrt(fan_in)
    assert w_bound == pytest.approx(bound)
    np.testing.assert_allclose(layer.weight.data,
                               rng.uniform(-w_bound, w_bound, (8, 3, 3, 2)).astype(np.float32))
    np.testing.assert_allclose(layer.bias.data, rng.uniform(-bound, bound, 8).astype(np.float32))
    assert layer.weight.dtype == layer.bias.dtype == np.float32


def test_conv_transpose2d_layer_initialises_with_pytorchs_fan_in():
    layer = nn.ConvTranspose2d(4, 6, 3, groups=2, rng=1)
    assert layer.weight.shape == (4, 3, 3, 3)
    fan_in = 3 * 3 * 3                                       # weight.shape[1] * KH * KW
    rng = np.random.default_rng(1)
    bound = 1 / math.sqrt(fan_in)
    np.testing.assert_allclose(layer.weight.data,
                               rng.uniform(-bound, bound, (4, 3, 3, 3)).astype(np.float32),
                               rtol=1e-6)
    np.testing.assert_allclose(layer.bias.data, rng.uniform(-bound, bound, 6).astype(np.float32))


def test_layer_reprs_follow_pytorch():
    assert repr(nn.Conv2d(3, 8, 3)) == "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))"
    assert repr(nn.Conv2d(4, 8, 3, stride=2, padding=1, dilation=2, groups=2, bias=False)) == (
        "Conv2d(4, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(2, 2), "
        "groups=2, bias=False)")
    assert repr(nn.Conv2d(4, 8, (3, 2), padding="same")) == (
        "Conv2d(4, 8, kernel_size=(3, 2), stride=(1, 1), padding=same)")
    assert repr(nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1, output_padding=1,
                                   groups=2)) == (
        "ConvTranspose2d(4, 6, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), "
        "output_padding=(1, 1), groups=2)")


def test_layers_have_pytorch_state_dict_keys_and_take_a_dtype():
    assert list(nn.Conv2d(2, 3, 3).state_dict()) == ["weight", "bias"]
    assert list(nn.ConvTranspose2d(2, 3, 3, bias=False).state_dict()) == ["weight"]
    layer = nn.Conv2d(2, 3, 3, dtype=np.float64)
    assert layer.weight.dtype == layer.bias.dtype == np.float64
    with pytest.raises(TypeError, match="Conv2d: dtype must be a floating-point type"):
        nn.Conv2d(2, 3, 3, dtype=np.int32)


def test_layers_compute_the_functional_ops():
    rng = np.random.default_rng(13)
    x = _random(rng, (2, 4, 9, 8), np.float32)
    layer = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, rng=0)
    np.testing.assert_allclose(layer(x).numpy(), F.conv2d(
        x, layer.weight, layer.bias, stride=2, padding=1, groups=2).numpy())
    up = nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1, rng=0)
    y = up(x)
    assert y.shape == (2, 2, 18, 16)
    np.testing.assert_allclose(y.numpy(), conv_transpose2d_ref(
        x, up.weight.data, up.bias.data, (2, 2), (1, 1)), rtol=1e-5, atol=1e-5)
    y.sum().backward()
    assert up.weight.grad.shape == up.weight.shape and up.bias.grad.shape == (2,)


def test_conv_transpose2d_layer_output_size_picks_the_output_padding():
    rng = np.random.default_rng(14)
    up = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, rng=0)
    x = _random(rng, (1, 3, 4, 5), np.float32)
    assert up(x).shape == (1, 2, 7, 9)
    y = up(x, output_size=(8, 9))                              # one more row: output_padding 1
    assert y.shape == (1, 2, 8, 9)
    np.testing.assert_allclose(y.numpy(), F.conv_transpose2d(
        x, up.weight, up.bias, 2, 1, output_padding=(1, 0)).numpy())
    assert up(x, output_size=(1, 2, 7, 10)).shape == (1, 2, 7, 10)
    with pytest.raises(ValueError, match=r"ConvTranspose2d: output_size \(9, 9\) is impossible "
                                         r"for input \(1, 3, 4, 5\): each side must lie between "
                                         r"\(7, 9\) and \(8, 10\)"):
        up(x, output_size=(9, 9))


@pytest.mark.parametrize("make, error, message", [
    (lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError,
     "Conv2d: in_channels=3 is not divisible by groups=2"),
    (lambda: nn.Conv2d(4, 3, 3, groups=2), ValueError,
     "Conv2d: out_channels=3 is not divisible by groups=2"),
    (lambda: nn.Conv2d(4, 4, 0), ValueError,
     r"Conv2d: kernel_size must be at least 1, got \(0, 0\)"),
    (lambda: nn.Conv2d(4, 4, 3, stride=0), ValueError,
     r"Conv2d: stride must be at least 1, got \(0, 0\)"),
    (lambda: nn.Conv2d(4, 4, 3, padding=-1), ValueError,
     r"Conv2d: padding must be non-negative, got \(-1, -1\)"),
    (lambda: nn.Conv2d(4, 4, 3, stride=2, padding="same"), ValueError,
     "Conv2d: padding='same' needs stride 1"),
    (lambda: nn.Conv2d(4, 4, 3, padding="full"), ValueError,
     "Conv2d: padding must be an int, a pair of ints, 'valid' or 'same', got 'full'"),
    (lambda: nn.Conv2d(4, 4, (3, 3, 3)), TypeError,
     r"Conv2d: kernel_size must be an int or a pair of ints, got \(3, 3, 3\)"),
    (lambda: nn.ConvTranspose2d(4, 4, 3, stride=2, output_padding=2), ValueError,
     r"ConvTranspose2d: output_padding must be non-negative and smaller than stride or "
     r"dilation along each axis, got output_padding=\(2, 2\) with stride=\(2, 2\)"),
])
def test_layers_refuse_bad_hyper_parameters(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_layers_refuse_an_input_with_the_wrong_channels():
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8, kernel_size=\(3, 3\), stride=\(1, 1\)"
                                         r"\): expected input of shape \(N, 3, H, W\), got "
                                         r"\(2, 4, 5, 5\)"):
        nn.Conv2d(3, 8, 3)(np.zeros((2, 4, 5, 5), dtype=np.float32))


# ---------------------------------------------------------------------------------------------
# Bad input to the ops
# ---------------------------------------------------------------------------------------------
X = np.zeros((1, 3, 5, 5), dtype=np.float32)
W = np.zeros((4, 3, 3, 3), dtype=np.float32)
WT = np.zeros((3, 4, 3, 3), dtype=np.float32)


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.conv2d(np.zeros((1, 3, 5, 5), np.float32), np.zeros((4, 1, 3, 3), np.float32),
                      groups=2), ValueError,
     r"conv2d: C_in=3 of input \(1, 3, 5, 5\) is not divisible by groups=2"),
    (lambda: F.conv2d(np.zeros((1, 4, 5, 5), np.float32), np.zeros((3, 2, 3, 3), np.float32),
                      groups=2), ValueError,
     r"conv2d: C_out=3 of weight \(3, 2, 3, 3\) is not divisible by groups=2"),
    (lambda: F.conv2d(np.zeros((1, 4, 5, 5), np.float32), W), ValueError,
     r"conv2d: input \(1, 4, 5, 5\) has C_in=4 channels but weight \(4, 3, 3, 3\) with "
     r"groups=1 expects C_in = weight.shape\[1\] \* groups = 3"),
    (lambda: F.conv2d(np.zeros((1, 3, 2, 5), np.float32), W), ValueError,
     r"conv2d: output size \(0, 3\) is below 1 for input \(1, 3, 2, 5\) with kernel \(3, 3\), "
     r"stride \(1, 1\), padding \(0, 0\), dilation \(1, 1\): OH = floor"),
    (lambda: F.conv2d(X, W, padding=(1, -1)), ValueError,
     r"conv2d: padding must be non-negative, got padding=\(1, -1\)"),
    (lambda: F.conv2d(X, W, stride=0), ValueError,
     r"conv2d: stride must be at least 1, got stride=\(0, 0\)"),
    (lambda: F.conv2d(X, W, dilation=(1, 0)), ValueError,
     r"conv2d: dilation must be at least 1, got dilation=\(1, 0\)"),
    (lambda: F.conv2d(X, W, stride=(1, 2, 3)), TypeError,
     r"conv2d: stride must be an int or a pair of ints, got \(1, 2, 3\)"),
    (lambda: F.conv2d(X, W, stride=1.5), TypeError,
     "conv2d: stride must be an int or a pair of ints, got 1.5"),
    (lambda: F.conv2d(np.zeros((3, 5, 5), np.float32), W), ValueError,
     r"conv2d: input must be 4-D \(N, C_in, H, W\), got shape \(3, 5, 5\)"),
    (lambda: F.conv2d(X, np.zeros((4, 3, 3), np.float32)), ValueError,
     r"conv2d: weight must be 4-D \(C_out, C_in / groups, KH, KW\), got shape \(4, 3, 3\)"),
    (lambda: F.conv2d(X, W.astype(np.float64)), TypeError,
     r"conv2d: input has dtype float32 but weight has dtype float64 \(input \(1, 3, 5, 5\), "
     r"weight \(4, 3, 3, 3\)\); cast one of them"),
    (lambda: F.conv2d(X, W, np.zeros(4, np.float64)), TypeError,
     r"conv2d: input has dtype float32 but bias has dtype float64"),
    (lambda: F.conv2d(X.astype(np.int64), W.astype(np.int64)), TypeError,
     r"conv2d: input must be floating point, got dtype int64 with shape \(1, 3, 5, 5\)"),
    (lambda: F.conv2d(X, W, np.zeros(3, np.float32)), ValueError,
     r"conv2d: bias has shape \(3,\) but weight \(4, 3, 3, 3\) needs \(4,\)"),
    (lambda: F.conv2d(X, W, groups=0), ValueError,
     "conv2d: groups must be a positive int, got 0"),
    (lambda: F.conv2d(np.zeros((1, 3, 0, 5), np.float32), W), ValueError,
     r"conv2d: input of shape \(1, 3, 0, 5\) is empty; only the batch axis N may be 0"),
    (lambda: F.conv2d(X, W, stride=2, padding="same"), ValueError,
     r"conv2d: padding='same' needs stride 1 \(as PyTorch\), got stride=\(2, 2\)"),
    (lambda: F.conv2d(X, W, padding="full"), ValueError,
     "conv2d: padding must be an int, a pair of ints, 'valid' or 'same', got 'full'"),
    (lambda: F.conv_transpose2d(X, WT, stride=2, output_padding=2), ValueError,
     r"conv_transpose2d: output_padding must be non-negative and smaller than stride or "
     r"dilation along each axis, got output_padding=\(2, 2\) with stride=\(2, 2\) and "
     r"dilation=\(1, 1\)"),
    (lambda: F.conv_transpose2d(X, WT, output_padding=(0, 2), dilation=(1, 2)), ValueError,
     r"output_padding=\(0, 2\) with stride=\(1, 1\) and dilation=\(1, 2\)"),
    (lambda: F.conv_transpose2d(X, WT, stride=2, output_padding=(1, 2), dilation=(1, 2)),
     ValueError, r"output_padding=\(1, 2\) with stride=\(2, 2\) and dilation=\(1, 2\)"),
    (lambda: F.conv_transpose2d(np.zeros((1, 4, 5, 5), np.float32), WT), ValueError,
     r"conv_transpose2d: input \(1, 4, 5, 5\) has C_in=4 channels but weight \(3, 4, 3, 3\) "
     r"expects C_in = weight.shape\[0\] = 3"),
    (lambda: F.conv_transpose2d(X, WT, groups=2), ValueError,
     r"conv_transpose2d: C_in=3 of input \(1, 3, 5, 5\) is not divisible by groups=2"),
    (lambda: F.conv_transpose2d(X, WT, padding=-1), ValueError,
     r"conv_transpose2d: padding must be non-negative, got padding=\(-1, -1\)"),
    (lambda: F.conv_transpose2d(X, WT, stride=(0, 1)), ValueError,
     r"conv_transpose2d: stride must be at least 1, got stride=\(0, 1\)"),
    (lambda: F.conv_transpose2d(np.zeros((1, 3, 1, 1), np.float32), WT, padding=2), ValueError,
     r"conv_transpose2d: output size \(-1, -1\) is below 1 for input \(1, 3, 1, 1\) with "
     r"kernel \(3, 3\), stride \(1, 1\), padding \(2, 2\), dilation \(1, 1\), output_padding "
     r"\(0, 0\): OH = \(H - 1\)\*SH - 2\*PH"),
    (lambda: F.conv_transpose2d(X, WT, np.zeros(3, np.float32)), ValueError,
     r"conv_transpose2d: bias has shape \(3,\) but weight \(3, 4, 3, 3\) needs \(4,\)"),
    (lambda: F.conv_transpose2d(X, WT.astype(np.float64)), TypeError,
     r"conv_transpose2d: input has dtype float32 but weight has dtype float64"),
    (lambda: F.conv_transpose2d(X[0], WT), ValueError,
     r"conv_transpose2d: input must be 4-D \(N, C_in, H, W\), got shape \(3, 5, 5\)"),
    (lambda: F.conv_transpose2d(X, WT[0]), ValueError,
     r"conv_transpose2d: weight must be 4-D \(C_in, C_out / groups, KH, KW\), got shape "
     r"\(4, 3, 3\)"),
])
def test_bad_input_is_refused_with_a_clear_message(call, error, message):
    with pytest.raises(error, match=message):
        call()


@given(x=arrays((1, 2, 4, 4)))
def test_conv2d_with_a_delta_kernel_is_the_identity(x):
    # a kernel with a single 1 at its centre copies the input (padding keeps the size)
    weight = np.zeros((2, 2, 3, 3))
    weight[0, 0, 1, 1] = weight[1, 1, 1, 1] = 1
    np.testing.assert_array_equal(F.conv2d(x, weight, padding=1).numpy(), x)


# ---------------------------------------------------------------------------------------------
# Scratch buffers and doctests
# ---------------------------------------------------------------------------------------------
def test_results_do_not_share_the_reused_scratch_buffers():
    rng = np.random.default_rng(15)
    x1, x2 = _random(rng, (2, 3, 8, 8)), _random(rng, (2, 3, 8, 8))
    weight = Tensor(_random(rng, (4, 3, 3, 3)), requires_grad=True)
    y1 = F.conv2d(x1, weight, padding=1)
    expected = conv2d_ref(x1, weight.data, None, (1, 1), (1, 1), (1, 1), 1)
    y2 = F.conv2d(x2, weight, padding=1)                   # reuses the same scratch buffers
    (y1.sum() + y2.sum()).backward()
    np.testing.assert_allclose(y1.numpy(), expected, rtol=1e-10, atol=1e-10)
    buffers = list(conv._workspace.buffers.values())
    for result in (y1.data, y2.data, weight.grad):
        assert not any(np.shares_memory(result, b) for b in buffers)


def test_threads_running_convolutions_at_once_do_not_mix_their_buffers():
    from concurrent.futures import ThreadPoolExecutor
    rng = np.random.default_rng(16)
    weight = _random(rng, (4, 3, 3, 3))
    inputs = [_random(rng, (2, 3, 9 + i, 7)) for i in range(6)]
    with ThreadPoolExecutor(3) as pool:
        outputs = list(pool.map(lambda x: F.conv2d(x, weight, padding=1).numpy(), inputs))
    for x, y in zip(inputs, outputs):
        np.testing.assert_allclose(y, conv2d_ref(x, weight, None, (1, 1), (1, 1), (1, 1), 1),
                                   rtol=1e-10, atol=1e-10)


def test_doctests_of_the_conv_code():
    import doctest

    from minicv.nn import conv as nn_conv
    for module in (conv, nn_conv):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
