"""minicv.metrics.coco: hand-worked AP/AR, crowd regions, area ranges, detection budgets, masks;
all twelve numbers against pycocotools when it is installed (skipped cleanly otherwise); the
`minicv bench metrics` suite on tiny sizes."""
import contextlib
import io

import numpy as np
import pytest

import minicv.bench.metrics as bench_metrics     # registers the suite "metrics"
from minicv.bench.metrics import synthetic_detections
from minicv.cli import main
from minicv.metrics import COCOEvaluator, coco_evaluate, voc_evaluate
from minicv.metrics.coco import box_overlaps, mask_overlaps, summary_lines

NO_AREA = -1.0       # pycocotools' value for a summary with nothing to average


def pred(boxes, labels, scores, **extra):
    return {"boxes": np.array(boxes, dtype=float).reshape(-1, 4),
            "labels": np.array(labels, dtype=np.int64), "scores": np.array(scores, float),
            **extra}


def target(boxes, labels, iscrowd=None, **extra):
    out = {"boxes": np.array(boxes, dtype=float).reshape(-1, 4),
           "labels": np.array(labels, dtype=np.int64), **extra}
    if iscrowd is not None:
        out["iscrowd"] = np.array(iscrowd, dtype=bool)
    return out


# ---------------------------------------------------------------------------------------------
# Overlaps
# ---------------------------------------------------------------------------------------------
def test_box_overlaps_with_a_crowd_region():
    dt = np.array([[0.0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 22, 22]])
    gt = np.array([[0.0, 0, 10, 10], [0, 0, 100, 100]])
    iou = box_overlaps(dt, gt, np.array([False, True]))
    # Regular: |d & g| / |d | g|; crowd: |d & g| / |d| (no +1 anywhere).
    np.testing.assert_allclose(iou, [[1.0, 1.0], [50 / 150, 1.0], [0.0, 1.0]])


def test_mask_overlaps_count_pixels():
    gt = np.zeros((2, 6, 8), bool)
    gt[0, :5, :4] = True                      # 20 pixels
    gt[1] = True                              # a crowd covering the image
    dt = np.zeros((2, 6, 8), bool)
    dt[0, :4, :4] = True                      # 16 pixels inside gt 0
    # dt[1] is empty: IoU 0 with everything, even the crowd (no 0 / 0)
    iou = mask_overlaps(dt, gt, np.array([False, True]))
    np.testing.assert_allclose(iou, [[16 / 20, 16 / 16], [0.0, 0.0]])


# ---------------------------------------------------------------------------------------------
# Hand-worked summaries
# ---------------------------------------------------------------------------------------------
def test_hand_worked_precision_and_recall():
    # Two medium objects (40 x 40). d1 overlaps A with IoU 0.92, d2 overlaps B with IoU 0.62
    # (and is small: 992 px), d3 is on nothing.
    t = target([[0, 0, 40, 40], [100, 100, 140, 140]], [1, 1])
    p = pred([[0, 0, 40, 36.8], [100, 100, 140, 124.8], [300, 300, 340, 340]], [1, 1, 1],
             [0.9, 0.8, 0.7])
    stats = coco_evaluate([p], [t])
    # IoU 0.50-0.60: TP TP FP, precision 1 at every recall level: AP 1, recall 1.
    # IoU 0.65-0.90 (6 thresholds): TP FP FP, precision 1 up to recall 0.5 (51 of the 101
    # levels), 0 beyond: AP 51/101, recall 0.5. IoU 0.95: nothing matches: AP 0, recall 0.
    ap = (3 * 1 + 6 * 51 / 101 + 0) / 10
    recall = (3 * 1 + 6 * 0.5 + 0) / 10
    expected = [ap, 1.0, 51 / 101, NO_AREA, ap, NO_AREA,
                (9 * 0.5 + 0) / 10, recall, recall, NO_AREA, recall, NO_AREA]
    np.testing.assert_allclose(stats, expected, rtol=1e-12)


def test_crowd_regions_are_matched_many_times_and_never_false_positives():
    crowd = [0, 0, 100, 100]
    t = target([crowd, [200, 200, 240, 240]], [1, 1], iscrowd=[True, False])
    # Two boxes inside the crowd score highest: IoU with a crowd = |d & g| / |d| = 1, so both
    # are matched to it and ignored. The regular object is found last.
    p = pred([[10, 10, 30, 30], [50, 50, 70, 70], [200, 200, 240, 240]], [1, 1, 1],
             [0.9, 0.8, 0.5])
    stats = coco_evaluate([p], [t])
    assert stats[0] == pytest.approx(1.0) and stats[8] == 1.0
    # Without the crowd flag they are two false positives ranked first (IoU 0.04 each) and the
    # big object is a miss: precision 1/3 up to recall 1/2 (51 of the 101 levels).
    t_plain = target([crowd, [200, 200, 240, 240]], [1, 1])
    assert coco_evaluate([p], [t_plain])[1] == pytest.approx(51 / 101 / 3)


