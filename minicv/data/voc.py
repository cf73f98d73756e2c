"""VOCDetection: object detection data in Pascal VOC's layout (one XML file per image).

Layout (either spelling of each folder; VOC's own on the left)::

    root/
      JPEGImages/ or images/             2007_000027.jpg ...
      Annotations/ or annotations/       2007_000027.xml ...
      ImageSets/Main/train.txt           optional: image ids, one per line (``split_file``)

One XML file per image, as VOC's devkit writes it (only the fields used are shown)::

    <annotation>
      <filename>2007_000027.jpg</filename>
      <size><width>486</width><height>500</height><depth>3</depth></size>
      <object>
        <name>person</name> <truncated>0</truncated> <difficult>0</difficult>
        <bndbox><xmin>174</xmin><ymin>101</ymin><xmax>349</xmax><ymax>351</ymax></bndbox>
      </object>
    </annotation>

Box coordinates
---------------
VOC numbers pixels from 1 and its box includes both end pixels: xmin = 1, xmax = 3 is three
pixels wide. minicv's boxes are continuous with no "+1" (SEMANTICS.md): pixel j (0-based) covers
[j, j + 1). So VOC pixel xmin covers [xmin - 1, xmin) and pixel xmax covers [xmax - 1, xmax)::

    (x1, y1, x2, y2) = (xmin - 1, ymin - 1, xmax, ymax)

A box is then clipped to the image, [0, W] x [0, H], using the XML's <size>: files written by
tools that count from 0 (LabelImg, for one) can have xmin = 0, i.e. x1 = -1. Clipped boxes are
counted in ``clipped`` and in the warning.

What is checked
---------------
Errors name the XML file, the object and the field: a missing image (FileNotFoundError), XML that
does not parse, an object without <name> or with a missing or non-numeric <bndbox> coordinate, a
box with x2 <= x1 or y2 <= y1 (xmax < xmin or ymax < ymin in the file), a <difficult> or
<truncated> flag that is not 0 or 1, an object name not in ``classes`` (when classes are given),
an id in ``split_file`` with no XML file, and an image whose size differs from the XML's <size>.

Nothing is dropped silently: an object is left out only when ``keep_difficult=False`` and it is
difficult, or when its box lies wholly outside the image; each one is listed in ``skipped``
(file, object number, reason) and the constructor warns with the counts.

Sample ``(image, target)``:

- image   uint8 (H, W, 3) RGB (greyscale and palette images converted)
- target  {"boxes": float32 (K, 4) xyxy continuous, "labels": int64 (K,) in 1..num_classes-1,
           "iscrowd": bool (K,) all False, "difficult": bool (K,), "truncated": bool (K,),
           "image_id": int (the index i; ``ids[i]`` is VOC's image id)}

Reference: Everingham et al., "The PASCAL Visual Object Classes (VOC) Challenge", IJCV 2010, and
the VOC2012 development kit documentation (section 4.1.2, "object annotations").

Examples
--------
>>> import pathlib, tempfile
>>> from PIL import Image
>>> tmp = tempfile.TemporaryDirectory()
>>> root = pathlib.Path(tmp.name)
>>> (root / "images").mkdir(); (root / "annotations").mkdir()
>>> Image.new("RGB", (40, 30)).save(root / "images" / "cat1.jpg")
>>> _ = (root / "annotations" / "cat1.xml").write_text(
...     "<annotation><filename>cat1.jpg</filename>"
...     "<size><width>40</width><height>30</height></size>"
...     "<object><name>cat</name><difficult>0</difficult>"
...     "<bndbox><xmin>1</xmin><ymin>5</ymin><xmax>20</xmax><ymax>30</ymax></bndbox>"
...     "</object></annotation>")
>>> ds = VOCDetection(root)
>>> ds.classes, len(ds)
(('background', 'cat'), 1)
>>> image, target = ds[0]
>>> image.shape, target["boxes"], target["labels"]
((30, 40, 3), array([[ 0.,  4., 20., 30.]], dtype=float32), array([1]))
>>> tmp.cleanup()
"""
from __future__ import annotations

