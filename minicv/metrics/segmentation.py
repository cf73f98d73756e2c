"""Semantic segmentation metrics: the confusion matrix and the four scores of FCN, plus accuracy
in a band around object boundaries.

Everything starts from the confusion matrix over pixels. With C classes, n_ij the number of
pixels of ground-truth class i predicted as class j (rows = ground truth, columns =
prediction) and t_i = sum_j n_ij the number of pixels of class i (Long et al. 2015, section 5):

- pixel accuracy          sum_i n_ii / sum_i t_i
- mean class accuracy     mean over classes of n_ii / t_i
- IoU of class i          n_ii / (t_i + sum_j n_ji - n_ii)   = TP / (TP + FP + FN)
- mean IoU (mIoU)         mean over classes of IoU_i
- frequency-weighted IoU  (sum_k t_k)^-1 sum_i t_i IoU_i

A class absent from both the ground truth and the prediction has IoU 0/0: NaN, left out of the
mean (a nanmean), so a class that never occurs in a validation set neither helps nor hurts.
Likewise a class with no ground-truth pixels has accuracy NaN, left out of the mean accuracy.
Pixels whose ground truth is the ignore label (VOC's 255 "void" border, CamVid's 11) are not
counted anywhere.

Boundary accuracy (the "trimap" of Kohli et al. 2009, used by DeepLab) scores only the pixels
within a narrow band around label changes, where coarse predictions -- FCN-32s upsampling its
stride-32 scores -- lose most: Long et al. find FCN-8s "finer" than FCN-32s there.

These are pure NumPy: predictions on the GPU (CuPy arrays) are copied to the host first. Only
the (C, C) counts are kept between batches, so scoring a whole validation set costs one
``bincount`` per batch.

References: Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic
Segmentation", CVPR 2015 (section 5, the four metrics); Kohli, Ladicky & Torr, "Robust Higher
Order Potentials for Enforcing Label Consistency", IJCV 2009 (trimap); Chen et al., "Semantic
Image Segmentation with Deep Convolutional Nets and Fully Connected CRFs", ICLR 2015 (trimap mIoU
in a band around VOC's void labels).
"""
from __future__ import annotations

import numbers

import numpy as np
from scipy import ndimage

from minicv import backend
from minicv.autograd import Tensor

__all__ = ["confusion_matrix", "pixel_accuracy", "per_class_accuracy", "mean_class_accuracy",
           "per_class_iou", "mean_iou", "frequency_weighted_iou", "boundary_mask",
           "stride_oracle", "SegmentationMetrics"]


# ---------------------------------------------------------------------------------------------
# Checking inputs
# ---------------------------------------------------------------------------------------------
def _labels(op: str, name: str, x) -> np.ndarray:
    """``x`` (NumPy/CuPy array, Tensor or nested lists) as a NumPy integer array."""
    if isinstance(x, Tensor):
        x = x.data
    x = backend.to_cpu(x)
    if x.dtype.kind not in "iub":
        raise TypeError(f"{op}: {name} must hold integer class indices, got dtype {x.dtype} "
                        f"with shape {x.shape}" + (" (take argmax over the class axis first)"
                                                   if name == "pred" else ""))
    return x


def _check_num_classes(op: str, num_classes) -> int:
    if (isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral)
            or num_classes < 1):
        raise ValueError(f"{op}: num_classes must be an integer >= 1, got {num_classes!r}")
    return int(num_classes)


def _check_ignore_index(op: str, ignore_index):
    if ignore_index is not None and (isinstance(ignore_index, bool)
                                     or not isinstance(ignore_index, numbers.Integral)):
        raise ValueError(f"{op}: ignore_index must be an integer or None, got {ignore_index!r}")
    return None if ignore_index is None else int(ignore_index)


def _check_in_range(op: str, name: str, values: np.ndarray, num_classes: int,
                    ignore_index) -> None:
    """Raise ValueError naming the values of ``values`` outside [0, num_classes)."""
    if values.size == 0:
        return
    bad = (values < 0) | (values >= num_classes)
    if bad.any():
        found = np.unique(values[bad])
        shown = ", ".join(str(v) for v in found[:10]) + (", ..." if found.size > 10 else "")
        ignore = "" if ignore_index is None else f" and not ignore_index={ignore_index}"
        raise ValueError(f"{op}: {name} holds values outside [0, {num_classes}){ignore}: "
                         f"{shown} ({int(bad.sum())} pixels)")