def test_a_regular_object_wins_over_a_crowd_of_higher_iou():
    # The detection covers the crowd fully (IoU 1) and the regular object with IoU 0.8: it
    # takes the regular object, a true positive.
    t = target([[0, 0, 40, 40], [0, 0, 40, 50]], [1, 1], iscrowd=[True, False])
    p = pred([[0, 0, 40, 40]], [1], [0.9])
    stats = coco_evaluate([p], [t])
    assert stats[1] == pytest.approx(1.0)
    assert stats[8] == pytest.approx(0.7)                          # matched at IoU 0.5 .. 0.8


def test_falls_back_to_the_second_best_object_unlike_voc():
    # The second detection's best object is taken; COCO lets it take the other one (IoU 0.739).
    t = target([[0, 0, 10, 10], [0, 2, 10, 12]], [1, 1])
    p = pred([[0, 0, 10, 10], [0, 0.5, 10, 10.5]], [1, 1], [0.9, 0.8])
    assert coco_evaluate([p], [t])[1] == 1.0                      # AP50: both true positives
    voc = voc_evaluate([p["boxes"]], [p["labels"]], [p["scores"]], [t["boxes"]], [t["labels"]])
    assert voc["ap"][1] == pytest.approx(0.5)


def test_ties_in_iou_go_to_the_last_object():
    # Two identical objects; one detection on them: it takes the second (pycocotools' loop
    # replaces its match on equal IoU), so a second detection takes the first.
    t = target([[0, 0, 10, 10], [0, 0, 10, 10]], [1, 1])
    p = pred([[0, 0, 10, 10], [0, 0, 10, 10]], [1, 1], [0.9, 0.8])
    assert coco_evaluate([p], [t])[0] == 1.0


def test_area_ranges_ignore_objects_and_unmatched_detections_outside():
    # A small object (10 x 10) found, a large object (100 x 100) found, and a small false
    # positive. "large": the small object is ignored and the small false positive too (it is
    # outside the range and unmatched), so large AP is 1; "all" sees the false positive.
    t = target([[0, 0, 10, 10], [200, 200, 300, 300]], [1, 1])
    p = pred([[500, 500, 510, 510], [0, 0, 10, 10], [200, 200, 300, 300]], [1, 1, 1],
             [0.9, 0.8, 0.7])
    stats = coco_evaluate([p], [t])
    assert stats[5] == pytest.approx(1.0)                         # AP large
    assert stats[3] == pytest.approx(1 / 2)                       # AP small: FP then TP
    assert stats[0] == pytest.approx(2 / 3)     # FP TP TP: the envelope is 2/3 everywhere
    assert stats[4] == NO_AREA and stats[10] == NO_AREA           # no medium objects


def test_explicit_areas_replace_the_box_areas():
    # COCO's "area" (the mask area, even for box evaluation) decides the range.
    t = target([[0, 0, 40, 40]], [1], area=np.array([500.0]))
    p = pred([[0, 0, 40, 40]], [1], [0.9])
    stats = coco_evaluate([p], [t])
    assert stats[3] == pytest.approx(1.0) and stats[4] == NO_AREA  # small, not medium


def test_only_the_first_100_detections_per_image_and_category_count():
    t = target([[0, 0, 40, 40]], [1])
    misses = [[200 + i, 200, 240 + i, 240] for i in range(100)]
    # 100 better-scored misses of class 1 push the hit out of the budget...
    p = pred(misses + [[0, 0, 40, 40]], [1] * 101, list(np.linspace(1, 0.5, 100)) + [0.1])
    assert coco_evaluate([p], [t])[8] == 0.0
    # ...but misses of another class do not: the budget is per category.
    p2 = pred(misses + [[0, 0, 40, 40]], [2] * 100 + [1], list(np.linspace(1, 0.5, 100)) + [0.1])
    assert coco_evaluate([p2], [t])[8] == 1.0


def test_max_dets_1_takes_the_best_detection_of_each_image():
    ts = [target([[0, 0, 40, 40], [100, 0, 140, 40]], [1, 1])] * 2
    ps = [pred([[0, 0, 40, 40], [100, 0, 140, 40]], [1, 1], [0.9, 0.8])] * 2
    stats = coco_evaluate(ps, ts)
    assert stats[6] == 0.5 and stats[7] == 1.0 and stats[8] == 1.0


