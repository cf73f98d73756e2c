"""minicv.metrics.segmentation: hand-worked golden cases, loop references, error messages."""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minicv import Tensor
from minicv.metrics import (SegmentationMetrics, boundary_mask, confusion_matrix,
                            frequency_weighted_iou, mean_class_accuracy, mean_iou,
                            per_class_accuracy, per_class_iou, pixel_accuracy, stride_oracle)

# A 3-class example worked by hand (255 = ignore). Counted pixels, (truth, prediction):
# row 0: (0,0) (0,1) (1,1) (1,1); row 1: (0,0) (2,2) (2,0) (1,1); row 2: two ignored, (2,2) (1,2)
TARGET = np.array([[0, 0, 1, 1],
                   [0, 2, 2, 1],
                   [255, 255, 2, 1]])
PRED = np.array([[0, 1, 1, 1],
                 [0, 2, 0, 1],
                 [1, 0, 2, 2]])
CM = np.array([[2, 1, 0],      # truth 0: 2 right, 1 taken for class 1
               [0, 3, 1],      # truth 1: 3 right, 1 taken for class 2
               [1, 0, 2]])     # truth 2: 2 right, 1 taken for class 0


def confusion_loop(pred, target, num_classes, ignore_index=None):
    """The slow reference: one pixel at a time."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    for p, t in zip(np.ravel(pred), np.ravel(target)):
        if t != ignore_index:
            cm[t, p] += 1
    return cm


def boundary_loop(target, width, ignore_index=None):
    """The slow reference: a pixel is in the band if its (2 width + 1)-square window, clipped
    to the image, holds another label."""
    height, wide = target.shape
    band = np.zeros(target.shape, dtype=bool)
    for i in range(height):
        for j in range(wide):
            window = target[max(i - width, 0):i + width + 1, max(j - width, 0):j + width + 1]
            band[i, j] = bool((window != target[i, j]).any()) and target[i, j] != ignore_index
    return band


# ---------------------------------------------------------------------------------------------
# Golden cases
# ---------------------------------------------------------------------------------------------
def test_confusion_matrix_hand_worked_with_ignored_pixels():
    cm = confusion_matrix(PRED, TARGET, num_classes=3, ignore_index=255)
    np.testing.assert_array_equal(cm, CM)
    assert cm.dtype == np.int64 and cm.sum() == 10


def test_scores_hand_worked():
    assert pixel_accuracy(CM) == pytest.approx(7 / 10)
    np.testing.assert_allclose(per_class_accuracy(CM), [2 / 3, 3 / 4, 2 / 3])
    assert mean_class_accuracy(CM) == pytest.approx(25 / 36)
    # IoU = TP / (row + column - TP): 2 / (3 + 3 - 2), 3 / (4 + 4 - 3), 2 / (3 + 3 - 2)
    np.testing.assert_allclose(per_class_iou(CM), [0.5, 0.6, 0.5])
    assert mean_iou(CM) == pytest.approx(1.6 / 3)
    assert frequency_weighted_iou(CM) == pytest.approx((3 * 0.5 + 4 * 0.6 + 3 * 0.5) / 10)


def test_a_class_absent_everywhere_is_nan_and_left_out_of_the_means():
    target = np.array([[0, 0, 1, 1]])
    pred = np.array([[0, 1, 1, 1]])
    cm = confusion_matrix(pred, target, num_classes=4)      # classes 2 and 3 never occur
    iou = per_class_iou(cm)
    np.testing.assert_allclose(iou[:2], [1 / 2, 2 / 3])
    assert np.isnan(iou[2]) and np.isnan(iou[3])
    assert mean_iou(cm) == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert mean_class_accuracy(cm) == pytest.approx((1 / 2 + 1) / 2)
    assert frequency_weighted_iou(cm) == pytest.approx((2 * 1 / 2 + 2 * 2 / 3) / 4)


def test_a_class_only_predicted_has_iou_zero_and_counts_in_the_mean():
    cm = confusion_matrix(np.array([0, 2]), np.array([0, 0]), num_classes=3)
    np.testing.assert_allclose(per_class_iou(cm), [0.5, np.nan, 0.0])
    assert mean_iou(cm) == pytest.approx(0.25)
    np.testing.assert_allclose(per_class_accuracy(cm), [0.5, np.nan, np.nan])


def test_all_wrong():
    target = np.array([[0, 0, 1, 1]])
    pred = 1 - target
    cm = confusion_matrix(pred, target, num_classes=2)
    np.testing.assert_array_equal(cm, [[0, 2], [2, 0]])
    assert pixel_accuracy(cm) == 0.0 and mean_class_accuracy(cm) == 0.0
    np.testing.assert_array_equal(per_class_iou(cm), [0.0, 0.0])
    assert mean_iou(cm) == 0.0 and frequency_weighted_iou(cm) == 0.0


def test_all_ignored_gives_nan_without_warnings():
    target = np.full((2, 3), 255)
    pred = np.full((2, 3), 7)          # predictions on ignored pixels are never looked at
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cm = confusion_matrix(pred, target, num_classes=3, ignore_index=255)
        np.testing.assert_array_equal(cm, np.zeros((3, 3)))
        for score in (pixel_accuracy, mean_class_accuracy, mean_iou, frequency_weighted_iou):
            assert np.isnan(score(cm)), score.__name__
        assert np.isnan(per_class_iou(cm)).all()


@given(seed=st.integers(0, 2**16), num_classes=st.integers(1, 6),
       shape=st.sampled_from([(7,), (3, 5), (2, 4, 6)]), ignore=st.booleans())
def test_confusion_matrix_matches_the_pixel_loop(seed, num_classes, shape, ignore):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, num_classes, shape)
    pred = rng.integers(0, num_classes, shape)
    ignore_index = 255 if ignore else None
    if ignore:
        target[rng.random(shape) < 0.3] = 255
    cm = confusion_matrix(pred, target, num_classes, ignore_index)
    np.testing.assert_array_equal(cm, confusion_loop(pred, target, num_classes, ignore_index))
    counted = target != 255
    if counted.any():
        assert pixel_accuracy(cm) == pytest.approx((pred == target)[counted].mean())


def test_confusion_matrix_accepts_tensors_and_unsigned_labels():
    cm = confusion_matrix(Tensor(PRED), TARGET.astype(np.uint8), 3, ignore_index=255)
    np.testing.assert_array_equal(cm, CM)


def test_confusion_matrix_on_the_gpu_is_copied_to_the_host(xp):
    cm = confusion_matrix(xp.asarray(PRED), xp.asarray(TARGET), 3, ignore_index=255)
    assert isinstance(cm, np.ndarray)
    np.testing.assert_array_equal(cm, CM)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
def test_confusion_matrix_errors():
    with pytest.raises(ValueError, match=r"confusion_matrix: pred has shape \(2, 3\) but "
                                         r"target \(2, 4\)"):
        confusion_matrix(np.zeros((2, 3), int), np.zeros((2, 4), int), 3)
    with pytest.raises(TypeError, match=r"confusion_matrix: pred must hold integer class "
                                        r"indices, got dtype float32 .*argmax"):
        confusion_matrix(np.zeros((2, 3), np.float32), np.zeros((2, 3), int), 3)
    with pytest.raises(ValueError, match=r"confusion_matrix: target holds values outside "
                                         r"\[0, 3\) and not ignore_index=255: -1, 7 \(3 pixels\)"):
        confusion_matrix(np.zeros(5, int), np.array([0, 7, -1, 7, 255]), 3, ignore_index=255)
    with pytest.raises(ValueError, match=r"confusion_matrix: pred holds values outside "
                                         r"\[0, 2\): 2 \(1 pixels\)"):
        confusion_matrix(np.array([0, 2, 1]), np.array([0, 1, 1]), 2)
    with pytest.raises(ValueError, match=r"confusion_matrix: num_classes must be an integer "
                                         r">= 1, got 0"):
        confusion_matrix(np.zeros(2, int), np.zeros(2, int), 0)
    with pytest.raises(ValueError, match=r"confusion_matrix: ignore_index must be an integer "
                                         r"or None, got 2.5"):
        confusion_matrix(np.zeros(2, int), np.zeros(2, int), 3, ignore_index=2.5)


def test_scores_refuse_a_non_square_matrix():
    with pytest.raises(ValueError, match=r"mean_iou: cm must be a square \(C, C\) confusion "
                                         r"matrix, got shape \(2, 3\)"):
        mean_iou(np.zeros((2, 3)))


# ---------------------------------------------------------------------------------------------
# Boundary band
# ---------------------------------------------------------------------------------------------
def test_boundary_mask_hand_worked():
    stripe = np.array([[0, 0, 0, 0, 1, 1, 1, 1]])
    np.testing.assert_array_equal(boundary_mask(stripe, 1).astype(int),
                                  [[0, 0, 0, 1, 1, 0, 0, 0]])
    np.testing.assert_array_equal(boundary_mask(stripe, 2).astype(int),
                                  [[0, 0, 1, 1, 1, 1, 0, 0]])
    # A single pixel: Chebyshev distance, so its diagonal neighbours are in the band too.
    dot = np.zeros((5, 5), int)
    dot[2, 2] = 1
    expected = np.zeros((5, 5), bool)
    expected[1:4, 1:4] = True
    np.testing.assert_array_equal(boundary_mask(dot, 1), expected)


def test_boundary_mask_ignore_label_marks_the_band_but_is_never_in_it():
    # VOC: object | void border | background; the void pixels are not scored.
    row = np.array([[1, 1, 1, 255, 255, 0, 0, 0]])
    np.testing.assert_array_equal(boundary_mask(row, 1, ignore_index=255).astype(int),
                                  [[0, 0, 1, 0, 0, 1, 0, 0]])


def test_boundary_mask_per_image_and_no_border():
    a = np.zeros((4, 4), int)                          # a plain image has no band at all
    b = np.zeros((4, 4), int)
    b[:, 3] = 1
    band = boundary_mask(np.stack([a, b]), 1)
    assert not band[0].any()                           # b's edge does not leak into a
    np.testing.assert_array_equal(band[1], boundary_loop(b, 1))


@pytest.mark.parametrize("width", [1, 2, 3])
def test_boundary_mask_matches_the_loop(width):
    rng = np.random.default_rng(width)
    target = rng.integers(0, 3, (9, 11))
    target[rng.random(target.shape) < 0.2] = 255
    np.testing.assert_array_equal(boundary_mask(target, width, ignore_index=255),
                                  boundary_loop(target, width, ignore_index=255))


def test_boundary_mask_errors():
    with pytest.raises(ValueError, match=r"boundary_mask: width must be an integer >= 1, "
                                         r"got 0"):
        boundary_mask(np.zeros((3, 3), int), 0)
    with pytest.raises(ValueError, match=r"boundary_mask: target must be \(H, W\) or "
                                         r"\(N, H, W\), got shape \(3,\)"):
        boundary_mask(np.zeros(3, int), 1)


# ---------------------------------------------------------------------------------------------
# SegmentationMetrics
# ---------------------------------------------------------------------------------------------
def test_metrics_accumulate_batches_like_one_big_batch():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 4, (6, 8, 9))
    target[:, :2] = 255
    pred = rng.integers(0, 4, (6, 8, 9))
    metrics = SegmentationMetrics(4, ignore_index=255)
    metrics.update(pred[:2], target[:2])
    metrics.update(pred[2:5], target[2:5])
    metrics.update(pred[5], target[5])                 # one (H, W) image
    cm = confusion_loop(pred, target, 4, 255)
    np.testing.assert_array_equal(metrics.confusion, cm)
    result = metrics.compute()
    assert result["pixel_accuracy"] == pixel_accuracy(cm)
    assert result["mean_accuracy"] == mean_class_accuracy(cm)
    assert result["miou"] == mean_iou(cm) and result["fwiou"] == frequency_weighted_iou(cm)
    np.testing.assert_array_equal(result["iou"], per_class_iou(cm))
    assert "boundary_accuracy" not in result
    metrics.reset()
    assert metrics.confusion.sum() == 0 and np.isnan(metrics.compute()["miou"])


def test_metrics_boundary_accuracy_hand_worked():
    # The prediction is one pixel off at the edge: wrong only in the band.
    target = np.array([[0, 0, 0, 1, 1, 1]])
    pred = np.array([[0, 0, 1, 1, 1, 1]])
    metrics = SegmentationMetrics(2, boundary_width=1)
    metrics.update(pred, target)
    result = metrics.compute()
    assert result["pixel_accuracy"] == pytest.approx(5 / 6)
    assert result["boundary_accuracy"] == pytest.approx(1 / 2)     # band = pixels 2 and 3
    assert result["boundary_miou"] == pytest.approx((0 + 1 / 2) / 2)


def test_coarse_prediction_loses_on_the_boundary():
    # A disc predicted by blocky 8x upsampling (FCN-32s-like) vs the exact disc.
    yy, xx = np.mgrid[:64, :64]
    target = ((yy - 31.5) ** 2 + (xx - 31.5) ** 2 < 20 ** 2).astype(int)
    coarse = np.kron(target[4::8, 4::8], np.ones((8, 8), int))
    fine, blocky = (SegmentationMetrics(2, boundary_width=2) for _ in range(2))
    fine.update(target, target)
    blocky.update(coarse, target)
    assert fine.compute()["boundary_accuracy"] == 1.0
    coarse_scores = blocky.compute()
    assert coarse_scores["boundary_accuracy"] < coarse_scores["pixel_accuracy"] - 0.1


def test_metrics_table_lists_every_class():
    metrics = SegmentationMetrics(4, ignore_index=255, class_names=["bg", "cat", "dog", "cow"],
                                  boundary_width=1)
    metrics.update(PRED, TARGET)
    table = metrics.table()
    lines = table.splitlines()
    assert lines[0].split() == ["class", "IoU", "%", "acc", "%", "pixels"]
    assert lines[1].split() == ["bg", "50.00", "66.67", "3"]
    assert lines[2].split() == ["cat", "60.00", "75.00", "4"]
    assert lines[4].split() == ["cow", "-", "-", "0"]
    assert "mean IoU" in table and "53.33 %" in table and "boundary accuracy (band 1 px)" in table


def test_metrics_errors():
    with pytest.raises(ValueError, match=r"SegmentationMetrics: class_names has 2 names but "
                                         r"num_classes is 3"):
        SegmentationMetrics(3, class_names=["a", "b"])
    with pytest.raises(ValueError, match=r"SegmentationMetrics: boundary_width must be an "
                                         r"integer >= 1 or None, got 0"):
        SegmentationMetrics(3, boundary_width=0)
    metrics = SegmentationMetrics(3)
    with pytest.raises(ValueError, match=r"SegmentationMetrics.update: pred and target must "
                                         r"both be .* got pred \(2, 3, 4, 4\) and target "
                                         r"\(2, 4, 4\) \(pred looks like class scores"):
        metrics.update(np.zeros((2, 3, 4, 4), int), np.zeros((2, 4, 4), int))
    with pytest.raises(TypeError, match=r"SegmentationMetrics.update: pred must hold integer"):
        metrics.update(np.zeros((4, 4)), np.zeros((4, 4), int))


# ---------------------------------------------------------------------------------------------
# stride_oracle: the resolution ceiling of a stride-s score map
# ---------------------------------------------------------------------------------------------
def _oracle_loop(target, num_classes, stride, ignore_index=None):
    """Cell votes and bilinear interpolation written out pixel by pixel."""
    h, w = target.shape
    hc, wc = -(-h // stride), -(-w // stride)
    scores = np.zeros((num_classes, hc, wc))
    for y in range(h):
        for x in range(w):
            if target[y, x] != ignore_index:
                scores[target[y, x], y // stride, x // stride] += 1.0 / stride ** 2
    out = np.zeros((h, w), np.int64)
    for y in range(h):
        for x in range(w):
            # align_corners=False: output pixel centre y + 0.5 sits at (y + 0.5) / s - 0.5
            sy = max((y + 0.5) / stride - 0.5, 0.0)
            sx = max((x + 0.5) / stride - 0.5, 0.0)
            y0, x0 = min(int(sy), hc - 1), min(int(sx), wc - 1)
            y1, x1 = min(y0 + 1, hc - 1), min(x0 + 1, wc - 1)
            ly, lx = sy - y0, sx - x0
            value = ((1 - ly) * (1 - lx) * scores[:, y0, x0] + (1 - ly) * lx * scores[:, y0, x1]
                     + ly * (1 - lx) * scores[:, y1, x0] + ly * lx * scores[:, y1, x1])
            out[y, x] = int(np.argmax(value))
    return out


@pytest.mark.parametrize("stride, shape, ignore_index", [
    (1, (5, 7), None), (2, (6, 8), None), (4, (9, 10), None), (3, (7, 11), 9), (8, (13, 17), 9)])
def test_stride_oracle_matches_the_loop(stride, shape, ignore_index):
    rng = np.random.default_rng(stride)
    target = rng.integers(0, 3, size=shape)
    target[rng.random(shape) < 0.5] = 2                      # some large regions
    if ignore_index is not None:
        target[0, :] = ignore_index
    got = stride_oracle(target, 3, stride, ignore_index)
    expected = _oracle_loop(target, 3, stride, ignore_index)
    if ignore_index is None and stride == 1:
        np.testing.assert_array_equal(got, target)
    np.testing.assert_array_equal(got, expected)
    batch = stride_oracle(np.stack([target, target[::-1]]), 3, stride, ignore_index)
    np.testing.assert_array_equal(batch[0], got)


def test_stride_oracle_draws_cell_aligned_labels_exactly_and_loses_finer_ones():
    rng = np.random.default_rng(0)
    stripes = np.repeat(rng.integers(0, 4, size=(2, 1, 5)), 3, axis=1)  # columns of cells
    aligned = np.kron(stripes, np.ones((1, 8, 8), np.int64))     # constant on 8x8 cells
    np.testing.assert_array_equal(stride_oracle(aligned, 4, 8), aligned)
    corner = np.kron(np.array([[0, 1], [1, 2]]), np.ones((8, 8), np.int64))
    rounded = stride_oracle(corner, 3, 8)                        # where three classes meet,
    assert rounded[8, 8] == 1 and (rounded != corner).sum() > 0  # the corner is rounded off
    thin = np.zeros((16, 16), np.int64)
    thin[:, 5] = 1                                               # a one-pixel line
    assert (stride_oracle(thin, 2, 8) == 0).all() and (stride_oracle(thin, 2, 1) == thin).all()


def test_stride_oracle_errors():
    with pytest.raises(ValueError, match=r"stride_oracle: stride must be an integer >= 1, got 0"):
        stride_oracle(np.zeros((4, 4), np.int64), 2, 0)
    with pytest.raises(ValueError, match=r"stride_oracle: target must be \(H, W\) or \(N, H, W\)"):
        stride_oracle(np.zeros(4, np.int64), 2, 2)
    with pytest.raises(ValueError, match=r"stride_oracle: target holds values outside \[0, 2\)"):
        stride_oracle(np.full((4, 4), 5), 2, 2)
