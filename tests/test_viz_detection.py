"""minicv.viz.detection: each drawing function draws exactly what it is given (inspected through
matplotlib's artists), the figures of docs/proposals.md, and the error messages.

Skipped with a reason when matplotlib (the optional ``plot`` extra) is not installed, except the
checks of the committed PNGs.
"""
import pathlib
import re

import numpy as np
import pytest

from minicv.proposals import proposal_recall
from minicv.viz import detection

ROOT = pathlib.Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_BYTES = 150 * 1024


@pytest.fixture
def matplotlib():
    return pytest.importorskip("matplotlib", reason="minicv.viz draws with matplotlib, the "
                                                    "optional 'plot' extra (pip install "
                                                    "minicv[plot])")


def image(height=30, width=40):
    return np.random.default_rng(0).integers(0, 256, (height, width, 3)).astype(np.uint8)


def rectangle_corners(patch):
    x, y = patch.get_xy()
    return [x, y, x + patch.get_width(), y + patch.get_height()]


def test_draw_boxes_draws_each_box_with_its_caption_and_class_colour(matplotlib):
    from matplotlib.colors import to_hex
    boxes = np.array([[1, 2, 11, 12], [20.5, 3, 39, 29]])
    fig = detection.draw_boxes(image(), boxes, labels=[1, 3], scores=[0.912, 0.5],
                               class_names=["background", "cat", "dog", "car"])
    (ax,) = fig.axes
    assert ax.images[0].get_extent() == [0, 40, 30, 0]              # pixel j covers [j, j + 1)
    np.testing.assert_array_equal(ax.images[0].get_array(), image())
    assert [rectangle_corners(p) for p in ax.patches] == boxes.tolist()
    assert [t.get_text() for t in ax.texts] == ["cat 0.91", "car 0.50"]
    assert [to_hex(p.get_edgecolor()) for p in ax.patches] == [detection.BOX_COLORS[1],
                                                               detection.BOX_COLORS[3]]


def test_draw_boxes_without_labels_and_into_a_given_axes(matplotlib):
    from minicv.viz._figure import new_figure
    fig = new_figure()
    ax = fig.add_subplot()
    assert detection.draw_boxes(image(), [[0, 0, 5, 5]], ax=ax, title="one") is fig
    assert len(ax.patches) == 1 and not ax.texts and ax.get_title() == "one"
    fig = detection.draw_boxes(image(), np.zeros((0, 4)), scores=np.zeros(0))
    assert not fig.axes[0].patches
    fig = detection.draw_boxes(image(), [[0, 0, 5, 5]], labels=[7])   # no names: the number
    assert fig.axes[0].texts[0].get_text() == "7"


def test_draw_masks_paints_one_translucent_layer_per_mask(matplotlib):
    from matplotlib.colors import to_rgb
    masks = np.zeros((2, 30, 40), dtype=bool)
    masks[0, :10, :10] = True
    masks[1, 5:, 20:] = True
    fig = detection.draw_masks(image(), masks, labels=[2, 4], alpha=0.4)
    layers = fig.axes[0].images
    assert len(layers) == 3
    for layer, mask, label in zip(layers[1:], masks, [2, 4]):
        rgba = np.asarray(layer.get_array())
        np.testing.assert_allclose(rgba[..., 3], 0.4 * mask, rtol=1e-6)
        np.testing.assert_allclose(rgba[0, 0, :3], to_rgb(detection.BOX_COLORS[label]))
    one = detection.draw_masks(image(), masks[0])                   # (H, W): one instance
    assert len(one.axes[0].images) == 2


def test_proposals_figure_shows_samples_truth_and_best_proposals(matplotlib):
    gt = np.array([[0, 0, 10, 10], [20, 10, 40, 30]])
    good = np.array([[30, 0, 40, 5], [0, 0, 10, 12], [20, 10, 40, 30], [1, 1, 9, 9]])
    poor = np.array([[0, 0, 40, 30], [5, 5, 15, 15]])
    segments = np.repeat(np.arange(4), 10)[None, :].repeat(30, 0)
    fig = detection.proposals_figure(image(), {"good": good, "poor": poor}, gt,
                                     segments=segments, num_shown=2)
    regions, good_ax, poor_ax = fig.axes
    assert regions.get_title() == "4 Felzenszwalb regions"
    assert good_ax.get_title() == "good: 4 boxes\nbest IoU >= 0.5 for 2 of 2 objects"
    assert poor_ax.get_title() == "poor: 2 boxes\nbest IoU >= 0.5 for 0 of 2 objects"
    # shown proposals (first num_shown), ground truth, then each object's best proposal
    assert [rectangle_corners(p) for p in good_ax.patches] == \
        good[:2].tolist() + gt.tolist() + [good[1].tolist(), good[2].tolist()]
    assert [t.get_text() for t in good_ax.texts] == ["IoU 0.83", "IoU 1.00"]
    assert [t.get_text() for t in poor_ax.texts] == ["IoU 0.14", "IoU 0.33"]


