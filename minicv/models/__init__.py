"""minicv.models: segmentation networks assembled from minicv's own layers.

- vgg.py        VGGConfig, VGG (the backbone: per-stage pooled maps and switches), vgg16
- fcn.py        FCN-32s, FCN-16s, FCN-8s (Long et al. 2015)
- deconvnet.py  DeconvNet (Noh et al. 2015) and the SegNet-style variant

    >>> from minicv.models import get_model
    >>> model = get_model("fcn8s", num_classes=5)                  # the small CPU preset
    >>> model.name, model.config.widths
    ('fcn8s', (32, 64, 128, 256, 256))

Every model maps an image batch (N, 3, H, W) to logits (N, num_classes, H, W), for any H and W,
in training and evaluation mode alike, and has ``.name`` and ``.config`` (a dataclass whose
``asdict`` holds only JSON values: checkpoints store it and :func:`model_from_config` rebuilds
the model from it).

Presets
-------
"paper": the papers' sizes -- VGG16 widths (64, 128, 256, 512, 512) and depths (2, 2, 3, 3, 3),
fc6/fc7 4096 wide with a 7x7 fc6; FCN without batch normalisation, with dropout 0.5 and a fixed
final upsampling, as Long et al.; DeconvNet with batch normalisation and its unpadded fc6
(inputs of at least 193x193), as Noh et al.; SegNet with VGG16's encoder and no fc layers.

"small" (the default; CamVid-sized work): what trains from scratch in minutes on two CPU cores

    widths (32, 64, 128, 256, 256)   half VGG16's (the issue's "VGG-style blocks of widths
                                     32, 64, 128, 256", the last width repeated for stage 5)
    convs  (1, 1, 2, 2, 2)           one convolution in the two full-resolution stages, where a
                                     convolution costs the most (with two there, a training
                                     step of the backbone took 464 ms instead of 264 ms for
                                     16 images of 64x64); the deeper stages keep two
    batch_norm True                  trains from random weights (the papers fine-tune ImageNet
                                     VGG16 instead)
    fc_width 256, fc_kernel 3        the pool5 map of a 64x64 image is 2x2: a 7x7 fc6 would
                                     mostly read padding (DeconvNet pads it: fc_padding 1)
    dropout 0                        (FCN) within a few minutes dropout only slows training;
                                     pass dropout=0.5 for small real datasets
    learn_final_upsampling True      (FCN) the issue's "learnable" upsampling: from scratch, a
                                     fixed bilinear x8 caps how sharp the boundaries get (two
                                     32x32 images: loss 0.03 after 150 Adam steps with it
                                     fixed, 1e-4 with it learnt)

"tiny" (the built-in synthetic 64x64 shapes): the "small" preset at half the widths,
(16, 32, 64, 128, 128) with fc_width 128 -- about 2.4x faster per step (FCN-8s, 16 images
of 64x64: 113 ms against 271 ms).
"""
from __future__ import annotations

from dataclasses import fields, is_dataclass, replace

import numpy as np

from minicv.models.deconvnet import DeconvNet, DeconvNetConfig
from minicv.models.fcn import FCN, FCN8s, FCN16s, FCN32s, FCNConfig
from minicv.models.vgg import VGG, VGGConfig, vgg16

__all__ = ["MODELS", "PRESETS", "get_model", "model_from_config", "preset_config",
           "VGG", "VGGConfig", "vgg16", "FCN", "FCN8s", "FCN16s", "FCN32s", "FCNConfig",
           "DeconvNet", "DeconvNetConfig"]

MODELS = ("fcn32s", "fcn16s", "fcn8s", "deconvnet", "segnet")
PRESETS = ("tiny", "small", "paper")

# name -> (class, configuration class)
_REGISTRY = {
    "fcn32s": (FCN32s, FCNConfig),
    "fcn16s": (FCN16s, FCNConfig),
    "fcn8s": (FCN8s, FCNConfig),
    "deconvnet": (DeconvNet, DeconvNetConfig),
    "segnet": (DeconvNet, DeconvNetConfig),
}

_SMALL_BACKBONE = dict(widths=(32, 64, 128, 256, 256), convs=(1, 1, 2, 2, 2), batch_norm=True)
_TINY_BACKBONE = dict(_SMALL_BACKBONE, widths=(16, 32, 64, 128, 128))

