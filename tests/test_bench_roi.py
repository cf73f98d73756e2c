"""`minicv bench roi` (issue 4) and the order in which `minicv.bench.run` takes its timings.

No timing is asserted. The suite runs on tiny shapes; torchvision, an optional comparison, is
hidden (its columns must read "-") or replaced by a stand-in built on PyTorch that records how it
was called (skipped when PyTorch is not installed).
"""
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from minicv import bench
from minicv.bench import roi as bench_roi
from minicv.bench import timing
from minicv.cli import main

TORCH_COLUMNS = ["torch fwd ms", "torch fwd+bwd ms", "ratio fwd", "ratio fwd+bwd"]
ROI_OPS = ["roi_align 7x7 sampling 2 aligned (32 rois, scale 1/16)",
           "roi_pool 7x7 (32 rois, scale 1/16)",
           "nms IoU 0.7 (200 boxes)"]


def parse(out):
    """(header line, rows as dicts of cell strings) of a printed report."""
    header, blank, columns_line, rule, *lines = out.strip().splitlines()
    assert blank == "" and set(rule) <= {"|", "-"}

    def cells(line):
        assert line.startswith("|") and line.endswith("|"), line
        return [c.strip() for c in line[1:-1].split("|")]
    columns = cells(columns_line)
    assert columns == list(bench.COLUMNS)
    return header, [dict(zip(columns, cells(line))) for line in lines]


def test_random_boxes_follow_the_stated_distribution():
    boxes = bench_roi.random_boxes(5000, 800, seed=1, min_size=16, max_size=400)
    assert boxes.shape == (5000, 4) and boxes.dtype == np.float32
    x1, y1, x2, y2 = boxes.T
    assert (x1 >= 0).all() and (y1 >= 0).all() and (x2 <= 800).all() and (y2 <= 800).all()
    width, height = x2 - x1, y2 - y1
    assert (width <= 400 + 1e-3).all() and (height <= 400 + 1e-3).all()
    unclipped = (x2 < 800) & (y2 < 800)
    assert unclipped.mean() > 0.3                       # most boxes end inside the image ...
    assert width[unclipped].min() >= 16 - 1e-3          # ... and those keep their drawn size
    assert height[unclipped].min() >= 16 - 1e-3
    assert 0.4 < np.median(x1) / 400 < 1.1              # x1 spread over the image
    np.testing.assert_array_equal(boxes, bench_roi.random_boxes(5000, 800, seed=1))
    assert not np.array_equal(boxes, bench_roi.random_boxes(5000, 800, seed=2))


def test_random_rois_prefix_a_batch_index():
    rois = bench_roi.random_rois(64, 3, 208, seed=1, min_size=4, max_size=104)
    assert rois.shape == (64, 5) and rois.dtype == np.float32
    assert set(np.unique(rois[:, 0])) == {0.0, 1.0, 2.0}
    np.testing.assert_array_equal(rois[:, 1:],
                                  bench_roi.random_boxes(64, 208, seed=1, min_size=4,
                                                         max_size=104))


def test_roi_suite_runs_small_without_torchvision(monkeypatch, capsys):
    monkeypatch.setattr(timing, "find_torchvision", lambda: None)
    status = main(["bench", "roi", "--size", "small", "--repeat", "1", "--warmup", "0"])
    out, err = capsys.readouterr()
    assert status == 0, err
    header, rows = parse(out)
    assert header.startswith("minicv 0.1.0 bench roi (size small, median of 1 after 0 ")
    assert "torchvision" not in header
    assert [r["op"] for r in rows] == ROI_OPS
    assert [r["shape"] for r in rows] == ["(2, 8, 13, 13)", "(2, 8, 13, 13)", "(200, 4)"]
    align, pool, nms = rows
    for row in (align, pool):
        assert float(row["fwd ms"]) > 0 and float(row["fwd+bwd ms"]) > 0
        assert float(row["peak MiB"]) > 0
    assert float(nms["fwd ms"]) > 0 and float(nms["peak MiB"]) > 0
    assert nms["fwd+bwd ms"] == "-"                     # nms has no backward
    for row in rows:
        assert [row[c] for c in TORCH_COLUMNS] == ["-"] * 4
        assert row["fwd GFLOP/s"] == row["fwd+bwd GFLOP/s"] == "-"
    progress = [line.split(": ", 1)[1] for line in err.splitlines()
                if line.startswith("minicv bench roi: ")]
    assert progress == ROI_OPS


def test_roi_suite_with_no_torch_never_looks_for_torchvision(monkeypatch, capsys):
    def must_not_be_called():
        raise AssertionError("--no-torch looked for torchvision")
    monkeypatch.setattr(timing, "find_torchvision", must_not_be_called)
    assert main(["bench", "roi", "--size", "small", "--repeat", "1", "--warmup", "0",
                 "--no-torch"]) == 0
    header, rows = parse(capsys.readouterr().out)
    assert header.endswith("| PyTorch comparison off")
    assert all(row["torch fwd ms"] == "-" for row in rows)


def test_benchmark_script_is_the_command():
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "roi.py"
    out = subprocess.run([sys.executable, str(script), "--size", "small", "--repeat", "1",
                          "--warmup", "0", "--no-torch"],
                         capture_output=True, text=True, check=True).stdout
    header, rows = parse(out)
    assert header.startswith("minicv 0.1.0 bench roi (size small")
    assert [r["op"] for r in rows] == ROI_OPS


