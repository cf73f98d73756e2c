"""Slow loop references for minicv.ops (boxes, NMS, box coder, anchors): one box at a time, in
plain Python floats, written straight from the definitions so that they are easy to trust.

They are the answer key of tests/test_boxes.py, test_coder.py and test_anchors.py.
"""
import math

import numpy as np


def iou_scalar(a, b, dtype=float):
    """IoU of two boxes (x1, y1, x2, y2), in torchvision's order of operations, every
    intermediate rounded to ``dtype`` (``float`` = float64, or ``np.float32``). 0 when the
    union is 0 (two empty boxes), as minicv's box_iou."""
    a = [dtype(v) for v in a]
    b = [dtype(v) for v in b]
    zero = dtype(0)
    area_a = dtype(a[2] - a[0]) * dtype(a[3] - a[1])
    area_b = dtype(b[2] - b[0]) * dtype(b[3] - b[1])
    w = max(zero, dtype(min(a[2], b[2]) - max(a[0], b[0])))
    h = max(zero, dtype(min(a[3], b[3]) - max(a[1], b[1])))
    inter = dtype(w * h)
    union = dtype(dtype(area_a + area_b) - inter)
    return dtype(inter / union) if union != 0 else zero


def box_iou_loop(boxes1, boxes2):
    """(N, M) IoU matrix, one pair at a time."""
    out = np.zeros((len(boxes1), len(boxes2)))
    for i, a in enumerate(boxes1):
        for j, b in enumerate(boxes2):
            out[i, j] = iou_scalar(a, b)
    return out


def nms_loop(boxes, scores, iou_threshold, dtype=float):
    """Greedy NMS as in the papers: repeatedly keep the best remaining box and drop the boxes
    whose IoU with it exceeds the threshold. Ties in score: lower index first."""
    order = sorted(range(len(boxes)), key=lambda i: (-float(scores[i]), i))
    keep = []
    removed = [False] * len(boxes)
    for pos, i in enumerate(order):
        if removed[i]:
            continue
        keep.append(i)
        for j in order[pos + 1:]:
            if not removed[j] and float(iou_scalar(boxes[i], boxes[j], dtype)) > iou_threshold:
                removed[j] = True
    return np.array(keep, dtype=np.int64)


def batched_nms_loop(boxes, scores, idxs, iou_threshold):
    """NMS class by class, then all kept boxes merged by decreasing score (ties by index)."""
    kept = []
    for c in sorted(set(np.asarray(idxs).tolist())):
        members = [i for i in range(len(boxes)) if idxs[i] == c]
        local = nms_loop([boxes[i] for i in members], [scores[i] for i in members],
                         iou_threshold)
        kept.extend(members[k] for k in local)
    kept.sort(key=lambda i: (-float(scores[i]), i))
    return np.array(kept, dtype=np.int64)


def encode_scalar(gt, proposal, weights):
    """R-CNN appendix C deltas (tx, ty, tw, th) of one box pair, times the weights."""
    wx, wy, ww, wh = weights
    pw, ph = proposal[2] - proposal[0], proposal[3] - proposal[1]
    px, py = proposal[0] + pw / 2, proposal[1] + ph / 2
    gw, gh = gt[2] - gt[0], gt[3] - gt[1]
    gx, gy = gt[0] + gw / 2, gt[1] + gh / 2
    return [wx * (gx - px) / pw, wy * (gy - py) / ph, ww * math.log(gw / pw),
            wh * math.log(gh / ph)]


def decode_scalar(delta, box, weights, clip=math.log(1000 / 16)):
    """The box (x1, y1, x2, y2) that deltas (tx, ty, tw, th) make of ``box``."""
    wx, wy, ww, wh = weights
    pw, ph = box[2] - box[0], box[3] - box[1]
    px, py = box[0] + pw / 2, box[1] + ph / 2
    gx = px + pw * delta[0] / wx
    gy = py + ph * delta[1] / wy
    gw = pw * math.exp(min(delta[2] / ww, clip))
    gh = ph * math.exp(min(delta[3] / wh, clip))
    return [gx - gw / 2, gy - gh / 2, gx + gw / 2, gy + gh / 2]


def anchors_loop(sizes, aspect_ratios, grid_size, stride):
    """Anchors of one feature map, cell by cell in row-major order, then ratio by ratio and
    size by size, each rounded half to even (Python's round, like torch.round)."""
    (fh, fw), (sh, sw) = grid_size, stride
    out = []
    for i in range(fh):
        for j in range(fw):
            for r in aspect_ratios:
                for s in sizes:
                    w, h = s / math.sqrt(r), s * math.sqrt(r)
                    base = [round(-w / 2), round(-h / 2), round(w / 2), round(h / 2)]
                    out.append([base[0] + j * sw, base[1] + i * sh,
                                base[2] + j * sw, base[3] + i * sh])
    return np.array(out, dtype=np.float64).reshape(-1, 4)