import collections
import os
import xml.etree.ElementTree as ET

import numpy as np

from minicv.data._io import check_index, read_image, warn_skipped

__all__ = ["VOCDetection", "VOC_CLASSES"]

# The 20 Pascal VOC object classes, in the devkit's order (background is added as label 0).
VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
               "sheep", "sofa", "train", "tvmonitor")

_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".JPG", ".JPEG", ".PNG")
_COORDS = ("xmin", "ymin", "xmax", "ymax")


def _find_dir(op: str, root: str, names: tuple[str, ...]) -> str:
    for name in names:
        path = os.path.join(root, name)
        if os.path.isdir(path):
            return path
    raise FileNotFoundError(f"{op}: '{root}' has no {' or '.join(n + '/' for n in names)} "
                            f"folder")


def _read_split(op: str, root: str, split_file) -> list[str]:
    """Image ids listed in ``split_file`` (a path, or one relative to ``root``)."""
    path = os.fspath(split_file)
    if not os.path.isfile(path) and os.path.isfile(os.path.join(root, path)):
        path = os.path.join(root, path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{op}: split_file '{path}' does not exist")
    ids = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            if len(fields) > 1:
                raise ValueError(f"{op}: split_file '{path}' line {number} has {len(fields)} "
                                 f"fields {fields}; it must list one image id per line "
                                 f"(like VOC's ImageSets/Main/train.txt)")
            ids.append(os.path.splitext(fields[0])[0] if fields[0].endswith(
                (".xml", *_IMAGE_EXTENSIONS)) else fields[0])
    return ids


def _flag(op: str, where: str, obj, field: str) -> bool:
    """A 0/1 flag of an <object>; absent means 0."""
    text = obj.findtext(field)
    if text is None or not text.strip():
        return False
    if text.strip() not in ("0", "1"):
        raise ValueError(f"{op}: {where}: field '{field}' is {text.strip()!r}, not 0 or 1")
    return text.strip() == "1"


class VOCDetection:
    """Pascal VOC-style detection dataset (see the module docstring for the layout and rules).

    Parameters
    ----------
    root : str or os.PathLike
        The folder holding JPEGImages/ (or images/) and Annotations/ (or annotations/).
    split_file : str or os.PathLike, optional
        A text file of image ids, one per line (VOC's ImageSets/Main/<split>.txt); a relative
        path is looked up in the working directory, then under ``root``. Default: every XML file
        in the annotations folder, sorted by name.
    classes : sequence of str, optional
        The object class names; label i + 1 is ``classes[i]`` ("background", if given first, is
        kept as label 0). Default: the names found in the annotations, sorted. With classes
        given, any other name in a file is an error.
    transforms : callable ``t(image, target) -> (image, target)``, optional
        Applied to every sample by ``__getitem__``.
    keep_difficult : bool
        False leaves difficult objects out (listed in ``skipped``). VOC's evaluation keeps them
        and ignores detections matched to them, so the default is True.

    Attributes
    ----------
    classes : tuple of str, "background" first; num_classes = len(classes); ignore_index None.
    ids : tuple of str, the image ids in dataset order (``target["image_id"]`` indexes it).
    skipped, clipped : lists of dicts {"file", "object", "reason"}.
    """

    ignore_index = None

    def __init__(self, root, split_file=None, classes=None, transforms=None,
                 keep_difficult: bool = True):
        op = "VOCDetection"
        self.root = os.fspath(root)
        self.transforms = transforms
        self.keep_difficult = bool(keep_difficult)
        self.images_dir = _find_dir(op, self.root, ("JPEGImages", "images"))
        self.annotations_dir = _find_dir(op, self.root, ("Annotations", "annotations"))
        if split_file is None:
            ids = sorted(os.path.splitext(name)[0] for name in os.listdir(self.annotations_dir)
                         if name.endswith(".xml"))
        else:
            ids = _read_split(op, self.root, split_file)
        if classes is not None:
            classes = tuple(classes)
            if classes and classes[0] == "background":
                classes = classes[1:]
            if len(set(classes)) != len(classes) or "background" in classes:
                raise ValueError(f"{op}: classes must be distinct names other than "
                                 f"'background' (label 0), got {classes}")
        self.skipped: list[dict] = []
        self.clipped: list[dict] = []
        records = [self._parse(op, image_id, classes) for image_id in ids]
        names = classes if classes is not None else tuple(sorted(
            {o["name"] for r in records for o in r["objects"]}))
        self.classes = ("background", *names)
        self.num_classes = len(self.classes)
        self.ids = tuple(ids)
        label = {name: i for i, name in enumerate(self.classes)}
        self._records = []
        for record in records:
            objects = record.pop("objects")
            record["target"] = {
                "boxes": np.array([o["box"] for o in objects], np.float32).reshape(-1, 4),
                "labels": np.array([label[o["name"]] for o in objects], np.int64),
                "iscrowd": np.zeros(len(objects), bool),
                "difficult": np.array([o["difficult"] for o in objects], bool),
                "truncated": np.array([o["truncated"] for o in objects], bool),
            }
            self._records.append(record)
        total = sum(len(r["target"]["labels"]) for r in self._records) + len(self.skipped)
        warn_skipped(op, self.skipped, self.clipped, total, "objects", self.root)

    # -- parsing ------------------------------------------------------------------------------
    def _parse(self, op: str, image_id: str, classes) -> dict:
        """Read one XML file: its image path, size and objects (boxes already converted)."""
        xml_path = os.path.join(self.annotations_dir, image_id + ".xml")
        if not os.path.isfile(xml_path):
            raise FileNotFoundError(f"{op}: image id '{image_id}' has no annotation file "
                                    f"'{xml_path}'")
        try:
            tree = ET.parse(xml_path)
        except ET.ParseError as exc:
            raise ValueError(f"{op}: '{xml_path}' is not well-formed XML ({exc})") from exc
        annotation = tree.getroot()
        image_path = self._image_path(op, xml_path, image_id, annotation.findtext("filename"))
        size = None                                          # (W, H) when the file gives one
        width, height = annotation.findtext("size/width"), annotation.findtext("size/height")
        if width is not None and height is not None:
            try:
                size = (int(float(width)), int(float(height)))
            except ValueError:
                raise ValueError(f"{op}: '{xml_path}': field 'size/width' or 'size/height' is "
                                 f"not a number ({width!r}, {height!r})") from None
            size = size if min(size) > 0 else None           # some tools write 0 for unknown
        objects = []
        for number, obj in enumerate(annotation.iter("object")):
            where = f"'{xml_path}' object {number}"
            name = (obj.findtext("name") or "").strip()
            if not name:
                raise ValueError(f"{op}: {where}: field 'name' is missing or empty")
            if classes is not None and name not in classes:
                raise ValueError(f"{op}: {where}: field 'name' is {name!r}, not one of the "
                                 f"given classes {classes}")
            xmin, ymin, xmax, ymax = (self._coordinate(op, where, obj, c) for c in _COORDS)
            box = [xmin - 1.0, ymin - 1.0, xmax, ymax]       # 1-based inclusive -> continuous
            if box[2] <= box[0] or box[3] <= box[1]:
                raise ValueError(f"{op}: {where}: field 'bndbox' has xmax < xmin or ymax < ymin "
                                 f"(xmin={xmin:g}, ymin={ymin:g}, xmax={xmax:g}, ymax={ymax:g}),"
                                 f" i.e. box {box} has x2 <= x1 or y2 <= y1")
            difficult = _flag(op, where, obj, "difficult")
            truncated = _flag(op, where, obj, "truncated")
            entry = {"file": xml_path, "object": number}
            if size is not None:
                clipped = [min(max(box[0], 0.0), size[0]), min(max(box[1], 0.0), size[1]),
                           min(max(box[2], 0.0), size[0]), min(max(box[3], 0.0), size[1])]
                if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
                    self.skipped.append({**entry, "reason": "box outside the image"})
                    continue
                if clipped != box:
                    self.clipped.append({**entry, "reason": f"box {box} clipped to the "
                                                            f"{size[0]}x{size[1]} image"})
                box = clipped
            if difficult and not self.keep_difficult:
                self.skipped.append({**entry, "reason": "difficult (keep_difficult=False)"})
                continue
            objects.append({"name": name, "box": box, "difficult": difficult,
                            "truncated": truncated})
        return {"xml": xml_path, "image": image_path, "size": size, "objects": objects}

    @staticmethod
    def _coordinate(op: str, where: str, obj, field: str) -> float:
        text = obj.findtext(f"bndbox/{field}")
        if text is None or not text.strip():
            raise ValueError(f"{op}: {where}: field 'bndbox/{field}' is missing")
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{op}: {where}: field 'bndbox/{field}' is {text.strip()!r}, not a "
                             f"number") from None
        if not np.isfinite(value):
            raise ValueError(f"{op}: {where}: field 'bndbox/{field}' is {text.strip()!r}, not a "
                             f"finite number")
        return value

    def _image_path(self, op: str, xml_path: str, image_id: str, filename) -> str:
        """The XML's <filename> in the images folder, else <id>.jpg (.jpeg, .png, ...)."""
        tried = []
        if filename and filename.strip():
            tried.append(os.path.join(self.images_dir, os.path.basename(filename.strip())))
        tried += [os.path.join(self.images_dir, image_id + ext) for ext in _IMAGE_EXTENSIONS]
        for path in tried:
            if os.path.isfile(path):
                return path
        raise FileNotFoundError(f"{op}: '{xml_path}': the image file is missing (field "
                                f"'filename' is {filename!r}); looked for "
                                f"{', '.join(repr(os.path.basename(p)) for p in tried[:2])}, ... "
                                f"in '{self.images_dir}'")

    # -- access -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._records)

    def __repr__(self) -> str:
        return (f"VOCDetection(root={self.root!r}, images={len(self)}, "
                f"classes={self.num_classes - 1} + background)")

    def target(self, index) -> dict:
        """The target of image ``index`` without reading the image or applying transforms
        (for evaluation and statistics). Arrays are fresh copies."""
        index = check_index("VOCDetection", index, len(self))
        target = {k: v.copy() for k, v in self._records[index]["target"].items()}
        target["image_id"] = index
        return target

    def __getitem__(self, index):
        index = check_index("VOCDetection", index, len(self))
        record = self._records[index]
        image = read_image(record["image"], op="VOCDetection")
        height, width = image.shape[:2]
        if record["size"] is not None and record["size"] != (width, height):
            raise ValueError(f"VOCDetection: '{record['xml']}': field 'size' says "
                             f"{record['size'][0]}x{record['size'][1]} but image "
                             f"'{record['image']}' is {width}x{height}")
        target = self.target(index)
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target

    def describe(self) -> str:
        """A short text: images, objects per class (difficult ones in brackets), skipped."""
        counts = collections.Counter()
        hard = collections.Counter()
        for record in self._records:
            t = record["target"]
            counts.update(t["labels"].tolist())
            hard.update(t["labels"][t["difficult"]].tolist())
        lines = [f"VOCDetection '{self.root}': {len(self)} images, {sum(counts.values())} "
                 f"objects, {self.num_classes - 1} classes"]
        for label, name in enumerate(self.classes[1:], 1):
            lines.append(f"  {label:3d} {name:<16s} {counts[label]:6d} objects"
                         + (f" ({hard[label]} difficult)" if hard[label] else ""))
        reasons = collections.Counter(s["reason"] for s in self.skipped)
        lines.append(f"  skipped {len(self.skipped)} objects"
                     + "".join(f"; {n} {why}" for why, n in reasons.items()))
        lines.append(f"  clipped {len(self.clipped)} boxes to the image")
        return "\n".join(lines)
