"""minicv.viz.segmentation: colours, overlays and grids are plain uint8 arrays (no matplotlib)."""
import numpy as np
import pytest

from minicv.viz.segmentation import (IGNORE_COLOR, colorize, denormalize, overlay, palette,
                                     save_png, segmentation_grid)


def _voc_colour_by_loop(k):
    """The colour map as written in the VOC devkit's VOClabelcolormap.m (bit by bit)."""
    r = g = b = 0
    c = k
    for j in range(8):
        r |= ((c >> 0) & 1) << (7 - j)
        g |= ((c >> 1) & 1) << (7 - j)
        b |= ((c >> 2) & 1) << (7 - j)
        c >>= 3
    return [r, g, b]


def test_palette_is_the_voc_colour_map():
    assert palette(256).tolist() == [_voc_colour_by_loop(k) for k in range(256)]
    assert palette(21)[15].tolist() == [192, 128, 128]      # VOC's "person"


def test_colorize_maps_labels_and_paints_the_ignore_label_white():
    mask = np.array([[0, 1], [2, 255]])
    out = colorize(mask, num_classes=3, ignore_index=255)
    assert out.dtype == np.uint8 and out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out[0, 1], palette(3)[1])
    np.testing.assert_array_equal(out[1, 1], IGNORE_COLOR)


def test_colorize_refuses_labels_outside_the_palette():
    with pytest.raises(ValueError, match=r"colorize: mask holds labels \[7\] outside \[0, 3\)"):
        colorize(np.array([[0, 7]]), colours=palette(3))
    with pytest.raises(ValueError, match=r"colorize: mask must be \(H, W\), got shape \(2,\)"):
        colorize(np.array([0, 1]))


def test_overlay_blends_objects_and_keeps_background_and_ignored_pixels():
    image = np.full((2, 3, 3), 100, np.uint8)
    mask = np.array([[0, 1, 1], [255, 2, 0]])
    out = overlay(image, mask, num_classes=3, ignore_index=255, alpha=0.25)
    np.testing.assert_array_equal(out[0, 0], image[0, 0])
    np.testing.assert_array_equal(out[1, 0], image[1, 0])
    expected = np.rint(0.75 * 100 + 0.25 * palette(3)[1].astype(float))
    np.testing.assert_array_equal(out[0, 1], expected)
    with pytest.raises(ValueError, match=r"overlay: image must be \(H, W, 3\) and mask \(H, W\) "
                                         r"of the same H, W; got \(2, 3, 3\) and \(3, 2\)"):
        overlay(image, mask.T)
    with pytest.raises(ValueError, match=r"overlay: alpha must be in \[0, 1\], got 2"):
        overlay(image, mask, alpha=2)


def test_denormalize_inverts_normalisation():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(4, 5, 3)).astype(np.uint8)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    x = ((pixels / 255.0 - np.array(mean)) / np.array(std)).transpose(2, 0, 1).astype(np.float32)
    np.testing.assert_array_equal(denormalize(x, mean, std), pixels)


def test_grid_places_each_picture_in_its_column_and_row(tmp_path):
    a = np.full((4, 6, 3), 10, np.uint8)
    m = np.ones((4, 6), np.int64)
    grid = segmentation_grid({"image": [a, a], "truth": [m, m]}, classes=["bg", "one"],
                             scale=2, gap=4, path=tmp_path / "g.png")
    # first column starts at x = gap, below the 14-pixel header; pictures doubled
    np.testing.assert_array_equal(grid[14:22, 4:16], 10)
    np.testing.assert_array_equal(grid[14:22, 20:32], np.broadcast_to(palette(2)[1], (8, 12, 3)))
    second_row = 14 + 8 + 4
    np.testing.assert_array_equal(grid[second_row:second_row + 8, 4:16], 10)
    from PIL import Image
    assert np.asarray(Image.open(tmp_path / "g.png")).shape == grid.shape


def test_grid_refuses_ragged_columns():
    a = np.zeros((2, 2, 3), np.uint8)
    with pytest.raises(ValueError, match=r"segmentation_grid: every column needs the same"):
        segmentation_grid({"image": [a], "truth": []})
    with pytest.raises(ValueError, match=r"segmentation_grid: pictures are \(H, W, 3\) uint8"):
        segmentation_grid({"image": [a.astype(np.float32)]})


def test_save_png_creates_folders(tmp_path):
    save_png(np.zeros((2, 2, 3), np.uint8), tmp_path / "a" / "b.png")
    assert (tmp_path / "a" / "b.png").exists()
