"""minicv.data.transforms: labels stay aligned with the image through every transform (slow loop
references for nearest resizing and tight boxes), crops clip and drop boxes and say so, seeds,
and every error."""
import re

import numpy as np
import pytest

from minicv.data import SyntheticShapes
from minicv.data.transforms import (IMAGENET_MEAN, IMAGENET_STD, Compose, Normalize, RandomCrop,
                                    RandomHorizontalFlip, RandomScaleCrop, Resize, masks_to_boxes)


def nearest_resize_loop(labels, out_h, out_w):
    """Nearest neighbour by the pixel-centre rule, one pixel at a time in exact fractions:
    output pixel (i, j) takes the input pixel containing the point ((i + 0.5) H / out_h,
    (j + 0.5) W / out_w)."""
    from fractions import Fraction
    height, width = labels.shape[:2]
    out = np.empty((out_h, out_w) + labels.shape[2:], labels.dtype)
    for i in range(out_h):
        for j in range(out_w):
            y = (Fraction(i) + Fraction(1, 2)) * height / out_h
            x = (Fraction(j) + Fraction(1, 2)) * width / out_w
            out[i, j] = labels[int(y), int(x)]
    return out


def tight_box_loop(mask):
    ys, xs = [], []
    for y in range(mask.shape[0]):
        for x in range(mask.shape[1]):
            if mask[y, x]:
                ys.append(y)
                xs.append(x)
    return [min(xs), min(ys), max(xs) + 1, max(ys) + 1]


def check_consistent(image, target):
    """The synthetic invariants: mask = union of masks by label (plus, after a crop, the pixels
    of the instances it dropped, which keep their class), boxes tight on the masks."""
    expected = np.zeros(image.shape[:2], np.int64)
    for label, m in zip(target["labels"], target["masks"]):
        expected[m] = label
    covered = target["masks"].any(axis=0)
    np.testing.assert_array_equal(target["mask"][covered], expected[covered])
    rest = target["mask"][~covered]
    if target.get("dropped", 0) == 0:
        assert set(np.unique(rest).tolist()) <= {0, 255}       # background or padding
    for box, m in zip(target["boxes"], target["masks"]):
        assert box.tolist() == tight_box_loop(m)
    k = len(target["labels"])
    assert all(len(target[key]) == k for key in ("boxes", "masks", "iscrowd", "difficult"))


@pytest.fixture(scope="module")
def sample():
    return SyntheticShapes("train", num_images=4, seed=0, max_objects=4)[1]


def test_masks_to_boxes_against_loop():
    rng = np.random.default_rng(0)
    masks = rng.random((6, 9, 13)) < 0.05
    masks[0] = False
    masks[1, 4, 7] = True
    boxes = masks_to_boxes(masks)
    assert boxes.dtype == np.float32 and boxes.shape == (6, 4)
    assert boxes[0].tolist() == [0, 0, 0, 0]
    for box, m in zip(boxes[1:], masks[1:]):
        assert box.tolist() == tight_box_loop(m)
    one = np.zeros((1, 5, 5), bool)
    one[0, 2, 3] = True
    assert masks_to_boxes(one).tolist() == [[3, 2, 4, 3]]


# ---------------------------------------------------------------------------------------------
# Resize
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("out_size", [(7, 5), (64, 64), (13, 29), (128, 96), (3, 200), (1, 1)])
def test_resize_nearest_picks_the_source_pixel_of_the_loop_reference(out_size):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (11, 17, 3), dtype=np.uint8)
    mask = rng.integers(0, 50, (11, 17))
    masks = rng.random((3, 11, 17)) < 0.5
    boxes = np.array([[0, 0, 17, 11], [2.5, 3, 9, 4.25]], np.float32)
    out_image, out = Resize(out_size)(image, {"mask": mask, "masks": masks, "boxes": boxes,
                                              "image_id": 4})
    assert out_image.shape == out_size + (3,) and out_image.dtype == np.uint8
    np.testing.assert_array_equal(out["mask"], nearest_resize_loop(mask, *out_size))
    np.testing.assert_array_equal(out["masks"],
                                  nearest_resize_loop(masks.transpose(1, 2, 0), *out_size)
                                  .transpose(2, 0, 1))
    sx, sy = out_size[1] / 17, out_size[0] / 11
    np.testing.assert_allclose(out["boxes"], boxes * np.array([sx, sy, sx, sy]), rtol=1e-6)
    assert out["boxes"].dtype == np.float32 and out["image_id"] == 4


