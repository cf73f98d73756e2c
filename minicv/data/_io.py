"""Reading images and label masks from files, with errors that name the file.

Two readers, both through Pillow (its decoders release the GIL, so a thread pool can read
several files at once -- see ``DataLoader(num_workers=...)``):

- ``read_image(path)``  -> uint8 (H, W, 3) RGB. Greyscale, palette, CMYK and 1-bit images are
  converted to RGB; an alpha channel is dropped (not composited).
- ``read_mask(path)``   -> int64 (H, W) class indices. The file must have one channel: a greyscale
  ('L') PNG holds the indices as grey levels, a palette ('P') PNG -- Pascal VOC's format -- holds
  them as palette indices (the colours are only for viewing), 16-bit greyscale allows more
  than 256 classes. An RGB mask is refused: its colours would first have to be mapped to classes.

A missing file raises FileNotFoundError, a file Pillow cannot decode raises ValueError; both
messages start with the caller's name (``op``) and quote the path.
"""
from __future__ import annotations

import collections
import os
import warnings

import numpy as np
from PIL import Image

__all__ = ["read_image", "read_mask", "warn_skipped"]

# Modes whose pixel values are class indices (Pillow's names): 8-bit grey, palette, 1-bit,
# 32-bit integer and the 16-bit greyscale variants.
_INDEX_MODES = ("L", "P", "1", "I", "I;16", "I;16L", "I;16B", "I;16N")


def _open(op: str, path, what: str) -> Image.Image:
    """Open and decode ``path`` fully (Pillow is lazy: a truncated file fails on load)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{op}: {what} file '{path}' does not exist")
    image = None
    try:
        image = Image.open(path)
        image.load()
    except (OSError, ValueError, SyntaxError) as exc:   # what Pillow raises for a bad file
        if image is not None:
            image.close()
        raise ValueError(f"{op}: cannot read {what} file '{path}' as an image ({exc})") from exc
    return image


def read_image(path, op: str = "read_image") -> np.ndarray:
    """Read an image file as an RGB uint8 array.

    Parameters
    ----------
    path : str or os.PathLike
        Any format Pillow decodes (PNG, JPEG, BMP, ...).
    op : str
        The name error messages start with (a dataset passes its own).

    Returns
    -------
    image : np.ndarray, uint8 (H, W, 3)
        RGB. Greyscale is replicated to three channels, a palette is applied, alpha is dropped.
    """
    with _open(op, path, "image") as image:
        if image.mode == "P" and "transparency" in image.info:
            image = image.convert("RGBA")          # Pillow's advice for palette transparency
        if image.mode != "RGB":
            image = image.convert("RGB")
        return np.asarray(image, dtype=np.uint8).copy()   # (H, W, 3), writable


def read_mask(path, op: str = "read_mask") -> np.ndarray:
    """Read a one-channel label image as an int64 array of class indices.

    Parameters
    ----------
    path : str or os.PathLike
        A greyscale ('L', 16-bit 'I;16') or palette ('P') image, usually PNG.
    op : str
        The name error messages start with.

    Returns
    -------
    mask : np.ndarray, int64 (H, W)
        The stored values (for a palette PNG, the palette indices, not the colours).
    """
    with _open(op, path, "mask") as image:
        if image.mode not in _INDEX_MODES:
            raise ValueError(
                f"{op}: mask file '{os.fspath(path)}' is a {image.mode} image; a mask must have "
                f"one channel of class indices (a greyscale 'L' or palette 'P' PNG)")
        return np.asarray(image).astype(np.int64)           # (H, W)


def warn_skipped(op: str, skipped, clipped, total: int, what: str, source) -> None:
    """Warn once about every annotation a detection loader skipped or clipped (never silent).

    ``skipped`` is a list of dicts with a ``"reason"``; ``clipped`` a list of the clipped boxes;
    ``total`` the number of ``what`` ("objects", "annotations") read from ``source``.
    """
    notes = []
    if skipped:
        reasons = collections.Counter(s["reason"] for s in skipped)
        notes.append(f"skipped {len(skipped)} of {total} {what} ("
                     + ", ".join(f"{n} {why}" for why, n in reasons.items()) + ")")
    if clipped:
        notes.append(f"clipped {len(clipped)} boxes to the image")
    if notes:
        warnings.warn(f"{op}: {'; '.join(notes)} in '{source}'; see dataset.skipped and "
                      f"dataset.clipped", stacklevel=3)


def check_index(op: str, index, count: int) -> int:
    """``index`` (negative counts from the end) as a position in [0, count), or IndexError
    naming ``op``, the index and the number of images."""
    if not isinstance(index, (int, np.integer)) or not -count <= index < count:
        raise IndexError(f"{op}: index {index!r} out of range for {count} images")
    return int(index) % count
