"""Pictures of detection: boxes with labels and scores, translucent instance masks, object
proposals, and recall curves.

- :func:`draw_boxes`           an image with boxes, each with its class name and score
- :func:`draw_masks`           an image with instance masks as translucent colours
- :func:`proposals_figure`     proposals of several methods side by side on one image: a sample
                               of each method's boxes and, for every object, its best proposal
- :func:`recall_curve_figure`  recall against the number of proposals, one panel per IoU
                               threshold, one line per method (:class:`RecallCurve`)
- :func:`proposals_doc_figure`, :func:`recall_doc_figure`  the two figures of docs/proposals.md,
  on synthetic images (``DOC_FIGURES``)

Images are drawn with ``extent=(0, W, H, 0)``, so pixel j covers [j, j + 1) as in minicv's
continuous box coordinates: a box (0, 0, 10, 10) frames exactly the top-left 10x10 pixels.
Each function returns a ``matplotlib.figure.Figure`` and saves it as PNG when given ``path``;
:func:`draw_boxes` and :func:`draw_masks` draw into a given ``ax`` instead when asked.
"""
from __future__ import annotations

import numpy as np

from minicv import backend
from minicv.viz._figure import new_figure as _new_figure, save as _save

__all__ = ["draw_boxes", "draw_masks", "proposals_figure", "recall_curve_figure",
           "proposals_doc_figure", "recall_doc_figure", "BOX_COLORS"]

# One colour per class (label % 10): matplotlib's "tab10", spelled out so no colormap is needed.
BOX_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
              "#7f7f7f", "#bcbd22", "#17becf")


# ---------------------------------------------------------------------------------------------
# Checking inputs
# ---------------------------------------------------------------------------------------------
def _image(op: str, image) -> np.ndarray:
    image = np.asarray(backend.to_cpu(image) if backend.is_array(image) else image)
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[-1] in (1, 3, 4))):
        raise ValueError(f"{op}: image must have shape (H, W), (H, W, 3) or (H, W, 4), got "
                         f"{image.shape}")
    return image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image


def _boxes(op: str, boxes, name: str = "boxes") -> np.ndarray:
    boxes = np.asarray(backend.to_cpu(boxes) if backend.is_array(boxes) else boxes,
                       dtype=np.float64)
    if boxes.size == 0:
        return boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{op}: {name} must have shape (N, 4) (x1, y1, x2, y2 per box), got "
                         f"{boxes.shape}")
    return boxes


def _per_box(op: str, name: str, values, n: int):
    if values is None:
        return None
    values = np.asarray(values)
    if values.shape != (n,):
        raise ValueError(f"{op}: {name} must have shape (N,) = ({n},) to match boxes, got "
                         f"{values.shape}")
    return values


def _axes(ax, image, figsize_width: float = 5.0):
    """(figure, axes) to draw on: the given ax, or a new one-panel figure sized to the image."""
    if ax is not None:
        return ax.figure, ax
    height, width = image.shape[:2]
    fig = _new_figure(figsize=(figsize_width, figsize_width * height / width + 0.4),
                      layout="constrained")
    return fig, fig.add_subplot()


def _show(ax, image, title=None):
    height, width = image.shape[:2]
    ax.imshow(image, extent=(0, width, height, 0), cmap="gray" if image.ndim == 2 else None,
              interpolation="nearest")
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def _rectangle(box, **style):
    from matplotlib.patches import Rectangle
    x1, y1, x2, y2 = box
    return Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, **style)


