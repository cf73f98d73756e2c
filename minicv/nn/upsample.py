"""Upsample: a Module around F.interpolate (PyTorch's torch.nn.Upsample), and PyTorch's two
fixed-mode variants UpsamplingNearest2d and UpsamplingBilinear2d.

The layer has no parameters; it holds the resize rule (size or scale_factor, mode,
align_corners) so that a decoder can be written as a Sequential. A learnable upsampling is a
ConvTranspose2d (minicv.nn.conv), which FCN initialises to bilinear upsampling with
``nn.init.bilinear_``.
"""
from __future__ import annotations

from minicv import functional as F
from minicv.functional.upsample import _check_options
from minicv.nn.module import Module

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]


class Upsample(Module):
    """Resize (N, C, H, W) feature maps: ``F.interpolate(x, size, scale_factor, mode,
    align_corners)``.

    Parameters
    ----------
    size : int or (int, int), optional
        Output size (OH, OW).
    scale_factor : float or (float, float), optional
        Multiplier for H and W (OH = floor(H * scale_factor)). Give exactly one of the two.
        Stored as float (or a tuple of floats), as PyTorch.
    mode : {"nearest", "bilinear"}
    align_corners : bool, optional
        Bilinear only (None means False); must be None for nearest.

    The arguments are checked here, so a bad layer fails when it is built, not in the middle of
    a forward pass. Shapes: x (N, C, H, W) -> (N, C, OH, OW).

    Examples
    --------
    >>> import numpy as np
    >>> up = Upsample(scale_factor=2, mode="bilinear")
    >>> up
    Upsample(scale_factor=2.0, mode='bilinear')
    >>> up(np.ones((1, 3, 4, 5), dtype=np.float32)).shape
    (1, 3, 8, 10)
    """

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest",
                 align_corners: bool | None = None):
        super().__init__()
        _check_options(size, scale_factor, mode, align_corners, op=type(self).__name__)
        self.size = size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(float(s) for s in scale_factor)
        else:
            self.scale_factor = None if scale_factor is None else float(scale_factor)
        self.mode = mode
        self.align_corners = align_corners

    def forward(self, x):
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners)

    def extra_repr(self):
        # PyTorch's repr: the size rule and the mode (align_corners is not shown)
        if self.scale_factor is not None:
            return f"scale_factor={self.scale_factor!r}, mode={self.mode!r}"
        return f"size={self.size!r}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode="nearest")``."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode="bilinear", align_corners=True)`` -- note the corner
    alignment, which this older PyTorch layer fixes (``Upsample``'s bilinear default is False)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
