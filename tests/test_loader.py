"""minicv.data.loader: batching, shuffling by seed, drop_last, thread workers giving the same
batches, the collate functions, pad_images, Subset, and every error."""
import re
import threading
import time

import numpy as np
import pytest

from minicv.data import (Compose, DataLoader, Normalize, Resize, Subset, SyntheticShapes,
                         collate_detection, collate_segmentation, pad_images)


class Numbers:
    """Sample i: a (3, 2, 2) float image filled with i and a mask filled with i."""

    classes = ("a", "b")
    num_classes = 2
    ignore_index = None

    def __init__(self, n, delay=0.0):
        self.n, self.delay = n, delay
        self.threads = set()

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        self.threads.add(threading.get_ident())
        if self.delay:
            time.sleep(self.delay * ((i * 7) % 3))      # uneven: threads finish out of order
        return np.full((3, 2, 2), i, np.float32), {"mask": np.full((2, 2), i), "image_id": i}


def ids(batch):
    return batch[1][:, 0, 0].tolist()


def test_batches_in_order_with_a_short_last_batch():
    loader = DataLoader(Numbers(10), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [ids(b) for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    images, masks = batches[0]
    assert images.shape == (4, 3, 2, 2) and images.dtype == np.float32
    assert masks.shape == (4, 2, 2) and masks.dtype == np.int64


def test_drop_last():
    loader = DataLoader(Numbers(10), batch_size=4, drop_last=True)
    assert len(loader) == 2 and [ids(b) for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(DataLoader(Numbers(8), batch_size=4, drop_last=True)) == 2
    assert list(DataLoader(Numbers(0), batch_size=4)) == []


def test_shuffle_is_a_permutation_reproducible_by_seed_and_new_each_epoch():
    def epochs(seed):
        loader = DataLoader(Numbers(13), batch_size=5, shuffle=True, seed=seed)
        return [sum((ids(b) for b in loader), []) for _ in range(3)]

    first = epochs(0)
    assert all(sorted(order) == list(range(13)) for order in first)
    assert first == epochs(0)                          # same seed, same sequence of epochs
    assert first[0] != first[1]                        # a new order every epoch
    assert first != epochs(1)
    assert first[0] != list(range(13))


def test_thread_workers_give_the_same_batches_in_order():
    dataset = Numbers(23, delay=0.002)
    plain = [ids(b) for b in DataLoader(dataset, batch_size=3, shuffle=True, seed=4)]
    dataset.threads.clear()
    threaded = [ids(b) for b in DataLoader(dataset, batch_size=3, shuffle=True, seed=4,
                                           num_workers=3)]
    assert threaded == plain
    assert threading.get_ident() not in dataset.threads and len(dataset.threads) >= 2


def test_leaving_a_threaded_loop_early_stops_cleanly():
    loader = DataLoader(Numbers(50, delay=0.001), batch_size=2, num_workers=2)
    for k, batch in enumerate(loader):
        if k == 1:
            break
    assert ids(batch) == [2, 3]
    assert not [t for t in threading.enumerate() if t.name.startswith("minicv-loader")]


def test_synthetic_pipeline_end_to_end():
    ds = SyntheticShapes("val", num_images=6, transforms=Compose([Resize(32), Normalize()]))
    images, masks = next(iter(DataLoader(ds, batch_size=4, num_workers=2)))
    assert images.shape == (4, 3, 32, 32) and masks.shape == (4, 32, 32)
    np.testing.assert_array_equal(masks[1], ds[1][1]["mask"])
    loader = DataLoader(SyntheticShapes("val", num_images=5), batch_size=2,
                        collate_fn=collate_detection)
    images, targets = next(iter(loader))
    assert len(images) == 2 and images[0].shape == (64, 64, 3)
    assert [t["image_id"] for t in targets] == [0, 1] and "boxes" in targets[0]


# ---------------------------------------------------------------------------------------------
# Collate functions and pad_images
# ---------------------------------------------------------------------------------------------
def test_collate_segmentation_errors():
    uint8 = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(TypeError, match=re.escape(
            "collate_segmentation: image 0 is uint8 with shape (4, 4, 3) (H, W, 3); apply "
            "Normalize (the last transform) to get float32 (3, H, W)")):
        collate_segmentation([(uint8, {"mask": np.zeros((4, 4))})])
    good = np.zeros((3, 4, 4), np.float32)
    with pytest.raises(TypeError, match=re.escape(
            "collate_segmentation: image 1 must be a float (C, H, W) array, got int64 with "
            "shape (3, 4, 4)")):
        collate_segmentation([(good, {"mask": np.zeros((4, 4))}),
                              (np.zeros((3, 4, 4), np.int64), {"mask": np.zeros((4, 4))})])
    with pytest.raises(ValueError, match=re.escape(
            "collate_segmentation: target 0 has no 'mask'")):
        collate_segmentation([(good, {"boxes": np.zeros((0, 4))})])
    with pytest.raises(ValueError, match=re.escape(
            "collate_segmentation: mask 0 has shape (4, 5) but its image has (H, W) = (4, 4)")):
        collate_segmentation([(good, {"mask": np.zeros((4, 5))})])
    with pytest.raises(ValueError, match=re.escape(
            "collate_segmentation: image 1 has shape (3, 5, 4) but image 0 has (3, 4, 4); "
            "resize or crop to one size (or use collate_detection and pad_images)")):
        collate_segmentation([(good, {"mask": np.zeros((4, 4))}),
                              (np.zeros((3, 5, 4), np.float32), {"mask": np.zeros((5, 4))})])
    with pytest.raises(ValueError, match=re.escape("collate_segmentation: the batch is empty")):
        collate_segmentation([])
    with pytest.raises(ValueError, match=re.escape("collate_detection: the batch is empty")):
        collate_detection([])


def test_collate_segmentation_casts_to_float32_and_int64():
    sample = (np.ones((3, 2, 2)), {"mask": np.ones((2, 2), np.uint8)})     # float64, uint8
    images, masks = collate_segmentation([sample])
    assert images.dtype == np.float32 and masks.dtype == np.int64


def test_pad_images_pads_bottom_right_to_a_multiple():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 20, 30)).astype(np.float32)
    b = rng.standard_normal((3, 33, 10)).astype(np.float32)
    batch, sizes = pad_images([a, b], size_divisible=16)
    assert batch.shape == (2, 3, 48, 32) and batch.dtype == np.float32
    assert sizes.tolist() == [[20, 30], [33, 10]] and sizes.dtype == np.int64
    np.testing.assert_array_equal(batch[0, :, :20, :30], a)
    np.testing.assert_array_equal(batch[1, :, :33, :10], b)
    assert not batch[0, :, 20:].any() and not batch[0, :, :, 30:].any()
    assert not batch[1, :, 33:].any() and not batch[1, :, :, 10:].any()
    assert pad_images([a], size_divisible=1)[0].shape == (1, 3, 20, 30)


def test_pad_images_errors():
    with pytest.raises(ValueError, match=re.escape("pad_images: images is empty")):
        pad_images([])
    with pytest.raises(ValueError, match=re.escape(
            "pad_images: size_divisible must be >= 1, got 0")):
        pad_images([np.zeros((3, 2, 2))], size_divisible=0)
    with pytest.raises(ValueError, match=re.escape(
            "pad_images: image 1 must be (C, H, W), got shape (2, 2)")):
        pad_images([np.zeros((3, 2, 2)), np.zeros((2, 2))])
    with pytest.raises(ValueError, match=re.escape(
            "pad_images: image 1 has 1 channels but image 0 has 3")):
        pad_images([np.zeros((3, 2, 2)), np.zeros((1, 2, 2))])


# ---------------------------------------------------------------------------------------------
# Subset and loader errors
# ---------------------------------------------------------------------------------------------
def test_subset_selects_and_forwards_attributes():
    sub = Subset(Numbers(10), [7, 2, -1])
    assert len(sub) == 3 and [sub[i][1]["image_id"] for i in range(3)] == [7, 2, 9]
    assert sub.classes == ("a", "b") and sub.num_classes == 2 and sub.ignore_index is None
    assert [ids(b) for b in DataLoader(sub, batch_size=2)] == [[7, 2], [9]]
    with pytest.raises(IndexError, match=re.escape(
            "Subset: index 10 is out of range for a dataset of 10 samples")):
        Subset(Numbers(10), [1, 10])
    with pytest.raises(AttributeError):
        sub.no_such_attribute


def test_loader_errors():
    with pytest.raises(ValueError, match=re.escape("DataLoader: batch_size must be >= 1, got 0")):
        DataLoader(Numbers(3), batch_size=0)
    with pytest.raises(ValueError, match=re.escape(
            "DataLoader: num_workers must be >= 0, got -1")):
        DataLoader(Numbers(3), num_workers=-1)
    with pytest.raises(TypeError, match=re.escape(
            "DataLoader: dataset must support len() and indexing, got generator")):
        DataLoader(i for i in range(3))