def test_segm_hand_worked():
    gt_masks = np.zeros((1, 50, 50), bool)
    gt_masks[0, 5:45, 5:45] = True                                # 1600 px: medium
    dt_masks = np.zeros((2, 50, 50), bool)
    dt_masks[0, 5:45, 5:41] = True                                # IoU 1440 / 1600 = 0.9
    dt_masks[1, 0:3, 0:3] = True                                  # a small false positive
    p = {"masks": dt_masks, "labels": np.array([1, 1]), "scores": np.array([0.5, 0.9])}
    t = {"masks": gt_masks, "labels": np.array([1])}
    stats = coco_evaluate([p], [t], iou_type="segm")
    # All areas: FP then TP at IoU 0.50 .. 0.90 (9 thresholds: pycocotools' linspace makes the
    # ninth 0.8999999999999999, so IoU 0.9 passes), nothing at 0.95; precision 1/2 at every
    # recall level. Medium: the small FP is ignored, precision 1.
    np.testing.assert_allclose(stats[[0, 4, 8]], [9 * 0.5 / 10, 9 / 10, 9 / 10], rtol=1e-12)


def test_updates_in_pieces_equal_one_update():
    preds, targets = synthetic_detections(6, 30, seed=4, crowd_fraction=0.3)
    whole = coco_evaluate(preds, targets)
    ev = COCOEvaluator()
    for i in range(0, 6, 2):
        ev.update(preds[i:i + 2], targets[i:i + 2])
    np.testing.assert_array_equal(ev.summarize(verbose=False), whole)


def test_nothing_seen_gives_minus_one_everywhere():
    ev = COCOEvaluator("segm")
    np.testing.assert_array_equal(ev.summarize(verbose=False), np.full(12, -1.0))
    ev.update({"masks": np.zeros((0, 4, 4), bool), "labels": [], "scores": []},
              {"masks": np.zeros((0, 4, 4), bool), "labels": []})
    assert ev.num_images == 1
    np.testing.assert_array_equal(ev.compute()["stats"], np.full(12, -1.0))


def test_compute_returns_pycocotools_arrays():
    preds, targets = synthetic_detections(4, 20, num_classes=4, seed=5)
    ev = COCOEvaluator()
    ev.update(preds, targets)
    result = ev.compute()
    k = result["labels"].size
    assert result["precision"].shape == (10, 101, k, 4, 3)
    assert result["recall"].shape == (10, k, 4, 3) and result["ap"].shape == (k,)
    valid = result["precision"][:, :, :, 0, 2]
    assert result["stats"][0] == pytest.approx(valid[valid > -1].mean())


def test_summary_prints_the_twelve_lines(capsys):
    ev = COCOEvaluator()
    ev.update(pred([[0, 0, 40, 40]], [1], [1.0]), target([[0, 0, 40, 40]], [1]))
    stats = ev.summarize()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 12 and lines == summary_lines(stats)
    assert lines[0] == (" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | "
                        "maxDets=100 ] = 1.000")
    assert lines[3] == (" Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | "
                        "maxDets=100 ] = -1.000")
    assert lines[6] == (" Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | "
                        "maxDets=  1 ] = 1.000")


def test_errors():
    with pytest.raises(ValueError, match=r"COCOEvaluator: iou_type must be one of \('bbox', "
                                         r"'segm'\), got 'keypoints'"):
        COCOEvaluator("keypoints")
    ev = COCOEvaluator("segm")
    masks = np.zeros((1, 4, 4), bool)
    good_p = {"masks": masks, "labels": np.array([1]), "scores": np.array([0.5])}
    good_t = {"masks": masks, "labels": np.array([1])}
    with pytest.raises(TypeError, match=r"COCOEvaluator.update: image 0 pred masks must be bool "
                                        r"\(threshold soft masks first"):
        ev.update({**good_p, "masks": masks.astype(np.float32)}, good_t)
    with pytest.raises(ValueError, match=r"COCOEvaluator.update: image 0 pred masks must have "
                                         r"shape \(1, 4, 4\), got \(1, 4, 5\)"):
        ev.update({**good_p, "masks": np.zeros((1, 4, 5), bool)}, good_t)
    with pytest.raises(ValueError, match=r"COCOEvaluator.update: image 0 target has no 'masks'"):
        ev.update(good_p, {"labels": np.array([1])})
    with pytest.raises(ValueError, match=r"COCOEvaluator.update: image 1 target iscrowd must "
                                         r"have shape \(1,\) to match its 1 boxes, got \(2,\)"):
        ev.update([good_p, good_p], [good_t, {**good_t, "iscrowd": np.zeros(2, bool)}])
    with pytest.raises(ValueError, match=r"COCOEvaluator.update: 1 predictions but 2 targets"):
        COCOEvaluator().update([pred([], [], [])], [target([], []), target([], [])])
    assert ev.num_images == 0


