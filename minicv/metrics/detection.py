"""Pascal VOC detection metrics: average precision (AP) per class and its mean (mAP).

The evaluation protocol of the PASCAL VOC challenge (Everingham et al. 2010, section 4.2), as
its development kit computes it:

1. Take every detection of class c in every image, sorted by score, highest first (a stable
   sort: ties keep image order, then the order within the image).
2. Each detection looks at the ground-truth boxes of class c in its own image and takes the one
   of highest IoU (the first on ties). If that IoU is >= 0.5 (``iou_threshold``):
   - the box is 'difficult': the detection is ignored, neither a true nor a false positive;
   - the box is not matched yet: a true positive (TP), and the box is now matched;
   - the box is matched already: a false positive (FP) -- a duplicate. VOC does *not* fall back
     to the second-best box (COCO does, see coco.py).
   An IoU below the threshold (or no box of class c in the image) is a false positive.
3. Along the ranked list, recall = TP / n_pos and precision = TP / (TP + FP), with n_pos the
   number of ground-truth boxes of class c that are not difficult.
4. AP = area under the precision/recall curve after replacing each precision by the highest
   precision at any equal or higher recall (the monotone envelope), VOC2010 onward:
   AP = sum_k (r_k - r_{k-1}) * max_{r >= r_k} p(r). The VOC2007 variant averages the envelope
   at the 11 recall levels 0, 0.1, ..., 1 (0 where that recall is never reached).
5. A class with no (non-difficult) ground truth has AP NaN and is left out of mAP; a class with
   ground truth but no detections has AP 0.

Boxes are minicv's continuous (x1, y1, x2, y2) with no "+1" (see minicv.ops.box_iou): the VOC
devkit adds 1 to widths and heights of its 1-based pixel boxes, the datasets of minicv.data
convert those to continuous coordinates when they load them.

Step 2 is the only sequential part, and within one image it has a closed form: since a
detection never falls back to another box, its box is fixed (the argmax of its IoU row); the
first (highest-scoring) detection to claim a box is its TP and every later one an FP. So each
image is scored with a few array operations when it is added, and only (label, score, TP/FP)
per detection is kept.

Notation: D detections and G ground-truth boxes in an image, C classes (label 0 is the
background of minicv's detection datasets and normally has no ground truth, so NaN).

References: Everingham, Van Gool, Williams, Winn & Zisserman, "The PASCAL Visual Object Classes
(VOC) Challenge", IJCV 2010; the VOC devkit (VOCevaldet.m, and its Python port voc_eval.py in
py-faster-rcnn).
"""
from __future__ import annotations

import numbers

import numpy as np

from minicv import backend
from minicv.autograd import Tensor
from minicv.ops import box_iou

__all__ = ["voc_ap", "voc_evaluate", "VOCEvaluator"]

# VOC2007's 11 recall levels, written as exact decimals k / 10. The devkit's Python port uses
# np.arange(0, 1.1, 0.1), whose 0.30000000000000004 (for instance) makes a recall of exactly
# 3/10 miss its level; the Matlab devkit and the definition say "recall >= 0.3".
VOC07_RECALL_LEVELS = np.arange(11) / 10


# ---------------------------------------------------------------------------------------------
# Reading per-image inputs (shared with coco.py)
# ---------------------------------------------------------------------------------------------
def _host(x):
    """A NumPy array from a NumPy/CuPy array, a Tensor or (nested) lists."""
    if isinstance(x, Tensor):
        x = x.data
    return backend.to_cpu(x)


def _boxes(op: str, where: str, boxes) -> np.ndarray:
    """(K, 4) float64 boxes with finite coordinates, or a ValueError naming ``where``."""
    boxes = _host(boxes)
    if boxes.size == 0:
        return np.zeros((0, 4))
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{op}: {where} boxes must have shape (K, 4) (x1, y1, x2, y2), got "
                         f"{boxes.shape}")
    if boxes.dtype.kind not in "iuf":
        raise TypeError(f"{op}: {where} boxes must hold numbers, got dtype {boxes.dtype}")
    boxes = boxes.astype(np.float64)
    if not np.isfinite(boxes).all():
        raise ValueError(f"{op}: {where} boxes must be finite, got "
                         f"{boxes[~np.isfinite(boxes).all(axis=1)][0].tolist()}")
    return boxes


