"""Datasets, joint transforms and a loader: from files (or nothing) to batches.

    from minicv.data import SyntheticShapes, DataLoader, Compose, RandomHorizontalFlip, Normalize
    train = SyntheticShapes("train", transforms=Compose([RandomHorizontalFlip(seed=0),
                                                         Normalize()]))
    for images, masks in DataLoader(train, batch_size=8, shuffle=True, seed=0):
        ...                                  # (8, 3, 64, 64) float32, (8, 64, 64) int64

Every dataset gives ``dataset[i] -> (image uint8 (H, W, 3) RGB, target dict)`` and has
``classes`` (names, index = label), ``num_classes``, ``ignore_index`` (int or None) and
``len()``. Segmentation targets hold ``"mask"`` (H, W) int64; detection targets hold
``"boxes"`` float32 (K, 4) (x1, y1, x2, y2) in continuous pixel coordinates, ``"labels"``
int64 (K,) (0 is background), ``"iscrowd"``, ``"difficult"`` bool (K,), optional ``"masks"``
bool (K, H, W), and ``"image_id"``. The synthetic dataset gives all of them.

The files, each readable alone:

- ``synthetic.py``     SyntheticShapes: the built-in dataset, shapes on textured backgrounds,
                       drawn from a seed (no files); the default everywhere
- ``segmentation.py``  SegmentationFolder (image + class-index mask files), CamVid (SegNet
                       layout, split by sequence), VOCSegmentation (palette PNGs)
- ``voc.py``           VOCDetection: Pascal VOC XML boxes
- ``coco.py``          COCODetection: COCO JSON boxes, polygons and RLE masks
- ``transforms.py``    joint transforms that keep masks and boxes aligned with the image:
                       Resize, RandomHorizontalFlip, RandomCrop, RandomScaleCrop, Normalize
- ``loader.py``        DataLoader (seeded shuffling, thread prefetching), Subset, the collate
                       functions and pad_images
- ``_io.py``           read_image / read_mask with errors that name the file
"""
from minicv.data._io import read_image, read_mask
from minicv.data.coco import COCODetection
from minicv.data.loader import (DataLoader, Subset, collate_detection, collate_segmentation,
                                pad_images)
from minicv.data.segmentation import (CAMVID_CLASSES, CAMVID_COLORS, CamVid, SegmentationFolder,
                                      VOCSegmentation, voc_colormap)
from minicv.data.synthetic import SyntheticShapes
from minicv.data.transforms import (IMAGENET_MEAN, IMAGENET_STD, INSTANCE_KEYS, Compose,
                                    Normalize, RandomCrop, RandomHorizontalFlip, RandomScaleCrop,
                                    Resize, masks_to_boxes)
from minicv.data.voc import VOC_CLASSES, VOCDetection

__all__ = [
    "SyntheticShapes",
    "SegmentationFolder", "CamVid", "VOCSegmentation", "voc_colormap", "CAMVID_CLASSES",
    "CAMVID_COLORS",
    "VOCDetection", "VOC_CLASSES", "COCODetection",
    "Compose", "Resize", "RandomHorizontalFlip", "RandomCrop", "RandomScaleCrop", "Normalize",
    "masks_to_boxes", "IMAGENET_MEAN", "IMAGENET_STD", "INSTANCE_KEYS",
    "DataLoader", "Subset", "collate_segmentation", "collate_detection", "pad_images",
    "read_image", "read_mask",
]
