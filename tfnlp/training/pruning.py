"""Magnitude pruning for Keras 3 with the cubic sparsity schedule of Zhu & Gupta (2017).

tensorflow-model-optimization's pruning API only works with Keras 2 (`tf_keras`);
it does not import under Keras 3 (tensorflow/model-optimization#1119). So pruning
here is a callback: every `frequency` steps it zeroes the smallest-magnitude
weights of each pruned kernel up to the scheduled sparsity, and after every step
it re-applies the masks, so pruned weights stay zero while the rest train on.

The sparsity at step t rises from s_i to s_f between t0 and t0 + n*dt:

    s_t = s_f + (s_i - s_f) * (1 - (t - t0) / (n * dt))^3

fast at first, while many weights are redundant, then more slowly.
"""

import keras
import numpy as np

from tfnlp import plots
from tfnlp.errors import ConfigError


def cubic_sparsity(step, final_sparsity, begin_step, end_step, initial_sparsity=0.0):
    """The scheduled sparsity at `step`: `initial_sparsity` before `begin_step`, `final_sparsity` from `end_step`.

    Example:
    >>> [round(cubic_sparsity(t, 0.9, 0, 100), 4) for t in (0, 50, 100, 200)]
    [0.0, 0.7875, 0.9, 0.9]
    """
    if end_step <= begin_step:
        raise ConfigError(f"end_step ({end_step}) must come after begin_step ({begin_step}).")
    progress = min(max((step - begin_step) / (end_step - begin_step), 0.0), 1.0)
    return final_sparsity + (initial_sparsity - final_sparsity) * (1.0 - progress) ** 3


def encoder_kernels(model):
    """The weight matrices that pruning targets: the kernels of every transformer layer's projections.

    For a keras-hub encoder task (e.g. `EncoderClassifier`) these are the
    attention query/key/value/output and feed-forward kernels, as in the
    chapter; embeddings, layer norms, biases and the classifier head are kept
    dense. Any other model: the kernels of all its `Dense`/`EinsumDense` layers.
    """
    backbone = getattr(model, "backbone", None)
    layers = getattr(backbone, "transformer_layers", None) or [model]
    kernels = []
    for layer in layers:
        for sublayer in layer._flatten_layers(include_self=True):
            if isinstance(sublayer, (keras.layers.Dense, keras.layers.EinsumDense)):
                kernels.append(sublayer.kernel)
    if not kernels:
        raise ConfigError(f"{model.name} has no Dense or EinsumDense kernels to prune.")
    return kernels


def magnitude_mask(values, sparsity):
    """A 0/1 mask keeping the `1 - sparsity` largest-magnitude entries of `values`."""
    num_pruned = int(round(sparsity * values.size))
    if num_pruned == 0:
        return np.ones_like(values)
    order = np.argsort(np.abs(values), axis=None)
    mask = np.ones(values.size, dtype=values.dtype)
    mask[order[:num_pruned]] = 0
    return mask.reshape(values.shape)


class MagnitudePruning(keras.callbacks.Callback):
    """Prune `model`'s encoder kernels to `final_sparsity` on the cubic schedule while it trains.

    Each kernel is pruned to the scheduled sparsity on its own (layer-wise
    magnitude pruning). Put it in the `callbacks` of `tfnlp.training.fit`; for a
    `Distiller`, pass the student.

    Args:
        model: the model whose kernels are pruned (see `encoder_kernels`).
        final_sparsity: fraction of each kernel's weights that end at zero.
        end_step: the training step at which `final_sparsity` is reached.
        begin_step: the step pruning starts at.
        frequency: steps between mask updates (masks are re-applied every step).
        initial_sparsity: the sparsity at `begin_step`.

    Example:
    >>> pruning = MagnitudePruning(student, final_sparsity=0.9, end_step=1000)  # doctest: +SKIP
    >>> fit(Distiller(student, teacher), train, val, epochs=2, callbacks=[pruning])  # doctest: +SKIP
    >>> pruning.sparsity()  # doctest: +SKIP
    0.9
    """

    def __init__(self, model, final_sparsity, end_step, begin_step=0, frequency=10, initial_sparsity=0.0):
        super().__init__()
        if not 0.0 <= initial_sparsity <= final_sparsity < 1.0:
            raise ConfigError(
                f"Need 0 <= initial_sparsity ({initial_sparsity}) <= final_sparsity ({final_sparsity}) < 1."
            )
        if frequency < 1:
            raise ConfigError(f"frequency={frequency}: masks are updated every `frequency` >= 1 steps.")
        cubic_sparsity(0, final_sparsity, begin_step, end_step)  # checks the steps
        self.pruned_model = model
        self.kernels = encoder_kernels(model)
        self.masks = [np.ones(kernel.shape, dtype=kernel.dtype) for kernel in self.kernels]
        self.final_sparsity, self.initial_sparsity = final_sparsity, initial_sparsity
        self.begin_step, self.end_step, self.frequency = begin_step, end_step, frequency
        self.step = 0

    def target_sparsity(self, step=None):
        """The scheduled sparsity at `step` (default: the current step)."""
        step = self.step if step is None else step
        return cubic_sparsity(step, self.final_sparsity, self.begin_step, self.end_step, self.initial_sparsity)

    def on_train_batch_begin(self, batch, logs=None):
        due = self.step >= self.begin_step and (self.step - self.begin_step) % self.frequency == 0
        if due or self.step == self.end_step:
            self.update_masks(self.target_sparsity())

    def on_train_batch_end(self, batch, logs=None):
        self.apply_masks()
        self.step += 1

    def on_train_end(self, logs=None):
        # Training can stop before `end_step`: leave the model at the final sparsity.
        if self.sparsity() < self.final_sparsity - 1e-3:
            self.update_masks(self.final_sparsity)

    def update_masks(self, sparsity):
        """Recompute every mask for `sparsity` from the current weights, and apply them."""
        self.masks = [magnitude_mask(kernel.numpy(), sparsity) for kernel in self.kernels]
        self.apply_masks()

    def apply_masks(self):
        for kernel, mask in zip(self.kernels, self.masks):
            kernel.assign(kernel * mask)

    def sparsity(self):
        """Fraction of the pruned kernels' weights that are zero now."""
        zeros = sum(int(np.sum(kernel.numpy() == 0)) for kernel in self.kernels)
        return zeros / sum(int(np.prod(kernel.shape)) for kernel in self.kernels)


def kernel_values(model):
    """All pruned-kernel weights of `model`, flattened (for histograms)."""
    return np.concatenate([np.ravel(kernel.numpy()) for kernel in encoder_kernels(model)])


def weight_histogram(dense_values, pruned_values, sparsity, path, bins=100):
    """Histograms of the kernel weights before pruning and of the weights that remain after it."""
    remaining = pruned_values[pruned_values != 0]
    figure, axes = plots.plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    axes[0].hist(dense_values, bins=bins, color="tab:blue")
    axes[0].set_title("Encoder kernels before pruning")
    axes[1].hist(remaining, bins=bins, color="tab:orange")
    axes[1].set_title(f"Remaining weights at {100 * sparsity:.0f}% sparsity")
    for axis in axes:
        axis.set_xlabel("weight value")
        axis.set_yscale("log")
    axes[0].set_ylabel("count")
    return plots.save_figure(figure, path)