def _vector(op: str, where: str, name: str, values, n: int, kind: str) -> np.ndarray:
    """A (n,) array of ``values``: integers (kind "i"), numbers ("f") or booleans ("b")."""
    values = _host(values)
    if values.size == 0 and n == 0:          # [] or any empty array: nothing to check
        return np.zeros(0, dtype={"i": np.int64, "f": np.float64, "b": bool}[kind])
    if values.shape != (n,):
        raise ValueError(f"{op}: {where} {name} must have shape ({n},) to match its {n} boxes, "
                         f"got {values.shape}")
    if kind == "i":
        if values.dtype.kind not in "iu":
            raise TypeError(f"{op}: {where} {name} must be integer class labels, got dtype "
                            f"{values.dtype}")
        if n and values.min() < 0:
            raise ValueError(f"{op}: {where} {name} must be >= 0, got {int(values.min())}")
        return values.astype(np.int64)
    if kind == "f":
        if values.dtype.kind not in "iuf" or not np.isfinite(values).all():
            raise ValueError(f"{op}: {where} {name} must be finite numbers, got dtype "
                             f"{values.dtype}")
        return values.astype(np.float64)
    if values.dtype.kind not in "biu":
        raise TypeError(f"{op}: {where} {name} must be boolean flags, got dtype {values.dtype}")
    return values.astype(bool)


def _image_list(op: str, name: str, items) -> list:
    """A list of per-image dicts (one dict alone is one image)."""
    if isinstance(items, dict):
        return [items]
    items = list(items)
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise TypeError(f"{op}: {name}[{i}] must be a dict of arrays, got "
                            f"{type(item).__name__}")
    return items


def _key(op: str, where: str, item: dict, key: str):
    if key not in item:
        raise ValueError(f"{op}: {where} has no {key!r} (keys: {sorted(item)})")
    return item[key]


def _check_pairs(op: str, preds: list, targets: list) -> None:
    if len(preds) != len(targets):
        raise ValueError(f"{op}: {len(preds)} predictions but {len(targets)} targets; give one "
                         f"of each per image")


def _check_labels_below(op: str, num_classes, labels: np.ndarray, where: str) -> None:
    if num_classes is not None and labels.size and labels.max() >= num_classes:
        raise ValueError(f"{op}: {where} labels must lie in [0, {num_classes}), got "
                         f"{int(labels.max())}")


# ---------------------------------------------------------------------------------------------
# AP from a precision/recall curve
# ---------------------------------------------------------------------------------------------
def voc_ap(recall, precision, use_07_metric: bool = False) -> float:
    """Average precision: the area under the monotone precision envelope of a ranked list.

    Parameters
    ----------
    recall, precision : (K,) arrays
        The curve along the ranked detections (recall non-decreasing), as produced by
        cumulative TP / FP counts.
    use_07_metric : bool
        False (default): VOC2010+ -- the exact area under the envelope. True: VOC2007's mean of
        the envelope at recall 0, 0.1, ..., 1.

    Returns
    -------
    float. An empty curve (no detections) gives 0.

    Notes
    -----
    Envelope: p_env(r) = max_{r' >= r} p(r'), one reversed running maximum. VOC2010+ adds the
    points (0, 0) and (1, 0) and sums (r_k - r_{k-1}) p_env(r_k) where the recall changes.

    Examples
    --------
    Three detections, two true positives out of n_pos = 2 (TP, FP, TP):

    >>> recall, precision = np.array([0.5, 0.5, 1.0]), np.array([1.0, 0.5, 2 / 3])
    >>> round(voc_ap(recall, precision), 4)         # 0.5 * 1 + 0.5 * 2/3
    0.8333
    >>> round(voc_ap(recall, precision, use_07_metric=True), 4)   # (6 * 1 + 5 * 2/3) / 11
    0.8485
    """
    recall = np.asarray(recall, dtype=np.float64)
    precision = np.asarray(precision, dtype=np.float64)
    if recall.shape != precision.shape or recall.ndim != 1:
        raise ValueError(f"voc_ap: recall and precision must be (K,) arrays of the same shape, "
                         f"got {recall.shape} and {precision.shape}")
    if use_07_metric:
        if recall.size == 0:
            return 0.0
        envelope = np.maximum.accumulate(precision[::-1])[::-1]        # (K,)
        first = np.searchsorted(recall, VOC07_RECALL_LEVELS, side="left")   # first r >= level
        reached = first < recall.size
        return float(np.where(reached, envelope[np.minimum(first, recall.size - 1)], 0).sum()
                     / VOC07_RECALL_LEVELS.size)
    mrec = np.concatenate([[0.0], recall, [1.0]])                     # (K + 2,)
    mpre = np.concatenate([[0.0], precision, [0.0]])
    envelope = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1])                    # where recall moves on
    return float(((mrec[steps + 1] - mrec[steps]) * envelope[steps + 1]).sum())


