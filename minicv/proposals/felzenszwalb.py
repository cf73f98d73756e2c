"""Graph-based image segmentation (Felzenszwalb & Huttenlocher 2004), the first step of selective
search.

The image is a graph: one node per pixel, an edge between 8-neighbours weighted by the colour
distance of the (Gaussian-smoothed) pixels. Edges are visited in increasing weight; each visit
joins the two components C1, C2 at its ends when the edge is not heavier than the internal
difference of either, relaxed by k / |C|:

    merge  iff  w <= min(Int(C1) + k / |C1|,  Int(C2) + k / |C2|)

where Int(C) is the heaviest edge of C's minimum spanning tree -- the weight of the edge that
last grew C, since edges come sorted -- and |C| its number of pixels. k sets the scale: a larger
k prefers larger components. A second pass over the same sorted edges then joins every component
still smaller than ``min_size`` pixels to a neighbour (paper, section 4.1 and its code).

Notation: H, W image height and width; P = H*W pixels; E = 4*H*W - 3*(H + W) + 2 edges.

Making the sequential algorithm fast
------------------------------------
The merge decision of an edge depends on every earlier merge, so the paper runs a union-find
loop over all E edges (747,377 for a 500x375 image): about two seconds in Python. minicv keeps
the exact result of that loop but decides most edges in vectorised rounds over a window of the
next unresolved edges in sorted order (:func:`_merge_in_order`), about 0.15 s for such an image:

- An edge whose components change nowhere earlier in the window is decided exactly by the
  present state; if it merges, it changes its two components, so later edges on them must wait.
- A component is *dead* once w > Int(C) + k / |C|: it can never merge again, since that bound only
  moves when C merges and all later edges are at least as heavy. An edge with an unchanged dead
  end is rejected whatever happens at its other end, so it does not make anything wait.
- What must wait spreads along edges (a waiting edge might merge); a few vectorised passes find
  it. Everything else is committed at once, and the round repeats on the rest of the window.
- Where one growing component holds everything up (a large flat region swallowing pixels one by
  one), rounds resolve few edges each; then the window's first LOOP_EDGES edges go through a
  plain Python union-find loop (:func:`_merge_loop`), cheaper than many rounds there.

Merging in any order that respects each component's own sequence of edges gives the same
partition as the sequential loop; tests/test_proposals.py checks it against a plain loop.

Reference: P. F. Felzenszwalb and D. P. Huttenlocher, "Efficient Graph-Based Image
Segmentation", IJCV 59(2), 2004 (and its C++ code, segment-image.h / segment-graph.h).
"""
from __future__ import annotations

import functools
import numbers

import numpy as np
from scipy import ndimage

from minicv import backend

__all__ = ["felzenszwalb", "sorted_edges", "segment_sorted", "grid_edges", "edge_weights"]

# Edge weights are rounded to 1/WEIGHT_STEPS of a grey level and stored as uint16, so that
# NumPy's radix sort (argsort kind="stable" on 16-bit integers) orders them: 10 ms instead of
# 65 ms for 750k float32 weights. The largest colour distance, 255 * sqrt(3) = 441.7, still fits.
WEIGHT_STEPS = 128
# The rounds: the window of unresolved edges doubles when a round resolves more than GROW_AT
# of it and halves below SHRINK_AT; the set of edges that must wait grows at most GROWTH_STEPS
# times per round; a round resolving less than ``slow_round`` hands LOOP_EDGES to the loop.
GROW_AT, SHRINK_AT, MIN_WINDOW, MAX_WINDOW = 0.6, 0.3, 1024, 1 << 16
GROWTH_STEPS, LOOP_EDGES = 8, 2048

# Offsets (dy, dx) of four of the eight neighbours: each undirected edge once.
_OFFSETS = ((0, 1), (1, 0), (1, 1), (1, -1))


