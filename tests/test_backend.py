"""minicv.backend: the NumPy/CuPy switch, device errors, and the sum_to / scatter_add helpers.

There is no GPU on most machines that run this suite, so the CuPy side is exercised three ways:
the ``xp`` fixture runs the backend-neutral tests on CuPy when a GPU is visible (skipped
otherwise); a fake ``cupy`` module in ``sys.modules`` drives the "installed but no GPU" branch;
and a tiny fake array class whose type lives in a module named ``cupy`` stands for a GPU array
in the device-mismatch tests (the backend recognises CuPy arrays by their type's module).
"""
import os
import re
import subprocess
import sys
import types

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicv.functional as F
from minicv import Tensor, backend
from minicv.backend import BackendError, DeviceMismatchError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class FakeGpuArray:
    """Just enough of a CuPy ndarray for the backend to recognise it as one."""

    __module__ = "cupy"     # backend._is_cupy_array looks at type(a).__module__

    def __init__(self, shape, dtype=np.float32):
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.ndim, self.size = len(self.shape), int(np.prod(self.shape))


def cupy_is_importable():
    try:
        import cupy  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture
def fresh_backend(monkeypatch):
    """Forget what the backend learnt about CuPy (and restore it all afterwards)."""
    monkeypatch.setattr(backend, "_cupy", None)
    monkeypatch.setattr(backend, "_cupy_problem", None)
    monkeypatch.setattr(backend, "_current", "numpy")
    return backend


# ---------------------------------------------------------------------------------------------
# Choosing the library
# ---------------------------------------------------------------------------------------------
def test_get_array_module_numpy_and_no_arrays():
    assert backend.get_array_module(np.zeros(3)) is np
    assert backend.get_array_module(np.zeros(3), 2.0, None, np.ones((2, 2))) is np
    assert backend.get_array_module() is np               # the default backend is numpy
    assert backend.get_array_module(1.0, None) is np      # scalars and None are ignored


def test_use_numpy_and_current(fresh_backend):
    backend.use("numpy")
    assert backend.current() == "numpy"
    assert backend.get_array_module() is np


def test_use_bogus_raises_value_error(fresh_backend):
    with pytest.raises(ValueError, match=r"backend.use: name must be one of \('numpy', 'cupy'\), "
                                         r"got 'bogus'"):
        backend.use("bogus")
    assert backend.current() == "numpy"


@pytest.mark.skipif(cupy_is_importable(), reason="CuPy is installed here")
def test_use_cupy_without_cupy_says_it_is_not_installed(fresh_backend):
    for _ in range(2):                        # the second call answers from the cached reason
        with pytest.raises(BackendError, match="CuPy is not installed"):
            backend.use("cupy")
    assert backend.current() == "numpy"       # a failed switch changes nothing
    assert backend.gpu_available() is False
    with pytest.raises(BackendError, match="CuPy is not installed"):
        backend.to_gpu(np.zeros(2))


def _fake_cupy(device_count):
    """A stand-in cupy module whose CUDA runtime reports ``device_count`` (or raises it)."""
    def get_device_count():
        if isinstance(device_count, Exception):
            raise device_count
        return device_count
    runtime = types.SimpleNamespace(getDeviceCount=get_device_count)
    module = types.ModuleType("cupy")
    module.cuda = types.SimpleNamespace(runtime=runtime)
    return module


@pytest.mark.parametrize("count, match", [
    (0, r"CuPy is installed but no GPU is visible \(the CUDA runtime sees 0 devices\)"),
    (RuntimeError("cudaErrorNoDevice"), r"CuPy is installed but no GPU is visible \(the CUDA "
                                        r"runtime reported: cudaErrorNoDevice\)"),
])
def test_use_cupy_without_a_gpu_says_no_gpu_is_visible(fresh_backend, monkeypatch, count, match):
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(count))
    with pytest.raises(BackendError, match=match):
        backend.use("cupy")
    assert backend.current() == "numpy"
    assert backend.gpu_available() is False
    with pytest.raises(BackendError, match="no GPU is visible"):
        Tensor([1.0]).to("gpu")


