"""Checkpoints: a model, its optimiser and what is needed to rebuild both, in one ``.npz`` file.

A checkpoint is an uncompressed ``.npz`` archive read back with ``allow_pickle=False`` (see
:func:`minicv.nn.module.read_npz`), holding

- ``model/<name>``             every entry of ``model.state_dict()``
- ``optimizer/<index>/<key>``  the optimiser's per-parameter arrays (momentum, Adam moments)
- ``meta``                     a JSON document, stored as uint8 bytes: the model's name, number of
                               classes and configuration (so :func:`load_checkpoint` can rebuild
                               the model without the code that trained it), the class names,
                               the ignore label, the input normalisation and size, the epoch, the
                               optimiser's hyper-parameters and scalar state, and the last
                               validation metrics.

Nothing is pickled: a checkpoint from an untrusted source can be read safely.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

from minicv.nn.module import read_npz

__all__ = ["FORMAT", "Checkpoint", "CheckpointError", "load_checkpoint", "save_checkpoint"]

FORMAT = "minicv-checkpoint/1"


class CheckpointError(ValueError):
    """A file that is not a minicv checkpoint, or one that does not fit what it is used for."""


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns.

    ``meta`` holds at least ``model`` (a name of :data:`minicv.models.MODELS`), ``num_classes``
    and ``config``; ``model_state`` and ``optimizer_state`` are ready for the matching
    ``load_state_dict`` methods.
    """
    path: str
    meta: dict
    model_state: dict
    optimizer_state: dict | None = None
    extra: dict = field(default_factory=dict)

    def build_model(self):
        """Rebuild the model from ``meta`` and load its weights (strict)."""
        from minicv.models import model_from_config
        meta = self.meta
        model = model_from_config(meta["model"], meta["num_classes"], meta["config"])
        try:
            model.load_state_dict(self.model_state)
        except ValueError as exc:
            raise CheckpointError(f"{self.path}: the weights do not fit a {meta['model']} built "
                                  f"from the checkpoint's own configuration: {exc}") from exc
        return model

    def check_model(self, name: str, num_classes: int | None = None) -> None:
        """Raise CheckpointError naming the file if it holds another model (or class count)."""
        if self.meta["model"] != name:
            raise CheckpointError(f"{self.path}: checkpoint is for model {self.meta['model']!r}, "
                                  f"not {name!r}")
        if num_classes is not None and self.meta["num_classes"] != num_classes:
            raise CheckpointError(f"{self.path}: checkpoint has {self.meta['num_classes']} "
                                  f"classes but the data has {num_classes}")


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"save_checkpoint: meta value of type {type(value).__name__} is not JSON")


def save_checkpoint(path, model, meta: dict, optimizer=None) -> None:
    """Write ``model`` (and ``optimizer``) with ``meta`` to ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The file written (exactly this name). It is first written next to ``path`` and then
        renamed, so an interrupted save never leaves a half-written checkpoint behind.
    model : Module
    meta : dict
        JSON-able values; must contain ``model``, ``num_classes`` and ``config``.
    optimizer : Optimizer, optional

    Raises
    ------
    ValueError naming the file and the key for a non-finite weight (a diverged model is not
    saved over a good checkpoint), or for a missing meta key.
    """
    path = os.fspath(path)
    for key in ("model", "num_classes", "config"):
        if key not in meta:
            raise ValueError(f"save_checkpoint: meta needs {key!r} (got keys {sorted(meta)})")
    arrays = {f"model/{k}": v for k, v in model.state_dict().items()}
    meta = dict(meta, format=FORMAT)
    if optimizer is not None:
        state = optimizer.state_dict()
        scalars = {}
        for index, values in state["state"].items():
            for key, value in values.items():
                if isinstance(value, np.ndarray):
                    arrays[f"optimizer/{index}/{key}"] = value
                else:
                    scalars.setdefault(str(index), {})[key] = value
        meta["optimizer"] = {"type": type(optimizer).__name__,
                             "param_groups": state["param_groups"], "scalars": scalars}
    for key, value in arrays.items():
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            raise ValueError(f"{path}: key {key!r} holds non-finite values (NaN or inf); the "
                             "training diverged, so the checkpoint is not written")
    text = json.dumps(meta, default=_json_default, sort_keys=True)
    arrays["meta"] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)


def load_checkpoint(path) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises
    ------
    FileNotFoundError when there is no file; CheckpointError (a ValueError) naming the file when
    it is not a valid ``.npz`` archive, holds no ``meta`` or another format, or its meta is
    incomplete.
    """
    path = os.fspath(path)
    try:
        arrays = read_npz(path)
    except ValueError as exc:
        raise CheckpointError(str(exc)) from exc
    if "meta" not in arrays:
        raise CheckpointError(f"{path}: not a minicv checkpoint (no 'meta' entry; a file written "
                              "by Module.save holds weights only -- load it with Module.load)")
    try:
        meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: its 'meta' entry is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(f"{path}: not a {FORMAT} checkpoint (format {found!r})")
    missing = [k for k in ("model", "num_classes", "config") if k not in meta]
    if missing:
        raise CheckpointError(f"{path}: checkpoint meta lacks {missing}")
    model_state = {k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")}
    optimizer_state = None
    if "optimizer" in meta:
        state = {}
        for key, value in arrays.items():
            if key.startswith("optimizer/"):
                _, index, name = key.split("/", 2)
                state.setdefault(int(index), {})[name] = value
        for index, values in meta["optimizer"]["scalars"].items():
            state.setdefault(int(index), {}).update(values)
        optimizer_state = {"state": state, "param_groups": meta["optimizer"]["param_groups"]}
    return Checkpoint(path, meta, model_state, optimizer_state)