# ---------------------------------------------------------------------------------------------
# The graph
# ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def grid_edges(height: int, width: int) -> tuple:
    """The 8-neighbour edges of an (height, width) pixel grid, as flat pixel indices.

    Returns
    -------
    src, dst : (E,) int32 arrays, read-only
        Edge i joins pixels src[i] and dst[i] (p = y*W + x). E = 4*H*W - 3*(H + W) + 2:
        H*(W-1) to the right, (H-1)*W down, and (H-1)*(W-1) along each diagonal.
    """
    index = np.arange(height * width, dtype=np.int32).reshape(height, width)
    src, dst = [], []
    for dy, dx in _OFFSETS:
        x0, x1 = max(0, -dx), width - max(0, dx)            # columns whose neighbour exists
        src.append(index[:height - dy, x0:x1].ravel())      # (H - dy) * (W - |dx|)
        dst.append(index[dy:, x0 + dx:x1 + dx].ravel())     # the same pixels, shifted
    src, dst = np.concatenate(src), np.concatenate(dst)
    src.flags.writeable = dst.flags.writeable = False       # cached: shared by every caller
    return src, dst


def edge_weights(smoothed: np.ndarray) -> np.ndarray:
    """Colour distance of every :func:`grid_edges` edge, in :data:`WEIGHT_STEPS` of a grey level.

    Parameters
    ----------
    smoothed : (H, W, C) float array

    Returns
    -------
    (E,) uint16 array, in the order of :func:`grid_edges`.
    """
    height, width = smoothed.shape[:2]
    parts = []
    for dy, dx in _OFFSETS:
        x0, x1 = max(0, -dx), width - max(0, dx)
        diff = smoothed[:height - dy, x0:x1] - smoothed[dy:, x0 + dx:x1 + dx]   # (H-dy, W-|dx|, C)
        parts.append(np.sqrt((diff * diff).sum(axis=-1)).ravel())
    weights = np.concatenate(parts)                                             # (E,)
    largest = float(weights.max(initial=0))
    if largest * WEIGHT_STEPS > np.iinfo(np.uint16).max:
        raise ValueError(f"felzenszwalb: neighbouring pixels differ by up to {largest:.1f}, "
                         f"above the {np.iinfo(np.uint16).max / WEIGHT_STEPS:.2f} the 16-bit "
                         f"edge weights hold: give values on a 0..255 scale, at most 4 channels")
    return np.rint(weights * WEIGHT_STEPS).astype(np.uint16)


# ---------------------------------------------------------------------------------------------
# Union-find over pixels, with vectorised finds
# ---------------------------------------------------------------------------------------------
class _Forest:
    """Disjoint pixel sets: ``parent`` pointers, and per root its ``size`` and ``threshold``
    Int(C) + k/|C| (in weight steps). Union by size keeps trees O(log P) deep."""

    def __init__(self, n: int, k_steps: float):
        self.parent = np.arange(n)
        self.size = np.ones(n, dtype=np.int64)
        self.threshold = np.full(n, k_steps, dtype=np.float64)    # Int = 0, |C| = 1
        self.k_steps = k_steps

    def find(self, x: np.ndarray) -> np.ndarray:
        """Roots of the pixels ``x``: all climb at once, one level per step, and only those not
        at their root yet keep climbing; the pixels then point at their roots (compression)."""
        root = self.parent[x]
        up = self.parent[root]
        climbing = np.flatnonzero(up != root)
        while climbing.size:
            root[climbing] = up[climbing]
            above = self.parent[root[climbing]]
            still = above != root[climbing]
            climbing = climbing[still]
            up[climbing] = above[still]
        self.parent[x] = root
        return root

    def union(self, a: np.ndarray, b: np.ndarray, w: np.ndarray) -> None:
        """Merge roots a[i] and b[i] along an edge of weight w[i]; the pairs must be disjoint."""
        swap = self.size[a] < self.size[b]
        big, small = np.where(swap, b, a), np.where(swap, a, b)     # the larger tree stays root
        self.parent[small] = big
        self.size[big] += self.size[small]
        self.threshold[big] = w + self.k_steps / self.size[big]     # Int(C) is now w

    def labels(self) -> np.ndarray:
        return self.find(np.arange(len(self.parent)))


