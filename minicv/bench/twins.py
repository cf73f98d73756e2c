"""PyTorch twins of minicv's models: the same architecture, built from torch.nn layers, holding
the same weights.

    twin = torch_twin(model)            # a torch.nn.Module; outputs equal to float32 rounding
    load_from_twin(model, twin)         # copy trained torch weights back into the minicv model

They exist to measure minicv against PyTorch (``minicv bench models``), to check that minicv's
layers compute what PyTorch's do (tests/test_twins.py compares outputs and gradients), and to
train a reference network with PyTorch for the same budget. PyTorch is optional: it is imported
only when a twin is built, and :class:`ImportError` says so when it is missing.

How a twin is built: every minicv leaf layer (Conv2d, ConvTranspose2d, BatchNorm2d, MaxPool2d,
...) maps to the torch.nn layer of the same name and hyper-parameters; Sequential and
ModuleList map to theirs; every model-level module (VGGStage, VGG, FCN8s, DeconvNet, ...) maps
to a small torch.nn.Module with the same children, under the same attribute names, and a
``forward`` that is a line-for-line copy of minicv's. The state dicts therefore have the same
keys, and the weights are copied with one ``load_state_dict``. Frozen parameters (FCN's fixed
final upsampling) stay frozen.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from minicv import nn
from minicv.models import deconvnet, fcn, vgg

__all__ = ["torch_twin", "load_from_twin", "copy_to_twin"]

_CLASSES = {}        # built once, after torch is imported


def _torch():
    try:
        import torch
    except ImportError as exc:
        raise ImportError("torch_twin needs PyTorch (pip install torch); minicv itself does "
                          "not") from exc
    return torch


def _leaf(torch, m):
    """The torch.nn twin of a minicv leaf layer (same hyper-parameters, fresh weights)."""
    tnn = torch.nn
    if isinstance(m, nn.Conv2d):
        return tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                          m.dilation, m.groups, bias=m.bias is not None)
    if isinstance(m, nn.ConvTranspose2d):
        return tnn.ConvTranspose2d(m.in_channels, m.out_channels, m.kernel_size, m.stride,
                                   m.padding, m.output_padding, m.groups,
                                   bias=m.bias is not None, dilation=m.dilation)
    if isinstance(m, nn.BatchNorm2d):
        return tnn.BatchNorm2d(m.num_features, m.eps, m.momentum, m.affine,
                               m.track_running_stats)
    if isinstance(m, nn.MaxPool2d):
        return tnn.MaxPool2d(m.kernel_size, m.stride, m.padding, m.dilation,
                             return_indices=m.return_indices, ceil_mode=m.ceil_mode)
    if isinstance(m, nn.MaxUnpool2d):
        return tnn.MaxUnpool2d(m.kernel_size, m.stride, m.padding)
    if isinstance(m, nn.Linear):
        return tnn.Linear(m.in_features, m.out_features, bias=m.bias is not None)
    if isinstance(m, nn.Dropout):
        return tnn.Dropout(m.p)
    if isinstance(m, nn.Flatten):
        return tnn.Flatten(m.start_dim, m.end_dim)
    for name in ("ReLU", "Identity"):
        if type(m) is getattr(nn, name):
            return getattr(tnn, name)()
    raise TypeError(f"torch_twin: no PyTorch twin for {type(m).__name__}")


def _model_classes(torch):
    """The torch.nn.Module twins of minicv's model-level modules, keyed by minicv class."""
    if _CLASSES:
        return _CLASSES
    tnn, tF = torch.nn, torch.nn.functional

    class Twin(tnn.Module):
        def __init__(self, source):
            super().__init__()
            for name, child in source._modules.items():
                self.add_module(name, _convert(torch, child))
            for attribute in ("name", "config", "num_classes", "stride"):
                if hasattr(source, attribute):
                    setattr(self, attribute, getattr(source, attribute))

    class VGGStage(Twin):
        def forward(self, x):
            x = self.convs(x)
            pooled, switches = self.pool(x)
            return pooled, switches, tuple(x.shape[2:])

    class VGG(Twin):
        def forward(self, x, return_switches=False):
            outputs = []
            for stage in self.stages:
                pooled, switches, size = stage(x)
                outputs.append((pooled, switches, size) if return_switches else pooled)
                x = pooled
            return outputs

    class VGGClassifier(Twin):
        def forward(self, x):
            return self.classifier(self.features(x)[-1])

    def pad_to_multiple(x, multiple):
        h, w = x.shape[2:]
        pad_h, pad_w = -h % multiple, -w % multiple
        if pad_h or pad_w:
            x = tF.pad(x, (0, pad_w, 0, pad_h))
        return x, (h, w)

    class FCN(Twin):
        def _scores(self, x):
            _, _, pool3, pool4, pool5 = self.backbone(x)
            return pool3, pool4, self.score_fr(self.head(pool5))

    class FCN32s(FCN):
        def forward(self, x):
            x, (h, w) = pad_to_multiple(x, self.stride)
            _, _, score = self._scores(x)
            score = self.upscore32(score)
            return score[:, :, :h, :w]

    class FCN16s(FCN):
        def forward(self, x):
            x, (h, w) = pad_to_multiple(x, self.stride)
            _, pool4, score = self._scores(x)
            score = self.upscore2(score) + self.score_pool4(pool4)
            score = self.upscore16(score)
            return score[:, :, :h, :w]

    class FCN8s(FCN):
        def forward(self, x):
            x, (h, w) = pad_to_multiple(x, self.stride)
            pool3, pool4, score = self._scores(x)
            score = self.upscore2(score) + self.score_pool4(pool4)
            score = self.upscore_pool4(score) + self.score_pool3(pool3)
            score = self.upscore8(score)
            return score[:, :, :h, :w]

    class DecoderStage(Twin):
        def forward(self, x, switches, size):
            x = self.unpool(x, switches, output_size=size)
            return self.convs(x)

    class DeconvNet(Twin):
        def forward(self, x):
            encoded = self.encoder(x, return_switches=True)
            h = self.fc(encoded[-1][0])
            for stage, (_, switches, size) in zip(self.decoder, reversed(encoded)):
                h = stage(h, switches, size)
            return self.score(h)

    _CLASSES.update({
        vgg.VGGStage: VGGStage, vgg.VGG: VGG, vgg.VGGClassifier: VGGClassifier,
        fcn.FCN32s: FCN32s, fcn.FCN16s: FCN16s, fcn.FCN8s: FCN8s,
        deconvnet.DecoderStage: DecoderStage, deconvnet.DeconvNet: DeconvNet,
    })
    return _CLASSES


