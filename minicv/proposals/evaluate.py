"""How good are proposals? Recall against the number of proposals, at IoU thresholds.

A proposal method is judged by what a detector built on it can find at all: an object missed by
every proposal is lost. For each ground-truth box take the best IoU with the first N proposals
(the method's ranking decides which N); the recall at threshold t and budget N is the fraction
of ground-truth boxes whose best IoU is at least t (Hosang et al. 2016; Uijlings et al. 2013 also
report the mean best overlap, MABO, the mean of those best IoUs). Pooled over all boxes of all
images: every object counts once.

Boxes marked ``difficult`` (VOC) or ``iscrowd`` (COCO) are left out, as in VOC and COCO scoring.

Reference: J. Hosang, R. Benenson, P. Dollar and B. Schiele, "What makes for effective detection
proposals?", TPAMI 2016; Uijlings et al., IJCV 2013, section 5.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from minicv.ops import box_iou

__all__ = ["RecallCurve", "best_overlaps", "proposal_recall", "propose", "evaluate_proposals",
           "NUM_PROPOSALS", "METHODS"]

# The budgets N at which recall is reported (those above the largest proposal count are dropped).
NUM_PROPOSALS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000,
                 100000)
METHODS = ("selective-search", "sliding")


@dataclass
class RecallCurve:
    """Recall of a proposal method against the number of proposals N.

    num_proposals : (K,) int64 budgets N
    iou_thresholds : the thresholds t
    recall : (T, K) float64, recall[t, k] at threshold t with the first num_proposals[k]
    mean_best_overlap : (K,) float64 mean over objects of the best IoU within the first N
    num_objects : ground-truth boxes counted
    num_images : images evaluated
    proposals_per_image : mean number of proposals a method returned
    seconds_per_image : mean time to propose for one image (0 when not timed)
    seconds : per-image times
    name : label of the curve (the method)
    """
    num_proposals: np.ndarray
    iou_thresholds: tuple
    recall: np.ndarray
    mean_best_overlap: np.ndarray
    num_objects: int
    num_images: int
    proposals_per_image: float
    seconds_per_image: float = 0.0
    seconds: list = field(default_factory=list)
    name: str = ""

    def recall_at(self, num_proposals: int, iou_threshold: float) -> float:
        """Recall with the first ``num_proposals`` (one of the budgets) at a threshold."""
        k = int(np.flatnonzero(self.num_proposals == num_proposals)[0])
        t = self.iou_thresholds.index(iou_threshold)
        return float(self.recall[t, k])

    def table(self) -> str:
        """A Markdown table: one row per budget N."""
        head = "| proposals | " + " | ".join(f"recall@{t:g}" for t in self.iou_thresholds) \
            + " | mean best IoU |"
        rule = "|---:|" + "---:|" * (len(self.iou_thresholds) + 1)
        rows = [f"| {n} | " + " | ".join(f"{r:.3f}" for r in self.recall[:, k])
                + f" | {self.mean_best_overlap[k]:.3f} |"
                for k, n in enumerate(self.num_proposals)]
        return "\n".join([head, rule, *rows])

    def to_dict(self) -> dict:
        return {"name": self.name, "num_proposals": self.num_proposals.tolist(),
                "iou_thresholds": list(self.iou_thresholds),
                "recall": self.recall.tolist(),
                "mean_best_overlap": self.mean_best_overlap.tolist(),
                "num_objects": self.num_objects, "num_images": self.num_images,
                "proposals_per_image": self.proposals_per_image,
                "seconds_per_image": self.seconds_per_image}


def best_overlaps(proposals, gt_boxes, num_proposals) -> np.ndarray:
    """Best IoU of each ground-truth box with the first N proposals, for each budget N.

    Parameters
    ----------
    proposals : (P, 4) array, ranked
    gt_boxes : (G, 4) array
    num_proposals : sequence of int
        The budgets N; a budget above P uses all P proposals.

    Returns
    -------
    (G, K) float64 array; 0 where there are no proposals.

    Examples
    --------
    >>> gt = np.array([[0, 0, 10, 10]])
    >>> proposals = np.array([[20, 20, 30, 30], [0, 0, 10, 20], [0, 0, 10, 10]])
    >>> best_overlaps(proposals, gt, [1, 2, 3])
    array([[0. , 0.5, 1. ]])
    """
    proposals = np.asarray(proposals, dtype=np.float32).reshape(-1, 4)
    gt_boxes = np.asarray(gt_boxes, dtype=np.float32).reshape(-1, 4)
    budgets = np.asarray(num_proposals, dtype=np.int64)
    if not len(proposals) or not len(gt_boxes):
        return np.zeros((len(gt_boxes), len(budgets)))
    iou = np.asarray(box_iou(gt_boxes, proposals), dtype=np.float64)           # (G, P)
    running = np.maximum.accumulate(iou, axis=1)          # best among the first n + 1, (G, P)
    return running[:, np.minimum(budgets, len(proposals)) - 1]                # (G, K)


def _check_thresholds(op: str, iou_thresholds) -> tuple:
    thresholds = tuple(float(t) for t in iou_thresholds)
    if not thresholds or not all(0 < t <= 1 for t in thresholds):
        raise ValueError(f"{op}: iou_thresholds must be numbers in (0, 1], got "
                         f"{tuple(iou_thresholds)!r}")
    return thresholds


def _check_budgets(op: str, num_proposals):
    """The budgets asked for (sorted, unique), or None for the default."""
    if num_proposals is None:
        return None
    budgets = np.asarray(num_proposals)
    if budgets.ndim != 1 or not budgets.size or budgets.dtype.kind not in "iu" \
            or budgets.min() < 1:
        raise ValueError(f"{op}: num_proposals must be a non-empty sequence of integers >= 1, "
                         f"got {num_proposals!r}")
    return np.unique(budgets).astype(np.int64)


class _Tally:
    """Per image, the best IoUs of its objects at every budget the final curve may ask about:
    min(N, P) for each grid budget N and for N = the largest P of all images (known only at the
    end). So an image's proposals need not be kept (100,000 sliding windows each)."""

    def __init__(self, budgets):
        self.asked = budgets
        self.grid = np.array(NUM_PROPOSALS, dtype=np.int64) if budgets is None else budgets
        self.records = []                                    # (P, keys, best (G, len(keys)))

    def add(self, proposals, gt_boxes) -> None:
        count = len(np.asarray(proposals).reshape(-1, 4))
        keys = np.unique(np.append(np.minimum(self.grid, max(count, 1)), max(count, 1)))
        self.records.append((count, keys, best_overlaps(proposals, gt_boxes, keys)))

    def curve(self, thresholds, name: str) -> RecallCurve:
        counts = [count for count, _, _ in self.records]
        largest = max(counts, default=0)
        if self.asked is not None:
            budgets = self.asked
        else:
            budgets = np.array([n for n in NUM_PROPOSALS if n < largest] + [max(largest, 1)],
                               dtype=np.int64)
        best = [b[:, np.searchsorted(keys, np.minimum(budgets, max(count, 1)))]
                for count, keys, b in self.records]
        best = np.concatenate(best) if best else np.zeros((0, len(budgets)))   # (objects, K)
        if len(best):
            recall = np.stack([(best >= t).mean(axis=0) for t in thresholds])   # (T, K)
            mabo = best.mean(axis=0)
        else:
            recall = np.full((len(thresholds), len(budgets)), np.nan)
            mabo = np.full(len(budgets), np.nan)
        return RecallCurve(num_proposals=budgets, iou_thresholds=thresholds, recall=recall,
                           mean_best_overlap=mabo, num_objects=len(best),
                           num_images=len(self.records),
                           proposals_per_image=float(np.mean(counts)) if counts else 0.0,
                           name=name)