class _Rule:
    """When the edge between components a and b merges them, for the two passes.

    ``"threshold"``: w <= Int(C) + k/|C| at both ends. An end beyond its bound is *dead*: it
    rejects the edge whatever the other end is, and stays dead until its own component changes.
    ``"min_size"``: either end has fewer than ``min_size`` pixels. An end that is big enough
    stays so (components only grow), so an edge between two big ends is rejected for good.
    """

    def __init__(self, kind: str, min_size: int = 0):
        self.kind, self.min_size = kind, min_size

    def decide(self, forest: _Forest, w, a, b):
        """(merge, dead_a, dead_b) for edges of weight w between roots a and b, vectorised;
        dead: this end alone cannot be the reason to merge (see :meth:`rejects`)."""
        if self.kind == "threshold":
            dead_a, dead_b = forest.threshold[a] < w, forest.threshold[b] < w
            return ~dead_a & ~dead_b, dead_a, dead_b
        big_a, big_b = forest.size[a] >= self.min_size, forest.size[b] >= self.min_size
        return ~big_a | ~big_b, big_a, big_b

    def rejects(self, dead_a, dead_b, late_a, late_b):
        """Edges rejected whatever the earlier unresolved edges do; late_x: end x may have
        changed since the decision was taken."""
        if self.kind == "threshold":
            return (dead_a & ~late_a) | (dead_b & ~late_b)
        return dead_a & dead_b


