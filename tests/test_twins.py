"""PyTorch twins of minicv's models (minicv.bench.twins) and the "models" benchmark suite.

A twin built from a model must compute the same function: the same outputs (to float32
rounding) and the same gradients of a loss with respect to the weights, in training mode
(batch statistics, and the same running statistics afterwards) and in evaluation mode, for odd
image sizes. That makes the twin a fair yardstick for `minicv bench models` -- and checks
minicv's layers against PyTorch's on whole networks. Without PyTorch these tests skip; the
benchmark suite is then checked without its PyTorch columns.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minicv.bench.models as bench_models
import minicv.functional as F
from minicv import bench, nn
from minicv.bench import twins
from minicv.models import MODELS, get_model, vgg
from minicv.models.vgg import VGGClassifier, VGGConfig

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(widths=(8, 8, 16, 16, 16), convs=(1, 2, 1, 2, 1))


def model_for(name, **overrides):
    """A small model with every score layer made non-zero (zero-initialised layers would make
    the outputs, and most gradients, trivially equal)."""
    options = dict(TINY, **({} if name == "segnet" else {"fc_width": 16}), **overrides)
    model = get_model(name, 4, rng=0, **options)
    rng = np.random.default_rng(1)
    for param_name, p in model.named_parameters():
        if "score" in param_name:
            p.data[...] = rng.normal(0, 0.3, size=p.shape).astype(np.float32)
    return model


def sample(n=2, h=33, w=47, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, 3, h, w)).astype(np.float32),
            rng.integers(0, 4, size=(n, h, w)))


def assert_close(a, b, rtol=1e-4):
    a, b = np.asarray(a), np.asarray(b)
    scale = max(float(np.abs(b).max()), 1e-6)
    np.testing.assert_allclose(a, b, rtol=0, atol=rtol * scale)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_twin_computes_the_same_outputs_and_gradients(name, mode):
    torch = pytest.importorskip("torch")
    extra = {} if name in ("deconvnet", "segnet") else {"learn_final_upsampling": False}
    model = model_for(name, **extra)
    model.train(mode == "train")
    twin = twins.torch_twin(model)
    assert twin.training == (mode == "train")
    x, masks = sample()
    y = model(x)
    y_torch = twin(torch.from_numpy(x))
    assert tuple(y_torch.shape) == y.shape == (2, 4, 33, 47)
    assert_close(y.numpy(), y_torch.detach().numpy())
    F.cross_entropy(y, masks).backward()
    torch.nn.functional.cross_entropy(y_torch, torch.from_numpy(masks)).backward()
    torch_params = dict(twin.named_parameters())
    compared = 0
    for param_name, p in model.named_parameters():
        p_torch = torch_params[param_name]
        assert p.requires_grad == p_torch.requires_grad, param_name
        if p.grad is None:
            assert p_torch.grad is None, param_name        # the frozen final upsampling
            continue
        assert_close(p.grad, p_torch.grad.numpy(), rtol=2e-4)
        compared += 1
    assert compared == sum(p.requires_grad for p in model.parameters()) > 10
    # training mode moved both sets of running statistics the same way
    buffers = dict(twin.named_buffers())
    for key, value in model.state_dict().items():
        if "running" in key:
            assert_close(value, buffers[key].numpy())


def test_twin_has_the_same_state_dict_and_round_trips():
    torch = pytest.importorskip("torch")
    model = model_for("fcn8s")
    twin = twins.torch_twin(model)
    assert list(twin.state_dict()) == list(model.state_dict())
    with torch.no_grad():
        for p in twin.parameters():
            p.mul_(1.5)
    twins.load_from_twin(model, twin)
    for key, value in twin.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[key], value.numpy())
    assert twin.name == "fcn8s" and twin.config == model.config


def test_twin_of_a_float64_model_is_float64():
    torch = pytest.importorskip("torch")
    layer = nn.Conv2d(2, 3, 3, padding=1, dtype=np.float64, rng=0)
    twin = twins.torch_twin(layer)
    assert twin.weight.dtype == torch.float64
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 5))
    np.testing.assert_allclose(twin(torch.from_numpy(x)).detach().numpy(), layer(x).numpy(),
                               rtol=1e-12, atol=1e-12)


def test_twin_of_the_vgg_classifier():
    torch = pytest.importorskip("torch")
    model = VGGClassifier(VGGConfig(widths=(4, 4, 8, 8, 8), convs=(1, 1, 1, 1, 1)),
                          num_classes=7, fc_width=16, rng=0).eval()
    twin = twins.torch_twin(model)
    x = np.random.default_rng(0).standard_normal((2, 3, 224, 224)).astype(np.float32)
    assert_close(model(x).numpy(), twin(torch.from_numpy(x)).detach().numpy())


def test_a_layer_without_a_twin_is_a_type_error():
    pytest.importorskip("torch")

    class Custom(nn.Module):
        def forward(self, x):
            return x
    with pytest.raises(TypeError, match="torch_twin: no PyTorch twin for Custom"):
        twins.torch_twin(nn.Sequential(nn.ReLU(), Custom()))


def test_without_torch_the_twin_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)          # import torch -> ImportError
    with pytest.raises(ImportError, match="torch_twin needs PyTorch"):
        twins.torch_twin(vgg.VGG(VGGConfig(widths=(4,), convs=(1,))))


# ---------------------------------------------------------------------------------------------
# The "models" benchmark suite
# ---------------------------------------------------------------------------------------------
OPS = [f"{name} train step (Adam)" for name in bench_models.BENCH_MODELS]


@pytest.fixture
def one_thread(monkeypatch):
    """PyTorch on one thread (find_torch reads OMP_NUM_THREADS): its OpenMP threads spin-wait,
    which on a busy two-core machine makes a tiny step take a second."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    yield
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(before or os.cpu_count() or 1)


