"""minicv.ops.AnchorGenerator: golden cell anchors, the (y, x, anchor) order and the stride
rule against the loop reference, several levels, dtypes and devices, and every error."""
import doctest

import numpy as np
import pytest

from minicv import backend
from minicv.autograd import Tensor
from minicv.ops import AnchorGenerator
from minicv.ops import anchors as anchors_module
from reference import anchors_loop


def test_cell_anchors_golden():
    gen = AnchorGenerator(sizes=((32,),), aspect_ratios=((0.5, 1.0, 2.0),))
    # r = h / w: 0.5 is wide (w = 32 sqrt 2 = 45.25 -> 22.63 -> 23 each side, h -> 11)
    np.testing.assert_array_equal(gen.cell_anchors[0], [[-23.0, -11.0, 23.0, 11.0],
                                                        [-16.0, -16.0, 16.0, 16.0],
                                                        [-11.0, -23.0, 11.0, 23.0]])
    assert gen.cell_anchors[0].dtype == np.float32


def test_cell_anchors_are_ratio_major_and_rounded_half_to_even():
    gen = AnchorGenerator(sizes=((5, 7),), aspect_ratios=((1.0, 4.0),))
    # ratio 1: 5 -> +-2.5 -> 2 (half to even), 7 -> +-3.5 -> 4; ratio 4: w = s / 2, h = 2 s
    np.testing.assert_array_equal(gen.cell_anchors[0], [[-2.0, -2.0, 2.0, 2.0],
                                                        [-4.0, -4.0, 4.0, 4.0],
                                                        [-1.0, -5.0, 1.0, 5.0],
                                                        [-2.0, -7.0, 2.0, 7.0]])


def test_grid_golden_and_order(xp):
    gen = AnchorGenerator(sizes=((4,),), aspect_ratios=((1.0,),))
    images = xp.zeros((1, 3, 16, 24))
    anchors = gen(images, [xp.zeros((1, 8, 2, 3), dtype=xp.float32)])   # stride (8, 8)
    assert len(anchors) == 1 and anchors[0].dtype == xp.float32
    expected = [[x - 2, y - 2, x + 2, y + 2] for y in (0, 8) for x in (0, 8, 16)]
    np.testing.assert_array_equal(backend.to_cpu(anchors[0]), expected)


