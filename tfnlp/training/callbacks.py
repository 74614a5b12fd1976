"""Callbacks every tfnlp training run uses: logs, atomic best checkpoint, resume, NaN stop."""

import json
import math
from pathlib import Path

import keras

from tfnlp.errors import TfnlpError
from tfnlp.export.saving import save_weights
from tfnlp.runs import write_json


class TrainingError(TfnlpError, RuntimeError):
    """Training cannot go on (for example the loss became NaN)."""


class StopOnNaN(keras.callbacks.Callback):
    """Stop at the first NaN or infinite loss with a message that says what to try."""

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.model.stop_training = True
            raise TrainingError(
                f"The training loss became {loss} at epoch {self.epoch + 1}, batch {batch + 1}. "
                "Lower the learning rate (--learning-rate), check the data for NaN or "
                "infinite targets, or resume from the last checkpoint with --resume."
            )


class BestCheckpoint(keras.callbacks.Callback):
    """Keep the weights of the best epoch, written atomically; restore them when training ends.

    The best value is recorded beside the weights (`<name>.json`), so a resumed
    run only replaces the checkpoint with a better epoch.

    Args:
        path: where the weights go (`.weights.h5`).
        monitor: the logged metric to watch, e.g. `"val_loss"`.
        mode: `"min"` or `"max"`.
        restore_best: load the best weights into the model at the end of `fit`.
    """

    def __init__(self, path, monitor="val_loss", mode="min", restore_best=True):
        super().__init__()
        self.path = Path(path)
        self.record = self.path.with_name(self.path.name.removesuffix(".weights.h5") + ".json")
        self.monitor = monitor
        self.sign = 1.0 if mode == "min" else -1.0
        self.restore_best = restore_best
        self.best = None

    def on_train_begin(self, logs=None):
        if self.record.is_file():
            self.best = json.loads(self.record.read_text())["value"]

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or (self.best is not None and self.sign * value >= self.sign * self.best):
            return
        self.best = float(value)
        save_weights(self.model, self.path)
        write_json(self.record, {"monitor": self.monitor, "value": self.best, "epoch": epoch + 1})

    def on_train_end(self, logs=None):
        if self.restore_best and self.path.is_file():
            self.model.load_weights(self.path)


def standard_callbacks(run_dir=None, monitor="val_loss", mode="min", patience=None):
    """TensorBoard logs, best-weights checkpoint (restored at the end), resumable backup, NaN stop.

    Args:
        run_dir: the run folder; `None` keeps only the NaN stop (and early stopping).
        monitor: metric for the best checkpoint and early stopping.
        mode: `"min"` or `"max"` for `monitor`.
        patience: epochs without improvement before stopping; `None` never stops early.

    The backup in `run_dir/backup` lets an interrupted `fit` continue where it
    stopped (`--resume`); Keras deletes it when training completes.
    """
    callbacks = [StopOnNaN()]
    if patience is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor, mode=mode, patience=patience, restore_best_weights=True
            )
        )
    if run_dir is not None:
        run_dir = Path(run_dir)
        callbacks += [
            keras.callbacks.TensorBoard(log_dir=str(run_dir / "logs")),
            BestCheckpoint(run_dir / "checkpoints" / "best.weights.h5", monitor, mode),
            keras.callbacks.BackupAndRestore(str(run_dir / "backup")),
        ]
    return callbacks
