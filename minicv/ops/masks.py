"""Instance masks: COCO run-length encoding, polygon rasterisation, boxes, areas and IoU.

These are the ``pycocotools.mask`` functions a detector needs, written from scratch in NumPy so
that minicv reads COCO annotations without depending on pycocotools. Notation: K, N and M numbers
of masks, H and W the image height and width.

- ``rle_encode``          (H, W) bool mask -> COCO RLE ``{"size": [H, W], "counts": ...}``
- ``rle_decode``          COCO RLE (compressed string or uncompressed list) -> (H, W) bool mask
- ``polygons_to_mask``    COCO polygons ``[[x1, y1, x2, y2, ...], ...]`` -> (H, W) bool mask
- ``segmentation_to_mask`` any COCO ``segmentation`` field (polygons or either RLE) -> (H, W)
- ``masks_to_boxes``      (K, H, W) masks -> (K, 4) tight boxes, xyxy continuous
- ``mask_area``           pixels per mask, from masks or straight from RLE counts
- ``mask_iou``            (N, M) IoU of every pair, with COCO's crowd rule

Run-length encoding (COCO)
--------------------------
The mask is read in column-major (Fortran) order -- down the first column, then the second --
and stored as the lengths of its alternating runs, starting with a run of zeros (which may be
empty). A 2 x 3 mask ::

    0 1 1        column-major: 0 0 | 1 1 | 1 0   ->   runs 0 0 1 1 1 0 -> counts [2, 3, 1]
    0 1 0

The *compressed* form writes the counts as a string: each count (from the fourth on, minus the
count two places before it, which makes the numbers small on smooth shapes) is cut into 5-bit
chunks, least significant first; each chunk becomes one character ``chr(48 + chunk + 32*more)``,
where ``more`` says another chunk follows. The last chunk's top bit (16) is the sign, so
differences may be negative. This is LEB128's idea with 5-bit groups; pycocotools' ``maskApi.c``
(``rleToString`` / ``rleFrString``) is the reference. Counts [2, 3, 1] give the string "231".

Polygons
--------
A COCO polygon lists the vertices ``x1, y1, x2, y2, ...`` in continuous pixel coordinates (pixel
(i, j) covers [j, j+1) x [i, i+1), as for boxes). ``polygons_to_mask`` marks a pixel when its
centre (j + 0.5, i + 0.5) lies inside by the even-odd rule; a centre exactly on an edge counts
as inside for the right and bottom edges and outside for the left and top ones, i.e. a box
polygon (x1, y1)-(x2, y2) covers the centres in (x1, x2] x (y1, y2]. Several polygons of one
object are united (as pycocotools' ``merge`` does).

pycocotools rasterises differently: it scales the vertices by 5, rounds them to integers, walks
each edge on that 5x grid and toggles a column at the points where the walked edge passes a
column centre. For axis-aligned edges at multiples of 0.2 px the two rules give the same pixels
(the tie rule above was chosen to agree with it); along slanted edges the 1/5-pixel rounding
moves some boundary pixels: on random polygons tens of pixels across, about 1 pixel in 100 of the
union differs (see tests/test_masks.py, which measures it when pycocotools is installed).

References: Lin et al., "Microsoft COCO: Common Objects in Context", ECCV 2014; pycocotools,
``common/maskApi.c`` and ``PythonAPI/pycocotools/mask.py`` (github.com/cocodataset/cocoapi).

    >>> import numpy as np
    >>> mask = np.array([[0, 1, 1], [0, 1, 0]], dtype=bool)
    >>> rle_encode(mask)
    {'size': [2, 3], 'counts': '231'}
    >>> rle_encode(mask, compressed=False)
    {'size': [2, 3], 'counts': [2, 3, 1]}
    >>> bool((rle_decode({'size': [2, 3], 'counts': '231'}) == mask).all())
    True
"""
from __future__ import annotations

import numbers

import numpy as np

from minicv import backend

__all__ = ["rle_encode", "rle_decode", "polygons_to_mask", "segmentation_to_mask",
           "masks_to_boxes", "mask_area", "mask_iou"]

_CHUNKS = 12    # 5-bit chunks per count at most: 60 bits, plenty for any H * W


