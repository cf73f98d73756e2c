"""Selective search (Uijlings et al. 2013): object proposals by grouping image regions.

A sliding-window detector must look at some 100,000 boxes to frame every object tightly.
Selective search looks at a few thousand, chosen by the image itself:

1. Over-segment the image into small regions with :func:`felzenszwalb` (k pixels' scale).
2. Repeatedly merge the two most similar *adjacent* regions, until one region is left; every
   region ever formed, initial or merged, is a proposal (its bounding box). Objects of all
   sizes appear somewhere in this hierarchy.
3. Do it several times -- in several colour spaces, with several k and several similarity
   measures -- because no single strategy segments every object well, and pool the boxes.

Similarity of regions ri and rj is a sum of four measures in [0, 1] (section 3.2 of the paper),
each switched on by a letter of the strategy's ``similarity`` string:

- ``c`` colour:  sum_k min(ci_k, cj_k), histogram intersection of L1-normalised colour histograms
  (25 bins per channel);
- ``t`` texture: the same on texture histograms: Gaussian derivatives (sigma 1) in 8
  orientations per channel, 10 bins each;
- ``s`` size:    1 - (|ri| + |rj|) / |image|, merging small regions first, everywhere at once;
- ``f`` fill:    1 - (|BB_ij| - |ri| - |rj|) / |image|, with BB_ij the box around both: regions
  that fill each other's gaps merge early.

A merged region's histograms are the size-weighted means of its parts', so no pixel is visited
after the initial features (computed with one ``bincount`` over region labels). The grouping
itself is a loop over merges with a heap of pair similarities, Python per merge, never per pixel.

The boxes of a strategy are ranked by (position in its hierarchy, 1 = the whole image) times a
random number in [0, 1] -- the paper's pseudo-random order, which interleaves large and small
regions -- then pooled over strategies, sorted, and exact duplicates removed (section 3.3).

Modes (section 5.2): ``"single"`` one strategy (HSV, k = 100, c+t+s+f); ``"fast"`` 2 colour
spaces (HSV, Lab) x 2 k (50, 100) x 2 similarities (ctsf, tsf), as used by R-CNN;
``"quality"`` 5 colour spaces (HSV, Lab, rgI, H, I) x 4 k (50, 100, 150, 300) x 4
similarities (ctsf, tsf, f, s).

Notation: H, W image height and width; R initial regions; a hierarchy has 2R - 1 regions.

Reference: J. R. R. Uijlings, K. E. A. van de Sande, T. Gevers and A. W. M. Smeulders,
"Selective Search for Object Recognition", IJCV 104(2), 2013.
"""
from __future__ import annotations

import heapq
import numbers
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from minicv.proposals.felzenszwalb import _check_image, segment_sorted, sorted_edges

__all__ = ["selective_search", "hierarchical_grouping", "region_features", "convert_colour",
           "Strategy", "Hierarchy", "RegionFeatures", "strategies_for", "COLOUR_SPACES", "MODES"]

COLOUR_BINS = 25          # per channel (paper, section 3.2)
TEXTURE_ORIENTATIONS = 8  # Gaussian derivative directions, 45 degrees apart
TEXTURE_BINS = 10         # per orientation and channel
TEXTURE_SIGMA = 1.0

COLOUR_SPACES = ("rgb", "hsv", "lab", "rgi", "h", "i")
SIMILARITY_LETTERS = "ctsf"


@dataclass(frozen=True)
class Strategy:
    """One way to run the grouping: the colour space of segmentation and histograms, the
    segmentation scale k (also its min_size, as the paper's code), and which similarities
    (letters of "ctsf") are summed."""
    colour_space: str = "hsv"
    k: float = 100.0
    similarity: str = "ctsf"


def strategies_for(mode: str) -> tuple:
    """The strategies of a mode of the paper: "single", "fast" (8 strategies) or "quality" (80)."""
    if mode not in MODES:
        raise ValueError(f"selective_search: mode must be one of {', '.join(map(repr, MODES))}, "
                         f"got {mode!r}")
    spaces, ks, similarities = MODES[mode]
    return tuple(Strategy(space, k, sim) for space in spaces for k in ks for sim in similarities)


