"""COCO detection metrics: AP and AR over IoU thresholds, object sizes and detection budgets,
for boxes ('bbox') and instance masks ('segm').

The definitions are pycocotools' (COCOeval), reproduced number for number without depending on
it. Notation: T = 10 IoU thresholds 0.50, 0.55, ..., 0.95; R = 101 recall levels 0, 0.01, ...,
1; K categories (labels); A = 4 area ranges; M = 3 detection budgets (maxDets 1, 10, 100).

Per image and category
----------------------
- Detections are ranked by score (stable) and only the first 100 (the largest maxDets) of each
  (image, category) are kept -- a budget per category, not per image.
- IoU of a detection d with a ground-truth object g: |d & g| / |d | g| for boxes (continuous
  coordinates, no "+1") or for masks (pixel counts); for a *crowd* region g ("iscrowd", a group
  of objects annotated as one) it is |d & g| / |d|, so a detection inside the crowd overlaps it
  fully however small it is.
- Area ranges: all [0, 1e10], small [0, 32^2], medium [32^2, 96^2], large [96^2, 1e10] (both
  ends inclusive, in pixels). A ground-truth object is *ignored* if it is a crowd or its area is
  outside the range. Area is the target's "area" when given (COCO's annotation field, the mask
  area even for box evaluation), else the box area ('bbox') or the mask's pixel count ('segm');
  a detection's area is its box's or its mask's.
- Greedy matching, separately at each threshold t and area range: in score order each detection
  takes, among the objects not yet taken (crowds can be taken any number of times) with IoU >= t,
  the one of highest IoU (the last one on ties) -- preferring any non-ignored object to every
  ignored one. Unlike VOC, a detection whose best object is taken falls back to the next.
- A detection matched to an ignored object is ignored (neither TP nor FP); an unmatched detection
  whose area is outside the range is ignored too; every other unmatched detection is an FP.

Accumulating
------------
For each (category, area range, maxDets m): the first m detections of every image, ranked by
score over all images; recall = TP / n_pos and precision = TP / (TP + FP) along that list, with
n_pos the non-ignored objects. Precision is made monotone (the envelope, as in VOC) and read at
the R recall levels (the first point of recall >= level; 0 beyond the largest recall reached):
``precision`` (T, R, K, A, M). ``recall`` (T, K, A, M) is the recall at the end of the list.
A category without non-ignored objects is -1 there and left out of every mean.

The 12 summary numbers are means over the entries that are not -1: AP (over T, R, K) at IoU
0.50:0.95, at 0.50, at 0.75, for small, medium and large objects (maxDets 100); AR (over T, K)
with maxDets 1, 10, 100, and for small, medium, large.

How it is vectorised
--------------------
:meth:`COCOEvaluator.update` computes, for each image, the IoU matrix of its detections and
objects at once and keeps only the pairs of the same category with IoU >= 0.5 (no pair below the
lowest threshold can ever match). The matching is sequential only within an (image, category):
the k-th ranked detection depends on what the first k - 1 took. So :meth:`COCOEvaluator.compute`
loops over the rank k (at most 100 steps) and, at each step, decides the k-th detection of
*every* (image, category) at once, for all T thresholds and A area ranges together, with array
operations on the candidate pairs.

References: Lin et al., "Microsoft COCO: Common Objects in Context", ECCV 2014; the COCO API,
cocoapi/PythonAPI/pycocotools/cocoeval.py (evaluateImg, accumulate, summarize) and
cocoapi/common/maskApi.c (bbIou, rleIou).
"""
from __future__ import annotations

import sys

import numpy as np

from minicv.metrics.detection import (_boxes, _check_pairs, _host, _image_list, _key,
                                      _vector)

__all__ = ["COCOEvaluator", "coco_evaluate", "box_overlaps", "mask_overlaps", "summary_lines",
           "IOU_THRESHOLDS", "RECALL_THRESHOLDS", "MAX_DETS", "AREA_RANGES", "SUMMARY"]