# ---------------------------------------------------------------------------------------------
# Run-length encoding
# ---------------------------------------------------------------------------------------------
def _check_size(op: str, size) -> tuple[int, int]:
    if (not isinstance(size, (list, tuple)) or len(size) != 2
            or not all(isinstance(s, numbers.Integral) and s >= 0 for s in size)):
        raise ValueError(f"{op}: rle['size'] must be [H, W] with two non-negative integers, "
                         f"got {size!r}")
    return int(size[0]), int(size[1])


def _runs(flat: np.ndarray) -> np.ndarray:
    """Run lengths of a 1-D bool array, starting with a (possibly empty) run of False."""
    n = flat.shape[0]
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1              # first index of each new run
    counts = np.diff(np.concatenate([[0], change, [n]]))
    if n and flat[0]:
        counts = np.concatenate([[0], counts])                     # the zeros' run is empty
    return counts.astype(np.int64)


def _counts_to_string(counts: np.ndarray) -> str:
    """COCO's compressed counts string (``rleToString`` in maskApi.c), for all counts at once."""
    x = counts.astype(np.int64)                                      # (R,)
    x[3:] -= counts[1:-2]                  # from the fourth count on, store the change from i - 2
    shifts = 5 * np.arange(_CHUNKS)                                  # (12,)
    chunks = (x[:, None] >> shifts) & 0x1F                           # (R, 12) 5-bit groups
    rest = x[:, None] >> (shifts + 5)                                # (R, 12) what is left after
    # another chunk is needed unless what is left is just the sign extension of this chunk
    more = np.where(chunks & 0x10, rest != -1, rest != 0)            # (R, 12)
    n_chunks = np.argmin(more, axis=1) + 1                           # (R,) first chunk with no more
    position = np.arange(_CHUNKS)
    used = position < n_chunks[:, None]                              # (R, 12)
    codes = chunks + 0x20 * (position < n_chunks[:, None] - 1) + 48  # continuation bit, offset '0'
    return codes[used].astype(np.uint8).tobytes().decode("ascii")   # row-major keeps chunk order


def _string_to_counts(op: str, text) -> np.ndarray:
    """Inverse of :func:`_counts_to_string` (``rleFrString`` in maskApi.c)."""
    raw = text.encode("ascii") if isinstance(text, str) else bytes(text)
    c = np.frombuffer(raw, dtype=np.uint8).astype(np.int64) - 48    # (L,) chunk + continuation
    if c.size == 0:
        return np.zeros(0, np.int64)
    if (c < 0).any() or (c > 63).any():
        bad = raw[int(np.flatnonzero((c < 0) | (c > 63))[0])]
        raise ValueError(f"{op}: rle['counts'] holds {chr(bad)!r}, not a COCO RLE character "
                         f"('0' to 'o')")
    last = (c & 0x20) == 0                                           # (L,) a count ends here
    if not last[-1]:
        raise ValueError(f"{op}: rle['counts'] string is cut off (its last character says "
                         f"another follows)")
    starts = np.flatnonzero(np.concatenate([[True], last[:-1]]))     # (R,) first chunk of a count
    lengths = np.diff(np.append(starts, c.size))                     # (R,) chunks per count
    if lengths.max() > _CHUNKS:
        raise ValueError(f"{op}: rle['counts'] has a count of {int(lengths.max())} characters; "
                         f"at most {_CHUNKS} fit in 64 bits")
    owner = np.cumsum(np.concatenate([[0], last[:-1]]))              # (L,) count of each chunk
    k = np.arange(c.size) - starts[owner]                            # (L,) chunk's place in count
    x = np.add.reduceat((c & 0x1F) << (5 * k), starts)               # (R,) unsigned values
    negative = (c[last] & 0x10) != 0                                 # sign bit of the last chunk
    x[negative] |= np.left_shift(np.int64(-1), 5 * lengths[negative])
    counts = x.copy()                      # undo the differences: counts[i] = x[i] + counts[i - 2]
    counts[1::2] = np.cumsum(x[1::2])                                # for i > 2 only, so the odd
    counts[2::2] = np.cumsum(x[2::2])                                # chain starts at 1, the even
    return counts                                                    # one at 2 (0 stands alone)


