"""minicv.data.SyntheticShapes: determinism, target consistency against slow loop references,
the generative rules (sizes, visibility, colour independent of class), and every error."""
import re

import numpy as np
import pytest

from minicv.data import SyntheticShapes
from minicv.data.synthetic import (DEFAULT_NUM_IMAGES, MIN_PIXELS_FRACTION, MIN_VISIBLE_FRACTION,
                                   SHAPE_PARAMETER)


def tight_box_loop(mask):
    """(x1, y1, x2, y2) of a boolean mask by scanning every pixel (x2 = last column + 1)."""
    x1 = y1 = 10 ** 9
    x2 = y2 = -1
    for y in range(mask.shape[0]):
        for x in range(mask.shape[1]):
            if mask[y, x]:
                x1, y1, x2, y2 = min(x1, x), min(y1, y), max(x2, x + 1), max(y2, y + 1)
    return [x1, y1, x2, y2]


@pytest.fixture(scope="module")
def samples():
    ds = SyntheticShapes("train", num_images=40, seed=3)
    return ds, [ds[i] for i in range(len(ds))]


# ---------------------------------------------------------------------------------------------
# Determinism and splits
# ---------------------------------------------------------------------------------------------
def test_same_seed_same_bytes_in_any_access_order():
    a = SyntheticShapes("train", num_images=20, seed=7)
    b = SyntheticShapes("train", num_images=20, seed=7)
    forward = [a[i] for i in range(20)]
    backward = [b[i] for i in reversed(range(20))][::-1]
    for (img1, t1), (img2, t2) in zip(forward, backward):
        assert img1.tobytes() == img2.tobytes()
        for key in ("mask", "boxes", "labels", "masks", "iscrowd", "difficult"):
            assert t1[key].tobytes() == t2[key].tobytes()
            assert t1[key].dtype == t2[key].dtype
    # image 5 does not depend on the length of the dataset either
    assert SyntheticShapes("train", num_images=6, seed=7)[5][0].tobytes() == \
        forward[5][0].tobytes()


def test_splits_and_seeds_give_different_images():
    images = {}
    for split in ("train", "val", "test"):
        for seed in (0, 1):
            ds = SyntheticShapes(split, num_images=30, seed=seed)
            images[split, seed] = [ds[i][0] for i in range(30)]
    keys = list(images)
    for i, k1 in enumerate(keys):
        for k2 in keys[i + 1:]:
            # no image of one (split, seed) equals any image of another
            for img in images[k1]:
                assert not any(np.array_equal(img, other) for other in images[k2]), (k1, k2)


def test_default_lengths_and_attributes():
    for split, n in DEFAULT_NUM_IMAGES.items():
        assert len(SyntheticShapes(split)) == n
    assert (DEFAULT_NUM_IMAGES["train"], DEFAULT_NUM_IMAGES["val"]) == (2000, 200)
    ds = SyntheticShapes()
    assert ds.classes == ("background", "circle", "rectangle", "triangle", "ring", "cross")
    assert ds.num_classes == 6 and ds.ignore_index is None
    assert ds.colors.shape == (6, 3) and ds.colors.dtype == np.uint8
    assert ds[-1][1]["image_id"] == 1999


# ---------------------------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------------------------
def test_target_keys_dtypes_and_shapes(samples):
    _, data = samples
    for i, (image, t) in enumerate(data):
        assert image.dtype == np.uint8 and image.shape == (64, 64, 3)
        k = len(t["labels"])
        assert 1 <= k <= 4
        assert t["mask"].dtype == np.int64 and t["mask"].shape == (64, 64)
        assert t["boxes"].dtype == np.float32 and t["boxes"].shape == (k, 4)
        assert t["labels"].dtype == np.int64
        assert t["masks"].dtype == bool and t["masks"].shape == (k, 64, 64)
        assert t["iscrowd"].dtype == bool and not t["iscrowd"].any() and t["iscrowd"].shape == (k,)
        assert t["difficult"].dtype == bool and not t["difficult"].any()
        assert t["image_id"] == i


def test_semantic_mask_is_the_union_of_instance_masks(samples):
    _, data = samples
    for _, t in data:
        expected = np.zeros((64, 64), np.int64)
        for label, m in zip(t["labels"], t["masks"]):
            assert not expected[m].any()                 # instance masks are disjoint
            expected[m] = label
        np.testing.assert_array_equal(t["mask"], expected)