# pycocotools' parameters, computed with the same expressions so that the floats are the same
# (np.arange would make 0.55 slightly larger than np.linspace does).
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
MAX_DETS = (1, 10, 100)
AREA_RANGES = {"all": (0.0, 1e5 ** 2), "small": (0.0, 32.0 ** 2), "medium": (32.0 ** 2, 96.0 ** 2),
               "large": (96.0 ** 2, 1e5 ** 2)}

# The 12 summary lines: (AP or AR, IoU threshold or None for all, area range, maxDets)
SUMMARY = (("AP", None, "all", 100), ("AP", 0.5, "all", 100), ("AP", 0.75, "all", 100),
           ("AP", None, "small", 100), ("AP", None, "medium", 100), ("AP", None, "large", 100),
           ("AR", None, "all", 1), ("AR", None, "all", 10), ("AR", None, "all", 100),
           ("AR", None, "small", 100), ("AR", None, "medium", 100), ("AR", None, "large", 100))

IOU_TYPES = ("bbox", "segm")

# What COCOEvaluator keeps, per detection, per object and per candidate pair (name: dtype)
_DET_FIELDS = {"label": np.int64, "score": np.float64, "area": np.float64,
               "rank": np.int64,      # position in its (image, category) by score, 0 = best
               "image": np.int64}     # the order in which images were added
_GT_FIELDS = {"label": np.int64, "area": np.float64, "iscrowd": bool}
_PAIR_FIELDS = {"det": np.int64, "gt": np.int64, "iou": np.float64}   # global indices


def _concatenate(parts: dict, fields: dict) -> dict:
    """Per-image lists of arrays joined into one array per field."""
    return {name: np.concatenate(parts[name]) if parts[name] else np.zeros(0, dtype)
            for name, dtype in fields.items()}


# ---------------------------------------------------------------------------------------------
# Overlaps of one image
# ---------------------------------------------------------------------------------------------
def _divide_or_zero(inter: np.ndarray, union: np.ndarray) -> np.ndarray:
    """inter / union, 0 where nothing overlaps (so an empty union never divides)."""
    out = np.zeros(inter.shape)
    np.divide(inter, union, out=out, where=inter > 0)
    return out


def box_overlaps(dt_boxes: np.ndarray, gt_boxes: np.ndarray, gt_iscrowd: np.ndarray):
    """(D, G) IoU of detections and objects; for a crowd object, intersection / detection area.

    Boxes are (x1, y1, x2, y2) float64; the arithmetic is maskApi.c's bbIou, operation for
    operation (union = (area_d + area_g) - inter).
    """
    dt_area = (dt_boxes[:, 2] - dt_boxes[:, 0]) * (dt_boxes[:, 3] - dt_boxes[:, 1])   # (D,)
    gt_area = (gt_boxes[:, 2] - gt_boxes[:, 0]) * (gt_boxes[:, 3] - gt_boxes[:, 1])   # (G,)
    w = (np.minimum(dt_boxes[:, None, 2], gt_boxes[None, :, 2])
         - np.maximum(dt_boxes[:, None, 0], gt_boxes[None, :, 0])).clip(min=0)        # (D, G)
    h = (np.minimum(dt_boxes[:, None, 3], gt_boxes[None, :, 3])
         - np.maximum(dt_boxes[:, None, 1], gt_boxes[None, :, 1])).clip(min=0)        # (D, G)
    inter = w * h
    union = np.where(gt_iscrowd[None, :], dt_area[:, None],
                     dt_area[:, None] + gt_area[None, :] - inter)                     # (D, G)
    return _divide_or_zero(inter, union)