def rle_encode(mask, compressed: bool = True):
    """Run-length encode a binary mask in COCO's format.

    Parameters
    ----------
    mask : (H, W) or (K, H, W) array of bool (or integers, nonzero = True)
        One mask, or K masks encoded one by one.
    compressed : bool
        True: ``counts`` is COCO's compressed string (as in COCO JSON files; pycocotools gives
        the same characters as bytes). False: ``counts`` is the list of run lengths (the
        "uncompressed RLE" COCO uses for some crowd regions).

    Returns
    -------
    dict ``{"size": [H, W], "counts": str or list of int}``, or a list of K such dicts.

    Notes
    -----
    Runs are counted in column-major order and start with the zeros' run, which is 0 long when
    the first pixel is set; an empty (H * W = 0) mask gives counts [0], as pycocotools does.

    Examples
    --------
    >>> import numpy as np
    >>> rle_encode(np.ones((2, 3), dtype=bool), compressed=False)
    {'size': [2, 3], 'counts': [0, 6]}
    >>> rle_encode(np.ones((2, 3), dtype=bool))
    {'size': [2, 3], 'counts': '06'}
    """
    mask = backend.to_cpu(mask)
    if mask.dtype.kind not in "biu":
        raise TypeError(f"rle_encode: mask must be bool or integer, got dtype {mask.dtype} "
                        f"with shape {mask.shape}")
    if mask.ndim == 3:
        return [rle_encode(m, compressed) for m in mask]
    if mask.ndim != 2:
        raise ValueError(f"rle_encode: mask must have shape (H, W) or (K, H, W), got "
                         f"{mask.shape}")
    height, width = mask.shape
    counts = _runs((mask != 0).T.reshape(-1))                        # column-major pixel order
    counts = _counts_to_string(counts) if compressed else counts.tolist()
    return {"size": [height, width], "counts": counts}


def rle_decode(rle):
    """Decode a COCO RLE (compressed or uncompressed) into a bool mask.

    Parameters
    ----------
    rle : dict ``{"size": [H, W], "counts": str, bytes or list of int}``, or a list of them

    Returns
    -------
    (H, W) bool array, or (K, H, W) for a list of K RLEs (all of one size).

    Raises ValueError when ``size`` is not [H, W], a character is not a COCO RLE character,
    a count is negative, or the counts do not add up to H * W.

    Examples
    --------
    >>> rle_decode({"size": [2, 3], "counts": [2, 3, 1]}).astype(int)
    array([[0, 1, 1],
           [0, 1, 0]])
    """
    if isinstance(rle, (list, tuple)):
        masks = [rle_decode(r) for r in rle]
        if len({m.shape for m in masks}) > 1:
            raise ValueError(f"rle_decode: RLEs of different sizes cannot be stacked: "
                             f"{sorted({m.shape for m in masks})}")
        return np.stack(masks) if masks else np.zeros((0, 0, 0), bool)
    counts = _rle_counts("rle_decode", rle)
    height, width = _check_size("rle_decode", rle["size"])
    values = np.arange(counts.size) % 2 == 1                         # runs alternate 0, 1, 0, ...
    flat = np.repeat(values, counts)                                 # (H * W,) column-major
    return flat.reshape(width, height).T.copy()                      # (H, W)


def _rle_counts(op: str, rle) -> np.ndarray:
    """The run lengths of an RLE dict, checked against its size."""
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise ValueError(f"{op}: an RLE must be a dict with keys 'size' and 'counts', got "
                         f"{type(rle).__name__}"
                         + (f" with keys {sorted(rle)}" if isinstance(rle, dict) else ""))
    height, width = _check_size(op, rle["size"])
    raw = rle["counts"]
    if isinstance(raw, (str, bytes, bytearray)):
        counts = _string_to_counts(op, raw)
    else:
        counts = np.asarray(raw)
        if counts.ndim != 1 or (counts.size and counts.dtype.kind not in "iu"):
            raise ValueError(f"{op}: uncompressed rle['counts'] must be a flat list of "
                             f"integers, got shape {counts.shape} of {counts.dtype}")
        counts = counts.astype(np.int64)
    if (counts < 0).any():
        raise ValueError(f"{op}: rle['counts'] has a negative run length "
                         f"{int(counts[counts < 0][0])}")
    if int(counts.sum()) != height * width:
        raise ValueError(f"{op}: rle['counts'] add up to {int(counts.sum())} pixels but "
                         f"size {[height, width]} has {height * width}")
    return counts