def test_use_cupy_with_a_visible_gpu_switches_the_default(fresh_backend, monkeypatch):
    fake = _fake_cupy(1)
    monkeypatch.setitem(sys.modules, "cupy", fake)
    assert backend.gpu_available() is True
    backend.use("cupy")
    assert backend.current() == "cupy"
    assert backend.get_array_module() is fake        # arrays made from nothing go to the GPU
    assert backend.get_array_module(np.zeros(2)) is np   # existing arrays keep their library


def test_backend_error_is_a_runtime_error_and_mismatch_a_value_error():
    assert issubclass(BackendError, RuntimeError)
    assert issubclass(DeviceMismatchError, ValueError)


@pytest.mark.parametrize("value, expected", [("numpy", "numpy"), (" NumPy ", "numpy"),
                                             ("", "numpy"), ("cupy", "cupy")])
def test_minicv_backend_environment_variable_is_read_at_import(value, expected):
    # "cupy" is only checked when first used, so importing minicv never fails for it.
    env = dict(os.environ, MINICV_BACKEND=value, PYTHONPATH=REPO)
    out = subprocess.run([sys.executable, "-c", "import minicv; print(minicv.backend.current())"],
                         env=env, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == expected


def test_minicv_backend_bogus_fails_at_import():
    env = dict(os.environ, MINICV_BACKEND="bogus", PYTHONPATH=REPO)
    out = subprocess.run([sys.executable, "-c", "import minicv"], env=env, capture_output=True,
                         text=True, cwd=REPO, timeout=120)
    assert out.returncode != 0
    assert "ValueError: MINICV_BACKEND must be one of ('numpy', 'cupy'), got 'bogus'" in out.stderr


@pytest.mark.skipif(cupy_is_importable(), reason="CuPy is installed here")
def test_minicv_backend_cupy_without_cupy_fails_on_first_use():
    env = dict(os.environ, MINICV_BACKEND="cupy", PYTHONPATH=REPO)
    code = "import minicv; minicv.Tensor([1.0])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert out.returncode != 0
    assert "BackendError: CuPy is not installed" in out.stderr


def test_no_module_but_backend_imports_cupy():
    offenders = []
    for root, _, files in os.walk(os.path.join(REPO, "minicv")):
        for name in files:
            path = os.path.join(root, name)
            if not name.endswith(".py") or path.endswith(os.path.join("minicv", "backend.py")):
                continue
            with open(path, encoding="utf-8") as f:
                for line in f:
                    words = line.split("#")[0].split()
                    if words[:2] in (["import", "cupy"], ["from", "cupy"]) or (
                            words[:1] in (["import"], ["from"]) and len(words) > 1
                            and words[1].startswith(("cupy.", "cupyx"))):
                        offenders.append(f"{os.path.relpath(path, REPO)}: {line.strip()}")
    assert offenders == []


# ---------------------------------------------------------------------------------------------
# Devices and device mismatches
# ---------------------------------------------------------------------------------------------
def test_fake_gpu_array_is_seen_as_a_cupy_array():
    fake = FakeGpuArray((3,))
    assert backend.is_array(fake) and backend.device_of(fake) == "gpu"
    assert backend.device_of(np.zeros(3)) == "cpu" and backend.device_of(2.0) == "cpu"
    assert not backend.is_array([1.0]) and not backend.is_array(2.0)


def test_device_mismatch_names_both_devices_and_the_op():
    with pytest.raises(DeviceMismatchError,
                       match=r"conv2d: inputs live on different devices \(cpu and gpu\): "
                             r"cpu \(2, 3\), gpu \(4,\)"):
        backend.get_array_module(np.zeros((2, 3)), FakeGpuArray((4,)), op="conv2d")
    with pytest.raises(DeviceMismatchError, match=r"^inputs live on different devices"):
        backend.get_array_module(FakeGpuArray((4,)), np.zeros(1))


def test_device_mismatch_through_function_apply():
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    gpu = FakeGpuArray((3,))
    with pytest.raises(DeviceMismatchError, match=r"Add: inputs live on different devices "
                                                  r"\(cpu and gpu\): cpu \(3,\), gpu \(3,\)"):
        F.add(x, gpu)
    with pytest.raises(DeviceMismatchError, match=r"Mul: .*\(cpu and gpu\)"):
        x * Tensor(gpu)
    with pytest.raises(DeviceMismatchError, match=r"Sub: .*gpu \(3,\), cpu \(3,\)"):
        F.sub(Tensor(gpu), np.ones(3))


def test_device_mismatch_in_backward_grad():
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = x * 2
    with pytest.raises(DeviceMismatchError, match=r"backward: inputs live on different devices"):
        y.backward(FakeGpuArray((3,)))


def test_to_cpu_passes_numpy_through_and_converts_scalars():
    a = np.arange(3.0)
    assert backend.to_cpu(a) is a
    assert isinstance(backend.to_cpu(2.5), np.ndarray) and backend.to_cpu(2.5) == 2.5


# ---------------------------------------------------------------------------------------------
# sum_to: the backward of broadcasting
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("g_shape, shape", [
    ((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 3), (1, 3)), ((2, 3), (2, 1)), ((2, 3), ()),
    ((2, 3), (1, 1)), ((4, 2, 3), (2, 1)), ((4, 1, 3), (1, 1, 3)), ((5, 4, 2, 3), (4, 1, 1)),
    ((0, 3), (1, 3)), ((2, 0), (2, 1)),
])
def test_sum_to_known_shapes(g_shape, shape):
    g = np.random.default_rng(0).standard_normal(g_shape)
    out = backend.sum_to(g, shape)
    assert out.shape == shape
    # reference: sum every element of g into the cell of x it was broadcast from
    ref = np.zeros(shape)
    lead = len(g_shape) - len(shape)
    for index in np.ndindex(*g_shape):
        src = tuple(0 if n == 1 else i for i, n in zip(index[lead:], shape))
        ref[src] += g[index]
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)