# ---------------------------------------------------------------------------------------------
# With a torchvision stand-in (needs PyTorch): same data, same arguments, the columns filled
# ---------------------------------------------------------------------------------------------
class RecordingOps:
    """torchvision.ops' three functions, recording their arguments; outputs of the right shape."""

    def __init__(self, torch):
        self.torch, self.calls = torch, []

    def _pooled(self, name, x, rois, output_size, kwargs):
        self.calls.append((name, x.detach().numpy().copy(), rois.numpy().copy(), output_size,
                           kwargs))
        index = rois[:, 0].long()
        return x[index][:, :, :output_size, :output_size] * 2.0       # (K, C, PH, PW)

    def roi_align(self, x, rois, output_size, **kwargs):
        return self._pooled("roi_align", x, rois, output_size, kwargs)

    def roi_pool(self, x, rois, output_size, **kwargs):
        return self._pooled("roi_pool", x, rois, output_size, kwargs)

    def nms(self, boxes, scores, iou_threshold):
        self.calls.append(("nms", boxes.numpy().copy(), scores.numpy().copy(), iou_threshold))
        return self.torch.argsort(scores, descending=True)


def test_roi_suite_gives_torchvision_the_same_data_and_arguments(monkeypatch):
    torch = pytest.importorskip("torch", reason="the torchvision stand-in computes with PyTorch")
    ops = RecordingOps(torch)
    monkeypatch.setattr(timing, "find_torchvision",
                        lambda: types.SimpleNamespace(__version__="0.0-stand-in", ops=ops))
    report = bench.run("roi", size="small", repeat=1, warmup=0)
    assert "torchvision 0.0-stand-in" in report.header
    align, pool, nms = report.rows
    for row in (align, pool):
        for column in TORCH_COLUMNS:
            assert row[column] > 0, (row["op"], column)
    assert nms["torch fwd ms"] > 0 and nms["ratio fwd"] > 0
    assert "torch fwd+bwd ms" not in nms and "ratio fwd+bwd" not in nms

    rois = bench_roi.random_rois(32, 2, 208, seed=1, min_size=208 / 50, max_size=208 / 2)
    by_name = {call[0]: call for call in ops.calls}
    _, x, seen_rois, output_size, kwargs = by_name["roi_align"]
    assert x.shape == (2, 8, 13, 13) and output_size == 7
    np.testing.assert_array_equal(seen_rois, rois)
    assert kwargs == {"spatial_scale": 1 / 16, "sampling_ratio": 2, "aligned": True}
    _, _, seen_rois, output_size, kwargs = by_name["roi_pool"]
    np.testing.assert_array_equal(seen_rois, rois)
    assert output_size == 7 and kwargs == {"spatial_scale": 1 / 16}
    _, boxes, scores, threshold = by_name["nms"]
    np.testing.assert_array_equal(boxes, bench_roi.random_boxes(200, 208, seed=3, min_size=208 / 50,
                                                                max_size=104))
    assert scores.shape == (200,) and threshold == 0.7


# ---------------------------------------------------------------------------------------------
# run(): every minicv timing of a suite before every PyTorch timing
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def logging_suite():
    """Two cases whose forwards write "minicv i" / "torch i" into a log."""
    name, log = "test-order", []

    @bench.suite(name, "records the order of the calls")
    def order(ctx):
        for i in range(2):
            x, x_torch = ctx.leaf(ctx.randn(3))

            def forward(x=x, i=i):
                log.append(f"minicv {i}")
                return x * 2.0

            def torch_forward(x_torch=x_torch, i=i):
                log.append(f"torch {i}")
                return x_torch * 2.0
            yield bench.Case(f"double {i}", ctx.shape(x), forward,
                             ctx.torch and torch_forward, leaves=[x], torch_leaves=[x_torch])
    yield name, log
    del bench.SUITES[name]


def test_run_times_all_of_minicv_before_any_of_pytorch(logging_suite):
    pytest.importorskip("torch", reason="the order matters only when PyTorch is compared")
    name, log = logging_suite
    report = bench.run(name, size="small", repeat=2, warmup=1)
    first_torch = log.index("torch 0")
    assert set(log[:first_torch]) == {"minicv 0", "minicv 1"}
    assert set(log[first_torch:]) == {"torch 0", "torch 1"}
    assert log[first_torch:].index("torch 1") > log[first_torch:].index("torch 0")
    for row in report.rows:
        assert row["ratio fwd"] == pytest.approx(row["fwd ms"] / row["torch fwd ms"])
        assert row["ratio fwd+bwd"] == pytest.approx(row["fwd+bwd ms"] / row["torch fwd+bwd ms"])


def test_forward_only_case_has_no_backward_columns():
    case = bench.Case("forward only", "(3,)", lambda: np.ones(3, np.float32), backward=False)
    ctx = bench.Context(xp=np, size="small")
    assert bench.upstream_gradient(case) is None
    row = bench.measure(case, ctx, repeat=1, warmup=0)
    assert row["fwd ms"] > 0 and row["peak MiB"] > 0
    assert "fwd+bwd ms" not in row and "ratio fwd+bwd" not in row
