"""Module and Parameter: how a network keeps its weights, its state and its sub-networks.

A :class:`Module` is a container with a ``forward``. Assigning a :class:`Parameter` or another
Module to an attribute registers it, in assignment order, so that the whole tree can be walked:

    class MLP(Module):
        def __init__(self):
            super().__init__()
            self.hidden = Linear(2, 8)       # registered as child "hidden"
            self.out = Linear(8, 1)          # registered as child "out"

        def forward(self, x):
            return self.out(F.relu(self.hidden(x)))

    MLP().named_parameters()  ->  hidden.weight, hidden.bias, out.weight, out.bias

Three kinds of thing are registered, each in its own ordered dict:

- ``_parameters``  trainable tensors (``Parameter``), found by ``parameters()`` for the optimiser
- ``_buffers``     non-trainable arrays saved with the model (BatchNorm's running statistics)
- ``_modules``     child modules; their parameters get dotted names ("features.0.weight")

``state_dict()`` flattens parameters and buffers into name -> NumPy array; ``save`` writes it to
an ``.npz`` file and ``load`` reads one back -- without pickle, so loading a file cannot run code.
"""
from __future__ import annotations

import zipfile
from collections import OrderedDict, namedtuple

import numpy as np

from minicv import backend
from minicv.autograd import Tensor, _as_array, _is_float

__all__ = ["Parameter", "Module", "Sequential", "ModuleList", "functional_call"]


# ---------------------------------------------------------------------------------------------
# Parameter
# ---------------------------------------------------------------------------------------------
class Parameter(Tensor):
    """A Tensor that a Module registers as trainable: ``requires_grad=True`` by default.

    Parameters
    ----------
    data : array_like
        Floating-point values. NumPy/CuPy float arrays keep their dtype and device; Python
        numbers and lists become float32.
    requires_grad : bool
        False freezes the parameter (the optimiser then never receives a gradient for it).
    """

    def __init__(self, data, requires_grad: bool = True):
        if isinstance(data, Tensor):
            data = data.data
        if not backend.is_array(data):
            data = _as_array(data, np.float32)
        if not _is_float(data.dtype):
            raise TypeError(f"Parameter: data must be floating-point, got dtype {data.dtype} "
                            f"with shape {tuple(data.shape)}")
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


# ---------------------------------------------------------------------------------------------
# Module
# ---------------------------------------------------------------------------------------------
_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])

_STORAGE_KINDS = "biuf"   # bool, int, unsigned, float: the only dtypes a state may hold