def test_boxes_are_tight_boxes_of_the_instance_masks(samples):
    _, data = samples
    for _, t in data:
        for box, m in zip(t["boxes"], t["masks"]):
            assert m.any()
            assert box.tolist() == tight_box_loop(m)


def test_labels_in_range_and_every_class_appears(samples):
    ds, data = samples
    labels = np.concatenate([t["labels"] for _, t in data])
    assert labels.min() >= 1 and labels.max() < ds.num_classes
    assert set(labels.tolist()) == set(range(1, ds.num_classes))


def test_every_emitted_object_is_visible_enough(samples):
    _, data = samples
    for _, t in data:
        for m in t["masks"]:
            assert m.sum() >= MIN_PIXELS_FRACTION * 64 * 64


def test_occluded_objects_are_removed_not_mislabelled():
    # 1 to 12 objects drawn (6.5 on average): with that many, hidden ones must be removed
    ds = SyntheticShapes("train", num_images=40, max_objects=12, seed=1)
    counts = [len(ds[i][1]["labels"]) for i in range(40)]
    assert min(counts) >= 1 and np.mean(counts) < 5.5
    # the visibility rule itself: an object 80% covered is removed, one 50% covered stays
    shapes = np.zeros((3, 64, 64), bool)
    shapes[0, :10, :10] = True                          # 100 px, 80 of them covered by shape 1
    shapes[1, :8, :10] = True
    shapes[1, 30:40, 30:40] = True
    shapes[2, 30:35, 30:40] = True                      # covers 50 of shape 1's 180 px
    assert ds._visible(shapes).tolist() == [False, True, True]
    assert MIN_VISIBLE_FRACTION == 0.3


def test_object_sizes_scale_with_the_image():
    for size in (64, (96, 128)):
        ds = SyntheticShapes("val", num_images=40, image_size=size)
        side = min(ds.image_size)
        extents = []
        for i in range(40):
            image, t = ds[i]
            assert image.shape[:2] == ds.image_size and t["mask"].shape == ds.image_size
            # unoccluded front objects: the last one drawn, when it is not cut by the border
            x1, y1, x2, y2 = t["boxes"][-1]
            if x1 > 0 and y1 > 0 and x2 < ds.image_size[1] and y2 < ds.image_size[0]:
                extents.append(max(x2 - x1, y2 - y1) / side)
        assert 0.15 < min(extents) and max(extents) < 0.8


def test_colour_does_not_determine_the_class():
    # mean colour of each class's instances: all close to the middle of the colour cube, and no
    # class separable from the others by colour alone
    ds = SyntheticShapes("train", num_images=300, seed=0)
    colours = {label: [] for label in range(1, 6)}
    for i in range(300):
        image, t = ds[i]
        for label, m in zip(t["labels"], t["masks"]):
            colours[int(label)].append(image[m].mean(axis=0))
    means = np.array([np.mean(colours[c], axis=0) for c in range(1, 6)])     # (5, 3)
    spread = np.array([np.std(colours[c], axis=0) for c in range(1, 6)])     # (5, 3)
    assert (spread > 50).all()                            # colours vary widely within a class
    assert np.abs(means - means.mean(axis=0)).max() < 20  # ... and alike across classes


def test_objects_stand_out_from_the_background():
    ds = SyntheticShapes("train", num_images=50, seed=2)
    for i in range(50):
        image, t = ds[i]
        background = image[t["mask"] == 0].astype(float).mean(axis=0)
        for m in t["masks"]:
            assert np.linalg.norm(image[m].astype(float).mean(axis=0) - background) > 25


def test_shapes_are_what_their_class_says():
    # a ring has a hole at its centre, a circle does not; a cross misses its corners
    ds = SyntheticShapes("train", num_images=200, seed=0, max_objects=1)
    checked = set()
    for i in range(200):
        _, t = ds[i]
        label, m = int(t["labels"][0]), t["masks"][0]
        x1, y1, x2, y2 = t["boxes"][0].astype(int)
        if x1 == 0 or y1 == 0 or x2 == 64 or y2 == 64:
            continue                                        # cut by the border
        cy, cx = (y1 + y2) // 2, (x1 + x2) // 2
        fill = m.sum() / ((x2 - x1) * (y2 - y1))
        if ds.classes[label] == "ring":
            assert not m[cy, cx]
        elif ds.classes[label] in ("circle", "rectangle", "cross"):
            assert m[cy, cx]
        if ds.classes[label] == "circle":
            assert abs(fill - np.pi / 4) < 0.08             # a disc fills pi/4 of its box
        checked.add(ds.classes[label])
    assert {"ring", "circle", "rectangle", "cross"} <= checked
    assert SHAPE_PARAMETER["ring"][0] > 0.4


