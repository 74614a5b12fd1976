"""Bad input across tfnlp's boundaries: a clear error (what, where, how to fix), or a documented handling.

The readers' own cases (missing and empty files, wrong separators and columns,
non-UTF-8 bytes, unknown labels, blank texts, bad scores) are in
test_data_readers, test_data_registry, test_regressor and the recipe tests;
this file adds huge texts, corrupt models and checkpoints, and the recipes'
command-line reporting.
"""

import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfnlp.data.pipeline import text_dataset
from tfnlp.errors import DataError
from tfnlp.export.saved_model import export_saved_model
from tfnlp.export.saving import load_trained_model, save_model
from tfnlp.models.classifier import EncoderClassifier
from tfnlp.models.question_answering import QuestionAnswerer
from tfnlp.models.token_classifier import EncoderTokenClassifier, TokenClassificationPipeline
from tfnlp.serving.onnx_pipeline import OnnxTextClassificationPipeline
from tfnlp.serving.pipelines import SavedModelPipeline, TextClassificationPipeline
from tfnlp.serving.qa_pipeline import QuestionAnsweringPipeline
from tfnlp.training import TrainingError, fit

HUGE_TEXT = ("i feel really happy today and the movie was good . " * 2000)[:100_000]


@pytest.fixture(scope="module")
def classifier(tiny_bert_dir):
    return EncoderClassifier.from_preset(tiny_bert_dir, ["sad", "happy"], sequence_length=32)


def test_a_100k_character_text_is_truncated_not_fatal(classifier, tiny_bert_dir):
    assert len(HUGE_TEXT) == 100_000
    assert classifier.preprocessor([HUGE_TEXT])["token_ids"].shape == (1, 32)
    results = TextClassificationPipeline(classifier)([HUGE_TEXT, "so sad"])
    assert len(results) == 2 and all(r["label"] in ("sad", "happy") and 0 <= r["score"] <= 1 for r in results)

    tagger = EncoderTokenClassifier.from_preset(str(tiny_bert_dir), ["O", "B-EMO", "I-EMO"], sequence_length=32)
    words = HUGE_TEXT.split()
    probabilities = TokenClassificationPipeline(tagger).word_probabilities([words])[0]
    assert probabilities.shape == (len(words), 3)
    assert (probabilities[40:, 0] == 1.0).all(), "words past the sequence length are tagged O"

    reader = QuestionAnswerer.from_preset(str(tiny_bert_dir), max_length=64, stride=16)
    answer = QuestionAnsweringPipeline(reader)("is it good ?", HUGE_TEXT[:20_000])
    assert 0 <= answer["start"] < answer["end"] <= 20_000


def test_corrupt_or_missing_models_name_the_path_and_are_left_alone(classifier, tmp_path):
    keras_file = tmp_path / "model.keras"
    keras_file.write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.raises(DataError, match=r"model\.keras: Not a readable Keras model") as error:
        load_trained_model(tmp_path)  # a run folder holding model.keras
    assert "export it again" in str(error.value)
    assert keras_file.read_bytes() == b"PK\x03\x04 truncated zip"
    with pytest.raises(DataError, match="No trained model here"):
        load_trained_model(tmp_path / "elsewhere")

    saved_model = export_saved_model(classifier, tmp_path / "saved_model")
    (saved_model / "variables" / "variables.index").write_bytes(b"garbage")
    with pytest.raises(DataError, match="The SavedModel cannot be loaded"):
        SavedModelPipeline(saved_model)
    with pytest.raises(DataError, match="No SavedModel here"):
        SavedModelPipeline(tmp_path / "no_such_folder")

    onnx_file = tmp_path / "model.onnx"
    onnx_file.write_bytes(b"\x08\x07 not a graph")
    with pytest.raises(DataError, match="ONNX Runtime cannot load this model"):
        OnnxTextClassificationPipeline(onnx_file)


def test_a_corrupt_training_backup_is_a_clear_error_and_is_kept(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((), dtype="string"), keras.layers.TextVectorization(output_sequence_length=4, vocabulary=["a", "b"]),
        keras.layers.Embedding(4, 2), keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(2),
    ])
    data = text_dataset(["a b", "b a", "a", "b"], [0, 1, 0, 1], batch_size=2)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    backup = tmp_path / "run" / "backup"
    backup.mkdir(parents=True)
    for name in ("latest.weights.h5", "latest.weights.h5.bkp"):
        (backup / name).write_bytes(b"not hdf5")
    with pytest.raises(TrainingError, match=r"backup in .*backup cannot be read.*Delete that folder"):
        fit(model, data, epochs=1, run_dir=tmp_path / "run", loss=loss)
    assert sorted(p.name for p in backup.iterdir()) == ["latest.weights.h5", "latest.weights.h5.bkp"]


def test_a_recipe_reports_bad_input_without_a_traceback(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"not a zip")
    command = [sys.executable, "-m", "recipes.squad", "--model", str(tmp_path / "model.keras"),
               "--question", "Who?", "--context", "Ann did.", "--output-dir", str(tmp_path / "runs")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "error: " in result.stderr and "Not a readable Keras model" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()
