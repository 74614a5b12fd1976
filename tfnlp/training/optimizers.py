"""AdamW with linear warm-up then linear decay: the standard recipe for fine-tuning encoders."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfnlp")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Rises linearly from 0 to `peak` over `warmup_steps`, then falls linearly to 0 at `total_steps`.

    Example:
    >>> schedule = WarmupLinearDecay(peak=1e-4, warmup_steps=10, total_steps=100)
    >>> [round(float(schedule(step)), 6) for step in (5, 10, 100)]
    [5e-05, 0.0001, 0.0]
    """

    def __init__(self, peak, warmup_steps, total_steps):
        if not 0 <= warmup_steps <= total_steps:
            raise ValueError(
                f"Need 0 <= warmup_steps ({warmup_steps}) <= total_steps ({total_steps})."
            )
        self.peak = peak
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = ops.maximum(float(self.warmup_steps), 1.0)
        rising = step / warmup
        decay_steps = ops.maximum(float(self.total_steps - self.warmup_steps), 1.0)
        falling = (float(self.total_steps) - step) / decay_steps
        fraction = ops.where(step < self.warmup_steps, rising, falling)
        return self.peak * ops.clip(fraction, 0.0, 1.0)

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps, "total_steps": self.total_steps}


def adamw(learning_rate, total_steps, warmup_ratio=0.1, weight_decay=0.01, clipnorm=1.0,
          gradient_accumulation_steps=None):
    """AdamW on a warm-up/linear-decay schedule; biases and LayerNorm weights are not decayed.

    Args:
        learning_rate: the peak learning rate.
        total_steps: optimizer steps in the whole run (epochs x batches).
        warmup_ratio: fraction of `total_steps` spent warming up.
        weight_decay: decoupled weight decay.
        clipnorm: gradient norm clipping (guards early fine-tuning steps).
        gradient_accumulation_steps: apply the averaged gradients of this many
            batches at once (None or 1: every batch); the schedule still counts
            every batch.
    """
    schedule = WarmupLinearDecay(
        peak=learning_rate,
        warmup_steps=int(warmup_ratio * total_steps),
        total_steps=total_steps,
    )
    optimizer = keras.optimizers.AdamW(
        learning_rate=schedule, weight_decay=weight_decay, clipnorm=clipnorm,
        # Keras wants None, not 1, for no accumulation.
        gradient_accumulation_steps=gradient_accumulation_steps if (gradient_accumulation_steps or 1) > 1 else None,
    )
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer
