"""COCODetection on a small COCO JSON built here: polygons, RLE in both forms, crowd regions,
non-contiguous category ids; every error message and the skipped/clipped reports; agreement
with pycocotools' COCO API when it is installed (skipped cleanly otherwise)."""
import copy
import json
import os
import re
import warnings

import numpy as np
import pytest
from PIL import Image

from minicv.data.coco import COCODetection

# Image 101 is 20 wide and 16 high. Its crowd region (rows 10-13, columns 12-17), worked by
# hand in column-major order: 12 empty columns and 10 rows = 202 zeros, then per column 4 ones
# and 12 zeros (2 below, 10 above in the next column), and after the last 4 ones 2 + 2*16 = 34.
CROWD_COUNTS = [202, 4, 12, 4, 12, 4, 12, 4, 12, 4, 12, 4, 34]
# A 2 x 2 block at the top-left corner: counts [0, 2, 14, 2, 302]; compressed, the fourth count
# is stored as 2 - 2 = 0 and the fifth as 302 - 14 = 288 = 0 + 9 * 32 -> 'P' (0 + 32 + 48), '9'.
CORNER_STRING = "02>0P9"

DATASET = {
    "info": {"description": "minicv test"},
    "images": [
        {"id": 101, "file_name": "rgb.png", "height": 16, "width": 20},
        {"id": 205, "file_name": "sub/grey.jpg", "height": 10, "width": 12},
        {"id": 7, "file_name": "rgba.png", "height": 8, "width": 8},       # no annotations
    ],
    "categories": [{"id": 9, "name": "zebra"}, {"id": 2, "name": "cat"},
                   {"id": 5, "name": "dog"}],
    "annotations": [
        {"id": 1, "image_id": 101, "category_id": 5, "bbox": [2, 3, 6, 4], "iscrowd": 0,
         "area": 24.0, "segmentation": [[2, 3, 8, 3, 8, 7, 2, 7]]},
        {"id": 2, "image_id": 101, "category_id": 9, "bbox": [12, 10, 6, 4], "iscrowd": 1,
         "area": 24.0, "segmentation": {"size": [16, 20], "counts": CROWD_COUNTS}},
        {"id": 3, "image_id": 101, "category_id": 2, "bbox": [0, 0, 2, 2], "iscrowd": 0,
         "area": 4.0, "segmentation": {"size": [16, 20], "counts": CORNER_STRING}},
        {"id": 4, "image_id": 205, "category_id": 2, "bbox": [0, 0, 9, 8], "iscrowd": 0,
         "area": 18.0, "segmentation": [[0, 0, 3, 0, 3, 3, 0, 3], [6, 5, 9, 5, 9, 8, 6, 8]]},
        {"id": 5, "image_id": 205, "category_id": 9, "bbox": [8, 6, 10, 10], "iscrowd": 0,
         "segmentation": [[8, 6, 12, 6, 12, 10, 8, 10]]},                  # no area field
    ],
}


def write_json(root, data):
    path = root / "instances.json"
    path.write_text(json.dumps(data))
    return str(path)


@pytest.fixture
def coco(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (16, 20, 3), dtype=np.uint8)).save(tmp_path / "rgb.png")
    (tmp_path / "sub").mkdir()
    Image.fromarray(rng.integers(0, 255, (10, 12), dtype=np.uint8)).save(
        tmp_path / "sub" / "grey.jpg")
    Image.fromarray(rng.integers(0, 255, (8, 8, 4), dtype=np.uint8)).save(tmp_path / "rgba.png")
    return tmp_path


def load(coco, data=DATASET, **kwargs):
    return COCODetection(coco, write_json(coco, data), **kwargs)


def box_mask(height, width, rows, cols):
    mask = np.zeros((height, width), bool)
    mask[rows[0]:rows[1], cols[0]:cols[1]] = True
    return mask


def test_categories_map_to_contiguous_labels(coco):
    with pytest.warns(UserWarning, match=r"COCODetection: clipped 1 boxes to the image"):
        ds = load(coco)
    assert ds.classes == ("background", "cat", "dog", "zebra")        # by category id 2, 5, 9
    assert ds.num_classes == 4 and ds.ignore_index is None
    assert ds.category_id_to_label == {2: 1, 5: 2, 9: 3}
    assert ds.label_to_category_id == {1: 2, 2: 5, 3: 9}
    assert len(ds) == 3 and ds.ids == (101, 205, 7)


