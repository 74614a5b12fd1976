import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from tfnlp.export.saved_model import export_saved_model
from tfnlp.models.classifier import EncoderClassifier
from tfnlp.serving.pipelines import SavedModelPipeline, TextClassificationPipeline

LABELS = ["sad", "happy", "angry"]
TEXTS = ["i feel happy", "so sad today", "really, really angry!"]

# Runs in a fresh interpreter that imports only TensorFlow and tensorflow-text, as a server would.
LOAD_AND_RUN = """
import json, sys
import tensorflow as tf
import tensorflow_text  # registers the tokenizer ops
model = tf.saved_model.load(sys.argv[1])
texts = json.loads(sys.argv[2])
served = model.signatures["serving_default"](text=tf.constant(texts))
ids = model.signatures["token_ids"](
    token_ids=tf.constant(json.loads(sys.argv[3])), padding_mask=tf.constant(json.loads(sys.argv[4])),
    segment_ids=tf.zeros_like(tf.constant(json.loads(sys.argv[3]))))
print(json.dumps({
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("keras_hub", "tfnlp")),
    "labels": [l.decode() for l in served["label"].numpy()],
    "probabilities": served["probabilities"].numpy().tolist(),
    "id_probabilities": ids["probabilities"].numpy().tolist(),
    "label_names": [l.decode() for l in model.signatures["label_names"]()["label_names"].numpy()],
}))
"""


@pytest.fixture(scope="module")
def exported(tiny_bert_dir, tmp_path_factory):
    keras.utils.set_random_seed(1)
    classifier = EncoderClassifier.from_preset(tiny_bert_dir, LABELS)
    path = tmp_path_factory.mktemp("export") / "saved_model"
    export_saved_model(classifier, path)
    return classifier, path


def test_saved_model_in_fresh_process_matches_keras(exported):
    classifier, path = exported
    inputs = classifier.preprocessor(TEXTS)
    token_ids = inputs["token_ids"].numpy().tolist()
    mask = inputs["padding_mask"].numpy().astype("int32").tolist()
    result = subprocess.run(
        [sys.executable, "-c", LOAD_AND_RUN, str(path), json.dumps(TEXTS), json.dumps(token_ids), json.dumps(mask)],
        capture_output=True, text=True, check=True,
    )
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served["modules"] == [], "serving must not need keras_hub or tfnlp"
    expected = keras.ops.softmax(classifier.predict(TEXTS, verbose=0)).numpy()
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-5)
    np.testing.assert_allclose(served["id_probabilities"], expected, atol=1e-5)
    assert served["labels"] == [LABELS[i] for i in expected.argmax(axis=1)]
    assert served["label_names"] == LABELS


def test_saved_model_pipeline_matches_keras_pipeline(exported):
    classifier, path = exported
    keras_results = TextClassificationPipeline(classifier)(TEXTS, top_k=None)
    served_results = SavedModelPipeline(path)(TEXTS, top_k=None)
    for keras_one, served_one in zip(keras_results, served_results):
        assert [r["label"] for r in keras_one] == [r["label"] for r in served_one]
        np.testing.assert_allclose([r["score"] for r in keras_one], [r["score"] for r in served_one], atol=1e-5)


def test_saved_model_cli_lists_both_signatures(exported):
    _, path = exported
    cli = [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    shown = subprocess.run(cli + ["show", "--dir", str(path), "--all"], capture_output=True, text=True, check=True)
    for expected in ("signature_def['serving_default']", "signature_def['token_ids']", "DT_STRING", "probabilities"):
        assert expected in shown.stdout


def test_failed_export_keeps_previous_export(exported, monkeypatch):
    classifier, path = exported
    before = sorted(p.name for p in path.iterdir())

    def crash_half_way(self, filepath, **kwargs):
        Path(filepath).mkdir(parents=True, exist_ok=True)
        (Path(filepath) / "saved_model.pb").write_bytes(b"partial")
        raise RuntimeError("disk full")

    # ExportArchive() builds a backend-specific subclass: patch the class really used.
    monkeypatch.setattr(type(keras.export.ExportArchive()), "write_out", crash_half_way)
    with pytest.raises(RuntimeError, match="disk full"):
        export_saved_model(classifier, path)
    assert sorted(p.name for p in path.iterdir()) == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["saved_model"], "no temporary left behind"
    with pytest.raises(ValueError, match="no preprocessor"):
        export_saved_model(EncoderClassifier(classifier.backbone, LABELS), path)
