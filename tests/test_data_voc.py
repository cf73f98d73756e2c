"""VOCDetection on tiny VOC folders built here with PIL and hand-written XML, every error
message, the skipped/clipped reports, and (when ../shared/data/raccoon exists) the raccoon set."""
import os
import pathlib
import re
import warnings

import numpy as np
import pytest
from PIL import Image

from minicv.data.voc import VOC_CLASSES, VOCDetection

RACCOON = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "raccoon"


def obj_xml(name, box, difficult=None, truncated=None):
    flags = "".join(f"<{k}>{v}</{k}>" for k, v in (("difficult", difficult),
                                                   ("truncated", truncated)) if v is not None)
    coords = "".join(f"<{k}>{v}</{k}>" for k, v in zip(("xmin", "ymin", "xmax", "ymax"), box))
    return f"<object><name>{name}</name>{flags}<bndbox>{coords}</bndbox></object>"


def write_xml(path, filename, size, objects):
    size_xml = "" if size is None else (f"<size><width>{size[0]}</width><height>{size[1]}"
                                        f"</height><depth>3</depth></size>")
    path.write_text(f"<annotation><folder>x</folder><filename>{filename}</filename>{size_xml}"
                    + "".join(objects) + "</annotation>")


@pytest.fixture
def voc(tmp_path):
    """images/ + annotations/: an RGB JPEG, a greyscale JPEG, an RGBA PNG, an empty image."""
    images, annotations = tmp_path / "images", tmp_path / "annotations"
    images.mkdir()
    annotations.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)).save(images / "a.jpg")
    Image.fromarray(rng.integers(0, 255, (20, 25), dtype=np.uint8)).save(images / "b.jpg")
    Image.fromarray(rng.integers(0, 255, (16, 12, 4), dtype=np.uint8)).save(images / "c.png")
    Image.new("RGB", (10, 10)).save(images / "d.jpg")
    write_xml(annotations / "a.xml", "a.jpg", (40, 30), [
        obj_xml("dog", (1, 1, 40, 30), difficult=0, truncated=1),
        obj_xml("cat", (11, 6, 20, 15), difficult=1, truncated=0)])
    write_xml(annotations / "b.xml", "b.jpg", (25, 20), [obj_xml("bird", (3, 4, 3, 4))])
    write_xml(annotations / "c.xml", "c.png", (12, 16), [obj_xml("cat", (2.5, 3, 7.5, 9))])
    write_xml(annotations / "d.xml", "d.jpg", (10, 10), [])
    return tmp_path


def test_samples_boxes_labels_and_flags(voc):
    ds = VOCDetection(voc)
    assert ds.classes == ("background", "bird", "cat", "dog")     # sorted, background first
    assert ds.num_classes == 4 and ds.ignore_index is None
    assert len(ds) == 4 and ds.ids == ("a", "b", "c", "d")
    image, target = ds[0]
    assert image.shape == (30, 40, 3) and image.dtype == np.uint8
    # VOC pixels 1..40 x 1..30 inclusive are the whole image [0, 40] x [0, 30]
    np.testing.assert_array_equal(target["boxes"], [[0, 0, 40, 30], [10, 5, 20, 15]])
    assert target["boxes"].dtype == np.float32
    assert target["labels"].dtype == np.int64 and target["labels"].tolist() == [3, 2]
    assert target["difficult"].tolist() == [False, True]
    assert target["truncated"].tolist() == [True, False]
    assert target["iscrowd"].dtype == bool and not target["iscrowd"].any()
    assert target["image_id"] == 0
    # a one-pixel box (xmin = xmax = 3) is one pixel wide: [2, 3)
    np.testing.assert_array_equal(ds[1][1]["boxes"], [[2, 3, 3, 4]])
    np.testing.assert_array_equal(ds[2][1]["boxes"], [[1.5, 2, 7.5, 9]])      # fractional
    assert ds.skipped == [] and ds.clipped == []


