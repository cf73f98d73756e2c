"""minicv.metrics: how good is a segmentation or a detector? Pure NumPy.

- segmentation.py  confusion matrix, pixel accuracy, mean class accuracy, per-class IoU, mIoU,
                   frequency-weighted IoU (Long et al. 2015), boundary band accuracy;
                   SegmentationMetrics accumulates them over a validation set
- detection.py     Pascal VOC AP per class (area under the precision envelope, or VOC2007's
                   11 points; 'difficult' boxes) and mAP: voc_ap, voc_evaluate, VOCEvaluator
- coco.py          COCO AP/AR (IoU 0.50:0.95, 101 recall points, maxDets 1/10/100, small/medium/
                   large, crowd regions) for boxes and masks: COCOEvaluator, coco_evaluate

The exact definitions are in shared/SEMANTICS.md; each function's docstring repeats the formula
it computes.
"""
from minicv.metrics import detection as _detection
from minicv.metrics import segmentation as _segmentation
from minicv.metrics.coco import COCOEvaluator, coco_evaluate  # noqa: F401
from minicv.metrics.detection import *     # noqa: F401,F403
from minicv.metrics.segmentation import *  # noqa: F401,F403

__all__ = [*_segmentation.__all__, *_detection.__all__, "COCOEvaluator", "coco_evaluate"]
