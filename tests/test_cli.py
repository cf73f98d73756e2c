"""The `minicv` command: subcommand registry and `minicv gradcheck`."""
import subprocess
import sys

import pytest

from minicv import Function, checks
from minicv.checks import Case, register
from minicv.cli import main
from minicv.testing import arrays


def test_gradcheck_command_prints_a_table_and_passes(capsys):
    status = main(["gradcheck", "add", "exp", "--examples", "3"])
    out = capsys.readouterr().out
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == ["op", "examples", "worst", "rel.", "error", "result"]
    assert lines[1].split()[0] == "add" and lines[1].split()[-1] == "pass"
    assert lines[2].split()[0] == "exp" and lines[2].split()[1] == "3"
    assert "2 passed, 0 failed" in out


class _WrongSquare(Function):
    """x^2 with the derivative off by a factor 1.5: the check must fail."""

    def forward(self, x):
        self.save(x=x)
        return x * x

    def backward(self, gy):
        return 3.0 * self.saved.x * gy


@pytest.fixture
def wrong_op():
    name = "test-wrong-square"

    @register(name)
    def _case(draw):
        return Case(_WrongSquare.apply, [draw(arrays(low=0.5, high=2.0))])

    yield name
    del checks.CASES[name]


def test_gradcheck_command_fails_on_a_wrong_backward(wrong_op, capsys):
    status = main(["gradcheck", wrong_op, "add", "--examples", "3"])
    out = capsys.readouterr().out
    assert status == 1
    row = next(line for line in out.splitlines() if line.startswith(wrong_op))
    assert row.split()[-1] == "FAIL"
    assert "gradcheck failed for input 0" in out and "analytic" in out and "numeric" in out
    assert "1 passed, 1 failed" in out


def test_unknown_op_is_refused(capsys):
    assert main(["gradcheck", "no-such-op"]) == 2
    assert "unknown op(s) no-such-op" in capsys.readouterr().err


def test_list_names_every_registered_op(capsys):
    assert main(["gradcheck", "--list"]) == 0
    assert capsys.readouterr().out.split() == sorted(checks.CASES)


def test_cupy_backend_without_gpu_is_a_clear_error(capsys):
    from minicv import backend
    if backend.gpu_available():
        pytest.skip("a GPU is visible: the error path cannot be reached")
    assert main(["gradcheck", "add", "--backend", "cupy"]) == 2
    assert "CuPy" in capsys.readouterr().err


def test_no_subcommand_prints_help(capsys):
    assert main([]) == 2
    assert "gradcheck" in capsys.readouterr().out


def test_python_dash_m_runs_the_command():
    done = subprocess.run([sys.executable, "-m", "minicv", "gradcheck", "neg", "--examples", "2"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "1 passed, 0 failed" in done.stdout