# ---------------------------------------------------------------------------------------------
# The sequential pass, in vectorised rounds
# ---------------------------------------------------------------------------------------------
def _merge_in_order(a, b, w, forest: _Forest, rule: _Rule, window: int = 4096,
                    slow_round: float = 0.2) -> None:
    """Visit edges (a[i], b[i]) of weight w[i] in the given order, merging by ``rule``.

    The result equals the plain loop ``for each edge: if find(a) != find(b) and rule: union``.
    Each round takes the first ``window`` unresolved edges (``pos`` their order) and commits
    every edge whose decision cannot depend on an earlier unresolved one; a round that commits
    less than ``slow_round`` of its window hands the window to :func:`_merge_loop`.
    """
    n_edges = len(w)
    never = np.iinfo(np.int64).max
    first_change = np.full(len(forest.parent), never)       # scratch, reset after each use
    pos = np.empty(0, dtype=np.int64)
    root_a, root_b, weight = pos, pos, np.empty(0, dtype=w.dtype)
    done = 0
    while done < n_edges or len(pos):
        take = min(window - len(pos), n_edges - done)                # refill the window
        if take > 0:
            new = slice(done, done + take)
            pos = np.concatenate([pos, np.arange(done, done + take)])
            roots = forest.find(np.concatenate([a[new], b[new]]))
            root_a = np.concatenate([root_a, roots[:take]])
            root_b = np.concatenate([root_b, roots[take:]])
            weight = np.concatenate([weight, w[new]])
            done += take
        keep = root_a != root_b                                     # inside one component: skip
        pos, root_a, root_b, weight = pos[keep], root_a[keep], root_b[keep], weight[keep]
        if not len(pos):
            continue

        merge, dead_a, dead_b = rule.decide(forest, weight, root_a, root_b)
        # An edge "changes" its components if it merges them, or might (it waits). Grow the set
        # of changing edges until it is stable: an edge waits when an earlier changing edge
        # touches one of its components, unless the rule rejects it anyway.
        ends = np.concatenate([root_a, root_b])                     # (2M,) both ends at once
        end_pos = np.concatenate([pos, pos])
        changing, newly = merge, np.concatenate([merge, merge])
        for _ in range(GROWTH_STEPS):   # first_change only decreases: add the newly changing
            np.minimum.at(first_change, ends[newly], end_pos[newly])
            late = end_pos > first_change[ends]
            late_a, late_b = late[:len(pos)], late[len(pos):]
            waits = (late_a | late_b) & ~rule.rejects(dead_a, dead_b, late_a, late_b)
            grown = waits | (merge & ~late_a & ~late_b)
            added = grown & ~changing
            if not added.any():
                break
            changing, newly = grown, np.concatenate([added, added])
        else:   # not stable yet: whatever the growth could still reach lies after its earliest edge
            waits = waits | (pos >= pos[added].min())
        first_change[ends] = never                                  # reset the scratch

        sure = ~waits
        joined = sure & merge & ~late_a & ~late_b                  # pairwise disjoint components
        forest.union(root_a[joined], root_b[joined], weight[joined])
        resolved = sure.sum() / len(pos)
        if resolved > GROW_AT:                       # a window mostly resolved: widen it
            window = min(2 * window, MAX_WINDOW)
        elif resolved < SHRINK_AT:
            window = max(window // 2, MIN_WINDOW)
        pos, root_a, root_b, weight = pos[waits], root_a[waits], root_b[waits], weight[waits]
        root_a, root_b = forest.parent[root_a], forest.parent[root_b]  # one hop: disjoint unions
        if resolved < slow_round:                    # held up by a chain: loop over its head
            head = slice(0, LOOP_EDGES)
            _merge_loop(root_a[head], root_b[head], weight[head], forest, rule)
            pos, root_a, root_b, weight = (pos[LOOP_EDGES:], root_a[LOOP_EDGES:],
                                           root_b[LOOP_EDGES:], weight[LOOP_EDGES:])
            root_a, root_b = forest.parent[root_a], forest.parent[root_b]


def _merge_loop(root_a, root_b, weight, forest: _Forest, rule: _Rule) -> None:
    """The plain sequential union-find loop over a few thousand edges between roots, on Python
    lists of just the components involved, written back into ``forest`` at the end."""
    if not len(weight):
        return
    roots, local = np.unique(np.concatenate([root_a, root_b]), return_inverse=True)
    parent = list(range(len(roots)))
    size = forest.size[roots].tolist()
    threshold = forest.threshold[roots].tolist()
    k_steps, min_size = forest.k_steps, rule.min_size
    by_threshold = rule.kind == "threshold"
    for x, y, w in zip(local[:len(weight)].tolist(), local[len(weight):].tolist(),
                       weight.tolist()):
        while parent[x] != x:                       # find, halving the path as it climbs
            parent[x] = x = parent[parent[x]]
        while parent[y] != y:
            parent[y] = y = parent[parent[y]]
        if x == y:
            continue
        if (w <= threshold[x] and w <= threshold[y]) if by_threshold else \
                (size[x] < min_size or size[y] < min_size):
            if size[x] < size[y]:
                x, y = y, x
            parent[y] = x
            size[x] += size[y]
            threshold[x] = w + k_steps / size[x]
    top = np.array(parent)
    while True:                                     # every local root, by pointer jumping
        up = top[top]
        if np.array_equal(up, top):
            break
        top = up
    forest.parent[roots] = roots[top]
    forest.size[roots] = size
    forest.threshold[roots] = threshold


# ---------------------------------------------------------------------------------------------
# The public function
# ---------------------------------------------------------------------------------------------
def _check_image(op: str, image) -> np.ndarray:
    image = backend.to_cpu(image) if backend.is_array(image) else np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{op}: image must have shape (H, W) or (H, W, C) with H, W >= 1, got "
                         f"{tuple(image.shape)}")
    if image.dtype.kind not in "biuf":
        raise TypeError(f"{op}: image must hold numbers, got dtype {image.dtype}")
    return image


def _check_positive(op: str, name: str, value, allow_zero: bool = False) -> None:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not np.isfinite(value) \
            or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{op}: {name} must be a finite number {bound}, got {value!r}")


def sorted_edges(image, sigma: float = 0.8):
    """The pixel graph of an image, its edges sorted by weight: the part of
    :func:`felzenszwalb` that does not depend on k (selective search shares it between k values).

    Parameters
    ----------
    image : (H, W, C) or (H, W) array
        Values on a 0..255 scale.
    sigma : float
        Standard deviation of the Gaussian smoothing (0 for none).

    Returns
    -------
    src, dst : (E,) int32 arrays
        The pixels at the ends of each edge, lightest edge first.
    weights : (E,) float64 array
        Edge weights in :data:`WEIGHT_STEPS` of a grey level, non-decreasing.
    """
    op = "felzenszwalb"
    image = _check_image(op, image)
    _check_positive(op, "sigma", sigma, allow_zero=True)
    smoothed = image.astype(np.float32)
    if sigma > 0:   # each channel separately, borders repeat the edge pixel (as the paper's code)
        smoothed = ndimage.gaussian_filter(smoothed, sigma=(sigma, sigma, 0), mode="nearest",
                                           truncate=4.0)
    src, dst = grid_edges(*image.shape[:2])                            # (E,), (E,)
    weights = edge_weights(smoothed)                                   # (E,) uint16
    order = np.argsort(weights, kind="stable")                         # a radix sort
    return src[order], dst[order], weights[order].astype(np.float64)