def _check_matrix(op: str, cm) -> np.ndarray:
    cm = backend.to_cpu(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"{op}: cm must be a square (C, C) confusion matrix, got shape "
                         f"{cm.shape}")
    return cm


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator as float64, NaN where the denominator is 0 (no warning)."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.full(np.broadcast_shapes(numerator.shape, denominator.shape), np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _nanmean(values: np.ndarray) -> float:
    """The mean of the non-NaN values; NaN (and no RuntimeWarning) when there are none."""
    kept = values[~np.isnan(values)]
    return float(kept.mean()) if kept.size else float("nan")


# ---------------------------------------------------------------------------------------------
# The confusion matrix and the scores computed from it
# ---------------------------------------------------------------------------------------------
def confusion_matrix(pred, target, num_classes: int, ignore_index: int | None = None):
    """Count pixels by (ground-truth class, predicted class).

    Parameters
    ----------
    pred : (...) integer array (NumPy or CuPy) or Tensor
        Predicted class per pixel, e.g. ``logits.argmax(axis=1)`` of shape (N, H, W).
    target : (...) integer array, the same shape as ``pred``
        Ground-truth class per pixel, or ``ignore_index``.
    num_classes : int
        C. Labels must lie in [0, C).
    ignore_index : int, optional
        Pixels whose target is this value are not counted, whatever their prediction.

    Returns
    -------
    (C, C) int64 NumPy array ``cm`` with ``cm[i, j]`` = the number of counted pixels of class
    i predicted as j (rows = ground truth, columns = prediction, as in scikit-learn).

    Raises
    ------
    TypeError for non-integer labels; ValueError for shapes that differ or for a counted pixel
    whose target or prediction lies outside [0, C) (the message lists the offending values).

    Notes
    -----
    One ``bincount`` does all the counting: the pair (i, j) is the single index C*i + j, and
    the C*C counts are reshaped into the matrix.

    Examples
    --------
    >>> target = np.array([[0, 0, 1], [1, 2, 255]])
    >>> pred = np.array([[0, 1, 1], [1, 1, 0]])
    >>> confusion_matrix(pred, target, num_classes=3, ignore_index=255)
    array([[1, 1, 0],
           [0, 2, 0],
           [0, 1, 0]])
    """
    op = "confusion_matrix"
    num_classes = _check_num_classes(op, num_classes)
    ignore_index = _check_ignore_index(op, ignore_index)
    pred, target = _labels(op, "pred", pred), _labels(op, "target", target)
    if pred.shape != target.shape:
        raise ValueError(f"{op}: pred has shape {pred.shape} but target {target.shape}; they "
                         f"must be the same (take argmax over the class axis of the scores)")
    pred = pred.reshape(-1).astype(np.int64)                 # (P,) every pixel
    target = target.reshape(-1).astype(np.int64)             # (P,)
    if ignore_index is not None:
        counted = target != ignore_index
        pred, target = pred[counted], target[counted]
    _check_in_range(op, "target", target, num_classes, ignore_index)
    _check_in_range(op, "pred", pred, num_classes, None)
    pairs = num_classes * target + pred                      # (P,) index of (i, j)
    counts = np.bincount(pairs, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64)


def pixel_accuracy(cm) -> float:
    """Fraction of counted pixels predicted correctly: trace(cm) / sum(cm); NaN for no pixels.

    cm : (C, C) confusion matrix from :func:`confusion_matrix`.

    >>> pixel_accuracy(np.array([[3, 1], [0, 4]]))
    0.875
    """
    cm = _check_matrix("pixel_accuracy", cm)
    return float(_ratio(np.trace(cm), cm.sum()))


def per_class_accuracy(cm) -> np.ndarray:
    """(C,) float64 recall of each class, n_ii / t_i; NaN for a class with no ground truth.

    >>> per_class_accuracy(np.array([[3, 1], [0, 0]]))
    array([0.75,  nan])
    """
    cm = _check_matrix("per_class_accuracy", cm)
    return _ratio(np.diag(cm), cm.sum(axis=1))


def mean_class_accuracy(cm) -> float:
    """Mean of :func:`per_class_accuracy` over the classes present in the ground truth.

    >>> mean_class_accuracy(np.array([[3, 1], [0, 4]]))
    0.875
    """
    return _nanmean(per_class_accuracy(_check_matrix("mean_class_accuracy", cm)))


