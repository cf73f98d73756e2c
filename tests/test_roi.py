"""roi_pool, roi_align (with the box gradient) and the RoIPool / RoIAlign layers.

Forward against the loop references in reference.py over the TESTING.md grid (boxes inside,
across and outside the map, degenerate, fractional, reversed; several scales, output sizes and
batch indices; aligned x sampling_ratio; samples exactly on the borders -1, 0, H - 1, H; K = 0),
the identity property, torchvision's special rules (first maximum wins, -FLT_MAX, NaN), the
list-of-boxes input, determinism, every error message, the layers' reprs, and gradient checks
seen to fail against wrong backwards. The hypothesis-driven gradient checks of the three cases
("roi_pool", "roi_align", "roi_align_boxes") run from minicv/checks/roi.py
(tests/test_gradcheck_ops.py).
"""
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import FLT_MAX, roi_align_ref, roi_pool_ref, round_half_away

import minicv.functional as F
import minicv.functional.roi as roi
import minicv.nn as nn
from minicv import checks
from minicv.autograd import Tensor
from minicv.checks.roi import kink_free_boxes, sample_positions
from minicv.gradcheck import GradcheckError, gradcheck
from minicv.testing import rois as roi_strategy

N, C, H, W = 2, 2, 6, 7


def _boxes(scale):
    """(K, 5) rois of every kind the grid asks for, in image coordinates (map size / scale)."""
    h, w = H / scale, W / scale
    u = 1 / scale                                         # one feature cell
    boxes = [
        [0, 0.0, 0.0, w, h],                              # the whole map
        [1, 1.3 * u, 0.7 * u, 4.6 * u, 5.2 * u],          # inside, fractional
        [0, 2 * u, 1 * u, 5 * u, 3 * u],                  # inside, on integers
        [1, -2.4 * u, -1.5 * u, 2.2 * u, 3.1 * u],        # across the top-left corner
        [0, 4.5 * u, 3.5 * u, w + 2.5 * u, h + 1.5 * u],  # across the bottom-right corner
        [1, -6 * u, 1 * u, -2 * u, 4 * u],                # fully outside, left
        [0, 2 * u, h + 3 * u, 5 * u, h + 7 * u],          # fully outside, below
        [0, 3.0, 3.0, 3.0, 3.0],                          # degenerate [3, 3, 3, 3]
        [1, 2.5 * u, 1.5 * u, 2.5 * u, 4.5 * u],          # zero width
        [0, 5.2 * u, 4.1 * u, 2.3 * u, 1.6 * u],          # reversed (x2 < x1, y2 < y1)
        [1, 0.5 * u, 0.5 * u, 1.5 * u, 1.5 * u],          # halves: round-half-away cases
        [0, -0.5 * u, 2.5 * u, 0.5 * u, 3.5 * u],
    ]
    return np.array(boxes)


def _x(seed=0, dtype=np.float64, shape=(N, C, H, W)):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------------------------------------
# Forward against the references
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [0.5, 1.0, 1 / 16])
@pytest.mark.parametrize("output_size", [5, 7, (5, 7)])
def test_roi_pool_matches_reference(scale, output_size, xp):
    x, rois = _x(), _boxes(scale)
    y = F.roi_pool(xp.asarray(x), xp.asarray(rois), output_size, scale)
    y_ref, _ = roi_pool_ref(x, rois, output_size, scale)
    np.testing.assert_array_equal(y.numpy(), y_ref)
    assert not np.isnan(y.numpy()).any()


@pytest.mark.parametrize("scale", [0.5, 1.0, 1 / 16])
@pytest.mark.parametrize("output_size", [5, (5, 7)])
@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [-1, 1, 2])
def test_roi_align_matches_reference(scale, output_size, aligned, sampling_ratio, xp):
    x, rois = _x(1), _boxes(scale)
    y = F.roi_align(xp.asarray(x), xp.asarray(rois), output_size, scale, sampling_ratio, aligned)
    y_ref = roi_align_ref(x, rois, output_size, scale, sampling_ratio, aligned)
    np.testing.assert_allclose(y.numpy(), y_ref, rtol=1e-12, atol=1e-12)
    assert not np.isnan(y.numpy()).any()                  # degenerate boxes included


