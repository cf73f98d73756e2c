"""COCODetection: object detection and instance segmentation data in COCO's JSON format.

An "instances" file (as in COCO's ``annotations/instances_val2017.json``) holds three lists; the
fields used here are::

    {"images":      [{"id": 397133, "file_name": "000000397133.jpg", "height": 427, "width": 640}],
     "categories":  [{"id": 1, "name": "person"}, {"id": 44, "name": "bottle"}, ...],
     "annotations": [{"id": 82445, "image_id": 397133, "category_id": 44,
                      "bbox": [217.62, 240.54, 38.99, 57.75],          # x, y, width, height
                      "iscrowd": 0,
                      "segmentation": [[224.24, 297.18, 228.29, 297.18, ...]]}]}  # polygons

A crowd region (``iscrowd`` 1) usually carries an RLE instead of polygons,
``{"size": [H, W], "counts": [...]}`` with the counts as a list (uncompressed) or as COCO's
compressed string; see :mod:`minicv.ops.masks`, which decodes all three forms.

Conversions
-----------
- boxes: COCO's (x, y, w, h) is already in continuous pixel coordinates, so
  (x1, y1, x2, y2) = (x, y, x + w, y + h), then clipped to [0, W] x [0, H].
- labels: COCO's category ids are not contiguous (1..90 for 80 classes), so the categories,
  sorted by id, get labels 1..K; ``category_id_to_label`` and ``label_to_category_id`` map both
  ways (a detector predicts labels; results files want category ids). ``classes[label]`` is the
  category's name, ``classes[0]`` "background".
- masks: polygons and RLE are decoded into (K, H, W) bool masks by minicv.ops.masks.

What is checked
---------------
Errors name the JSON file, the entry (``annotations[12] (id 4021)``) and the field: JSON that
does not parse, a missing top-level list or a missing field, an image file that does not exist
(FileNotFoundError), an annotation whose ``image_id`` or ``category_id`` is unknown, a ``bbox``
that is not four finite numbers or has width or height <= 0 (x2 <= x1), a segmentation that is
neither polygons nor an RLE of the image's size, and an image whose size differs from the JSON.
Nothing is dropped silently: an annotation whose box lies wholly outside its image is left out,
listed in ``skipped`` (file, annotation, reason) and counted in a warning; boxes cut by the image
border are clipped and listed in ``clipped``.

Sample ``(image, target)``:

- image   uint8 (H, W, 3) RGB (greyscale and RGBA images converted)
- target  {"boxes": float32 (K, 4) xyxy continuous, "labels": int64 (K,) in 1..num_classes-1,
           "masks": bool (K, H, W) (when the dataset has masks), "iscrowd": bool (K,),
           "difficult": bool (K,) all False (COCO has no such flag; present so VOC and COCO
           targets have the same keys), "area": float32 (K,), "image_id": int (COCO's image id)}

``area`` is the annotation's own "area" field (COCO's is the segment's area, which its
evaluation uses for the small/medium/large ranges), or, when a file has none, the mask's pixel
count (with masks) or the box's area.

Reference: Lin et al., "Microsoft COCO: Common Objects in Context", ECCV 2014; the format at
cocodataset.org/#format-data.

Examples
--------
>>> import json, pathlib, tempfile
>>> from PIL import Image
>>> tmp = tempfile.TemporaryDirectory()
>>> root = pathlib.Path(tmp.name)
>>> Image.new("L", (8, 6)).save(root / "a.png")                  # greyscale becomes RGB
>>> _ = (root / "instances.json").write_text(json.dumps({
...     "images": [{"id": 7, "file_name": "a.png", "height": 6, "width": 8}],
...     "categories": [{"id": 3, "name": "cat"}, {"id": 18, "name": "dog"}],
...     "annotations": [{"id": 1, "image_id": 7, "category_id": 18, "bbox": [1, 1, 4, 3],
...                      "iscrowd": 0, "segmentation": [[1, 1, 5, 1, 5, 4, 1, 4]]}]}))
>>> ds = COCODetection(root, root / "instances.json")
>>> ds.classes, ds.category_id_to_label, ds.label_to_category_id
(('background', 'cat', 'dog'), {3: 1, 18: 2}, {1: 3, 2: 18})
>>> image, target = ds[0]
>>> image.shape, target["boxes"], target["labels"], target["image_id"]
((6, 8, 3), array([[1., 1., 5., 4.]], dtype=float32), array([2]), 7)
>>> int(target["masks"].sum())                                   # 4 x 3 pixels
12
>>> tmp.cleanup()
"""
from __future__ import annotations

