"""Smoke test of `python -m recipes.emotion --fast` on the real data in ../shared/data."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from tfnlp.data import resolve_data_dir
from tfnlp.errors import DataError
from tfnlp.serving.onnx_pipeline import OnnxTextClassificationPipeline
from tfnlp.serving.pipelines import SavedModelPipeline

pytestmark = pytest.mark.skipif(resolve_data_dir() is None, reason="../shared/data is not beside the repository")


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory):
    from recipes import emotion

    output = tmp_path_factory.mktemp("runs")
    return emotion.main(["--fast", "--output-dir", str(output), "--name", "smoke"]).path


def test_run_folder_has_every_output(fast_run):
    expected = [
        "config.json", "metrics.json", "model.keras", "saved_model/saved_model.pb",
        "saved_model_token_ids/saved_model.pb", "onnx/model.onnx", "onnx/model.int8.onnx", "onnx/vocab.txt",
        "errors_highest_loss.csv", "errors_lowest_loss.csv", "checkpoints/best.weights.h5",
        "plots/class_distribution.png", "plots/words_per_tweet.png", "plots/custom_text.png",
        "plots/confusion_matrix_validation.png", "plots/confusion_matrix_test.png",
    ]
    missing = [name for name in expected if not (fast_run / name).is_file()]
    assert not missing
    assert any((fast_run / "logs").rglob("events.out.tfevents.*"))
    assert json.loads((fast_run / "config.json").read_text())["fast"] is True


def test_metrics_beat_the_most_frequent_baseline(fast_run):
    metrics = json.loads((fast_run / "metrics.json").read_text())
    baselines = metrics["frozen_features"]
    for split in ("validation", "test"):
        most_frequent = baselines["most_frequent"][split]["accuracy"]
        assert baselines["logistic_regression"][split]["accuracy"] > most_frequent + 0.1
        assert metrics["fine_tuned"][split]["accuracy"] > most_frequent
        assert 0 < metrics["fine_tuned"][split]["f1_weighted"] <= 1
    assert metrics["tokenization_demo"]["subword_tokens"][:2] == ["token", "##izing"]
    prediction = metrics["custom_text"]["prediction"]
    assert len(prediction) == 6 and abs(sum(p["score"] for p in prediction) - 1) < 1e-4


def test_exports_agree_with_each_other(fast_run):
    texts = ["i feel so happy today", "i am scared of the dark", "this makes me furious"]
    restored = keras.saving.load_model(fast_run / "model.keras")
    keras_probabilities = keras.ops.softmax(restored.predict(texts, verbose=0)).numpy()
    served = SavedModelPipeline(fast_run / "saved_model")
    np.testing.assert_allclose(served.predict_proba(texts), keras_probabilities, atol=1e-5)
    assert served.label_names == ["sadness", "joy", "love", "anger", "fear", "surprise"]
    onnx_probabilities = OnnxTextClassificationPipeline(fast_run / "onnx" / "model.onnx").predict_proba(texts)
    np.testing.assert_allclose(onnx_probabilities, keras_probabilities, atol=1e-4)
    assert json.loads((fast_run / "metrics.json").read_text())["strategy"] == {"name": "default", "replicas": 1}


SHARED_OPTIONS = ("--data-dir", "--model", "--epochs", "--batch-size", "--max-length", "--learning-rate",
                  "--output-dir", "--name", "--seed", "--fast", "--resume", "--config", "--strategy")


def test_help_lists_shared_options():
    result = subprocess.run([sys.executable, "-m", "recipes.emotion", "--help"], capture_output=True, text=True, check=True)
    for option in (*SHARED_OPTIONS, "--head", "--freeze-encoder"):
        assert option in result.stdout


@pytest.mark.parametrize("recipe", ["emotion", "imdb", "glue", "ner", "squad", "qa", "generate", "intent_distill"])
def test_every_recipe_shares_the_option_names(recipe):
    import importlib

    help_text = importlib.import_module(f"recipes.{recipe}").build_parser().format_help()
    assert all(option in help_text for option in SHARED_OPTIONS)


def test_missing_data_dir_is_a_clear_error(tmp_path):
    from recipes import emotion

    with pytest.raises(DataError, match="does-not-exist"):
        emotion.main(["--fast", "--data-dir", str(tmp_path / "does-not-exist"), "--output-dir", str(tmp_path)])
