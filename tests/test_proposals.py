"""minicv.proposals: Felzenszwalb segmentation against a plain loop, selective search on images
whose answer is known, hierarchy invariants, sliding-window counts, recall golden cases, the
``minicv proposals`` command, and every error message."""
import colorsys
import importlib
import json
import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import ndimage

from minicv.ops import box_iou

import minicv.proposals.cli  # noqa: F401  (registers ``minicv proposals``)
from minicv import cli
from minicv.proposals import (Strategy, convert_colour, count_windows, default_sizes,
                              evaluate_proposals, felzenszwalb, hierarchical_grouping,
                              proposal_recall, propose, region_features, selective_search,
                              sliding_windows, strategies_for)

# felzenszwalb and selective_search (the functions) shadow their modules in minicv.proposals
fz = importlib.import_module("minicv.proposals.felzenszwalb")
ss = importlib.import_module("minicv.proposals.selective_search")


# ---------------------------------------------------------------------------------------------
# Slow references
# ---------------------------------------------------------------------------------------------
def neighbour_edges_loop(height, width):
    """8-neighbour edges in grid_edges' documented order: right, down, down-right, down-left,
    each in raster order of its first pixel."""
    edges = []
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        for y in range(height):
            for x in range(width):
                if 0 <= y + dy < height and 0 <= x + dx < width:
                    edges.append((y * width + x, (y + dy) * width + x + dx))
    return edges


def felzenszwalb_loop(image, k, sigma, min_size):
    """The paper's algorithm as its C++ code does it: one union-find loop over the sorted edges,
    then the min_size loop over the same order (weights rounded as minicv's, in 1/128 grey)."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = image[:, :, None]
    if sigma > 0:
        image = ndimage.gaussian_filter(image, sigma=(sigma, sigma, 0), mode="nearest",
                                        truncate=4.0)
    height, width = image.shape[:2]
    flat = image.reshape(height * width, -1)
    edges = neighbour_edges_loop(height, width)
    weights = [int(np.rint(np.sqrt(((flat[p] - flat[q]) ** 2).sum()) * 128)) for p, q in edges]
    order = sorted(range(len(edges)), key=lambda e: weights[e])          # stable: ties in order
    parent = list(range(height * width))
    size = [1] * (height * width)
    threshold = [k * 128.0] * (height * width)

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for e in order:
        a, b, w = find(edges[e][0]), find(edges[e][1]), weights[e]
        if a != b and w <= threshold[a] and w <= threshold[b]:
            parent[b] = a
            size[a] += size[b]
            threshold[a] = w + k * 128.0 / size[a]
    for e in order:
        a, b = find(edges[e][0]), find(edges[e][1])
        if a != b and (size[a] < min_size or size[b] < min_size):
            parent[b] = a
            size[a] += size[b]
    return np.array([find(p) for p in range(height * width)]).reshape(height, width)


def same_partition(labels1, labels2):
    """True when two label images group the pixels identically (names aside)."""
    pairs = set(zip(labels1.ravel().tolist(), labels2.ravel().tolist()))
    return len(pairs) == len(np.unique(labels1)) == len(np.unique(labels2))


def blocky_image(seed, height, width, levels=3, block=3, channels=3):
    """Few distinct colours in blocks plus a little noise: flat regions, many equal weights."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, levels, (height // block + 1, width // block + 1, channels))
    image = np.repeat(np.repeat(coarse, block, 0), block, 1)[:height, :width] * 60.0
    return image + rng.integers(0, 3, image.shape) * (seed % 2)


# ---------------------------------------------------------------------------------------------
# Felzenszwalb
# ---------------------------------------------------------------------------------------------
def test_grid_edges_count_and_order():
    src, dst = fz.grid_edges(4, 5)
    assert len(src) == 4 * 4 * 5 - 3 * (4 + 5) + 2 == 55
    assert list(zip(src.tolist(), dst.tolist())) == neighbour_edges_loop(4, 5)