# mode -> (colour spaces, k values, similarity sets) of section 5.2
MODES = {
    "single": (("hsv",), (100,), ("ctsf",)),
    "fast": (("hsv", "lab"), (50, 100), ("ctsf", "tsf")),
    "quality": (("hsv", "lab", "rgi", "h", "i"), (50, 100, 150, 300),
                ("ctsf", "tsf", "f", "s")),
}


# ---------------------------------------------------------------------------------------------
# Colour spaces, each channel scaled to [0, 255]
# ---------------------------------------------------------------------------------------------
def _hsv(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB in [0, 1] -> HSV in [0, 1] (hue as a fraction of the circle)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    value = rgb.max(axis=-1)
    chroma = value - rgb.min(axis=-1)
    safe = np.where(chroma > 0, chroma, 1)
    hue = np.where(value == r, (g - b) / safe % 6,                 # sector of the hexagon
                   np.where(value == g, (b - r) / safe + 2, (r - g) / safe + 4))
    hue = np.where(chroma > 0, hue / 6, 0)
    saturation = np.where(value > 0, chroma / np.where(value > 0, value, 1), 0)
    return np.stack([hue, saturation, value], axis=-1)


def _lab(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) sRGB in [0, 1] -> CIE L*a*b* (D65 white): L in [0, 100], a, b about +-128."""
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    to_xyz = np.array([[0.412453, 0.357580, 0.180423],
                       [0.212671, 0.715160, 0.072169],
                       [0.019334, 0.119193, 0.950227]], dtype=rgb.dtype)
    xyz = linear @ to_xyz.T / np.array([0.950456, 1.0, 1.088754], dtype=rgb.dtype)
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    lightness = 116 * f[..., 1] - 16
    return np.stack([lightness, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])],
                    axis=-1)


def convert_colour(image, space: str) -> np.ndarray:
    """An RGB image in one of :data:`COLOUR_SPACES`, every channel on a 0..255 scale.

    Parameters
    ----------
    image : (H, W, 3) uint8 array, RGB
    space : str
        "rgb"; "hsv"; "lab" (L*a*b*, L x 2.55, a and b + 128); "rgi" (normalised r = R/(R+G+B),
        g, and intensity); "h" (hue alone); "i" (intensity (R + G + B) / 3 alone).

    Returns
    -------
    (H, W, C) float32 array, C = 3 or 1.
    """
    if space not in COLOUR_SPACES:
        raise ValueError(f"convert_colour: space must be one of "
                         f"{', '.join(map(repr, COLOUR_SPACES))}, got {space!r}")
    rgb = np.asarray(image, dtype=np.float32)
    if space == "rgb":
        return rgb
    unit = rgb / 255
    if space in ("hsv", "h"):
        hsv = _hsv(unit) * 255
        return hsv if space == "hsv" else hsv[..., :1]
    if space == "lab":
        lab = _lab(unit)
        return np.stack([lab[..., 0] * 2.55, lab[..., 1] + 128, lab[..., 2] + 128], axis=-1)
    total = rgb.sum(axis=-1, keepdims=True)
    intensity = total / 3
    if space == "i":
        return intensity
    chromatic = 255 * rgb[..., :2] / np.where(total > 0, total, 1)   # r, g
    return np.concatenate([chromatic, intensity], axis=-1)


# ---------------------------------------------------------------------------------------------
# Region features
# ---------------------------------------------------------------------------------------------
@dataclass
class RegionFeatures:
    """Per-region descriptors of one segmentation (R regions, C channels).

    colour : (R, 25*C) float32, L1-normalised colour histograms
    texture : (R, 80*C) float32, L1-normalised texture histograms
    size : (R,) int64 pixel counts
    boxes : (R, 4) float32 (x1, y1, x2, y2) tight boxes, x2 = last column + 1
    """
    colour: np.ndarray
    texture: np.ndarray
    size: np.ndarray
    boxes: np.ndarray


def _colour_bins(image: np.ndarray) -> np.ndarray:
    """(H*W, C) index of each pixel's colour bin in the (25*C)-bin histogram."""
    channels = image.shape[-1]
    bins = np.minimum((image.reshape(-1, channels) * (COLOUR_BINS / 256)).astype(np.int32),
                      COLOUR_BINS - 1)                                     # (P, C) in 0..24
    return bins + np.arange(channels, dtype=np.int32) * COLOUR_BINS


def _texture_bins(image: np.ndarray) -> np.ndarray:
    """(H*W, 8*C) index of each pixel's bin in the (80*C)-bin texture histogram.

    Per channel, the Gaussian derivatives gx, gy (sigma 1) give the derivative in direction
    theta = m * 45 degrees as cos(theta) gx + sin(theta) gy; its positive part is the response
    of orientation m (m and m + 4 are the two signs of one derivative). Each response map is
    divided by its maximum over the image and cut into 10 bins.
    """
    height, width, channels = image.shape
    bins = np.empty((height * width, TEXTURE_ORIENTATIONS * channels), dtype=np.int32)
    column = 0
    for c in range(channels):
        gy = ndimage.gaussian_filter(image[..., c], TEXTURE_SIGMA, order=(1, 0))   # (H, W)
        gx = ndimage.gaussian_filter(image[..., c], TEXTURE_SIGMA, order=(0, 1))
        for m in range(TEXTURE_ORIENTATIONS // 2):
            theta = m * np.pi / (TEXTURE_ORIENTATIONS // 2)
            derivative = (np.cos(theta) * gx + np.sin(theta) * gy).ravel()         # (P,)
            for response in (np.maximum(derivative, 0), np.maximum(-derivative, 0)):
                peak = response.max()
                scaled = response * (TEXTURE_BINS / peak) if peak > 0 else response
                bins[:, column] = np.minimum(scaled.astype(np.int32), TEXTURE_BINS - 1)
                bins[:, column] += column * TEXTURE_BINS
                column += 1
    return bins


def _histograms(labels: np.ndarray, bins: np.ndarray, n_regions: int) -> np.ndarray:
    """(R, F) L1-normalised histograms of the per-pixel bin indices ``bins`` (P, B) over
    regions, with one bincount: pixel p adds 1 to row labels[p] at each of its B bins."""
    n_features = int(bins.max()) + 1
    flat = (labels.reshape(-1, 1) * n_features + bins).ravel()                      # (P*B,)
    counts = np.bincount(flat, minlength=n_regions * n_features).reshape(n_regions, n_features)
    counts = counts.astype(np.float32)
    return counts / counts.sum(axis=1, keepdims=True)


def _boxes(labels: np.ndarray, n_regions: int) -> np.ndarray:
    """(R, 4) float32 tight boxes of regions 0..R-1 (scipy's find_objects: one C pass)."""
    slices = ndimage.find_objects(labels + 1, max_label=n_regions)
    return np.array([(sx.start, sy.start, sx.stop, sy.stop) for sy, sx in slices],
                    dtype=np.float32).reshape(n_regions, 4)


def _check_labels(op: str, labels, shape) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != tuple(shape):
        raise ValueError(f"{op}: labels must have the image's shape {tuple(shape)}, got "
                         f"{labels.shape}")
    if labels.dtype.kind not in "iu" or labels.size == 0 or labels.min() < 0:
        raise ValueError(f"{op}: labels must be non-negative integers 0..R-1, got dtype "
                         f"{labels.dtype}" + (f" with minimum {labels.min()}"
                                              if labels.size and labels.dtype.kind in "iuf"
                                              else ""))
    n_regions = int(labels.max()) + 1
    if np.bincount(labels.ravel(), minlength=n_regions).min() == 0:
        raise ValueError(f"{op}: labels must use every number 0..R-1 (R = {n_regions}), but "
                         f"some region is empty")
    return labels.astype(np.int64)


def region_features(image, labels, *, colour_bins=None, texture_bins=None) -> RegionFeatures:
    """Colour and texture histograms, sizes and boxes of the regions of a segmentation.

    Parameters
    ----------
    image : (H, W, C) array
        The image in the colour space of the strategy, channels on a 0..255 scale.
    labels : (H, W) int array
        Region of each pixel, 0..R-1, every region non-empty.
    colour_bins, texture_bins : (H*W, C) and (H*W, 8*C) int arrays, optional
        Per-pixel histogram bins, when already computed for this image (they do not depend on
        the segmentation; :func:`selective_search` shares them between k values).

    Returns
    -------
    RegionFeatures
    """
    op = "region_features"
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3:
        raise ValueError(f"{op}: image must have shape (H, W, C), got {image.shape}")
    labels = _check_labels(op, labels, image.shape[:2])
    n_regions = int(labels.max()) + 1
    colour_bins = _colour_bins(image) if colour_bins is None else colour_bins
    texture_bins = _texture_bins(image) if texture_bins is None else texture_bins
    return RegionFeatures(colour=_histograms(labels, colour_bins, n_regions),
                          texture=_histograms(labels, texture_bins, n_regions),
                          size=np.bincount(labels.ravel(), minlength=n_regions),
                          boxes=_boxes(labels, n_regions))


def _adjacent_pairs(labels: np.ndarray, n_regions: int) -> np.ndarray:
    """(N, 2) int64 pairs (i < j) of regions that touch horizontally or vertically."""
    a = np.concatenate([labels[:, :-1].ravel(), labels[:-1, :].ravel()])
    b = np.concatenate([labels[:, 1:].ravel(), labels[1:, :].ravel()])
    differ = a != b
    lo, hi = np.minimum(a[differ], b[differ]), np.maximum(a[differ], b[differ])
    keys = np.unique(lo * n_regions + hi)
    return np.stack([keys // n_regions, keys % n_regions], axis=1)


# ---------------------------------------------------------------------------------------------
# Hierarchical grouping
# ---------------------------------------------------------------------------------------------
@dataclass
class Hierarchy:
    """The regions of one grouping, in the order they were formed: the R initial regions,
    then one per merge.

    boxes : (2R - 1, 4) float32 bounding boxes (fewer rows if the regions were not all
        connected)
    size : (2R - 1,) int64 pixel counts
    children : (M, 2) int64, the two regions merged into region R + m
    similarity : (M,) float32, their similarity when they merged
    """
    boxes: np.ndarray
    size: np.ndarray
    children: np.ndarray
    similarity: np.ndarray

    @property
    def n_initial(self) -> int:
        return len(self.boxes) - len(self.children)


def _similarity(letters: str, histograms, n_colour: int, size, boxes, image_area: int, i, j):
    """s(i, j) for rows i, j (index arrays, or one index i against many j), summing the
    measures named by letters. ``histograms`` holds colour then texture histograms per row."""
    total = np.zeros(len(j), dtype=np.float32)
    if "c" in letters or "t" in letters:
        columns = slice(0 if "c" in letters else n_colour, None if "t" in letters else n_colour)
        common = np.minimum(histograms[i, columns], histograms[j, columns])   # intersection
        split = n_colour if "c" in letters else 0
        if "c" in letters:
            total += common[:, :split].sum(axis=1)
        if "t" in letters:
            total += common[:, split:].sum(axis=1)
    if "s" in letters or "f" in letters:
        both = size[i] + size[j]
        if "s" in letters:
            total += 1 - both / image_area
        if "f" in letters:
            box_i, box_j = boxes[i], boxes[j]
            corner1 = np.minimum(box_i[..., :2], box_j[..., :2])                 # (N, 2)
            corner2 = np.maximum(box_i[..., 2:], box_j[..., 2:])
            extent = corner2 - corner1
            total += 1 - (extent[..., 0] * extent[..., 1] - both) / image_area
    return total


def _check_similarity(op: str, similarity: str) -> None:
    if not isinstance(similarity, str) or not similarity \
            or set(similarity) - set(SIMILARITY_LETTERS) or len(set(similarity)) != len(similarity):
        raise ValueError(f"{op}: similarity must be a non-empty string of distinct letters "
                         f"from 'ctsf' (colour, texture, size, fill), got {similarity!r}")


def hierarchical_grouping(features: RegionFeatures, labels, similarity: str = "ctsf") -> Hierarchy:
    """Merge the most similar adjacent regions until one is left (Algorithm 1 of the paper).

    Parameters
    ----------
    features : RegionFeatures
        Of the R regions of ``labels`` (:func:`region_features`).
    labels : (H, W) int array
        The segmentation: it gives the image size and which regions touch.
    similarity : str
        The measures to sum, letters of "ctsf": colour, texture, size, fill.

    Returns
    -------
    Hierarchy
        R - 1 merges when the regions are connected (they are for any segmentation of an image).

    Examples
    --------
    >>> labels = np.array([[0, 0, 1, 1],
    ...                    [0, 0, 1, 1],
    ...                    [2, 2, 2, 2]])
    >>> image = np.zeros((3, 4, 3), dtype=np.float32)
    >>> hierarchy = hierarchical_grouping(region_features(image, labels), labels, "sf")
    >>> hierarchy.children                    # 0 and 1 fill a box together; then with 2
    array([[0, 1],
           [2, 3]])
    >>> hierarchy.boxes[-1]
    array([0., 0., 4., 3.], dtype=float32)
    """
    op = "hierarchical_grouping"
    _check_similarity(op, similarity)
    labels = _check_labels(op, labels, np.shape(labels))
    n_regions = int(labels.max()) + 1
    if len(features.size) != n_regions:
        raise ValueError(f"{op}: features describe {len(features.size)} regions but labels has "
                         f"{n_regions}")
    capacity = 2 * n_regions - 1

    def grow(initial, dtype):                       # room for every region the merges create
        out = np.zeros((capacity,) + initial.shape[1:], dtype=dtype)
        out[:n_regions] = initial
        return out

    n_colour = features.colour.shape[1]
    histograms = grow(np.concatenate([features.colour, features.texture], axis=1), np.float32)
    size, boxes = grow(features.size, np.int64), grow(features.boxes, np.float32)
    sizes, corners = features.size.tolist(), features.boxes.tolist()   # the same, for the loop

    def score(i, j):
        return _similarity(similarity, histograms, n_colour, size, boxes, labels.size, i, j)

    pairs = _adjacent_pairs(labels, n_regions)                               # (N, 2)
    neighbours = [set() for _ in range(capacity)]
    for i, j in pairs.tolist():
        neighbours[i].add(j)
        neighbours[j].add(i)
    values = score(pairs[:, 0], pairs[:, 1])
    heap = [(-s, i, j) for s, (i, j) in zip(values.tolist(), pairs.tolist())]
    heapq.heapify(heap)                            # most similar pair on top; ties: lowest ids
    alive = [True] * n_regions + [False] * (n_regions - 1)

    children, similarities = [], []
    new = n_regions
    while heap:
        negative, i, j = heapq.heappop(heap)
        if not (alive[i] and alive[j]):            # a pair whose region was merged already
            continue
        size_i, size_j = sizes[i], sizes[j]
        sizes.append(size_i + size_j)
        size[new] = size_i + size_j
        # histograms of the union: the size-weighted mean of the parts' histograms
        np.multiply(histograms[i], size_i / (size_i + size_j), out=histograms[new])
        histograms[new] += histograms[j] * (size_j / (size_i + size_j))
        (ax1, ay1, ax2, ay2), (bx1, by1, bx2, by2) = corners[i], corners[j]
        corners.append([min(ax1, bx1), min(ay1, by1), max(ax2, bx2), max(ay2, by2)])
        boxes[new] = corners[new]
        alive[i] = alive[j] = False
        alive[new] = True
        around = (neighbours[i] | neighbours[j]) - {i, j}
        for n in around:
            neighbours[n] -= {i, j}
            neighbours[n].add(new)
        neighbours[new] = around
        neighbours[i] = neighbours[j] = None
        if around:
            others = np.fromiter(around, dtype=np.int64, count=len(around))
            values = score(new, others)                         # one row against many
            for s, n in zip(values.tolist(), others.tolist()):
                heapq.heappush(heap, (-s, n, new))
        children.append((i, j))
        similarities.append(-negative)
        new += 1

    return Hierarchy(boxes=boxes[:new], size=size[:new],
                     children=np.array(children, dtype=np.int64).reshape(-1, 2),
                     similarity=np.array(similarities, dtype=np.float32))


# ---------------------------------------------------------------------------------------------
# Selective search
# ---------------------------------------------------------------------------------------------
def _check_strategies(op: str, strategies) -> tuple:
    strategies = tuple(strategies)
    if not strategies:
        raise ValueError(f"{op}: strategies must not be empty")
    for s in strategies:
        if not isinstance(s, Strategy):
            raise TypeError(f"{op}: strategies must be Strategy objects, got {type(s).__name__}")
        if s.colour_space not in COLOUR_SPACES:
            raise ValueError(f"{op}: colour_space must be one of "
                             f"{', '.join(map(repr, COLOUR_SPACES))}, got {s.colour_space!r}")
        if not isinstance(s.k, numbers.Real) or not s.k > 0:
            raise ValueError(f"{op}: k must be a number > 0, got {s.k!r}")
        _check_similarity(op, s.similarity)
    return strategies


def selective_search(image, mode: str = "fast", *, strategies=None, sigma: float = 0.8,
                     seed: int = 0, return_hierarchies: bool = False):
    """Object proposals for an image by selective search, best-ranked first.

    Parameters
    ----------
    image : (H, W, 3) uint8 array, RGB
    mode : str
        "single", "fast" (default; 8 strategies, as R-CNN) or "quality" (80 strategies); see
        the module docstring. Ignored when ``strategies`` is given.
    strategies : sequence of Strategy, optional
        Your own list of (colour space, k, similarity) strategies.
    sigma : float
        Gaussian smoothing of the segmentation (0.8, as the paper).
    seed : int
        Seed of the pseudo-random ranking (the same seed, the same order).
    return_hierarchies : bool
        Also return each strategy's :class:`Hierarchy`.

    Returns
    -------
    boxes : (N, 4) float32 array
        Distinct (x1, y1, x2, y2) boxes, integer-valued (x2 = last column + 1), ranked.
    hierarchies : list of Hierarchy
        Only with ``return_hierarchies``, one per strategy.

    Examples
    --------
    >>> image = np.full((40, 60, 3), 30, dtype=np.uint8)
    >>> image[10:25, 5:20] = (200, 40, 40)                        # a red square
    >>> image[20:35, 35:55] = (40, 40, 200)                       # a blue rectangle
    >>> boxes = selective_search(image, "single")
    >>> [5, 10, 20, 25] in boxes.tolist(), [35, 20, 55, 35] in boxes.tolist()
    (True, True)
    """
    op = "selective_search"
    image = _check_image(op, image)
    if image.shape[-1] != 3:
        raise ValueError(f"{op}: image must have shape (H, W, 3) (RGB), got {image.shape}")
    strategies = _check_strategies(op, strategies_for(mode) if strategies is None
                                   else strategies)
    rng = np.random.default_rng(seed)

    converted, edges, segments, bins = {}, {}, {}, {}
    boxes, ranks, hierarchies = [], [], []
    for strategy in strategies:
        space, k = strategy.colour_space, strategy.k
        if space not in converted:              # per colour space: the image, its sorted edges
            converted[space] = convert_colour(image, space)
            edges[space] = sorted_edges(converted[space], sigma)
            bins[space] = (_colour_bins(converted[space]), _texture_bins(converted[space]))
        if (space, k) not in segments:          # per (colour space, k): regions and features
            labels = segment_sorted(*edges[space], image.shape[:2], k=k, min_size=int(k))
            features = region_features(converted[space], labels, colour_bins=bins[space][0],
                                       texture_bins=bins[space][1])
            segments[space, k] = labels, features
        labels, features = segments[space, k]
        hierarchy = hierarchical_grouping(features, labels, strategy.similarity)
        hierarchies.append(hierarchy)
        position = np.arange(len(hierarchy.boxes), 0, -1)       # 1 = the last, whole image
        boxes.append(hierarchy.boxes)
        ranks.append(position * rng.random(len(position)))

    boxes, ranks = np.concatenate(boxes), np.concatenate(ranks)
    boxes = boxes[np.argsort(ranks, kind="stable")]
    _, first = np.unique(boxes, axis=0, return_index=True)      # duplicates: keep the best rank
    boxes = boxes[np.sort(first)]
    return (boxes, hierarchies) if return_hierarchies else boxes