def test_resize_bilinear_image_keeps_constants_and_is_centre_aligned():
    image = np.full((10, 20, 3), 77, np.uint8)
    assert (Resize((25, 7))(image, {})[0] == 77).all()
    # a 2x upscale of a left-dark/right-bright image stays dark on the left half
    image = np.zeros((4, 4, 3), np.uint8)
    image[:, 2:] = 200
    out = Resize((8, 8))(image, {})[0]
    assert (out[:, :3] < 30).all() and (out[:, 5:] > 170).all()
    assert out[:, 3].mean() < out[:, 4].mean()


@pytest.mark.parametrize("size, max_size, in_hw, out_hw", [
    (32, None, (64, 128), (32, 64)),
    (32, None, (128, 64), (64, 32)),
    (600, 1000, (375, 500), (600, 800)),
    (600, 1000, (300, 1000), (300, 1000)),        # long side capped: short = int(1000*600/2000)
    (10, None, (30, 31), (10, 10)),               # int(10 * 31 / 30) = 10, truncated
    (50, None, (50, 50), (50, 50)),
])
def test_resize_shorter_side_follows_torchvision(size, max_size, in_hw, out_hw):
    t = Resize(size, max_size=max_size)
    assert t.output_size(*in_hw) == out_hw
    image = np.zeros(in_hw + (3,), np.uint8)
    assert t(image, {})[0].shape[:2] == out_hw


def test_resize_keeps_synthetic_targets_consistent(sample):
    image, target = Resize((96, 80))(*sample)
    expected = np.zeros((96, 80), np.int64)
    for label, m in zip(target["labels"], target["masks"]):
        expected[m] = label
    np.testing.assert_array_equal(target["mask"], expected)
    assert target["mask"].dtype == np.int64 and target["masks"].dtype == bool
    # the input target is not modified
    assert sample[1]["mask"].shape == (64, 64)


# ---------------------------------------------------------------------------------------------
# Flip
# ---------------------------------------------------------------------------------------------
def test_flip_twice_is_the_identity_and_boxes_follow_masks(sample):
    image, target = sample
    flip = RandomHorizontalFlip(p=1.0)
    once_image, once = flip(image, target)
    np.testing.assert_array_equal(once_image, image[:, ::-1])
    check_consistent(once_image, once)                  # boxes still tight on flipped masks
    twice_image, twice = flip(once_image, once)
    np.testing.assert_array_equal(twice_image, image)
    for key in ("mask", "masks", "boxes", "labels"):
        np.testing.assert_array_equal(twice[key], target[key])
    assert once_image.flags.c_contiguous and once["mask"].flags.c_contiguous


def test_flip_probability_and_seed():
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    never = RandomHorizontalFlip(p=0.0, seed=0)
    assert all(never(image, {})[0] is image for _ in range(10))

    def pattern(seed):
        flip = RandomHorizontalFlip(p=0.5, seed=seed)
        return [bool((flip(image, {})[0] != image).any()) for _ in range(40)]

    assert pattern(3) == pattern(3)
    assert pattern(3) != pattern(4)
    assert 10 < sum(pattern(3)) < 30