def mask_overlaps(dt_masks: np.ndarray, gt_masks: np.ndarray, gt_iscrowd: np.ndarray):
    """(D, G) IoU of bool masks (D, H, W) and (G, H, W) by pixel counts; crowd as above.

    Every intersection at once is one matrix product of the flattened masks:
    inter[d, g] = sum_p dt[d, p] * gt[g, p]. The counts are integers, exact in float32 while
    they stay below 2^24 pixels (a 4096 x 4096 image), so float32 is used up to there.
    """
    pixels = dt_masks.shape[1] * dt_masks.shape[2]
    dtype = np.float32 if pixels < 2 ** 24 else np.float64
    dt_flat = dt_masks.reshape(dt_masks.shape[0], pixels)                  # (D, H*W)
    gt_flat = gt_masks.reshape(gt_masks.shape[0], pixels)                  # (G, H*W)
    # A contiguous (H*W, G) right operand: OpenBLAS is several times slower on the transposed
    # view gt_flat.T for these tall-and-thin shapes.
    gt_columns = np.ascontiguousarray(gt_flat.T, dtype=dtype)              # (H*W, G)
    inter = (dt_flat.astype(dtype) @ gt_columns).astype(np.float64)       # (D, G) exact counts
    dt_area = np.count_nonzero(dt_flat, axis=1).astype(np.float64)        # (D,)
    gt_area = np.count_nonzero(gt_flat, axis=1).astype(np.float64)        # (G,)
    union = np.where(gt_iscrowd[None, :], dt_area[:, None],
                     dt_area[:, None] + gt_area[None, :] - inter)
    return _divide_or_zero(inter, union)


def _masks(op: str, where: str, masks, n: int, size=None) -> np.ndarray:
    """(n, H, W) bool masks (and of size ``size`` when given)."""
    masks = _host(masks)
    if masks.ndim != 3 or masks.shape[0] != n or (size is not None and masks.shape[1:] != size):
        expected = f"({n}, {size[0]}, {size[1]})" if size is not None else f"({n}, H, W)"
        raise ValueError(f"{op}: {where} masks must have shape {expected}, got {masks.shape}")
    if masks.dtype != bool:
        raise TypeError(f"{op}: {where} masks must be bool (threshold soft masks first, e.g. "
                        f"probabilities > 0.5), got dtype {masks.dtype}")
    return masks


def _area_outside(area: np.ndarray) -> np.ndarray:
    """(A, N) bool: area outside each range (both ends inclusive, as pycocotools)."""
    low = np.array([r[0] for r in AREA_RANGES.values()])[:, None]          # (A, 1)
    high = np.array([r[1] for r in AREA_RANGES.values()])[:, None]
    return (area[None, :] < low) | (area[None, :] > high)