def test_recall_curve_figure_plots_each_curve_per_threshold(matplotlib):
    gt = [np.array([[0, 0, 10, 10]])]
    a = proposal_recall([np.array([[0, 0, 10, 14], [0, 0, 10, 10]])], gt, name="a")
    b = proposal_recall([np.array([[0, 0, 10, 30]])], gt, name="b")
    fig = detection.recall_curve_figure([a, b], mark=2)
    assert len(fig.axes) == 2
    for ax, t in zip(fig.axes, (0, 1)):
        lines = [line for line in ax.lines if line.get_label() in ("a (1 objects, 1 images)",
                                                                   "b (1 objects, 1 images)")]
        np.testing.assert_array_equal(lines[0].get_xdata(), [1, 2])
        np.testing.assert_array_equal(lines[0].get_ydata(), a.recall[t])
        np.testing.assert_array_equal(lines[1].get_ydata(), b.recall[t])
        assert ax.get_xscale() == "log" and ax.get_ylabel() == f"recall at IoU {(0.5, 0.7)[t]}"
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_ydata(), [1, 1])   # IoU 0.71, 1
    np.testing.assert_array_equal(fig.axes[1].lines[0].get_ydata(), [1, 1])


def test_figures_save_png(matplotlib, tmp_path):
    detection.draw_boxes(image(), [[0, 0, 5, 5]], path=tmp_path / "boxes.png")
    assert (tmp_path / "boxes.png").read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("call, message", [
    (lambda: detection.draw_boxes(np.zeros((2, 3, 4, 5)), []),
     "draw_boxes: image must have shape (H, W), (H, W, 3) or (H, W, 4), got (2, 3, 4, 5)"),
    (lambda: detection.draw_boxes(image(), [[0, 0, 5]]),
     "draw_boxes: boxes must have shape (N, 4) (x1, y1, x2, y2 per box), got (1, 3)"),
    (lambda: detection.draw_boxes(image(), [[0, 0, 5, 5]], labels=[1, 2]),
     "draw_boxes: labels must have shape (N,) = (1,) to match boxes, got (2,)"),
    (lambda: detection.draw_boxes(image(), [[0, 0, 5, 5]], scores=[[0.5]]),
     "draw_boxes: scores must have shape (N,) = (1,) to match boxes, got (1, 1)"),
    (lambda: detection.draw_masks(image(), np.zeros((1, 29, 40), bool)),
     "draw_masks: masks must have shape (K, H, W) = (K, 30, 40) to match the image, got "
     "(1, 29, 40)"),
    (lambda: detection.draw_masks(image(), np.zeros((1, 30, 40), bool), alpha=2),
     "draw_masks: alpha must be in [0, 1], got 2"),
    (lambda: detection.proposals_figure(image(), {}),
     "proposals_figure: proposals must be a non-empty dict of name -> (P, 4) boxes"),
    (lambda: detection.proposals_figure(image(), {"x": [[0, 0, 1]]}),
     "proposals_figure: proposals['x'] must have shape (N, 4) (x1, y1, x2, y2 per box), got "
     "(1, 3)"),
    (lambda: detection.proposals_figure(image(), {"x": [[0, 0, 1, 1]]},
                                        segments=np.zeros((3, 3), int)),
     "proposals_figure: segments must have the image's shape (30, 40), got (3, 3)"),
    (lambda: detection.recall_curve_figure([]), "recall_curve_figure: curves must not be empty"),
    (lambda: detection.recall_curve_figure(
        [proposal_recall([], [], num_proposals=[1]),
         proposal_recall([], [], num_proposals=[1], iou_thresholds=(0.5,), name="c")]),
     "recall_curve_figure: curve 'c' has no recall at IoU 0.7 (it has (0.5,))"),
])
def test_bad_inputs(matplotlib, call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


@pytest.mark.parametrize("name", sorted(detection.DOC_FIGURES))
def test_doc_figures_draw_small_pngs(matplotlib, name, tmp_path):
    fig = detection.DOC_FIGURES[name](tmp_path / name)
    data = (tmp_path / name).read_bytes()
    assert data.startswith(PNG_SIGNATURE) and 5_000 < len(data) < MAX_BYTES
    assert fig.axes and all(ax.images or ax.lines for ax in fig.axes)


@pytest.mark.parametrize("name", sorted(detection.DOC_FIGURES))
def test_committed_doc_figures_exist_small_and_are_shown(name):
    data = (ROOT / "docs" / "figures" / name).read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) < MAX_BYTES
    assert f"figures/{name}" in (ROOT / "docs" / "proposals.md").read_text()
