"""`minicv bench`: the suite registry, the table it prints, the timing and memory helpers.

No timing is asserted (timings live in benchmarks/RESULTS.md); these tests check that every
suite runs on tiny shapes and that the table holds what the columns promise. They pass with and
without PyTorch installed: the torch columns are compared with whether it can be imported.
"""
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from minicv import Tensor, backend, bench
from minicv.bench import timing
from minicv.cli import main

ROOT = Path(__file__).resolve().parents[1]
TORCH_COLUMNS = ["torch fwd ms", "torch fwd+bwd ms", "ratio fwd", "ratio fwd+bwd"]
FLOP_COLUMNS = ["fwd GFLOP/s", "fwd+bwd GFLOP/s"]


def have_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def parse(out):
    """(header line, column names, rows as dicts of cell strings) of a printed report."""
    lines = out.strip().splitlines()
    header, blank, table = lines[0], lines[1], lines[2:]
    assert blank == ""

    def cells(line):
        assert line.startswith("|") and line.endswith("|"), line
        return [c.strip() for c in line[1:-1].split("|")]
    columns = cells(table[0])
    assert set(table[1]) <= {"|", "-"}
    rows = [dict(zip(columns, cells(line))) for line in table[2:]]
    assert all(len(cells(line)) == len(columns) for line in table[2:])
    return header, columns, rows


def assert_positive(row, columns):
    for column in columns:
        assert float(row[column]) > 0, (row["op"], column, row[column])


CORE_OPS = ["chain of 100 muls", "MLP 32-24-10 + cross_entropy", "cross_entropy ignore_index=255",
            "softmax axis=1", "BatchNorm2d train"]
LAYER_OPS = ["conv2d 3x3 s1 p1 -> 8", "conv2d 3x3 s2 p1 -> 8", "conv2d 3x3 s1 p1 groups=4 -> 8",
             "conv2d 3x3 s1 p1 groups=8 (depthwise) -> 8", "conv_transpose2d 4x4 s2 p1 -> 8",
             "max_pool2d 2x2 s2 + indices", "max_unpool2d 2x2 s2", "interpolate bilinear x2"]
FLOP_OPS = {"MLP 32-24-10 + cross_entropy"} | {op for op in LAYER_OPS if op.startswith("conv")}


@pytest.mark.parametrize("suite, ops", [("core", CORE_OPS), ("layers", LAYER_OPS)])
def test_suite_prints_a_table_with_every_case(suite, ops, capsys):
    status = main(["bench", suite, "--size", "small", "--repeat", "1", "--warmup", "1"])
    out, err = capsys.readouterr()
    assert status == 0, err
    header, columns, rows = parse(out)
    assert header.startswith(f"minicv 0.1.0 bench {suite} (size small, median of 1 after 1 ")
    assert "backend numpy" in header and "threads" in header and "CPU" in header
    assert columns == list(bench.COLUMNS)
    assert [r["op"] for r in rows] == ops
    for row in rows:
        assert row["shape"].startswith("(") and row["shape"].endswith(")")
        assert_positive(row, ["fwd ms", "fwd+bwd ms", "peak MiB"])
        if row["op"] in FLOP_OPS:
            assert_positive(row, FLOP_COLUMNS)
        else:
            assert [row[c] for c in FLOP_COLUMNS] == ["-", "-"]
        if have_torch():
            assert_positive(row, TORCH_COLUMNS)
        else:
            assert [row[c] for c in TORCH_COLUMNS] == ["-"] * 4
    assert ("PyTorch 2" in header) == have_torch()
    progress = [line.split(": ", 1)[1] for line in err.splitlines()
                if line.startswith(f"minicv bench {suite}: ")]
    assert progress == ops                   # each case announced on stderr as it starts


def test_torch_columns_are_dashes_when_torch_is_hidden(monkeypatch, capsys):
    monkeypatch.setattr(timing, "find_torch", lambda: None)
    assert main(["bench", "core", "--size", "small", "--repeat", "1", "--warmup", "0"]) == 0
    header, _, rows = parse(capsys.readouterr().out)
    assert header.endswith("| PyTorch not installed (no comparison)")
    assert len(rows) == len(CORE_OPS)
    for row in rows:
        assert [row[c] for c in TORCH_COLUMNS] == ["-"] * 4
        assert_positive(row, ["fwd ms", "fwd+bwd ms"])


def test_no_torch_flag_skips_the_comparison(monkeypatch, capsys):
    def must_not_be_called():
        raise AssertionError("--no-torch looked for PyTorch")
    monkeypatch.setattr(timing, "find_torch", must_not_be_called)
    assert main(["bench", "core", "--size", "small", "--repeat", "1", "--no-torch"]) == 0
    header, _, rows = parse(capsys.readouterr().out)
    assert header.endswith("| PyTorch comparison off")
    assert all(row["ratio fwd+bwd"] == "-" for row in rows)