# ---------------------------------------------------------------------------------------------
# The evaluator
# ---------------------------------------------------------------------------------------------
class COCOEvaluator:
    """Accumulate detections image by image; compute COCO AP/AR and print the 12-line summary.

    Parameters
    ----------
    iou_type : {"bbox", "segm"}
        Overlap of boxes or of instance masks.

    Each :meth:`update` takes per-image predictions and targets in minicv's detection format,
    as lists (one dict per image) or one dict for one image:

    - prediction: ``"boxes"`` (D, 4) x1, y1, x2, y2 (for 'bbox'), ``"masks"`` (D, H, W) bool
      (for 'segm'), ``"labels"`` (D,) int, ``"scores"`` (D,) float;
    - target: ``"boxes"`` (G, 4) or ``"masks"`` (G, H, W) bool, ``"labels"`` (G,),
      ``"iscrowd"`` (G,) bool (optional, default all False), ``"area"`` (G,) (optional, see the
      module docstring).

    Only the candidate pairs (IoU >= 0.5) and a few numbers per detection and object are kept,
    so masks are never stored.

    Examples
    --------
    >>> ev = COCOEvaluator("bbox")
    >>> ev.update({"boxes": np.array([[0.0, 0, 40, 40]]), "labels": np.array([1]),
    ...            "scores": np.array([0.9])},
    ...           {"boxes": np.array([[0.0, 0, 40, 40]]), "labels": np.array([1])})
    >>> stats = ev.summarize(verbose=False)
    >>> stats[:3]                     # AP, AP50, AP75: a perfect medium-sized detection
    array([1., 1., 1.])
    >>> float(stats[3])               # no small objects: -1, as pycocotools
    -1.0
    """

    def __init__(self, iou_type: str = "bbox"):
        if iou_type not in IOU_TYPES:
            raise ValueError(f"COCOEvaluator: iou_type must be one of {IOU_TYPES}, got "
                             f"{iou_type!r}")
        self.iou_type = iou_type
        self.reset()

    def reset(self) -> None:
        """Forget every image seen so far."""
        self.num_images = 0
        self._num_dets = 0          # detections kept so far: the next one's global index
        self._num_gts = 0
        self._dets = {name: [] for name in _DET_FIELDS}        # lists of per-image arrays
        self._gts = {name: [] for name in _GT_FIELDS}
        self._pairs = {name: [] for name in _PAIR_FIELDS}

    # -- reading one image ----------------------------------------------------------------
    def _read(self, op: str, where: str, pred: dict, target: dict):
        """The arrays of one image, checked: (dt regions, labels, scores, areas) and
        (gt regions, labels, areas, iscrowd); regions are boxes or masks."""
        field = "boxes" if self.iou_type == "bbox" else "masks"
        if self.iou_type == "bbox":
            dt = _boxes(op, f"{where} pred", _key(op, f"{where} pred", pred, field))
            gt = _boxes(op, f"{where} target", _key(op, f"{where} target", target, field))
            d, g = dt.shape[0], gt.shape[0]
        else:
            gt_raw = _host(_key(op, f"{where} target", target, field))
            g = gt_raw.shape[0] if gt_raw.ndim == 3 else 0
            dt_raw = _host(_key(op, f"{where} pred", pred, field))
            d = dt_raw.shape[0] if dt_raw.ndim == 3 else 0
            size = gt_raw.shape[1:] if gt_raw.ndim == 3 else None
            gt = _masks(op, f"{where} target", gt_raw, g)
            dt = _masks(op, f"{where} pred", dt_raw, d, size)
        dt_labels = _vector(op, where, "pred labels", _key(op, f"{where} pred", pred, "labels"),
                            d, "i")
        dt_scores = _vector(op, where, "pred scores", _key(op, f"{where} pred", pred, "scores"),
                            d, "f")
        gt_labels = _vector(op, where, "target labels",
                            _key(op, f"{where} target", target, "labels"), g, "i")
        iscrowd = target.get("iscrowd")
        gt_iscrowd = (np.zeros(g, dtype=bool) if iscrowd is None
                      else _vector(op, where, "target iscrowd", iscrowd, g, "b"))
        if self.iou_type == "bbox":
            dt_area = (dt[:, 2] - dt[:, 0]) * (dt[:, 3] - dt[:, 1])
            gt_area = (gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])
        else:
            dt_area = np.count_nonzero(dt, axis=(1, 2)).astype(np.float64)
            gt_area = np.count_nonzero(gt, axis=(1, 2)).astype(np.float64)
        if target.get("area") is not None:
            gt_area = _vector(op, where, "target area", target["area"], g, "f")
        return (dt, dt_labels, dt_scores, dt_area), (gt, gt_labels, gt_area, gt_iscrowd)

    def update(self, preds, targets) -> None:
        """Add some images (lists of per-image dicts, or one dict each); see the class doc."""
        op = "COCOEvaluator.update"
        preds, targets = _image_list(op, "preds", preds), _image_list(op, "targets", targets)
        _check_pairs(op, preds, targets)
        images = [self._read(op, f"image {self.num_images + i}", pred, target)
                  for i, (pred, target) in enumerate(zip(preds, targets))]   # check all first
        budget = MAX_DETS[-1]
        for (dt, dt_labels, dt_scores, dt_area), (gt, gt_labels, gt_area, gt_iscrowd) in images:
            # Rank the detections within each category by score (stable), keep the first 100.
            order = np.argsort(-dt_scores, kind="stable")
            order = order[np.argsort(dt_labels[order], kind="stable")]      # (D,) by category
            labels = dt_labels[order]
            first_of_label = np.searchsorted(labels, labels, side="left")
            ranks = np.arange(labels.size) - first_of_label                 # (D,) 0 = best
            order = order[ranks < budget]
            ranks = ranks[ranks < budget]
            dt, labels = dt[order], dt_labels[order]
            if dt.shape[0] and gt.shape[0]:
                overlap = box_overlaps if self.iou_type == "bbox" else mask_overlaps
                iou = overlap(dt, gt, gt_iscrowd)                           # (D, G)
                candidate = ((labels[:, None] == gt_labels[None, :])
                             & (iou >= IOU_THRESHOLDS[0]))
                d_index, g_index = np.nonzero(candidate)    # by detection, then object order
                for name, values in (("det", d_index + self._num_dets),
                                     ("gt", g_index + self._num_gts),
                                     ("iou", iou[d_index, g_index])):
                    self._pairs[name].append(values)
            for name, values in (("label", labels), ("score", dt_scores[order]),
                                 ("area", dt_area[order]), ("rank", ranks),
                                 ("image", np.full(labels.size, self.num_images))):
                self._dets[name].append(values)
            for name, values in (("label", gt_labels), ("area", gt_area),
                                 ("iscrowd", gt_iscrowd)):
                self._gts[name].append(values)
            self._num_dets += labels.size
            self._num_gts += gt_labels.size
            self.num_images += 1

    # -- matching ---------------------------------------------------------------------------
    def _match(self, ranks, pairs, gt_ignored, gt_iscrowd):
        """Greedy matching at every threshold and area range: (T, A, N_det) ``matched`` and
        ``matched_ignored`` (matched to an ignored object)."""
        num_dets = ranks.size
        num_gts = gt_iscrowd.size
        t, a = IOU_THRESHOLDS.size, len(AREA_RANGES)
        matched = np.zeros((t, a, num_dets), dtype=bool)
        matched_ignored = np.zeros((t, a, num_dets), dtype=bool)
        taken = np.zeros((t, a, num_gts), dtype=bool)                       # per threshold/range
        pair_det, pair_gt, pair_iou = pairs
        if pair_det.size == 0:                                  # nothing overlaps enough
            return matched, matched_ignored
        by_rank = np.argsort(ranks[pair_det], kind="stable")      # keeps (det, gt) order inside
        pair_det, pair_gt, pair_iou = pair_det[by_rank], pair_gt[by_rank], pair_iou[by_rank]
        rank_bounds = np.flatnonzero(np.diff(ranks[pair_det])) + 1
        for start, stop in zip(np.r_[0, rank_bounds], np.r_[rank_bounds, pair_det.size]):
            # The pairs of the k-th detection of every (image, category): independent groups.
            det, gt, iou = pair_det[start:stop], pair_gt[start:stop], pair_iou[start:stop]
            n = det.size
            first = np.r_[0, np.flatnonzero(np.diff(det)) + 1]              # (Dk,) each det
            owner = np.cumsum(np.r_[False, np.diff(det) != 0])             # (n,) its det 0..Dk-1
            passes = iou[None, :] >= IOU_THRESHOLDS[:, None]                # (T, n)
            free = ~taken[:, :, gt] | gt_iscrowd[gt]                        # (T, A, n)
            eligible = passes[:, None, :] & free                            # (T, A, n)
            regular = ~gt_ignored[:, gt]                                    # (A, n)
            # Any eligible non-ignored object wins over every ignored one.
            has_regular = np.logical_or.reduceat(eligible & regular, first, axis=2)  # (T,A,Dk)
            allowed = eligible & (regular == has_regular[:, :, owner])      # (T, A, n)
            key = np.where(allowed, iou, -1.0)
            best = np.maximum.reduceat(key, first, axis=2)                  # (T, A, Dk)
            is_best = allowed & (key == best[:, :, owner])
            # The last pair of highest IoU (pycocotools keeps replacing on ties).
            chosen = np.maximum.reduceat(np.where(is_best, np.arange(n), -1), first, axis=2)
            ti, ai, di = np.nonzero(chosen >= 0)
            pair = chosen[ti, ai, di]
            taken[ti, ai, gt[pair]] = True
            matched[ti, ai, det[first[di]]] = True
            matched_ignored[ti, ai, det[first[di]]] = gt_ignored[ai, gt[pair]]
        return matched, matched_ignored

    def compute(self) -> dict:
        """Match and accumulate the images so far.

        Returns
        -------
        dict with
        - ``precision``: (T, R, K, A, M) float64, -1 for a category without objects;
        - ``recall``: (T, K, A, M) float64, -1 likewise;
        - ``labels``: (K,) the categories (every label seen in predictions or targets);
        - ``ap``: (K,) AP at IoU 0.50:0.95, all areas, 100 detections (NaN without objects);
        - ``stats``: (12,) the summary numbers (see :data:`SUMMARY`).
        """
        dets = _concatenate(self._dets, _DET_FIELDS)
        gts = _concatenate(self._gts, _GT_FIELDS)
        pairs = _concatenate(self._pairs, _PAIR_FIELDS)
        dt_labels, dt_scores, dt_area, ranks = (dets[k] for k in ("label", "score", "area",
                                                                  "rank"))
        gt_labels, gt_area, gt_iscrowd = gts["label"], gts["area"], gts["iscrowd"]
        gt_ignored = gt_iscrowd[None, :] | _area_outside(gt_area)           # (A, N_gt)
        matched, matched_ignored = self._match(ranks, (pairs["det"], pairs["gt"], pairs["iou"]),
                                               gt_ignored, gt_iscrowd)
        # An unmatched detection outside the area range is ignored, not a false positive.
        dt_ignored = matched_ignored | (~matched & _area_outside(dt_area)[None])    # (T, A, N)
        tps = matched & ~dt_ignored
        fps = ~matched & ~dt_ignored

        labels = np.unique(np.concatenate([gt_labels, dt_labels]))
        t, r, k, a, m = (IOU_THRESHOLDS.size, RECALL_THRESHOLDS.size, labels.size,
                         len(AREA_RANGES), len(MAX_DETS))
        precision = -np.ones((t, r, k, a, m))
        recall = -np.ones((t, k, a, m))
        # Rank every detection: by category, score (highest first), image, rank in its image.
        order = np.lexsort((ranks, dets["image"], -dt_scores, dt_labels))
        bounds = np.searchsorted(dt_labels[order], np.r_[labels, np.iinfo(np.int64).max])
        positives = np.stack([np.bincount(gt_labels[~ignored], minlength=labels.max(initial=0)
                                          + 1) for ignored in gt_ignored])  # (A, max label + 1)
        for ki, label in enumerate(labels):
            ranked = order[bounds[ki]:bounds[ki + 1]]                      # category's detections
            for ai in range(a):
                n_pos = positives[ai, label]
                if n_pos == 0:
                    continue
                for mi, max_dets in enumerate(MAX_DETS):
                    chosen = ranked[ranks[ranked] < max_dets]
                    tp_sum = np.cumsum(tps[:, ai, chosen], axis=1).astype(float)   # (T, n)
                    fp_sum = np.cumsum(fps[:, ai, chosen], axis=1).astype(float)
                    precision[:, :, ki, ai, mi], recall[:, ki, ai, mi] = _precision_at_recalls(
                        tp_sum, fp_sum, n_pos)
        stats = np.array([_summarize(precision, recall, *line) for line in SUMMARY])
        all_area, most = list(AREA_RANGES).index("all"), MAX_DETS.index(100)
        per_label = precision[:, :, :, all_area, most]                    # (T, R, K)
        counted = (per_label > -1).sum(axis=(0, 1))                       # (K,)
        total = np.where(per_label > -1, per_label, 0).sum(axis=(0, 1))
        ap = np.full(k, np.nan)
        np.divide(total, counted, out=ap, where=counted > 0)
        return {"precision": precision, "recall": recall, "labels": labels, "ap": ap,
                "stats": stats}

    def summarize(self, verbose: bool = True, file=None) -> np.ndarray:
        """Compute, print pycocotools' 12-line summary (when ``verbose``), return the (12,)
        numbers: AP, AP50, AP75, AP small/medium/large, AR 1/10/100, AR small/medium/large."""
        stats = self.compute()["stats"]
        if verbose:
            print("\n".join(summary_lines(stats)), file=file or sys.stdout)
        return stats