class Module:
    """Base class of every layer and network (PyTorch's ``torch.nn.Module``).

    Subclasses call ``super().__init__()`` first, assign their parameters and child modules as
    attributes, and define ``forward``. Calling the module calls ``forward``.

    Attributes
    ----------
    training : bool
        True in training mode (the default), False after ``eval()``. Dropout and BatchNorm read it.
    """

    def __init__(self):
        # object.__setattr__: our own __setattr__ needs these dicts to exist already
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())

    # --- forward ---------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward(self, ...)")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # --- registration ----------------------------------------------------------------------
    def _check_initialised(self, name):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: cannot assign {name!r} before "
                                 "Module.__init__() is called; call super().__init__() first")

    def _forget(self, name, keep=None):
        """Drop ``name`` from the plain attributes and from every registry but ``keep`` (so
        re-assigning a parameter keeps its place in the order)."""
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        if keep is not self._buffers:
            self._non_persistent.discard(name)
        self.__dict__.pop(name, None)

    def __setattr__(self, name, value):
        if isinstance(value, Parameter):
            self._check_initialised(name)
            self._forget(name, keep=self._parameters)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._check_initialised(name)
            self._forget(name, keep=self._modules)
            self._modules[name] = value
        elif "_buffers" in self.__dict__ and name in self._buffers:
            # assigning to a buffer replaces its array (as PyTorch); None empties it
            if value is not None and not backend.is_array(value):
                raise TypeError(f"{type(self).__name__}: buffer {name!r} must be an array or "
                                f"None, got {type(value).__name__}")
            self._buffers[name] = value
        else:
            # anything else -- None included -- is a plain attribute and ends a registration
            if "_parameters" in self.__dict__:
                self._forget(name)
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # only called when normal lookup fails: look in the registries
        for registry in ("_parameters", "_buffers", "_modules"):
            items = self.__dict__.get(registry)
            if items is not None and name in items:
                return items[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __delattr__(self, name):
        if name in self._parameters or name in self._buffers or name in self._modules:
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def _check_new_name(self, kind, name):
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"{type(self).__name__}.{kind}: name must be a non-empty string "
                             f"without '.', got {name!r}")
        if name in self.__dict__ or hasattr(type(self), name):
            raise ValueError(f"{type(self).__name__}.{kind}: {name!r} is already an attribute")

    def register_parameter(self, name: str, param) -> None:
        """Register ``param`` (a Parameter) as ``name``; None makes ``name`` a plain None
        attribute (an optional parameter that is absent, like Linear's bias=False)."""
        self._check_initialised(name)
        if name not in self._parameters:
            self._check_new_name("register_parameter", name)
        if param is None:
            self._forget(name)
            object.__setattr__(self, name, None)
        elif not isinstance(param, Parameter):
            raise TypeError(f"{type(self).__name__}.register_parameter: {name!r} must be a "
                            f"Parameter or None, got {type(param).__name__}")
        else:
            setattr(self, name, param)

    def register_buffer(self, name: str, array, persistent: bool = True) -> None:
        """Register a non-trainable array (or None) as ``name``.

        Buffers move with ``to()`` and -- when ``persistent`` -- are saved in ``state_dict()``;
        they get no gradient and the optimiser never sees them (BatchNorm's running_mean).
        """
        self._check_initialised(name)
        if name not in self._buffers:
            self._check_new_name("register_buffer", name)
        if array is not None and not backend.is_array(array):
            raise TypeError(f"{type(self).__name__}.register_buffer: {name!r} must be a NumPy "
                            f"or CuPy array or None, got {type(array).__name__}")
        self._forget(name, keep=self._buffers)
        self._buffers[name] = array
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module) -> None:
        """Register ``module`` as the child ``name`` (for names that are not identifiers)."""
        self._check_initialised(name)
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}.add_module: {name!r} must be a Module, "
                            f"got {type(module).__name__}")
        if name not in self._modules:
            self._check_new_name("add_module", name)
        self._forget(name, keep=self._modules)
        self._modules[name] = module

    # --- walking the tree ------------------------------------------------------------------
    def named_modules(self, prefix: str = ""):
        """(dotted name, module) for this module (name ``prefix``, "" by default) and every
        descendant, depth first, each module once even if it is shared."""
        seen, stack = set(), [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{child}" if name else child, m)
                        for child, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))   # reversed: pop() then visits them in order

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_children(self):
        """(name, module) for the direct children, in registration order."""
        return iter(list(self._modules.items()))

    def children(self):
        return (m for _, m in self.named_children())

    def _named_members(self, registry, recurse):
        modules = self.named_modules() if recurse else [("", self)]
        seen = set()
        for prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{prefix}.{name}" if prefix else name), value

    def named_parameters(self, recurse: bool = True):
        """(dotted name, Parameter) pairs, e.g. ("features.0.weight", ...); a parameter shared
        by two modules is listed once."""
        return self._named_members("_parameters", recurse)

    def parameters(self, recurse: bool = True):
        return (p for _, p in self.named_parameters(recurse))

    def named_buffers(self, recurse: bool = True):
        """(dotted name, array) pairs for the registered buffers that are not None."""
        return self._named_members("_buffers", recurse)

    def buffers(self, recurse: bool = True):
        return (b for _, b in self.named_buffers(recurse))

    def num_parameters(self, trainable_only: bool = False) -> int:
        """The number of scalar weights (only those with requires_grad if ``trainable_only``)."""
        return sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only)

    def apply(self, fn):
        """Call ``fn(module)`` on every descendant and then on self (e.g. a custom init)."""
        for module in list(self.modules())[::-1]:
            fn(module)
        return self

    # --- modes and gradients ---------------------------------------------------------------
    def train(self, mode: bool = True):
        """Set ``training`` on this module and every descendant; returns self."""
        if not isinstance(mode, bool):
            raise ValueError(f"{type(self).__name__}.train: mode must be a bool, got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        """Evaluation mode, same as ``train(False)``; returns self."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True):
        """Freeze (False) or unfreeze (True) every parameter; returns self."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (``.grad = None``, as PyTorch's default)."""
        for p in self.parameters():
            p.grad = None

    # --- devices ---------------------------------------------------------------------------
    def to(self, device: str):
        """Move every parameter (with its gradient) and buffer to ``device`` ("cpu" or "gpu").

        The move is in place -- the Parameter objects stay the same, so an optimiser built on
        them keeps working -- and self is returned, so ``model = Net().to("gpu")`` reads well.
        """
        if device not in ("cpu", "gpu"):
            raise ValueError(f"{type(self).__name__}.to: device must be 'cpu' or 'gpu', "
                             f"got {device!r}")
        move = backend.to_gpu if device == "gpu" else backend.to_cpu
        for module in self.modules():
            for p in module._parameters.values():
                if p is not None and p.device != device:
                    p.data = move(p.data)
                    p.grad = None if p.grad is None else move(p.grad)
            for name, b in module._buffers.items():
                if b is not None and backend.device_of(b) != device:
                    module._buffers[name] = move(b)
        return self

    # --- printing --------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (its hyper-parameters)."""
        return ""

    def __repr__(self):
        # Leaf:       Linear(in_features=2, out_features=3, bias=True)
        # Container:  Sequential(
        #               (0): Linear(...)
        #             )
        lines = self.extra_repr().split("\n") if self.extra_repr() else []
        for name, module in self._modules.items():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        if not self._modules and len(lines) <= 1:
            return f"{type(self).__name__}({''.join(lines)})"
        body = "".join(f"\n  {line}" for line in lines)
        return f"{type(self).__name__}({body}\n)"

    # --- state -----------------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Every parameter and persistent buffer as dotted name -> NumPy array (a copy, on the
        CPU). Each module lists its own parameters, then its buffers, then its children's."""
        state = OrderedDict()
        for prefix, module in self.named_modules():
            dot = f"{prefix}." if prefix else ""
            for name, p in module._parameters.items():
                if p is not None:
                    state[dot + name] = _host_copy(p.data)
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    state[dot + name] = _host_copy(b)
        return state

    def _state_slots(self):
        """name -> (module, attribute, kind) for every entry of state_dict()."""
        slots = OrderedDict()
        for prefix, module in self.named_modules():
            dot = f"{prefix}." if prefix else ""
            for name, p in module._parameters.items():
                if p is not None:
                    slots[dot + name] = (module, name, "parameter")
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    slots[dot + name] = (module, name, "buffer")
        return slots

    def load_state_dict(self, state, strict: bool = True):
        """Copy the arrays of ``state`` (name -> array) into the parameters and buffers.

        Values are cast to each parameter's dtype and copied onto its device, in place.
        Nothing is changed unless every key can be loaded.

        Parameters
        ----------
        state : mapping of str to array (NumPy, CuPy or Tensor)
        strict : bool
            Missing keys (in the model, not in ``state``) and unexpected keys (in ``state``, not
            in the model) are errors. A shape mismatch is an error either way.

        Returns
        -------
        (missing_keys, unexpected_keys) : named tuple of lists

        Raises
        ------
        ValueError listing, in one message, every missing, unexpected and mis-shaped key.
        """
        slots = self._state_slots()
        arrays = {}
        for key, value in state.items():
            value = value.data if isinstance(value, Tensor) else value
            arrays[key] = value if backend.is_array(value) else np.asarray(value)
        missing = [k for k in slots if k not in arrays]
        unexpected = [k for k in arrays if k not in slots]
        problems = []
        for key, (module, name, _) in slots.items():
            if key not in arrays:
                continue
            target = getattr(module, name)
            target_shape = tuple(target.shape)
            value = arrays[key]
            if tuple(value.shape) != target_shape:
                problems.append(f"{key!r} has shape {tuple(value.shape)} in the state but "
                                f"{target_shape} in the model")
            elif value.dtype.kind not in _STORAGE_KINDS:
                problems.append(f"{key!r} has dtype {value.dtype}, not a numeric dtype")
        errors = []
        if strict and missing:
            errors.append(f"missing keys {missing}")
        if strict and unexpected:
            errors.append(f"unexpected keys {unexpected}")
        if problems:
            errors.append("mismatched keys: " + "; ".join(problems))
        if errors:
            raise ValueError(f"{type(self).__name__}.load_state_dict: " + "; ".join(errors))

        for key, (module, name, kind) in slots.items():
            if key not in arrays:
                continue
            target = module._parameters[name].data if kind == "parameter" else \
                module._buffers[name]
            xp = backend.get_array_module(target)
            value = arrays[key]
            if backend.device_of(value) != backend.device_of(target):
                value = backend.to_cpu(value) if xp is np else backend.to_gpu(value)
            target[...] = value.astype(target.dtype, copy=False)   # in place: keeps the device
        return _IncompatibleKeys(missing, unexpected)

    def save(self, path) -> None:
        """Write ``state_dict()`` to ``path`` as an uncompressed ``.npz`` archive, no pickle.

        The file is written exactly at ``path`` (no ".npz" is appended). Raises ValueError,
        naming the file and the key, for a non-finite value: a diverged model is not saved
        over a good checkpoint.
        """
        state = self.state_dict()
        for key, value in state.items():
            _check_storable(value, key, path)
        with open(path, "wb") as f:
            np.savez(f, **state)       # _check_storable refused object arrays above

    def load(self, path, strict: bool = True):
        """Load a file written by :meth:`save` into this module (see :meth:`load_state_dict`).

        The file is read with ``allow_pickle=False``: a pickled or object-dtype array, a
        non-finite value or a file that is not an ``.npz`` archive raises ValueError naming the
        file (and the key). Returns (missing_keys, unexpected_keys).
        """
        return self.load_state_dict(read_npz(path), strict=strict)


