"""Fully convolutional networks: FCN-32s, FCN-16s and FCN-8s (Long, Shelhamer & Darrell,
"Fully Convolutional Networks for Semantic Segmentation", CVPR 2015, arXiv:1411.4038).

A classification network becomes a segmentation network in three steps (the paper's Sec. 3):

1. *Convolutionalise* the classifier (Sec. 3.1): fc6 and fc7 become convolutions -- fc6 a 7x7
   convolution over pool5 (the 7x7 window the fully connected layer saw), fc7 a 1x1 one -- so
   the network takes any input size and returns a coarse map of class scores, one score vector
   per 32x32 block of the image ("score_fr", a 1x1 convolution to K classes).
2. *Upsample* the coarse scores back to the image with transposed ("backwards strided")
   convolutions (Sec. 3.3), initialised to bilinear interpolation (``nn.init.bilinear_``).
3. *Skip* (Sec. 4.2, Fig. 3): the 32-pixel stride loses detail at the boundaries, so score the
   finer pool4 (stride 16) and pool3 (stride 8) maps with 1x1 convolutions as well, and fuse by
   summation after upsampling the coarser prediction by 2:

       FCN-32s:  score_fr                                                   --x32--> output
       FCN-16s:  up2(score_fr) + score_pool4(pool4)                         --x16--> output
       FCN-8s:   up2(up2(score_fr) + score_pool4(pool4)) + score_pool3(pool3) --x8--> output

Notation: N batch, K classes, H and W the image's size, H' and W' that size padded up to a
multiple of 32 (below), C_i the width of stage i.

Initialisation (Sec. 4): the score layers start at zero, so FCN-16s and FCN-8s start out
predicting exactly what the coarser net predicts and the skips learn a correction; the 2x
upsamplings start as bilinear interpolation and are learnt; the paper keeps the final
upsampling fixed to bilinear interpolation (``learn_final_upsampling=False``). minicv's small
presets learn it too: trained from scratch, a fixed x8 bilinear caps how sharp the boundaries
can get.

Alignment: why no 100-pixel padding
-----------------------------------
The paper's Caffe models pad the input by 100 pixels (in conv1_1) so that fc6, a 7x7 convolution
*without* padding, still has an output for small images, and then *crop* every map before a
fusion at an offset worked out from the layers' geometry (5 pixels for pool4's scores, 9 for
pool3's, and 19, 27 and 31 for the final outputs of FCN-32s, -16s and -8s) so that the summed
maps describe the same image positions.

Here every convolution keeps the size (3x3 with padding 1; fc6 with padding fc_kernel // 2) and
the image is zero-padded at the bottom and right to H' x W', multiples of 32. Then every map of
stride s has exactly H'/s x W'/s pixels and its pixel i covers the image pixels
[s*i, s*i + s): the maps are aligned with offset 0. The 2x upsampling (kernel 4, stride 2,
padding 1) sends pixel i of a coarse map to the centre of fine pixels 2i and 2i + 1 -- the same
image position -- so the sum needs no crop, and the final upsampling by f (kernel 2f, stride f,
padding f/2) returns exactly H' x W', which is cropped back to H x W. Both schemes put each
score at the same place in the image; they differ only at the border (the paper's fc6 sees 100
pixels of zeros around the image; here the zeros sit only beyond the bottom and right edges)
and in cost: a 64x64 image is computed at 64x64 here and at 264x264, 17 times more pixels, with
the 100-pixel padding.

>>> import numpy as np
>>> config = FCNConfig(widths=(8, 8, 16, 16, 16), convs=(1, 1, 1, 1, 1), fc_width=16,
...                    fc_kernel=3)
>>> model = FCN8s(num_classes=3, config=config, rng=0)
>>> model(np.zeros((2, 3, 33, 47), dtype=np.float32)).shape      # any size: padded to 64x64
(2, 3, 33, 47)
>>> model.upscore2                                                 # bilinear x2, learnt
ConvTranspose2d(3, 3, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), bias=False)
"""
from __future__ import annotations

from dataclasses import dataclass

from minicv import functional as F
from minicv import nn
from minicv.models.vgg import VGG, VGGConfig, as_generator, check_config

__all__ = ["FCNConfig", "FCN", "FCN32s", "FCN16s", "FCN8s", "pad_to_multiple",
           "bilinear_upsampling"]


