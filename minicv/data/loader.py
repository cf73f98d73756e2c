"""DataLoader: samples -> batches, in a (seeded) shuffled order, optionally read by threads.

    loader = DataLoader(dataset, batch_size=8, shuffle=True, seed=0)
    for images, masks in loader:            # (8, 3, H, W) float32, (8, H, W) int64
        ...

One epoch is one pass over ``for batch in loader``. With ``shuffle=True`` every epoch draws a
new permutation from the loader's own generator, so epoch 1 and epoch 2 differ but the whole
sequence of epochs is the same on every run with the same ``seed``.

Collating (turning a list of samples into a batch):

- ``collate_segmentation`` (the default): images (N, 3, H, W) float32 and masks (N, H, W)
  int64 as NumPy arrays. The images must already be normalised (``Normalize`` last in the
  dataset's transforms) and of one size (``Resize`` or a fixed-size crop).
- ``collate_detection``: a list of images and a list of target dicts, untouched -- detection
  images keep their own sizes and numbers of boxes. ``pad_images`` later stacks such a list into
  one zero-padded batch with sizes divisible by the network's stride.

``num_workers > 0`` reads samples in a pool of threads, ahead of the batch being consumed (at
least two batches, and two samples per thread). Threads (not processes) suffice because the
heavy parts -- Pillow decoding and resizing, NumPy array arithmetic -- release the GIL; nothing
is pickled. Batches come out in the
same order as with ``num_workers=0``. Random transforms draw from their own generators in
whatever order the threads reach them, so with threads their draws are not reproducible run to
run (the data order still is).
"""
from __future__ import annotations

import collections
import math
import operator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from minicv import backend

__all__ = ["DataLoader", "Subset", "collate_segmentation", "collate_detection", "pad_images"]

PREFETCH_BATCHES = 2


def _describe(x) -> str:
    if hasattr(x, "dtype") and hasattr(x, "shape"):
        return f"{x.dtype} with shape {tuple(x.shape)}"
    return type(x).__name__


def collate_segmentation(batch):
    """Stack ``[(image, target), ...]`` into (images, masks).

    Parameters
    ----------
    batch : list of (np.ndarray float (3, H, W), dict with "mask" (H, W))
        Samples after ``Normalize``, all of one size.

    Returns
    -------
    images : np.ndarray, float32 (N, 3, H, W)
    masks : np.ndarray, int64 (N, H, W)
    """
    batch = list(batch)
    if not batch:
        raise ValueError("collate_segmentation: the batch is empty")
    images, masks = [], []
    for i, (image, target) in enumerate(batch):
        image = np.asarray(image)
        if image.ndim == 3 and image.shape[-1] == 3 and image.dtype == np.uint8:
            raise TypeError(f"collate_segmentation: image {i} is uint8 with shape "
                            f"{image.shape} (H, W, 3); apply Normalize (the last transform) to "
                            f"get float32 (3, H, W)")
        if image.ndim != 3 or image.dtype.kind != "f":
            raise TypeError(f"collate_segmentation: image {i} must be a float (C, H, W) array, "
                            f"got {_describe(image)}")
        if not isinstance(target, dict) or "mask" not in target:
            raise ValueError(f"collate_segmentation: target {i} has no 'mask' (a segmentation "
                             f"dataset gives {{'mask': (H, W)}}); use collate_detection for "
                             f"detection targets")
        mask = np.asarray(target["mask"])
        if mask.shape != image.shape[1:]:
            raise ValueError(f"collate_segmentation: mask {i} has shape {mask.shape} but its "
                             f"image has (H, W) = {image.shape[1:]}")
        if images and image.shape != images[0].shape:
            raise ValueError(f"collate_segmentation: image {i} has shape {image.shape} but "
                             f"image 0 has {images[0].shape}; resize or crop to one size (or "
                             f"use collate_detection and pad_images)")
        images.append(image)
        masks.append(mask)
    return np.stack(images).astype(np.float32, copy=False), np.stack(masks).astype(np.int64)


def collate_detection(batch):
    """``[(image, target), ...]`` -> (list of images, list of targets), unchanged.

    Detection images differ in size and targets in their numbers of boxes, so nothing is
    stacked; see :func:`pad_images` for stacking the images.
    """
    batch = list(batch)
    if not batch:
        raise ValueError("collate_detection: the batch is empty")
    images = [image for image, _ in batch]
    targets = [target for _, target in batch]
    return images, targets


