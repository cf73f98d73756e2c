"""minicv.nn: Module, Parameter, layers and initialisers (PyTorch's torch.nn, in miniature).

- module.py   Parameter, Module (registration, state_dict, save/load), Sequential, ModuleList,
              functional_call (call a module with its parameters swapped for given tensors)
- layers.py   Linear, ReLU, LeakyReLU, Sigmoid, Tanh, Dropout, Flatten, Identity,
              BatchNorm1d, BatchNorm2d
- init.py     kaiming_*, xavier_*, uniform_, normal_, constant_, ... (``nn.init.kaiming_normal_``)
"""
from minicv.nn import init
from minicv.nn.layers import *   # noqa: F401,F403
from minicv.nn.layers import __all__ as _layers
from minicv.nn.module import Module, ModuleList, Parameter, Sequential, functional_call

__all__ = ["init", "Module", "Parameter", "Sequential", "ModuleList", "functional_call",
           *_layers]
