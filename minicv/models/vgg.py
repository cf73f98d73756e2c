"""VGG: stacks of 3x3 convolutions, each stack closed by 2x2 max pooling (Simonyan & Zisserman,
"Very Deep Convolutional Networks for Large-Scale Image Recognition", ICLR 2015).

The network is five *stages*; stage i holds ``convs[i]`` convolutions of ``widths[i]`` channels
(3x3, padding 1, so the size is kept), each followed by ReLU (and, with ``batch_norm``, a
BatchNorm2d before the ReLU, as torchvision's ``vgg16_bn``), then one 2x2 max pooling of
stride 2 that halves the size. VGG16 (the paper's configuration D, Table 1):

    stage      1        2         3         4         5
    convs      2        2         3         3         3
    widths     64       128       256       512       512
    stride     2        4         8         16        32       (of the pooled output)

and then, for classification, three fully connected layers fc6 (4096), fc7 (4096) and fc8
(1000 classes) with ReLU and dropout 0.5 between them, on the 7x7x512 map of a 224x224 image.

FCN and DeconvNet read the stages' pooled outputs: FCN scores pool3, pool4 and pool5;
DeconvNet also keeps every pooling's *switches* (where each maximum came from) and the size of
the map before pooling, so that its decoder can put each value back where it was found. Both
come from :meth:`VGG.forward`.

Pooling rounds the output size *up* (``ceil_mode=True``), as Caffe does -- the framework the
VGG, FCN and DeconvNet models were published in. An odd-sized map keeps its last row and
column (in a window half outside the map) instead of dropping them, so every stage sees the
whole image and an unpooling can give back the exact pre-pool size. For the even sizes of a
224x224 image it changes nothing.

Notation: N batch, H and W the input's height and width, C_i = widths[i].
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from minicv import nn

__all__ = ["VGGConfig", "VGG", "VGGStage", "VGGClassifier", "vgg16", "check_config",
           "as_generator"]


@dataclass
class VGGConfig:
    """Widths and depths of a VGG backbone. The defaults are VGG16 (Simonyan & Zisserman 2015,
    Table 1, configuration D).

    widths : channels of the five stages' convolutions           (64, 128, 256, 512, 512)
    convs : number of 3x3 convolutions in each stage              (2, 2, 3, 3, 3)
    batch_norm : BatchNorm2d after every convolution (vgg16_bn; the paper has none)
    in_channels : image channels                                  3

    Lists (what a JSON checkpoint gives back) are turned into tuples.
    """
    widths: tuple = (64, 128, 256, 512, 512)
    convs: tuple = (2, 2, 3, 3, 3)
    batch_norm: bool = False
    in_channels: int = 3

    def __post_init__(self):
        self.widths = tuple(self.widths)
        self.convs = tuple(self.convs)
        check_config(self)


def as_generator(rng):
    """One Generator for all the layers of a network: an int seed handed to each layer would
    give every layer of the same shape the same weights. None stays None (nn.init's default
    generator)."""
    if rng is None or isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def _positive_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1


def check_config(config) -> None:
    """Raise ValueError naming the field when a VGG-style configuration cannot be built."""
    name = type(config).__name__
    if len(config.widths) != len(config.convs) or not config.widths:
        raise ValueError(f"{name}: widths {config.widths} and convs {config.convs} must be "
                         f"non-empty and of the same length (one entry per stage)")
    for field_name in ("widths", "convs"):
        values = getattr(config, field_name)
        if not all(_positive_int(v) for v in values):
            raise ValueError(f"{name}: {field_name} must hold positive ints, got {values}")
    if not _positive_int(config.in_channels):
        raise ValueError(f"{name}: in_channels must be a positive int, got "
                         f"{config.in_channels!r}")
    if not isinstance(config.batch_norm, bool):
        raise ValueError(f"{name}: batch_norm must be a bool, got {config.batch_norm!r}")


def conv_bn_relu(in_channels: int, out_channels: int, batch_norm: bool, rng,
                 transposed: bool = False) -> nn.Sequential:
    """3x3 convolution (padding 1: same size), optional BatchNorm2d, ReLU.

    ``transposed`` uses a ConvTranspose2d (DeconvNet's "deconvolution" layers); with stride 1
    and padding 1 it keeps the size too. With batch normalisation the convolution has no bias:
    BatchNorm's shift replaces it.
    """
    layer = nn.ConvTranspose2d if transposed else nn.Conv2d
    conv = layer(in_channels, out_channels, 3, padding=1, bias=not batch_norm, rng=rng)
    if batch_norm:
        return nn.Sequential(conv, nn.BatchNorm2d(out_channels), nn.ReLU())
    return nn.Sequential(conv, nn.ReLU())


class VGGStage(nn.Module):
    """One VGG stage: ``depth`` x (3x3 conv [+ BN] + ReLU), then 2x2 max pooling, stride 2.

    ``forward(x) -> (pooled, switches, size)``:
    x (N, C_in, H, W) -> pooled (N, C, ceil(H/2), ceil(W/2)); switches of the same shape (int64,
    flat offsets into the (H, W) plane, see ``F.max_pool2d``); size = (H, W), the map's size
    before pooling (what an unpooling must give back).
    """

    def __init__(self, in_channels: int, width: int, depth: int, batch_norm: bool, rng=None):
        super().__init__()
        channels = [in_channels] + [width] * depth
        self.convs = nn.Sequential(*[conv_bn_relu(c_in, c_out, batch_norm, rng)
                                     for c_in, c_out in zip(channels[:-1], channels[1:])])
        self.pool = nn.MaxPool2d(2, stride=2, return_indices=True, ceil_mode=True)

    def forward(self, x):
        x = self.convs(x)                       # (N, C, H, W)
        pooled, switches = self.pool(x)         # (N, C, ceil(H/2), ceil(W/2)), twice
        return pooled, switches, tuple(x.shape[2:])


class VGG(nn.Module):
    """The convolutional part of VGG: ``len(config.widths)`` stages.

    ``forward(x)`` returns the list of every stage's pooled output, pool1 ... pool5, of shapes
    (N, C_i, ceil(H / 2^i), ceil(W / 2^i)) for i = 1 .. 5 (FCN scores pool3, pool4, pool5).
    ``forward(x, return_switches=True)`` returns a list of (pooled, switches, pre-pool size)
    triples instead (DeconvNet unpools with them).
    """

    def __init__(self, config: VGGConfig | None = None, rng=None):
        super().__init__()
        self.config = VGGConfig() if config is None else config
        check_config(self.config)
        c, rng = self.config, as_generator(rng)
        in_channels = (c.in_channels,) + c.widths[:-1]
        self.stages = nn.ModuleList([VGGStage(c_in, width, depth, c.batch_norm, rng)
                                     for c_in, width, depth in zip(in_channels, c.widths,
                                                                   c.convs)])

    def forward(self, x, return_switches: bool = False):
        outputs = []
        for stage in self.stages:
            pooled, switches, size = stage(x)       # (N, C_i, H / 2^i, W / 2^i), rounded up
            outputs.append((pooled, switches, size) if return_switches else pooled)
            x = pooled
        return outputs


class VGGClassifier(nn.Module):
    """VGG with its classifier (the paper's ImageNet network): features, then

        flatten (N, 512*7*7) -> fc6 4096 -> ReLU -> dropout -> fc7 4096 -> ReLU -> dropout
        -> fc8 num_classes

    as fully connected layers on the 7x7 map of a 224x224 input (another size gives a
    flattened length fc6 does not take, and Linear says so).
    """

    def __init__(self, config: VGGConfig, num_classes: int = 1000, fc_width: int = 4096,
                 dropout: float = 0.5, rng=None):
        super().__init__()
        self.config = config
        self.name = "vgg16_bn" if config.batch_norm else "vgg16"
        rng = as_generator(rng)
        self.features = VGG(config, rng=rng)
        flat = config.widths[-1] * 7 * 7
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, fc_width, rng=rng), nn.ReLU(), nn.Dropout(dropout),     # fc6
            nn.Linear(fc_width, fc_width, rng=rng), nn.ReLU(), nn.Dropout(dropout),  # fc7
            nn.Linear(fc_width, num_classes, rng=rng))                               # fc8

    def forward(self, x):
        pool5 = self.features(x)[-1]            # (N, 512, 7, 7) for a 224x224 image
        return self.classifier(pool5)           # (N, num_classes)


def vgg16(num_classes: int = 1000, batch_norm: bool = False, rng=None) -> VGGClassifier:
    """VGG16 as in the paper (configuration D): 13 convolutions in 5 stages, 3 fully connected
    layers; 138M parameters (fc6 alone has 25088 x 4096 = 103M). Randomly initialised (minicv
    downloads no weights). ``batch_norm=True`` gives vgg16_bn.

    x (N, 3, 224, 224) -> logits (N, num_classes).
    """
    return VGGClassifier(VGGConfig(batch_norm=batch_norm), num_classes, rng=rng)