@pytest.mark.parametrize("seed, shape, k, sigma, min_size", [
    (0, (6, 7), 50, 0.0, 1), (1, (9, 8), 20, 0.8, 1), (2, (8, 11), 300, 0.8, 5),
    (3, (12, 10), 5, 0.0, 4), (4, (7, 13), 0, 0.8, 0), (5, (10, 10), 100, 0.5, 12),
    (6, (11, 9), 1000, 0.0, 2), (7, (1, 12), 30, 0.0, 3)])
def test_felzenszwalb_same_partition_as_the_plain_loop(seed, shape, k, sigma, min_size):
    image = blocky_image(seed, *shape)
    expected = felzenszwalb_loop(image, k, sigma, min_size)
    got = felzenszwalb(image, k=k, sigma=sigma, min_size=min_size)
    assert got.shape == shape and got.dtype == np.int64
    assert same_partition(got, expected)


@given(seed=st.integers(0, 10_000), k=st.sampled_from([0, 3, 30, 200]),
       min_size=st.integers(0, 8), channels=st.sampled_from([1, 3]))
def test_felzenszwalb_random_images_match_the_loop(seed, k, min_size, channels):
    image = np.random.default_rng(seed).integers(0, 256, (7, 9, channels)).astype(np.uint8)
    assert same_partition(felzenszwalb(image, k=k, sigma=0.8, min_size=min_size),
                          felzenszwalb_loop(image, k, 0.8, min_size))


@pytest.mark.parametrize("kind", ["threshold", "min_size"])
@pytest.mark.parametrize("window, slow_round, growth_steps", [
    (16, 0.0, 8), (64, 0.5, 8), (1000, 0.1, 8), (8, 1.0, 8), (256, 0.0, 1), (64, 0.0, 2)])
def test_merge_in_order_rounds_and_loop_agree_with_the_plain_loop(kind, window, slow_round,
                                                                  growth_steps, monkeypatch):
    """The vectorised rounds (small windows, so there are many; slow_round 1 sends every
    window to the Python loop, 0 never; one or two growth steps cut rounds short) on a random
    graph with many ties, for both passes."""
    monkeypatch.setattr(fz, "MIN_WINDOW", 8)
    monkeypatch.setattr(fz, "GROWTH_STEPS", growth_steps)
    rng = np.random.default_rng(window)
    n, m = 300, 1500
    a, b = rng.integers(0, n, m), rng.integers(0, n, m)
    w = np.sort(rng.integers(0, 40, m))
    k_steps, min_size = 25.0, 6
    forest = fz._Forest(n, k_steps)
    if kind == "min_size":                           # start from a threshold pass's components
        fz._merge_in_order(a[:300], b[:300], w[:300], forest, fz._Rule("threshold"))
    start_parent, start_size = forest.parent.copy(), forest.size.copy()
    fz._merge_in_order(a, b, w, forest, fz._Rule(kind, min_size), window=window,
                       slow_round=slow_round)

    parent, size = start_parent.tolist(), start_size.tolist()
    threshold = [k_steps] * n if kind == "threshold" else None

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x
    for x, y, weight in zip(a.tolist(), b.tolist(), w.tolist()):
        x, y = find(x), find(y)
        if x == y:
            continue
        if kind == "threshold" and weight <= threshold[x] and weight <= threshold[y]:
            parent[y] = x
            size[x] += size[y]
            threshold[x] = weight + k_steps / size[x]
        elif kind == "min_size" and (size[x] < min_size or size[y] < min_size):
            parent[y] = x
            size[x] += size[y]
    expected = np.array([find(p) for p in range(n)])
    assert same_partition(forest.labels(), expected)


def test_felzenszwalb_labels_are_numbered_in_raster_order_and_split_flat_halves():
    image = np.zeros((5, 8, 3), dtype=np.uint8)
    image[:, 5:] = 255
    image[3:, :2] = 128
    labels = felzenszwalb(image, k=1, sigma=0, min_size=1)
    expected = np.array([[0] * 5 + [1] * 3] * 3 + [[2, 2, 0, 0, 0, 1, 1, 1]] * 2)
    np.testing.assert_array_equal(labels, expected)
    np.testing.assert_array_equal(felzenszwalb(image[..., 0], k=1, sigma=0, min_size=1),
                                  expected)                        # (H, W) works too
    # k = 0 merges only equal pixels; min_size 5 then joins the 4 grey pixels to their
    # lightest neighbour (black: 128 sqrt(3) away, white is not adjacent)
    labels = felzenszwalb(image, k=0, sigma=0, min_size=5)
    np.testing.assert_array_equal(labels, np.where(expected == 2, 0, expected))