def test_transforms_are_applied():
    calls = []

    def record(image, target):
        calls.append(target["image_id"])
        return image[:8], {"mask": target["mask"][:8]}

    ds = SyntheticShapes("val", num_images=3, transforms=record)
    image, target = ds[2]
    assert calls == [2] and image.shape == (8, 64, 3) and list(target) == ["mask"]


def test_the_cache_hands_out_copies_of_the_samples_it_drew(monkeypatch):
    plain = SyntheticShapes("train", num_images=4, seed=2)
    cached = SyntheticShapes("train", num_images=4, seed=2, cache=True)
    first = cached[1]
    drawn = []
    monkeypatch.setattr(cached, "generate",
                        lambda index: drawn.append(index) or plain.generate(index))
    again = cached[1]                                   # from memory: generate is not called
    assert drawn == []
    for (image, target) in (first, again):
        assert image.tobytes() == plain[1][0].tobytes()
        for key in ("mask", "boxes", "labels", "masks"):
            assert target[key].tobytes() == plain[1][1][key].tobytes()
    again[0][:] = 0                                     # a caller scribbling on its sample ...
    again[1]["mask"][:] = 7
    image, target = cached[1]                           # ... does not reach the cache
    assert image.tobytes() == plain[1][0].tobytes()
    assert target["mask"].tobytes() == plain[1][1]["mask"].tobytes()
    cached[2]                                           # not drawn yet: generated
    assert drawn == [2]


def test_describe_lists_classes_and_shares():
    text = SyntheticShapes("val", num_images=20).describe()
    assert "20 images of 64x64" in text and "over the first 20 images" in text
    shares = [float(line.split()[1]) for line in text.splitlines()
              if line.split() and line.split()[0] in SyntheticShapes.classes]
    assert len(shares) == 6 and abs(sum(shares) - 100) < 0.5 and shares[0] > 50


def test_generation_time_is_measured():
    assert SyntheticShapes("val", num_images=5).time_generation(5) > 0


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
def test_errors():
    with pytest.raises(ValueError, match=re.escape(
            "SyntheticShapes: split must be one of ('train', 'val', 'test'), got 'valid'")):
        SyntheticShapes("valid")
    with pytest.raises(ValueError, match=re.escape(
            "SyntheticShapes: num_images must be >= 0, got -1")):
        SyntheticShapes(num_images=-1)
    with pytest.raises(ValueError, match=re.escape("SyntheticShapes: seed must be >= 0, got -3")):
        SyntheticShapes(seed=-3)
    with pytest.raises(ValueError, match=re.escape(
            "SyntheticShapes: max_objects must be >= 1, got 0")):
        SyntheticShapes(max_objects=0)
    with pytest.raises(TypeError, match=re.escape(
            "SyntheticShapes: image_size must be an int or a pair (H, W) of ints, "
            "got (64, 64, 3)")):
        SyntheticShapes(image_size=(64, 64, 3))
    with pytest.raises(TypeError, match=re.escape(
            "SyntheticShapes: image_size must be an int or a pair (H, W) of ints, got 64.0")):
        SyntheticShapes(image_size=64.0)
    with pytest.raises(ValueError, match=re.escape(
            "SyntheticShapes: image_size must be at least 16 pixels each way, got (H, W) = "
            "(8, 64)")):
        SyntheticShapes(image_size=(8, 64))
    ds = SyntheticShapes("val", num_images=5)
    with pytest.raises(IndexError, match=re.escape(
            "SyntheticShapes: index 5 is out of range for 5 images")):
        ds[5]
    with pytest.raises(IndexError, match=re.escape(
            "SyntheticShapes: index -6 is out of range for 5 images")):
        ds[-6]
    with pytest.raises(TypeError):
        ds[1.5]