def proposal_recall(proposals, gt_boxes, num_proposals=None, iou_thresholds=(0.5, 0.7),
                    name: str = "") -> RecallCurve:
    """Recall against the number of proposals, pooled over images.

    Parameters
    ----------
    proposals : list of (P_i, 4) arrays
        Each image's proposals, best-ranked first.
    gt_boxes : list of (G_i, 4) arrays
        Each image's ground-truth boxes (leave difficult and crowd boxes out).
    num_proposals : sequence of int, optional
        The budgets N (default: those of :data:`NUM_PROPOSALS` below the largest P_i, and the
        largest P_i).
    iou_thresholds : sequence of float
    name : str
        A label for tables and plots.

    Returns
    -------
    RecallCurve

    Examples
    --------
    >>> gt = [np.array([[0, 0, 10, 10], [20, 0, 30, 10]])]
    >>> proposals = [np.array([[0, 0, 10, 10], [20, 0, 30, 14], [20, 0, 30, 10]])]
    >>> curve = proposal_recall(proposals, gt, num_proposals=[1, 2, 3])
    >>> curve.recall                        # rows: IoU 0.5, 0.7; columns: N = 1, 2, 3
    array([[0.5, 1. , 1. ],
           [0.5, 1. , 1. ]])
    >>> curve.mean_best_overlap.round(3)
    array([0.5  , 0.857, 1.   ])
    """
    op = "proposal_recall"
    proposals, gt_boxes = list(proposals), list(gt_boxes)
    if len(proposals) != len(gt_boxes):
        raise ValueError(f"{op}: got proposals for {len(proposals)} images but ground truth "
                         f"for {len(gt_boxes)}")
    thresholds = _check_thresholds(op, iou_thresholds)
    tally = _Tally(_check_budgets(op, num_proposals))
    for boxes, gt in zip(proposals, gt_boxes):
        tally.add(boxes, gt)
    return tally.curve(thresholds, name)