def test_felzenszwalb_larger_k_gives_fewer_regions():
    image = blocky_image(11, 30, 40, levels=6, block=2)
    counts = [felzenszwalb(image, k=k, min_size=1).max() + 1 for k in (10, 100, 1000)]
    assert counts[0] > counts[1] > counts[2] >= 1


@pytest.mark.parametrize("call, error, message", [
    (lambda: felzenszwalb(np.zeros((2, 3, 4, 5))), ValueError,
     "felzenszwalb: image must have shape (H, W) or (H, W, C) with H, W >= 1, got (2, 3, 4, 5)"),
    (lambda: felzenszwalb(np.zeros((0, 3, 3))), ValueError,
     "felzenszwalb: image must have shape (H, W) or (H, W, C) with H, W >= 1, got (0, 3, 3)"),
    (lambda: felzenszwalb(np.array([["a"]])), TypeError,
     "felzenszwalb: image must hold numbers, got dtype <U1"),
    (lambda: felzenszwalb(np.zeros((4, 4)), k=-1), ValueError,
     "felzenszwalb: k must be a finite number >= 0, got -1"),
    (lambda: felzenszwalb(np.zeros((4, 4)), sigma=float("nan")), ValueError,
     "felzenszwalb: sigma must be a finite number >= 0, got nan"),
    (lambda: felzenszwalb(np.zeros((4, 4)), min_size=2.5), ValueError,
     "felzenszwalb: min_size must be an integer >= 0, got 2.5"),
    (lambda: felzenszwalb(np.eye(3) * 600, sigma=0), ValueError,
     "felzenszwalb: neighbouring pixels differ by up to 600.0, above the 511.99 the 16-bit edge "
     "weights hold: give values on a 0..255 scale, at most 4 channels"),
])
def test_felzenszwalb_bad_inputs(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


# ---------------------------------------------------------------------------------------------
# Colour spaces and region features
# ---------------------------------------------------------------------------------------------
def test_convert_colour_against_colorsys_and_known_lab_values():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (4, 5, 3)).astype(np.uint8)
    hsv = convert_colour(image, "hsv")
    expected = [colorsys.rgb_to_hsv(*(image[y, x] / 255)) for y in range(4) for x in range(5)]
    np.testing.assert_allclose(hsv.reshape(-1, 3), np.array(expected) * 255, atol=1e-3)
    lab = convert_colour(np.array([[[255, 255, 255], [255, 0, 0], [0, 0, 0]]], np.uint8), "lab")
    # white L=100 a=b=0; red (53.24, 80.09, 67.20); black L=0 -- then L*2.55, a+128, b+128
    np.testing.assert_allclose(lab[0], [[255, 128, 128], [135.76, 208.09, 195.20],
                                        [0, 128, 128]], atol=0.05)
    rgi = convert_colour(np.array([[[30, 60, 90]]], np.uint8), "rgi")
    np.testing.assert_allclose(rgi[0, 0], [255 / 6, 255 / 3, 60], rtol=1e-6)
    assert convert_colour(image, "h").shape == convert_colour(image, "i").shape == (4, 5, 1)
    assert convert_colour(image, "rgb").dtype == np.float32