def test_image_modes_become_rgb(voc):
    ds = VOCDetection(voc)
    grey, _ = ds[1]                                  # greyscale JPEG: three equal channels
    assert grey.shape == (20, 25, 3)
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    rgba, _ = ds[2]                                  # RGBA PNG: alpha dropped, colours kept
    source = np.asarray(Image.open(voc / "images" / "c.png"))
    np.testing.assert_array_equal(rgba, source[..., :3])


def test_image_without_objects(voc):
    _, target = VOCDetection(voc)[3]
    assert target["boxes"].shape == (0, 4) and target["boxes"].dtype == np.float32
    assert target["labels"].shape == (0,) and target["labels"].dtype == np.int64
    assert target["difficult"].shape == (0,) and target["iscrowd"].shape == (0,)


def test_voc_folder_names_and_filename_fallback(tmp_path):
    (tmp_path / "JPEGImages").mkdir()
    (tmp_path / "Annotations").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "JPEGImages" / "000005.jpg")
    # <filename> names nothing that exists: <id>.jpg is used
    write_xml(tmp_path / "Annotations" / "000005.xml", "renamed.jpg", (8, 8),
              [obj_xml("chair", (2, 2, 5, 6))])
    ds = VOCDetection(tmp_path, classes=VOC_CLASSES)
    assert ds.classes == ("background",) + VOC_CLASSES and ds.num_classes == 21
    assert ds[0][1]["labels"].tolist() == [VOC_CLASSES.index("chair") + 1]


def test_split_file_and_given_classes(voc):
    (voc / "ImageSets").mkdir()
    (voc / "ImageSets" / "val.txt").write_text("c\n\n# a comment\na.jpg\n")
    ds = VOCDetection(voc, split_file="ImageSets/val.txt", classes=("dog", "cat"))
    assert ds.ids == ("c", "a")                      # file order, extension stripped
    assert ds.classes == ("background", "dog", "cat")
    assert ds[0][1]["labels"].tolist() == [2] and ds[1][1]["labels"].tolist() == [1, 2]
    # "background" given first is label 0, not a second background
    assert VOCDetection(voc, split_file=voc / "ImageSets" / "val.txt",
                        classes=("background", "dog", "cat")).classes == ds.classes


def test_transforms_applied_and_targets_not_shared(voc):
    calls = []

    def flip(image, target):
        calls.append(target["image_id"])
        target = dict(target, boxes=target["boxes"].copy())
        target["boxes"][:, [0, 2]] = image.shape[1] - target["boxes"][:, [2, 0]]
        return image[:, ::-1], target

    ds = VOCDetection(voc, transforms=flip)
    _, target = ds[-4]                                # negative index: image 0
    np.testing.assert_array_equal(target["boxes"], [[0, 0, 40, 30], [20, 5, 30, 15]])
    assert calls == [0]
    plain = VOCDetection(voc)
    plain.target(0)["boxes"][:] = -1                  # a copy: the dataset is unchanged
    np.testing.assert_array_equal(plain[0][1]["boxes"][0], [0, 0, 40, 30])


def test_keep_difficult_false_reports_and_warns(voc):
    with pytest.warns(UserWarning, match=r"VOCDetection: skipped 1 of 4 objects \(1 difficult "
                                         r"\(keep_difficult=False\)\)"):
        ds = VOCDetection(voc, keep_difficult=False)
    assert ds[0][1]["labels"].tolist() == [3]
    assert ds.skipped == [{"file": str(voc / "annotations" / "a.xml"), "object": 1,
                           "reason": "difficult (keep_difficult=False)"}]
    assert "skipped 1 objects; 1 difficult" in ds.describe()


