"""Suite "metrics" (issue 6): COCO and VOC evaluation of many images, against pycocotools.

    minicv bench metrics --repeat 1 --warmup 0 [--size small|large]

Large (the issue's size): 5,000 synthetic images with 100 detections each --

- COCO box evaluation (:func:`minicv.metrics.coco_evaluate`, 'bbox'): per-image IoUs, the
  greedy matching at 10 IoU thresholds x 4 area ranges, accumulation, the 12 numbers;
- the same with pycocotools' COCOeval (evaluate + accumulate + summarize) when it is installed;
  converting the data to its format is not timed, its printing goes nowhere;
- VOC mAP (:func:`minicv.metrics.voc_evaluate`) of the same detections;
- COCO mask evaluation ('segm') on 200 images of 120 x 160 with 100 detections each, and
  pycocotools on the same masks (RLE-encoded before timing).

Small: 20 images with 20 detections (and masks), to check that everything runs.

The data (:func:`synthetic_detections`) mimic a detector's output: objects of 3 classes from
4 to 300 pixels on a side (all three COCO area ranges), 5% crowd regions; detections are
jittered copies of the objects -- some with the wrong class, some twice -- scored higher than
the random boxes among them. One evaluation is long enough that a single run is plenty: use
``--repeat 1 --warmup 0`` (benchmarks/metrics.py does). The "fwd ms" column is the whole
evaluation; the PyTorch columns stay empty (pycocotools has rows of its own).
"""
from __future__ import annotations

import contextlib
import io

import numpy as np

from minicv.bench import Case, suite
from minicv.metrics import coco_evaluate, voc_evaluate

__all__ = ["synthetic_detections", "find_pycocotools", "to_pycocotools", "pycocotools_stats"]


# ---------------------------------------------------------------------------------------------
# Synthetic ground truth and detections
# ---------------------------------------------------------------------------------------------
def _random_boxes(rng, n, height, width, grid):
    """(n, 4) boxes with log-uniform sides from 4 to 300 px, inside the image, corners on a
    1/``grid`` pixel grid (so that x + w is exact, as pycocotools recomputes x2 that way)."""
    side = np.exp(rng.uniform(np.log(4), np.log(300), (n, 2)))          # (n, 2) w, h
    side = np.minimum(side, [width - 1, height - 1])
    x1 = rng.uniform(0, width - side[:, 0])
    y1 = rng.uniform(0, height - side[:, 1])
    boxes = np.stack([x1, y1, x1 + side[:, 0], y1 + side[:, 1]], axis=1)
    return np.round(boxes * grid) / grid


def _box_masks(boxes, height, width):
    """(n, H, W) bool: the pixels whose centre lies inside each box, an ellipse's worth of it."""
    yy = np.arange(height)[None, :, None] + 0.5                          # (1, H, 1)
    xx = np.arange(width)[None, None, :] + 0.5                           # (1, 1, W)
    cx, cy = ((boxes[:, 0] + boxes[:, 2]) / 2)[:, None, None], ((boxes[:, 1] + boxes[:, 3]) / 2)[
        :, None, None]
    rx = np.maximum((boxes[:, 2] - boxes[:, 0]) / 2, 0.5)[:, None, None]
    ry = np.maximum((boxes[:, 3] - boxes[:, 1]) / 2, 0.5)[:, None, None]
    return ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0            # (n, H, W)


def synthetic_detections(num_images: int, detections_per_image: int, num_classes: int = 4,
                         image_size=(480, 640), seed: int = 0, masks: bool = False,
                         crowd_fraction: float = 0.05, max_objects: int = 12,
                         score_decimals: int | None = None, grid: int = 8):
    """Random objects and detector-like detections: ``(preds, targets)``, lists of dicts in
    minicv's detection format (labels 1 .. num_classes - 1; 0 is the background).

    Each image has 0 .. ``max_objects`` objects (``crowd_fraction`` of them crowds) and exactly
    ``detections_per_image`` detections: about 60% jittered copies of an object (the jitter
    grows with its size; 10% of them with a random class), the rest random boxes. Scores are
    uniform in [0.3, 1) for the copies and in [0, 1) for the rest, rounded to
    ``score_decimals`` when given (to make ties). With ``masks``,
    objects and detections also get (K, H, W) bool masks: the ellipse inside each box.
    ``seed`` fixes everything.
    """
    rng = np.random.default_rng(seed)
    height, width = image_size
    preds, targets = [], []
    for i in range(num_images):
        g = int(rng.integers(0, max_objects + 1))
        gt_boxes = _random_boxes(rng, g, height, width, grid)
        gt_labels = rng.integers(1, num_classes, g)
        target = {"boxes": gt_boxes, "labels": gt_labels,
                  "iscrowd": rng.random(g) < crowd_fraction, "image_id": i}
        d = detections_per_image
        copies = (rng.random(d) < 0.6) & (g > 0)
        source = rng.integers(0, max(g, 1), d)
        boxes = _random_boxes(rng, d, height, width, grid)
        labels = rng.integers(1, num_classes, d)
        if g:
            size = np.tile(gt_boxes[source, 2:] - gt_boxes[source, :2], 2)    # (d, 4) w h w h
            jittered = gt_boxes[source] + rng.normal(0, 0.08, (d, 4)) * size
            jittered[:, 2:] = np.maximum(jittered[:, 2:], jittered[:, :2] + 1)
            jittered = np.round(np.clip(jittered, 0, [width, height] * 2) * grid) / grid
            boxes[copies] = jittered[copies]
            same = copies & (rng.random(d) < 0.9)
            labels[same] = gt_labels[source[same]]
        scores = rng.random(d)
        scores[copies] = 0.3 + 0.7 * scores[copies]        # a detector is surer of its hits
        if score_decimals is not None:
            scores = np.round(scores, score_decimals)
        pred = {"boxes": boxes, "labels": labels, "scores": scores}
        if masks:
            target["masks"] = _box_masks(gt_boxes, height, width)
            pred["masks"] = _box_masks(boxes, height, width)
        preds.append(pred)
        targets.append(target)
    return preds, targets