def _precision_at_recalls(tp_sum: np.ndarray, fp_sum: np.ndarray, n_pos: int):
    """(T, R) interpolated precision at the recall levels and (T,) final recall of one ranked
    list, from its cumulative (T, n) TP and FP counts; pycocotools' arithmetic."""
    t, n = tp_sum.shape
    if n == 0:
        return np.zeros((t, RECALL_THRESHOLDS.size)), np.zeros(t)
    rc = tp_sum / n_pos
    pr = tp_sum / (fp_sum + tp_sum + np.spacing(1))
    envelope = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]        # (T, n)
    q = np.zeros((t, RECALL_THRESHOLDS.size))
    for ti in range(t):     # searchsorted is one-dimensional; T = 10 calls
        first = np.searchsorted(rc[ti], RECALL_THRESHOLDS, side="left")  # (R,) first rc >= level
        reached = first < n
        q[ti, reached] = envelope[ti, first[reached]]
    return q, rc[:, -1]


def _summarize(precision, recall, kind, iou, area, max_dets) -> float:
    """One summary number: the mean of the entries that are not -1 (-1 if there are none)."""
    a, m = list(AREA_RANGES).index(area), MAX_DETS.index(max_dets)
    values = precision[:, :, :, a, m] if kind == "AP" else recall[:, :, a, m]
    if iou is not None:
        values = values[np.flatnonzero(IOU_THRESHOLDS == iou)]
    values = values[values > -1]
    return float(values.mean()) if values.size else -1.0