# ---------------------------------------------------------------------------------------------
# Boxes and masks
# ---------------------------------------------------------------------------------------------
def draw_boxes(image, boxes, labels=None, scores=None, class_names=None, *, ax=None,
               colors=BOX_COLORS, linewidth: float = 2.0, title=None, path=None,
               dpi: int = 100):
    """An image with boxes; each box captioned with its class and score when given.

    Parameters
    ----------
    image : (H, W, 3) or (H, W) array
    boxes : (N, 4) array
        (x1, y1, x2, y2) in continuous pixel coordinates.
    labels : (N,) int array, optional
        Class of each box: picks its colour (``colors[label % len(colors)]``) and its caption.
    scores : (N,) float array, optional
        Written after the class, two decimals.
    class_names : sequence of str, optional
        Names to caption labels with (``class_names[label]``); the number otherwise.
    ax : matplotlib Axes, optional
        Draw there instead of on a new figure.
    colors : sequence of matplotlib colours
    linewidth : float
    title : str, optional
    path : str or path-like, optional
        Save the figure there as PNG.
    dpi : int

    Returns
    -------
    matplotlib.figure.Figure
        One Rectangle patch per box (in order) and one caption text per captioned box.
    """
    op = "draw_boxes"
    image = _image(op, image)
    boxes = _boxes(op, boxes)
    labels = _per_box(op, "labels", labels, len(boxes))
    scores = _per_box(op, "scores", scores, len(boxes))
    fig, ax = _axes(ax, image)
    _show(ax, image, title)
    for i, box in enumerate(boxes):
        color = colors[int(labels[i]) % len(colors)] if labels is not None else colors[0]
        ax.add_patch(_rectangle(box, edgecolor=color, linewidth=linewidth))
        caption = []
        if labels is not None:
            label = int(labels[i])
            caption.append(class_names[label] if class_names is not None
                           and 0 <= label < len(class_names) else str(label))
        if scores is not None:
            caption.append(f"{float(scores[i]):.2f}")
        if caption:
            ax.text(box[0], box[1], " ".join(caption), fontsize=8, color="white",
                    va="bottom", ha="left", clip_on=True,
                    bbox={"facecolor": color, "edgecolor": "none", "pad": 1, "alpha": 0.8})
    return _save(fig, path, dpi)


def draw_masks(image, masks, labels=None, *, alpha: float = 0.5, colors=BOX_COLORS, ax=None,
               title=None, path=None, dpi: int = 100):
    """An image with instance masks painted over it as translucent colours.

    Parameters
    ----------
    image : (H, W, 3) or (H, W) array
    masks : (K, H, W) bool array
        One mask per instance (a (H, W) mask is one instance).
    labels : (K,) int array, optional
        Colour by class (``colors[label % len(colors)]``); by instance otherwise.
    alpha : float
        Opacity of the colours, in [0, 1].
    colors, ax, title, path, dpi :
        As :func:`draw_boxes`.

    Returns
    -------
    matplotlib.figure.Figure
        The image, then one RGBA layer per mask: its colour, with opacity ``alpha`` on the
        mask and 0 elsewhere.
    """
    from matplotlib.colors import to_rgb

    op = "draw_masks"
    image = _image(op, image)
    masks = np.asarray(backend.to_cpu(masks) if backend.is_array(masks) else masks)
    if masks.ndim == 2:
        masks = masks[None]
    if masks.ndim != 3 or masks.shape[1:] != image.shape[:2]:
        raise ValueError(f"{op}: masks must have shape (K, H, W) = (K, {image.shape[0]}, "
                         f"{image.shape[1]}) to match the image, got {masks.shape}")
    if not 0 <= alpha <= 1:
        raise ValueError(f"{op}: alpha must be in [0, 1], got {alpha!r}")
    labels = _per_box(op, "labels", labels, len(masks))
    fig, ax = _axes(ax, image)
    _show(ax, image, title)
    height, width = image.shape[:2]
    for k, mask in enumerate(masks.astype(bool)):
        which = int(labels[k]) if labels is not None else k
        layer = np.zeros((height, width, 4), dtype=np.float32)               # RGBA
        layer[..., :3] = to_rgb(colors[which % len(colors)])
        layer[..., 3] = alpha * mask
        ax.imshow(layer, extent=(0, width, height, 0), interpolation="nearest")
    return _save(fig, path, dpi)


