"""`--strategy`: training under tf.distribute, on two logical CPU devices standing in for two GPUs."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tfnlp.errors import ConfigError
from tfnlp.training import get_strategy

WORKER = textwrap.dedent(
    """
    import json, os, sys
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, numpy as np
    from tfnlp.data.pipeline import text_dataset
    from tfnlp.models.classifier import EncoderClassifier
    from tfnlp.training import fit, get_strategy

    bert_dir, name = sys.argv[1], sys.argv[2]
    devices = ["/cpu:0", "/cpu:1"] if name == "mirrored" else None
    strategy = get_strategy(name, devices=devices)
    texts = ["i feel happy today", "so sad and angry", "love the movie", "fear of the dark"] * 4
    labels = [0, 1, 0, 1] * 4
    keras.utils.set_random_seed(0)
    with strategy.scope():
        classifier = EncoderClassifier.from_preset(bert_dir, ["a", "b"])
        for layer in classifier._flatten_layers():  # replicas draw different dropout masks
            if isinstance(layer, keras.layers.Dropout):
                layer.rate = 0.0
        weights = classifier.get_weights()
        fit(classifier, text_dataset(texts, labels, batch_size=8, bucket_by_length=False),
            epochs=2, learning_rate=1e-3, warmup_ratio=0.0)
    changed = sum(float(np.abs(a - b).sum()) for a, b in zip(classifier.get_weights(), weights))
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "changed": changed,
                      "logits": np.asarray(classifier.predict(texts[:4], verbose=0)).tolist()}))
    """
)


def train(tmp_path, bert_dir, strategy):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    result = subprocess.run([sys.executable, str(script), str(bert_dir), strategy],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_mirrored_training_matches_one_device(tmp_path, trainable_bert_dir):
    import numpy as np

    single = train(tmp_path, trainable_bert_dir, "default")
    mirrored = train(tmp_path, trainable_bert_dir, "mirrored")
    assert (single["replicas"], mirrored["replicas"]) == (1, 2)
    assert mirrored["changed"] > 0
    # Each replica takes half of every batch; the averaged gradient is the one-device gradient.
    np.testing.assert_allclose(mirrored["logits"], single["logits"], atol=1e-4)


def test_unknown_strategy_and_bad_tf_config_are_clear(monkeypatch):
    with pytest.raises(ConfigError, match="not one of"):
        get_strategy("tpu")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="needs the TF_CONFIG"):
        get_strategy("multi-worker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="TF_CONFIG is not valid"):
        get_strategy("multi-worker")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}))
    with pytest.raises(ConfigError, match="must name one of the 1 workers"):
        get_strategy("multi-worker")


RECIPE_WORKER = textwrap.dedent(
    """
    import sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from recipes import squad
    squad.main(sys.argv[1:])
    """
)


def test_a_recipe_trains_under_the_mirrored_strategy_on_two_devices(tmp_path, trainable_bert_dir):
    import pandas as pd

    context = "the movie was bad today. i feel sad, it was good and not awful."
    rows = [("what was it?", context, "good"), ("how do i feel?", context, "sad")] * 4
    pd.DataFrame(rows, columns=["question", "context", "answer"]).to_csv(tmp_path / "qa.csv", index=False)
    script = tmp_path / "recipe_worker.py"
    script.write_text(RECIPE_WORKER)
    args = ["--model", str(trainable_bert_dir), "--data", str(tmp_path / "qa.csv"), "--eval-data",
            str(tmp_path / "qa.csv"), "--no-onnx", "--epochs", "1", "--batch-size", "4", "--max-length", "32",
            "--stride", "8", "--output-dir", str(tmp_path), "--name", "run", "--strategy", "mirrored"]
    result = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=600,
                            cwd=str(Path(__file__).parents[1]))
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["strategy"] == {"name": "mirrored", "replicas": 2}
    assert metrics["training"]["windows"] == 8 and 0 <= metrics["evaluate"]["f1"] <= 1