def test_first_image_boxes_masks_crowd(coco):
    with pytest.warns(UserWarning):
        ds = load(coco)
    image, target = ds[0]
    assert image.shape == (16, 20, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, np.asarray(Image.open(coco / "rgb.png")))
    assert target["boxes"].dtype == np.float32
    np.testing.assert_array_equal(target["boxes"], [[2, 3, 8, 7], [12, 10, 18, 14], [0, 0, 2, 2]])
    assert target["labels"].dtype == np.int64 and target["labels"].tolist() == [2, 3, 1]
    assert target["iscrowd"].dtype == bool and target["iscrowd"].tolist() == [False, True, False]
    assert target["difficult"].dtype == bool and not target["difficult"].any()
    assert target["image_id"] == 101
    masks = target["masks"]
    assert masks.dtype == bool and masks.shape == (3, 16, 20)
    np.testing.assert_array_equal(masks[0], box_mask(16, 20, (3, 7), (2, 8)))      # polygon
    np.testing.assert_array_equal(masks[1], box_mask(16, 20, (10, 14), (12, 18)))  # list RLE
    np.testing.assert_array_equal(masks[2], box_mask(16, 20, (0, 2), (0, 2)))      # string RLE
    np.testing.assert_array_equal(target["area"], [24, 24, 4])
    assert target["area"].dtype == np.float32


def test_two_polygons_greyscale_and_clipping(coco):
    with pytest.warns(UserWarning, match=r"clipped 1 boxes"):
        ds = load(coco)
    image, target = ds[1]
    assert image.shape == (10, 12, 3)                                   # greyscale -> RGB
    assert (image[..., 0] == image[..., 2]).all()
    # the second box [8, 6, 10, 10] reaches x 18, y 16 in a 12 x 10 image: clipped
    np.testing.assert_array_equal(target["boxes"], [[0, 0, 9, 8], [8, 6, 12, 10]])
    assert target["labels"].tolist() == [1, 3]
    expected = box_mask(10, 12, (0, 3), (0, 3)) | box_mask(10, 12, (5, 8), (6, 9))
    np.testing.assert_array_equal(target["masks"][0], expected)         # union of two polygons
    # no "area" field: the mask's pixel count
    np.testing.assert_array_equal(target["area"], [18, 16])
    assert ds.clipped == [{"file": str(coco / "instances.json"),
                           "annotation": "annotations[4] (id 5)",
                           "reason": "box [8.0, 6.0, 18.0, 16.0] clipped to the 12x10 image"}]


def test_image_without_annotations(coco):
    with pytest.warns(UserWarning):
        ds = load(coco)
    image, target = ds[2]
    assert image.shape == (8, 8, 3)                                      # RGBA -> RGB
    np.testing.assert_array_equal(image, np.asarray(Image.open(coco / "rgba.png"))[..., :3])
    assert target["boxes"].shape == (0, 4) and target["labels"].shape == (0,)
    assert target["masks"].shape == (0, 8, 8) and target["image_id"] == 7
    assert target["area"].shape == (0,) and target["iscrowd"].shape == (0,)


def test_masks_switch(coco):
    with pytest.warns(UserWarning):
        boxes_only = load(coco, masks=False)
    assert "masks" not in boxes_only.target(0) and not boxes_only.has_masks
    np.testing.assert_array_equal(boxes_only.target(1)["area"], [18, 16])   # clipped box
    data = copy.deepcopy(DATASET)
    del data["annotations"][4]["segmentation"]
    with pytest.warns(UserWarning):
        assert not load(coco, data).has_masks                            # auto: not all have one
    with pytest.raises(ValueError, match=r"annotations\[4\] \(id 5\): field 'segmentation' is "
                                         r"missing \(pass masks=False for boxes only\)"):
        load(coco, data, masks=True)