@pytest.mark.parametrize("argv, message", [
    (["nope"], "minicv bench: unknown suite 'nope'; known: core, layers"),
    ([], "minicv bench: name a suite: core, layers"),
    (["core", "--repeat", "0"], "--repeat must be at least 1 and --warmup at least 0, got 0 and 2"),
    (["core", "--warmup", "-1"], "--repeat must be at least 1 and --warmup at least 0, got 10"),
])
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys):
    assert main(["bench", *argv]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


@pytest.mark.skipif(backend.gpu_available(), reason="a GPU is visible: cupy works here")
def test_cupy_without_a_gpu_is_a_clear_error(capsys):
    assert main(["bench", "layers", "--backend", "cupy", "--size", "small"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("minicv bench: CuPy ")
    assert "not installed" in captured.err or "no GPU is visible" in captured.err
    assert captured.out == ""
    assert backend.current() == "numpy"      # the failed switch left the default alone


@pytest.mark.gpu
@pytest.mark.parametrize("suite", ["core", "layers"])
def test_suites_run_on_cupy(suite, capsys):
    if not backend.gpu_available():
        pytest.skip("CuPy backend: no usable GPU here (CuPy missing or no device visible)")
    assert main(["bench", suite, "--backend", "cupy", "--size", "small", "--repeat", "1"]) == 0
    header, _, rows = parse(capsys.readouterr().out)
    assert "backend cupy" in header and "GPU" in header
    for row in rows:
        assert_positive(row, ["fwd ms", "fwd+bwd ms"])
    assert backend.current() == "numpy"      # restored after the run


def test_list_names_every_suite(capsys):
    assert main(["bench", "--list"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == sorted(bench.SUITES) and {"core", "layers"} <= set(names)


# ---------------------------------------------------------------------------------------------
# The registry and one measurement, through the Python API
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def toy_suite():
    """A suite registered by one decorator, removed again afterwards."""
    name, flops, made = "test-toy", 1e6, {}

    @bench.suite(name, "a toy suite")
    def toy(ctx):
        x, x_torch = made["leaves"] = ctx.leaf(ctx.randn(2, 3))
        yield bench.Case("double", ctx.shape(x), lambda: x * 2.0,
                         ctx.torch and (lambda: x_torch * 2.0), flops=flops,
                         leaves=[x], torch_leaves=[x_torch])
    yield name, made, flops
    del bench.SUITES[name]


def test_a_registered_suite_runs_from_the_command_line(toy_suite, capsys):
    name, _, _ = toy_suite
    assert main(["bench", name, "--size", "small", "--repeat", "1", "--no-torch"]) == 0
    _, _, rows = parse(capsys.readouterr().out)
    assert [(r["op"], r["shape"]) for r in rows] == [("double", "(2, 3)")]


def test_measure_uses_a_fixed_upstream_gradient_and_counts_flops(toy_suite):
    name, made, flops = toy_suite
    report = bench.run(name, size="small", repeat=2, warmup=1)
    (row,) = report.rows
    assert row["fwd GFLOP/s"] == pytest.approx(flops / row["fwd ms"] / 1e6)
    assert row["fwd+bwd GFLOP/s"] == pytest.approx(3 * flops / row["fwd+bwd ms"] / 1e6)
    # leaves are cleared before each forward+backward, so the last one leaves dL/dx = 2 g
    g = np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32)
    x, x_torch = made["leaves"]
    np.testing.assert_allclose(x.grad, 2 * g, rtol=1e-6)
    if x_torch is not None:                   # PyTorch got the same upstream gradient
        np.testing.assert_allclose(x_torch.grad.numpy(), 2 * g, rtol=1e-6)
        assert row["ratio fwd"] == pytest.approx(row["fwd ms"] / row["torch fwd ms"])
    assert report.markdown().startswith(report.header + "\n\n| op ")


def test_run_refuses_bad_arguments():
    with pytest.raises(ValueError, match="bench: unknown suite 'nope'; known: core, layers"):
        bench.run("nope")
    with pytest.raises(ValueError, match="bench: size must be one of"):
        bench.run("core", size="huge")
    with pytest.raises(ValueError, match="repeat must be at least 1"):
        bench.run("core", repeat=0)


# ---------------------------------------------------------------------------------------------
# Timing and memory helpers
# ---------------------------------------------------------------------------------------------
def test_time_ms_warms_up_then_synchronises_around_every_timed_call():
    events = []
    median = timing.time_ms(lambda: events.append("call"), repeat=3, warmup=2,
                            sync=lambda: events.append("sync"))
    assert events == ["call"] * 2 + ["sync", "call", "sync"] * 3
    assert median >= 0


def test_peak_mib_sees_a_temporary_numpy_buffer():
    def make_and_drop():
        a = np.ones(3 * 2**20, dtype=np.uint8)   # 3 MiB, freed when the function returns
        return a.sum()
    keep = np.ones(2**20, dtype=np.uint8)       # allocated before: not counted
    assert 3.0 <= timing.peak_mib(make_and_drop) < 3.2
    assert not tracemalloc.is_tracing()          # left as it was found
    assert keep.size == 2**20


def test_peak_mib_counts_what_a_backward_allocates():
    x = Tensor(np.ones((256, 1024), np.float32), requires_grad=True)   # 1 MiB
    mib = timing.peak_mib(lambda: (x * 3.0).sum().backward())
    assert mib >= 2.0        # at least the product and the gradient, 1 MiB each


def test_format_table_fills_missing_cells_and_rounds():
    table = timing.format_table([{"op": "a", "ms": 12.3456}, {"op": "bb", "ms": 12345.6}],
                                ["op", "ms", "torch ms"])
    assert table.splitlines() == ["| op | ms    | torch ms |",
                                  "|----|-------|----------|",
                                  "| a  | 12.3  | -        |",
                                  "| bb | 12346 | -        |"]
    assert timing.format_table([], ["op"]).splitlines() == ["| op |", "|----|"]


def test_importing_the_package_does_not_import_torch():
    code = ("import sys, minicv, minicv.cli, minicv.bench, minicv.bench.cli; "
            "minicv.cli.build_parser(); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "False"


def test_benchmark_script_is_the_command():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "core.py"), "--size", "small",
                          "--repeat", "1", "--warmup", "0", "--no-torch"],
                         capture_output=True, text=True, check=True).stdout
    header, columns, rows = parse(out)
    assert header.startswith("minicv 0.1.0 bench core (size small")
    assert [r["op"] for r in rows] == CORE_OPS



# ---------------------------------------------------------------------------------------------
# One process per library (--isolate)
# ---------------------------------------------------------------------------------------------
def test_isolate_times_each_library_in_its_own_process(capsys):
    status = main(["bench", "core", "--size", "small", "--repeat", "1", "--warmup", "0",
                   "--isolate"])
    out, err = capsys.readouterr()
    assert status == 0, err
    header, columns, rows = parse(out)
    assert columns == list(bench.COLUMNS) and [r["op"] for r in rows] == CORE_OPS
    for row in rows:
        assert_positive(row, ["fwd ms", "fwd+bwd ms", "peak MiB"])
        if have_torch():
            assert_positive(row, TORCH_COLUMNS)
            assert float(row["ratio fwd"]) == pytest.approx(
                float(row["fwd ms"]) / float(row["torch fwd ms"]), rel=0.01)
        else:
            assert [row[c] for c in TORCH_COLUMNS] == ["-"] * 4
    assert header.endswith("(each library in its own process)") == have_torch()
    assert header.startswith("minicv 0.1.0 bench core (size small, median of 1 after 0 ")


def test_the_minicv_side_never_imports_torch():
    code = ("import sys; from minicv import bench; "
            "r = bench.run('core', size='small', repeat=1, warmup=0, side='minicv'); "
            "print('torch' in sys.modules, r.torch_words, sorted(r.rows[0])[-1])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "False PyTorch comparison off shape"


def test_json_report_round_trips(capsys):
    assert main(["bench", "core", "--size", "small", "--repeat", "1", "--warmup", "0",
                 "--no-torch", "--json"]) == 0
    report = bench.Report.from_json(capsys.readouterr().out)
    assert [r["op"] for r in report.rows] == CORE_OPS
    assert report.torch_words == "PyTorch comparison off"
    assert report.header.endswith("| PyTorch comparison off")
    assert bench.Report.from_json(report.to_json()) == report


def test_side_torch_times_only_the_twins():
    report = bench.run("core", size="small", repeat=1, warmup=0, side="torch")
    assert [r["op"] for r in report.rows] == CORE_OPS
    assert all("fwd ms" not in r for r in report.rows)
    assert all(("torch fwd ms" in r) == have_torch() for r in report.rows)
    with pytest.raises(ValueError, match=r"bench: side must be one of \('both', 'minicv', "
                                         r"'torch'\), got 'gpu'"):
        bench.run("core", size="small", side="gpu")


def test_isolate_with_one_side_is_refused(capsys):
    assert main(["bench", "core", "--isolate", "--side", "torch"]) == 2
    assert "minicv bench: --isolate times both sides, it cannot be combined with --side torch" \
        in capsys.readouterr().err