# ---------------------------------------------------------------------------------------------
# Polygons
# ---------------------------------------------------------------------------------------------
def _polygon_to_mask(xy: np.ndarray, height: int, width: int) -> np.ndarray:
    """Even-odd rasterisation of one polygon (V, 2) on pixel centres, by scanlines.

    For each row of pixel centres cy = i + 0.5 in the polygon's vertical extent, every edge that
    the row crosses ((y1 < cy) != (y2 < cy), so a vertex on the row is counted once) meets it at
    x_cross. A centre cx is inside when an odd number of crossings lie strictly to its left, so
    each crossing toggles every column from the first centre right of it: a difference array,
    summed along the row.
    """
    mask = np.zeros((height, width), dtype=bool)
    if xy.shape[0] < 3 or height == 0 or width == 0:
        return mask                                                  # no area to cover
    x1, y1 = xy[:, 0], xy[:, 1]                                      # (E,) edge starts
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)                        # (E,) edge ends (closed)
    top = max(int(np.floor(y1.min() - 0.5)), 0)                      # rows whose centre may be in
    bottom = min(int(np.ceil(y1.max() - 0.5)) + 1, height)
    if top >= bottom:
        return mask
    cy = np.arange(top, bottom) + 0.5                                # (R,) row centres
    crosses = (y1 < cy[:, None]) != (y2 < cy[:, None])               # (R, E)
    dy = np.where(y2 == y1, 1.0, y2 - y1)                            # horizontal edges never cross
    x_cross = x1 + (cy[:, None] - y1) / dy * (x2 - x1)               # (R, E)
    first = np.floor(x_cross - 0.5).astype(np.int64) + 1             # first column with centre
    first = first.clip(0, width)                                     # right of the crossing
    rows = np.broadcast_to(np.arange(bottom - top)[:, None], crosses.shape)
    flat = rows[crosses] * (width + 1) + first[crosses]              # column `width` = off-image
    toggles = np.bincount(flat, minlength=(bottom - top) * (width + 1))
    toggles = toggles.reshape(bottom - top, width + 1)[:, :width]    # (R, W)
    mask[top:bottom] = np.cumsum(toggles, axis=1) % 2 == 1
    return mask


def polygons_to_mask(polygons, height: int, width: int) -> np.ndarray:
    """Rasterise the COCO polygons of one object into an (H, W) bool mask.

    Parameters
    ----------
    polygons : list of sequences of float, or one flat sequence
        Each polygon is ``[x1, y1, x2, y2, ...]`` in continuous pixel coordinates; the last
        vertex joins the first. A polygon with fewer than 3 vertices covers nothing.
    height, width : int
        The mask's size (the image's).

    Returns
    -------
    (H, W) bool array: the union of the polygons' masks.

    Notes
    -----
    A pixel is set when its centre is inside the polygon by the even-odd rule (a
    self-intersecting polygon has holes where it overlaps itself); see the module docstring for
    ties on edges and how this differs from pycocotools.

    Examples
    --------
    >>> polygons_to_mask([[1, 0, 3, 0, 3, 2, 1, 2]], 3, 4).astype(int)
    array([[0, 1, 1, 0],
           [0, 1, 1, 0],
           [0, 0, 0, 0]])
    """
    height, width = int(height), int(width)
    if height < 0 or width < 0:
        raise ValueError(f"polygons_to_mask: height and width must be >= 0, got "
                         f"({height}, {width})")
    if not isinstance(polygons, (list, tuple)) and not backend.is_array(polygons):
        raise TypeError(f"polygons_to_mask: polygons must be a list of [x1, y1, x2, y2, ...] "
                        f"lists, got {type(polygons).__name__}")
    if len(polygons) and isinstance(polygons[0], numbers.Real):
        polygons = [polygons]                                        # one flat polygon
    mask = np.zeros((height, width), dtype=bool)
    for number, polygon in enumerate(polygons):                      # a few per object
        xy = np.asarray(backend.to_cpu(np.asarray(polygon)), dtype=np.float64)
        if xy.ndim != 1 or xy.size % 2:
            raise ValueError(f"polygons_to_mask: polygon {number} must be a flat list "
                             f"[x1, y1, x2, y2, ...] of even length, got shape {xy.shape}")
        if not np.isfinite(xy).all():
            raise ValueError(f"polygons_to_mask: polygon {number} has a non-finite coordinate")
        mask |= _polygon_to_mask(xy.reshape(-1, 2), height, width)   # (V, 2) vertices
    return mask