_PRESETS = {
    ("fcn", "paper"): {},
    ("fcn", "small"): dict(_SMALL_BACKBONE, fc_width=256, fc_kernel=3, dropout=0.0,
                           learn_final_upsampling=True),
    ("fcn", "tiny"): dict(_TINY_BACKBONE, fc_width=128, fc_kernel=3, dropout=0.0,
                          learn_final_upsampling=True),
    ("deconvnet", "paper"): {},
    ("deconvnet", "small"): dict(_SMALL_BACKBONE, fc_width=256, fc_kernel=3, fc_padding=1),
    ("deconvnet", "tiny"): dict(_TINY_BACKBONE, fc_width=128, fc_kernel=3, fc_padding=1),
    ("segnet", "paper"): dict(fc_width=0, decoder="conv"),
    ("segnet", "small"): dict(_SMALL_BACKBONE, fc_width=0, decoder="conv"),
    ("segnet", "tiny"): dict(_TINY_BACKBONE, fc_width=0, decoder="conv"),
}


def _check_name(name) -> None:
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(MODELS)}")


def _check_num_classes(name, num_classes) -> None:
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) \
            or num_classes < 1:
        raise ValueError(f"{name}: num_classes must be a positive int, got {num_classes!r}")


def _family(name: str) -> str:
    return "fcn" if name.startswith("fcn") else name


def preset_config(name: str, preset: str = "small", **overrides):
    """The configuration dataclass of model ``name`` in ``preset``, with fields overridden.

    Raises ValueError for an unknown model, preset or field (the message lists the known ones)
    and for values the configuration refuses.
    """
    _check_name(name)
    if preset not in PRESETS:
        raise ValueError(f"{name}: unknown preset {preset!r}; known presets: "
                         f"{', '.join(PRESETS)}")
    config_class = _REGISTRY[name][1]
    values = {**_PRESETS[_family(name), preset], **overrides}
    known = [f.name for f in fields(config_class)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"{name}: unknown configuration field(s) {unknown}; known: "
                         f"{', '.join(known)}")
    return config_class(**values)


def get_model(name: str, num_classes: int, *, preset: str = "small", config=None, rng=None,
              **overrides):
    """Build segmentation model ``name`` for ``num_classes`` classes.

    Parameters
    ----------
    name : str
        One of MODELS: "fcn32s", "fcn16s", "fcn8s", "deconvnet", "segnet".
    num_classes : int
        K >= 1, background included.
    preset : {"small", "tiny", "paper"}
        "small" (default): the CPU-sized networks; "tiny": half their widths; "paper": the
        papers' sizes (see the module docstring).
    config : FCNConfig or DeconvNetConfig, optional
        A complete configuration instead of a preset (overrides still apply on top of it).
    rng : numpy Generator, int seed or None
        For the random initial weights (None: ``nn.init``'s default generator).
    **overrides
        Configuration fields to change, e.g. ``widths=(16, 32, 64, 64, 64), batch_norm=False``.

    Returns
    -------
    Module mapping (N, 3, H, W) to logits (N, K, H, W), with ``.name`` and ``.config``.

    Raises
    ------
    ValueError
        An unknown name (the message lists MODELS), a num_classes that is not a positive int,
        an unknown preset or configuration field, a config of the wrong type, a bad value.
    """
    _check_name(name)
    _check_num_classes(name, num_classes)
    model_class, config_class = _REGISTRY[name]
    if config is None:
        config = preset_config(name, preset, **overrides)
    else:
        if not (is_dataclass(config) and type(config) is config_class):
            raise ValueError(f"{name}: config must be a {config_class.__name__}, got "
                             f"{type(config).__name__}")
        known = {f.name for f in fields(config_class)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"{name}: unknown configuration field(s) {unknown}; known: "
                             f"{', '.join(sorted(known))}")
        config = replace(config, **overrides)
    if name == "segnet" and config.decoder != "conv":
        raise ValueError(f"segnet: decoder must be 'conv' (got {config.decoder!r}); use "
                         f"'deconvnet' for the transposed-convolution decoder")
    if name == "deconvnet" and config.decoder != "deconv":
        raise ValueError(f"deconvnet: decoder must be 'deconv' (got {config.decoder!r}); use "
                         f"'segnet' for the convolution decoder")
    model = model_class(int(num_classes), config, rng=rng)
    model.name = name
    return model


def model_from_config(name: str, num_classes: int, config_dict: dict):
    """Rebuild model ``name`` from the ``asdict(model.config)`` a checkpoint stored (lists in
    place of tuples are fine). Raises ValueError naming unknown or refused fields."""
    _check_name(name)
    if not isinstance(config_dict, dict):
        raise ValueError(f"{name}: the configuration must be a dict, got "
                         f"{type(config_dict).__name__}")
    config_class = _REGISTRY[name][1]
    known = {f.name for f in fields(config_class)}
    unknown = sorted(set(config_dict) - known)
    if unknown:
        raise ValueError(f"{name}: unknown configuration field(s) {unknown}; known: "
                         f"{', '.join(sorted(known))}")
    return get_model(name, num_classes, config=config_class(**config_dict))
