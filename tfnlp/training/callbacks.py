"""Callbacks every tfnlp training run uses: logs, atomic best checkpoint, resume, NaN stop."""

import json
import math
from pathlib import Path

import keras
import numpy as np

from tfnlp.data.pipeline import SHUFFLE_EPOCH
from tfnlp.errors import TfnlpError
from tfnlp.export.atomic import atomic_path
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


class ShuffleEpoch(keras.callbacks.Callback):
    """Tell shuffled `text_dataset`s which epoch starts, so their order depends on the epoch alone.

    A run resumed at epoch k (from `BackupAndRestore`) then shuffles epoch k as
    the uninterrupted run did, instead of replaying epoch 0's order.
    """

    def on_epoch_begin(self, epoch, logs=None):
        SHUFFLE_EPOCH.assign(epoch)


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


class ResumableBackup(keras.callbacks.BackupAndRestore):
    """Keras's `BackupAndRestore` that also keeps the dropout layers' random state.

    `save_weights` stores weights and optimizer but not the seed generators'
    state, so a resumed run would draw other dropout masks and end elsewhere;
    with it, a resumed run ends with the same weights as one never stopped.
    The previous backup is kept while a new one is written (a kill mid-write
    falls back to it).

    Args:
        backup_dir: the folder of the backup (`<run>/backup`).
    """

    def __init__(self, backup_dir):
        super().__init__(str(backup_dir), double_checkpoint=True)
        self._seeds_path = Path(backup_dir) / "seed_states.npz"

    def _seed_states(self):
        return {v.path: v for v in self.model.non_trainable_variables if v.path.endswith("seed_generator_state")}

    def _save_model(self):
        Path(self.backup_dir).mkdir(parents=True, exist_ok=True)
        with atomic_path(self._seeds_path) as temporary:
            with open(temporary, "wb") as file:
                np.savez(file, **{path: np.asarray(v) for path, v in self._seed_states().items()})
        super()._save_model()

    def on_train_begin(self, logs=None):
        try:  # Keras falls back to the previous copy itself when the latest is unreadable
            super().on_train_begin(logs)
        except Exception as error:  # both unreadable: say which folder, and keep it for inspection
            raise TrainingError(
                f"The training backup in {self.backup_dir} cannot be read ({type(error).__name__}: "
                f"{str(error)[:300]}). Delete that folder to train this run from the start (its best "
                "checkpoint and logs stay), or start a new run without --resume."
            ) from error

    def _load_model(self):
        super()._load_model()
        if self._seeds_path.is_file():
            with np.load(self._seeds_path) as saved:
                for path, variable in self._seed_states().items():
                    if path in saved.files:
                        variable.assign(saved[path])


def standard_callbacks(run_dir=None, monitor="val_loss", mode="min", patience=None):
    """Epoch-keyed shuffling, TensorBoard logs, best-weights checkpoint (restored at the end), resumable backup, NaN stop.

    Args:
        run_dir: the run folder; `None` keeps only the NaN stop (and early stopping).
        monitor: metric for the best checkpoint and early stopping.
        mode: `"min"` or `"max"` for `monitor`.
        patience: epochs without improvement before stopping; `None` never stops early.

    The backup in `run_dir/backup` (weights, optimizer and dropout-seed state at
    the end of each epoch, with the previous copy kept in case a kill lands
    mid-write) lets an interrupted `fit` redo the interrupted epoch and end with
    the same weights as a run never stopped (`--resume`); Keras deletes it when
    training completes.
    """
    callbacks = [ShuffleEpoch(), StopOnNaN()]
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
            ResumableBackup(run_dir / "backup"),
        ]
    return callbacks

