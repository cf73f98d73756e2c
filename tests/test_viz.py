"""minicv.viz and the pages its figures illustrate (docs/conv.md, docs/pooling.md, docs/roi.md).

The figure functions run into tmp_path when matplotlib (the optional ``plot`` extra) is
installed and are skipped with a reason otherwise; the committed PNGs must exist and stay small;
the doctest-style examples of the two pages must print what they show.
"""
import doctest
import importlib.util
import pathlib
import sys

import numpy as np
import pytest

import minicv.functional as F
from minicv import Tensor, viz

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "figures"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_BYTES = 150 * 1024


def _need_matplotlib():
    pytest.importorskip("matplotlib", reason="minicv.viz draws with matplotlib, the optional "
                                             "'plot' extra (pip install minicv[plot])")


@pytest.mark.parametrize("name", sorted(viz.DOC_FIGURES))
def test_each_docs_figure_draws_a_small_png(name, tmp_path):
    _need_matplotlib()
    fig = viz.DOC_FIGURES[name](tmp_path / name)
    data = (tmp_path / name).read_bytes()
    assert data.startswith(PNG_SIGNATURE) and 5_000 < len(data) < MAX_BYTES
    assert all(ax.images or ax.lines for ax in fig.axes)   # every panel shows an array or a plot


def test_pooling_figure_shows_the_values_the_switches_point_at():
    _need_matplotlib()
    fig = viz.pooling_switches_figure()
    inputs, pooled, switches, unpooled = fig.axes
    np.testing.assert_array_equal(inputs.images[0].get_array(), viz.POOLING_EXAMPLE)
    np.testing.assert_array_equal(pooled.images[0].get_array(), [[8, 6], [7, 9]])
    assert [t.get_text() for t in switches.texts] == ["1\n(0, 1)", "6\n(1, 2)", "12\n(3, 0)",
                                                      "10\n(2, 2)"]
    expected = np.zeros((4, 4))
    expected[[0, 1, 2, 3], [1, 2, 2, 0]] = [8, 6, 9, 7]
    np.testing.assert_array_equal(unpooled.images[0].get_array(), expected)
    assert len(inputs.patches) == 4                      # one box around each window's winner


def test_checkerboard_figure_random_weights_stripe_a_constant_and_bilinear_does_not():
    _need_matplotlib()
    fig = viz.checkerboard_figure(size=8)
    assert len(fig.axes) == 9
    constant_random = np.asarray(fig.axes[4].images[0].get_array())
    constant_bilinear = np.asarray(fig.axes[5].images[0].get_array())
    assert constant_random.shape == constant_bilinear.shape == (16, 16)
    inner = (slice(1, -1), slice(1, -1))
    # random taps: the four output phases sum different weights -> a period-2 pattern
    phases = [constant_random[inner][i::2, j::2] for i in (0, 1) for j in (0, 1)]
    assert all(np.allclose(p, p.flat[0]) for p in phases)
    assert np.ptp([p.flat[0] for p in phases]) > 1e-3
    # bilinear taps sum to 1 in every phase: a flat interior
    np.testing.assert_allclose(constant_bilinear[inner], 1.0, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(viz.DOC_FIGURES))
def test_committed_figures_exist_and_are_small(name):
    data = (FIGURES / name).read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) < MAX_BYTES
    assert f"figures/{name}" in "".join(p.read_text() for p in (ROOT / "docs").glob("*.md"))


