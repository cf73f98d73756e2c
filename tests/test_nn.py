"""minicv.nn: Module registration and traversal, layers against NumPy references, layer gradient
checks (the pattern for checking your own layer with its weights as inputs), initialisers."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicv
import minicv.functional as F
from minicv import Tensor, backend, nn, optim
from minicv.nn import init
from minicv.testing import arrays


class Block(nn.Module):
    """conv-like toy block: a weight, a child, a buffer and a bias, assigned in that order."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(np.ones((2, 3), dtype=np.float32))
        self.inner = nn.Linear(3, 2)
        self.register_buffer("count", np.zeros((), dtype=np.int64))
        self.bias = nn.Parameter(np.zeros(2, dtype=np.float32))
        self.scale = 2.0          # a plain attribute: not registered

    def forward(self, x):
        return self.inner(x) + self.bias


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), Block())
        self.head = nn.Linear(2, 1, bias=False)

    def forward(self, x):
        return self.head(self.features(x))


# ---------------------------------------------------------------------------------------------
# Parameter
# ---------------------------------------------------------------------------------------------
def test_parameter_defaults():
    p = nn.Parameter([1, 2, 3])
    assert p.requires_grad and p.is_leaf
    assert p.dtype == np.float32                  # numbers become float data
    assert nn.Parameter(np.zeros(2)).dtype == np.float64   # float arrays keep their dtype
    assert not nn.Parameter(np.zeros(2), requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:\nTensor([1., 2., 3.]")


def test_parameter_refuses_integer_arrays():
    with pytest.raises(TypeError, match=r"Parameter: data must be floating-point, got dtype "
                                        r"int64 with shape \(2,\)"):
        nn.Parameter(np.array([1, 2]))


# ---------------------------------------------------------------------------------------------
# Registration and traversal
# ---------------------------------------------------------------------------------------------
def test_registration_order_and_dotted_names():
    net = Net()
    assert [name for name, _ in net.named_parameters()] == [
        "features.0.weight", "features.0.bias",
        "features.2.weight", "features.2.bias", "features.2.inner.weight",
        "features.2.inner.bias", "head.weight"]
    assert [name for name, _ in net.named_buffers()] == ["features.2.count"]
    assert [name for name, _ in net.named_children()] == ["features", "head"]
    assert [name for name, _ in net.named_modules()] == [
        "", "features", "features.0", "features.1", "features.2", "features.2.inner", "head"]
    assert list(net.modules())[0] is net
    assert [type(m).__name__ for m in net.children()] == ["Sequential", "Linear"]
    assert net.features[2].weight is list(net.parameters())[2]
    assert net.num_parameters() == 4 * 3 + 3 + 6 + 2 + 6 + 2 + 2
    assert "scale" not in dict(net.features[2].named_parameters())


def test_reassigning_keeps_the_place_and_none_or_plain_values_unregister():
    block = Block()
    block.weight = nn.Parameter(np.zeros((2, 3), dtype=np.float32))   # replaced in place
    assert [n for n, _ in block.named_parameters(recurse=False)] == ["weight", "bias"]
    block.weight = None                                               # unregistered
    assert block.weight is None
    assert [n for n, _ in block.named_parameters(recurse=False)] == ["bias"]
    block.bias = np.zeros(2)                                          # a plain array now
    assert list(block.named_parameters(recurse=False)) == []
    assert isinstance(block.bias, np.ndarray)
    block.inner = None
    assert list(block.named_children()) == []
    del block.count
    assert list(block.named_buffers()) == []
    with pytest.raises(AttributeError, match="Block has no attribute 'count'"):
        block.count


def test_shared_parameter_listed_once():
    a = nn.Linear(2, 2)
    seq = nn.Sequential(a, nn.ReLU(), a)
    assert len(list(seq.parameters())) == 2
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]


def test_buffers_are_saved_not_trained():
    block = Block()
    assert all(p is not block.count for p in block.parameters())
    block.count = np.ones((), dtype=np.int64)          # assigning replaces the buffer
    assert block.state_dict()["count"] == 1
    block.register_buffer("scratch", np.zeros(3), persistent=False)
    assert "scratch" in dict(block.named_buffers())
    assert "scratch" not in block.state_dict()
    with pytest.raises(TypeError, match="buffer 'count' must be an array or None, got str"):
        block.count = "three"
    with pytest.raises(TypeError, match="register_buffer: 'x' must be a NumPy or CuPy array"):
        block.register_buffer("x", [1, 2])
    with pytest.raises(ValueError, match=r"register_buffer: name must be a non-empty string "
                                         r"without '\.', got 'a\.b'"):
        block.register_buffer("a.b", np.zeros(1))
    with pytest.raises(ValueError, match="register_buffer: 'scale' is already an attribute"):
        block.register_buffer("scale", np.zeros(1))


def test_assigning_before_init_is_a_clear_error():
    class Forgetful(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(1))

    with pytest.raises(AttributeError, match=r"Forgetful: cannot assign 'w' before "
                                             r"Module.__init__\(\) is called"):
        Forgetful()


def test_train_eval_recurse():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.features.train(False)
    assert net.training and not net.features[2].inner.training
    with pytest.raises(ValueError, match="Net.train: mode must be a bool, got 'no'"):
        net.train("no")


def test_zero_grad_and_requires_grad():
    net = Net()
    x = Tensor(np.ones((5, 4), dtype=np.float32))
    net(x).sum().backward()
    assert all(p.grad is not None for p in net.features[0].parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.features.requires_grad_(False)
    assert net.num_parameters(trainable_only=True) == 2


def test_to_cpu_is_in_place_and_returns_self():
    net = Net()
    weight = net.head.weight
    assert net.to("cpu") is net and net.head.weight is weight
    with pytest.raises(ValueError, match="Net.to: device must be 'cpu' or 'gpu', got 'tpu'"):
        net.to("tpu")


@pytest.mark.gpu
def test_to_gpu_moves_parameters_grads_and_buffers():
    if not backend.gpu_available():
        pytest.skip("no usable GPU here (CuPy missing or no device visible)")
    net = Net()
    net(Tensor(np.ones((2, 4), dtype=np.float32))).sum().backward()
    params = list(net.parameters())
    assert net.to("gpu") is net
    assert [p.device for p in net.parameters()] == ["gpu"] * len(params)
    assert all(p is q for p, q in zip(net.parameters(), params))   # same objects
    assert backend.device_of(net.features[0].weight.grad) == "gpu"
    assert backend.device_of(net.features[2].count) == "gpu"
    y = net(Tensor(backend.to_gpu(np.ones((2, 4), dtype=np.float32))))
    assert y.device == "gpu"
    state = net.state_dict()
    assert all(isinstance(v, np.ndarray) for v in state.values())    # state on the CPU
    net.to("cpu")
    assert {p.device for p in net.parameters()} == {"cpu"}


def test_functional_call_swaps_parameters_for_one_call():
    layer = nn.Linear(3, 2, dtype=np.float64)
    x = np.ones((1, 3))
    w, b = Tensor(np.zeros((2, 3))), Tensor(np.full(2, 7.0))
    y = nn.functional_call(layer, {"weight": w, "bias": b}, x)
    np.testing.assert_array_equal(y.data, [[7.0, 7.0]])
    assert isinstance(layer.weight, nn.Parameter)         # restored afterwards
    net = nn.Sequential(layer)
    y = nn.functional_call(net, {"0.bias": b}, x)
    np.testing.assert_allclose(y.data, x @ layer.weight.data.T + 7.0)
    with pytest.raises(KeyError, match="functional_call: Sequential has no parameter '0.w'"):
        nn.functional_call(net, {"0.w": b}, x)
    assert net[0].bias is layer.bias


# ---------------------------------------------------------------------------------------------
# repr
# ---------------------------------------------------------------------------------------------
def test_repr_golden():
    model = nn.Sequential(
        nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.25),
        nn.Sequential(nn.BatchNorm1d(8), nn.LeakyReLU(0.2)),
        nn.Flatten(), nn.Linear(8, 2, bias=False), nn.Identity())
    assert repr(model) == """\
Sequential(
  (0): Linear(in_features=4, out_features=8, bias=True)
  (1): ReLU()
  (2): Dropout(p=0.25)
  (3): Sequential(
    (0): BatchNorm1d(8, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)
    (1): LeakyReLU(negative_slope=0.2)
  )
  (4): Flatten(start_dim=1, end_dim=-1)
  (5): Linear(in_features=8, out_features=2, bias=False)
  (6): Identity()
)"""
    assert repr(nn.Sequential()) == "Sequential()"


# ---------------------------------------------------------------------------------------------
# Containers
# ---------------------------------------------------------------------------------------------
def test_sequential_indexing_len_iteration():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and list(seq) == layers
    assert seq[0] is layers[0] and seq[-1] is layers[2]
    assert list(seq[1:]) == layers[1:] and len(seq[:1]) == 1
    with pytest.raises(IndexError, match="Sequential: index 3 is out of range for 3 modules"):
        seq[3]
    named = nn.Sequential({"fc": layers[0], "act": layers[1]})
    assert [n for n, _ in named.named_parameters()] == ["fc.weight", "fc.bias"]
    x = np.ones((4, 2), dtype=np.float32)
    np.testing.assert_allclose(seq(x).data, layers[2](layers[1](layers[0](x))).data)
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and [n for n, _ in seq.named_children()][-1] == "3"


def test_module_list_registers_its_items():
    heads = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 1)])
    heads.append(nn.Linear(1, 1))
    assert len(heads) == 3 and heads[-1].out_features == 1
    assert [n for n, _ in heads.named_parameters()][:2] == ["0.weight", "0.bias"]
    assert len(heads[:2]) == 2
    with pytest.raises(NotImplementedError, match="ModuleList must define forward"):
        heads(np.ones(2))