def segmentation_to_mask(segmentation, height: int, width: int) -> np.ndarray:
    """Decode a COCO annotation's ``segmentation`` field into an (H, W) bool mask.

    Parameters
    ----------
    segmentation : list of polygons, or an RLE dict (compressed or uncompressed counts)
        What COCO stores: polygons for single objects, RLE mostly for crowd regions.
    height, width : int
        The image's size; an RLE's ``size`` must equal [height, width].

    Returns
    -------
    (H, W) bool array.

    Examples
    --------
    >>> segmentation_to_mask({"size": [2, 2], "counts": [1, 2, 1]}, 2, 2).astype(int)
    array([[0, 1],
           [1, 0]])
    """
    if isinstance(segmentation, dict):
        size = list(segmentation.get("size", []))
        if size != [height, width]:
            raise ValueError(f"segmentation_to_mask: RLE size {size} differs from the image "
                             f"size [{height}, {width}]")
        return rle_decode(segmentation)
    if isinstance(segmentation, (list, tuple)):
        return polygons_to_mask(segmentation, height, width)
    raise TypeError(f"segmentation_to_mask: segmentation must be a list of polygons or an RLE "
                    f"dict, got {type(segmentation).__name__}")


# ---------------------------------------------------------------------------------------------
# Boxes, areas, IoU
# ---------------------------------------------------------------------------------------------
def _check_masks(op: str, name: str, masks):
    if not backend.is_array(masks):
        masks = np.asarray(masks)
    if masks.ndim != 3:
        raise ValueError(f"{op}: {name} must have shape (K, H, W), got {tuple(masks.shape)}")
    if masks.dtype.kind not in "biu":
        raise TypeError(f"{op}: {name} must be bool (or 0/1 integers), got dtype {masks.dtype} "
                        f"with shape {tuple(masks.shape)}")
    return masks != 0


def masks_to_boxes(masks):
    """The tight box around each mask, in minicv's continuous xyxy coordinates.

    Parameters
    ----------
    masks : (K, H, W) bool array (NumPy or CuPy)

    Returns
    -------
    (K, 4) float32 array ``(x1, y1, x2, y2)``: x1 = first set column, x2 = last set column + 1
    (the pixel's right edge), likewise y; an empty mask gives (0, 0, 0, 0).

    Notes
    -----
    torchvision's ``masks_to_boxes`` returns the last column itself (x2 = last index), the
    pixel-index convention; pycocotools' ``toBbox`` gives (x, y, w, h) with w = last - first + 1,
    the same box as here.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((1, 4, 5), dtype=bool); m[0, 1:3, 2:5] = True
    >>> masks_to_boxes(m)
    array([[2., 1., 5., 3.]], dtype=float32)
    """
    masks = _check_masks("masks_to_boxes", "masks", masks)
    xp = backend.get_array_module(masks)
    height, width = masks.shape[1:]
    cols = masks.any(axis=1)                                         # (K, W) columns with a pixel
    rows = masks.any(axis=2)                                         # (K, H) rows with a pixel
    x1 = cols.argmax(axis=1)                                         # (K,) first set column
    x2 = width - cols[:, ::-1].argmax(axis=1)                        # (K,) last set column + 1
    y1 = rows.argmax(axis=1)
    y2 = height - rows[:, ::-1].argmax(axis=1)
    boxes = xp.stack([x1, y1, x2, y2], axis=1).astype(xp.float32)    # (K, 4)
    return xp.where(cols.any(axis=1)[:, None], boxes, xp.float32(0))


