"""Magnitude pruning: the cubic schedule, masks that reach their sparsity, pruned weights that stay zero."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfnlp.errors import ConfigError
from tfnlp.training import fit
from tfnlp.training.pruning import (
    MagnitudePruning,
    cubic_sparsity,
    encoder_kernels,
    kernel_values,
    magnitude_mask,
    weight_histogram,
)


def test_cubic_schedule_values():
    # s_t = s_f + (s_i - s_f)(1 - (t - t0)/(n dt))^3 (Zhu & Gupta 2017)
    assert cubic_sparsity(0, 0.9, begin_step=10, end_step=110) == 0.0
    assert cubic_sparsity(10, 0.9, 10, 110) == 0.0
    assert cubic_sparsity(60, 0.9, 10, 110) == pytest.approx(0.9 - 0.9 * 0.5**3)
    assert cubic_sparsity(35, 0.5, 10, 110, initial_sparsity=0.1) == pytest.approx(0.5 - 0.4 * 0.75**3)
    assert cubic_sparsity(110, 0.9, 10, 110) == pytest.approx(0.9)
    assert cubic_sparsity(500, 0.9, 10, 110) == pytest.approx(0.9)
    steps = [cubic_sparsity(t, 0.7, 0, 100) for t in range(0, 101, 10)]
    assert all(b >= a for a, b in zip(steps, steps[1:]))  # never decreases
    increments = np.diff(steps)
    assert increments[0] > increments[-1]  # fast first, slow at the end
    with pytest.raises(ConfigError, match="end_step"):
        cubic_sparsity(0, 0.5, 10, 10)


def test_magnitude_mask_keeps_the_largest_weights():
    values = np.array([[0.1, -3.0, 0.5], [2.0, -0.2, 0.05]], "float32")
    mask = magnitude_mask(values, 0.5)
    np.testing.assert_array_equal(mask, [[0, 1, 1], [1, 0, 0]])
    assert magnitude_mask(values, 0.0).all()


def model_and_data(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(3)])
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 1).astype("int32")
    return model, tf.data.Dataset.from_tensor_slices((x, y)).batch(8)


@pytest.mark.parametrize("sparsity", [0.5, 0.7, 0.9])
def test_masks_reach_target_sparsity_and_pruned_weights_stay_zero(sparsity, tmp_path):
    model, data = model_and_data()
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    pruning = MagnitudePruning(model, final_sparsity=sparsity, end_step=12, frequency=4)
    assert len(encoder_kernels(model)) == 2
    dense_values = kernel_values(model)
    fit(model, data, epochs=2, learning_rate=1e-2, loss=loss, callbacks=[pruning])  # 16 steps
    assert pruning.sparsity() == pytest.approx(sparsity, abs=0.01)
    for kernel in pruning.kernels:  # each kernel on its own, not only on average
        assert np.mean(kernel.numpy() == 0) == pytest.approx(sparsity, abs=0.02)
    zeros = [kernel.numpy() == 0 for kernel in pruning.kernels]

    # More training with the masks held: the optimizer cannot revive pruned weights.
    hold = MagnitudePruning(model, final_sparsity=sparsity, end_step=1, begin_step=0, frequency=1000,
                            initial_sparsity=sparsity)
    fit(model, data, epochs=1, learning_rate=1e-2, loss=loss, callbacks=[hold])
    for was_zero, kernel in zip(zeros, hold.kernels):
        assert np.all(kernel.numpy()[was_zero] == 0)
    path = weight_histogram(dense_values, kernel_values(model), sparsity, tmp_path / "hist.png")
    assert path.stat().st_size > 0


def test_bad_sparsity_is_explained():
    model, _ = model_and_data()
    with pytest.raises(ConfigError, match="final_sparsity"):
        MagnitudePruning(model, final_sparsity=1.0, end_step=10)
