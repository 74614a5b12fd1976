"""Callbacks every tfnlp training run uses: logs, atomic best checkpoint, resume, NaN stop."""

import math
from pathlib import Path

import keras

from tfnlp.errors import TfnlpError
from tfnlp.export.atomic import atomic_path


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
    """Save the weights whenever `monitor` improves, atomically (never a half-written file).

    Args:
        path: where the weights go (`.weights.h5`).
        monitor: the logged metric to watch, e.g. `"val_loss"`.
        mode: `"min"` or `"max"`.
    """

    def __init__(self, path, monitor="val_loss", mode="min"):
        super().__init__()
        self.path = Path(path)
        self.monitor = monitor
        self.better = (lambda new, old: new < old) if mode == "min" else (lambda new, old: new > old)
        self.best = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or (self.best is not None and not self.better(value, self.best)):
            return
        self.best = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path) as temporary:
            # Keras infers the format from the suffix, so keep it on the temporary name.
            self.model.save_weights(str(temporary))


def standard_callbacks(run_dir=None, monitor="val_loss", mode="min", patience=None):
    """TensorBoard logs, best-weights checkpoint, resumable backup, NaN stop, early stopping.

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
