"""Figures of the layer pages: what pooling, transposed convolution and RoI ops compute.

- :func:`pooling_switches_figure`   docs/pooling.md: input, pooled values, switches, unpooled
- :func:`checkerboard_figure`       docs/conv.md: ConvTranspose2d(k4, s2, p1) with random weights
  against the same layer initialised by ``nn.init.bilinear_``
- :func:`roi_figure`                docs/roi.md: the cells RoI pooling reads and the points
  RoIAlign samples for one box (pass your own box, map size, scale and output size)

``docs/make_figures.py`` redraws every figure of the docs.
"""
from __future__ import annotations

import numpy as np

from minicv import backend, nn
from minicv import functional as F
from minicv.autograd import Tensor
from minicv.viz._figure import new_figure as _new_figure, save as _save

__all__ = ["pooling_switches_figure", "checkerboard_figure", "roi_figure", "POOLING_EXAMPLE",
           "ROI_EXAMPLE", "DOC_FIGURES"]

# The 4x4 plane of docs/pooling.md: the top-right window holds a tie (6, 6) -- the first wins.
POOLING_EXAMPLE = np.array([[1, 8, 2, 0],
                            [3, 4, 6, 6],
                            [5, 0, 9, 2],
                            [7, 2, 1, 3]], dtype=np.float32)


def _grid(ax, shape, every=1, **line):
    """Cell borders (every=1) or window borders (every=kernel) over an imshow of ``shape``."""
    rows, cols = shape
    for r in range(0, rows + 1, every):
        ax.axhline(r - 0.5, **line)
    for c in range(0, cols + 1, every):
        ax.axvline(c - 0.5, **line)


def _heatmap(ax, values, title, *, cmap="viridis", vmin=None, vmax=None, labels=None,
             window=None):
    """A small array as coloured cells with each cell's number written in it."""
    ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax)
    lo = values.min() if vmin is None else vmin
    hi = values.max() if vmax is None else vmax
    middle = (lo + hi) / 2
    for (r, c), v in np.ndenumerate(values):
        text = labels[r, c] if labels is not None else f"{v:g}"
        ax.text(c, r, text, ha="center", va="center", fontsize=11,
                color="black" if v > middle else "white")
    _grid(ax, values.shape, color="white", linewidth=0.5)
    if window is not None:
        _grid(ax, values.shape, every=window, color="red", linewidth=2)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def pooling_switches_figure(path=None, x=None, kernel_size: int = 2, dpi: int = 100):
    """Max pooling with switches and unpooling, as four heatmaps.

    Parameters
    ----------
    path : str or path-like, optional
        Save the figure there as PNG.
    x : (H, W) array, optional
        The plane to pool (default :data:`POOLING_EXAMPLE`, a 4x4 with a tie).
    kernel_size : int
        Window size and stride of the pooling.
    dpi : int
        Resolution of the saved PNG.

    Returns
    -------
    matplotlib.figure.Figure
        Panels: the input with the windows outlined and each window's maximum boxed; the
        pooled values; the switches (flat offsets h*W + w, with (h, w) beneath); the unpooled
        plane, zero except at the switches.
    """
    plane = POOLING_EXAMPLE if x is None else np.asarray(x, dtype=np.float32)
    h, w = plane.shape
    y, switches = F.max_pool2d(plane.reshape(1, 1, h, w), kernel_size, return_indices=True)
    unpooled = F.max_unpool2d(y, switches, kernel_size, output_size=(h, w))
    y, s, u = y.numpy()[0, 0], switches.numpy()[0, 0], unpooled.numpy()[0, 0]

    fig = _new_figure(figsize=(11, 3.2), layout="constrained")
    axes = fig.subplots(1, 4)
    vmin, vmax = float(plane.min()), float(plane.max())
    _heatmap(axes[0], plane, f"input x ({h}x{w}), {kernel_size}x{kernel_size} windows",
             vmin=vmin, vmax=vmax, window=kernel_size)
    for r, c in zip(*np.unravel_index(s.ravel(), (h, w))):     # box each window's winner
        axes[0].add_patch(_rectangle((c - 0.5, r - 0.5), edgecolor="orange"))
    _heatmap(axes[1], y, "max_pool2d: y", vmin=vmin, vmax=vmax)
    labels = np.array([f"{v}\n({v // w}, {v % w})" for v in s.ravel()]).reshape(s.shape)
    _heatmap(axes[2], s.astype(float), "switches: h*W + w  (h, w)", cmap="cividis",
             labels=labels)
    _heatmap(axes[3], u, "max_unpool2d(y, switches)", vmin=vmin, vmax=vmax, window=kernel_size)
    return _save(fig, path, dpi)


