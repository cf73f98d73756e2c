"""minicv.ops box geometry and NMS: against the loop references in tests/reference.py,
golden hand-worked cases, edge cases and every error message."""
import doctest
import re
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minicv import backend, gradcheck
from minicv.autograd import Tensor
from minicv.ops import boxes as boxes_module
from minicv.ops import (batched_nms, box_area, box_convert, box_iou, clip_boxes_to_image, nms,
                        remove_small_boxes)
from minicv.testing import boxes as box_strategy
from reference import batched_nms_loop, box_iou_loop, iou_scalar, nms_loop


def clustered_boxes(n, seed, image=100.0, clusters=25, dtype=np.float64):
    """``n`` boxes in clusters of jittered copies, so that IoUs spread over the whole of
    [0, 1] and NMS has plenty to suppress (uniform random boxes seldom overlap much)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, image, (clusters, 2))                      # (K, 2)
    sizes = rng.uniform(5, 30, (clusters, 2))                           # (K, 2)
    which = rng.integers(0, clusters, n)                                # (n,)
    ctr = centres[which] + rng.normal(0, 0.15, (n, 2)) * sizes[which]   # (n, 2)
    wh = sizes[which] * rng.uniform(0.7, 1.3, (n, 2))                   # (n, 2)
    return np.concatenate([ctr - wh / 2, ctr + wh / 2], axis=1).astype(dtype)


# ---------------------------------------------------------------------------------------------
# box_area, box_iou
# ---------------------------------------------------------------------------------------------
def test_box_area_golden_and_dtypes(xp):
    b = xp.asarray([[0.0, 0.0, 10.0, 5.0], [2.0, 2.0, 2.0, 8.0], [3.0, 3.0, 1.0, 4.0]])
    np.testing.assert_array_equal(backend.to_cpu(box_area(b)), [50.0, 0.0, -2.0])
    assert box_area(b.astype(xp.float32)).dtype == xp.float32
    ints = box_area(xp.asarray([[0, 0, 3, 4]]))
    assert ints.dtype.kind == "i" and int(ints[0]) == 12
    assert box_area(xp.zeros((0, 4))).shape == (0,)


def test_box_iou_golden(xp):
    a = xp.asarray([[0.0, 0.0, 4.0, 4.0]])
    b = xp.asarray([
        [0.0, 0.0, 4.0, 4.0],      # itself: 1
        [10.0, 10.0, 12.0, 12.0],  # disjoint: 0
        [4.0, 0.0, 8.0, 4.0],      # touching along an edge: 0
        [4.0, 4.0, 6.0, 6.0],      # touching at a corner: 0
        [1.0, 1.0, 3.0, 3.0],      # contained: 4 / 16
        [-2.0, -2.0, 6.0, 6.0],    # contains it: 16 / 64
        [2.0, 0.0, 6.0, 4.0],      # half overlapping: 8 / 24
    ])
    expected = [[1.0, 0.0, 0.0, 0.0, 0.25, 0.25, 1 / 3]]
    np.testing.assert_allclose(backend.to_cpu(box_iou(a, b)), expected, rtol=1e-15)
    np.testing.assert_allclose(backend.to_cpu(box_iou(b, a)), np.transpose(expected),
                               rtol=1e-15)


def test_box_iou_empty_boxes_give_zero_without_warnings(xp):
    points = xp.asarray([[1.0, 1.0, 1.0, 1.0], [2.0, 2.0, 2.0, 5.0]])  # zero areas
    with warnings.catch_warnings():
        warnings.simplefilter("error")               # a 0/0 warning would fail the test
        with np.errstate(all="raise"):
            iou = box_iou(points, points)
    assert np.all(backend.to_cpu(iou) == 0)
    assert box_iou(xp.zeros((0, 4)), points).shape == (0, 2)
    assert box_iou(points, xp.zeros((0, 4))).shape == (2, 0)


@given(box_strategy(st.integers(0, 9)), box_strategy(st.integers(0, 9)))
def test_box_iou_matches_the_loop_reference(boxes1, boxes2):
    np.testing.assert_allclose(box_iou(boxes1, boxes2), box_iou_loop(boxes1, boxes2),
                               rtol=1e-12, atol=0)


def test_box_iou_float32_is_torchvisions_arithmetic_bit_for_bit():
    b1 = clustered_boxes(40, seed=1, dtype=np.float32)
    b2 = clustered_boxes(30, seed=2, dtype=np.float32)
    got = box_iou(b1, b2)
    assert got.dtype == np.float32
    expected = np.array([[iou_scalar(a, b, np.float32) for b in b2] for a in b1], np.float32)
    np.testing.assert_array_equal(got, expected)


def test_box_iou_of_integer_boxes_is_float32():
    iou = box_iou(np.array([[0, 0, 2, 2]]), np.array([[1, 0, 3, 2]]))
    assert iou.dtype == np.float32
    np.testing.assert_allclose(iou, [[1 / 3]], rtol=1e-6)


def test_box_area_and_iou_on_tensors_are_differentiable():
    a = np.array([[0.0, 0.0, 4.0, 5.0], [1.0, 2.0, 6.0, 4.5]])
    b = np.array([[2.0, 1.0, 7.0, 3.0], [0.5, 0.25, 3.0, 4.0], [20.0, 20.0, 21.0, 22.0]])
    iou = box_iou(Tensor(a), b)
    assert isinstance(iou, Tensor)
    np.testing.assert_allclose(iou.data, box_iou(a, b), rtol=1e-15)
    assert isinstance(box_area(Tensor(a)), Tensor)
    # Coordinates are distinct and overlaps non-empty or far from touching: no kinks nearby.
    gradcheck(lambda x, y: box_iou(x, y), [a, b])
    gradcheck(box_area, [a])


def test_box_iou_gradient_is_checked_for_real():
    """The check above can fail: a wrong IoU derivative (area1 taken as a constant) is caught."""
    a = np.array([[0.0, 0.0, 4.0, 5.0]])
    b = np.array([[2.0, 1.0, 7.0, 3.0]])

    def wrong_iou(x, y):
        inter, _ = boxes_module._inter_union(boxes_module._TensorMath, x, y)
        area1 = Tensor(box_area(x.data))                # detached: the bug
        area2 = box_area(y)
        return inter / (area1[:, None] + area2[None, :] - inter)

    with pytest.raises(AssertionError):
        gradcheck(wrong_iou, [a, b])


# ---------------------------------------------------------------------------------------------
# box_convert, clip_boxes_to_image, remove_small_boxes
# ---------------------------------------------------------------------------------------------
def test_box_convert_golden(xp):
    xyxy = xp.asarray([[1.0, 2.0, 5.0, 4.0]])
    xywh = xp.asarray([[1.0, 2.0, 4.0, 2.0]])
    cxcywh = xp.asarray([[3.0, 3.0, 4.0, 2.0]])
    formats = {"xyxy": xyxy, "xywh": xywh, "cxcywh": cxcywh}
    for fin, a in formats.items():
        for fout, b in formats.items():
            np.testing.assert_array_equal(backend.to_cpu(box_convert(a, fin, fout)),
                                          backend.to_cpu(b), err_msg=f"{fin} -> {fout}")


@given(box_strategy(st.integers(0, 8)), st.sampled_from(boxes_module.BOX_FORMATS),
       st.sampled_from(boxes_module.BOX_FORMATS))
def test_box_convert_round_trips(b, fin, fout):
    b = box_convert(b, "xyxy", fin)                       # a valid box in format fin
    there = box_convert(b, fin, fout)
    np.testing.assert_allclose(box_convert(there, fout, fin), b, rtol=1e-12, atol=1e-12)


def test_box_convert_keeps_shape_and_dtype_and_copies():
    b = clustered_boxes(6, seed=3, dtype=np.float32).reshape(2, 3, 4)
    out = box_convert(b, "xyxy", "cxcywh")
    assert out.shape == (2, 3, 4) and out.dtype == np.float32
    same = box_convert(b, "xywh", "xywh")
    assert same is not b and np.array_equal(same, b)
    ints = np.array([[1, 2, 5, 4]])
    assert box_convert(ints, "xyxy", "xywh").dtype == np.int64
    assert box_convert(ints, "xyxy", "cxcywh").dtype == np.float32     # halves
    t = box_convert(Tensor(b), "xyxy", "xywh")
    assert isinstance(t, Tensor)
    np.testing.assert_array_equal(t.data, box_convert(b, "xyxy", "xywh"))


def test_clip_boxes_to_image_golden(xp):
    b = xp.asarray([[-5.0, 2.0, 12.0, 30.0],     # sticks out left and bottom
                    [3.0, -1.0, 4.0, 5.0],       # sticks out top
                    [15.0, 25.0, 18.0, 28.0]])   # fully outside: becomes a degenerate box
    out = clip_boxes_to_image(b, size=(20, 10))  # (H, W)
    np.testing.assert_array_equal(backend.to_cpu(out), [[0.0, 2.0, 10.0, 20.0],
                                                        [3.0, 0.0, 4.0, 5.0],
                                                        [10.0, 20.0, 10.0, 20.0]])
    assert clip_boxes_to_image(b.astype(xp.float32), (20, 10)).dtype == xp.float32
    batched = clip_boxes_to_image(xp.stack([b, b]), (20, 10))
    assert batched.shape == (2, 3, 4)
    ints = clip_boxes_to_image(xp.asarray([[-3, 2, 40, 7]]), (5, 30))
    assert ints.dtype.kind == "i"
    np.testing.assert_array_equal(backend.to_cpu(ints), [[0, 2, 30, 5]])


def test_clip_boxes_to_image_on_a_tensor_passes_gradient_inside_only():
    b = Tensor(np.array([[-5.0, 2.0, 8.0, 30.0]]), requires_grad=True)
    clip_boxes_to_image(b, (20, 10)).sum().backward()
    np.testing.assert_array_equal(b.grad, [[0.0, 1.0, 1.0, 0.0]])


def test_remove_small_boxes_golden(xp):
    b = xp.asarray([[0.0, 0.0, 1.0, 5.0],      # exactly min_size wide: kept
                    [0.0, 0.0, 0.5, 5.0],      # too narrow
                    [0.0, 0.0, 5.0, 0.999],    # too low
                    [2.0, 2.0, 4.0, 4.0]])
    keep = remove_small_boxes(b, 1.0)
    assert keep.dtype == xp.int64
    np.testing.assert_array_equal(backend.to_cpu(keep), [0, 3])
    assert remove_small_boxes(xp.zeros((0, 4)), 1.0).dtype == xp.int64


# ---------------------------------------------------------------------------------------------
# nms
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("threshold", [0.2, 0.5, 0.8])
def test_nms_equals_greedy_reference_on_1000_boxes(xp, threshold):
    b = clustered_boxes(1000, seed=10)
    scores = np.random.default_rng(11).uniform(size=1000)
    scores[::7] = scores[3::7][:len(scores[::7])]            # plenty of exact ties too
    expected = nms_loop(b, scores, threshold)
    assert 20 < len(expected) < 980                          # the case suppresses a lot
    keep = nms(xp.asarray(b), xp.asarray(scores), threshold)
    assert keep.dtype == xp.int64
    np.testing.assert_array_equal(backend.to_cpu(keep), expected)


@pytest.mark.parametrize("block, rows", [(1, 1), (3, 2), (7, 5), (64, 16), (256, 128)])
def test_nms_blocks_and_row_chunks_of_any_size_give_the_same_answer(block, rows):
    b = clustered_boxes(150, seed=12)
    scores = np.random.default_rng(13).uniform(size=150)
    keep = boxes_module._greedy_nms(b, scores, 0.4, block=block, rows=rows)
    np.testing.assert_array_equal(keep, nms_loop(b, scores, 0.4))


def test_nms_float32_decisions_equal_the_float32_reference():
    b = clustered_boxes(300, seed=14, dtype=np.float32)
    scores = np.random.default_rng(15).uniform(size=300).astype(np.float32)
    for threshold in (0.3, 0.7):
        np.testing.assert_array_equal(nms(b, scores, threshold),
                                      nms_loop(b, scores, threshold, dtype=np.float32))


@pytest.mark.parametrize("threshold", [0.2, 0.5, 0.7])
def test_nms_a_pair_just_above_just_below_and_at_the_threshold(threshold):
    # [0, 0, 10, h] inside [0, 0, 10, 10]: IoU = 10 h / 100 = h / 10.
    def pair(h):
        return np.array([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, h]])

    scores = np.array([0.9, 0.8])
    h = 10 * threshold
    assert nms(pair(h + 1e-6), scores, threshold).tolist() == [0]        # just above: dropped
    assert nms(pair(h - 1e-6), scores, threshold).tolist() == [0, 1]     # just below: kept
    exact = pair(h)
    assert float(box_iou(exact[:1], exact[1:])[0, 0]) == threshold
    assert nms(exact, scores, threshold).tolist() == [0, 1]              # equal: kept (strict)


def test_nms_compares_float32_ious_with_the_threshold_as_a_double():
    # float32 IoU 20 / 100 is float32(0.2) = 0.2000000030 > 0.2: torchvision's C++ compares
    # float32 > double and suppresses; a float32 comparison would say "equal" and keep.
    b = np.array([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 2.0]], dtype=np.float32)
    assert float(box_iou(b[:1], b[1:])[0, 0]) == float(np.float32(0.2))
    assert nms(b, np.array([0.9, 0.8], np.float32), 0.2).tolist() == [0]
    # 0.7 rounds down in float32 (0.6999999881): an IoU equal to float32(0.7) is below it.
    c = np.array([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 7.0]], dtype=np.float32)
    assert nms(c, np.array([0.9, 0.8], np.float32), 0.7).tolist() == [0, 1]


def test_nms_equal_boxes_and_tied_scores(xp):
    b = xp.asarray([[0.0, 0.0, 5.0, 5.0]] * 3 + [[10.0, 10.0, 12.0, 12.0]] * 2)
    tied = xp.asarray([0.5, 0.5, 0.5, 0.5, 0.5])
    # Equal boxes overlap with IoU 1: only the first of each group (lowest index) survives.
    assert backend.to_cpu(nms(b, tied, 0.5)).tolist() == [0, 3]
    # Unequal scores: the best of each group survives, in decreasing score order.
    assert backend.to_cpu(nms(b, xp.asarray([0.1, 0.9, 0.3, 0.2, 0.8]), 0.5)).tolist() == [1, 4]
    # Threshold 1: IoU 1 is not strictly greater, nothing is suppressed; ties by index.
    assert backend.to_cpu(nms(b, tied, 1.0)).tolist() == [0, 1, 2, 3, 4]


def test_nms_empty_single_degenerate_and_tensor_inputs(xp):
    keep = nms(xp.zeros((0, 4)), xp.zeros(0), 0.5)
    assert keep.shape == (0,) and keep.dtype == xp.int64
    assert backend.to_cpu(nms(xp.asarray([[0.0, 0.0, 1.0, 1.0]]), xp.asarray([3.0]),
                              0.5)).tolist() == [0]
    points = xp.asarray([[1.0, 1.0, 1.0, 1.0]] * 2)          # empty boxes never suppress
    assert backend.to_cpu(nms(points, xp.asarray([1.0, 2.0]), 0.0)).tolist() == [1, 0]
    b = clustered_boxes(50, seed=16)
    s = np.random.default_rng(17).uniform(size=50)
    keep = nms(Tensor(xp.asarray(b)), Tensor(xp.asarray(s)), 0.5)
    assert backend.is_array(keep)
    np.testing.assert_array_equal(backend.to_cpu(keep), nms_loop(b, s, 0.5))
    int_scores = nms(xp.asarray(b), xp.asarray((s * 10).astype(np.int64)), 0.5)
    np.testing.assert_array_equal(backend.to_cpu(int_scores),
                                  nms_loop(b, (s * 10).astype(np.int64), 0.5))


# ---------------------------------------------------------------------------------------------
# batched_nms
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("threshold", [0.3, 0.7])
def test_batched_nms_equals_per_class_reference(xp, threshold):
    b = clustered_boxes(400, seed=20, clusters=10)
    scores = np.random.default_rng(21).uniform(size=400)
    idxs = np.random.default_rng(22).integers(0, 5, 400)
    keep = batched_nms(xp.asarray(b), xp.asarray(scores), xp.asarray(idxs), threshold)
    assert keep.dtype == xp.int64
    np.testing.assert_array_equal(backend.to_cpu(keep),
                                  batched_nms_loop(b, scores, idxs, threshold))


def test_batched_nms_separates_classes_with_negative_coordinates():
    # The coordinate trick shifts by idxs * (max + 1) = 11: class 1's box would land on
    # [-89, ..., 21], overlapping class 0's [-100, 10] with IoU 0.8 and suppressing it.
    b = np.array([[-100.0, 0.0, 10.0, 10.0], [-100.0, 0.0, 10.0, 10.0]])
    assert batched_nms(b, np.array([0.9, 0.8]), np.array([0, 1]), 0.5).tolist() == [0, 1]
    assert batched_nms(b, np.array([0.9, 0.8]), np.array([1, 1]), 0.5).tolist() == [0]


def test_batched_nms_empty():
    keep = batched_nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64), 0.5)
    assert keep.shape == (0,) and keep.dtype == np.int64


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
GOOD = np.array([[0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 2.0, 3.0]])


@pytest.mark.parametrize("call, name", [
    (lambda b: box_area(b), "box_area"),
    (lambda b: box_iou(b, GOOD), "box_iou"),
    (lambda b: remove_small_boxes(b, 1.0), "remove_small_boxes"),
    (lambda b: nms(b, np.ones(len(b)), 0.5), "nms"),
    (lambda b: batched_nms(b, np.ones(len(b)), np.zeros(len(b)), 0.5), "batched_nms"),
])
def test_boxes_of_the_wrong_shape_are_refused(call, name):
    arg = "boxes1" if name == "box_iou" else "boxes"
    with pytest.raises(ValueError, match=rf"^{name}: {arg} must have shape \(N, 4\) "
                                         r"\(x1, y1, x2, y2 per box\), got \(2, 5\)$"):
        call(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=rf"^{name}: {arg} must have shape \(N, 4\) .*got "
                                         r"\(4,\)$"):
        call(np.zeros(4))


def test_box_iou_names_the_argument_with_the_wrong_shape():
    with pytest.raises(ValueError, match=r"box_iou: boxes2 must have shape \(N, 4\) .*got "
                                         r"\(3, 4, 1\)"):
        box_iou(GOOD, np.zeros((3, 4, 1)))


@pytest.mark.parametrize("call, name", [
    (lambda b: box_convert(b, "xyxy", "xywh"), "box_convert"),
    (lambda b: clip_boxes_to_image(b, (5, 5)), "clip_boxes_to_image"),
])
def test_batched_box_functions_want_a_last_axis_of_4(call, name):
    with pytest.raises(ValueError, match=rf"^{name}: boxes must have shape \(\.\.\., 4\) .*got "
                                         r"\(2, 3\)"):
        call(np.zeros((2, 3)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("call, name", [
    (lambda b: box_area(b), "box_area"),
    (lambda b: box_iou(GOOD, b), "box_iou"),
    (lambda b: box_convert(b, "xyxy", "cxcywh"), "box_convert"),
    (lambda b: clip_boxes_to_image(b, (5, 5)), "clip_boxes_to_image"),
    (lambda b: remove_small_boxes(b, 1.0), "remove_small_boxes"),
    (lambda b: nms(b, np.ones(3), 0.5), "nms"),
    (lambda b: batched_nms(b, np.ones(3), np.zeros(3), 0.5), "batched_nms"),
])
def test_non_finite_boxes_are_refused_naming_the_box(call, name, bad):
    b = np.array([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    b[2, 1] = bad
    arg = "boxes2" if name == "box_iou" else "boxes"
    with pytest.raises(ValueError, match=rf"^{name}: {arg} must be finite, but box 2 of {arg} "
                                         rf"\(3, 4\) is \[0\.0, -?{bad}, 1\.0, 1\.0\]"):
        call(b)


@pytest.mark.parametrize("op", ["nms", "batched_nms"])
def test_nms_scores_of_the_wrong_shape_or_nan(op):
    def call(scores):
        if op == "nms":
            return nms(GOOD, scores, 0.5)
        return batched_nms(GOOD, scores, np.zeros(2, np.int64), 0.5)

    for bad in (np.ones(3), np.ones((2, 1)), np.ones(())):
        message = (f"{op}: scores must have shape (N,) = (2,) to match boxes (2, 4), got "
                   f"{bad.shape}")
        with pytest.raises(ValueError, match="^" + re.escape(message)):
            call(bad)
    with pytest.raises(ValueError, match=rf"^{op}: scores must not be NaN"):
        call(np.array([0.5, np.nan]))


@pytest.mark.parametrize("threshold", [float("nan"), "0.5", None, True])
def test_nms_iou_threshold_must_be_a_number(threshold):
    with pytest.raises(ValueError, match=r"^nms: iou_threshold must be a number, got "):
        nms(GOOD, np.ones(2), threshold)


def test_batched_nms_idxs_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"^batched_nms: idxs must have shape \(N,\) = \(2,\) "
                                         r"to match boxes \(2, 4\), got \(3,\)"):
        batched_nms(GOOD, np.ones(2), np.zeros(3, np.int64), 0.5)


def test_box_convert_unknown_formats():
    with pytest.raises(ValueError, match=r"^box_convert: in_fmt must be one of \('xyxy', "
                                         r"'xywh', 'cxcywh'\), got 'xyz'"):
        box_convert(GOOD, "xyz", "xyxy")
    with pytest.raises(ValueError, match=r"^box_convert: out_fmt must be one of .*got 'XYWH'"):
        box_convert(GOOD, "xyxy", "XYWH")


@pytest.mark.parametrize("size", [(5,), (1, 2, 3), ("a", 2), (-1, 5), (5, float("inf")), 7])
def test_clip_boxes_to_image_bad_size(size):
    with pytest.raises(ValueError, match=r"^clip_boxes_to_image: size must be "):
        clip_boxes_to_image(GOOD, size)


def test_remove_small_boxes_bad_min_size():
    with pytest.raises(ValueError, match=r"^remove_small_boxes: min_size must be a number, got "
                                         r"nan"):
        remove_small_boxes(GOOD, float("nan"))


def test_boxes_that_are_not_numbers():
    with pytest.raises(TypeError, match=r"^box_area: boxes must hold numbers, got dtype <U1 "
                                        r"with shape \(1, 4\)"):
        box_area([["a", "b", "c", "d"]])


def test_doctests_of_the_boxes_code():
    result = doctest.testmod(boxes_module)
    assert result.attempted > 0 and result.failed == 0