# ---------------------------------------------------------------------------------------------
# Against pycocotools
# ---------------------------------------------------------------------------------------------
def _cases():
    """(iou_type, preds, targets): random detections with crowds, all area ranges, more than 100
    detections per image and category, score ties, empty images, a category never in the
    ground truth."""
    cases = []
    for seed, (iou_type, per_image, size) in enumerate([("bbox", 150, None), ("bbox", 40, None),
                                                        ("segm", 120, (120, 160)),
                                                        ("segm", 40, (48, 64))]):
        kwargs = {} if size is None else {"masks": True, "image_size": size}
        preds, targets = synthetic_detections(10, per_image, num_classes=5, seed=seed,
                                              crowd_fraction=0.2, score_decimals=2, **kwargs)
        for t in targets:                               # class 4 is only ever predicted
            keep = t["labels"] != 4
            for key in ("boxes", "labels", "iscrowd", "masks"):
                if key in t:
                    t[key] = t[key][keep]
        targets[0] = {key: value[:0] if key != "image_id" else value
                      for key, value in targets[0].items()}      # an image without objects
        cases.append((iou_type, preds, targets))
    return cases


@pytest.mark.parametrize("case", range(4))
def test_all_twelve_numbers_agree_with_pycocotools(case):
    if bench_metrics.find_pycocotools() is None:
        pytest.skip("pycocotools is not installed (an optional comparison)")
    iou_type, preds, targets = _cases()[case]
    ours = coco_evaluate(preds, targets, iou_type)
    gt, dt = bench_metrics.to_pycocotools(preds, targets, iou_type)
    theirs = bench_metrics.pycocotools_stats(gt, dt, iou_type)
    assert (ours > 0).sum() >= 9                  # a real test: most numbers are non-trivial
    np.testing.assert_array_equal(ours, theirs)


# ---------------------------------------------------------------------------------------------
# The benchmark suite
# ---------------------------------------------------------------------------------------------
def test_bench_metrics_suite_runs_small(capsys):
    status = main(["bench", "metrics", "--size", "small", "--repeat", "1", "--warmup", "0",
                   "--no-torch"])
    out, err = capsys.readouterr()
    assert status == 0, err
    table = [line for line in out.splitlines() if line.startswith("| ")]
    ops = [line.split("|")[1].strip() for line in table[1:]]
    expected = ["COCO bbox (minicv)", "VOC mAP@0.5 (minicv)", "COCO segm (minicv)"]
    if bench_metrics.find_pycocotools() is not None:
        expected = ["COCO bbox (minicv)", "COCO bbox (pycocotools)", "VOC mAP@0.5 (minicv)",
                    "COCO segm (minicv)", "COCO segm (pycocotools)"]
    assert ops == expected
    for line in table[1:]:
        assert float(line.split("|")[3]) > 0       # fwd ms


def test_synthetic_detections_are_seeded():
    a = synthetic_detections(3, 5, seed=7, masks=True, image_size=(16, 16))
    b = synthetic_detections(3, 5, seed=7, masks=True, image_size=(16, 16))
    for (pa, ta), (pb, tb) in zip(zip(*a), zip(*b)):
        for key in pa:
            np.testing.assert_array_equal(pa[key], pb[key])
        for key in ta:
            np.testing.assert_array_equal(ta[key], tb[key])
    assert all(p["boxes"].shape == (5, 4) and p["masks"].shape == (5, 16, 16) for p in a[0])


def test_printed_summary_is_pycocotools_text():
    tools = bench_metrics.find_pycocotools()
    if tools is None:
        pytest.skip("pycocotools is not installed (an optional comparison)")
    preds, targets = synthetic_detections(5, 30, seed=2)
    gt, dt = bench_metrics.to_pycocotools(preds, targets)
    with contextlib.redirect_stdout(io.StringIO()):
        theirs = tools[1].COCOeval(gt, dt, "bbox")
        theirs.evaluate()
        theirs.accumulate()
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        theirs.summarize()
    ours = io.StringIO()
    ev = COCOEvaluator()
    ev.update(preds, targets)
    ev.summarize(file=ours)
    assert ours.getvalue() == printed.getvalue()
