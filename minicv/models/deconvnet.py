"""DeconvNet (Noh, Hong & Han, "Learning Deconvolution Network for Semantic Segmentation",
ICCV 2015, arXiv:1505.04366) and its SegNet-style variant (Badrinarayanan, Kendall & Cipolla,
"SegNet: A Deep Convolutional Encoder-Decoder Architecture for Image Segmentation", TPAMI 2017).

FCN upsamples its coarse scores with a few learnt interpolations; DeconvNet instead mirrors the
whole encoder with a *decoder* of the same depth (the paper's Fig. 2):

    encoder:  conv1 pool1  conv2 pool2  conv3 pool3  conv4 pool4  conv5 pool5  fc6 fc7
    decoder:  deconv-fc6  unpool5 deconv5  unpool4 deconv4  ...  unpool1 deconv1  score

- *Unpooling* (Sec. 3.2.1) undoes a max pooling with that pooling's own *switches*: each value
  goes back to the position its maximum came from, every other cell is zero. The result is a
  sparse map that keeps the exact location of the strongest activations -- the spatial detail
  pooling threw away. ``F.max_unpool2d`` is given the pre-pool size, so odd sizes come back
  exactly.
- *Deconvolution* (Sec. 3.2.2): transposed convolutions (3x3, stride 1, padding 1: they keep
  the size) densify the sparse unpooled map; each decoder stage mirrors an encoder stage, with
  the same number of layers and the last one narrowing to the width of the stage before.
- Batch normalisation after every convolution and deconvolution (Sec. 4.1): without it the
  deep network does not train.

The paper's network is VGG16's 13 convolutions, fc6 a 7x7 convolution *without padding* on the
7x7 pool5 of a 224x224 input (-> 1x1, 4096), fc7 1x1 (4096), and "deconv-fc6", the 7x7
transposed convolution back to 7x7x512. It therefore needs pool5 of at least 7x7: inputs of at
least 193x193 (ceil(H / 32) >= 7); the paper trains and infers on 224x224 crops and proposals.
The small CPU preset pads fc6 (3x3, padding 1) and works for any input size.

SegNet-style variant (``decoder="conv"``, ``fc_width=0``, model name "segnet"): no fc6/fc7,
and each decoder stage is unpooling followed by ordinary 3x3 convolutions + BN + ReLU
(SegNet, Sec. 3). With stride 1 a transposed 3x3 convolution is a 3x3 convolution with the
kernel flipped and its in/out channels swapped, so the two decoders compute the same family of
functions; they differ in the paper lineage, the fc layers and their initialisation.

Notation: N batch, K classes, H and W the input's size, C_i = widths[i], (H_i, W_i) the size of
stage i's map before its pooling (H_1 = H).

>>> import numpy as np
>>> config = DeconvNetConfig(widths=(8, 8, 16, 16, 16), convs=(1, 1, 1, 1, 1), fc_width=16,
...                          fc_kernel=3, fc_padding=1)
>>> model = DeconvNet(num_classes=3, config=config, rng=0)
>>> model.name, model(np.zeros((2, 3, 33, 47), dtype=np.float32)).shape
('deconvnet', (2, 3, 33, 47))
>>> model.decoder[0]                   # mirrors the last encoder stage: unpool, deconvolve
DecoderStage(
  (unpool): MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))
  (convs): Sequential(
    (0): Sequential(
      (0): ConvTranspose2d(16, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)
      (1): BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)
      (2): ReLU()
    )
  )
)
"""
from __future__ import annotations

from dataclasses import dataclass

from minicv import nn
from minicv.models.vgg import VGG, VGGConfig, as_generator, check_config, conv_bn_relu

__all__ = ["DeconvNetConfig", "DeconvNet", "DecoderStage", "DECODERS"]

DECODERS = ("deconv", "conv")


@dataclass
class DeconvNetConfig(VGGConfig):
    """A DeconvNet's configuration: the VGG encoder's fields (VGGConfig) and the decoder's.
    The defaults are the paper's (Noh et al. 2015, Table 1).

    batch_norm : BN after every (de)convolution                          True
    fc_width : channels of fc6 and fc7; 0 = no fc layers (SegNet)       4096
    fc_kernel : fc6's kernel, also deconv-fc6's                         7
    fc_padding : fc6's padding, also deconv-fc6's                       0 (7x7 pool5 -> 1x1)
    decoder : "deconv" (transposed convolutions, DeconvNet)            "deconv"
              or "conv" (convolutions, SegNet)
    """
    batch_norm: bool = True
    fc_width: int = 4096
    fc_kernel: int = 7
    fc_padding: int = 0
    decoder: str = "deconv"

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.fc_width, int) or isinstance(self.fc_width, bool) \
                or self.fc_width < 0:
            raise ValueError(f"DeconvNetConfig: fc_width must be an int >= 0 (0: no fc6/fc7), "
                             f"got {self.fc_width!r}")
        if not isinstance(self.fc_kernel, int) or self.fc_kernel < 1:
            raise ValueError(f"DeconvNetConfig: fc_kernel must be a positive int, got "
                             f"{self.fc_kernel!r}")
        if not isinstance(self.fc_padding, int) or not 0 <= self.fc_padding <= self.fc_kernel // 2:
            raise ValueError(f"DeconvNetConfig: fc_padding must be an int between 0 and "
                             f"fc_kernel // 2 = {self.fc_kernel // 2}, got {self.fc_padding!r}")
        if self.decoder not in DECODERS:
            raise ValueError(f"DeconvNetConfig: decoder must be one of {DECODERS}, got "
                             f"{self.decoder!r}")