# ---------------------------------------------------------------------------------------------
# Crops
# ---------------------------------------------------------------------------------------------
def test_random_crop_clips_boxes_and_reports_dropped():
    image = np.zeros((100, 100, 3), np.uint8)
    target = {
        "boxes": np.array([[10, 10, 30, 30],      # inside the window
                           [40, 0, 60, 20],       # 1/4 inside: area fraction 0.25 < 0.3
                           [0, 5, 20, 25],        # half inside
                           [80, 80, 90, 90]],     # outside
                          np.float32),
        "labels": np.array([1, 2, 3, 4]),
        "iscrowd": np.zeros(4, bool), "difficult": np.array([0, 0, 1, 0], bool),
        "image_id": 9,
    }
    crop = RandomCrop((40, 40), min_area_fraction=0.3, seed=0)
    crop.rng = FixedOrigin(top=10, left=10)
    out_image, out = crop(image, target)
    assert out_image.shape == (40, 40, 3)
    np.testing.assert_array_equal(out["boxes"], [[0, 0, 20, 20], [0, 0, 10, 15]])
    assert out["labels"].tolist() == [1, 3] and out["difficult"].tolist() == [False, True]
    assert out["dropped"] == 2 and crop.num_dropped == 2 and out["image_id"] == 9
    assert len(target["labels"]) == 4                  # the input is untouched
    # the count accumulates across transforms and calls
    again = RandomCrop((28, 40), seed=0)
    again.rng = FixedOrigin(top=12, left=0)
    out2 = again(out_image, out)[1]
    np.testing.assert_array_equal(out2["boxes"], [[0, 0, 20, 8]])   # the other keeps 3/15
    assert out2["dropped"] == 2 + 1 and again.num_dropped == 1


class FixedOrigin:
    """Stands in for a generator: integers() returns the chosen top, then left."""

    def __init__(self, top, left):
        self.values = [top, left]

    def integers(self, low, high):
        value = self.values.pop(0)
        assert low <= value < high
        return value


def test_random_crop_with_masks_recomputes_tight_boxes(sample):
    image, target = sample
    for seed in range(6):
        crop = RandomCrop(40, seed=seed)
        out_image, out = crop(image, target)
        assert out_image.shape == (40, 40, 3)
        check_consistent(out_image, out)
        assert out["dropped"] == len(target["labels"]) - len(out["labels"])


def test_random_crop_pads_small_images_with_fill_and_ignore_label():
    image = np.full((10, 12, 3), 9, np.uint8)
    mask = np.ones((10, 12), np.int64)
    out_image, out = RandomCrop((16, 20), ignore_index=11, fill=(1, 2, 3), seed=0)(
        image, {"mask": mask})
    assert out_image.shape == (16, 20, 3) and out["mask"].shape == (16, 20)
    assert (out_image[:10, :12] == 9).all() and (out_image[10:] == [1, 2, 3]).all()
    assert (out["mask"][:10, :12] == 1).all() and (out["mask"][10:] == 11).all()
    assert (out["mask"][:, 12:] == 11).all()
    assert "dropped" not in out                         # no instances, nothing to count


def test_random_scale_crop_sizes_padding_and_seed():
    ds = SyntheticShapes("val", num_images=6, seed=0)
    t1 = RandomScaleCrop(48, scale=(0.5, 1.5), ignore_index=255, seed=5)
    t2 = RandomScaleCrop(48, scale=(0.5, 1.5), ignore_index=255, seed=5)
    padded = 0
    for i in range(6):
        image, target = ds[i]
        a_image, a = t1(image, target)
        b_image, b = t2(image, target)
        assert a_image.shape == (48, 48, 3) and a["mask"].shape == (48, 48)
        np.testing.assert_array_equal(a_image, b_image)
        np.testing.assert_array_equal(a["mask"], b["mask"])
        check_consistent(a_image, a)
        values = set(np.unique(a["mask"]).tolist())
        assert values <= set(range(6)) | {255}
        padded += 255 in values
    assert padded > 0                                   # scales below 0.75 pad the 48 x 48 window


def test_scale_one_crop_full_size_is_the_identity(sample):
    image, target = sample
    out_image, out = RandomScaleCrop(64, scale=(1.0, 1.0), seed=0)(image, target)
    np.testing.assert_array_equal(out_image, image)
    for key in ("mask", "masks", "boxes", "labels"):
        np.testing.assert_array_equal(out[key], target[key])
    assert out["dropped"] == 0


# ---------------------------------------------------------------------------------------------
# Normalize and Compose
# ---------------------------------------------------------------------------------------------
def test_normalize_values_layout_and_dtype():
    image = np.array([[[0, 128, 255], [255, 255, 255]]], np.uint8)          # (1, 2, 3)
    out, target = Normalize()(image, {"mask": np.zeros((1, 2))})
    assert out.shape == (3, 1, 2) and out.dtype == np.float32 and out.flags.c_contiguous
    for c in range(3):
        expected = (image[..., c] / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]
        np.testing.assert_allclose(out[c], expected, rtol=1e-6)
    plain = Normalize(mean=(0, 0, 0), std=(1, 1, 1))(image, {})[0]
    np.testing.assert_allclose(plain[:, 0, 0], [0, 128 / 255, 1], rtol=1e-6)