def per_class_iou(cm) -> np.ndarray:
    """(C,) float64 intersection over union of each class: TP / (TP + FP + FN).

    TP = n_ii, FN = t_i - n_ii (class i predicted as something else), FP = sum_j n_ji - n_ii
    (something else predicted as i). A class absent from both ground truth and prediction
    has 0/0: NaN.

    >>> per_class_iou(np.array([[3, 1, 0], [0, 4, 0], [0, 0, 0]]))
    array([0.75, 0.8 ,  nan])
    """
    cm = _check_matrix("per_class_iou", cm)
    tp = np.diag(cm)                                            # (C,)
    union = cm.sum(axis=1) + cm.sum(axis=0) - tp                # (C,) TP + FN + FP
    return _ratio(tp, union)


def mean_iou(cm) -> float:
    """mIoU: the mean of :func:`per_class_iou` over the classes that are not NaN (NaN if none).

    >>> mean_iou(np.array([[3, 1, 0], [0, 4, 0], [0, 0, 0]]))
    0.775
    """
    return _nanmean(per_class_iou(_check_matrix("mean_iou", cm)))


def frequency_weighted_iou(cm) -> float:
    """IoU of each class weighted by its share of ground-truth pixels: sum_i (t_i / sum_k t_k)
    IoU_i (NaN for no pixels). A class with no ground truth weighs 0.

    >>> frequency_weighted_iou(np.array([[3, 1], [0, 4]]))
    0.775
    """
    cm = _check_matrix("frequency_weighted_iou", cm)
    support = cm.sum(axis=1)                                    # (C,) t_i
    total = support.sum()
    if total == 0:
        return float("nan")
    iou = per_class_iou(cm)
    present = support > 0                                       # IoU is defined there
    return float((support[present] * iou[present]).sum() / total)


# ---------------------------------------------------------------------------------------------
# Boundary band
# ---------------------------------------------------------------------------------------------
def boundary_mask(target, width: int, ignore_index: int | None = None) -> np.ndarray:
    """The pixels within ``width`` pixels of a label change (the trimap band).

    Parameters
    ----------
    target : (H, W) or (N, H, W) integer array (NumPy or CuPy) or Tensor
        Ground-truth labels; each (H, W) image is treated on its own.
    width : int
        Half-width of the band, >= 1.
    ignore_index : int, optional
        Pixels with this label are never in the band (they are not scored). The ignore label
        still counts as a label, so VOC's 5-pixel void border around each object marks the
        band around it, as in DeepLab's trimap.

    Returns
    -------
    bool NumPy array of ``target``'s shape: True where some pixel at Chebyshev distance <=
    ``width`` (a (2 width + 1)-square window) has another label.

    Notes
    -----
    A window holds two different labels exactly when its maximum and its minimum differ, so
    the band is ``maximum_filter(target) != minimum_filter(target)``, two separable
    scipy.ndimage filters. The image border is not a label change (the filters repeat the edge
    pixels). With width = 1, both pixels next to an edge between two regions are in the band.

    Examples
    --------
    >>> boundary_mask(np.array([[0, 0, 0, 1, 1, 1]]), width=1).astype(int)
    array([[0, 0, 1, 1, 0, 0]])
    """
    op = "boundary_mask"
    target = _labels(op, "target", target)
    if target.ndim not in (2, 3):
        raise ValueError(f"{op}: target must be (H, W) or (N, H, W), got shape {target.shape}")
    if isinstance(width, bool) or not isinstance(width, numbers.Integral) or width < 1:
        raise ValueError(f"{op}: width must be an integer >= 1, got {width!r}")
    ignore_index = _check_ignore_index(op, ignore_index)
    window = (1,) * (target.ndim - 2) + (2 * width + 1, 2 * width + 1)   # never across images
    highest = ndimage.maximum_filter(target, size=window, mode="nearest")
    lowest = ndimage.minimum_filter(target, size=window, mode="nearest")
    band = highest != lowest
    if ignore_index is not None:
        band &= target != ignore_index
    return band