# ---------------------------------------------------------------------------------------------
# pycocotools, when installed
# ---------------------------------------------------------------------------------------------
def find_pycocotools():
    """(pycocotools.coco, .cocoeval, .mask) modules if installed, else None. Imported only
    here, at run time: minicv never depends on it."""
    try:
        from pycocotools import coco, cocoeval, mask
    except ImportError:
        return None
    return coco, cocoeval, mask


def to_pycocotools(preds, targets, iou_type: str = "bbox", image_size=None):
    """``(cocoGt, cocoDt)`` COCO objects holding the same images, objects and detections.

    Image ids are 1, 2, ... in list order, annotation ids start at 1 (pycocotools reads id 0 as
    "unmatched"), categories are every label of the targets and predictions. Boxes become
    [x, y, w, h]; masks compressed RLE; an object's "area" is the target's when given, else its
    box area ('bbox') or mask pixel count ('segm') -- what minicv uses.
    """
    coco, _, mask = find_pycocotools()

    def rle(m):                            # (H, W) bool -> compressed RLE
        return mask.encode(np.asfortranarray(m.astype(np.uint8)))

    def xywh(box):
        return [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])]
    images, annotations, results, labels = [], [], [], set()
    for i, (pred, target) in enumerate(zip(preds, targets)):
        if iou_type == "segm":
            height, width = target["masks"].shape[1:]
        else:
            height, width = image_size or (1000, 1000)
        images.append({"id": i + 1, "height": int(height), "width": int(width)})
        iscrowd = target.get("iscrowd", np.zeros(len(target["labels"]), bool))
        for k, label in enumerate(target["labels"]):
            ann = {"id": len(annotations) + 1, "image_id": i + 1, "category_id": int(label),
                   "iscrowd": int(iscrowd[k])}
            if iou_type == "bbox":
                ann["bbox"] = xywh(target["boxes"][k])
                area = ann["bbox"][2] * ann["bbox"][3]
            else:
                ann["segmentation"] = rle(target["masks"][k])
                area = float(target["masks"][k].sum())
                ann["bbox"] = [float(v) for v in mask.toBbox(ann["segmentation"])]
            ann["area"] = float(target["area"][k]) if "area" in target else area
            annotations.append(ann)
            labels.add(int(label))
        for k, label in enumerate(pred["labels"]):
            result = {"image_id": i + 1, "category_id": int(label),
                      "score": float(pred["scores"][k])}
            if iou_type == "bbox":
                result["bbox"] = xywh(pred["boxes"][k])
            else:
                result["segmentation"] = rle(pred["masks"][k])
            results.append(result)
            labels.add(int(label))
    gt = coco.COCO()
    gt.dataset = {"images": images, "annotations": annotations,
                  "categories": [{"id": c, "name": str(c)} for c in sorted(labels)]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes(results)
    return gt, dt


def pycocotools_stats(gt, dt, iou_type: str = "bbox") -> np.ndarray:
    """pycocotools' 12 numbers (evaluate, accumulate, summarize; its printing discarded)."""
    _, cocoeval, _ = find_pycocotools()
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = cocoeval.COCOeval(gt, dt, iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return np.array(evaluator.stats)


# ---------------------------------------------------------------------------------------------
# The suite
# ---------------------------------------------------------------------------------------------
@suite("metrics", "COCO (boxes, masks) and VOC evaluation of 5,000 images x 100 detections, "
                  "against pycocotools (issue 6)")
def metrics(ctx):
    images, per_image = (5000, 100) if ctx.large else (20, 20)
    mask_images, mask_size = (200, (120, 160)) if ctx.large else (20, (24, 32))
    pycocotools = find_pycocotools()

    preds, targets = synthetic_detections(images, per_image, seed=1)
    shape = f"({images} images, {per_image} dets)"
    yield Case("COCO bbox (minicv)", shape,
               lambda: coco_evaluate(preds, targets, "bbox"), backward=False)
    if pycocotools is not None:
        gt, dt = to_pycocotools(preds, targets, "bbox")
        yield Case("COCO bbox (pycocotools)", shape,
                   lambda: pycocotools_stats(gt, dt, "bbox"), backward=False,
                   memory=False)
    columns = [[p[key] for p in preds] for key in ("boxes", "labels", "scores")]
    gt_columns = [[t[key] for t in targets] for key in ("boxes", "labels")]
    yield Case("VOC mAP@0.5 (minicv)", shape,
               lambda: voc_evaluate(*columns, *gt_columns), backward=False)

    mask_preds, mask_targets = synthetic_detections(mask_images, per_image, seed=2, masks=True,
                                                    image_size=mask_size)
    shape = f"({mask_images} images {mask_size[0]}x{mask_size[1]}, {per_image} dets)"
    yield Case("COCO segm (minicv)", shape,
               lambda: coco_evaluate(mask_preds, mask_targets, "segm"), backward=False)
    if pycocotools is not None:
        gt, dt = to_pycocotools(mask_preds, mask_targets, "segm")
        yield Case("COCO segm (pycocotools)", shape,
                   lambda: pycocotools_stats(gt, dt, "segm"), backward=False,
                   memory=False)