def test_transforms_and_describe(coco):
    def drop_crowd(image, target):
        keep = ~target["iscrowd"]
        return image, {k: (v[keep] if isinstance(v, np.ndarray) else v) for k, v in
                       target.items()}

    with pytest.warns(UserWarning):
        ds = load(coco, transforms=drop_crowd)
    assert ds[0][1]["labels"].tolist() == [2, 1]
    assert ds.target(0)["labels"].tolist() == [2, 3, 1]                 # target(): untransformed
    text = ds.describe()
    assert "3 images, 5 annotations, 3 classes, masks yes" in text
    assert "zebra" in text and "(1 crowd)" in text
    assert [a["id"] for a in ds.annotations[0]] == [1, 2, 3]            # the JSON dicts kept


def test_box_outside_image_is_skipped_and_reported(coco):
    data = copy.deepcopy(DATASET)
    data["annotations"].append({"id": 6, "image_id": 7, "category_id": 2, "bbox": [9, 1, 3, 3],
                                "iscrowd": 0, "segmentation": [[9, 1, 12, 1, 12, 4]]})
    with pytest.warns(UserWarning, match=r"COCODetection: skipped 1 of 6 annotations \(1 box "
                                         r"outside the image\); clipped 1 boxes"):
        ds = load(coco, data)
    assert ds.target(2)["boxes"].shape == (0, 4)
    assert [s["annotation"] for s in ds.skipped] == ["annotations[5] (id 6)"]


def test_no_warning_when_nothing_skipped_or_clipped(coco):
    data = copy.deepcopy(DATASET)
    data["annotations"][4]["bbox"] = [8, 6, 4, 4]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = load(coco, data)
    assert ds.skipped == [] and ds.clipped == []


# ---------------------------------------------------------------------------------------------
# Errors name the file, the entry and the field
# ---------------------------------------------------------------------------------------------
def edit(change):
    data = copy.deepcopy(DATASET)
    change(data)
    return data


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("images"), r"has no 'images' list \(keys: \['annotations', 'categories', "
                                r"'info'\]\)"),
    (lambda d: d.update(annotations={}), r"'annotations' must be a list, got dict"),
    (lambda d: d["images"][1].pop("file_name"), r"images\[1\]: field 'file_name' is missing"),
    (lambda d: d["images"][0].update(height="16"), r"images\[0\]: field 'height' must be an "
                                                   r"integer, got '16'"),
    (lambda d: d["images"][2].update(id=101), r"images\[2\]: field 'id' 101 is used twice"),
    (lambda d: d["categories"][1].pop("name"), r"categories\[1\]: field 'name' is missing"),
    (lambda d: d["categories"][1].update(id=9), r"categories\[1\]: field 'id' 9 is used twice"),
    (lambda d: d["annotations"][2].update(image_id=999),
     r"annotations\[2\] \(id 3\): field 'image_id' 999 names no image in 'images'"),
    (lambda d: d["annotations"][0].update(category_id=1),
     r"annotations\[0\] \(id 1\): field 'category_id' 1 is not in 'categories' "
     r"\(ids \[2, 5, 9\]\)"),
    (lambda d: d["annotations"][1].update(bbox=[12, 10, 0, 4]),
     r"annotations\[1\] \(id 2\): field 'bbox' \[12, 10, 0, 4\] has width or height <= 0, "
     r"i\.e\. x2 <= x1 or y2 <= y1"),
    (lambda d: d["annotations"][1].update(bbox=[12, 10, 3, -1]), r"annotations\[1\] \(id 2\): "
     r"field 'bbox' \[12, 10, 3, -1\] has width or height <= 0"),
    (lambda d: d["annotations"][3].update(bbox=[1, 2, 3]),
     r"annotations\[3\] \(id 4\): field 'bbox' must be \[x, y, width, height\] with four "
     r"finite numbers, got \[1, 2, 3\]"),
    (lambda d: d["annotations"][3].pop("bbox"), r"annotations\[3\] \(id 4\): field 'bbox' is "
                                                r"missing"),
    (lambda d: d["annotations"][0].pop("id") and d["annotations"][0].pop("category_id"),
     r"annotations\[0\]: field 'category_id' is missing"),
    (lambda d: d["annotations"][1]["segmentation"].update(size=[20, 16]),
     r"annotations\[1\] \(id 2\): field 'segmentation\.size' is \[20, 16\], but the image is "
     r"\[16, 20\] \(height, width\)"),
    (lambda d: d["annotations"][0].update(segmentation=[[1, 2, 3]]),
     r"annotations\[0\] \(id 1\): field 'segmentation' polygon 0 must be a flat list"),
    (lambda d: d["annotations"][0].update(segmentation="abc"),
     r"annotations\[0\] \(id 1\): field 'segmentation' must be a list of polygons or an RLE "
     r"dict, got str"),
    (lambda d: d["annotations"][0].update(iscrowd=2), r"annotations\[0\] \(id 1\): "
     r"field 'iscrowd' is 2, not 0 or 1"),
    (lambda d: d["annotations"][0].update(area="big"), r"annotations\[0\] \(id 1\): "
     r"field 'area' must be a finite number, got 'big'"),
])
def test_bad_json_fields(coco, change, message):
    path = str(coco / "instances.json")
    with pytest.raises(ValueError, match=r"COCODetection: '" + re.escape(path) + r"'(: | )"
                       + message):
        load(coco, edit(change))


