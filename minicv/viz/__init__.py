"""Pictures: the figures of the docs, computed with minicv's own ops and drawn with matplotlib.

matplotlib is the optional ``plot`` extra (``pip install minicv[plot]``). It is imported only
when a figure is drawn, so the rest of minicv never needs it. The functions build a
``matplotlib.figure.Figure`` directly (no pyplot, no global state, no backend switching): they
return it -- a notebook displays it -- and, given ``path``, also save it as a PNG.

- layers.py
  :func:`pooling_switches_figure`   docs/pooling.md: input, pooled values, switches, unpooled
  :func:`checkerboard_figure`       docs/conv.md: ConvTranspose2d(k4, s2, p1) with random weights
  against the same layer initialised by ``nn.init.bilinear_``
  :func:`roi_figure`                docs/roi.md: the cells RoI pooling reads and the points
  RoIAlign samples for one box (pass your own box, map size, scale and output size)

- segmentation.py (Pillow only, no matplotlib)
  :func:`palette`, :func:`colorize`, :func:`overlay`     class colours and translucent masks
  :func:`segmentation_grid`                             image | ground truth | prediction grids
- detection.py
  :func:`draw_boxes`, :func:`draw_masks`                boxes with labels and scores, masks
  :func:`proposals_figure`, :func:`recall_curve_figure` docs/proposals.md: sliding windows vs
  selective search, recall against the number of proposals

``docs/make_figures.py`` redraws every figure of the docs (``DOC_FIGURES``).
"""
from minicv.viz import detection as _detection, layers as _layers
from minicv.viz.detection import *  # noqa: F401,F403
from minicv.viz.layers import *  # noqa: F401,F403

DOC_FIGURES = {**_layers.DOC_FIGURES, **_detection.DOC_FIGURES}

__all__ = [*_layers.__all__, *_detection.__all__]