@st.composite
def _broadcast_pair(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=4)))
    stretched = tuple(draw(st.integers(1, 3)) if n == 1 else n for n in shape)
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    return lead + stretched, shape


@given(_broadcast_pair(), st.integers(0, 2**32 - 1))
def test_sum_to_is_the_adjoint_of_broadcasting(pair, seed):
    # <sum_to(g, shape), x> == <g, broadcast_to(x, g.shape)> for every x: sum_to is broadcast^T
    g_shape, shape = pair
    rng = np.random.default_rng(seed)
    g, x = rng.standard_normal(g_shape), rng.standard_normal(shape)
    out = backend.sum_to(g, shape)
    assert out.shape == shape
    np.testing.assert_allclose(np.sum(out * x), np.sum(g * np.broadcast_to(x, g_shape)),
                               rtol=1e-10, atol=1e-10)


def test_sum_to_keeps_dtype_and_returns_same_shape_unchanged():
    g = np.ones((3, 2), dtype=np.float32)
    assert backend.sum_to(g, (3, 2)) is g
    assert backend.sum_to(g, (2,)).dtype == np.float32


@pytest.mark.parametrize("g_shape, shape", [
    ((2, 3), (3, 2)),      # same size, not a broadcast: must not be silently reshaped
    ((6,), (2, 3)),        # fewer axes than the target
    ((2, 3), (2,)),        # trailing axes do not match
    ((2, 3), (4, 3)),
])
def test_sum_to_refuses_shapes_that_do_not_broadcast(g_shape, shape):
    with pytest.raises(ValueError, match="sum_to"):
        backend.sum_to(np.ones(g_shape), shape)


# ---------------------------------------------------------------------------------------------
# scatter_add: the deterministic backward of a gather
# ---------------------------------------------------------------------------------------------
def scatter_add_loop(target, indices, values):
    out = target.copy()
    for k, i in enumerate(indices.reshape(-1)):
        out[i] += values.reshape((indices.size,) + target.shape[1:])[k]
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scatter_add_with_repeated_indices_matches_a_loop_bit_for_bit(dtype):
    rng = np.random.default_rng(1)
    indices = rng.integers(0, 5, 2000)                      # every row hit hundreds of times
    values = rng.standard_normal((2000, 3)).astype(dtype)
    target = rng.standard_normal((5, 3)).astype(dtype)
    expected = scatter_add_loop(target, indices, values)
    out = backend.scatter_add(target.copy(), indices, values)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expected)            # same additions in the same order


def test_scatter_add_is_bit_identical_across_runs():
    rng = np.random.default_rng(2)
    indices = rng.integers(0, 7, 5000)
    values = (rng.standard_normal(5000) * 10.0 ** rng.integers(-6, 6, 5000)).astype(np.float32)
    runs = [backend.scatter_add(np.zeros(7, np.float32), indices, values) for _ in range(3)]
    for run in runs[1:]:
        assert run.tobytes() == runs[0].tobytes()