@dataclass
class FCNConfig(VGGConfig):
    """An FCN's configuration: the VGG backbone's fields (VGGConfig) and the head's. The
    defaults are the paper's (VGG16 backbone without batch normalisation).

    fc_width : channels of fc6 and fc7                                4096
    fc_kernel : fc6's kernel (odd; padded to keep the size)           7 (VGG's 7x7 pool5)
    dropout : dropout after fc6 and after fc7                         0.5
    learn_final_upsampling : train the last (x8/x16/x32) upsampling    False (fixed to bilinear)

    With ``batch_norm`` fc6 and fc7 get a BatchNorm2d too (before their ReLU).
    """
    fc_width: int = 4096
    fc_kernel: int = 7
    dropout: float = 0.5
    learn_final_upsampling: bool = False

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.fc_width, int) or isinstance(self.fc_width, bool) \
                or self.fc_width < 1:
            raise ValueError(f"FCNConfig: fc_width must be a positive int, got "
                             f"{self.fc_width!r}")
        if not isinstance(self.fc_kernel, int) or self.fc_kernel < 1 or self.fc_kernel % 2 == 0:
            raise ValueError(f"FCNConfig: fc_kernel must be a positive odd int (it is padded "
                             f"by fc_kernel // 2 to keep the size), got {self.fc_kernel!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"FCNConfig: dropout must be in [0, 1), got {self.dropout!r}")


# ---------------------------------------------------------------------------------------------
# Pieces
# ---------------------------------------------------------------------------------------------
def pad_to_multiple(x, multiple: int):
    """Zero-pad the bottom and right of (N, C, H, W) ``x`` to (N, C, H', W'), the next
    multiples of ``multiple``; returns (padded x, (H, W))."""
    h, w = x.shape[2:]
    pad_h, pad_w = -h % multiple, -w % multiple
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h))           # (left, right, top, bottom)
    return x, (h, w)