def _host_copy(a) -> np.ndarray:
    host = backend.to_cpu(a)
    return host.copy() if host is a else host     # .get() from the GPU already copied


def _check_storable(value, key, path) -> None:
    if value.dtype.kind not in _STORAGE_KINDS:
        raise ValueError(f"{path}: key {key!r} has dtype {value.dtype}; only numeric arrays "
                         "are stored (no object arrays, no pickle)")
    if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
        raise ValueError(f"{path}: key {key!r} holds {bad} non-finite value(s) (NaN or inf)")


def read_npz(path) -> "OrderedDict[str, np.ndarray]":
    """Read every array of an ``.npz`` file safely: no pickle, numeric dtypes, finite floats.

    Raises ValueError naming ``path`` (and the key) for anything else; FileNotFoundError when
    there is no file.
    """
    with open(path, "rb") as f:                   # FileNotFoundError names the file
        magic = f.read(6)
    if magic == b"\x93NUMPY":
        raise ValueError(f"{path}: not a valid .npz file (it holds a single .npy array)")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a valid .npz file (not a zip archive; minicv never "
                         "reads pickle files)")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a valid .npz file ({exc})") from exc
    state = OrderedDict()
    with archive:
        for key in archive.files:
            try:
                value = archive[key]
            except ValueError as exc:     # object arrays need pickle, which we refuse
                raise ValueError(f"{path}: key {key!r} cannot be loaded without pickle: "
                                 f"{exc}") from exc
            except (OSError, EOFError, zipfile.BadZipFile) as exc:
                raise ValueError(f"{path}: key {key!r} is corrupt ({exc})") from exc
            _check_storable(value, key, path)
            state[key] = value
    return state