@pytest.mark.parametrize("aligned", [False, True])
def test_roi_align_output_7_and_sampling_ratio_0_is_adaptive(aligned):
    x, rois = _x(2), _boxes(0.5)
    y = F.roi_align(x, rois, 7, 0.5, 0, aligned).numpy()
    np.testing.assert_allclose(y, roi_align_ref(x, rois, 7, 0.5, -1, aligned), atol=1e-12)
    np.testing.assert_allclose(y, F.roi_align(x, rois, 7, 0.5, -5, aligned).numpy(), atol=0)


@pytest.mark.parametrize("op", ["pool", "align"])
def test_float32_follows_the_kernels_rounding(op):
    # Coordinates are computed in float32 as torchvision's kernels do; the references do the
    # same with NumPy float32 scalars.
    x, rois = _x(3, np.float32), _boxes(1 / 16).astype(np.float32)
    if op == "pool":
        y = F.roi_pool(x, rois, (5, 7), 1 / 16)
        np.testing.assert_array_equal(y.numpy(), roi_pool_ref(x, rois, (5, 7), 1 / 16)[0])
    else:
        y = F.roi_align(x, rois, (5, 7), 1 / 16, 2, True)
        np.testing.assert_allclose(y.numpy(), roi_align_ref(x, rois, (5, 7), 1 / 16, 2, True),
                                   rtol=1e-5, atol=1e-6)
    assert y.dtype == np.float32


@pytest.mark.parametrize("budget", [1, 2**12])
def test_chunked_products_match_reference(budget, monkeypatch):
    # Tiny chunks: every roi on its own, and a few together; gradients summed across chunks.
    monkeypatch.setitem(roi._CHUNK_ELEMENTS, "cpu", budget)
    x, rois = _x(4, shape=(3, 3, 9, 8)), _boxes(1.0)
    rois[:, 0] = np.arange(len(rois)) % 3
    for aligned, sr in itertools.product([False, True], [-1, 2]):
        y = F.roi_align(x, rois, (3, 4), 1.0, sr, aligned)
        np.testing.assert_allclose(y.numpy(), roi_align_ref(x, rois, (3, 4), 1.0, sr, aligned),
                                   atol=1e-12)
    t = Tensor(x, requires_grad=True)
    F.roi_align(t, rois, (3, 4), 1.0, 2, True).sum().backward()
    monkeypatch.setitem(roi._CHUNK_ELEMENTS, "cpu", 2**30)           # one chunk per image
    t1 = Tensor(x, requires_grad=True)
    F.roi_align(t1, rois, (3, 4), 1.0, 2, True).sum().backward()
    np.testing.assert_allclose(t.grad, t1.grad, atol=1e-12)


@given(st.data())
def test_both_ops_match_reference_on_random_configs(data):
    n, c = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))
    h, w = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    scale = data.draw(st.sampled_from([1.0, 0.5, 0.25]))
    rois = data.draw(roi_strategy(st.integers(0, 6), batch_size=n, width=w / scale,
                                  height=h / scale))
    output_size = data.draw(st.sampled_from([1, 2, (2, 3)]))
    sampling_ratio, aligned = data.draw(st.sampled_from([-1, 1, 2])), data.draw(st.booleans())
    x = _x(data.draw(st.integers(0, 100)), shape=(n, c, h, w))
    np.testing.assert_allclose(
        F.roi_align(x, rois, output_size, scale, sampling_ratio, aligned).numpy(),
        roi_align_ref(x, rois, output_size, scale, sampling_ratio, aligned), atol=1e-12)
    np.testing.assert_array_equal(F.roi_pool(x, rois, output_size, scale).numpy(),
                                  roi_pool_ref(x, rois, output_size, scale)[0])


def test_k_zero_gives_an_empty_result(xp):
    x = Tensor(xp.asarray(_x()), requires_grad=True)
    for op, size in ((F.roi_pool, (5, 7)), (F.roi_align, 3)):
        y = op(x, xp.zeros((0, 5)), size)
        expected = (0, C) + (size if isinstance(size, tuple) else (size, size))
        assert y.shape == expected
        y.sum().backward()
        assert float(abs(x.grad).max()) == 0
        x.grad = None
    assert F.roi_align(x, [], 2).shape == (0, C, 2, 2)           # an empty list of images