# ---------------------------------------------------------------------------------------------
# Scoring one image
# ---------------------------------------------------------------------------------------------
def _match_image(pred_boxes, pred_labels, pred_scores, gt_boxes, gt_labels, gt_difficult,
                 iou_threshold):
    """Decide every detection of one image: (order, tp, ignored), the last two (D,) bool in
    the order ``order`` (score, highest first; stable). A detection neither TP nor ignored is
    an FP."""
    order = np.argsort(-pred_scores, kind="stable")                    # (D,)
    pred_boxes, pred_labels = pred_boxes[order], pred_labels[order]
    d, g = pred_labels.size, gt_labels.size
    tp = np.zeros(d, dtype=bool)
    ignored = np.zeros(d, dtype=bool)
    if d == 0 or g == 0:
        return order, tp, ignored
    iou = box_iou(pred_boxes, gt_boxes)                                 # (D, G) float64
    iou[pred_labels[:, None] != gt_labels[None, :]] = -1.0              # other classes: never
    best = iou.argmax(axis=1)                                           # (D,) first on ties
    hit = iou[np.arange(d), best] >= iou_threshold
    ignored = hit & gt_difficult[best]                                  # matched a difficult box
    claims = np.flatnonzero(hit & ~ignored)                             # in score order
    # The first detection claiming each box is its true positive; later claims are duplicates.
    _, first = np.unique(best[claims], return_index=True)
    tp[claims[first]] = True
    return order, tp, ignored


