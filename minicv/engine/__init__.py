"""minicv.engine: training, evaluation and prediction loops, checkpoints, and their commands.

- checkpoint.py    save_checkpoint / load_checkpoint: model + optimiser + a JSON meta in one .npz
- segmentation.py  TrainConfig, fit (the `minicv train` run), train_step, evaluate, predict
- cli.py           `minicv train | eval | predict`
"""
from minicv.engine.checkpoint import (
                                      Checkpoint,
                                      CheckpointError,
                                      load_checkpoint,
                                      save_checkpoint,
)
from minicv.engine.segmentation import (
                                      DataInfo,
                                      TrainConfig,
                                      evaluate,
                                      fit,
                                      make_datasets,
                                      predict,
                                      train_step,
)

__all__ = [
                                      "Checkpoint",
                                      "CheckpointError",
                                      "DataInfo",
                                      "TrainConfig",
                                      "evaluate",
                                      "fit",
                                      "load_checkpoint",
                                      "make_datasets",
                                      "predict",
                                      "save_checkpoint",
                                      "train_step",
]