def _convert(torch, m):
    classes = _model_classes(torch)
    if type(m) in classes:
        return classes[type(m)](m)
    if isinstance(m, nn.Sequential):
        return torch.nn.Sequential(OrderedDict((name, _convert(torch, child))
                                               for name, child in m._modules.items()))
    if isinstance(m, nn.ModuleList):
        return torch.nn.ModuleList([_convert(torch, child) for child in m])
    return _leaf(torch, m)


def copy_to_twin(model: nn.Module, twin) -> None:
    """Copy ``model``'s parameters, buffers, frozen flags and train/eval mode into ``twin``."""
    torch = _torch()
    state = OrderedDict((k, torch.from_numpy(np.ascontiguousarray(v)))
                        for k, v in model.state_dict().items())
    twin.load_state_dict(state, strict=True)
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    for name, p in twin.named_parameters():
        p.requires_grad_(name not in frozen)
    twin.train(model.training)


def torch_twin(model: nn.Module, device: str = "cpu"):
    """A torch.nn.Module of the same architecture as minicv ``model``, with its weights.

    Parameters
    ----------
    model : minicv Module
        One of minicv.models' networks (or any tree of the layers listed in this module).
    device : str
        Where the twin's weights go ("cpu", "cuda").

    Returns
    -------
    torch.nn.Module, in the same train/eval mode, with the same state_dict keys and values
    (float32 stays float32).

    Raises
    ------
    ImportError without PyTorch; TypeError for a layer that has no twin.
    """
    torch = _torch()
    twin = _convert(torch, model)
    dtypes = {p.data.dtype for p in model.parameters()}
    if len(dtypes) == 1:                        # float64 models get float64 twins
        twin.to(getattr(torch, np.dtype(dtypes.pop()).name))
    copy_to_twin(model, twin)
    return twin.to(device)


def load_from_twin(model: nn.Module, twin) -> None:
    """Copy a (trained) twin's parameters and buffers back into minicv ``model``."""
    model.load_state_dict({k: v.detach().cpu().numpy() for k, v in twin.state_dict().items()})