import collections
import json
import numbers
import os

import numpy as np

from minicv.data._io import check_index, read_image, warn_skipped
from minicv.ops.masks import segmentation_to_mask

__all__ = ["COCODetection"]


def _is_number(value) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and np.isfinite(value))


class COCODetection:
    """COCO instances-format dataset (see the module docstring for the format and rules).

    Parameters
    ----------
    images_dir : str or os.PathLike
        The folder the images' ``file_name`` are relative to.
    annotation_json : str or os.PathLike
        The instances JSON file.
    transforms : callable ``t(image, target) -> (image, target)``, optional
        Applied to every sample by ``__getitem__``.
    masks : bool, optional
        Whether targets carry "masks". Default (None): yes when every annotation has a
        ``segmentation`` (COCO's instances files do). True makes a missing segmentation an
        error; False skips mask decoding (faster, boxes only).

    Attributes
    ----------
    classes : tuple of str ("background", then the category names in category-id order);
        num_classes = len(classes); ignore_index None.
    ids : tuple of int, COCO image ids in dataset order (the order of the JSON's images).
    category_id_to_label, label_to_category_id : dict int -> int.
    annotations : list (one per image) of lists of the JSON annotation dicts kept, in target
        row order (for fields minicv does not convert, e.g. COCO's "area" for evaluation).
    skipped, clipped : lists of dicts {"file", "annotation", "reason"}.
    """

    ignore_index = None

    def __init__(self, images_dir, annotation_json, transforms=None, masks: bool | None = None):
        op = "COCODetection"
        self.images_dir = os.fspath(images_dir)
        self.annotation_json = os.fspath(annotation_json)
        self.transforms = transforms
        path = self.annotation_json
        data = self._load(op, path)

        # categories -> contiguous labels, in increasing category id
        categories = {}
        for i, category in enumerate(self._entries(op, path, data, "categories")):
            cid = self._field(op, path, f"categories[{i}]", category, "id", int)
            name = self._field(op, path, f"categories[{i}]", category, "name", str)
            if cid in categories:
                raise ValueError(f"{op}: '{path}': categories[{i}]: field 'id' {cid} is used "
                                 f"twice")
            categories[cid] = name
        order = sorted(categories)
        self.category_id_to_label = {cid: label for label, cid in enumerate(order, 1)}
        self.label_to_category_id = {label: cid for cid, label in
                                     self.category_id_to_label.items()}
        self.classes = ("background", *(categories[cid] for cid in order))
        self.num_classes = len(self.classes)

        # images
        self._images = []
        position = {}
        for i, entry in enumerate(self._entries(op, path, data, "images")):
            where = f"images[{i}]"
            image_id = self._field(op, path, where, entry, "id", int)
            file_name = self._field(op, path, where, entry, "file_name", str)
            height = self._field(op, path, where, entry, "height", int)
            width = self._field(op, path, where, entry, "width", int)
            if image_id in position:
                raise ValueError(f"{op}: '{path}': {where}: field 'id' {image_id} is used twice")
            file_path = os.path.join(self.images_dir, file_name)
            if not os.path.isfile(file_path):
                raise FileNotFoundError(f"{op}: '{path}': {where}: field 'file_name' names "
                                        f"'{file_path}', which does not exist")
            position[image_id] = len(self._images)
            self._images.append({"id": image_id, "file": file_path, "height": height,
                                 "width": width})
        self.ids = tuple(image["id"] for image in self._images)

        # annotations, grouped by image
        annotations = self._entries(op, path, data, "annotations")
        if masks is None:
            masks = bool(annotations) and all(isinstance(a, dict) and "segmentation" in a
                                              for a in annotations)
        self.has_masks = bool(masks)
        self.annotations: list[list[dict]] = [[] for _ in self._images]
        self._boxes: list[list[list[float]]] = [[] for _ in self._images]   # clipped xyxy
        self._where: list[list[str]] = [[] for _ in self._images]          # for error messages
        self.skipped: list[dict] = []
        self.clipped: list[dict] = []
        for i, ann in enumerate(annotations):
            where = f"annotations[{i}]" + (f" (id {ann['id']})" if isinstance(ann, dict)
                                           and "id" in ann else "")
            image_id = self._field(op, path, where, ann, "image_id", int)
            category_id = self._field(op, path, where, ann, "category_id", int)
            if image_id not in position:
                raise ValueError(f"{op}: '{path}': {where}: field 'image_id' {image_id} names no "
                                 f"image in 'images'")
            if category_id not in categories:
                raise ValueError(f"{op}: '{path}': {where}: field 'category_id' {category_id} "
                                 f"is not in 'categories' (ids {order})")
            image = self._images[position[image_id]]
            box = self._box(op, path, where, ann)
            clipped = [min(max(box[0], 0.0), image["width"]), min(max(box[1], 0.0),
                       image["height"]), min(max(box[2], 0.0), image["width"]),
                       min(max(box[3], 0.0), image["height"])]
            entry = {"file": path, "annotation": where}
            if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
                self.skipped.append({**entry, "reason": "box outside the image"})
                continue
            if clipped != box:
                self.clipped.append({**entry, "reason": f"box {box} clipped to the "
                                                        f"{image['width']}x{image['height']} "
                                                        f"image"})
            if "area" in ann and not _is_number(ann["area"]):
                raise ValueError(f"{op}: '{path}': {where}: field 'area' must be a finite "
                                 f"number, got {ann['area']!r}")
            if ann.get("iscrowd", 0) not in (0, 1, True, False):
                raise ValueError(f"{op}: '{path}': {where}: field 'iscrowd' is "
                                 f"{ann['iscrowd']!r}, not 0 or 1")
            if self.has_masks:
                self._check_segmentation(op, path, where, ann, image)
            self.annotations[position[image_id]].append(ann)
            self._boxes[position[image_id]].append(clipped)
            self._where[position[image_id]].append(where)
        warn_skipped(op, self.skipped, self.clipped, len(annotations), "annotations",
                     self.annotation_json)

    # -- parsing ------------------------------------------------------------------------------
    @staticmethod
    def _load(op: str, path: str) -> dict:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{op}: annotation file '{path}' does not exist")
        try:
            with open(path, encoding="utf-8") as file:
                data = json.load(file)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{op}: '{path}' is not valid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise ValueError(f"{op}: '{path}' must hold a JSON object with 'images', "
                             f"'annotations' and 'categories', got a {type(data).__name__}")
        return data

    @staticmethod
    def _entries(op: str, path: str, data: dict, key: str) -> list:
        if key not in data:
            raise ValueError(f"{op}: '{path}' has no '{key}' list (keys: {sorted(data)})")
        if not isinstance(data[key], list):
            raise ValueError(f"{op}: '{path}': '{key}' must be a list, got "
                             f"{type(data[key]).__name__}")
        return data[key]

    @staticmethod
    def _field(op: str, path: str, where: str, entry, key: str, kind: type):
        if not isinstance(entry, dict):
            raise ValueError(f"{op}: '{path}': {where} must be a JSON object, got "
                             f"{type(entry).__name__}")
        if key not in entry:
            raise ValueError(f"{op}: '{path}': {where}: field '{key}' is missing")
        value = entry[key]
        ok = (isinstance(value, str) if kind is str
              else isinstance(value, numbers.Integral) and not isinstance(value, bool))
        if not ok:
            raise ValueError(f"{op}: '{path}': {where}: field '{key}' must be "
                             f"{'a string' if kind is str else 'an integer'}, got {value!r}")
        return value if kind is str else int(value)

    @staticmethod
    def _box(op: str, path: str, where: str, ann: dict) -> list[float]:
        """COCO's (x, y, w, h) as (x1, y1, x2, y2), after checking it."""
        if "bbox" not in ann:
            raise ValueError(f"{op}: '{path}': {where}: field 'bbox' is missing")
        bbox = ann["bbox"]
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(map(_is_number, bbox))):
            raise ValueError(f"{op}: '{path}': {where}: field 'bbox' must be [x, y, width, "
                             f"height] with four finite numbers, got {bbox!r}")
        x, y, w, h = (float(v) for v in bbox)
        if w <= 0 or h <= 0:
            raise ValueError(f"{op}: '{path}': {where}: field 'bbox' {bbox} has width or height "
                             f"<= 0, i.e. x2 <= x1 or y2 <= y1")
        return [x, y, x + w, y + h]

    @staticmethod
    def _check_segmentation(op: str, path: str, where: str, ann: dict, image: dict) -> None:
        """The cheap checks (structure, RLE size); counts are checked when decoded."""
        if "segmentation" not in ann:
            raise ValueError(f"{op}: '{path}': {where}: field 'segmentation' is missing (pass "
                             f"masks=False for boxes only)")
        segmentation = ann["segmentation"]
        if isinstance(segmentation, dict):
            if "counts" not in segmentation or "size" not in segmentation:
                raise ValueError(f"{op}: '{path}': {where}: field 'segmentation' is an RLE "
                                 f"without 'size' and 'counts' (keys {sorted(segmentation)})")
            if list(segmentation["size"]) != [image["height"], image["width"]]:
                raise ValueError(f"{op}: '{path}': {where}: field 'segmentation.size' is "
                                 f"{segmentation['size']}, but the image is "
                                 f"[{image['height']}, {image['width']}] (height, width)")
        elif isinstance(segmentation, list):
            for k, polygon in enumerate(segmentation):
                if not (isinstance(polygon, list) and len(polygon) % 2 == 0
                        and all(map(_is_number, polygon))):
                    raise ValueError(f"{op}: '{path}': {where}: field 'segmentation' polygon {k}"
                                     f" must be a flat list [x1, y1, x2, y2, ...] of an even "
                                     f"number of finite numbers")
        else:
            raise ValueError(f"{op}: '{path}': {where}: field 'segmentation' must be a list of "
                             f"polygons or an RLE dict, got {type(segmentation).__name__}")

    # -- access -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._images)

    def __repr__(self) -> str:
        return (f"COCODetection(annotation_json={self.annotation_json!r}, images={len(self)}, "
                f"classes={self.num_classes - 1} + background, masks={self.has_masks})")

    def target(self, index) -> dict:
        """The target of image ``index`` (masks decoded) without reading the image or applying
        transforms -- for evaluation and statistics."""
        index = check_index("COCODetection", index, len(self))
        image = self._images[index]
        anns = self.annotations[index]
        target = {
            "boxes": np.array(self._boxes[index], np.float32).reshape(-1, 4),
            "labels": np.array([self.category_id_to_label[a["category_id"]] for a in anns],
                               np.int64),
        }
        if self.has_masks:
            height, width = image["height"], image["width"]
            masks = np.zeros((len(anns), height, width), dtype=bool)       # (K, H, W)
            for k, ann in enumerate(anns):                                 # one per object
                try:
                    masks[k] = segmentation_to_mask(ann["segmentation"], height, width)
                except (ValueError, TypeError) as exc:
                    where = self._where[index][k]
                    raise ValueError(f"COCODetection: '{self.annotation_json}': {where}: field "
                                     f"'segmentation' cannot be decoded ({exc})") from exc
            target["masks"] = masks
        target["iscrowd"] = np.array([bool(a.get("iscrowd", 0)) for a in anns], bool)
        target["difficult"] = np.zeros(len(anns), bool)
        boxes = target["boxes"]
        fallback = (target["masks"].sum(axis=(1, 2)) if self.has_masks
                    else (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))    # (K,)
        target["area"] = np.array([a.get("area", fallback[k]) for k, a in enumerate(anns)],
                                  np.float32).reshape(-1)
        target["image_id"] = image["id"]
        return target

    def __getitem__(self, index):
        index = check_index("COCODetection", index, len(self))
        entry = self._images[index]
        image = read_image(entry["file"], op="COCODetection")
        if image.shape[:2] != (entry["height"], entry["width"]):
            raise ValueError(f"COCODetection: '{self.annotation_json}': images[{index}] (id "
                             f"{entry['id']}): fields 'height', 'width' say {entry['height']}x"
                             f"{entry['width']} but '{entry['file']}' is "
                             f"{image.shape[0]}x{image.shape[1]} (height x width)")
        target = self.target(index)
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target

    def describe(self) -> str:
        """A short text: images, annotations per class (crowd regions in brackets), skipped."""
        counts = collections.Counter()
        crowd = collections.Counter()
        for anns in self.annotations:
            for a in anns:
                label = self.category_id_to_label[a["category_id"]]
                counts[label] += 1
                crowd[label] += bool(a.get("iscrowd", 0))
        lines = [f"COCODetection '{self.annotation_json}': {len(self)} images, "
                 f"{sum(counts.values())} annotations, {self.num_classes - 1} classes, "
                 f"masks {'yes' if self.has_masks else 'no'}"]
        for label, name in enumerate(self.classes[1:], 1):
            category = self.label_to_category_id[label]
            lines.append(f"  {label:3d} {name:<16s} (category {category:3d}) {counts[label]:6d}"
                         + (f" ({crowd[label]} crowd)" if crowd[label] else ""))
        reasons = collections.Counter(s["reason"] for s in self.skipped)
        lines.append(f"  skipped {len(self.skipped)} annotations"
                     + "".join(f"; {n} {why}" for why, n in reasons.items()))
        lines.append(f"  clipped {len(self.clipped)} boxes to the image")
        return "\n".join(lines)