def test_boxes_clipped_or_outside_are_reported(voc):
    write_xml(voc / "annotations" / "d.xml", "d.jpg", (10, 10), [
        obj_xml("cat", (0, 0, 5, 12)),               # 0-based tool: x1 = -1, y2 = 12 > 10
        obj_xml("cat", (12, 1, 15, 5)),              # wholly right of the image
        obj_xml("dog", (2, 2, 4, 4))])
    with pytest.warns(UserWarning, match=r"skipped 1 of 7 objects \(1 box outside the image\); "
                                         r"clipped 1 boxes to the image"):
        ds = VOCDetection(voc)
    np.testing.assert_array_equal(ds[3][1]["boxes"], [[0, 0, 5, 10], [1, 1, 4, 4]])
    assert [s["object"] for s in ds.skipped] == [1] and [c["object"] for c in ds.clipped] == [0]
    assert "clipped to the 10x10 image" in ds.clipped[0]["reason"]


def test_no_warning_when_nothing_skipped(voc):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        VOCDetection(voc)


def test_describe_counts(voc):
    text = VOCDetection(voc).describe()
    assert "4 images, 4 objects, 3 classes" in text
    assert "cat" in text and "2 objects (1 difficult)" in text


# ---------------------------------------------------------------------------------------------
# Errors name the file and the field
# ---------------------------------------------------------------------------------------------
def replace_xml(voc, objects, size=(40, 30), filename="a.jpg"):
    write_xml(voc / "annotations" / "a.xml", filename, size, objects)
    return str(voc / "annotations" / "a.xml")


@pytest.mark.parametrize("objects, message", [
    ([obj_xml("dog", (1, 1, "ten", 5))], r"object 0: field 'bndbox/xmax' is 'ten', not a number"),
    ([obj_xml("dog", (1, 1, 5, 5)), "<object><name>cat</name><bndbox><xmin>1</xmin><ymin>1"
      "</ymin><xmax>3</xmax></bndbox></object>"], r"object 1: field 'bndbox/ymax' is missing"),
    (["<object><name>cat</name></object>"], r"object 0: field 'bndbox/xmin' is missing"),
    ([obj_xml("dog", (5, 1, 4, 5))], r"object 0: field 'bndbox' has xmax < xmin or ymax < ymin "
                                     r"\(xmin=5, ymin=1, xmax=4, ymax=5\), i\.e\. box "
                                     r"\[4\.0, 0\.0, 4\.0, 5\.0\] has x2 <= x1"),
    ([obj_xml("dog", (1, 6, 4, 4))], r"object 0: field 'bndbox' has xmax < xmin or ymax < ymin"),
    ([obj_xml("", (1, 1, 4, 4))], r"object 0: field 'name' is missing or empty"),
    ([obj_xml("dog", (1, 1, 4, 4), difficult="yes")],
     r"object 0: field 'difficult' is 'yes', not 0 or 1"),
    ([obj_xml("dog", (1, 1, 4, 4), truncated=2)],
     r"object 0: field 'truncated' is '2', not 0 or 1"),
    ([obj_xml("dog", (1, 1, "inf", 4))],
     r"object 0: field 'bndbox/xmax' is 'inf', not a finite number"),
])
def test_bad_objects(voc, objects, message):
    path = replace_xml(voc, objects)
    with pytest.raises(ValueError, match=r"VOCDetection: '" + re.escape(path) + r"' " + message):
        VOCDetection(voc)


def test_malformed_xml(voc):
    (voc / "annotations" / "b.xml").write_text("<annotation><object></annotation>")
    with pytest.raises(ValueError, match=r"VOCDetection: '.*b\.xml' is not well-formed XML "
                                         r"\(mismatched tag: line 1"):
        VOCDetection(voc)


def test_bad_size_field(voc):
    replace_xml(voc, [], size=("wide", 30))
    with pytest.raises(ValueError, match=r"a\.xml': field 'size/width' or 'size/height' is not "
                                         r"a number \('wide', '30'\)"):
        VOCDetection(voc)


