"""`fit`: Keras training with tfnlp's defaults (AdamW, warm-up/decay, standard callbacks)."""

import sys

import keras_hub
import tensorflow as tf

from tfnlp.errors import ConfigError
from tfnlp.training.callbacks import standard_callbacks
from tfnlp.training.optimizers import adamw
from tfnlp.training.precision import to_float32


def count_batches(dataset):
    """Number of batches in a finite `tf.data.Dataset` (counted when TF cannot tell)."""
    cardinality = int(dataset.cardinality())
    if cardinality >= 0:
        return cardinality
    if cardinality == tf.data.INFINITE_CARDINALITY:
        raise ConfigError("The training dataset is infinite: call `.take(n)` or remove `.repeat()`.")
    return int(dataset.reduce(0, lambda count, _: count + 1))


def progress_verbosity():
    """Keras progress bars on a terminal; one line per epoch in logs and CI."""
    return 1 if sys.stdout.isatty() else 2


def fit(
    model,
    train_data,
    validation_data=None,
    *,
    epochs=3,
    learning_rate=5e-5,
    warmup_ratio=0.1,
    weight_decay=0.01,
    run_dir=None,
    monitor="val_loss",
    mode="min",
    patience=None,
    loss=None,
    metrics=None,
    weighted_metrics=None,
    gradient_accumulation_steps=None,
    callbacks=(),
):
    """Compile `model` with AdamW on a warm-up/linear-decay schedule and train it.

    Args:
        model: a keras-hub task (its default loss and metrics are used) or any
            Keras model (then `loss` is required).
        train_data: a batched `tf.data.Dataset` of `(x, y)`.
        validation_data: a batched `tf.data.Dataset`, or `None`.
        epochs: passes over `train_data`.
        learning_rate: peak learning rate.
        warmup_ratio: fraction of all steps spent warming up.
        weight_decay: AdamW's decoupled weight decay.
        run_dir: where TensorBoard logs, checkpoints and the resume backup go.
        monitor, mode, patience: best checkpoint and early stopping.
        loss, metrics: override the task's defaults.
        weighted_metrics: metrics weighted by the data's sample weights (e.g. token accuracy over
            the unmasked tokens only).
        gradient_accumulation_steps: apply the summed gradients of this many batches at once
            (a larger effective batch in the same memory).
        callbacks: more Keras callbacks.

    Returns:
        The Keras `History`. A model built under a mixed precision policy
        (`set_precision`) is switched to float32 arithmetic afterwards.

    Example:
    >>> history = fit(classifier, train_ds, val_ds, epochs=3, run_dir="saved_models/demo")  # doctest: +SKIP
    """
    is_task = isinstance(model, keras_hub.models.Task)
    # A `Distiller` sets its own loss in `compile`.
    if loss is None and not is_task and not getattr(model, "defines_own_loss", False):
        raise ConfigError("`loss` is required for a model that is not a keras-hub task.")
    compile_args = {"loss": loss} if loss is not None else {}
    if metrics is not None:
        compile_args["metrics"] = metrics
    if weighted_metrics is not None:
        compile_args["weighted_metrics"] = weighted_metrics
    batches = count_batches(train_data)
    if int(train_data.cardinality()) < 0:
        # Length buckets hide the batch count from Keras; it is the same every
        # epoch (every bucket is flushed), so state it.
        train_data = train_data.apply(tf.data.experimental.assert_cardinality(batches))
    total_steps = epochs * batches
    model.compile(
        optimizer=adamw(learning_rate, total_steps, warmup_ratio, weight_decay,
                        gradient_accumulation_steps=gradient_accumulation_steps),
        **compile_args,
    )
    if validation_data is None and monitor.startswith("val_"):
        monitor = monitor.removeprefix("val_")
    history = model.fit(
        train_data,
        validation_data=validation_data,
        epochs=epochs,
        callbacks=standard_callbacks(run_dir, monitor, mode, patience) + list(callbacks),
        verbose=progress_verbosity(),
    )
    to_float32(model)  # predictions and exports after mixed-precision training run in float32
    return history
