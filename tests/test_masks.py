"""minicv.ops.masks: COCO RLE, polygons, boxes, areas and IoU -- hand-worked golden cases, slow
loop references (written here, from the COCO format's description and maskApi.c), error
messages, and agreement with pycocotools when it is installed (skipped cleanly otherwise)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minicv import backend
from minicv.ops.masks import (mask_area, mask_iou, masks_to_boxes, polygons_to_mask, rle_decode,
                              rle_encode, segmentation_to_mask)


# ---------------------------------------------------------------------------------------------
# Slow references
# ---------------------------------------------------------------------------------------------
def runs_loop(mask):
    """Run lengths in column-major order, first run of zeros (maybe empty)."""
    counts, current, run = [], False, 0
    for j in range(mask.shape[1]):
        for i in range(mask.shape[0]):
            if bool(mask[i, j]) != current:
                counts.append(run)
                current, run = not current, 0
            run += 1
    counts.append(run)
    return counts


def string_loop(counts):
    """rleToString of maskApi.c, line by line."""
    out = []
    for i, count in enumerate(counts):
        x = count - counts[i - 2] if i > 2 else count
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = (x != -1) if c & 0x10 else (x != 0)
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def inside_loop(xy, px, py):
    """Even-odd point-in-polygon test, with minicv's tie rule: (y1 < py) != (y2 < py) and the
    crossing strictly left of px."""
    inside = False
    for k in range(len(xy)):
        x1, y1 = xy[k]
        x2, y2 = xy[(k + 1) % len(xy)]
        if (y1 < py) != (y2 < py):
            x = x1 + (py - y1) / (y2 - y1) * (x2 - x1)
            if x < px:
                inside = not inside
    return inside


def polygon_loop(polygons, height, width):
    mask = np.zeros((height, width), bool)
    for polygon in polygons:
        xy = np.asarray(polygon, float).reshape(-1, 2)
        if len(xy) < 3:
            continue
        for i in range(height):
            for j in range(width):
                mask[i, j] |= inside_loop(xy, j + 0.5, i + 0.5)
    return mask


def random_masks(rng, k, height, width):
    """Masks of several kinds: noise, rectangles, empty and full."""
    masks = np.zeros((k, height, width), bool)
    for n in range(k):
        kind = n % 4
        if kind == 0:
            masks[n] = rng.random((height, width)) < rng.uniform(0.1, 0.9)
        elif kind == 1 and height and width:
            y0, x0 = rng.integers(0, height), rng.integers(0, width)
            masks[n, y0:rng.integers(y0, height + 1), x0:rng.integers(x0, width + 1)] = True
        elif kind == 2:
            masks[n] = True
    return masks


# ---------------------------------------------------------------------------------------------
# RLE: golden cases worked by hand
# ---------------------------------------------------------------------------------------------
def test_rle_golden_small_mask():
    # column-major 0 0 | 1 1 | 1 0 -> runs of 2 zeros, 3 ones, 1 zero
    mask = np.array([[0, 1, 1], [0, 1, 0]], bool)
    assert rle_encode(mask, compressed=False) == {"size": [2, 3], "counts": [2, 3, 1]}
    assert rle_encode(mask) == {"size": [2, 3], "counts": "231"}     # chr(48 + count)
    np.testing.assert_array_equal(rle_decode({"size": [2, 3], "counts": "231"}), mask)
    np.testing.assert_array_equal(rle_decode({"size": [2, 3], "counts": b"231"}), mask)
    np.testing.assert_array_equal(rle_decode({"size": [2, 3], "counts": [2, 3, 1]}), mask)


def test_rle_golden_full_empty_and_zero_size():
    assert rle_encode(np.ones((2, 3), bool), compressed=False)["counts"] == [0, 6]
    assert rle_encode(np.ones((2, 3), bool))["counts"] == "06"      # empty run of zeros first
    assert rle_encode(np.zeros((2, 3), bool))["counts"] == "6"
    assert rle_encode(np.zeros((0, 3), bool)) == {"size": [0, 3], "counts": "0"}
    assert rle_decode({"size": [0, 3], "counts": "0"}).shape == (0, 3)


def test_rle_golden_multichunk_and_negative_differences():
    # counts [5, 40, 3, 20]: 5 -> '5'; 40 = 8 + 1*32 -> chunks 8 (more: 8+32+48 = 'X'), 1 -> '1';
    # 3 -> '3' (the third count is stored as is); the fourth is stored as 20 - 40 = -20:
    # -20 & 31 = 12 (bit 16 clear, rest -1 != 0: more) -> 12+32+48 = '\\', then -1 & 31 = 31
    # (bit 16 set, rest -1: stop) -> 31+48 = 'O'.
    assert rle_encode(rle_decode({"size": [4, 17], "counts": [5, 40, 3, 20]}))["counts"] \
        == "5X13\\O"
    assert rle_decode({"size": [4, 17], "counts": "5X13\\O"}).sum() == 40 + 20
    # counts [1, 10, 2, 5]: the fourth is 5 - 10 = -5 -> 27 (sign bit set, stop) -> 'K'
    assert rle_encode(rle_decode({"size": [3, 6], "counts": [1, 10, 2, 5]}))["counts"] == "1:2K"
    np.testing.assert_array_equal(
        rle_decode({"size": [3, 6], "counts": "1:2K"}),
        rle_decode({"size": [3, 6], "counts": [1, 10, 2, 5]}))


def test_rle_batched_encode_and_decode():
    masks = random_masks(np.random.default_rng(0), 5, 7, 9)
    rles = rle_encode(masks)
    assert isinstance(rles, list) and len(rles) == 5
    np.testing.assert_array_equal(rle_decode(rles), masks)


@given(st.integers(0, 2 ** 32 - 1), st.integers(0, 12), st.integers(1, 12), st.booleans())
def test_rle_round_trip_against_loop_reference(seed, height, width, compressed):
    rng = np.random.default_rng(seed)
    for mask in random_masks(rng, 4, height, width):
        counts = runs_loop(mask)
        rle = rle_encode(mask, compressed=compressed)
        assert rle["size"] == [height, width]
        assert rle["counts"] == (string_loop(counts) if compressed else counts)
        np.testing.assert_array_equal(rle_decode(rle), mask)
        assert mask_area(rle) == mask.sum()


def test_rle_large_counts_round_trip():
    mask = np.zeros((1000, 1200), bool)
    mask[:, 3] = True
    mask[5:995, 500:1100] = True
    mask[0, 1199] = True
    rle = rle_encode(mask)                      # counts up to ~1e6: three-chunk values
    counts = rle_encode(mask, compressed=False)["counts"]
    assert rle["counts"] == string_loop(counts) and sum(counts) == mask.size
    assert max(counts) > 2 ** 15
    np.testing.assert_array_equal(rle_decode(rle), mask)


def test_rle_encode_errors():
    with pytest.raises(TypeError, match=r"rle_encode: mask must be bool or integer, got dtype "
                                        r"float64 with shape \(2, 2\)"):
        rle_encode(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"rle_encode: mask must have shape \(H, W\) or "
                                         r"\(K, H, W\), got \(4,\)"):
        rle_encode(np.zeros(4, bool))


@pytest.mark.parametrize("rle, message", [
    ({"size": [2, 3], "counts": "23"}, r"rle_decode: rle\['counts'\] add up to 5 pixels but "
                                       r"size \[2, 3\] has 6"),
    ({"size": [2, 3], "counts": [2, 3, 2]}, r"add up to 7 pixels"),
    ({"size": [2, 3], "counts": [7, -1]}, r"rle\['counts'\] has a negative run length -1"),
    ({"size": [2, 3], "counts": "2 31"}, r"rle\['counts'\] holds ' ', not a COCO RLE character"),
    ({"size": [2, 3], "counts": "2X"}, r"rle\['counts'\] string is cut off"),
    ({"size": [2, 3], "counts": "p"}, r"holds 'p', not a COCO RLE character"),
    ({"size": [2], "counts": "6"}, r"rle\['size'\] must be \[H, W\] with two non-negative "
                                   r"integers, got \[2\]"),
    ({"size": [2, -3], "counts": "6"}, r"rle\['size'\] must be \[H, W\]"),
    ({"counts": "6"}, r"an RLE must be a dict with keys 'size' and 'counts', got dict with "
                      r"keys \['counts'\]"),
    ({"size": [2, 3], "counts": [[6]]}, r"uncompressed rle\['counts'\] must be a flat list"),
])
def test_rle_decode_errors(rle, message):
    with pytest.raises(ValueError, match=message):
        rle_decode(rle)


def test_rle_decode_refuses_stacking_different_sizes():
    with pytest.raises(ValueError, match=r"rle_decode: RLEs of different sizes cannot be "
                                         r"stacked: \[\(2, 3\), \(3, 2\)\]"):
        rle_decode([{"size": [2, 3], "counts": "6"}, {"size": [3, 2], "counts": "6"}])


# ---------------------------------------------------------------------------------------------
# Polygons
# ---------------------------------------------------------------------------------------------
def test_polygon_golden_rectangle_and_triangle():
    expected = np.zeros((4, 6), bool)
    expected[1:3, 1:4] = True                       # centres x 1.5..3.5, y 1.5..2.5
    np.testing.assert_array_equal(polygons_to_mask([[1, 1, 4, 1, 4, 3, 1, 3]], 4, 6), expected)
    # the same rectangle counter-clockwise, as one flat polygon, and as numpy
    np.testing.assert_array_equal(polygons_to_mask([1, 1, 1, 3, 4, 3, 4, 1], 4, 6), expected)
    np.testing.assert_array_equal(
        polygons_to_mask([np.array([1, 1, 4, 1, 4, 3, 1, 3.0])], 4, 6), expected)
    # right triangle (0,0), (4,0), (0,4): centre (j+.5, i+.5) inside when j + i + 1 <= 4 --
    # the centres with j + i + 1 = 4 lie on the hypotenuse, a right-hand edge, so they count
    triangle = polygons_to_mask([[0, 0, 4, 0, 0, 4]], 4, 4)
    np.testing.assert_array_equal(triangle.astype(int), [[1, 1, 1, 1],
                                                         [1, 1, 1, 0],
                                                         [1, 1, 0, 0],
                                                         [1, 0, 0, 0]])
    # moved right by 0.1, the hypotenuse passes the centres on their right: the same pixels;
    # moved left by 0.1, it passes them on their left: the diagonal drops out
    np.testing.assert_array_equal(polygons_to_mask([[0, 0, 4.1, 0, 0, 4.1]], 4, 4), triangle)
    np.testing.assert_array_equal(polygons_to_mask([[0, 0, 3.9, 0, 0, 3.9]], 4, 4),
                                  triangle & ~np.eye(4, dtype=bool)[::-1])


def test_polygon_ties_on_edges():
    # a box with edges through pixel centres covers the centres in (x1, x2] x (y1, y2]
    mask = polygons_to_mask([[0.5, 0.5, 2.5, 0.5, 2.5, 2.5, 0.5, 2.5]], 4, 4)
    expected = np.zeros((4, 4), bool)
    expected[1:3, 1:3] = True
    np.testing.assert_array_equal(mask, expected)
    # two boxes sharing an edge through centres tile without overlap or gap
    left = polygons_to_mask([[0, 0, 2.5, 0, 2.5, 4, 0, 4]], 4, 5)
    right = polygons_to_mask([[2.5, 0, 5, 0, 5, 4, 2.5, 4]], 4, 5)
    assert not (left & right).any() and (left | right).all()


def test_polygon_even_odd_union_and_degenerate():
    # a bow tie (self-intersecting) fills both lobes; its centre point has no area
    bowtie = polygons_to_mask([[0, 0, 6, 6, 6, 0, 0, 6]], 6, 6)
    np.testing.assert_array_equal(bowtie, polygon_loop([[0, 0, 6, 6, 6, 0, 0, 6]], 6, 6))
    assert bowtie[3, 0] and bowtie[3, 5] and not bowtie[0, 3]
    # two polygons of one object: union, not even-odd between them
    both = polygons_to_mask([[0, 0, 4, 0, 4, 4, 0, 4], [2, 2, 6, 2, 6, 6, 2, 6]], 6, 6)
    assert both[3, 3] and both.sum() == 16 + 16 - 4
    # fewer than 3 vertices, or a polygon outside the image, cover nothing
    assert not polygons_to_mask([[1, 1, 3, 3]], 4, 4).any()
    assert not polygons_to_mask([[10, 10, 20, 10, 20, 20]], 4, 4).any()
    assert not polygons_to_mask([], 4, 4).any()
    # a polygon larger than the image covers all of it
    assert polygons_to_mask([[-5, -5, 50, -5, 50, 50, -5, 50]], 4, 7).all()


@given(st.integers(0, 2 ** 32 - 1), st.integers(3, 9))
def test_polygon_against_loop_reference(seed, vertices):
    rng = np.random.default_rng(seed)
    polygons = [rng.uniform(-3, 17, 2 * vertices).tolist(),
                (np.round(rng.uniform(-2, 14, 2 * vertices) * 2) / 2).tolist()]  # ties on .5
    np.testing.assert_array_equal(polygons_to_mask(polygons, 12, 15),
                                  polygon_loop(polygons, 12, 15))


def test_polygon_errors():
    with pytest.raises(ValueError, match=r"polygons_to_mask: polygon 1 must be a flat list "
                                         r"\[x1, y1, x2, y2, \.\.\.\] of even length, got "
                                         r"shape \(5,\)"):
        polygons_to_mask([[0, 0, 1, 0, 1, 1], [0, 0, 1, 0, 1]], 3, 3)
    with pytest.raises(ValueError, match=r"polygons_to_mask: polygon 0 has a non-finite"):
        polygons_to_mask([[0, 0, 1, np.nan, 1, 1]], 3, 3)
    with pytest.raises(TypeError, match=r"polygons_to_mask: polygons must be a list"):
        polygons_to_mask("0 0 1 1", 3, 3)
    with pytest.raises(ValueError, match=r"polygons_to_mask: height and width must be >= 0"):
        polygons_to_mask([], -1, 3)


def test_segmentation_to_mask_all_three_forms():
    mask = np.zeros((5, 6), bool)
    mask[1:4, 2:5] = True
    rle = rle_encode(mask)
    np.testing.assert_array_equal(segmentation_to_mask(rle, 5, 6), mask)
    np.testing.assert_array_equal(segmentation_to_mask(rle_encode(mask, False), 5, 6), mask)
    np.testing.assert_array_equal(segmentation_to_mask([[2, 1, 5, 1, 5, 4, 2, 4]], 5, 6), mask)
    with pytest.raises(ValueError, match=r"segmentation_to_mask: RLE size \[5, 6\] differs "
                                         r"from the image size \[6, 5\]"):
        segmentation_to_mask(rle, 6, 5)
    with pytest.raises(TypeError, match=r"segmentation_to_mask: segmentation must be a list "
                                        r"of polygons or an RLE dict, got str"):
        segmentation_to_mask("abc", 5, 6)


# ---------------------------------------------------------------------------------------------
# Boxes, areas, IoU
# ---------------------------------------------------------------------------------------------
def test_masks_to_boxes_golden_and_empty(xp):
    masks = np.zeros((3, 5, 6), bool)
    masks[0, 1:3, 2:5] = True                 # rows 1-2, columns 2-4 -> (2, 1, 5, 3)
    masks[1, 4, 0] = True                     # one corner pixel -> (0, 4, 1, 5)
    boxes = masks_to_boxes(xp.asarray(masks))  # masks[2] is empty -> zeros
    assert boxes.dtype == xp.float32
    np.testing.assert_array_equal(backend.to_cpu(boxes), [[2, 1, 5, 3], [0, 4, 1, 5],
                                                          [0, 0, 0, 0]])
    assert masks_to_boxes(xp.zeros((0, 4, 4), bool)).shape == (0, 4)


def test_masks_to_boxes_against_loop():
    masks = random_masks(np.random.default_rng(3), 12, 9, 11)
    masks[::4] &= np.random.default_rng(4).random(masks[::4].shape) < 0.05   # sparse ones
    expected = []
    for m in masks:
        ys, xs = np.nonzero(m)
        expected.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] if len(xs) else [0] * 4)
    np.testing.assert_array_equal(masks_to_boxes(masks), expected)


def test_mask_area_forms(xp):
    masks = random_masks(np.random.default_rng(5), 6, 7, 8)
    expected = masks.reshape(6, -1).sum(1)
    np.testing.assert_array_equal(backend.to_cpu(mask_area(xp.asarray(masks))), expected)
    assert mask_area(masks[1]) == expected[1]
    np.testing.assert_array_equal(mask_area(rle_encode(masks)), expected)
    assert mask_area(rle_encode(masks[0], compressed=False)) == expected[0]
    assert mask_area([]).shape == (0,)


def iou_loop(a, b, iscrowd):
    out = np.zeros((len(a), len(b)))
    for i in range(len(a)):
        for j in range(len(b)):
            inter = np.logical_and(a[i], b[j]).sum()
            union = a[i].sum() if iscrowd[j] else np.logical_or(a[i], b[j]).sum()
            out[i, j] = inter / union if union else 0.0
    return out


def test_mask_iou_golden(xp):
    a = np.zeros((2, 2, 4), bool)
    a[0, :, :2] = True                          # left half, area 4
    b = np.zeros((3, 2, 4), bool)
    b[0, :, 1:] = True                          # 3 columns: inter 2, union 8
    b[1] = True                                 # all: inter 4, union 8; a crowd: 4 / 4
    # a[1] and b[2] are empty: IoU 0, never NaN
    iou = mask_iou(xp.asarray(a), xp.asarray(b), iscrowd=xp.asarray([False, True, False]))
    np.testing.assert_allclose(backend.to_cpu(iou), [[0.25, 1.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(backend.to_cpu(mask_iou(xp.asarray(a), xp.asarray(b))),
                               [[0.25, 0.5, 0.0], [0.0, 0.0, 0.0]])


def test_mask_iou_against_loop():
    rng = np.random.default_rng(6)
    a, b = random_masks(rng, 7, 10, 13), random_masks(rng, 5, 10, 13)
    crowd = np.array([False, True, False, True, True])
    np.testing.assert_allclose(mask_iou(a, b, crowd), iou_loop(a, b, crowd), rtol=1e-12)
    np.testing.assert_allclose(mask_iou(a, b), iou_loop(a, b, np.zeros(5, bool)), rtol=1e-12)
    assert mask_iou(a[:0], b).shape == (0, 5) and mask_iou(a, b[:0]).shape == (7, 0)


def test_mask_iou_errors():
    with pytest.raises(ValueError, match=r"mask_iou: masks1 \(1, 2, 3\) and masks2 "
                                         r"\(1, 3, 2\) must have the same \(H, W\)"):
        mask_iou(np.ones((1, 2, 3), bool), np.ones((1, 3, 2), bool))
    with pytest.raises(ValueError, match=r"mask_iou: masks2 must have shape \(K, H, W\), got "
                                         r"\(3, 2\)"):
        mask_iou(np.ones((1, 3, 2), bool), np.ones((3, 2), bool))
    with pytest.raises(ValueError, match=r"mask_iou: iscrowd must have shape \(M,\) = \(2,\)"):
        mask_iou(np.ones((1, 3, 2), bool), np.ones((2, 3, 2), bool), iscrowd=[True])
    with pytest.raises(TypeError, match=r"masks_to_boxes: masks must be bool \(or 0/1 "
                                        r"integers\), got dtype float64"):
        masks_to_boxes(np.ones((1, 3, 2)))


# ---------------------------------------------------------------------------------------------
# pycocotools, when installed
# ---------------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # inside pycocotools
def test_agrees_with_pycocotools():
    coco_mask = pytest.importorskip("pycocotools.mask")
    rng = np.random.default_rng(7)
    for height, width in [(1, 1), (7, 5), (30, 41), (64, 48)]:
        masks = random_masks(rng, 9, height, width)
        theirs = coco_mask.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))
        ours = rle_encode(masks)
        assert [r["counts"] for r in ours] == [r["counts"].decode() for r in theirs]
        np.testing.assert_array_equal(rle_decode(theirs), masks)          # bytes counts
        np.testing.assert_array_equal(coco_mask.decode(theirs).transpose(2, 0, 1),
                                      rle_decode(ours))
        np.testing.assert_array_equal(mask_area(ours), coco_mask.area(theirs))
        crowd = rng.random(9) < 0.4
        np.testing.assert_allclose(mask_iou(masks, masks[::-1], crowd),
                                   coco_mask.iou(theirs, theirs[::-1], crowd.astype(np.uint8)),
                                   rtol=1e-12)
        for rle in rle_encode(masks, compressed=False):                  # uncompressed form
            assert coco_mask.frPyObjects(rle, height, width)["counts"].decode() == \
                rle_encode(rle_decode(rle))["counts"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # inside pycocotools
def test_polygons_close_to_pycocotools():
    coco_mask = pytest.importorskip("pycocotools.mask")
    rng = np.random.default_rng(8)
    height, width = 60, 70
    # axis-aligned boxes with corners on pycocotools' 1/5-pixel grid: identical pixels
    for _ in range(100):
        x1, x2 = np.sort(np.round(rng.uniform(-3, 73, 2) * 5) / 5)
        y1, y2 = np.sort(np.round(rng.uniform(-3, 63, 2) * 5) / 5)
        polygon = [[x1, y1, x2, y1, x2, y2, x1, y2]]
        theirs = coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects(polygon, height, width)))
        np.testing.assert_array_equal(polygons_to_mask(polygon, height, width), theirs)
    # random star-shaped polygons: only boundary pixels may differ, about 1 in 100 of the union
    differ = union = 0
    for _ in range(100):
        n = rng.integers(3, 10)
        angle = np.sort(rng.uniform(0, 2 * np.pi, n))
        radius = rng.uniform(5, 25) * rng.uniform(0.5, 1, n)
        centre = rng.uniform(10, 50, 2)
        polygon = [np.stack([centre[0] + radius * np.cos(angle),
                             centre[1] + radius * np.sin(angle)], 1).ravel().tolist()]
        theirs = coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects(polygon, height, width)))
        ours = polygons_to_mask(polygon, height, width)
        differ += (ours != theirs.astype(bool)).sum()
        union += (ours | theirs.astype(bool)).sum()
    assert 0 < differ / union < 0.03