# ---------------------------------------------------------------------------------------------
# The evaluator
# ---------------------------------------------------------------------------------------------
class VOCEvaluator:
    """Accumulate detections image by image and compute VOC AP per class and mAP.

    Parameters
    ----------
    num_classes : int, optional
        C, labels in [0, C) (0 = background for minicv's datasets). Default: the largest label
        seen + 1.
    iou_threshold : float
        Minimum IoU of a true positive (VOC: 0.5; a match needs IoU >= threshold).
    use_07_metric : bool
        Use VOC2007's 11-point AP instead of the area under the envelope.
    class_names : sequence of str, optional
        For :meth:`table`.

    Each call to :meth:`update` takes per-image predictions and targets in minicv's detection
    format: ``{"boxes": (D, 4), "labels": (D,), "scores": (D,)}`` and
    ``{"boxes": (G, 4), "labels": (G,), "difficult": (G,) bool (optional)}``, as lists (one dict
    per image) or one dict for one image. Only labels, scores and the TP/FP decisions are kept.

    Examples
    --------
    >>> ev = VOCEvaluator(num_classes=2)
    >>> ev.update({"boxes": np.array([[0, 0, 10, 10], [0, 0, 10, 10]]),
    ...            "labels": np.array([1, 1]), "scores": np.array([0.9, 0.8])},
    ...           {"boxes": np.array([[0, 0, 10, 10]]), "labels": np.array([1])})
    >>> ev.compute()["map"]                       # TP then a duplicate (FP): AP = 1
    1.0
    """

    def __init__(self, num_classes: int | None = None, iou_threshold: float = 0.5,
                 use_07_metric: bool = False, class_names=None):
        op = "VOCEvaluator"
        if num_classes is not None and (isinstance(num_classes, bool)
                                        or not isinstance(num_classes, numbers.Integral)
                                        or num_classes < 1):
            raise ValueError(f"{op}: num_classes must be an integer >= 1 or None, got "
                             f"{num_classes!r}")
        if not (isinstance(iou_threshold, numbers.Real) and 0 < iou_threshold <= 1):
            raise ValueError(f"{op}: iou_threshold must be in (0, 1], got {iou_threshold!r}")
        if class_names is not None:
            class_names = tuple(str(n) for n in class_names)
            if num_classes is not None and len(class_names) != num_classes:
                raise ValueError(f"{op}: class_names has {len(class_names)} names but "
                                 f"num_classes is {num_classes}")
        self.num_classes = None if num_classes is None else int(num_classes)
        self.iou_threshold = float(iou_threshold)
        self.use_07_metric = bool(use_07_metric)
        self.class_names = class_names
        self.reset()

    def reset(self) -> None:
        """Forget every image seen so far."""
        self._labels, self._scores, self._tp, self._gt_labels = [], [], [], []
        self.num_images = 0

    def update(self, preds, targets) -> None:
        """Score the detections of some images (lists of dicts, or one dict each)."""
        op = "VOCEvaluator.update"
        preds, targets = _image_list(op, "preds", preds), _image_list(op, "targets", targets)
        _check_pairs(op, preds, targets)
        added = []                  # kept aside until every image checks out: all or nothing
        for i, (pred, target) in enumerate(zip(preds, targets)):
            where = f"image {self.num_images + i}"
            pred_boxes = _boxes(op, f"{where} pred", _key(op, f"{where} pred", pred, "boxes"))
            d = pred_boxes.shape[0]
            pred_labels = _vector(op, where, "pred labels",
                                  _key(op, f"{where} pred", pred, "labels"), d, "i")
            pred_scores = _vector(op, where, "pred scores",
                                  _key(op, f"{where} pred", pred, "scores"), d, "f")
            gt_boxes = _boxes(op, f"{where} target",
                              _key(op, f"{where} target", target, "boxes"))
            g = gt_boxes.shape[0]
            gt_labels = _vector(op, where, "target labels",
                                _key(op, f"{where} target", target, "labels"), g, "i")
            difficult = target.get("difficult")
            gt_difficult = (np.zeros(g, dtype=bool) if difficult is None
                            else _vector(op, where, "target difficult", difficult, g, "b"))
            _check_labels_below(op, self.num_classes, pred_labels, f"{where} pred")
            _check_labels_below(op, self.num_classes, gt_labels, f"{where} target")
            order, tp, ignored = _match_image(pred_boxes, pred_labels, pred_scores, gt_boxes,
                                              gt_labels, gt_difficult, self.iou_threshold)
            kept = ~ignored
            added.append((pred_labels[order][kept], pred_scores[order][kept], tp[kept],
                          gt_labels[~gt_difficult]))
        for labels, scores, tp, gt_labels in added:
            self._labels.append(labels)
            self._scores.append(scores)
            self._tp.append(tp)
            self._gt_labels.append(gt_labels)
        self.num_images += len(added)

    def compute(self) -> dict:
        """AP per class and mAP over the images so far.

        Returns
        -------
        dict with
        - ``ap``: (C,) float64, NaN for a class without (non-difficult) ground truth;
        - ``map``: the mean of the non-NaN APs (NaN if none);
        - ``recall``: (C,) float64, the recall at the end of the ranked list (NaN as ``ap``);
        - ``num_gt``: (C,) int64 non-difficult ground-truth boxes per class;
        - ``num_detections``: (C,) int64 detections per class that were scored (not ignored).
        """
        labels = np.concatenate(self._labels) if self._labels else np.zeros(0, np.int64)
        scores = np.concatenate(self._scores) if self._scores else np.zeros(0)
        tp = np.concatenate(self._tp) if self._tp else np.zeros(0, bool)
        gt_labels = (np.concatenate(self._gt_labels) if self._gt_labels
                     else np.zeros(0, np.int64))
        num_classes = self.num_classes
        if num_classes is None:
            num_classes = int(max(labels.max(initial=-1), gt_labels.max(initial=-1))) + 1
            num_classes = max(num_classes, 1)
        num_gt = np.bincount(gt_labels, minlength=num_classes)
        # Rank every detection: by class, then by score (highest first); stable sorts keep image
        # order, then the order inside an image, for equal scores.
        order = np.argsort(-scores, kind="stable")
        order = order[np.argsort(labels[order], kind="stable")]
        labels, tp = labels[order], tp[order]
        bounds = np.searchsorted(labels, np.arange(num_classes + 1))    # class c: bounds[c:c+2]
        ap = np.full(num_classes, np.nan)
        recall = np.full(num_classes, np.nan)
        for c in np.flatnonzero(num_gt):
            hits = tp[bounds[c]:bounds[c + 1]]                          # (K,) ranked list of c
            tp_sum = np.cumsum(hits)
            fp_sum = np.cumsum(~hits)
            rec = tp_sum / num_gt[c]
            prec = tp_sum / np.maximum(tp_sum + fp_sum, 1)
            ap[c] = voc_ap(rec, prec, self.use_07_metric)
            recall[c] = rec[-1] if rec.size else 0.0
        kept = ap[~np.isnan(ap)]
        return {"ap": ap, "map": float(kept.mean()) if kept.size else float("nan"),
                "recall": recall, "num_gt": num_gt.astype(np.int64),
                "num_detections": np.diff(bounds).astype(np.int64)}

    def table(self) -> str:
        """AP per class (in %, "-" for a class without ground truth) and the mAP line."""
        result = self.compute()
        n = result["ap"].size
        names = self.class_names or tuple(str(c) for c in range(n))
        width = max([len("class")] + [len(name) for name in names])

        def percent(value):
            return "-" if np.isnan(value) else f"{100 * value:.2f}"
        lines = [f"{'class':<{width}}  {'AP %':>7}  {'recall %':>8}  {'gt':>6}  {'dets':>7}"]
        for c in range(n):
            lines.append(f"{names[c]:<{width}}  {percent(result['ap'][c]):>7}  "
                         f"{percent(result['recall'][c]):>8}  {result['num_gt'][c]:>6}  "
                         f"{result['num_detections'][c]:>7}")
        metric = "VOC2007 11-point" if self.use_07_metric else "VOC2010+ area"
        lines += ["", f"mAP @ IoU {self.iou_threshold:g} ({metric}): "
                      f"{percent(result['map'])} %"]
        return "\n".join(lines)