def mask_area(masks):
    """Number of pixels in each mask.

    Parameters
    ----------
    masks : (K, H, W) or (H, W) bool array, or an RLE dict, or a list of RLE dicts
        An RLE's area is read from its counts (the sum of the odd runs) without decoding it.

    Returns
    -------
    (K,) int64 array, or an int for a single (H, W) mask or RLE dict.

    Examples
    --------
    >>> mask_area({"size": [2, 3], "counts": "231"})
    3
    """
    if isinstance(masks, dict):
        return int(_rle_counts("mask_area", masks)[1::2].sum())
    if isinstance(masks, (list, tuple)) and (not masks or isinstance(masks[0], dict)):
        return np.array([mask_area(r) for r in masks], dtype=np.int64)
    if backend.is_array(masks) and masks.ndim == 2:
        return int(mask_area(masks[None])[0])
    masks = _check_masks("mask_area", "masks", masks)
    k = masks.shape[0]
    return masks.reshape(k, -1).sum(axis=1).astype(backend.get_array_module(masks).int64)


def mask_iou(masks1, masks2, iscrowd=None):
    """Intersection over union of every pair of masks, with COCO's rule for crowd regions.

    Parameters
    ----------
    masks1 : (N, H, W) bool array
        Typically the detections.
    masks2 : (M, H, W) bool array
        Typically the ground truth.
    iscrowd : (M,) bool array, optional
        For a crowd region j of ``masks2`` the union is replaced by the area of the mask of
        ``masks1`` (IoU = |a & b| / |a|): a detection lying inside a crowd matches it fully, as
        in pycocotools' ``iou(dt, gt, iscrowd)``.

    Returns
    -------
    (N, M) float64 array; a pair whose union is empty has IoU 0 (pycocotools' rule).

    Notes
    -----
    Flattening the masks to rows of 0/1 numbers, the intersections of all pairs are one matrix
    product: inter = A @ B.T, (N, H*W) @ (H*W, M). The product is computed in float32 when
    H * W < 2**24 (every partial sum is an integer below 2**24, so it is exact) and in float64
    otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros((1, 2, 4), dtype=bool); a[0, :, :2] = True      # left half, area 4
    >>> b = np.zeros((2, 2, 4), dtype=bool); b[0, :, 1:] = True; b[1] = True
    >>> mask_iou(a, b)                                       # 2 / 8 and 4 / 8
    array([[0.25, 0.5 ]])
    >>> mask_iou(a, b, iscrowd=np.array([False, True]))      # crowd: 4 / |a| = 1
    array([[0.25, 1.  ]])
    """
    a = _check_masks("mask_iou", "masks1", masks1)
    b = _check_masks("mask_iou", "masks2", masks2)
    xp = backend.get_array_module(a, b, op="mask_iou")
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"mask_iou: masks1 {tuple(a.shape)} and masks2 {tuple(b.shape)} must "
                         f"have the same (H, W)")
    n, m = a.shape[0], b.shape[0]
    pixels = a.shape[1] * a.shape[2]
    dtype = xp.float32 if pixels < 2 ** 24 else xp.float64
    a_flat = a.reshape(n, pixels).astype(dtype)                      # (N, H*W)
    b_flat = b.reshape(m, pixels).astype(dtype)                      # (M, H*W)
    inter = (a_flat @ b_flat.T).astype(xp.float64)                   # (N, M) exact counts
    area1 = a_flat.sum(axis=1, dtype=xp.float64)                     # (N,)
    area2 = b_flat.sum(axis=1, dtype=xp.float64)                     # (M,)
    union = area1[:, None] + area2[None, :] - inter                  # (N, M)
    if iscrowd is not None:
        crowd = xp.asarray(iscrowd).astype(bool).reshape(-1)
        if crowd.shape != (m,):
            raise ValueError(f"mask_iou: iscrowd must have shape (M,) = ({m},) to match "
                             f"masks2 {tuple(b.shape)}, got {tuple(crowd.shape)}")
        union = xp.where(crowd[None, :], area1[:, None], union)      # crowd: divide by |a|
    return xp.where(union > 0, inter / xp.where(union > 0, union, 1.0), 0.0)