def test_several_batch_indices_read_their_own_image():
    x = _x(5, shape=(3, 1, 4, 4))
    box = [0.5, 0.5, 3.0, 2.5]
    images = (2, 0, 1, 2)
    rois = np.array([[b] + box for b in images])
    for op in (lambda x_, r: F.roi_align(x_, r, 2, sampling_ratio=2),
               lambda x_, r: F.roi_pool(x_, r, 2)):
        y = op(x, rois).numpy()
        for k, b in enumerate(images):      # the same box on image b alone, as image 0
            np.testing.assert_array_equal(y[k], op(x[b:b + 1], np.array([[0] + box])).numpy()[0])


# ---------------------------------------------------------------------------------------------
# Border rules and properties
# ---------------------------------------------------------------------------------------------
def _single_sample_roi(y_pos, x_pos):
    """A roi whose one sample (output 1, sampling_ratio 1, aligned False) sits at (y, x): a
    box of size 2 centred there (size 2 is above the clamp)."""
    return np.array([[0, x_pos - 1, y_pos - 1, x_pos + 1, y_pos + 1]])


@pytest.mark.parametrize("y_pos, expected_row", [
    (-1.0, 0), (-1.0 - 1e-9, None), (-0.5, 0), (0.0, 0),          # -1 still reads row 0
    (float(H - 1), H - 1), (H - 0.5, H - 1), (float(H), H - 1),    # H still reads row H - 1
    (H + 1e-9, None)])
def test_roi_align_samples_on_the_borders(y_pos, expected_row):
    x = _x(6, shape=(1, 1, H, W))
    rois = _single_sample_roi(y_pos, 2.0)                          # column 2 exactly
    y = F.roi_align(x, rois, 1, sampling_ratio=1).numpy()[0, 0, 0, 0]
    expected = 0.0 if expected_row is None else x[0, 0, expected_row, 2]
    assert y == expected
    assert y == roi_align_ref(x, rois, 1, sampling_ratio=1)[0, 0, 0, 0]


def test_roi_align_border_samples_on_both_axes_match_reference():
    x = _x(7, shape=(1, 2, H, W))
    points = [-1.0, -0.25, 0.0, 0.75, H - 1.0, H - 0.5, float(H), H + 0.5, -1.5]
    rois = np.concatenate([_single_sample_roi(p, q) for p in points
                           for q in (-1.0, 0.0, W - 1.0, float(W), 2.5)])
    np.testing.assert_allclose(F.roi_align(x, rois, 1, sampling_ratio=1).numpy(),
                               roi_align_ref(x, rois, 1, sampling_ratio=1), rtol=0, atol=1e-14)