# ---------------------------------------------------------------------------------------------
# Proposals
# ---------------------------------------------------------------------------------------------
def _region_colours(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """(H, W, 3) uint8: each region of a label image in its own random colour."""
    colours = np.random.default_rng(seed).integers(40, 256, size=(int(labels.max()) + 1, 3))
    return colours.astype(np.uint8)[labels]


def proposals_figure(image, proposals: dict, gt_boxes=None, *, segments=None,
                     num_shown: int = 60, path=None, dpi: int = 100):
    """Proposal methods side by side on one image.

    Each method's panel shows its first ``num_shown`` proposals (thin) and, for every
    ground-truth box (dashed white), the method's best proposal for it among *all* of its
    proposals (bold, captioned with the IoU).

    Parameters
    ----------
    image : (H, W, 3) array
    proposals : dict of str -> (P, 4) array
        Method name -> its proposals, best first.
    gt_boxes : (G, 4) array, optional
    segments : (H, W) int array, optional
        A segmentation to show first (the initial regions of selective search).
    num_shown : int
    path, dpi :
        As :func:`draw_boxes`.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per method (after the segmentation panel when given); in a method's panel
        the patches are its shown proposals, then the ground truth, then the best proposals.
    """
    from minicv.ops import box_iou

    op = "proposals_figure"
    image = _image(op, image)
    gt = _boxes(op, [] if gt_boxes is None else gt_boxes, "gt_boxes")
    if not isinstance(proposals, dict) or not proposals:
        raise ValueError(f"{op}: proposals must be a non-empty dict of name -> (P, 4) boxes")
    methods = {name: _boxes(op, boxes, f"proposals[{name!r}]")
               for name, boxes in proposals.items()}
    panels = len(methods) + (segments is not None)
    height, width = image.shape[:2]
    fig = _new_figure(figsize=(3.2 * panels, 3.2 * height / width + 0.5), layout="constrained")
    axes = fig.subplots(1, panels, squeeze=False)[0]
    if segments is not None:
        segments = np.asarray(segments)
        if segments.shape != image.shape[:2]:
            raise ValueError(f"{op}: segments must have the image's shape {image.shape[:2]}, "
                             f"got {segments.shape}")
        _show(axes[0], _region_colours(segments),
              f"{int(segments.max()) + 1} Felzenszwalb regions")
    for ax, (name, boxes), color in zip(axes[panels - len(methods):], methods.items(),
                                        BOX_COLORS[1:]):
        found = 0
        best = np.zeros(len(gt), dtype=np.int64)
        iou = np.zeros(len(gt))
        if len(gt) and len(boxes):
            overlaps = np.asarray(box_iou(gt.astype(np.float32), boxes.astype(np.float32)))
            best, iou = overlaps.argmax(axis=1), overlaps.max(axis=1)        # (G,), (G,)
            found = int((iou >= 0.5).sum())
        _show(ax, image, f"{name}: {len(boxes):,} boxes\nbest IoU >= 0.5 for {found} of "
                         f"{len(gt)} objects")
        for box in boxes[:num_shown]:
            ax.add_patch(_rectangle(box, edgecolor=color, linewidth=0.6, alpha=0.7))
        for box in gt:
            ax.add_patch(_rectangle(box, edgecolor="white", linewidth=1.5, linestyle="--"))
        if len(boxes):
            for g, (j, value) in enumerate(zip(best, iou)):
                ax.add_patch(_rectangle(boxes[j], edgecolor=color, linewidth=2.5))
                ax.text(boxes[j][0], boxes[j][1], f"IoU {value:.2f}", fontsize=7,
                        color="white", va="top", ha="left", clip_on=True,
                        bbox={"facecolor": color, "edgecolor": "none", "pad": 1, "alpha": 0.8})
    return _save(fig, path, dpi)


def recall_curve_figure(curves, *, mark: int | None = 2000, path=None, dpi: int = 100):
    """Recall against the number of proposals per image (log scale), one panel per IoU threshold.

    Parameters
    ----------
    curves : sequence of RecallCurve
        One line each, labelled with its ``name`` (``minicv.proposals.proposal_recall``).
    mark : int, optional
        Draw a dotted vertical line at this number of proposals (2,000: R-CNN's budget).
    path, dpi :
        As :func:`draw_boxes`.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per IoU threshold of the first curve; in each, one line per curve with the
        curve's (num_proposals, recall) points.
    """
    curves = list(curves)
    if not curves:
        raise ValueError("recall_curve_figure: curves must not be empty")
    thresholds = curves[0].iou_thresholds
    fig = _new_figure(figsize=(4.2 * len(thresholds), 3.4), layout="constrained")
    axes = fig.subplots(1, len(thresholds), squeeze=False)[0]
    for ax, threshold in zip(axes, thresholds):
        for curve, color in zip(curves, BOX_COLORS[1:] + BOX_COLORS[:1]):
            if threshold not in curve.iou_thresholds:
                raise ValueError(f"recall_curve_figure: curve {curve.name!r} has no recall at "
                                 f"IoU {threshold} (it has {curve.iou_thresholds})")
            recall = curve.recall[curve.iou_thresholds.index(threshold)]
            ax.plot(curve.num_proposals, recall, marker="o", markersize=3, color=color,
                    label=f"{curve.name} ({curve.num_objects} objects, "
                          f"{curve.num_images} images)")
        if mark is not None:
            ax.axvline(mark, color="gray", linestyle=":", linewidth=1)
        ax.set_xscale("log")
        ax.set_ylim(0, 1.02)
        ax.grid(True, which="major", alpha=0.3)
        ax.set_xlabel("proposals per image")
        ax.set_ylabel(f"recall at IoU {threshold:g}")
        ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path, dpi)