def test_malformed_json_and_missing_files(coco):
    path = coco / "instances.json"
    path.write_text('{"images": [}')
    with pytest.raises(ValueError, match=r"COCODetection: '.*instances\.json' is not valid JSON "
                                         r"\(Expecting value: line 1 column 13"):
        COCODetection(coco, path)
    path.write_text("[]")
    with pytest.raises(ValueError, match=r"must hold a JSON object with 'images', 'annotations' "
                                         r"and 'categories', got a list"):
        COCODetection(coco, path)
    with pytest.raises(FileNotFoundError, match=r"COCODetection: annotation file '.*nope\.json' "
                                                r"does not exist"):
        COCODetection(coco, coco / "nope.json")
    os.remove(coco / "sub" / "grey.jpg")
    with pytest.raises(FileNotFoundError, match=r"COCODetection: '.*instances\.json': "
                                                r"images\[1\]: field 'file_name' names "
                                                r"'.*grey\.jpg', which does not exist"):
        load(coco)


def test_errors_found_when_reading_a_sample(coco):
    data = edit(lambda d: d["annotations"][2]["segmentation"].update(counts="02>0P"))
    with pytest.warns(UserWarning):
        ds = load(coco, data)
    with pytest.raises(ValueError, match=r"COCODetection: '.*instances\.json': annotations\[2\] "
                                         r"\(id 3\): field 'segmentation' cannot be decoded "
                                         r"\(rle_decode: rle\['counts'\] string is cut off"):
        ds[0]
    data = edit(lambda d: d["images"][2].update(height=9))
    with pytest.warns(UserWarning):
        ds = load(coco, data)
    with pytest.raises(ValueError, match=r"images\[2\] \(id 7\): fields 'height', 'width' say "
                                         r"9x8 but '.*rgba\.png' is 8x8 \(height x width\)"):
        ds[2]
    with pytest.raises(IndexError, match=r"COCODetection: index 3 out of range for 3 images"):
        ds[3]


# ---------------------------------------------------------------------------------------------
# pycocotools, when installed
# ---------------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::DeprecationWarning")          # inside pycocotools
@pytest.mark.filterwarnings("ignore::UserWarning")                 # our clipping note
def test_masks_agree_with_pycocotools(coco, capsys):
    pycoco = pytest.importorskip("pycocotools.coco")
    path = write_json(coco, DATASET)
    api = pycoco.COCO(path)
    ds = COCODetection(coco, path)
    for index, image_id in enumerate(ds.ids):
        anns = api.loadAnns(api.getAnnIds(imgIds=[image_id]))
        target = ds.target(index)
        assert [ds.category_id_to_label[a["category_id"]] for a in anns] \
            == target["labels"].tolist()
        for k, ann in enumerate(anns):                 # axis-aligned polygons: identical too
            np.testing.assert_array_equal(target["masks"][k], api.annToMask(ann).astype(bool))