def test_region_features_against_loops():
    rng = np.random.default_rng(1)
    image = rng.uniform(0, 255, (9, 11, 3)).astype(np.float32)
    labels = np.repeat(np.repeat(np.array([[0, 1, 1], [2, 2, 1]]), 5, 0), 4, 1)[:9, :11]
    f = region_features(image, labels)
    assert f.colour.shape == (3, 75) and f.texture.shape == (3, 240)
    np.testing.assert_allclose(f.colour.sum(1), 1, rtol=1e-6)
    np.testing.assert_allclose(f.texture.sum(1), 1, rtol=1e-6)
    np.testing.assert_array_equal(f.size, [np.sum(labels == r) for r in range(3)])
    for r in range(3):
        ys, xs = np.nonzero(labels == r)
        assert f.boxes[r].tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        counts = np.zeros(75)
        for y, x in zip(ys, xs):
            for c in range(3):
                counts[c * 25 + min(int(image[y, x, c] * 25 / 256), 24)] += 1
        np.testing.assert_allclose(f.colour[r], counts / counts.sum(), rtol=1e-6)
        # each (channel, orientation) histogram holds every pixel of the region once
        np.testing.assert_allclose(f.texture[r].reshape(24, 10).sum(1) * len(ys) * 24, len(ys),
                                   rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# Selective search
# ---------------------------------------------------------------------------------------------
RECTANGLES = [(4, 6, 20, 18), (30, 10, 52, 40), (8, 30, 24, 44), (40, 44, 60, 52)]


def rectangles_image():
    """Solid rectangles (x1, y1, x2, y2) in four colours on a flat grey background."""
    image = np.full((56, 64, 3), 90, dtype=np.uint8)
    colours = [(230, 30, 30), (30, 200, 40), (20, 40, 220), (240, 240, 60)]
    for (x1, y1, x2, y2), colour in zip(RECTANGLES, colours):
        image[y1:y2, x1:x2] = colour
    return image


@pytest.mark.parametrize("mode", ["single", "fast"])
def test_selective_search_finds_the_exact_box_of_each_rectangle(mode):
    boxes = selective_search(rectangles_image(), mode)
    assert boxes.dtype == np.float32 and boxes.shape[1] == 4
    found = {tuple(b) for b in boxes.tolist()}
    assert set(RECTANGLES) <= found
    assert (0, 0, 64, 56) in found                                 # the last merge: everything
    assert len(found) == len(boxes)                                # no duplicates


def test_hierarchy_invariants_on_a_textured_image():
    from minicv.data import SyntheticShapes
    image, _ = SyntheticShapes("val", image_size=48)[3]
    boxes, hierarchies = selective_search(image, "fast", return_hierarchies=True)
    assert len(hierarchies) == 8
    for h in hierarchies:
        r = h.n_initial
        assert len(h.children) == r - 1 and len(h.boxes) == 2 * r - 1
        kids = h.children
        assert np.all(kids < np.arange(r, 2 * r - 1)[:, None])      # children exist before
        assert len(np.unique(kids)) == kids.size                   # merged away at most once
        parent_boxes, a, b = h.boxes[r:], h.boxes[kids[:, 0]], h.boxes[kids[:, 1]]
        for child in (a, b):                                       # every box holds its children
            assert np.all(parent_boxes[:, :2] <= child[:, :2])
            assert np.all(parent_boxes[:, 2:] >= child[:, 2:])
        np.testing.assert_array_equal(parent_boxes[:, :2], np.minimum(a[:, :2], b[:, :2]))
        np.testing.assert_array_equal(h.size[r:], h.size[kids[:, 0]] + h.size[kids[:, 1]])
        assert h.size[-1] == 48 * 48 and h.boxes[-1].tolist() == [0, 0, 48, 48]
    every = np.unique(np.concatenate([h.boxes for h in hierarchies]), axis=0)
    assert len(boxes) == len(every)                                # pooled, duplicates removed


def test_ranking_is_seeded_and_only_reorders():
    image = rectangles_image()
    a, b = selective_search(image, "fast", seed=0), selective_search(image, "fast", seed=0)
    c = selective_search(image, "fast", seed=1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(np.unique(a, axis=0), np.unique(c, axis=0))


def test_hierarchical_grouping_merges_by_the_chosen_similarity():
    labels = np.array([[0, 0, 1, 1, 2],
                       [0, 0, 1, 1, 2],
                       [3, 3, 3, 3, 2]])
    image = np.zeros((3, 5, 3), dtype=np.float32)
    image[:, :, 0][labels == 1] = 250                 # region 1 red, all else black
    features = region_features(image, labels)
    h = hierarchical_grouping(features, labels, "c")
    # colour alone: the three black regions first (0, 2, 3 in id order), red last
    assert h.children.tolist()[-1][1] == 1 or h.children.tolist()[-1][0] == 1
    h = hierarchical_grouping(features, labels, "sf")
    assert h.children.tolist()[0] == [0, 1]           # they fill their box exactly
    np.testing.assert_allclose(h.similarity[0], (1 - 8 / 15) + 1, rtol=1e-6)


def test_strategies_of_the_modes():
    assert strategies_for("single") == (Strategy("hsv", 100, "ctsf"),)
    fast = strategies_for("fast")
    assert len(fast) == 8 and {s.colour_space for s in fast} == {"hsv", "lab"}
    assert len(strategies_for("quality")) == 80


@pytest.mark.parametrize("call, error, message", [
    (lambda: selective_search(np.zeros((8, 8), np.uint8)), ValueError,
     "selective_search: image must have shape (H, W, 3) (RGB), got (8, 8, 1)"),
    (lambda: selective_search(np.zeros((8, 8, 3), np.uint8), "best"), ValueError,
     "selective_search: mode must be one of 'single', 'fast', 'quality', got 'best'"),
    (lambda: selective_search(np.zeros((8, 8, 3), np.uint8), strategies=[]), ValueError,
     "selective_search: strategies must not be empty"),
    (lambda: selective_search(np.zeros((8, 8, 3), np.uint8), strategies=[("hsv", 1, "c")]),
     TypeError, "selective_search: strategies must be Strategy objects, got tuple"),
    (lambda: selective_search(np.zeros((8, 8, 3), np.uint8),
                              strategies=[Strategy("xyz", 50, "c")]), ValueError,
     "selective_search: colour_space must be one of 'rgb', 'hsv', 'lab', 'rgi', 'h', 'i', "
     "got 'xyz'"),
    (lambda: selective_search(np.zeros((8, 8, 3), np.uint8),
                              strategies=[Strategy("hsv", 0, "c")]), ValueError,
     "selective_search: k must be a number > 0, got 0"),
    (lambda: selective_search(np.zeros((8, 8, 3), np.uint8),
                              strategies=[Strategy("hsv", 50, "cc")]), ValueError,
     "selective_search: similarity must be a non-empty string of distinct letters from "
     "'ctsf' (colour, texture, size, fill), got 'cc'"),
    (lambda: convert_colour(np.zeros((2, 2, 3)), "yuv"), ValueError,
     "convert_colour: space must be one of 'rgb', 'hsv', 'lab', 'rgi', 'h', 'i', got 'yuv'"),
    (lambda: region_features(np.zeros((4, 4, 3)), np.zeros((4, 5), int)), ValueError,
     "region_features: labels must have the image's shape (4, 4), got (4, 5)"),
    (lambda: region_features(np.zeros((2, 2, 3)), np.array([[0, 2], [2, 0]])), ValueError,
     "region_features: labels must use every number 0..R-1 (R = 3), but some region is empty"),
    (lambda: region_features(np.zeros((2, 2, 3)), np.array([[0, -1], [1, 0]])), ValueError,
     "region_features: labels must be non-negative integers 0..R-1, got dtype int64 with "
     "minimum -1"),
    (lambda: hierarchical_grouping(region_features(np.zeros((2, 2, 3)), np.eye(2, dtype=int)),
                                   np.zeros((2, 2), int), "ct"), ValueError,
     "hierarchical_grouping: features describe 2 regions but labels has 1"),
])
def test_selective_search_bad_inputs(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


# ---------------------------------------------------------------------------------------------
# Sliding windows
# ---------------------------------------------------------------------------------------------
def count_formula(height, width, sizes, ratios, stride):
    total = 0
    for s in sizes:
        for r in ratios:
            w, h = s * math.sqrt(r), s / math.sqrt(r)
            if w <= width and h <= height:
                total += (math.floor((width - w) / (stride * w) + 1e-9) + 1) * \
                         (math.floor((height - h) / (stride * h) + 1e-9) + 1)
    return total


@pytest.mark.parametrize("shape, sizes, ratios, stride", [
    ((375, 500), None, (0.5, 1.0, 2.0), 0.125), ((64, 64), [8, 16, 64], (1.0,), 0.5),
    ((30, 100), [10, 40], (0.25, 4.0), 0.3), ((10, 10), [20], (1.0,), 0.5),
    ((48, 40), [12.5, 17.3], (0.7, 1.3), 1.0)])
def test_sliding_windows_count_is_the_formula(shape, sizes, ratios, stride):
    boxes = sliding_windows(shape, sizes, ratios, stride)
    expected = count_formula(*shape, sizes or default_sizes(shape), ratios, stride)
    assert len(boxes) == count_windows(shape, sizes, ratios, stride) == expected
    height, width = shape
    if len(boxes):
        assert boxes[:, 0].min() >= 0 and boxes[:, 1].min() >= 0
        assert boxes[:, 2].max() <= width + 1e-3 and boxes[:, 3].max() <= height + 1e-3
        side = np.sqrt((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))  # (N,)
        gap = np.abs(side[:, None] - np.array(sizes or default_sizes(shape))).min(axis=1)
        assert gap.max() < 1e-3                                    # every window has a size


def test_sliding_windows_baseline_is_about_100000_windows_and_centred():
    assert count_windows((375, 500)) == 104_063
    assert default_sizes((375, 500))[-1] == pytest.approx(24 * 2 ** 4)
    assert default_sizes((12, 20)) == (12.0,) and count_windows((12, 20)) == 6 + 8
    boxes = sliding_windows((11, 11), sizes=[4], aspect_ratios=[1], stride=0.75)
    # 3 windows per axis, steps of 3: they cover 10 of 11 pixels, margin 0.5 on both sides
    np.testing.assert_allclose(np.unique(boxes[:, 0]), [0.5, 3.5, 6.5])
    np.testing.assert_allclose(np.unique(boxes[:, 3]), [4.5, 7.5, 10.5])


@pytest.mark.parametrize("call, message", [
    (lambda: sliding_windows(100), "sliding_windows: image_size must be a pair (H, W), got 100"),
    (lambda: sliding_windows((0, 5)),
     "sliding_windows: image_size must be two integers >= 1, got (0, 5) (height 0)"),
    (lambda: sliding_windows((10, 10), sizes=[]),
     "sliding_windows: sizes must be a non-empty sequence of numbers > 0, got ()"),
    (lambda: sliding_windows((10, 10), aspect_ratios=[1, -2]),
     "sliding_windows: aspect_ratios must be a non-empty sequence of numbers > 0, got (1, -2)"),
    (lambda: sliding_windows((10, 10), stride=0),
     "sliding_windows: stride must be a fraction of the window in (0, 1], got 0"),
    (lambda: count_windows((10, 10), stride=1.5),
     "count_windows: stride must be a fraction of the window in (0, 1], got 1.5"),
])
def test_sliding_windows_bad_inputs(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


# ---------------------------------------------------------------------------------------------
# Recall
# ---------------------------------------------------------------------------------------------
def test_proposal_recall_golden():
    """Two images, three objects. Image 0: ranked proposals reach IoU 1/3, 1 for object A and
    0.64 (8x8 inside 10x10) for object B at proposal 3. Image 1: object C is met by IoU 0.5
    at proposal 1 and never better."""
    gt = [np.array([[0, 0, 10, 10], [20, 20, 30, 30]]), np.array([[0, 0, 4, 4]])]
    proposals = [np.array([[0, 0, 10, 30], [0, 0, 10, 10], [21, 21, 29, 29], [50, 50, 60, 60]]),
                 np.array([[0, 0, 4, 8]])]
    curve = proposal_recall(proposals, gt, num_proposals=[1, 2, 3, 10],
                            iou_thresholds=(0.5, 0.7), name="golden")
    np.testing.assert_array_equal(curve.num_proposals, [1, 2, 3, 10])
    np.testing.assert_allclose(curve.recall, [[1 / 3, 2 / 3, 1, 1], [0, 1 / 3, 1 / 3, 1 / 3]],
                               rtol=1e-12)
    np.testing.assert_allclose(curve.mean_best_overlap,
                               [(1 / 3 + 0 + 0.5) / 3, 1.5 / 3, 2.14 / 3, 2.14 / 3], rtol=1e-6)
    assert curve.recall_at(3, 0.5) == 1 and curve.num_objects == 3 and curve.num_images == 2
    assert curve.proposals_per_image == 2.5
    table = curve.table().splitlines()
    assert table[0] == "| proposals | recall@0.5 | recall@0.7 | mean best IoU |"
    assert table[3] == "| 2 | 0.667 | 0.333 | 0.500 |"
    assert json.loads(json.dumps(curve.to_dict()))["recall"][1][1] == pytest.approx(1 / 3)


def test_proposal_recall_default_budgets_and_empty_cases():
    curve = proposal_recall([np.zeros((0, 4)), np.array([[0, 0, 2, 2]] * 7)],
                            [np.array([[0, 0, 2, 2]]), np.zeros((0, 4))])
    np.testing.assert_array_equal(curve.num_proposals, [1, 2, 5, 7])
    np.testing.assert_array_equal(curve.recall, [[0, 0, 0, 0], [0, 0, 0, 0]])  # image 0: none
    assert np.isnan(proposal_recall([np.zeros((3, 4))], [np.zeros((0, 4))]).recall).all()


@given(seed=st.integers(0, 10_000), budgets=st.none() | st.lists(st.integers(1, 30), min_size=1,
                                                                     max_size=4))
def test_proposal_recall_against_a_loop(seed, budgets):
    rng = np.random.default_rng(seed)

    def random_boxes(n):
        corner = rng.uniform(0, 40, (n, 2))
        return np.concatenate([corner, corner + rng.uniform(2, 20, (n, 2))], axis=1)
    counts = rng.integers(0, 25, 3)
    proposals = [random_boxes(n) for n in counts]
    gt = [random_boxes(int(g)) for g in rng.integers(0, 4, 3)]
    curve = proposal_recall(proposals, gt, budgets, iou_thresholds=(0.3, 0.5))
    expected_budgets = sorted(set(budgets)) if budgets else \
        [n for n in (1, 2, 5, 10, 20) if n < counts.max()] + [max(int(counts.max()), 1)]
    assert curve.num_proposals.tolist() == expected_budgets
    for k, n in enumerate(expected_budgets):
        best = [max([iou_loop(g, p) for p in props[:n]], default=0.0)
                for props, boxes in zip(proposals, gt) for g in boxes]
        if best:
            assert curve.recall[0, k] == pytest.approx(np.mean(np.array(best) >= 0.3))
            assert curve.recall[1, k] == pytest.approx(np.mean(np.array(best) >= 0.5))
            assert curve.mean_best_overlap[k] == pytest.approx(np.mean(best), rel=1e-5)


def iou_loop(a, b):
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) -
                                                            max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


@pytest.mark.parametrize("call, message", [
    (lambda: proposal_recall([np.zeros((1, 4))], []),
     "proposal_recall: got proposals for 1 images but ground truth for 0"),
    (lambda: proposal_recall([], [], iou_thresholds=(0.5, 1.5)),
     "proposal_recall: iou_thresholds must be numbers in (0, 1], got (0.5, 1.5)"),
    (lambda: proposal_recall([], [], num_proposals=[0, 5]),
     "proposal_recall: num_proposals must be a non-empty sequence of integers >= 1, got [0, 5]"),
    (lambda: propose(np.zeros((8, 8, 3), np.uint8), "edge-boxes"),
     "propose: method must be one of 'selective-search', 'sliding', got 'edge-boxes'"),
    (lambda: propose(np.zeros((8, 8, 3), np.uint8), max_side=8),
     "propose: max_side must be an integer >= 16, got 8"),
])
def test_recall_bad_inputs(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_propose_scales_boxes_back_and_evaluates_a_dataset():
    image = np.kron(rectangles_image(), np.ones((2, 2, 1), dtype=np.uint8))    # 112 x 128
    boxes = propose(image, "selective-search", mode="single", max_side=64)  # run at 56 x 64
    best = box_iou(2 * np.array(RECTANGLES, np.float32), boxes).max(axis=1)
    assert best.min() > 0.9 and boxes[:, 2].max() == 128           # in the image's own pixels
    windows = propose(image, "sliding", max_proposals=50, seed=3)
    assert len(windows) == 50 and not np.array_equal(windows, propose(image, "sliding",
                                                                      max_proposals=50))

    class Pairs:                                 # a two-image detection dataset
        def __len__(self):
            return 2

        def __getitem__(self, i):
            boxes = np.array(RECTANGLES + [(0, 0, 5, 5)], np.float32)
            flags = np.array([False] * 4 + [True])                # the last box is difficult
            return rectangles_image(), {"boxes": boxes, "difficult": flags}

    curve = evaluate_proposals(Pairs(), mode="single", progress=False)
    assert curve.num_objects == 8 and curve.recall[:, -1].tolist() == [1.0, 1.0]
    assert len(curve.seconds) == 2 and curve.seconds_per_image > 0


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------
def write_voc(root, images):
    from PIL import Image
    (root / "JPEGImages").mkdir(parents=True)
    (root / "Annotations").mkdir()
    for name, (image, boxes) in images.items():
        Image.fromarray(image).save(root / "JPEGImages" / f"{name}.png")
        objects = "".join(
            f"<object><name>box</name><difficult>0</difficult><truncated>0</truncated>"
            f"<bndbox><xmin>{x1 + 1}</xmin><ymin>{y1 + 1}</ymin><xmax>{x2}</xmax>"
            f"<ymax>{y2}</ymax></bndbox></object>" for x1, y1, x2, y2 in boxes)
        (root / "Annotations" / f"{name}.xml").write_text(
            f"<annotation><filename>{name}.png</filename><size><width>{image.shape[1]}</width>"
            f"<height>{image.shape[0]}</height><depth>3</depth></size>{objects}</annotation>")


def test_cli_on_synthetic_images_writes_the_curve(tmp_path, capsys):
    status = cli.main(["proposals", "--max-images", "2", "--image-size", "40", "--out",
                       str(tmp_path), "--mode", "single"])
    out = capsys.readouterr().out
    assert status == 0
    assert "selective-search (single) on 2 images of synthetic" in out
    assert "| proposals | recall@0.5 | recall@0.7 | mean best IoU |" in out
    saved = json.loads((tmp_path / "recall_selective-search.json").read_text())
    assert saved["num_images"] == 2 and len(saved["seconds"]) == 2
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert (tmp_path / "recall_selective-search.png").read_bytes().startswith(b"\x89PNG")


def test_cli_sliding_windows_on_a_voc_folder(tmp_path, capsys):
    write_voc(tmp_path / "voc", {"a": (rectangles_image(), RECTANGLES[:2]),
                                 "b": (rectangles_image(), RECTANGLES[2:])})
    status = cli.main(["proposals", "--data", str(tmp_path / "voc"), "--method", "sliding",
                       "--max-proposals", "500"])
    out = capsys.readouterr().out
    assert status == 0 and "sliding on 2 images" in out and "4 objects" in out
    assert "| 500 |" in out


@pytest.mark.parametrize("argv, message", [
    (["--format", "voc"], "minicv proposals: --format voc needs --data PATH (a dataset folder)"),
    (["--data", "/nonexistent/folder"], "minicv proposals: --data '/nonexistent/folder' is not "
                                        "a folder"),
    (["--data", ".", "--format", "synthetic"],
     "minicv proposals: --format synthetic needs --data synthetic, got '.'"),
    (["--data", ".", "--format", "coco"], "minicv proposals: --format coco needs --annotations "
                                          "JSON"),
    (["--max-images", "-1"], "minicv proposals: --max-images must be >= 0, got -1"),
    (["--max-proposals", "0"], "minicv proposals: --max-proposals must be >= 1, got 0"),
])
def test_cli_bad_arguments(argv, message, capsys):
    assert cli.main(["proposals", *argv]) == 2
    assert message in capsys.readouterr().err
