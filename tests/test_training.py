import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfnlp.errors import ConfigError
from tfnlp.training import BestCheckpoint, TrainingError, WarmupLinearDecay, adamw, count_batches, fit


def regression_data(n=64, nan_at=None):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = x @ np.array([1.0, -2.0, 0.5, 3.0], dtype="float32")
    if nan_at is not None:
        y[nan_at] = np.nan
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(8)


def linear_model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])


def test_schedule_warms_up_then_decays_to_zero():
    schedule = WarmupLinearDecay(peak=1e-3, warmup_steps=10, total_steps=110)
    values = [float(schedule(step)) for step in (0, 5, 10, 60, 110, 200)]
    np.testing.assert_allclose(values, [0, 5e-4, 1e-3, 5e-4, 0, 0], atol=1e-9)
    assert keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule)).total_steps == 110
    with pytest.raises(ValueError, match="warmup_steps"):
        WarmupLinearDecay(1e-3, warmup_steps=20, total_steps=10)


def test_adamw_excludes_bias_and_layer_norm_from_decay():
    optimizer = adamw(1e-3, total_steps=100)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2), keras.layers.LayerNormalization()])
    optimizer.build(model.trainable_variables)
    decayed = {v.path for v in model.trainable_variables if optimizer._use_weight_decay(v)}
    assert decayed == {model.layers[0].kernel.path}


def test_count_batches_counts_unknown_cardinality():
    dataset = tf.data.Dataset.range(10).filter(lambda x: x % 2 == 0).batch(2)
    assert int(dataset.cardinality()) < 0
    assert count_batches(dataset) == 3
    with pytest.raises(ConfigError, match="infinite"):
        count_batches(dataset.repeat())


def test_fit_writes_logs_and_best_checkpoint(tmp_path):
    model = linear_model()
    history = fit(model, regression_data(), regression_data(), epochs=3, learning_rate=0.1,
                  run_dir=tmp_path, loss="mse")
    assert history.history["val_loss"][-1] < history.history["val_loss"][0]
    assert any((tmp_path / "logs").rglob("events.out.tfevents.*"))
    best = tmp_path / "checkpoints" / "best.weights.h5"
    restored = linear_model()
    restored.load_weights(best)
    restored.compile(loss="mse")
    best_epoch_loss = min(history.history["val_loss"])
    assert math.isclose(restored.evaluate(regression_data(), verbose=0), best_epoch_loss, rel_tol=1e-4)
    assert not list(tmp_path.glob("checkpoints/*.tmp*")), "no temporary files left behind"


def test_plain_model_needs_a_loss():
    with pytest.raises(ConfigError, match="loss"):
        fit(linear_model(), regression_data(), epochs=1)


def test_nan_loss_stops_with_clear_message():
    with pytest.raises(TrainingError, match=r"became nan at epoch 1, batch 2.*--learning-rate"):
        fit(linear_model(), regression_data(nan_at=10), epochs=1, loss="mse")


def test_best_checkpoint_keeps_previous_file_when_not_improved(tmp_path):
    model = linear_model()
    checkpoint = BestCheckpoint(tmp_path / "best.weights.h5", monitor="val_loss", mode="min")
    checkpoint.set_model(model)
    checkpoint.on_epoch_end(0, {"val_loss": 1.0})
    first = (tmp_path / "best.weights.h5").read_bytes()
    model.layers[0].kernel.assign(model.layers[0].kernel + 1.0)
    checkpoint.on_epoch_end(1, {"val_loss": 2.0})
    assert (tmp_path / "best.weights.h5").read_bytes() == first
    checkpoint.on_epoch_end(2, {"val_loss": 0.5})
    assert (tmp_path / "best.weights.h5").read_bytes() != first
