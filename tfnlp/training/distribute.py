"""Training under a `tf.distribute` strategy: several GPUs (mirrored) or several machines (multi-worker).

Build the model and call `fit` inside `strategy.scope()`; Keras then splits each
batch over the replicas and averages their gradients. Multi-worker training reads
the cluster from the `TF_CONFIG` environment variable, as TensorFlow documents it.

Example:
>>> strategy = get_strategy("mirrored")  # doctest: +SKIP
>>> with strategy.scope():  # doctest: +SKIP
...     classifier = EncoderClassifier.from_preset("minilm-l6", label_names)
...     fit(classifier, train, validation)
"""

import json
import os

import tensorflow as tf

from tfnlp.cli import STRATEGIES
from tfnlp.errors import ConfigError


def get_strategy(name="default", devices=None):
    """The `tf.distribute.Strategy` called `name`.

    Args:
        name: `"default"` (one device, no distribution), `"mirrored"` (every
            local GPU, or `devices`) or `"multi-worker"` (every worker named in
            `TF_CONFIG`, each with its local devices).
        devices: for `"mirrored"`, the devices to use, e.g. `["/gpu:0", "/gpu:1"]`;
            default every local GPU, or when there is none every logical CPU
            device (one, unless configured with
            `tf.config.set_logical_device_configuration`).

    Returns:
        A `tf.distribute.Strategy`.
    """
    if name not in STRATEGIES:
        raise ConfigError(f"--strategy {name!r} is not one of {STRATEGIES}.")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if devices is None:
            devices = [d.name for d in tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    _check_tf_config()
    return tf.distribute.MultiWorkerMirroredStrategy()


def recipe_strategy(name, run):
    """`get_strategy(name)`, with its name and replica count recorded in the run's metrics.json."""
    strategy = get_strategy(name)
    run.save_metrics({"strategy": {"name": name, "replicas": strategy.num_replicas_in_sync}})
    return strategy


def _check_tf_config():
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise ConfigError(
            "--strategy multi-worker needs the TF_CONFIG environment variable on every worker, e.g. "
            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}.'
        )
    try:
        config = json.loads(raw)
        workers = config["cluster"]["worker"]
        task = config["task"]
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigError(
            f"TF_CONFIG is not valid ({error}): it must be JSON with cluster.worker (a list of host:port) "
            "and task.type/task.index."
        ) from error
    if task.get("type") != "worker" or not 0 <= int(task.get("index", -1)) < len(workers):
        raise ConfigError(f"TF_CONFIG task {task} must name one of the {len(workers)} workers in cluster.worker.")
