"""Region feature layers: RoIPool and RoIAlign (torchvision.ops' names, arguments and reprs).

They hold only hyper-parameters; the work and the calculus are in minicv.functional.roi. A
Fast R-CNN box head starts with ``RoIPool(7, 1/16)``; Mask R-CNN's heads with
``RoIAlign(7, 1/16, sampling_ratio=2)`` (14 for the mask head).

    >>> import numpy as np
    >>> pool = RoIAlign((2, 2), spatial_scale=0.5, sampling_ratio=2, aligned=True)
    >>> pool
    RoIAlign(output_size=(2, 2), spatial_scale=0.5, sampling_ratio=2, aligned=True)
    >>> features = np.ones((1, 3, 8, 8), dtype=np.float32)
    >>> pool(features, np.array([[0, 0, 0, 16, 16]], dtype=np.float32)).shape
    (1, 3, 2, 2)
"""
from __future__ import annotations

import operator

from minicv import functional as F
from minicv.functional.roi import _output_size, _spatial_scale
from minicv.nn.module import Module

__all__ = ["RoIPool", "RoIAlign"]


class RoIPool(Module):
    """RoI max pooling: see :func:`minicv.functional.roi_pool`.

    Parameters
    ----------
    output_size : int or (PH, PW)
    spatial_scale : float
        Feature-map coordinates = image coordinates * spatial_scale.

    Call it as ``pool(x, rois)``: x (N, C, H, W), rois (K, 5) rows (batch_index, x1, y1, x2,
    y2) or a list of (L, 4) boxes per image -> (K, C, PH, PW).
    """

    def __init__(self, output_size, spatial_scale: float):
        super().__init__()
        _output_size("RoIPool", output_size)                     # fail early
        _spatial_scale("RoIPool", spatial_scale)
        self.output_size = output_size
        self.spatial_scale = spatial_scale

    def forward(self, x, rois):
        return F.roi_pool(x, rois, self.output_size, self.spatial_scale)

    def extra_repr(self):
        return f"output_size={self.output_size}, spatial_scale={self.spatial_scale}"


class RoIAlign(Module):
    """RoIAlign: see :func:`minicv.functional.roi_align`.

    Parameters
    ----------
    output_size : int or (PH, PW)
    spatial_scale : float
        Feature-map coordinates = image coordinates * spatial_scale.
    sampling_ratio : int
        Samples per bin along each axis; 0 or less means adaptive (ceil(roi size / output
        size) per roi).
    aligned : bool
        Subtract half a pixel from the scaled coordinates (pixel centres at index + 0.5).

    Call it as ``align(x, rois)``: x (N, C, H, W), rois (K, 5) or a list of (L, 4) boxes per
    image -> (K, C, PH, PW). Boxes given as Tensors with requires_grad receive a gradient.
    """

    def __init__(self, output_size, spatial_scale: float, sampling_ratio: int,
                 aligned: bool = False):
        super().__init__()
        _output_size("RoIAlign", output_size)                    # fail early
        _spatial_scale("RoIAlign", spatial_scale)
        if isinstance(sampling_ratio, bool):
            raise TypeError(f"RoIAlign: sampling_ratio must be an int, got {sampling_ratio!r}")
        try:
            operator.index(sampling_ratio)
        except TypeError:
            raise TypeError(f"RoIAlign: sampling_ratio must be an int, got "
                            f"{sampling_ratio!r}") from None
        self.output_size = output_size
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio
        self.aligned = aligned

    def forward(self, x, rois):
        return F.roi_align(x, rois, self.output_size, self.spatial_scale, self.sampling_ratio,
                           self.aligned)

    def extra_repr(self):
        return (f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
                f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned}")
