"""A training run killed mid-epoch and resumed ends with the same weights as one never stopped.

Each run is a separate process (the kill is a real SIGKILL, so nothing gets to clean
up); the model takes raw strings, has dropout, and trains on a shuffled
`text_dataset` with tfnlp's `fit` (AdamW schedule, backup, checkpoints).
"""

import subprocess
import sys
import textwrap

import numpy as np

WORKER = textwrap.dedent(
    """
    import os, signal, sys
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import keras, numpy as np
    from tfnlp.data.pipeline import text_dataset
    from tfnlp.training import fit

    run_dir, kill_at, output = sys.argv[1], sys.argv[2], sys.argv[3]
    keras.utils.set_random_seed(0)
    words = "good bad great awful fine poor nice sad happy dull".split()
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(words, size=rng.integers(2, 8))) for _ in range(96)]
    labels = [int(sum(w in ("good", "great", "fine", "nice", "happy") for w in t.split()) * 2 > len(t.split())) for t in texts]
    vectorize = keras.layers.TextVectorization(output_sequence_length=8, vocabulary=words)
    model = keras.Sequential([
        keras.Input((), dtype="string"), vectorize, keras.layers.Embedding(12, 8),
        keras.layers.GlobalAveragePooling1D(), keras.layers.Dropout(0.3), keras.layers.Dense(2),
    ])

    class KillMidEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
        def on_train_batch_end(self, batch, logs=None):
            if f"{self.epoch}:{batch}" == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    train = text_dataset(texts, labels, batch_size=8, shuffle=True, seed=3)
    fit(model, train, epochs=4, learning_rate=1e-2, run_dir=run_dir, callbacks=[KillMidEpoch()],
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    np.savez(output, *model.get_weights())
    """
)


def run_worker(tmp_path, run_name, kill_at="never"):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    output = tmp_path / f"{run_name}.npz"
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path / run_name), kill_at, str(output)],
        capture_output=True, text=True, timeout=300,
    )
    return result, output


def weights(path):
    with np.load(path) as arrays:
        return [arrays[key] for key in sorted(arrays.files, key=lambda k: int(k.split("_")[1]))]


def test_killed_run_resumes_to_the_same_weights(tmp_path):
    uninterrupted, expected = run_worker(tmp_path, "straight")
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-3000:]

    killed, _ = run_worker(tmp_path, "resumed", kill_at="2:5")  # epoch 3 of 4, batch 6 of 12
    assert killed.returncode == -9, killed.stderr[-3000:]
    backup = tmp_path / "resumed" / "backup"
    assert (backup / "training_metadata.json").read_text().startswith('{"epoch": 2')

    resumed, actual = run_worker(tmp_path, "resumed")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Epoch 3/4" in resumed.stdout and "Epoch 1/4" not in resumed.stdout
    assert not backup.exists(), "the backup is removed once training completes"
    for got, want in zip(weights(actual), weights(expected), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