# ---------------------------------------------------------------------------------------------
# Layers: forward against NumPy
# ---------------------------------------------------------------------------------------------
def test_linear_forward_shapes_dtype_and_init():
    rng = np.random.default_rng(0)
    layer = nn.Linear(5, 3, rng=1)
    assert layer.weight.shape == (3, 5) and layer.bias.shape == (3,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    bound = 1 / math.sqrt(5)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.bias.data).max() <= bound
    x = rng.normal(size=(2, 4, 5)).astype(np.float32)       # any leading axes
    y = layer(Tensor(x))
    assert y.shape == (2, 4, 3) and y.dtype == np.float32
    np.testing.assert_allclose(y.data, x @ layer.weight.data.T + layer.bias.data, rtol=1e-5)
    no_bias = nn.Linear(5, 3, bias=False, dtype=np.float64)
    assert no_bias.bias is None and no_bias.weight.dtype == np.float64
    assert [n for n, _ in no_bias.named_parameters()] == ["weight"]
    np.testing.assert_allclose(no_bias(x.astype(np.float64)).data,
                               x.astype(np.float64) @ no_bias.weight.data.T)
    # the same rng seed gives the same weights
    np.testing.assert_array_equal(nn.Linear(5, 3, rng=1).weight.data, layer.weight.data)


