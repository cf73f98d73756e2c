"""minicv.nn: Module, Parameter, layers and initialisers (PyTorch's torch.nn, in miniature).

- module.py   Parameter, Module (registration, state_dict, save/load), Sequential, ModuleList,
              functional_call (call a module with its parameters swapped for given tensors)
- layers.py   Linear, ReLU, LeakyReLU, Sigmoid, Tanh, Dropout, Flatten, Identity,
              BatchNorm1d, BatchNorm2d
- conv.py     Conv2d, ConvTranspose2d
- pooling.py  MaxPool2d, MaxUnpool2d, AvgPool2d
- upsample.py Upsample
- roi.py      RoIPool, RoIAlign
- init.py     kaiming_*, xavier_*, uniform_, normal_, constant_, bilinear_, ...
              (``nn.init.kaiming_normal_``)
"""
from minicv.nn import init
from minicv.nn import conv as _conv, layers as _layers, pooling as _pooling, roi as _roi
from minicv.nn import upsample as _upsample
from minicv.nn.conv import *      # noqa: F401,F403
from minicv.nn.layers import *    # noqa: F401,F403
from minicv.nn.module import Module, ModuleList, Parameter, Sequential, functional_call
from minicv.nn.pooling import *   # noqa: F401,F403
from minicv.nn.roi import *       # noqa: F401,F403
from minicv.nn.upsample import *  # noqa: F401,F403

__all__ = ["init", "Module", "Parameter", "Sequential", "ModuleList", "functional_call",
           *_layers.__all__, *_conv.__all__, *_pooling.__all__, *_upsample.__all__, *_roi.__all__]