@pytest.mark.parametrize("h, w", [(1, 1), (4, 6), (7, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_roi_align_identity(h, w, dtype, xp):
    # aligned=True, a box covering the map, output H x W, one sample per bin: the samples sit
    # on the cell centres, so the input comes back exactly.
    x = xp.asarray(_x(8, dtype, shape=(3, 2, h, w)))
    rois = xp.asarray(np.array([[b, 0, 0, w, h] for b in (2, 0, 1)], dtype=dtype))
    expected = Tensor(x).numpy()[[2, 0, 1]]
    y = F.roi_align(x, rois, (h, w), 1.0, 1, aligned=True)
    np.testing.assert_array_equal(y.numpy(), expected)
    # the same at a spatial scale: image coordinates are 8x the map's
    scaled = rois.copy()
    scaled[:, 1:] *= 8
    y = F.roi_align(x, scaled, (h, w), 1 / 8, 1, aligned=True)
    np.testing.assert_array_equal(y.numpy(), expected)


def test_aligned_false_clamps_small_rois_to_one_cell():
    x = _x(9, shape=(1, 1, 5, 5))
    tiny = F.roi_align(x, np.array([[0, 2.0, 2.0, 2.2, 2.1]]), 1, sampling_ratio=1).numpy()
    # size clamped to 1: the sample sits at start + 0.5 = (2.5, 2.5)
    np.testing.assert_allclose(tiny[0, 0, 0, 0], x[0, 0, 2:4, 2:4].mean(), atol=1e-15)
    reversed_ = F.roi_align(x, np.array([[0, 3.0, 3.0, 1.0, 1.0]]), 2, aligned=True)
    assert np.array_equal(reversed_.numpy(), np.zeros((1, 1, 2, 2)))   # no samples: 0


def test_roi_pool_rounds_half_away_from_zero():
    assert [round_half_away(v) for v in (2.5, -2.5, 0.5, 1.49999, -0.5)] == [3, -3, 1, 1, -1]
    x = np.arange(36.0).reshape(1, 1, 6, 6)
    # 0.5 -> 1 and 2.5 -> 3 (NumPy's round would give 0 and 2): cells 1..3
    y = F.roi_pool(x, np.array([[0, 0.5, 0.5, 2.5, 2.5]]), 1).numpy()
    assert y[0, 0, 0, 0] == x[0, 0, 3, 3]
    v = np.array([0.49999997, 2.5, -2.5, 3.4999998], dtype=np.float32)
    np.testing.assert_array_equal(roi._round_half_away(v), [0, 3, -3, 3])


def test_roi_pool_first_maximum_wins_and_gradient_goes_there():
    # Integer values: many ties in every bin. The gradient of sum(y) counts, per cell, the bins
    # that chose it -- it must match the reference's argmax (first maximum in row-major order).
    rng = np.random.default_rng(10)
    x = np.round(rng.standard_normal((2, 3, 7, 8)))
    rois = np.concatenate([_boxes(1.0)[:, :1] % 2, _boxes(1.0)[:, 1:]], 1)
    t = Tensor(x, requires_grad=True)
    y = F.roi_pool(t, rois, (3, 4))
    y_ref, argmax = roi_pool_ref(x, rois, (3, 4))
    np.testing.assert_array_equal(y.numpy(), y_ref)
    y.sum().backward()
    expected = np.zeros(x.size)
    for (k, c, p, q), cell in np.ndenumerate(argmax):
        if cell >= 0:
            expected[(int(rois[k, 0]) * 3 + c) * 56 + cell] += 1
    np.testing.assert_array_equal(t.grad.reshape(-1), expected)


def test_roi_pool_float64_and_float32_paths_agree():
    # float32 packs (value, cell) into one int64; float64 keeps the pair: same choices
    rng = np.random.default_rng(11)
    x = np.round(rng.standard_normal((2, 2, 9, 9)) * 2).astype(np.float32)
    rois = np.concatenate([_boxes(1.0)[:, :1] % 2, _boxes(1.0)[:, 1:] * 1.3], 1)
    grads = []
    for dtype in (np.float32, np.float64):
        t = Tensor(x.astype(dtype), requires_grad=True)
        F.roi_pool(t, rois.astype(dtype), (3, 2)).backward(np.ones((len(rois), 2, 3, 2), dtype))
        grads.append(t.grad.astype(np.float64))
    np.testing.assert_array_equal(grads[0], grads[1])


def test_roi_pool_special_values_follow_torchvision():
    x = np.zeros((1, 2, 4, 4))
    x[0, 0] = -np.inf                                    # nothing above -FLT_MAX
    x[0, 1] = 1.0
    x[0, 1, 0, 0] = np.nan                               # a NaN is never chosen
    x[0, 1, 1, 1] = -0.5
    t = Tensor(x, requires_grad=True)
    y = F.roi_pool(t, np.array([[0, 0, 0, 1, 1]]), 1)
    np.testing.assert_array_equal(y.numpy()[0, :, 0, 0], [-FLT_MAX, 1.0])
    np.testing.assert_array_equal(y.numpy(), roi_pool_ref(x, np.array([[0, 0, 0, 1, 1]]), 1)[0])
    y.sum().backward()
    expected = np.zeros_like(x)
    expected[0, 1, 0, 1] = 1                             # first 1.0 after the NaN
    np.testing.assert_array_equal(t.grad, expected)      # no gradient from the -inf bin
    for dtype in (np.float32, np.float64):               # -0.0 and 0.0 tie: the first wins
        z = np.zeros((1, 1, 1, 2), dtype=dtype)
        z[0, 0, 0, 1] = -0.0
        tz = Tensor(z, requires_grad=True)
        F.roi_pool(tz, np.array([[0, 0, 0, 1, 0]], dtype=dtype), 1).sum().backward()
        np.testing.assert_array_equal(tz.grad, [[[[1.0, 0.0]]]])


def test_roi_align_nan_features_stay_local():
    x = _x(12, shape=(1, 1, 8, 8))
    x[0, 0, 6, 6] = np.nan
    rois = np.array([[0, 0, 0, 3, 3], [0, 4, 4, 8, 8], [0, 5.5, 0, 8, 2]])
    y = F.roi_align(x, rois, 2, sampling_ratio=2).numpy()
    assert np.isnan(y[1]).any() and not np.isnan(y[[0, 2]]).any()
    np.testing.assert_allclose(y[[0, 2]], roi_align_ref(x, rois, 2, sampling_ratio=2)[[0, 2]],
                               atol=1e-12)
    x[0, 0, 6, 6] = np.inf
    y = F.roi_align(x, rois, 2, sampling_ratio=2).numpy()
    assert not np.isfinite(y[1]).all() and np.isfinite(y[[0, 2]]).all()


# ---------------------------------------------------------------------------------------------
# rois as a list of boxes, and the box gradient
# ---------------------------------------------------------------------------------------------
def test_list_of_boxes_equals_k5_rois(xp):
    x = xp.asarray(_x(13))
    boxes0, boxes1 = _boxes(1.0)[:4, 1:], _boxes(1.0)[4:9, 1:]
    k5 = np.concatenate([np.c_[np.zeros(4), boxes0], np.c_[np.ones(5), boxes1]])
    for op in (F.roi_pool, F.roi_align):
        as_list = op(x, [xp.asarray(boxes0), Tensor(xp.asarray(boxes1))], 3).numpy()
        np.testing.assert_array_equal(as_list, op(x, xp.asarray(k5), 3).numpy())
    # an image without boxes keeps its place in the list
    y = F.roi_align(x, [xp.zeros((0, 4)), xp.asarray(boxes0)], 2).numpy()
    np.testing.assert_array_equal(
        y, F.roi_align(x, xp.asarray(np.c_[np.ones(4), boxes0]), 2).numpy())


def _smooth_boxes(output_size=(2, 3), scale=0.5, sampling_ratio=2, aligned=True):
    drawn = np.array([[0.7, 1.1, 9.3, 8.2], [3.1, -1.2, 11.7, 6.4], [2.2, 2.9, 2.2, 7.1]])
    return kink_free_boxes(drawn, (H, W), output_size, scale, sampling_ratio, aligned)


@pytest.mark.parametrize("aligned", [False, True])
def test_box_gradient_passes_gradcheck(aligned):
    x = _x(14, shape=(2, 2, H, W))
    boxes_a = _smooth_boxes(aligned=aligned)
    boxes_b = _smooth_boxes(aligned=aligned)[:2] + 0.37 * 2     # two images
    boxes_b = kink_free_boxes(boxes_b, (H, W), (2, 3), 0.5, 2, aligned)

    def fn(t, a, b):
        return F.roi_align(t, [a, b], (2, 3), 0.5, 2, aligned)

    gradcheck(fn, [x, boxes_a, boxes_b])


def test_box_gradient_of_k5_tensor_matches_list_and_skips_batch_index():
    x = _x(15)
    boxes = _smooth_boxes()
    t_list = Tensor(boxes, requires_grad=True)
    F.roi_align(x, [t_list], (2, 3), 0.5, 2, True).sum().backward()
    t_k5 = Tensor(np.c_[np.zeros(3), boxes], requires_grad=True)
    F.roi_align(x, t_k5, (2, 3), 0.5, 2, True).sum().backward()
    np.testing.assert_allclose(t_k5.grad[:, 1:], t_list.grad, atol=1e-12)
    np.testing.assert_array_equal(t_k5.grad[:, 0], 0)
    assert np.abs(t_list.grad).min() > 0


def test_box_gradient_is_zero_while_clamped_and_for_boxes_outside():
    x = _x(16, shape=(1, 1, 5, 5))
    boxes = Tensor(np.array([[1.2, 1.3, 1.5, 1.4],             # clamped: only x1, y1 move it
                             [20.0, 20.0, 24.0, 23.0]]), requires_grad=True)   # outside
    F.roi_align(x, [boxes], 1, sampling_ratio=1).sum().backward()
    assert boxes.grad[0, 0] != 0 and boxes.grad[0, 1] != 0
    np.testing.assert_array_equal(boxes.grad[0, 2:], 0)
    np.testing.assert_array_equal(boxes.grad[1], 0)


def test_kink_free_boxes_keep_samples_off_integers():
    boxes = np.array([[0.0, 0.0, 4.0, 4.0], [1.0, 1.0, 1.0, 1.0]])   # samples on integers
    moved = kink_free_boxes(boxes, (5, 5), (2, 2), 1.0, 2, False)
    for first, second in ((1, 3), (0, 2)):
        pos = sample_positions(moved[:, first], moved[:, second], 2, 1.0, 2, False)
        assert (np.abs(pos - np.round(pos)) >= 1e-3).all()
    assert not np.isclose((moved[1, 2] - moved[1, 0]), 1.0, atol=1e-3)


def test_rois_alone_requiring_grad():
    x = _x(22)
    boxes = Tensor(np.c_[np.zeros(3), _smooth_boxes()], requires_grad=True)
    F.roi_pool(x, boxes, 2, 0.5).sum().backward()         # roi_pool: no gradient for rois
    assert boxes.grad is None
    F.roi_align(x, boxes, (2, 3), 0.5, 2, True).sum().backward()
    assert boxes.grad.shape == (3, 5) and np.abs(boxes.grad[:, 1:]).min() > 0


def test_dtypes_are_preserved():
    x = Tensor(_x(23, np.float32), requires_grad=True)
    boxes = Tensor(_smooth_boxes().astype(np.float32), requires_grad=True)
    for op in (lambda t, b: F.roi_align(t, [b], 3, 0.5, 2), lambda t, b: F.roi_pool(t, [b], 3)):
        y = op(x, boxes)
        assert y.dtype == np.float32
        y.sum().backward()
        assert x.grad.dtype == np.float32
    assert boxes.grad.dtype == np.float32
    boxes64 = Tensor(_smooth_boxes(), requires_grad=True)        # float64 boxes, float32 map
    F.roi_align(x, [boxes64], 3, 0.5, 2).sum().backward()
    assert boxes64.grad.dtype == np.float64
    np.testing.assert_allclose(boxes64.grad, boxes.grad, rtol=1e-3, atol=1e-4)


# ---------------------------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------------------------
def _gradients(op, xp):
    rng = np.random.default_rng(17)
    x = rng.standard_normal((2, 8, 12, 12)).astype(np.float32)
    boxes = [rng.uniform(0, 200, (40, 2)) for _ in range(2)]
    boxes = [np.c_[b, b + rng.uniform(10, 100, (40, 2))].astype(np.float32) for b in boxes]
    t = Tensor(xp.asarray(x), requires_grad=True)
    tb = [Tensor(xp.asarray(b), requires_grad=True) for b in boxes]
    y = op(t, tb)
    y.backward(xp.asarray(rng.standard_normal(y.shape).astype(np.float32)))
    return [Tensor(g).numpy() for g in [t.grad] + [b.grad for b in tb if b.grad is not None]]


@pytest.mark.parametrize("op", [
    lambda t, b: F.roi_align(t, b, 7, 1 / 16, 2, True),
    lambda t, b: F.roi_pool(t, b, 7, 1 / 16)], ids=["roi_align", "roi_pool"])
def test_backward_gives_the_same_bits_every_run(op, xp, monkeypatch):
    for device in ("cpu", "gpu"):                            # several chunks per image
        monkeypatch.setitem(roi._CHUNK_ELEMENTS, device, 2**14)
    first, second = _gradients(op, xp), _gradients(op, xp)
    assert len(first) == len(second) >= 1
    for a, b in zip(first, second):
        assert a.tobytes() == b.tobytes()


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["roi_pool", "roi_align"])
def test_errors_name_the_op_and_the_offending_value(op):
    f = getattr(F, op)
    x = _x()
    good = np.array([[0, 1, 1, 3, 3]], dtype=np.float64)
    with pytest.raises(ValueError, match=rf"{op}: rois must have shape \(K, 5\).*got shape "
                                         r"\(3, 4\)"):
        f(x, np.zeros((3, 4)), 2)
    with pytest.raises(ValueError, match=rf"{op}: rois must have shape \(K, 5\).*\(5,\)"):
        f(x, np.zeros(5), 2)
    with pytest.raises(ValueError, match=rf"{op}: rois given as a list .* entry 1 has shape "
                                         r"\(2, 5\)"):
        f(x, [np.zeros((1, 4)), np.zeros((2, 5))], 2)
    with pytest.raises(IndexError, match=rf"{op}: rois row 1 has batch index 2, but x holds 2 "
                                         r"image\(s\) \(valid: 0 to 1\)"):
        f(x, np.array([[0, 1, 1, 3, 3], [2, 1, 1, 3, 3]]), 2)
    with pytest.raises(IndexError, match=rf"{op}: rois row 0 has batch index -1"):
        f(x, np.array([[-1, 1, 1, 3, 3]]), 2)
    with pytest.raises(IndexError, match=rf"{op}: rois row 2 has batch index 2, but x holds 2"):
        f(x, [np.zeros((1, 4))] * 3, 2)                          # 3 images for N = 2
    with pytest.raises(ValueError, match=rf"{op}: rois row 0 has batch index 0.5, which is not "
                                         "a whole number"):
        f(x, np.array([[0.5, 1, 1, 3, 3]]), 2)
    for bad in (np.nan, np.inf, -np.inf):
        rois = np.array([[0, 1, 1, 3, 3], [1, 1, bad, 3, 3]])
        with pytest.raises(ValueError, match=rf"{op}: rois row 1 is \[1.0, 1.0, {bad}, 3.0, "
                                             r"3.0\]; .* must be finite"):
            f(x, rois, 2)
    with pytest.raises(ValueError, match=rf"{op}: x must be 4-D \(N, C, H, W\), got shape "
                                         r"\(2, 6, 7\)"):
        f(x[0], good, 2)
    with pytest.raises(TypeError, match=rf"{op}: x must be a floating-point"):
        f(x.astype(np.int64), good, 2)
    with pytest.raises(ValueError, match=rf"{op}: x of shape \(2, 2, 0, 7\) has an empty "):
        f(np.zeros((2, 2, 0, 7)), good, 2)
    for size in (0, (2, 0), -3):
        with pytest.raises(ValueError, match=rf"{op}: output_size must be at least 1, got "):
            f(x, good, size)
    for size in (2.5, (1, 2, 3), True, "7"):
        with pytest.raises(TypeError, match=rf"{op}: output_size must be an int or a pair"):
            f(x, good, size)
    for scale in (0, -0.5, np.nan, np.inf):
        with pytest.raises(ValueError, match=rf"{op}: spatial_scale must be positive and "
                                             rf"finite, got {scale}"):
            f(x, good, 2, scale)
    with pytest.raises(TypeError, match=rf"{op}: spatial_scale must be a number"):
        f(x, good, 2, "1/16")
    with pytest.raises(TypeError, match=rf"{op}: rois must be numbers, got dtype bool"):
        f(x, np.zeros((1, 5), dtype=bool), 2)
    with pytest.raises(TypeError, match=rf"{op}: rois must be a \(K, 5\) Tensor or array"):
        f(x, "boxes", 2)


def test_roi_align_specific_errors():
    x, good = _x(), np.array([[0, 1, 1, 3, 3]])
    for ratio in (1.5, True, None):
        with pytest.raises(TypeError, match=r"roi_align: sampling_ratio must be an int, got "):
            F.roi_align(x, good, 2, sampling_ratio=ratio)
    huge = np.array([[0, 0, 0, 1e12, 1e12]])
    with pytest.raises(ValueError, match=r"roi_align: the sampling grid needs .*rois row 0 "
                                         r"spans 1e\+12 feature cells"):
        F.roi_align(x, huge, 2)
    assert F.roi_align(x, huge, 2, sampling_ratio=2).shape == (1, C, 2, 2)   # fine when fixed
    assert F.roi_pool(x, huge, 2).shape == (1, C, 2, 2)                     # never a crash


@pytest.mark.parametrize("op", ["roi_pool", "roi_align"])
def test_coordinates_overflowing_the_dtype_are_refused(op):
    rois = np.array([[0, 0, 0, 1e38, 2.0]])
    with pytest.raises(ValueError, match=rf"{op}: rois row 0 is \[0.0, 0.0, 0.0, 1e\+38, 2.0\]; "
                                         r"times spatial_scale=16 .* overflow float32"):
        getattr(F, op)(_x(dtype=np.float32), rois, 2, 16.0, **(
            {"sampling_ratio": 2} if op == "roi_align" else {}))
    y = getattr(F, op)(_x(), rois, 2, 16.0, **({"sampling_ratio": 2} if op == "roi_align" else {}))
    assert np.isfinite(y.numpy()).all()                      # float64 holds them


# ---------------------------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------------------------
def test_layers_reprs_match_torchvision():
    assert repr(nn.RoIPool(7, 1 / 16)) == "RoIPool(output_size=7, spatial_scale=0.0625)"
    assert repr(nn.RoIAlign((7, 7), 0.0625, 2)) == (
        "RoIAlign(output_size=(7, 7), spatial_scale=0.0625, sampling_ratio=2, aligned=False)")
    assert repr(nn.RoIAlign(14, 0.5, -1, aligned=True)) == (
        "RoIAlign(output_size=14, spatial_scale=0.5, sampling_ratio=-1, aligned=True)")


def test_layers_call_the_ops_and_check_arguments_early():
    x, rois = _x(18), _boxes(0.5)
    np.testing.assert_array_equal(nn.RoIPool((5, 7), 0.5)(x, rois).numpy(),
                                  F.roi_pool(x, rois, (5, 7), 0.5).numpy())
    np.testing.assert_array_equal(nn.RoIAlign(3, 0.5, 2, True)(x, rois).numpy(),
                                  F.roi_align(x, rois, 3, 0.5, 2, True).numpy())
    assert list(nn.RoIAlign(3, 0.5, 2).parameters()) == []
    with pytest.raises(ValueError, match="RoIPool: output_size must be at least 1"):
        nn.RoIPool(0, 1.0)
    with pytest.raises(ValueError, match="RoIAlign: spatial_scale must be positive"):
        nn.RoIAlign(7, 0.0, 2)
    with pytest.raises(TypeError, match="RoIAlign: sampling_ratio must be an int"):
        nn.RoIAlign(7, 1.0, 2.0)


# ---------------------------------------------------------------------------------------------
# Gradient checks, and that they catch wrong backwards
# ---------------------------------------------------------------------------------------------
def test_gradcheck_cases_are_registered():
    assert {"roi_pool", "roi_align", "roi_align_boxes"} <= set(checks.CASES)


def _overlapping_rois():
    # three rois on the same cells of image 1, one on image 0: their gradients must add up
    return np.array([[1, 0.5, 0.5, 5.5, 4.5], [1, 1.0, 0.7, 5.2, 4.9], [1, 0.5, 0.5, 5.5, 4.5],
                     [0, 2.0, 1.0, 6.0, 5.0]])


def test_gradcheck_catches_a_roi_align_backward_that_overwrites(monkeypatch):
    x, rois = _x(19), _overlapping_rois()

    def align(t):
        return F.roi_align(t, rois, (2, 3), 1.0, 2)

    gradcheck(align, [x])
    real = roi._align_backward

    def overwriting(gy, wy, wx, chunks, x_shape, x_last=None, features=True):
        # the classic bug of a scatter without atomics: the last roi to write a cell wins
        gx = None
        for chunk in chunks:
            g, _, _ = real(gy, wy, wx, [chunk], x_shape, None, features)
            gx = g if gx is None else np.where(g != 0, g, gx)
        return gx, None, None

    monkeypatch.setitem(roi._CHUNK_ELEMENTS, "cpu", 1)           # one roi per chunk
    monkeypatch.setattr(roi, "_align_backward", overwriting)
    with pytest.raises(GradcheckError, match="gradcheck failed for input 0"):
        gradcheck(align, [x])


def test_gradcheck_catches_a_roi_pool_backward_that_overwrites(monkeypatch):
    x = np.random.default_rng(20).permutation(2 * 2 * H * W).reshape(2, 2, H, W) * 0.1
    rois = _overlapping_rois()

    def pool(t):
        return F.roi_pool(t, rois, 2)

    gradcheck(pool, [x])

    def overwriting(self, gy):
        s = self.saved
        n, c, h, w = s.shape
        plane = (s.batch[:, None] * c + np.arange(c))[:, :, None, None]
        sent = s.won >= 0
        gx = np.zeros(n * c * h * w)
        gx[(plane * h * w + s.won)[sent]] = gy[sent]             # a write, not a sum
        return gx.reshape(n, c, h, w), None

    monkeypatch.setattr(roi.RoIPooling, "backward", overwriting)
    with pytest.raises(GradcheckError):
        gradcheck(pool, [x])


def test_gradcheck_catches_swapped_box_derivatives(monkeypatch):
    x, boxes = _x(21), _smooth_boxes(aligned=False)

    def align(t, b):
        return F.roi_align(t, [b], (2, 3), 0.5, 2, False)

    gradcheck(align, [x, boxes])
    real = roi.RoIAlignment.backward

    def swapped(self, gy):                 # dL/dx1 reported as dL/dx2 and so on
        gx, g_rois = real(self, gy)
        return gx, None if g_rois is None else g_rois[:, [0, 3, 4, 1, 2]]

    monkeypatch.setattr(roi.RoIAlignment, "backward", swapped)
    with pytest.raises(GradcheckError, match="gradcheck failed for input 1"):
        gradcheck(align, [x, boxes])
