"""minicv.viz and the pages its figures illustrate (docs/conv.md, docs/pooling.md).

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

from minicv import viz

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
    assert all(ax.images for ax in fig.axes)           # every panel shows an array


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


@pytest.mark.parametrize("page", ["pooling.md", "conv.md"])
def test_the_pages_doctest_examples_print_what_they_show(page):
    result = doctest.testfile(str(ROOT / "docs" / page), module_relative=False,
                              optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, result