def test_compose_runs_in_order_and_pipeline_output():
    ds = SyntheticShapes("val", num_images=2, transforms=Compose([
        Resize((32, 48)), RandomHorizontalFlip(seed=0), Normalize()]))
    image, target = ds[0]
    assert image.shape == (3, 32, 48) and image.dtype == np.float32
    assert target["mask"].shape == (32, 48) and target["masks"].shape[1:] == (32, 48)
    assert "Resize" in repr(ds.transforms)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
def test_errors():
    image = np.zeros((8, 8, 3), np.uint8)
    normalised = Normalize()(image, {})[0]
    with pytest.raises(TypeError, match=re.escape(
            "Resize: image must be a uint8 (H, W, 3) array (geometric transforms come before "
            "Normalize), got float32 array of shape (3, 8, 8)")):
        Resize(4)(normalised, {})
    with pytest.raises(TypeError, match=re.escape(
            "Normalize: image must be a uint8 (H, W, 3) array, got float32 array of shape "
            "(3, 8, 8) (is Normalize applied twice?)")):
        Normalize()(normalised, {})
    with pytest.raises(TypeError, match=re.escape(
            "RandomCrop: target must be a dict, got list")):
        RandomCrop(4)(image, [])
    with pytest.raises(ValueError, match=re.escape(
            "RandomHorizontalFlip: target['mask'] has shape (8, 9) but the image is (H, W) = "
            "(8, 8)")):
        RandomHorizontalFlip()(image, {"mask": np.zeros((8, 9))})
    with pytest.raises(ValueError, match=re.escape(
            "Resize: target['masks'] has shape (8, 8) but the image needs (K, 8, 8)")):
        Resize(4)(image, {"masks": np.zeros((8, 8), bool)})
    with pytest.raises(ValueError, match=re.escape(
            "RandomScaleCrop: target['boxes'] must have shape (K, 4), got (2, 5)")):
        RandomScaleCrop(4)(image, {"boxes": np.zeros((2, 5))})
    with pytest.raises(ValueError, match=re.escape("Resize: size must be positive, got 0")):
        Resize(0)
    with pytest.raises(ValueError, match=re.escape(
            "Resize: max_size must be larger than size, got max_size=10 and size=10")):
        Resize(10, max_size=10)
    with pytest.raises(ValueError, match=re.escape(
            "Resize: max_size applies only to an int size (the shorter side), got size=(4, 4)")):
        Resize((4, 4), max_size=10)
    with pytest.raises(TypeError, match=re.escape(
            "Resize: size must be an int or a pair (H, W) of ints, got (4, 4, 4)")):
        Resize((4, 4, 4))
    with pytest.raises(ValueError, match=re.escape(
            "RandomCrop: size must be positive, got (H, W) = (0, 4)")):
        RandomCrop((0, 4))
    with pytest.raises(ValueError, match=re.escape(
            "RandomCrop: min_area_fraction must be in [0, 1], got 1.5")):
        RandomCrop(4, min_area_fraction=1.5)
    with pytest.raises(ValueError, match=re.escape(
            "RandomScaleCrop: scale must be (low, high) with 0 < low <= high, got (2.0, 1.0)")):
        RandomScaleCrop(4, scale=(2.0, 1.0))
    with pytest.raises(ValueError, match=re.escape(
            "RandomHorizontalFlip: p must be in [0, 1], got -0.1")):
        RandomHorizontalFlip(p=-0.1)
    with pytest.raises(ValueError, match=re.escape(
            "Normalize: mean and std need 3 values (R, G, B), got 1 and 3")):
        Normalize(mean=(0.5,))
    with pytest.raises(ValueError, match=re.escape(
            "Normalize: std must be positive, got [1.0, 0.0, 1.0]")):
        Normalize(std=(1, 0, 1))
    with pytest.raises(TypeError, match=re.escape(
            "Compose: every transform must be callable, got int")):
        Compose([Resize(4), 3])
