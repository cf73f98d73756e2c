"""Pictures: the figures of the docs, computed with minicv's own ops and drawn with matplotlib.

matplotlib is the optional ``plot`` extra (``pip install minicv[plot]``). It is imported only
when a figure is drawn, so the rest of minicv never needs it. The functions build a
``matplotlib.figure.Figure`` directly (no pyplot, no global state, no backend switching): they
return it -- a notebook displays it -- and, given ``path``, also save it as a PNG.

- :func:`pooling_switches_figure`   docs/pooling.md: input, pooled values, switches, unpooled
- :func:`checkerboard_figure`       docs/conv.md: ConvTranspose2d(k4, s2, p1) with random weights
  against the same layer initialised by ``nn.init.bilinear_``

``docs/make_figures.py`` redraws every figure of the docs.
"""
from __future__ import annotations

import numpy as np

from minicv import functional as F
from minicv import nn

__all__ = ["pooling_switches_figure", "checkerboard_figure", "POOLING_EXAMPLE", "DOC_FIGURES"]

# The 4x4 plane of docs/pooling.md: the top-right window holds a tie (6, 6) -- the first wins.
POOLING_EXAMPLE = np.array([[1, 8, 2, 0],
                            [3, 4, 6, 6],
                            [5, 0, 9, 2],
                            [7, 2, 1, 3]], dtype=np.float32)


def _new_figure(**kwargs):
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("minicv.viz draws with matplotlib, which is not installed: "
                          "pip install 'minicv[plot]' (or pip install matplotlib)") from exc
    return Figure(**kwargs)


def _save(fig, path, dpi):
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig


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


# docs/figures/<name>: the function that draws it (docs/make_figures.py redraws them all)
DOC_FIGURES = {
    "pooling_switches.png": pooling_switches_figure,
    "conv_transpose_checkerboard.png": checkerboard_figure,
}