def test_make_figures_script_writes_every_figure(tmp_path):
    _need_matplotlib()
    spec = importlib.util.spec_from_file_location("make_figures", ROOT / "docs" / "make_figures.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(viz.DOC_FIGURES)


def test_a_missing_matplotlib_is_explained(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)     # import now fails
    with pytest.raises(ImportError, match=r"pip install 'minicv\[plot\]'"):
        viz.pooling_switches_figure()


@pytest.mark.parametrize("page", ["pooling.md", "conv.md", "roi.md"])
def test_the_pages_doctest_examples_print_what_they_show(page):
    result = doctest.testfile(str(ROOT / "docs" / page), module_relative=False,
                              optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, result


# ---------------------------------------------------------------------------------------------
# roi_figure (docs/roi.md): what it draws must be what the ops compute
# ---------------------------------------------------------------------------------------------
def _dots(ax):
    """(y, x) of the on-map sample points: the first scatter of the RoIAlign panel."""
    x, y = np.asarray(ax.collections[0].get_offsets()).T
    return y, x


def test_roi_figure_shades_the_cells_roi_pooling_reads():
    _need_matplotlib()
    fig = viz.roi_figure()        # ROI_EXAMPLE at 1/16 on 10x10, 3x3 bins: worked out by hand
    pool_panel, _ = fig.axes
    # x: 1.375..7.8125 rounds to cells 1..8, 8 cells, bin 8/3 -> [1, 4), [3, 7), [6, 9)
    # y: 1.8125..6.625 rounds to cells 2..7, 6 cells, bin 2  -> [2, 4), [4, 6), [6, 8)
    cols = np.array([0, 1, 1, 2, 1, 1, 2, 1, 1, 0])
    rows = np.array([0, 0, 1, 1, 1, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(pool_panel.images[0].get_array(), np.outer(rows, cols))
    assert len(pool_panel.patches) == 3 * 3 + 1 + 1      # bins, the rounded RoI, the true box


def test_roi_figure_cells_hold_every_roi_pool_maximum():
    _need_matplotlib()
    box, size = (5.0, 40.0, 150.0, 93.0), (9, 12)
    fig = viz.roi_figure(box=box, feature_size=size, output_size=(2, 4))
    count = np.asarray(fig.axes[0].images[0].get_array())
    # roi_pool's gradient marks the cell each bin took its maximum from: all must be shaded
    rng = np.random.default_rng(0)
    x = Tensor(rng.permutation(size[0] * size[1]).reshape(1, 1, *size).astype(np.float64),
               requires_grad=True)
    F.roi_pool(x, np.array([[0.0, *box]]), (2, 4), spatial_scale=1 / 16).sum().backward()
    read = np.asarray(x.grad)[0, 0] > 0
    assert read.sum() >= 4 and (count[read] > 0).all()
    # on an increasing ramp every bin's maximum is its bottom-right cell: the shaded block's corner
    ramp = Tensor(np.arange(size[0] * size[1], dtype=np.float64).reshape(1, 1, *size),
                  requires_grad=True)
    F.roi_pool(ramp, np.array([[0.0, *box]]), (2, 4), spatial_scale=1 / 16).sum().backward()
    r, c = np.nonzero(np.asarray(ramp.grad)[0, 0])
    shaded_r, shaded_c = np.nonzero(count)
    assert r.max() == shaded_r.max() and c.max() == shaded_c.max()


@pytest.mark.parametrize("aligned", [True, False])
@pytest.mark.parametrize("sampling_ratio", [2, -1])
def test_roi_figure_dots_are_the_points_roi_align_samples(aligned, sampling_ratio):
    _need_matplotlib()
    box, size, out = (30.0, 20.0, 118.0, 133.0), (11, 10), (3, 2)
    fig = viz.roi_figure(box=box, feature_size=size, output_size=out,
                         sampling_ratio=sampling_ratio, aligned=aligned)
    ys, xs = _dots(fig.axes[1])
    # bilinear interpolation of a linear ramp is exact: roi_align of the map f[h, w] = w (or h)
    # is each bin's mean sample x (or y) -- the box lies inside the map, no sample is clamped
    grid_y = 2 if sampling_ratio > 0 else int(np.ceil((133 - 20) / 16 / 3))
    grid_x = 2 if sampling_ratio > 0 else int(np.ceil((118 - 30) / 16 / 2))
    assert len(xs) == out[0] * grid_y * out[1] * grid_x
    rois = np.array([[0.0, *box]])
    h_ramp, w_ramp = np.meshgrid(np.arange(size[0]), np.arange(size[1]), indexing="ij")
    for ramp, dots in ((w_ramp, xs), (h_ramp, ys)):
        expected = F.roi_align(ramp.reshape(1, 1, *size).astype(np.float64), rois, out,
                               spatial_scale=1 / 16, sampling_ratio=sampling_ratio,
                               aligned=aligned).numpy()[0, 0]
        per_bin = dots.reshape(out[0], grid_y, out[1], grid_x).mean(axis=(1, 3))
        np.testing.assert_allclose(per_bin, expected, atol=1e-9)
    # the shade is roi_align's weight on each cell: one bin's weights sum to 1
    weights = np.asarray(fig.axes[1].images[0].get_array())
    assert weights.shape == size
    np.testing.assert_allclose(weights.sum(), out[0] * out[1])


def test_roi_figure_marks_samples_off_the_map():
    _need_matplotlib()
    fig = viz.roi_figure(box=(-60.0, 10.0, 60.0, 70.0), feature_size=6, output_size=2,
                         sampling_ratio=2, aligned=True)
    on_map, off_map = fig.axes[1].collections
    x_off = np.asarray(off_map.get_offsets())[:, 0]
    assert len(x_off) > 0 and (x_off < -1).all()           # more than a cell left of the map
    assert (np.asarray(on_map.get_offsets())[:, 0] >= -1).all()


@pytest.mark.parametrize("kwargs, message", [
    ({"box": (1.0, 2.0, 3.0)},
     r"roi_figure: box must be 4 finite numbers \(x1, y1, x2, y2\), got \(1.0, 2.0, 3.0\)"),
    ({"box": (0.0, 0.0, np.nan, 4.0)}, "roi_figure: box must be 4 finite numbers"),
    ({"feature_size": 0},
     "roi_figure: feature_size must be a positive int or a pair of them, got 0"),
    ({"output_size": (2, 3, 4)},
     r"roi_figure: output_size must be a positive int or a pair of them, got \(2, 3, 4\)"),
])
def test_roi_figure_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        viz.roi_figure(**kwargs)
