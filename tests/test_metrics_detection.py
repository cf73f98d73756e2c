"""minicv.metrics.detection (VOC AP): hand-worked curves, a devkit-style loop reference, errors."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minicv import Tensor
from minicv.metrics import VOCEvaluator, voc_ap, voc_evaluate


def pred(boxes, labels, scores):
    return {"boxes": np.array(boxes, dtype=np.float32).reshape(-1, 4),
            "labels": np.array(labels, dtype=np.int64), "scores": np.array(scores)}


def target(boxes, labels, difficult=None):
    out = {"boxes": np.array(boxes, dtype=np.float32).reshape(-1, 4),
           "labels": np.array(labels, dtype=np.int64)}
    if difficult is not None:
        out["difficult"] = np.array(difficult, dtype=bool)
    return out


# ---------------------------------------------------------------------------------------------
# The slow reference: the devkit's loop (py-faster-rcnn's voc_eval.py with IoU >= threshold,
# continuous boxes, exact k/10 recall levels)
# ---------------------------------------------------------------------------------------------
def iou_loop(a, b):
    w = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0)
    h = max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def voc_reference(preds, targets, num_classes, threshold=0.5, use_07_metric=False):
    aps = []
    for c in range(num_classes):
        gts, npos = [], 0
        for t in targets:
            difficult = t.get("difficult", np.zeros(len(t["labels"]), bool))
            mine = [(box, bool(diff)) for box, label, diff
                    in zip(t["boxes"].astype(float), t["labels"], difficult) if label == c]
            npos += sum(not diff for _, diff in mine)
            gts.append({"boxes": [b for b, _ in mine], "difficult": [d for _, d in mine],
                        "taken": [False] * len(mine)})
        dets = [(float(s), i, box) for i, p in enumerate(preds)
                for box, label, s in zip(p["boxes"].astype(float), p["labels"], p["scores"])
                if label == c]
        dets = sorted(dets, key=lambda d: -d[0])          # Python's sort is stable
        tp, fp = [], []
        for _, i, box in dets:
            g = gts[i]
            best, jmax = -np.inf, -1
            for j, gt_box in enumerate(g["boxes"]):
                o = iou_loop(box, gt_box)
                if o > best:
                    best, jmax = o, j
            if best >= threshold:
                if g["difficult"][jmax]:
                    tp.append(0), fp.append(0)        # neither
                elif not g["taken"][jmax]:
                    tp.append(1), fp.append(0)
                    g["taken"][jmax] = True
                else:
                    tp.append(0), fp.append(1)
            else:
                tp.append(0), fp.append(1)
        if npos == 0:
            aps.append(np.nan)
            continue
        tp, fp = np.cumsum(tp, dtype=float), np.cumsum(fp, dtype=float)
        rec = tp / npos
        prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
        if use_07_metric:
            ap = 0.0
            for level in range(11):
                reached = prec[rec >= level / 10]
                ap += (reached.max() if reached.size else 0.0) / 11
        else:
            mrec = [0.0, *rec, 1.0]
            mpre = [0.0, *prec, 0.0]
            for k in range(len(mpre) - 1, 0, -1):
                mpre[k - 1] = max(mpre[k - 1], mpre[k])
            ap = sum((mrec[k + 1] - mrec[k]) * mpre[k + 1] for k in range(len(mrec) - 1)
                     if mrec[k + 1] != mrec[k])
        aps.append(ap)
    return np.array(aps)


# ---------------------------------------------------------------------------------------------
# Hand-worked cases
# ---------------------------------------------------------------------------------------------
# Class 1 in two images, 3 boxes that count (n_pos = 3) and one difficult box.
HAND_TARGETS = [target([[0, 0, 10, 10], [20, 20, 30, 30]], [1, 1]),
                target([[0, 0, 10, 10], [50, 50, 60, 60]], [1, 1], difficult=[False, True])]
HAND_PREDS = [pred([[0, 0, 10, 10],        # 0.9  TP (first box)
                    [1, 0, 10, 10],        # 0.7  IoU 0.9 with the first box, taken: FP
                    [40, 40, 50, 50],      # 0.6  on nothing: FP
                    [20, 20, 30, 35]],     # 0.5  IoU 100/150 with the second box: TP
                   [1, 1, 1, 1], [0.9, 0.7, 0.6, 0.5]),
              pred([[0, 0, 10, 10],        # 0.8  TP
                    [50, 50, 60, 60]],     # 0.65 the difficult box: ignored
                   [1, 1], [0.8, 0.65])]
# Ranked: TP TP FP FP TP -> recall 1/3 2/3 2/3 2/3 1, precision 1 1 2/3 1/2 3/5
HAND_AP = 1 / 3 * 1 + 1 / 3 * 1 + 1 / 3 * 0.6              # envelope 1, 1, 0.6
HAND_AP07 = (7 * 1 + 4 * 0.6) / 11                          # levels 0-0.6 -> 1, 0.7-1 -> 0.6


def test_hand_worked_ap_area_and_11_point():
    result = voc_evaluate([p["boxes"] for p in HAND_PREDS], [p["labels"] for p in HAND_PREDS],
                          [p["scores"] for p in HAND_PREDS], [t["boxes"] for t in HAND_TARGETS],
                          [t["labels"] for t in HAND_TARGETS],
                          [t["difficult"] if "difficult" in t else None for t in HAND_TARGETS])
    assert np.isnan(result["ap"][0])                        # background: no ground truth
    assert result["ap"][1] == pytest.approx(HAND_AP)
    assert result["map"] == pytest.approx(HAND_AP)
    assert result["recall"][1] == pytest.approx(1.0)
    np.testing.assert_array_equal(result["num_gt"], [0, 3])
    np.testing.assert_array_equal(result["num_detections"], [0, 5])   # the ignored one is out
    ev = VOCEvaluator(num_classes=2, use_07_metric=True)
    ev.update(HAND_PREDS, HAND_TARGETS)
    assert ev.compute()["ap"][1] == pytest.approx(HAND_AP07)


def test_voc_ap_curves_by_hand():
    # TP FP TP with n_pos 2 (the docstring's example) and a perfect list.
    assert voc_ap([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3]) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert voc_ap([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3], True) == pytest.approx((6 + 5 * 2 / 3) / 11)
    assert voc_ap([0.5, 1.0], [1.0, 1.0]) == 1.0
    assert voc_ap([], []) == 0.0 and voc_ap([], [], use_07_metric=True) == 0.0
    # Recall exactly 3/10 reaches the 0.3 level (the devkit's np.arange(0, 1.1, 0.1) misses it).
    assert voc_ap([0.3], [1.0], use_07_metric=True) == pytest.approx(4 / 11)


def test_no_fallback_to_the_second_best_box():
    # The second detection's best box (IoU 0.905) is taken; the other box (IoU 0.739) is free,
    # but VOC does not look at it: a false positive.
    t = target([[0, 0, 10, 10], [0, 2, 10, 12]], [1, 1])
    p = pred([[0, 0, 10, 10], [0, 0.5, 10, 10.5]], [1, 1], [0.9, 0.8])
    result = voc_evaluate([p["boxes"]], [p["labels"]], [p["scores"]], [t["boxes"]],
                          [t["labels"]])
    assert result["ap"][1] == pytest.approx(0.5)         # TP FP: recall 1/2 at precision 1


def test_a_detection_whose_best_box_is_difficult_is_ignored():
    # The difficult box overlaps the detection best, so it is ignored even though the other
    # box (IoU 0.6 >= 0.5) is free; that box is then a miss.
    t = target([[0, 0, 10, 10], [0, 0, 10, 6]], [1, 1], difficult=[True, False])
    p = pred([[0, 0, 10, 10]], [1], [0.9])
    ev = VOCEvaluator(2)
    ev.update(p, t)
    result = ev.compute()
    assert result["ap"][1] == 0.0 and result["num_detections"][1] == 0


def test_class_without_detections_is_zero_and_without_ground_truth_is_nan():
    targets = [target([[0, 0, 10, 10], [20, 20, 30, 30]], [1, 2])]
    preds = [pred([[0, 0, 10, 10], [20, 20, 30, 30]], [1, 3], [0.9, 0.8])]
    ev = VOCEvaluator(num_classes=4)
    ev.update(preds, targets)
    result = ev.compute()
    np.testing.assert_array_equal(result["ap"][1:3], [1.0, 0.0])  # 2 was never detected
    assert np.isnan(result["ap"][0]) and np.isnan(result["ap"][3])  # 3 has no ground truth
    assert result["map"] == pytest.approx(0.5)


def test_boxes_of_other_classes_never_match():
    targets = [target([[0, 0, 10, 10]], [2])]
    preds = [pred([[0, 0, 10, 10], [0, 0, 10, 10]], [1, 2], [0.9, 0.5])]
    result = VOCEvaluator(3)
    result.update(preds, targets)
    assert result.compute()["ap"][2] == 1.0           # the class-1 detection is not its FP


def test_equal_scores_keep_image_order():
    # Two images, each one box; the first image's detection misses, the second's hits. With equal
    # scores the first image ranks first: FP then TP, AP = 1/2 * 1/2.
    targets = [target([[0, 0, 10, 10]], [1]), target([[0, 0, 10, 10]], [1])]
    preds = [pred([[50, 50, 60, 60]], [1], [0.5]), pred([[0, 0, 10, 10]], [1], [0.5])]
    ev = VOCEvaluator(2)
    ev.update(preds, targets)
    assert ev.compute()["ap"][1] == pytest.approx(0.25)
    ev.reset()
    ev.update(preds[::-1], targets[::-1])
    assert ev.compute()["ap"][1] == pytest.approx(0.5)


def test_continuous_boxes_have_no_plus_one():
    # [0, 0, 10, 10] and [5, 0, 15, 10]: IoU 50 / 150 = 1/3 (the devkit's +1 would give 55/165).
    # At threshold 1/3 they match; a hair above, they do not.
    t = target([[0, 0, 10, 10]], [1])
    p = pred([[5, 0, 15, 10]], [1], [1.0])
    for threshold, ap in ((1 / 3, 1.0), (0.3334, 0.0)):
        ev = VOCEvaluator(2, iou_threshold=threshold)
        ev.update(p, t)
        assert ev.compute()["ap"][1] == ap


def random_images(rng, n_images, num_classes, max_gt=6, max_det=12, difficult=True):
    """Random ground truth and detections near it (jittered copies, duplicates, strays)."""
    preds, targets = [], []
    for _ in range(n_images):
        g = int(rng.integers(0, max_gt + 1))
        xy = rng.uniform(0, 80, (g, 2))
        gt_boxes = np.concatenate([xy, xy + rng.uniform(5, 40, (g, 2))], axis=1)
        gt_labels = rng.integers(1, num_classes, g)
        t = {"boxes": gt_boxes, "labels": gt_labels}
        if difficult:
            t["difficult"] = rng.random(g) < 0.2
        d = int(rng.integers(0, max_det + 1))
        src = rng.integers(0, max(g, 1), d)
        boxes = (gt_boxes[src] if g else rng.uniform(0, 80, (d, 4)))
        boxes = boxes + rng.normal(0, 3, (d, 4))
        stray = rng.random(d) < 0.3
        xy = rng.uniform(0, 80, (d, 2))
        boxes[stray] = np.concatenate([xy, xy + rng.uniform(5, 40, (d, 2))], axis=1)[stray]
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
        labels = np.where(rng.random(d) < 0.8, gt_labels[src] if g else 1,
                          rng.integers(1, num_classes, d))
        scores = np.round(rng.random(d), 1)           # many ties
        preds.append({"boxes": boxes, "labels": labels, "scores": scores})
        targets.append(t)
    return preds, targets


@given(seed=st.integers(0, 2**16), use_07_metric=st.booleans(),
       threshold=st.sampled_from([0.3, 0.5, 0.7]))
def test_matches_the_devkit_loop(seed, use_07_metric, threshold):
    rng = np.random.default_rng(seed)
    preds, targets = random_images(rng, n_images=8, num_classes=5)
    ev = VOCEvaluator(num_classes=5, iou_threshold=threshold, use_07_metric=use_07_metric)
    ev.update(preds[:3], targets[:3])
    ev.update(preds[3:], targets[3:])
    result = ev.compute()
    expected = voc_reference(preds, targets, 5, threshold, use_07_metric)
    np.testing.assert_allclose(result["ap"], expected, rtol=1e-12, atol=1e-12)
    assert result["map"] == pytest.approx(np.nanmean(expected)) if np.isfinite(
        expected).any() else np.isnan(result["map"])


def test_inputs_may_be_tensors_and_lists_and_the_gpu(xp):
    t = {"boxes": Tensor(np.array([[0.0, 0, 10, 10]])), "labels": [1]}
    p = {"boxes": xp.asarray([[0.0, 0, 10, 10]]), "labels": xp.asarray([1]),
         "scores": xp.asarray([0.5])}
    ev = VOCEvaluator()
    ev.update([p], [t])
    ev.update({"boxes": [], "labels": [], "scores": []}, {"boxes": [], "labels": []})
    assert ev.num_images == 2 and ev.compute()["ap"].tolist()[1] == 1.0


def test_table():
    ev = VOCEvaluator(num_classes=2, class_names=["background", "raccoon"])
    ev.update(HAND_PREDS, HAND_TARGETS)
    lines = ev.table().splitlines()
    assert lines[1].split() == ["background", "-", "-", "0", "0"]
    assert lines[2].split() == ["raccoon", f"{100 * HAND_AP:.2f}", "100.00", "3", "5"]
    assert lines[-1] == f"mAP @ IoU 0.5 (VOC2010+ area): {100 * HAND_AP:.2f} %"


def test_errors():
    ev = VOCEvaluator(num_classes=3)
    good_p, good_t = pred([[0, 0, 1, 1]], [1], [0.5]), target([[0, 0, 1, 1]], [1])
    with pytest.raises(ValueError, match=r"VOCEvaluator.update: 2 predictions but 1 targets"):
        ev.update([good_p, good_p], [good_t])
    with pytest.raises(ValueError, match=r"VOCEvaluator.update: image 0 pred boxes must have "
                                         r"shape \(K, 4\) \(x1, y1, x2, y2\), got \(1, 5\)"):
        ev.update({**good_p, "boxes": np.zeros((1, 5))}, good_t)
    with pytest.raises(ValueError, match=r"VOCEvaluator.update: image 0 pred scores must have "
                                         r"shape \(1,\) to match its 1 boxes, got \(2,\)"):
        ev.update({**good_p, "scores": np.zeros(2)}, good_t)
    with pytest.raises(TypeError, match=r"VOCEvaluator.update: image 0 target labels must be "
                                        r"integer class labels, got dtype float64"):
        ev.update(good_p, {**good_t, "labels": np.array([1.0])})
    with pytest.raises(ValueError, match=r"VOCEvaluator.update: image 0 pred labels must lie "
                                         r"in \[0, 3\), got 7"):
        ev.update({**good_p, "labels": np.array([7])}, good_t)
    with pytest.raises(ValueError, match=r"VOCEvaluator.update: image 0 pred has no 'scores'"):
        ev.update({"boxes": good_p["boxes"], "labels": good_p["labels"]}, good_t)
    with pytest.raises(ValueError, match=r"VOCEvaluator.update: image 0 target boxes must be "
                                         r"finite, got \[0.0, 0.0, nan, 1.0\]"):
        ev.update(good_p, {**good_t, "boxes": np.array([[0, 0, np.nan, 1]])})
    with pytest.raises(ValueError, match=r"voc_evaluate: the per-image lists must have one "
                                         r"entry per image"):
        voc_evaluate([good_p["boxes"]], [], [], [], [])
    with pytest.raises(ValueError, match=r"VOCEvaluator: iou_threshold must be in \(0, 1\], "
                                         r"got 1.5"):
        VOCEvaluator(iou_threshold=1.5)
    with pytest.raises(ValueError, match=r"VOCEvaluator.update: image 1 pred labels must lie"):
        ev.update([good_p, {**good_p, "labels": np.array([3])}], [good_t, good_t])
    assert ev.num_images == 0                       # nothing half-added by the failures
