"""Box deltas: how R-CNN-family detectors say "move and resize this box".

A detector does not predict box corners directly. It predicts, for each proposal (or anchor)
p, a small correction t = (tx, ty, tw, th) towards the ground-truth box g it should become
(R-CNN, Girshick et al. 2014, appendix C). With centres (px, py), sizes (pw, ph) = (x2 - x1,
y2 - y1) -- no "+1", torchvision's convention -- and weights (wx, wy, ww, wh):

    encode:  tx = wx * (gx - px) / pw        decode:  gx = px + pw * tx / wx
             ty = wy * (gy - py) / ph                 gy = py + ph * ty / wy
             tw = ww * log(gw / pw)                   gw = pw * exp(min(tw / ww, clip))
             th = wh * log(gh / ph)                   gh = ph * exp(min(th / wh, clip))

The shift is measured in units of the proposal's size and the scale in log space, so the same
network output means the same relative move for a small box and a large one.

The weights multiply in encode and divide in decode (torchvision's convention). They scale the
regression targets to roughly unit variance: Fast/Faster R-CNN's second stage uses (10, 10, 5,
5) -- the same as dividing the targets by the standard deviations (0.1, 0.1, 0.2, 0.2) of the
original Caffe code -- and the RPN uses (1, 1, 1, 1).

Decoding clamps tw / ww and th / wh at ``bbox_xform_clip`` = log(1000 / 16) before exp: an
untrained network can output a huge tw, and exp(tw) would overflow. The clamp lets a box grow at
most 1000 / 16 = 62.5 times (a 16-pixel anchor to 1000 pixels).

Notation: N boxes, C classes (class-specific deltas are (N, 4 * C), (tx, ty, tw, th) per class).

References: Girshick, Donahue, Darrell & Malik, "Rich feature hierarchies for accurate object
detection and semantic segmentation", CVPR 2014, appendix C; Girshick, "Fast R-CNN", ICCV 2015;
torchvision, torchvision/models/detection/_utils.py (BoxCoder).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from minicv import backend
from minicv.autograd import Tensor
from minicv.ops.boxes import _array, _check_boxes, _math_for, _TensorMath

__all__ = ["BoxCoder"]


def _centres_and_sizes(boxes):
    """(ctr_x, ctr_y, widths, heights), each (N,), of (N, 4) xyxy boxes (arrays or Tensors)."""
    widths = boxes[:, 2] - boxes[:, 0]
    heights = boxes[:, 3] - boxes[:, 1]
    return boxes[:, 0] + 0.5 * widths, boxes[:, 1] + 0.5 * heights, widths, heights


def _check_positive_size(op: str, name: str, boxes) -> None:
    """Raise ValueError naming the first box whose width or height is not positive."""
    xp = backend.get_array_module(boxes)
    bad = (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])    # (N,)
    if bool(bad.any()):
        i = int(xp.argmax(bad))
        raise ValueError(f"{op}: every box of {name} needs a positive width and height (the "
                         f"deltas divide by them and take their log), but box {i} is "
                         f"{backend.to_cpu(boxes[i]).tolist()}")


class BoxCoder:
    """Encode boxes as deltas relative to reference boxes, and decode them back.

    Parameters
    ----------
    weights : (float, float, float, float)
        (wx, wy, ww, wh), positive. (10, 10, 5, 5) for the Fast/Faster R-CNN box head,
        (1, 1, 1, 1) for the RPN.
    bbox_xform_clip : float
        Upper clamp of tw / ww and th / wh before exp in :meth:`decode`; log(1000 / 16).

    Notes
    -----
    The formulas are in this module's docstring. ``encode`` and ``decode`` work on one
    concatenated (N, 4) array, torchvision's ``encode_single`` / ``decode_single``; for a batch,
    concatenate the images' boxes and split the result. The arithmetic is torchvision's, step
    for step; results agree with it to the last bit or two (PyTorch's exp and log, and its
    division by a Python number, round slightly differently from NumPy's).

    Examples
    --------
    >>> coder = BoxCoder(weights=(10.0, 10.0, 5.0, 5.0))
    >>> proposals = np.array([[0.0, 0.0, 10.0, 10.0]])
    >>> gt = np.array([[1.0, 0.0, 11.0, 20.0]])       # moved right by 1, twice as high
    >>> deltas = coder.encode(gt, proposals)
    >>> deltas.round(4)                              # 10 * 1/10, 10 * 5/10, 5 log 1, 5 log 2
    array([[1.    , 5.    , 0.    , 3.4657]])
    >>> coder.decode(deltas, proposals)
    array([[ 1.,  0., 11., 20.]])
    """

    def __init__(self, weights=(1.0, 1.0, 1.0, 1.0),
                 bbox_xform_clip: float = math.log(1000.0 / 16)):
        try:
            weights = tuple(float(w) for w in weights)
        except (TypeError, ValueError):
            raise ValueError(f"BoxCoder: weights must be four positive numbers (wx, wy, ww, wh), "
                             f"got {weights!r}") from None
        if len(weights) != 4 or not all(w > 0 and math.isfinite(w) for w in weights):
            raise ValueError(f"BoxCoder: weights must be four positive numbers (wx, wy, ww, wh), "
                             f"got {weights!r}")
        if (not isinstance(bbox_xform_clip, numbers.Real) or isinstance(bbox_xform_clip, bool)
                or math.isnan(bbox_xform_clip)):
            raise ValueError(f"BoxCoder: bbox_xform_clip must be a number, got "
                             f"{bbox_xform_clip!r}")
        self.weights = weights
        self.bbox_xform_clip = float(bbox_xform_clip)

    def __repr__(self):
        return f"BoxCoder(weights={self.weights}, bbox_xform_clip={self.bbox_xform_clip:.4f})"

    def encode(self, gt_boxes, proposals):
        """The deltas that turn each proposal into its ground-truth box.

        Parameters
        ----------
        gt_boxes : (N, 4) array or Tensor
            The ground-truth box matched to each proposal (torchvision calls this argument
            ``reference_boxes``; the order of the two arguments is torchvision's).
        proposals : (N, 4) array or Tensor
            The proposals or anchors the deltas are relative to.

        Returns
        -------
        (N, 4) array (tx, ty, tw, th): regression targets are constants, so Tensors are read
        as arrays and no graph is recorded. Float dtypes are kept (mixed ones promote);
        integer boxes give float32.

        Raises
        ------
        ValueError when the shapes differ from (N, 4) or from each other, a coordinate is not
        finite, or a box has a width or height <= 0 (its log would be -inf or NaN).
        """
        gt = _array("BoxCoder.encode", "gt_boxes", gt_boxes)
        ref = _array("BoxCoder.encode", "proposals", proposals)
        _check_boxes("BoxCoder.encode", gt, "gt_boxes")
        _check_boxes("BoxCoder.encode", ref, "proposals")
        if gt.shape[0] != ref.shape[0]:
            raise ValueError(f"BoxCoder.encode: gt_boxes {tuple(gt.shape)} and proposals "
                             f"{tuple(ref.shape)} must hold the same number of boxes")
        xp = backend.get_array_module(gt, ref, op="BoxCoder.encode")
        dtype = xp.result_type(*(a.dtype if a.dtype.kind == "f" else np.float32
                                 for a in (gt, ref)))
        gt, ref = gt.astype(dtype, copy=False), ref.astype(dtype, copy=False)
        _check_positive_size("BoxCoder.encode", "gt_boxes", gt)
        _check_positive_size("BoxCoder.encode", "proposals", ref)

        wx, wy, ww, wh = self.weights
        ex_ctr_x, ex_ctr_y, ex_widths, ex_heights = _centres_and_sizes(ref)    # (N,) each
        gt_ctr_x, gt_ctr_y, gt_widths, gt_heights = _centres_and_sizes(gt)     # (N,) each
        targets_dx = wx * (gt_ctr_x - ex_ctr_x) / ex_widths
        targets_dy = wy * (gt_ctr_y - ex_ctr_y) / ex_heights
        targets_dw = ww * xp.log(gt_widths / ex_widths)
        targets_dh = wh * xp.log(gt_heights / ex_heights)
        return xp.stack([targets_dx, targets_dy, targets_dw, targets_dh], axis=1)   # (N, 4)

    def decode(self, deltas, boxes):
        """Apply deltas to boxes: the boxes the network predicts.

        Parameters
        ----------
        deltas : (N, 4) or (N, 4 * C) float array or Tensor
            (tx, ty, tw, th), or one such group per class (class-specific regression).
        boxes : (N, 4) array or Tensor
            The proposals or anchors the deltas are relative to (torchvision's order:
            deltas first).

        Returns
        -------
        (N, 4) or (N, 4 * C): the decoded (x1, y1, x2, y2) boxes, class by class, in the dtype of
        ``deltas`` (boxes are converted to it, as torchvision does). An array for arrays; a
        Tensor when either input is a Tensor, built from minicv ops, so a loss on the decoded
        boxes backpropagates into the deltas (and into ``boxes`` if they require grad).
        The gradient of tw is 0 where the clamp cut it.

        Raises
        ------
        ValueError for deltas not (N, 4 * C), boxes not (N, 4) or non-finite boxes; TypeError
        for integer deltas, or for Tensor boxes that require grad in another dtype.
        """
        op = "BoxCoder.decode"
        delta_array = _array(op, "deltas", deltas)
        box_array = _array(op, "boxes", boxes)
        shape = tuple(delta_array.shape)
        if len(shape) != 2 or shape[1] == 0 or shape[1] % 4:
            raise ValueError(f"{op}: deltas must have shape (N, 4) or (N, 4 * C), got {shape}")
        if delta_array.dtype.kind != "f":
            raise TypeError(f"{op}: deltas must be floating point, got dtype "
                            f"{delta_array.dtype} with shape {shape}")
        _check_boxes(op, box_array)
        if box_array.shape[0] != shape[0]:
            raise ValueError(f"{op}: deltas {shape} and boxes {tuple(box_array.shape)} must "
                             f"hold the same number of boxes")
        backend.get_array_module(delta_array, box_array, op=op)   # refuse mixed cpu/gpu inputs
        m = _math_for(deltas, boxes)
        dtype = delta_array.dtype
        if not isinstance(boxes, Tensor):
            boxes = box_array.astype(dtype, copy=False)
        elif boxes.dtype != dtype:
            if boxes.requires_grad:
                raise TypeError(f"{op}: boxes require grad but have dtype {boxes.dtype} while "
                                f"deltas have {dtype}; convert one of them")
            boxes = Tensor(boxes.data.astype(dtype))
        if m is _TensorMath:
            deltas = deltas if isinstance(deltas, Tensor) else Tensor(delta_array)
            boxes = boxes if isinstance(boxes, Tensor) else Tensor(boxes)
        else:
            deltas = delta_array

        wx, wy, ww, wh = self.weights
        ctr_x, ctr_y, widths, heights = _centres_and_sizes(boxes)      # (N,) each
        dx = deltas[:, 0::4] / wx                                      # (N, C) each
        dy = deltas[:, 1::4] / wy
        dw = (deltas[:, 2::4] / ww).clip(max=self.bbox_xform_clip)     # exp must not overflow
        dh = (deltas[:, 3::4] / wh).clip(max=self.bbox_xform_clip)

        pred_ctr_x = dx * widths[:, None] + ctr_x[:, None]             # (N, C)
        pred_ctr_y = dy * heights[:, None] + ctr_y[:, None]
        pred_w = m.exp(dw) * widths[:, None]
        pred_h = m.exp(dh) * heights[:, None]
        corners = m.stack([pred_ctr_x - 0.5 * pred_w, pred_ctr_y - 0.5 * pred_h,
                           pred_ctr_x + 0.5 * pred_w, pred_ctr_y + 0.5 * pred_h], axis=2)
        return corners.reshape((shape[0], shape[1]))                   # (N, C, 4) -> (N, 4C)
