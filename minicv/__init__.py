"""minicv: computer vision beyond classification, from scratch in NumPy/CuPy.

    import minicv
    import minicv.functional as F
    from minicv import nn, optim

The pieces, each small enough to read in one sitting:

- ``minicv.backend``     the NumPy/CuPy switch (``use``, ``get_array_module``, ``to_gpu``)
- ``minicv.autograd``    Tensor, Function, backward, no_grad
- ``minicv.functional``  every op, forward and backward side by side
- ``minicv.nn``          Module, Parameter and layers; ``minicv.optim`` optimisers and schedules
- ``minicv.gradcheck``   check a backward against finite differences
- ``minicv.testing``     hypothesis strategies for gradient-checking your own layers
"""
from minicv import backend
from minicv.autograd import Function, Tensor, enable_grad, is_grad_enabled, no_grad, tensor
from minicv.backend import gpu_available, use
from minicv.gradcheck import GradcheckError, GradcheckResult, gradcheck
from minicv import functional, nn, ops, optim  # noqa: E402  (after Tensor: they build on it)

__version__ = "0.1.0"

__all__ = [
    "Tensor", "Function", "tensor", "no_grad", "enable_grad", "is_grad_enabled",
    "gradcheck", "GradcheckError", "GradcheckResult", "use", "gpu_available", "backend",
    "functional", "nn", "ops", "optim", "__version__",
]
