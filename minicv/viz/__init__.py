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

``docs/make_figures.py`` redraws every figure of the docs (``DOC_FIGURES``).
"""
from minicv.viz import layers as _layers
from minicv.viz.layers import *  # noqa: F401,F403

DOC_FIGURES = dict(_layers.DOC_FIGURES)

__all__ = [*_layers.__all__]