class DecoderStage(nn.Module):
    """The mirror of one encoder stage: unpool with that stage's switches to its pre-pool size,
    then ``depth`` 3x3 (transposed) convolutions + BN + ReLU, the last one to ``out_width``.

    ``forward(x, switches, size)``: x and switches (N, C, h, w), size = (H_i, W_i) ->
    (N, out_width, H_i, W_i).
    """

    def __init__(self, width: int, out_width: int, depth: int, transposed: bool,
                 batch_norm: bool, rng=None):
        super().__init__()
        self.unpool = nn.MaxUnpool2d(2, stride=2)
        channels = [width] * depth + [out_width]
        self.convs = nn.Sequential(*[conv_bn_relu(c_in, c_out, batch_norm, rng, transposed)
                                     for c_in, c_out in zip(channels[:-1], channels[1:])])

    def forward(self, x, switches, size):
        x = self.unpool(x, switches, output_size=size)      # (N, C, H_i, W_i), sparse
        return self.convs(x)                                # (N, out_width, H_i, W_i), dense


def _fc_block(layer, c_in, c_out, kernel, padding, batch_norm, rng):
    conv = layer(c_in, c_out, kernel, padding=padding, bias=not batch_norm, rng=rng)
    return nn.Sequential(conv, nn.BatchNorm2d(c_out), nn.ReLU()) if batch_norm \
        else nn.Sequential(conv, nn.ReLU())


class DeconvNet(nn.Module):
    """DeconvNet, or with ``config.decoder == "conv"`` the SegNet-style network.

    Maps x (N, C_in, H, W) to logits (N, K, H, W). With padded fc layers (or none) any
    H, W >= 1 works; with the paper's unpadded 7x7 fc6, H and W must be at least 193.

    Parameters
    ----------
    num_classes : int
        K, the number of classes (background included).
    config : DeconvNetConfig, optional
        Default: the paper's DeconvNetConfig().
    rng : numpy Generator, int seed or None
        For the random initial weights.
    """

    def __init__(self, num_classes: int, config: DeconvNetConfig | None = None, rng=None):
        super().__init__()
        self.config = c = DeconvNetConfig() if config is None else config
        check_config(c)
        rng = as_generator(rng)
        self.name = "deconvnet" if c.decoder == "deconv" else "segnet"
        self.num_classes = num_classes
        self.encoder = VGG(c, rng=rng)
        if c.fc_width:                       # fc6, fc7, deconv-fc6
            self.fc = nn.Sequential(
                _fc_block(nn.Conv2d, c.widths[-1], c.fc_width, c.fc_kernel, c.fc_padding,
                          c.batch_norm, rng),
                _fc_block(nn.Conv2d, c.fc_width, c.fc_width, 1, 0, c.batch_norm, rng),
                _fc_block(nn.ConvTranspose2d, c.fc_width, c.widths[-1], c.fc_kernel,
                          c.fc_padding, c.batch_norm, rng))
        else:
            self.fc = nn.Identity()
        # decoder[0] mirrors the last encoder stage, decoder[-1] the first
        out_widths = (c.widths[0],) + c.widths[:-1]
        self.decoder = nn.ModuleList([
            DecoderStage(width, out_width, depth, c.decoder == "deconv", c.batch_norm, rng)
            for width, out_width, depth in reversed(list(zip(c.widths, out_widths, c.convs)))])
        self.score = nn.Conv2d(c.widths[0], num_classes, 1, rng=rng)

    def _check_size(self, x):
        c = self.config
        if c.fc_width and c.fc_padding < c.fc_kernel // 2:
            stride = 2 ** len(c.widths)
            smallest = (c.fc_kernel - 2 * c.fc_padding - 1) * stride + 1
            if min(x.shape[2:]) < smallest:
                raise ValueError(
                    f"{self.name}: fc6 ({c.fc_kernel}x{c.fc_kernel}, padding {c.fc_padding}) "
                    f"needs the {len(c.widths)}th pooled map to be at least "
                    f"{c.fc_kernel - 2 * c.fc_padding} pixels a side, so inputs of at least "
                    f"{smallest}x{smallest}; got input of shape {tuple(x.shape)} (the paper's "
                    f"network works on 224x224 crops; the small preset pads fc6)")

    def forward(self, x):
        self._check_size(x)
        encoded = self.encoder(x, return_switches=True)     # per stage i: pool_i, switches, size
        h = self.fc(encoded[-1][0])                         # (N, C_5, H/32, W/32), rounded up
        for stage, (_, switches, size) in zip(self.decoder, reversed(encoded)):
            h = stage(h, switches, size)                    # (N, C_{i-1}, H_i, W_i)
        return self.score(h)                                # (N, K, H, W)