def test_linear_default_init_statistics_match_pytorch():
    # kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)): variance 1/(3 fan_in)
    layer = nn.Linear(400, 300, rng=0)
    w = layer.weight.data.astype(np.float64)
    np.testing.assert_allclose(w.var(), 1 / (3 * 400), rtol=0.02)
    assert abs(w.mean()) < 0.01 / math.sqrt(400)


def test_linear_errors():
    layer = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"Linear\(in_features=3, out_features=2, bias=True\): "
                                         r"input has shape \(4, 5\) but its last axis must be "
                                         r"in_features=3"):
        layer(np.zeros((4, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"Linear: in_features and out_features must be >= 1"):
        nn.Linear(0, 2)
    with pytest.raises(TypeError, match="Linear: dtype must be a floating-point type, got int32"):
        nn.Linear(2, 2, dtype=np.int32)


def test_activation_layers_match_numpy():
    x = np.linspace(-3, 3, 13).reshape(1, 13)
    np.testing.assert_allclose(nn.ReLU()(x).data, np.maximum(x, 0))
    np.testing.assert_allclose(nn.LeakyReLU(0.1)(x).data, np.where(x > 0, x, 0.1 * x))
    np.testing.assert_allclose(nn.Sigmoid()(x).data, 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh(x))
    t = Tensor(x)
    assert nn.Identity()(t) is t


def test_flatten_layer():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    np.testing.assert_array_equal(nn.Flatten(2)(x).data, x.reshape(2, 3, 20))


def test_dropout_uses_training_flag():
    x = Tensor(np.ones((50, 40), dtype=np.float32))
    layer = nn.Dropout(0.5, rng=0)
    y = layer(x).data
    assert set(np.unique(y)) == {0.0, 2.0}
    assert 0.4 < (y == 0).mean() < 0.6
    assert not np.array_equal(layer(x).data, y)           # a fresh mask each call
    np.testing.assert_array_equal(nn.Dropout(0.5, rng=0)(x).data, y)   # reproducible
    layer.eval()
    assert layer(x) is x
    with pytest.raises(ValueError, match="Dropout: p must be in \\[0, 1\\], got 1.5"):
        nn.Dropout(1.5)


def _bn_reference(x, mean_run, var_run, momentum, eps):
    """Per-channel batch statistics of (N, C, ...) x and the updated running statistics."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    m = x.size // x.shape[1]
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    new_mean = (1 - momentum) * mean_run + momentum * mean
    new_var = (1 - momentum) * var_run + momentum * var * m / (m - 1)
    return y, new_mean, new_var


def test_batchnorm2d_train_then_eval():
    rng = np.random.default_rng(0)
    bn = nn.BatchNorm2d(3, dtype=np.float64)
    bn.weight.data[...] = [1.0, 2.0, 0.5]
    bn.bias.data[...] = [0.0, -1.0, 3.0]
    scale, shift = bn.weight.data.reshape(1, 3, 1, 1), bn.bias.data.reshape(1, 3, 1, 1)
    mean_run, var_run = np.zeros(3), np.ones(3)
    for step in range(3):
        x = rng.normal(2.0, 3.0, size=(4, 3, 5, 6))
        y = bn(Tensor(x))
        ref, mean_run, var_run = _bn_reference(x, mean_run, var_run, 0.1, 1e-5)
        np.testing.assert_allclose(y.data, ref * scale + shift, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(bn.running_mean, mean_run, rtol=1e-12)
        np.testing.assert_allclose(bn.running_var, var_run, rtol=1e-12)
        assert bn.num_batches_tracked == step + 1
    bn.eval()
    x = rng.normal(size=(2, 3, 4, 4))
    y = bn(x)
    expected = (x - mean_run.reshape(1, 3, 1, 1)) / np.sqrt(var_run.reshape(1, 3, 1, 1) + 1e-5)
    np.testing.assert_allclose(y.data, expected * scale + shift, rtol=1e-10)
    assert bn.num_batches_tracked == 3                  # evaluation does not count
    np.testing.assert_allclose(bn.running_mean, mean_run, rtol=1e-12)


def test_batchnorm_momentum_none_is_a_cumulative_average():
    rng = np.random.default_rng(1)
    bn = nn.BatchNorm1d(2, momentum=None, dtype=np.float64)
    batches = [rng.normal(k, 1.0, size=(8, 2)) for k in range(4)]
    for x in batches:
        bn(x)
    np.testing.assert_allclose(bn.running_mean, np.mean([x.mean(0) for x in batches], 0),
                               rtol=1e-12)


def test_batchnorm_without_running_stats_or_affine():
    x = np.random.default_rng(2).normal(size=(4, 2, 3, 3)).astype(np.float32)
    bn = nn.BatchNorm2d(2, affine=False, track_running_stats=False)
    assert list(bn.parameters()) == [] and bn.state_dict() == {}
    ref = _bn_reference(x, 0, 1, 0.1, 1e-5)[0]
    np.testing.assert_allclose(bn(x).data, ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.eval()(x).data, ref, rtol=1e-4, atol=1e-5)   # batch stats
    assert bn(x).dtype == np.float32


def test_batchnorm_default_state_and_errors():
    bn = nn.BatchNorm2d(4)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    assert bn.running_var.dtype == np.float32 and bn.num_batches_tracked.dtype == np.int64
    with pytest.raises(ValueError, match=r"BatchNorm2d\(4, eps=1e-05, momentum=0.1, affine=True, "
                                         r"track_running_stats=True\): expected input of shape "
                                         r"\(N, 4, H, W\), got \(2, 3, 5, 5\)"):
        bn(np.zeros((2, 3, 5, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(4, .*\): expected input of shape "
                                         r"\(N, 4\) or \(N, 4, L\), got \(2, 4, 5, 5\)"):
        nn.BatchNorm1d(4)(np.zeros((2, 4, 5, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="BatchNorm2d: momentum must be in \\[0, 1\\] or None"):
        nn.BatchNorm2d(4, momentum=2)
    bn.num_batches_tracked[...] = 5
    bn.reset_running_stats()
    assert bn.num_batches_tracked == 0


# ---------------------------------------------------------------------------------------------
# Layer gradient checks: the layer's parameters become gradcheck inputs via functional_call
# ---------------------------------------------------------------------------------------------
@st.composite
def linear_cases(draw):
    in_features = draw(st.integers(1, 5))
    out_features = draw(st.integers(1, 4))
    bias = draw(st.booleans())
    batch = draw(st.sampled_from([(), (3,), (2, 3)]))
    x = draw(arrays(batch + (in_features,)))
    seed = draw(st.integers(0, 2**16))
    return nn.Linear(in_features, out_features, bias=bias, dtype=np.float64, rng=seed), x


@given(linear_cases())
def test_linear_gradcheck(case):
    layer, x = case
    names = [name for name, _ in layer.named_parameters()]

    def fn(x, *params):              # gradcheck perturbs x AND the weights
        return nn.functional_call(layer, dict(zip(names, params)), x)

    minicv.gradcheck(fn, [x] + [p.data for p in layer.parameters()])


@st.composite
def batchnorm_cases(draw):
    channels = draw(st.integers(1, 3))
    shape = (draw(st.integers(2, 3)), channels, draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    x = draw(arrays(shape))
    weight = draw(arrays((channels,), low=0.5, high=2.0))
    bias = draw(arrays((channels,)))
    training = draw(st.booleans())
    return x, weight, bias, training


@given(batchnorm_cases())
def test_batchnorm2d_gradcheck(case):
    x, weight, bias, training = case
    bn = nn.BatchNorm2d(x.shape[1], dtype=np.float64)
    bn.running_mean[...] = 0.3
    bn.running_var[...] = 1.7
    bn.train(training)

    def fn(x, w, b):
        return nn.functional_call(bn, {"weight": w, "bias": b}, x)

    minicv.gradcheck(fn, [x, weight, bias])


class DetachedLinear(nn.Linear):
    """A deliberately wrong layer: the weight is used through a detached copy, so backward
    sends no gradient to it although the output depends on it."""

    def forward(self, x):
        return F.matmul(x, self.weight.detach().T) + self.bias


def test_layer_gradcheck_catches_a_wrong_backward():
    layer = DetachedLinear(3, 2, dtype=np.float64, rng=0)
    x = np.random.default_rng(0).normal(size=(4, 3))
    with pytest.raises(minicv.GradcheckError, match="gradcheck failed for input 1"):
        minicv.gradcheck(lambda x, w, b: nn.functional_call(layer, {"weight": w, "bias": b}, x),
                         [x, layer.weight.data, layer.bias.data])


# ---------------------------------------------------------------------------------------------
# A tiny MLP learns
# ---------------------------------------------------------------------------------------------
def test_tiny_mlp_fits_xor_with_sgd():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(64, 2)).astype(np.float32)
    x += 0.1 * np.sign(x)                                   # keep points off the axes
    target = (x[:, 0] * x[:, 1] > 0).astype(np.int64)       # XOR of the signs: not linear
    model = nn.Sequential(nn.Linear(2, 32, rng=0), nn.ReLU(), nn.Linear(32, 2, rng=1))
    optimizer = optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    first = None
    for _ in range(300):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(Tensor(x)), target)
        loss.backward()
        optimizer.step()
        first = loss.item() if first is None else first
    assert first > 0.5
    assert loss.item() < 0.05
    assert (model(Tensor(x)).data.argmax(axis=1) == target).all()


# ---------------------------------------------------------------------------------------------
# Initialisers
# ---------------------------------------------------------------------------------------------
def test_fans_for_linear_and_conv_weights():
    assert init.calculate_fan_in_and_fan_out(np.empty((5, 3))) == (3, 5)
    assert init.calculate_fan_in_and_fan_out(Tensor(np.empty((8, 4, 3, 2)))) == (24, 48)
    with pytest.raises(ValueError, match=r"calculate_fan_in_and_fan_out: needs a tensor with at "
                                         r"least 2 dimensions, got shape \(5,\)"):
        init.calculate_fan_in_and_fan_out(np.empty(5))


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("tanh") == 5 / 3
    assert init.calculate_gain("selu") == 3 / 4
    assert init.calculate_gain("leaky_relu") == math.sqrt(2 / (1 + 0.01 ** 2))
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    with pytest.raises(ValueError, match="calculate_gain: unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


# (initialiser, kwargs, expected variance as a function of (fan_in, fan_out), bound or None)
_INIT_CASES = [
    (init.kaiming_uniform_, {}, lambda i, o: 2 / (1 + 0) / i, lambda i, o: math.sqrt(6 / i)),
    (init.kaiming_uniform_, {"a": math.sqrt(5)}, lambda i, o: 1 / (3 * i),
     lambda i, o: 1 / math.sqrt(i)),
    (init.kaiming_normal_, {"nonlinearity": "relu"}, lambda i, o: 2 / i, None),
    (init.kaiming_normal_, {"mode": "fan_out", "nonlinearity": "relu"}, lambda i, o: 2 / o, None),
    (init.kaiming_uniform_, {"mode": "fan_out", "nonlinearity": "tanh"},
     lambda i, o: (5 / 3) ** 2 / o, lambda i, o: 5 / 3 * math.sqrt(3 / o)),
    (init.xavier_uniform_, {}, lambda i, o: 2 / (i + o), lambda i, o: math.sqrt(6 / (i + o))),
    (init.xavier_normal_, {"gain": 2.0}, lambda i, o: 4 * 2 / (i + o), None),
]


@pytest.mark.parametrize("fn, kwargs, variance, bound", _INIT_CASES)
def test_initialiser_statistics(fn, kwargs, variance, bound):
    shape = (64, 32, 3, 3)                                  # conv weight: fans 288 and 576
    fan_in, fan_out = 32 * 9, 64 * 9
    p = nn.Parameter(np.empty(shape, dtype=np.float32))
    assert fn(p, rng=0, **kwargs) is p
    w = p.data.astype(np.float64)
    assert p.dtype == np.float32
    np.testing.assert_allclose(w.var(), variance(fan_in, fan_out), rtol=0.03)
    assert abs(w.mean()) < 0.02 * math.sqrt(variance(fan_in, fan_out))
    if bound is not None:
        assert np.abs(w).max() <= bound(fan_in, fan_out) * (1 + 1e-6)
        assert np.abs(w).max() > 0.99 * bound(fan_in, fan_out)


def test_simple_initialisers():
    p = nn.Parameter(np.empty((300, 200)))
    init.uniform_(p, -2.0, 1.0, rng=0)
    assert p.data.min() >= -2.0 and p.data.max() <= 1.0
    np.testing.assert_allclose([p.data.mean(), p.data.var()], [-0.5, 9 / 12], rtol=0.02)
    init.normal_(p, 3.0, 0.5, rng=0)
    np.testing.assert_allclose([p.data.mean(), p.data.std()], [3.0, 0.5], rtol=0.01)
    assert init.constant_(p, 0.25) is p and (p.data == 0.25).all()
    assert (init.zeros_(p).data == 0).all() and (init.ones_(p).data == 1).all()
    raw = np.empty(4, dtype=np.float32)                   # raw arrays are filled too
    assert init.ones_(raw) is raw and (raw == 1).all()


def test_initialisers_are_reproducible():
    a, b = nn.Parameter(np.empty((4, 5))), nn.Parameter(np.empty((4, 5)))
    init.kaiming_normal_(a, rng=7)
    init.kaiming_normal_(b, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.data, b.data)
    init.manual_seed(3)
    first = nn.Linear(4, 4).weight.data.copy()
    init.manual_seed(3)
    np.testing.assert_array_equal(nn.Linear(4, 4).weight.data, first)


def test_initialiser_errors():
    p = nn.Parameter(np.empty((3, 3)))
    with pytest.raises(ValueError, match="kaiming_normal_: mode must be 'fan_in' or 'fan_out', "
                                         "got 'fan_avg'"):
        init.kaiming_normal_(p, mode="fan_avg")
    with pytest.raises(ValueError, match="uniform_: need a <= b, got a=1, b=0"):
        init.uniform_(p, 1, 0)
    with pytest.raises(ValueError, match="normal_: std must be >= 0, got -1"):
        init.normal_(p, 0, -1)