def stride_oracle(target, num_classes: int, stride: int, ignore_index: int | None = None):
    """The best an FCN that scores on a stride-``stride`` grid and upsamples bilinearly can do:
    the prediction made from a PERFECT coarse score map.

    FCN-32s, -16s and -8s (Long et al. 2015) score every ``stride`` x ``stride`` cell and
    interpolate the scores to the input size. Fed the truth itself -- the class one-hot of
    ``target`` averaged over each cell (the image padded at the bottom and right to a multiple
    of ``stride``, as minicv's FCNs pad it) and upsampled by ``stride`` with bilinear
    interpolation (``align_corners=False``, FCN's initial upsampling) -- the argmax still
    rounds every boundary to what the coarse grid can express. Scoring it against ``target``
    (``SegmentationMetrics``) gives the resolution ceiling of that stride on a dataset.

    Parameters
    ----------
    target : (N, H, W) or (H, W) integer array or Tensor
        Ground-truth labels in [0, num_classes), or ``ignore_index``.
    num_classes : int
    stride : int
        >= 1; 1 returns ``target`` (ignored pixels become class 0).
    ignore_index : int, optional
        Pixels with this label give no vote to their cell.

    Returns
    -------
    int64 NumPy array of ``target``'s shape.

    Notes
    -----
    Learnt upsampling can beat this bilinear oracle, most where the grid is coarsest (a
    trained FCN-32s on 64x64 images paints shapes inside its 2x2 grid); it is a yardstick for
    "how much does the stride alone cost", not a bound on every network. Boundaries that follow
    the grid come out exactly, except corners where three or more classes meet (rounded off).

    Examples
    --------
    >>> labels = np.array([[0, 0, 1, 1], [0, 0, 1, 1]])
    >>> stride_oracle(labels, 2, stride=2)       # cell-aligned: drawn exactly
    array([[0, 0, 1, 1],
           [0, 0, 1, 1]])
    >>> stride_oracle(np.array([[0, 1, 1, 1]]), 2, stride=4)   # one cell: one class
    array([[1, 1, 1, 1]])
    """
    op = "stride_oracle"
    target = _labels(op, "target", target)
    if target.ndim not in (2, 3):
        raise ValueError(f"{op}: target must be (H, W) or (N, H, W), got shape {target.shape}")
    num_classes = _check_num_classes(op, num_classes)
    if isinstance(stride, bool) or not isinstance(stride, numbers.Integral) or stride < 1:
        raise ValueError(f"{op}: stride must be an integer >= 1, got {stride!r}")
    ignore_index = _check_ignore_index(op, ignore_index)
    scored = target if ignore_index is None else target[target != ignore_index]
    _check_in_range(op, "target", scored, num_classes, ignore_index)
    from minicv.functional import interpolate

    labels = target.reshape((-1,) + target.shape[-2:])                 # (N, H, W)
    n, h, w = labels.shape
    hp, wp = -(-h // stride) * stride, -(-w // stride) * stride         # padded to the grid
    onehot = np.zeros((n, num_classes, hp, wp), np.float32)             # (N, K, H', W')
    valid = labels != ignore_index if ignore_index is not None else np.ones(labels.shape, bool)
    image, row, col = np.nonzero(valid)
    onehot[image, labels[valid], row, col] = 1.0
    cells = onehot.reshape(n, num_classes, hp // stride, stride, wp // stride, stride)
    scores = cells.mean(axis=(3, 5))                                    # (N, K, H'/s, W'/s)
    upsampled = interpolate(scores, size=(hp, wp), mode="bilinear", align_corners=False)
    prediction = upsampled.numpy()[:, :, :h, :w].argmax(axis=1)          # (N, H, W)
    return prediction.astype(np.int64).reshape(target.shape)


# ---------------------------------------------------------------------------------------------
# Accumulating over a validation set
# ---------------------------------------------------------------------------------------------
class SegmentationMetrics:
    """Accumulate a confusion matrix over batches and report the segmentation scores.

    Parameters
    ----------
    num_classes : int
    ignore_index : int, optional
        Target label that is not scored (255 for VOC, 11 for CamVid).
    class_names : sequence of str, optional
        For :meth:`table`; default "0", "1", ...
    boundary_width : int, optional
        When given, also score the pixels within this many pixels (Chebyshev distance) of a
        label change in the ground truth: ``boundary_accuracy`` (pixel accuracy in that band)
        and ``boundary_miou``.

    Examples
    --------
    >>> metrics = SegmentationMetrics(num_classes=2)
    >>> metrics.update(np.array([[0, 1], [1, 1]]), np.array([[0, 0], [1, 1]]))
    >>> metrics.compute()["miou"]
    0.5833333333333333
    """

    def __init__(self, num_classes: int, ignore_index: int | None = None, class_names=None,
                 boundary_width: int | None = None):
        op = "SegmentationMetrics"
        self.num_classes = _check_num_classes(op, num_classes)
        self.ignore_index = _check_ignore_index(op, ignore_index)
        if class_names is None:
            class_names = [str(c) for c in range(self.num_classes)]
        class_names = tuple(str(name) for name in class_names)
        if len(class_names) != self.num_classes:
            raise ValueError(f"{op}: class_names has {len(class_names)} names but num_classes "
                             f"is {self.num_classes}")
        self.class_names = class_names
        if boundary_width is not None and (isinstance(boundary_width, bool)
                                           or not isinstance(boundary_width, numbers.Integral)
                                           or boundary_width < 1):
            raise ValueError(f"{op}: boundary_width must be an integer >= 1 or None, got "
                             f"{boundary_width!r}")
        self.boundary_width = boundary_width
        self.reset()

    def reset(self) -> None:
        """Forget every pixel seen so far."""
        shape = (self.num_classes, self.num_classes)
        self.confusion = np.zeros(shape, dtype=np.int64)            # rows = ground truth
        self.boundary_confusion = np.zeros(shape, dtype=np.int64)   # pixels in the band only

    def update(self, pred, target) -> None:
        """Add a batch: ``pred`` and ``target`` integer (N, H, W) or (H, W), NumPy or CuPy."""
        op = "SegmentationMetrics.update"
        pred, target = _labels(op, "pred", pred), _labels(op, "target", target)
        if pred.shape != target.shape or pred.ndim not in (2, 3):
            hint = (" (pred looks like class scores: take argmax(axis=1) first)"
                    if pred.ndim == target.ndim + 1 else "")
            raise ValueError(f"{op}: pred and target must both be (N, H, W) or (H, W) of the "
                             f"same shape, got pred {pred.shape} and target {target.shape}"
                             f"{hint}")
        self.confusion += confusion_matrix(pred, target, self.num_classes, self.ignore_index)
        if self.boundary_width is not None:
            band = boundary_mask(target, self.boundary_width, self.ignore_index)
            self.boundary_confusion += confusion_matrix(pred[band], target[band],
                                                        self.num_classes, self.ignore_index)

    def compute(self) -> dict:
        """The scores so far.

        Returns
        -------
        dict with ``pixel_accuracy``, ``mean_accuracy``, ``miou``, ``fwiou`` (floats),
        ``iou`` and ``accuracy`` ((C,) float64, NaN for absent classes) and, when
        ``boundary_width`` is set, ``boundary_accuracy`` and ``boundary_miou``.
        """
        cm = self.confusion
        result = {"pixel_accuracy": pixel_accuracy(cm), "mean_accuracy": mean_class_accuracy(cm),
                  "iou": per_class_iou(cm), "accuracy": per_class_accuracy(cm),
                  "miou": mean_iou(cm), "fwiou": frequency_weighted_iou(cm)}
        if self.boundary_width is not None:
            result["boundary_accuracy"] = pixel_accuracy(self.boundary_confusion)
            result["boundary_miou"] = mean_iou(self.boundary_confusion)
        return result

    def table(self) -> str:
        """Per-class IoU and accuracy (in %, "-" for a class never seen) and the summary lines."""
        result = self.compute()

        def percent(value):
            return "-" if np.isnan(value) else f"{100 * value:.2f}"
        name_width = max([len("class")] + [len(name) for name in self.class_names])
        support = self.confusion.sum(axis=1)
        lines = [f"{'class':<{name_width}}  {'IoU %':>7}  {'acc %':>7}  {'pixels':>10}"]
        for name, iou, acc, n in zip(self.class_names, result["iou"], result["accuracy"],
                                     support):
            lines.append(f"{name:<{name_width}}  {percent(iou):>7}  {percent(acc):>7}  {n:>10}")
        lines.append("")
        summary = [("pixel accuracy", "pixel_accuracy"), ("mean accuracy", "mean_accuracy"),
                   ("mean IoU", "miou"), ("frequency-weighted IoU", "fwiou")]
        if self.boundary_width is not None:
            band = f" (band {self.boundary_width} px)"
            summary += [("boundary accuracy" + band, "boundary_accuracy"),
                        ("boundary mean IoU" + band, "boundary_miou")]
        label_width = max(len(label) for label, _ in summary)
        lines += [f"{label:<{label_width}}  {percent(result[key]):>7} %"
                  for label, key in summary]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"SegmentationMetrics(num_classes={self.num_classes}, ignore_index="
                f"{self.ignore_index}, pixels={int(self.confusion.sum())})")