def test_unknown_class_when_classes_given(voc):
    with pytest.raises(ValueError, match=r"VOCDetection: '.*a\.xml' object 0: field 'name' is "
                                         r"'dog', not one of the given classes \('cat', 'bird'\)"):
        VOCDetection(voc, classes=["cat", "bird"])


def test_bad_classes_argument(voc):
    with pytest.raises(ValueError, match=r"VOCDetection: classes must be distinct names other "
                                         r"than 'background'"):
        VOCDetection(voc, classes=["cat", "cat", "dog", "bird"])


def test_missing_image(voc):
    os.remove(voc / "images" / "b.jpg")
    with pytest.raises(FileNotFoundError, match=r"VOCDetection: '.*b\.xml': the image file is "
                                                r"missing \(field 'filename' is 'b\.jpg'\); "
                                                r"looked for 'b\.jpg', 'b\.jpg', \.\.\. in"):
        VOCDetection(voc)


def test_missing_folders_and_split_problems(voc, tmp_path_factory):
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(FileNotFoundError, match=r"VOCDetection: '.*' has no JPEGImages/ or "
                                                r"images/ folder"):
        VOCDetection(empty)
    (voc / "split.txt").write_text("a\nzzz\n")
    with pytest.raises(FileNotFoundError, match=r"VOCDetection: image id 'zzz' has no "
                                                r"annotation file '.*zzz\.xml'"):
        VOCDetection(voc, split_file=voc / "split.txt")
    (voc / "split.txt").write_text("a 1\n")
    with pytest.raises(ValueError, match=r"split_file '.*split\.txt' line 1 has 2 fields "
                                         r"\['a', '1'\]; it must list one image id per line"):
        VOCDetection(voc, split_file=voc / "split.txt")
    with pytest.raises(FileNotFoundError, match=r"VOCDetection: split_file 'nope\.txt' does not "
                                                r"exist"):
        VOCDetection(voc, split_file="nope.txt")


def test_image_size_differs_from_xml(voc):
    replace_xml(voc, [obj_xml("dog", (1, 1, 4, 4))], size=(41, 30))
    ds = VOCDetection(voc)
    with pytest.raises(ValueError, match=r"VOCDetection: '.*a\.xml': field 'size' says 41x30 "
                                         r"but image '.*a\.jpg' is 40x30"):
        ds[0]


def test_index_errors(voc):
    ds = VOCDetection(voc)
    with pytest.raises(IndexError, match=r"VOCDetection: index 4 out of range for 4 images"):
        ds[4]
    with pytest.raises(IndexError, match=r"index -5 out of range"):
        ds.target(-5)


# ---------------------------------------------------------------------------------------------
# The raccoon images (../shared/data/raccoon), when present
# ---------------------------------------------------------------------------------------------
@pytest.mark.skipif(not RACCOON.is_dir(), reason=f"{RACCOON} is not here (local data only)")
def test_raccoon():
    with warnings.catch_warnings():
        warnings.simplefilter("error")               # nothing skipped or clipped
        ds = VOCDetection(RACCOON)
    assert len(ds) == 160 and ds.classes == ("background", "raccoon")
    targets = [ds.target(i) for i in range(len(ds))]
    assert sum(len(t["boxes"]) for t in targets) == 173
    assert all(1 <= len(t["boxes"]) <= 3 for t in targets)
    assert not any(t["difficult"].any() for t in targets)
    first = ds.target(ds.ids.index("raccoon-1"))     # <xmin>81 <ymin>88 <xmax>522 <ymax>408
    np.testing.assert_array_equal(first["boxes"], [[80, 87, 522, 408]])
    for name in ("raccoon-150", "raccoon-152", "raccoon-161"):   # the greyscale JPEGs
        image, target = ds[ds.ids.index(name)]
        assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
        boxes = target["boxes"]
        assert (boxes[:, 2] <= image.shape[1]).all() and (boxes[:, 3] <= image.shape[0]).all()