def test_scatter_add_is_in_place_and_handles_shapes():
    target = np.zeros((4, 2))
    indices = np.array([[3, 0], [3, 3]])                   # any index shape: flattened
    values = np.arange(8.0).reshape(2, 2, 2)               # (K, 2) once flattened
    out = backend.scatter_add(target, indices, values)
    assert out is target
    np.testing.assert_array_equal(out, [[2, 3], [0, 0], [0, 0], [0 + 4 + 6, 1 + 5 + 7]])


def test_scatter_add_empty_and_out_of_range():
    target = np.ones(3)
    backend.scatter_add(target, np.zeros(0, dtype=np.int64), np.zeros(0))
    np.testing.assert_array_equal(target, np.ones(3))
    with pytest.raises(IndexError):
        backend.scatter_add(np.zeros(3), np.array([3]), np.ones(1))


@pytest.mark.parametrize("indices", [np.array([0, 3]), np.array([-1, 0])])
def test_scatter_add_refuses_indices_outside_the_target(indices):
    # a negative index would silently wrap on NumPy and mean nothing to the CuPy product
    with pytest.raises(IndexError, match=r"scatter_add: .*\[0, 3\)"):
        backend.scatter_add(np.zeros((3, 2)), indices, np.ones((2, 2)))


@pytest.mark.parametrize("values_shape", [(2, 3), (6,), (3, 2, 1)])
def test_scatter_add_refuses_values_of_the_wrong_shape(values_shape):
    # values must be indices.shape + target.shape[1:] = (3, 2): never silently reshaped
    with pytest.raises(ValueError, match=r"scatter_add: values have shape "
                                         + re.escape(str(values_shape))):
        backend.scatter_add(np.zeros((4, 2)), np.array([0, 1, 2]), np.ones(values_shape))


def test_scatter_add_refuses_mixed_devices():
    with pytest.raises(DeviceMismatchError, match=r"scatter_add: .*\(cpu and gpu\)"):
        backend.scatter_add(np.zeros(3), np.array([0]), FakeGpuArray((1,)))


def test_scatter_add_on_each_backend(xp):
    rng = np.random.default_rng(3)
    indices_np = rng.integers(0, 6, 300)
    values_np = rng.standard_normal((300, 2)).astype(np.float32)
    expected = scatter_add_loop(np.zeros((6, 2), np.float32), indices_np, values_np)
    runs = []
    for _ in range(2):
        out = backend.scatter_add(xp.zeros((6, 2), dtype=xp.float32), xp.asarray(indices_np),
                                  xp.asarray(values_np))
        assert backend.get_array_module(out) is xp and out.dtype == np.float32
        runs.append(backend.to_cpu(out))
    assert runs[0].tobytes() == runs[1].tobytes()           # deterministic on both backends
    np.testing.assert_allclose(runs[0], expected, rtol=1e-5, atol=1e-5)


def test_sum_to_on_each_backend(xp):
    g = xp.asarray(np.arange(24.0).reshape(2, 3, 4))
    out = backend.sum_to(g, (3, 1))
    assert backend.get_array_module(out) is xp
    np.testing.assert_allclose(backend.to_cpu(out),
                               np.arange(24.0).reshape(2, 3, 4).sum(axis=(0, 2))[:, None])


GLIBC = __import__("platform").libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's; elsewhere keep_freed_memory is a no-op")
def test_keep_freed_memory_stops_the_page_faults_of_repeated_big_buffers():
    # in a fresh process: the setting is process-wide and permanent
    code = ("import resource, numpy as np\n"
            "from minicv import backend\n"
            "print(backend.keep_freed_memory())\n"
            "def work():\n"
            "    for _ in range(20):\n"
            "        a = np.ones(2**22, np.float32); b = a * 2; del a, b\n"
            "work()\n"
            "f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
            "work()\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0] == "True"
    assert int(out[1]) < 500          # 40 buffers of 16 MiB: ~160,000 faults if each were fresh


def test_keep_freed_memory_is_a_no_op_without_glibc(monkeypatch):
    import platform
    monkeypatch.setattr(platform, "libc_ver", lambda: ("", ""))
    assert backend.keep_freed_memory() is False
