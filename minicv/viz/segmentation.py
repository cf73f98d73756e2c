"""Pictures of segmentations: class colours, overlays and image | truth | prediction grids.

These work on plain uint8 arrays and save with Pillow (a dependency), not matplotlib, so
``minicv train`` and ``minicv predict`` draw their pictures on a bare installation.

- :func:`palette`            the Pascal VOC colour map: class k gets the colour whose bits are
                             k's bits interleaved over R, G, B (0 black, 1 dark red, 2 green, ...)
- :func:`colorize`           (H, W) class indices -> (H, W, 3) colours; the ignore label is white
- :func:`overlay`            a translucent colour mask over an image
- :func:`segmentation_grid`  columns of pictures (image | ground truth | predictions...) with a
                             title over each column and a legend of class colours underneath
- :func:`denormalize`        undo ``Normalize`` to show a network's input
- :func:`save_png`           write a uint8 picture
"""
from __future__ import annotations

import os

import numpy as np

from minicv import backend

__all__ = [
    "IGNORE_COLOR",
    "colorize",
    "denormalize",
    "overlay",
    "palette",
    "save_png",
    "segmentation_grid",
]

IGNORE_COLOR = (255, 255, 255)


def palette(num_classes: int = 256) -> np.ndarray:
    """The Pascal VOC colour map, (num_classes, 3) uint8.

    Class ``k``'s colour takes bit ``j`` of R, G, B from bits ``3 i``, ``3 i + 1``, ``3 i + 2``
    of ``k`` (``j = 7 - i``), so neighbouring class indices get very different colours.

    >>> palette(4).tolist()
    [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]]
    """
    k = np.arange(num_classes)
    colours = np.zeros((num_classes, 3), dtype=np.int64)
    for i in range(8):                          # 8 bit planes, each 3 bits of k
        for channel in range(3):
            bit = (k >> (3 * i + channel)) & 1
            colours[:, channel] |= bit << (7 - i)
    return colours.astype(np.uint8)


def colorize(mask, num_classes: int | None = None, ignore_index: int | None = None,
             colours=None) -> np.ndarray:
    """Class-index mask (H, W) -> colour picture (H, W, 3) uint8 (ignore label: white)."""
    mask = np.asarray(backend.to_cpu(mask))
    if mask.ndim != 2:
        raise ValueError(f"colorize: mask must be (H, W), got shape {mask.shape}")
    if colours is None:
        colours = palette(max(int(num_classes or 0), int(mask.max(initial=0)) + 1, 1))
    colours = np.asarray(colours, dtype=np.uint8)
    ignored = mask == ignore_index if ignore_index is not None else np.zeros(mask.shape, bool)
    bad = ~ignored & ((mask < 0) | (mask >= len(colours)))
    if bad.any():
        raise ValueError(f"colorize: mask holds labels {np.unique(mask[bad]).tolist()} outside "
                         f"[0, {len(colours)}) of the palette")
    out = colours[np.where(ignored, 0, mask)]           # (H, W, 3)
    out[ignored] = IGNORE_COLOR
    return out


def overlay(image, mask, num_classes: int | None = None, ignore_index: int | None = None,
            alpha: float = 0.5, colours=None) -> np.ndarray:
    """Blend the class colours of ``mask`` (H, W) into ``image`` (H, W, 3) uint8.

    Background (class 0) and ignored pixels keep the image; every other pixel becomes
    ``(1 - alpha) * image + alpha * colour``.
    """
    image = np.asarray(image)
    mask = np.asarray(backend.to_cpu(mask))
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[:2] != mask.shape:
        raise ValueError(f"overlay: image must be (H, W, 3) and mask (H, W) of the same H, W; "
                         f"got {image.shape} and {mask.shape}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"overlay: alpha must be in [0, 1], got {alpha}")
    colour = colorize(mask, num_classes, ignore_index, colours).astype(np.float32)
    blended = (1.0 - alpha) * image.astype(np.float32) + alpha * colour
    keep = (mask == 0) | ((mask == ignore_index) if ignore_index is not None else False)
    out = np.where(keep[..., None], image.astype(np.float32), blended)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def denormalize(image, mean, std) -> np.ndarray:
    """(3, H, W) float normalised image -> (H, W, 3) uint8 (inverse of ``Normalize``)."""
    image = np.asarray(backend.to_cpu(image), dtype=np.float32)
    mean = np.asarray(mean, np.float32)[:, None, None]
    std = np.asarray(std, np.float32)[:, None, None]
    pixels = (image * std + mean) * 255.0
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8).transpose(1, 2, 0)