def voc_evaluate(pred_boxes, pred_labels, pred_scores, gt_boxes, gt_labels, gt_difficult=None,
                 iou_threshold: float = 0.5, use_07_metric: bool = False,
                 num_classes: int | None = None) -> dict:
    """VOC AP per class and mAP of a set of images.

    Parameters
    ----------
    pred_boxes : list of (D_i, 4) arrays, one per image (x1, y1, x2, y2, continuous)
    pred_labels : list of (D_i,) integer arrays
    pred_scores : list of (D_i,) float arrays
    gt_boxes : list of (G_i, 4) arrays
    gt_labels : list of (G_i,) integer arrays
    gt_difficult : list of (G_i,) bool arrays, optional
        VOC's 'difficult' flags: such a box counts neither as a TP nor as a miss.
    iou_threshold, use_07_metric, num_classes
        See :class:`VOCEvaluator`.

    Returns
    -------
    dict from :meth:`VOCEvaluator.compute`: ``ap`` (C,), ``map``, ``recall`` (C,),
    ``num_gt`` (C,), ``num_detections`` (C,).

    Examples
    --------
    One image with one box of class 1, found once and then missed by a second detection
    elsewhere (a lower score, so it does not hurt AP):

    >>> result = voc_evaluate([np.array([[0, 0, 4, 4], [5, 5, 9, 9]])], [np.array([1, 1])],
    ...                       [np.array([0.9, 0.3])], [np.array([[0, 0, 4, 4]])],
    ...                       [np.array([1])])
    >>> result["ap"]                      # background (0) has no ground truth: NaN
    array([nan,  1.])
    """
    lists = {"pred_boxes": pred_boxes, "pred_labels": pred_labels, "pred_scores": pred_scores,
             "gt_boxes": gt_boxes, "gt_labels": gt_labels}
    if gt_difficult is not None:
        lists["gt_difficult"] = gt_difficult
    lengths = {name: len(value) for name, value in lists.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"voc_evaluate: the per-image lists must have one entry per image, got "
                         f"lengths {lengths}")
    n = lengths["pred_boxes"]
    preds = [{"boxes": pred_boxes[i], "labels": pred_labels[i], "scores": pred_scores[i]}
             for i in range(n)]
    targets = [{"boxes": gt_boxes[i], "labels": gt_labels[i]} for i in range(n)]
    if gt_difficult is not None:
        for target, difficult in zip(targets, gt_difficult):
            target["difficult"] = difficult
    evaluator = VOCEvaluator(num_classes, iou_threshold, use_07_metric)
    evaluator.update(preds, targets)
    return evaluator.compute()