def summary_lines(stats) -> list:
    """pycocotools' 12 lines for the (12,) ``stats``, character for character."""
    lines = []
    for value, (kind, iou, area, max_dets) in zip(stats, SUMMARY):
        title = "Average Precision" if kind == "AP" else "Average Recall"
        iou_text = (f"{IOU_THRESHOLDS[0]:0.2f}:{IOU_THRESHOLDS[-1]:0.2f}" if iou is None
                    else f"{iou:0.2f}")
        lines.append(f" {title:<18} ({kind}) @[ IoU={iou_text:<9} | area={area:>6s} | "
                     f"maxDets={max_dets:>3d} ] = {value:0.3f}")
    return lines


def coco_evaluate(preds, targets, iou_type: str = "bbox", verbose: bool = False) -> np.ndarray:
    """The 12 COCO summary numbers of a list of per-image predictions and targets.

    ``preds`` and ``targets``: lists of dicts as :class:`COCOEvaluator` takes them. With
    ``verbose`` the 12-line summary is printed. Returns (12,) float64.

    >>> box = {"boxes": np.array([[0.0, 0, 10, 10]]), "labels": np.array([1])}
    >>> coco_evaluate([{**box, "scores": np.array([1.0])}], [box])[[0, 3, 6]]   # all small
    array([1., 1., 1.])
    """
    evaluator = COCOEvaluator(iou_type)
    evaluator.update(preds, targets)
    return evaluator.summarize(verbose=verbose)