@pytest.mark.parametrize("config", [
    dict(sizes=(16, 32), ratios=(0.5, 1.0, 2.0), image=(64, 96), grid=(4, 6)),     # stride 16
    dict(sizes=(128, 256, 512), ratios=(0.5, 1.0, 2.0), image=(600, 1000), grid=(38, 63)),
    dict(sizes=(10,), ratios=(0.3, 3.0), image=(30, 50), grid=(7, 9)),          # strides 4, 5
])
def test_anchors_equal_the_loop_reference(config):
    gen = AnchorGenerator((tuple(config["sizes"]),), (tuple(config["ratios"]),))
    (h, w), (fh, fw) = config["image"], config["grid"]
    anchors = gen((2, 3, h, w), [(2, 16, fh, fw)])
    a = len(config["sizes"]) * len(config["ratios"])
    assert gen.num_anchors_per_location() == [a]
    assert anchors[0].shape == (fh * fw * a, 4)
    expected = anchors_loop(config["sizes"], config["ratios"], (fh, fw), (h // fh, w // fw))
    np.testing.assert_array_equal(anchors[0], expected)
    np.testing.assert_array_equal(anchors[1], expected)
    # (y, x, anchor) order: reshaped to (FH, FW, A, 4), cell (i, j) is the cell anchors
    # shifted by (j * SW, i * SH)
    grid = anchors[0].reshape(fh, fw, a, 4)
    i, j = fh - 1, fw // 2
    shift = np.array([j * (w // fw), i * (h // fh)] * 2, dtype=np.float32)
    np.testing.assert_array_equal(grid[i, j], gen.cell_anchors[0] + shift)


def test_feature_pyramid_levels_are_concatenated_in_order():
    sizes = ((32,), (64,), (128,))
    gen = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * 3)
    assert gen.num_anchors_per_location() == [3, 3, 3]
    shapes = [(2, 8, 32, 32), (2, 8, 16, 16), (2, 8, 8, 8)]
    anchors = gen(np.zeros((2, 3, 128, 128), np.float32), [np.zeros(s, np.float32)
                                                          for s in shapes])
    counts = [32 * 32 * 3, 16 * 16 * 3, 8 * 8 * 3]
    assert anchors[0].shape == (sum(counts), 4)
    start = 0
    for (size,), (_, _, fh, fw), count in zip(sizes, shapes, counts):
        expected = anchors_loop((size,), (0.5, 1.0, 2.0), (fh, fw), (128 // fh, 128 // fw))
        np.testing.assert_array_equal(anchors[0][start:start + count], expected)
        start += count


def test_torchvision_nesting_rules():
    flat = AnchorGenerator(sizes=(32, 64), aspect_ratios=(0.5, 1.0))     # one size a level
    assert flat.sizes == ((32.0,), (64.0,))
    assert flat.aspect_ratios == ((0.5, 1.0), (0.5, 1.0))
    shared = AnchorGenerator(sizes=((32,), (64,)), aspect_ratios=((1.0, 2.0),))
    assert shared.aspect_ratios == ((1.0, 2.0), (1.0, 2.0))
    default = AnchorGenerator()
    assert default.sizes == ((128.0, 256.0, 512.0),)
    assert default.num_anchors_per_location() == [9]


def test_dtype_device_and_inputs(xp):
    gen = AnchorGenerator(sizes=((8,),), aspect_ratios=((1.0,),))
    feats = Tensor(xp.zeros((3, 4, 2, 2), dtype=xp.float64))
    anchors = gen(Tensor(xp.zeros((3, 1, 8, 8))), feats)          # a bare feature map
    assert len(anchors) == 3
    assert all(a.dtype == xp.float64 and backend.device_of(a) == backend.device_of(feats.data)
               for a in anchors)
    anchors[0][0, 0] = 123.0                                      # each image owns its copy
    assert float(anchors[1][0, 0]) != 123.0
    from_shapes = gen((3, 1, 8, 8), (3, 4, 2, 2))                 # shapes only: float32
    assert from_shapes[0].dtype == np.float32
    np.testing.assert_array_equal(from_shapes[0], backend.to_cpu(anchors[1]))


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
def test_levels_must_match():
    with pytest.raises(ValueError, match=r"^AnchorGenerator: sizes has 2 feature maps but "
                                         r"aspect_ratios has 3; "):
        AnchorGenerator(((32,), (64,)), ((1.0,), (1.0,), (2.0,)))
    gen = AnchorGenerator(((32,), (64,)))
    with pytest.raises(ValueError, match=r"^AnchorGenerator: got 1 feature maps and 1 strides "
                                         r"but the generator has 2 levels"):
        gen((1, 3, 64, 64), [(1, 8, 8, 8)])


@pytest.mark.parametrize("sizes", [((0,),), ((-32,),), ((),), (), ((32, "big"),),
                                   ((float("nan"),),)])
def test_bad_sizes(sizes):
    with pytest.raises(ValueError, match=r"^AnchorGenerator: sizes "):
        AnchorGenerator(sizes)


def test_bad_aspect_ratios():
    with pytest.raises(ValueError, match=r"^AnchorGenerator: aspect_ratios must be positive "
                                         r"and finite"):
        AnchorGenerator(((32,),), ((0.0, 1.0),))


def test_bad_shapes():
    gen = AnchorGenerator(((32,),))
    with pytest.raises(ValueError, match=r"^AnchorGenerator: images must be \(N, C, H, W\) "
                                         r"\(or its shape\), got shape \(3, 64, 64\)"):
        gen(np.zeros((3, 64, 64)), [(1, 8, 8, 8)])
    with pytest.raises(ValueError, match=r"^AnchorGenerator: feature_maps\[0\] must be "
                                         r"\(N, C, FH, FW\) with N = 2 .* got shape "
                                         r"\(1, 8, 8, 8\)"):
        gen((2, 3, 64, 64), [(1, 8, 8, 8)])
    with pytest.raises(ValueError, match=r"^AnchorGenerator: feature_maps\[0\] of size "
                                         r"\(FH, FW\) = \(8, 128\) must be non-empty and no "
                                         r"larger than the image \(H, W\) = \(64, 64\)"):
        gen((1, 3, 64, 64), [(1, 8, 8, 128)])
    with pytest.raises(TypeError, match=r"^AnchorGenerator: images must be an array, a Tensor "
                                        r"or a shape tuple, got str"):
        gen("images", [(1, 8, 8, 8)])


def test_doctests_of_the_anchors_code():
    result = doctest.testmod(anchors_module)
    assert result.attempted > 0 and result.failed == 0