def segment_sorted(src, dst, weights, shape, k: float = 100.0, min_size: int = 50) -> np.ndarray:
    """:func:`felzenszwalb` on the sorted edges of :func:`sorted_edges` for an image of
    ``shape`` (H, W): the two passes over the edges, and the labels."""
    op = "felzenszwalb"
    _check_positive(op, "k", k, allow_zero=True)
    if not isinstance(min_size, numbers.Integral) or isinstance(min_size, bool) or min_size < 0:
        raise ValueError(f"{op}: min_size must be an integer >= 0, got {min_size!r}")
    height, width = shape
    forest = _Forest(height * width, k_steps=float(k) * WEIGHT_STEPS)
    _merge_in_order(src, dst, weights, forest, _Rule("threshold"))

    if min_size > 1:   # only edges between components, one of them small, can still merge
        labels = forest.labels()
        la, lb = labels[src], labels[dst]
        keep = (la != lb) & ((forest.size[la] < min_size) | (forest.size[lb] < min_size))
        _merge_in_order(src[keep], dst[keep], weights[keep], forest, _Rule("min_size", min_size))

    roots = forest.labels()                                            # (P,) a pixel id each
    first = np.full(height * width, height * width)
    np.minimum.at(first, roots, np.arange(height * width))             # first pixel of a region
    is_root = first < height * width
    number = np.empty(height * width, dtype=np.int64)
    number[np.flatnonzero(is_root)[np.argsort(first[is_root])]] = np.arange(is_root.sum())
    return number[roots].reshape(height, width)                       # raster order of regions


def felzenszwalb(image, k: float = 100.0, sigma: float = 0.8, min_size: int = 50) -> np.ndarray:
    """Segment an image into regions with the Felzenszwalb-Huttenlocher graph algorithm.

    Parameters
    ----------
    image : (H, W, C) or (H, W) array
        Values on a 0..255 scale (uint8, or floats in that range); any number of channels.
    k : float
        The scale of the merge criterion w <= Int(C) + k/|C|, in grey levels (the paper's k;
        ``scale`` in scikit-image). Larger k, larger regions. Selective search uses 50 to 300.
    sigma : float
        Standard deviation of the Gaussian smoothing before the edge weights (0.8, as the
        paper); 0 for none.
    min_size : int
        Components smaller than this many pixels are joined to a neighbour afterwards, visiting
        the edges in the same order (the paper's code; selective search sets min_size = k).

    Returns
    -------
    (H, W) int64 array
        Region labels 0..R-1, numbered in the order their first pixel appears in raster order.

    Notes
    -----
    Pixels are joined along 8-neighbour edges weighted by the Euclidean colour distance of the
    smoothed pixels, rounded to 1/128 grey level (:data:`WEIGHT_STEPS`); equal weights keep
    the edge order of :func:`grid_edges`.

    Examples
    --------
    >>> image = np.zeros((4, 6, 3), dtype=np.uint8)
    >>> image[:, 3:] = 200                           # two flat halves
    >>> felzenszwalb(image, k=10, sigma=0, min_size=1)
    array([[0, 0, 0, 1, 1, 1],
           [0, 0, 0, 1, 1, 1],
           [0, 0, 0, 1, 1, 1],
           [0, 0, 0, 1, 1, 1]])
    """
    src, dst, weights = sorted_edges(image, sigma)
    return segment_sorted(src, dst, weights, np.shape(image)[:2], k, min_size)