@pytest.mark.parametrize("compare_torch", [False, True])
def test_models_suite_times_a_training_step(compare_torch, one_thread):
    if compare_torch:
        pytest.importorskip("torch")
    report = bench.run("models", size="small", repeat=1, warmup=1,
                       compare_torch=compare_torch)
    assert [row["op"] for row in report.rows] == OPS
    for row in report.rows:
        assert row["shape"] == "(2, 3, 32, 32)"
        assert row["fwd ms"] > 0 and row["fwd+bwd ms"] > 0 and row["peak MiB"] > 0
        assert ("torch fwd+bwd ms" in row) == compare_torch


def test_a_case_step_updates_the_weights_of_the_previous_backward():
    model = get_model("fcn8s", 3, rng=0, widths=(4, 4, 4, 4, 4), fc_width=4)
    from minicv import optim
    opt = optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    x, masks = sample(2, 16, 16)
    step = bench_models.training_step(model, opt, x, masks % 3)
    before = model.score_fr.weight.numpy().copy()
    step().backward()                                   # nothing to update yet
    np.testing.assert_array_equal(model.score_fr.weight.numpy(), before)
    gradient = model.score_fr.weight.grad.copy()
    step()                                              # applies the previous gradient
    np.testing.assert_allclose(model.score_fr.weight.numpy(), before - 0.1 * gradient,
                               rtol=1e-6, atol=1e-7)
    assert model.score_fr.weight.grad is None           # and zeroed it


def test_torch_peak_mib_counts_what_a_call_allocates_at_its_peak():
    torch = pytest.importorskip("torch")
    keep = torch.ones(2**20)                                 # allocated before: not counted

    def allocate():
        a = torch.ones(3 * 2**20, dtype=torch.uint8)         # 3 MiB
        b = a.float()                                        # 12 MiB
        c = b * 2                                            # 12 MiB: the peak, 27 MiB
        del b
        return (c + 1).sum()                                 # 12 MiB more, b already freed
    peak = bench_models.torch_peak_mib(allocate)
    assert peak is not None and 27 <= peak < 27.1, peak
    assert keep.numel() == 2**20


def test_memory_table_reports_both_libraries(one_thread):
    torch_there = True
    try:
        import torch  # noqa: F401
    except ImportError:
        torch_there = False
    table = bench_models.memory_table("small")
    lines = table.splitlines()
    assert lines[0].startswith("minicv 0.1.0 peak memory of one training step (size small)")
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in lines[2:]]
    assert cells[0] == ["model", "shape", "minicv peak MiB", "torch peak MiB", "ratio"]
    rows = cells[2:]
    assert [r[0] for r in rows] == list(bench_models.BENCH_MODELS)
    for row in rows:
        assert row[1] == "(2, 3, 32, 32)" and float(row[2]) > 0
        assert (row[3] != "-") == torch_there
        if torch_there:
            assert float(row[3]) > 0


def test_benchmark_script_prints_both_tables():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "models.py"), "--size",
                          "small", "--repeat", "1", "--warmup", "0", "--no-torch"],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("minicv 0.1.0 bench models (size small")
    assert "peak memory of one training step (size small)" in out
    timing_table, memory_table = out.split("\n\n")[1], out.split("\n\n")[3]
    assert [line.split("|")[1].strip() for line in timing_table.splitlines()[2:]] == OPS
    assert [line.split("|")[1].strip() for line in memory_table.splitlines()[2:]] == \
        list(bench_models.BENCH_MODELS)