def _rectangle(corner, **style):
    from matplotlib.patches import Rectangle
    return Rectangle(corner, 1, 1, fill=False, linewidth=3, **style)


def _smooth_image(size: int) -> np.ndarray:
    """An image-like (size, size) test picture in [0, 1]: two soft blobs on a gentle ramp."""
    r, c = np.mgrid[0:size, 0:size] / (size - 1)
    blob = lambda cy, cx, s: np.exp(-((r - cy) ** 2 + (c - cx) ** 2) / (2 * s * s))  # noqa: E731
    image = 0.25 * c + 0.8 * blob(0.35, 0.35, 0.18) + 0.5 * blob(0.7, 0.75, 0.12)
    return (image / image.max()).astype(np.float32)


def checkerboard_figure(path=None, size: int = 12, seed: int = 2, dpi: int = 100):
    """Transposed convolution with random weights makes checkerboards; bilinear_ does not.

    One layer, ``nn.ConvTranspose2d(1, 1, kernel_size=4, stride=2, padding=1, bias=False)``
    (an x2 upsampling), with two sets of weights: its default random initialisation
    (Kaiming-uniform, as PyTorch's), and those set by :func:`minicv.nn.init.bilinear_` (FCN).
    Three inputs: an impulse (the output is the kernel itself, placed at the impulse), a
    constant (random weights give each of the four output phases a different sum of taps: a
    checkerboard), and a smooth image-like picture.

    Parameters
    ----------
    path : str or path-like, optional
        Save the figure there as PNG.
    size : int
        Height and width of the inputs (the outputs are twice that).
    seed : int
        Seed of the random weights.
    dpi : int
        Resolution of the saved PNG.

    Returns
    -------
    matplotlib.figure.Figure
        A 3 x 3 grid: rows impulse, constant, smooth; columns input, random weights, bilinear.
    """
    random_layer = nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1, bias=False, rng=seed)
    bilinear_layer = nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1, bias=False)
    nn.init.bilinear_(bilinear_layer.weight)

    impulse = np.zeros((size, size), dtype=np.float32)
    impulse[size // 2, size // 2] = 1
    inputs = [("impulse", impulse), ("constant", np.ones((size, size), dtype=np.float32)),
              ("smooth image", _smooth_image(size))]

    fig = _new_figure(figsize=(7.5, 7.5), layout="constrained")
    axes = fig.subplots(3, 3)
    for row, (name, image) in enumerate(inputs):
        x = image.reshape(1, 1, size, size)
        panels = [(f"{name} input ({size}x{size})", image)]
        for label, layer in (("random weights", random_layer),
                             ("bilinear_ weights", bilinear_layer)):
            y = layer(x).numpy()[0, 0]                                  # (2 * size, 2 * size)
            panels.append((f"{label} ({2 * size}x{2 * size})", y))
        for col, (ax, (title, values)) in enumerate(zip(axes[row], panels)):
            scale = {"vmin": 0, "vmax": 1} if col == 0 else {}    # inputs lie in [0, 1]
            ax.imshow(values, cmap="gray", interpolation="nearest", **scale)
            ax.set_title(title, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("ConvTranspose2d(kernel_size=4, stride=2, padding=1): random vs bilinear_ "
                 "weights", fontsize=10)
    return _save(fig, path, dpi)


# ---------------------------------------------------------------------------------------------
# docs/roi.md: RoI pooling against RoIAlign on one box
# ---------------------------------------------------------------------------------------------
# The box of docs/roi.md, in image pixels (x1, y1, x2, y2): at stride 16 it spans feature
# coordinates (1.375, 1.8125) to (7.8125, 6.625) -- no edge on a cell border.
ROI_EXAMPLE = (22.0, 29.0, 125.0, 106.0)


def _c_round(v):
    """Round half away from zero, as C's round() (NumPy's np.round rounds half to even)."""
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def _roi_pool_cells(lo, hi, pooled, size, spatial_scale):
    """RoI pooling along one axis: the cells [first, last) each of the ``pooled`` bins reads.

    The box edges are scaled and rounded to whole cells, the RoI is end-inclusive
    (length = max(end - start + 1, 1)), and bin p covers [floor(p * bin), ceil((p + 1) * bin))
    after the RoI start, clipped to the map [0, size).
    """
    start, end = _c_round(lo * spatial_scale), _c_round(hi * spatial_scale)
    bin_size = max(end - start + 1, 1) / pooled
    p = np.arange(pooled)                                                # (pooled,)
    first = np.clip(np.floor(p * bin_size) + start, 0, size).astype(int)
    last = np.clip(np.ceil((p + 1) * bin_size) + start, 0, size).astype(int)
    return first, last


def _roi_align_samples(lo, hi, pooled, spatial_scale, sampling_ratio, aligned):
    """RoIAlign along one axis, in cell-index coordinates (cell i's centre is at i):
    the sampled interval (start, length) and the sample positions, shape (pooled, grid)."""
    start = lo * spatial_scale - (0.5 if aligned else 0.0)
    length = hi * spatial_scale - (0.5 if aligned else 0.0) - start
    if not aligned:
        length = max(length, 1.0)
    bin_size = length / pooled
    grid = sampling_ratio if sampling_ratio > 0 else max(int(np.ceil(length / pooled)), 0)
    p, k = np.arange(pooled)[:, None], np.arange(grid)[None, :]
    return start, length, start + p * bin_size + (k + 0.5) * bin_size / grid   # (pooled, grid)


def _pair(value, name):
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2 or not all(float(v) == int(v) and int(v) >= 1 for v in pair):
        raise ValueError(f"roi_figure: {name} must be a positive int or a pair of them, "
                         f"got {value!r}")
    return int(pair[0]), int(pair[1])


def roi_figure(path=None, box=ROI_EXAMPLE, feature_size=(10, 10), output_size=(3, 3),
               spatial_scale: float = 1 / 16, sampling_ratio: int = 2, aligned: bool = True,
               dpi: int = 100):
    """RoI pooling and RoIAlign reading the same box from a feature map, side by side.

    Parameters
    ----------
    path : str or path-like, optional
        Save the figure there as PNG.
    box : (4,) sequence of float
        (x1, y1, x2, y2) in image pixels, as in a row of ``rois`` without its batch index
        (default :data:`ROI_EXAMPLE`).
    feature_size : int or (H, W)
        Size of the feature map the box is pooled from.
    output_size : int or (PH, PW)
        The pooled size: the box is cut into PH x PW bins.
    spatial_scale : float
        Feature cells per image pixel (1/16 for a stride-16 backbone).
    sampling_ratio : int
        RoIAlign's samples per bin along each axis; 0 or below: adaptive,
        ceil(RoI height / PH) by ceil(RoI width / PW).
    aligned : bool
        RoIAlign's half-pixel offset (subtract 0.5 after scaling).
    dpi : int
        Resolution of the saved PNG.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels on the same H x W grid of feature cells (cell i centred at i), the box drawn
        dashed in red where it truly lies (feature coordinate ``x * spatial_scale``, a cell
        spanning [i, i + 1)):

        - RoI pooling: the box rounded to whole cells (thick navy) and its PH x PW bins, each
          rounded outwards (thin navy); a cell's shade counts the bins that read it (bins
          overlap by one cell where a bin edge falls inside a cell).
        - RoIAlign: the sampled box cut into its bins (navy) and the sample points (dots;
          crosses for samples off the map, which count as zero); a cell's shade is the weight
          the bilinear samples give it -- the feature gradient of ``F.roi_align(...).sum()``,
          computed by minicv's backward.
    """
    values = np.asarray(box, dtype=np.float64)
    if values.shape != (4,) or not np.isfinite(values).all():
        raise ValueError(f"roi_figure: box must be 4 finite numbers (x1, y1, x2, y2), got "
                         f"{box!r}")
    h, w = _pair(feature_size, "feature_size")
    ph, pw = _pair(output_size, "output_size")
    x1, y1, x2, y2 = values.tolist()

    # RoI pooling: which cells each bin reads; count[r, c] = (bins over row r) * (bins over col c)
    rows_first, rows_last = _roi_pool_cells(y1, y2, ph, h, spatial_scale)          # (PH,) each
    cols_first, cols_last = _roi_pool_cells(x1, x2, pw, w, spatial_scale)          # (PW,) each
    in_rows = (np.arange(h) >= rows_first[:, None]) & (np.arange(h) < rows_last[:, None])
    in_cols = (np.arange(w) >= cols_first[:, None]) & (np.arange(w) < cols_last[:, None])
    count = np.outer(in_rows.sum(0), in_cols.sum(0))                              # (H, W)

    # RoIAlign: the sample points, and the weight of every cell from minicv's own backward
    y_start, y_length, ys = _roi_align_samples(y1, y2, ph, spatial_scale, sampling_ratio,
                                               aligned)                            # (PH, GH)
    x_start, x_length, xs = _roi_align_samples(x1, x2, pw, spatial_scale, sampling_ratio,
                                               aligned)                            # (PW, GW)
    features = Tensor(np.zeros((1, 1, h, w)), requires_grad=True)
    rois = np.array([[0.0, x1, y1, x2, y2]])                                       # (1, 5)
    F.roi_align(features, rois, (ph, pw), spatial_scale=spatial_scale,
                sampling_ratio=sampling_ratio, aligned=aligned).sum().backward()
    weights = backend.to_cpu(features.grad)[0, 0]                                  # (H, W)

    fig = _new_figure(figsize=(11, 5.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    sample_y, sample_x = np.meshgrid(ys.ravel(), xs.ravel(), indexing="ij")        # (PH*GH, PW*GW)
    on_map = (sample_y >= -1) & (sample_y <= h) & (sample_x >= -1) & (sample_x <= w)
    exact = (x1 * spatial_scale - 0.5, y1 * spatial_scale - 0.5,     # plot coordinates: a
             x2 * spatial_scale - 0.5, y2 * spatial_scale - 0.5)     # continuous c sits at c - 0.5
    # what must be in view along x and along y: the map, the true box, the sampled box
    x_reach = [-0.5, w - 0.5, exact[0], exact[2], x_start, x_start + x_length]
    y_reach = [-0.5, h - 0.5, exact[1], exact[3], y_start, y_start + y_length]
    limits = (min(x_reach) - 0.3, max(x_reach) + 0.3, min(y_reach) - 0.3, max(y_reach) + 0.3)

    left.imshow(count, cmap="Blues", vmin=0, vmax=max(3, count.max() + 1))
    title = (f"RoI pooling: box rounded to cells [{cols_first[0]}, {cols_last[-1]}) x "
             f"[{rows_first[0]}, {rows_last[-1]}),\n{ph}x{pw} bins rounded outwards; "
             f"shade = bins reading the cell")
    _box_grid(left, count.shape, title, limits)
    for r0, r1 in zip(rows_first, rows_last):
        for c0, c1 in zip(cols_first, cols_last):
            if r1 > r0 and c1 > c0:                                    # an empty bin reads nothing
                left.add_patch(_outline(c0 - 0.5, r0 - 0.5, c1 - c0, r1 - r0,
                                        edgecolor="navy", linewidth=1))
    if rows_last[-1] > rows_first[0] and cols_last[-1] > cols_first[0]:
        left.add_patch(_outline(cols_first[0] - 0.5, rows_first[0] - 0.5,
                                cols_last[-1] - cols_first[0], rows_last[-1] - rows_first[0],
                                edgecolor="navy", linewidth=2.5))

    right.imshow(weights, cmap="Oranges", vmin=0, vmax=max(float(weights.max()), 1e-12) * 1.25)
    grid = ys.shape[1]
    title = (f"RoIAlign ({'aligned' if aligned else 'aligned=False'}): exact {ph}x{pw} bins, "
             f"{grid}x{xs.shape[1]} bilinear samples each;\nshade = bilinear weight on the cell")
    _box_grid(right, weights.shape, title, limits)
    y_edges = y_start + np.arange(ph + 1) * y_length / ph                          # (PH + 1,)
    x_edges = x_start + np.arange(pw + 1) * x_length / pw                          # (PW + 1,)
    for y in y_edges:
        right.plot([x_edges[0], x_edges[-1]], [y, y], color="navy", linewidth=1)
    for x in x_edges:
        right.plot([x, x], [y_edges[0], y_edges[-1]], color="navy", linewidth=1)
    right.scatter(sample_x[on_map], sample_y[on_map], s=14, color="black", zorder=3)
    if (~on_map).any():
        right.scatter(sample_x[~on_map], sample_y[~on_map], s=18, marker="x", color="grey",
                      zorder=3)

    for ax in (left, right):        # the box where it truly lies, on both panels
        ax.add_patch(_outline(exact[0], exact[1], exact[2] - exact[0], exact[3] - exact[1],
                              edgecolor="red", linewidth=2, linestyle="--"))
    stride = 1 / spatial_scale
    scale = f"1/{stride:g}" if stride == round(stride) else f"{spatial_scale:g}"
    fig.suptitle(f"box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) px, spatial_scale {scale}, on a {h}x{w} "
                 f"feature map -- red dashes: where the box truly lies; navy: the bins",
                 fontsize=10)
    return _save(fig, path, dpi)


def _box_grid(ax, shape, title, limits):
    """Cell borders, cell-index ticks, a title and the limits (x_lo, x_hi, y_lo, y_hi)."""
    _grid(ax, shape, color="lightgrey", linewidth=0.5)
    x_lo, x_hi, y_lo, y_hi = limits
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_hi, y_lo)                                            # row 0 at the top
    ax.set_xticks(range(shape[1]))
    ax.set_yticks(range(shape[0]))
    ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=9)


def _outline(x, y, width, height, **style):
    from matplotlib.patches import Rectangle
    return Rectangle((x, y), width, height, fill=False, **style)


# docs/figures/<name>: the function that draws it (docs/make_figures.py redraws them all)
DOC_FIGURES = {
    "pooling_switches.png": pooling_switches_figure,
    "conv_transpose_checkerboard.png": checkerboard_figure,
    "roi_pool_vs_align.png": roi_figure,
}