# ---------------------------------------------------------------------------------------------
# Containers
# ---------------------------------------------------------------------------------------------
class _ModuleSequence(Module):
    """What Sequential and ModuleList share: numbered children, ``len``, iteration, indexing."""

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        if isinstance(index, slice):
            names = list(self._modules)[index]
            return self._from_slice(OrderedDict((n, self._modules[n]) for n in names))
        modules = list(self._modules.values())
        if not -len(modules) <= index < len(modules):
            raise IndexError(f"{type(self).__name__}: index {index} is out of range for "
                             f"{len(modules)} modules")
        return modules[index]


class Sequential(_ModuleSequence):
    """Modules called one after the other; children are named "0", "1", ...

        Sequential(Linear(2, 8), ReLU(), Linear(8, 1))

    An ordered dict of name -> module gives the children names instead. Supports ``len``,
    iteration, ``seq[i]`` (negative too) and ``seq[a:b]`` (a new Sequential sharing the modules
    and keeping their names).

    Examples
    --------
    >>> from minicv.nn import Linear, ReLU
    >>> model = Sequential(Linear(2, 8), ReLU(), Linear(8, 1))
    >>> model
    Sequential(
      (0): Linear(in_features=2, out_features=8, bias=True)
      (1): ReLU()
      (2): Linear(in_features=8, out_features=1, bias=True)
    )
    >>> [name for name, _ in model.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for module in modules:
                self.append(module)

    @classmethod
    def _from_slice(cls, named):          # a slice keeps the children's names
        return cls(named)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x


class ModuleList(_ModuleSequence):
    """A list of modules whose parameters are registered ("0", "1", ...); it has no forward.
    A slice is a new ModuleList, numbered again from "0"."""

    def __init__(self, modules=None):
        super().__init__()
        self.extend(modules or ())

    @classmethod
    def _from_slice(cls, named):          # a slice is numbered again from "0"
        return cls(named.values())

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self


# ---------------------------------------------------------------------------------------------
# Calling a module with other parameters (for gradient checks)
# ---------------------------------------------------------------------------------------------
def functional_call(module: Module, parameters: dict, *args, **kwargs):
    """Call ``module(*args, **kwargs)`` with some parameters replaced by the given tensors.

    ``parameters`` maps dotted names from ``named_parameters()`` to Tensors. They stand in for
    the module's own parameters during this one call only, so a gradient check can treat the
    weights as inputs (as ``torch.func.functional_call``)::

        layer = Linear(3, 2, dtype=np.float64)
        gradcheck(lambda x, w, b: functional_call(layer, {"weight": w, "bias": b}, x),
                  [x, layer.weight.data, layer.bias.data])
    """
    owners = dict(module.named_modules())
    swapped = []
    try:
        for dotted, tensor in parameters.items():
            owner_name, _, name = dotted.rpartition(".")
            owner = owners.get(owner_name)
            if owner is None or name not in owner._parameters:
                raise KeyError(f"functional_call: {type(module).__name__} has no parameter "
                               f"{dotted!r}")
            swapped.append((owner, name, owner._parameters[name]))
            owner._parameters[name] = tensor    # bypasses __setattr__: a Tensor, not a Parameter
        return module(*args, **kwargs)
    finally:
        for owner, name, original in reversed(swapped):
            owner._parameters[name] = original