def bilinear_upsampling(channels: int, factor: int, learnable: bool = True,
                        rng=None) -> nn.ConvTranspose2d:
    """ConvTranspose2d(K, K, kernel 2f, stride f, padding f/2, no bias) whose weight starts as
    bilinear interpolation by ``factor`` = f (even): (N, K, h, w) -> (N, K, f*h, f*w).

    ``learnable=False`` freezes it (``requires_grad=False``: no gradient, no update).
    """
    up = nn.ConvTranspose2d(channels, channels, 2 * factor, stride=factor,
                            padding=factor // 2, bias=False, rng=rng)
    nn.init.bilinear_(up.weight)
    up.weight.requires_grad = learnable
    return up


def score_layer(in_channels: int, num_classes: int) -> nn.Conv2d:
    """1x1 convolution to class scores, initialised to zero (the paper's Sec. 4.2)."""
    score = nn.Conv2d(in_channels, num_classes, 1)
    nn.init.zeros_(score.weight)
    nn.init.zeros_(score.bias)
    return score


def fully_convolutional_head(config: FCNConfig, rng=None) -> nn.Sequential:
    """fc6 (fc_kernel x fc_kernel) and fc7 (1x1) as convolutions, each [+ BN] + ReLU +
    dropout: (N, C_5, h, w) -> (N, fc_width, h, w)."""
    layers = []
    for name, (c_in, kernel) in (("fc6", (config.widths[-1], config.fc_kernel)),
                                 ("fc7", (config.fc_width, 1))):
        layers.append(nn.Conv2d(c_in, config.fc_width, kernel, padding=kernel // 2,
                                bias=not config.batch_norm, rng=rng))
        if config.batch_norm:
            layers.append(nn.BatchNorm2d(config.fc_width))
        layers += [nn.ReLU(), nn.Dropout(config.dropout)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------------------------
# The networks
# ---------------------------------------------------------------------------------------------
class FCN(nn.Module):
    """What FCN-32s, -16s and -8s share: the VGG backbone, fc6/fc7 and score_fr.

    Subclasses add their skip and upsampling layers and a ``forward`` that reads like the
    paper's Fig. 3. Every FCN maps x (N, C_in, H, W), any H, W >= 1, to logits (N, K, H, W).

    Parameters
    ----------
    num_classes : int
        K, the number of classes (background included).
    config : FCNConfig, optional
        Default: the paper's FCNConfig().
    rng : numpy Generator, int seed or None
        For the random initial weights (None: ``nn.init``'s default generator).
    """

    name = "fcn"
    output_stride = 32          # pixels between the cells of the finest score map it upsamples

    def __init__(self, num_classes: int, config: FCNConfig | None = None, rng=None):
        super().__init__()
        self.config = FCNConfig() if config is None else config
        check_config(self.config)
        if len(self.config.widths) != 5:
            raise ValueError(f"{type(self).__name__}: needs a 5-stage backbone (pool3, pool4 "
                             f"and pool5 are scored), got widths {self.config.widths}")
        self.num_classes = num_classes
        self.stride = 2 ** len(self.config.widths)                  # 32
        rng = as_generator(rng)                 # the subclass's generator, if it made one
        self.backbone = VGG(self.config, rng=rng)
        self.head = fully_convolutional_head(self.config, rng=rng)      # fc6, fc7
        self.score_fr = score_layer(self.config.fc_width, num_classes)

    def _final_upsampling(self, factor: int, rng):
        return bilinear_upsampling(self.num_classes, factor,
                                   learnable=self.config.learn_final_upsampling, rng=rng)

    def _scores(self, x):
        """Backbone, fc6, fc7, score_fr on the padded image: (pool3, pool4, coarse scores)."""
        _, _, pool3, pool4, pool5 = self.backbone(x)        # strides 8, 16, 32
        return pool3, pool4, self.score_fr(self.head(pool5))   # (N, K, H'/32, W'/32)


class FCN32s(FCN):
    """FCN-32s: the coarse scores upsampled x32 in one step."""

    name = "fcn32s"
    output_stride = 32

    def __init__(self, num_classes: int, config: FCNConfig | None = None, rng=None):
        rng = as_generator(rng)                 # one generator for every layer
        super().__init__(num_classes, config, rng)
        self.upscore32 = self._final_upsampling(32, rng)

    def forward(self, x):
        x, (h, w) = pad_to_multiple(x, self.stride)         # (N, 3, H', W')
        _, _, score = self._scores(x)                       # (N, K, H'/32, W'/32)
        score = self.upscore32(score)                       # (N, K, H', W')
        return score[:, :, :h, :w]                          # (N, K, H, W)


class FCN16s(FCN):
    """FCN-16s: coarse scores x2, plus pool4's scores, then x16."""

    name = "fcn16s"
    output_stride = 16

    def __init__(self, num_classes: int, config: FCNConfig | None = None, rng=None):
        rng = as_generator(rng)                 # one generator for every layer
        super().__init__(num_classes, config, rng)
        self.score_pool4 = score_layer(self.config.widths[3], num_classes)
        self.upscore2 = bilinear_upsampling(num_classes, 2, rng=rng)
        self.upscore16 = self._final_upsampling(16, rng)

    def forward(self, x):
        x, (h, w) = pad_to_multiple(x, self.stride)         # (N, 3, H', W')
        _, pool4, score = self._scores(x)                   # (N, K, H'/32, W'/32)
        score = self.upscore2(score) + self.score_pool4(pool4)     # (N, K, H'/16, W'/16)
        score = self.upscore16(score)                       # (N, K, H', W')
        return score[:, :, :h, :w]                          # (N, K, H, W)


class FCN8s(FCN):
    """FCN-8s: as FCN-16s, then x2 again, plus pool3's scores, then x8."""

    name = "fcn8s"
    output_stride = 8

    def __init__(self, num_classes: int, config: FCNConfig | None = None, rng=None):
        rng = as_generator(rng)                 # one generator for every layer
        super().__init__(num_classes, config, rng)
        self.score_pool4 = score_layer(self.config.widths[3], num_classes)
        self.score_pool3 = score_layer(self.config.widths[2], num_classes)
        self.upscore2 = bilinear_upsampling(num_classes, 2, rng=rng)
        self.upscore_pool4 = bilinear_upsampling(num_classes, 2, rng=rng)
        self.upscore8 = self._final_upsampling(8, rng)

    def forward(self, x):
        x, (h, w) = pad_to_multiple(x, self.stride)         # (N, 3, H', W')
        pool3, pool4, score = self._scores(x)               # (N, K, H'/32, W'/32)
        score = self.upscore2(score) + self.score_pool4(pool4)        # (N, K, H'/16, W'/16)
        score = self.upscore_pool4(score) + self.score_pool3(pool3)   # (N, K, H'/8, W'/8)
        score = self.upscore8(score)                        # (N, K, H', W')
        return score[:, :, :h, :w]                          # (N, K, H, W)
