"""minicv.ops: box geometry for detection, with torchvision.ops names.

- boxes.py    box_area, box_iou, box_convert, clip_boxes_to_image, remove_small_boxes, nms,
              batched_nms
- coder.py    BoxCoder: R-CNN box deltas (encode / decode)
- anchors.py  AnchorGenerator: sizes x aspect ratios at every feature-map cell (Faster R-CNN)
- masks.py    COCO RLE encode/decode, polygons_to_mask, segmentation_to_mask, masks_to_boxes,
              mask_area, mask_iou (pycocotools.mask semantics, no dependency)

roi_pool and roi_align are ops with gradients, so they live in minicv.functional (roi.py) and
are re-exported here under torchvision.ops' names.
"""
from minicv.functional.roi import *  # noqa: F401,F403
from minicv.ops import anchors as _anchors, boxes as _boxes, coder as _coder, masks as _masks
from minicv.ops.anchors import *     # noqa: F401,F403
from minicv.ops.boxes import *       # noqa: F401,F403
from minicv.ops.coder import *       # noqa: F401,F403
from minicv.ops.masks import *       # noqa: F401,F403
from minicv.functional import roi as _roi

__all__ = [*_boxes.__all__, *_coder.__all__, *_anchors.__all__, *_masks.__all__,
           *_roi.__all__]