def _text(canvas: np.ndarray, xy, text: str, fill=(0, 0, 0)) -> np.ndarray:
    from PIL import Image, ImageDraw
    picture = Image.fromarray(canvas)
    ImageDraw.Draw(picture).text(xy, text, fill=fill)
    return np.asarray(picture).copy()


def segmentation_grid(columns: dict, classes=None, ignore_index: int | None = None,
                      scale: int = 1, gap: int = 4, path=None) -> np.ndarray:
    """Lay pictures out in titled columns, one row per example, and a colour legend below.

    Parameters
    ----------
    columns : dict of title -> list of pictures
        Each picture is an (H, W, 3) uint8 image or an (H, W) class-index mask (coloured with
        :func:`colorize`). Every column has the same number of rows; pictures in a row share H, W.
        E.g. ``{"image": images, "ground truth": gts, "FCN-8s": preds}``.
    classes : sequence of str, optional
        Class names for the legend (and the palette size).
    scale : int
        Each picture is enlarged ``scale`` times (nearest neighbour) -- small inputs read better.
    path : str, optional
        Save the grid as a PNG there.

    Returns
    -------
    (H_total, W_total, 3) uint8 array
    """
    titles = list(columns)
    if not titles:
        raise ValueError("segmentation_grid: no columns given")
    rows = {len(columns[t]) for t in titles}
    if len(rows) != 1 or 0 in rows:
        raise ValueError(f"segmentation_grid: every column needs the same, non-zero number of "
                         f"pictures; got {({t: len(columns[t]) for t in titles})}")
    num_classes = len(classes) if classes is not None else None

    def as_rgb(picture):
        picture = np.asarray(backend.to_cpu(picture))
        if picture.ndim == 2:
            picture = colorize(picture, num_classes, ignore_index)
        if picture.dtype != np.uint8 or picture.ndim != 3 or picture.shape[2] != 3:
            raise ValueError(f"segmentation_grid: pictures are (H, W, 3) uint8 or (H, W) masks, "
                             f"got {picture.dtype} {picture.shape}")
        return picture.repeat(scale, axis=0).repeat(scale, axis=1)

    grid = [[as_rgb(p) for p in columns[t]] for t in titles]         # [column][row]
    heights = [max(col[r].shape[0] for col in grid) for r in range(len(grid[0]))]
    widths = [max(p.shape[1] for p in col) for col in grid]
    header, legend_rows = 14, 0
    if classes is not None:
        per_row = max(1, sum(widths) // 110)
        legend_rows = -(-len(classes) // per_row)
    total_h = header + sum(heights) + gap * len(heights) + 14 * legend_rows + gap
    total_w = sum(widths) + gap * (len(widths) + 1)
    canvas = np.full((total_h, total_w, 3), 255, np.uint8)
    x = gap
    for title, col, w in zip(titles, grid, widths):
        canvas = _text(canvas, (x, 1), title)
        y = header
        for picture, h in zip(col, heights):
            canvas[y:y + picture.shape[0], x:x + picture.shape[1]] = picture
            y += h + gap
        x += w + gap
    if classes is not None:
        colours = palette(len(classes))
        y0 = header + sum(heights) + gap * len(heights)
        for k, name in enumerate(classes):
            row, slot = divmod(k, per_row)
            x, y = gap + slot * 110, y0 + row * 14
            canvas[y + 2:y + 12, x:x + 10] = colours[k]
            canvas = _text(canvas, (x + 13, y + 1), str(name)[:16])
    if path is not None:
        save_png(canvas, path)
    return canvas


def save_png(picture, path) -> None:
    """Write an (H, W, 3) uint8 picture as a PNG (folders are created as needed)."""
    from PIL import Image
    folder = os.path.dirname(os.fspath(path))
    if folder:
        os.makedirs(folder, exist_ok=True)
    Image.fromarray(np.asarray(picture, dtype=np.uint8)).save(path)