# ---------------------------------------------------------------------------------------------
# Running a method over a dataset
# ---------------------------------------------------------------------------------------------
def _resize(image: np.ndarray, max_side) -> tuple:
    """The image shrunk (bilinear, Pillow) so its longer side is at most max_side, and the scale."""
    height, width = image.shape[:2]
    if max_side is None or max(height, width) <= max_side:
        return image, 1.0
    from PIL import Image
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR)), scale


def propose(image, method: str = "selective-search", *, mode: str = "fast", max_side=None,
            max_proposals=None, seed: int = 0) -> np.ndarray:
    """Proposals for one image in its own pixel coordinates, best first.

    Parameters
    ----------
    image : (H, W, 3) uint8 array
    method : str
        "selective-search" (ranked as the paper) or "sliding" (:func:`sliding_windows` with the
        default sizes, in a random order: windows have no ranking).
    mode : str
        Selective search mode ("single", "fast", "quality").
    max_side : int, optional
        Shrink larger images to this longer side first, then scale the boxes back (selective
        search's k is in pixels: it was tuned on ~500x375 VOC images).
    max_proposals : int, optional
        Keep the first ones only.
    seed : int
        Seed of the ranking (selective search) or of the order (sliding windows).

    Returns
    -------
    (P, 4) float32 array
    """
    from minicv.proposals.selective_search import selective_search
    from minicv.proposals.sliding import sliding_windows

    if method not in METHODS:
        raise ValueError(f"propose: method must be one of {', '.join(map(repr, METHODS))}, got "
                         f"{method!r}")
    if max_side is not None and (not isinstance(max_side, int) or max_side < 16):
        raise ValueError(f"propose: max_side must be an integer >= 16, got {max_side!r}")
    if max_proposals is not None and (not isinstance(max_proposals, int) or max_proposals < 1):
        raise ValueError(f"propose: max_proposals must be an integer >= 1, got "
                         f"{max_proposals!r}")
    small, scale = _resize(np.asarray(image), max_side)
    if method == "selective-search":
        boxes = selective_search(small, mode, seed=seed)
    else:
        boxes = sliding_windows(small.shape[:2])
        boxes = boxes[np.random.default_rng(seed).permutation(len(boxes))]
    boxes = boxes[:max_proposals]
    return boxes / np.float32(scale) if scale != 1 else boxes


def _gt_boxes(target: dict) -> np.ndarray:
    """The boxes that count: difficult and crowd boxes left out."""
    boxes = np.asarray(target["boxes"], dtype=np.float32).reshape(-1, 4)
    keep = np.ones(len(boxes), dtype=bool)
    for flag in ("difficult", "iscrowd"):
        if flag in target:
            keep &= ~np.asarray(target[flag], dtype=bool)
    return boxes[keep]


def evaluate_proposals(dataset, method: str = "selective-search", *, mode: str = "fast",
                       max_images=None, max_proposals=None, max_side=None, seed: int = 0,
                       iou_thresholds=(0.5, 0.7), num_proposals=None,
                       progress: bool = True) -> RecallCurve:
    """Run a proposal method over a detection dataset: recall curve and seconds per image.

    Parameters
    ----------
    dataset : a detection dataset, ``dataset[i] -> (uint8 image, {"boxes": ...})``
    method, mode, max_side, max_proposals, seed :
        As :func:`propose`.
    max_images : int, optional
        Evaluate the first ones only.
    iou_thresholds, num_proposals :
        As :func:`proposal_recall`.
    progress : bool
        Show a tqdm bar on stderr.

    Returns
    -------
    RecallCurve
        With ``seconds_per_image``: the mean wall-clock time of :func:`propose` (resizing
        included, reading the image not).
    """
    from tqdm import tqdm

    op = "evaluate_proposals"
    thresholds = _check_thresholds(op, iou_thresholds)
    tally = _Tally(_check_budgets(op, num_proposals))
    n = len(dataset) if max_images is None else min(int(max_images), len(dataset))
    seconds = []
    for i in tqdm(range(n), desc=f"proposals ({method})", unit="image", file=sys.stderr,
                  disable=not progress):
        image, target = dataset[i]
        start = time.perf_counter()
        boxes = propose(image, method, mode=mode, max_side=max_side,
                        max_proposals=max_proposals, seed=seed + i)
        seconds.append(time.perf_counter() - start)
        tally.add(boxes, _gt_boxes(target))
    curve = tally.curve(thresholds, method)
    curve.seconds = seconds
    curve.seconds_per_image = float(np.mean(seconds)) if seconds else 0.0
    return curve