def pad_images(images, size_divisible: int = 32):
    """Stack images of different sizes into one batch, zero-padded at the bottom and right.

    The batch's height and width are the largest ones rounded up to a multiple of
    ``size_divisible``, so that every stride-s feature map of the batch lines up with the image
    (s divides the padded size). After ``Normalize`` a zero is the mean colour. Boxes need no
    change: padding adds pixels after the image, so coordinates keep their meaning.

    Parameters
    ----------
    images : sequence of arrays (C, H_i, W_i)
        NumPy or CuPy; one channel count and dtype.
    size_divisible : int

    Returns
    -------
    batch : array (N, C, H, W)
        Same library and dtype as the images.
    sizes : np.ndarray, int64 (N, 2)
        Each image's (H_i, W_i) before padding.

    Examples
    --------
    >>> import numpy as np
    >>> batch, sizes = pad_images([np.ones((3, 20, 30)), np.ones((3, 40, 10))], 32)
    >>> batch.shape, sizes.tolist()
    ((2, 3, 64, 32), [[20, 30], [40, 10]])
    """
    images = list(images)
    if not images:
        raise ValueError("pad_images: images is empty")
    if operator.index(size_divisible) < 1:
        raise ValueError(f"pad_images: size_divisible must be >= 1, got {size_divisible}")
    for i, image in enumerate(images):
        if image.ndim != 3:
            raise ValueError(f"pad_images: image {i} must be (C, H, W), got shape "
                             f"{tuple(image.shape)}")
        if image.shape[0] != images[0].shape[0]:
            raise ValueError(f"pad_images: image {i} has {image.shape[0]} channels but image 0 "
                             f"has {images[0].shape[0]}")
    xp = backend.get_array_module(*images)
    sizes = np.array([image.shape[1:] for image in images], np.int64)           # (N, 2)
    height, width = (int(math.ceil(s / size_divisible)) * size_divisible
                     for s in sizes.max(axis=0))
    batch = xp.zeros((len(images), images[0].shape[0], height, width), images[0].dtype)
    for i, image in enumerate(images):
        batch[i, :, :image.shape[1], :image.shape[2]] = image
    return batch, sizes


class Subset:
    """The samples of ``dataset`` at ``indices``, in that order; other attributes
    (``classes``, ``num_classes``, ``ignore_index``, ...) are the dataset's."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        n = len(dataset)
        self.indices = []
        for i in indices:
            i = operator.index(i)
            if not -n <= i < n:
                raise IndexError(f"Subset: index {i} is out of range for a dataset of {n} "
                                 f"samples")
            self.indices.append(i % n)                  # negative indices count from the end

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[self.indices[operator.index(index)]]

    def __getattr__(self, name):
        if name.startswith("_") or name in ("dataset", "indices"):
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __repr__(self) -> str:
        return f"Subset({self.dataset!r}, {len(self)} samples)"


class DataLoader:
    """Iterate over a dataset in batches.

    Parameters
    ----------
    dataset : sized, indexable
        ``len(dataset)`` and ``dataset[i] -> (image, target)``.
    batch_size : int
    shuffle : bool
        A new random order every epoch (from ``seed``).
    drop_last : bool
        Leave out the last batch when it is smaller than ``batch_size``.
    collate_fn : callable, optional
        ``collate_fn(list of samples) -> batch``; :func:`collate_segmentation` by default,
        :func:`collate_detection` for detection.
    seed : int, optional
        Seed of the shuffling generator (None: different orders on every run).
    num_workers : int
        0 reads samples in the calling thread; n > 0 in a pool of n threads, prefetching.
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, collate_fn=None, seed=None, num_workers: int = 0):
        if operator.index(batch_size) < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        if operator.index(num_workers) < 0:
            raise ValueError(f"DataLoader: num_workers must be >= 0, got {num_workers}")
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader: dataset must support len() and indexing, got "
                            f"{type(dataset).__name__}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_segmentation if collate_fn is None else collate_fn
        self.seed = seed
        self.num_workers = int(num_workers)
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def batches(self) -> list[np.ndarray]:
        """The index batches of the next epoch (draws the shuffle, like iterating does)."""
        n = len(self.dataset)
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        batches = [order[i:i + self.batch_size] for i in range(0, n, self.batch_size)]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        return batches

    def __iter__(self):
        batches = self.batches()
        if self.num_workers == 0:
            for indices in batches:
                yield self.collate_fn([self.dataset[int(i)] for i in indices])
            return
        pool = ThreadPoolExecutor(self.num_workers, thread_name_prefix="minicv-loader")
        try:
            pending = collections.deque()               # futures of the batches read ahead
            upcoming = iter(batches)

            def submit_next():
                indices = next(upcoming, None)
                if indices is not None:
                    pending.append([pool.submit(self.dataset.__getitem__, int(i))
                                    for i in indices])

            # keep at least two batches and two samples per thread in flight
            ahead = max(PREFETCH_BATCHES, math.ceil(2 * self.num_workers / self.batch_size))
            for _ in range(ahead):
                submit_next()
            while pending:
                futures = pending.popleft()
                submit_next()
                yield self.collate_fn([f.result() for f in futures])
        finally:                                         # also when the loop is left early
            pool.shutdown(wait=True, cancel_futures=True)

    def __repr__(self) -> str:
        return (f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, "
                f"num_workers={self.num_workers})")