# ---------------------------------------------------------------------------------------------
# The figures of docs/proposals.md (synthetic images only)
# ---------------------------------------------------------------------------------------------
DOC_IMAGE = {"split": "val", "image_size": 256, "index": 26}  # 3 objects on stripes


def _save_small(fig, path, dpi: int):
    """Save as a 256-colour PNG: the synthetic images' pixel noise makes full-colour PNGs of
    photos-like panels three times larger, and docs/figures/ keeps each figure under 150 KB."""
    if path is not None:
        import io

        from PIL import Image
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)
        Image.open(buffer).convert("RGB").quantize(256).save(path, optimize=True)
    return fig
DOC_RECALL = {"split": "val", "image_size": 128, "num_images": 10}


def proposals_doc_figure(path=None, dpi: int = 90):
    """docs/proposals.md: sliding windows against selective search ("fast") on a synthetic
    image, after its Felzenszwalb regions (k = 100, HSV)."""
    from minicv.data import SyntheticShapes
    from minicv.proposals import (convert_colour, felzenszwalb, selective_search,
                                  sliding_windows)

    dataset = SyntheticShapes(DOC_IMAGE["split"], image_size=DOC_IMAGE["image_size"])
    image, target = dataset[DOC_IMAGE["index"]]
    windows = sliding_windows(image.shape[:2])
    windows = windows[np.random.default_rng(0).permutation(len(windows))]   # no ranking
    regions = felzenszwalb(convert_colour(image, "hsv"), k=100, min_size=100)
    fig = proposals_figure(image, {"sliding windows": windows,
                                   "selective search": selective_search(image, "fast")},
                           target["boxes"], segments=regions)
    return _save_small(fig, path, dpi)


def recall_doc_figure(path=None, dpi: int = 100):
    """docs/proposals.md: recall curves of both methods on a few small synthetic images."""
    from minicv.data import SyntheticShapes
    from minicv.proposals import evaluate_proposals

    dataset = SyntheticShapes(DOC_RECALL["split"], image_size=DOC_RECALL["image_size"])
    curves = [evaluate_proposals(dataset, method, max_images=DOC_RECALL["num_images"],
                                 progress=False)
              for method in ("selective-search", "sliding")]
    return recall_curve_figure(curves, path=path, dpi=dpi)


DOC_FIGURES = {
    "proposals_sliding_vs_selective.png": proposals_doc_figure,
    "proposals_recall.png": recall_doc_figure,
}
