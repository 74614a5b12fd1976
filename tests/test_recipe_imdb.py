"""The IMDb transfer-learning recipe: options, variants, comparison tables, encoder heads and their ONNX export."""

import gzip
import json

import keras
import numpy as np
import pandas as pd
import pytest

from recipes import imdb
from tfnlp.data import resolve_data_dir
from tfnlp.errors import ConfigError, DataError
from tfnlp.export.onnx import export_onnx, quantize_dynamic_int8
from tfnlp.models.classifier import EncoderClassifier
from tfnlp.models.parameters import parameter_counts
from tfnlp.serving.onnx_pipeline import OnnxTextClassificationPipeline
from tfnlp.serving.pipelines import TextClassificationPipeline
from tfnlp.training import set_precision

REVIEWS = {
    "pos": ["a good movie, really good", "great film<br />loved it", "wonderful acting and a great story"],
    "neg": ["a bad movie, really bad", "awful film<br />hated it", "boring acting and a dull story"],
}


def parse(argv):
    return imdb.build_parser().parse_args(argv)


def test_model_families_and_their_defaults():
    bilstm = imdb.with_defaults(parse([]))
    assert (bilstm.model, bilstm.embeddings, bilstm.max_length, bilstm.epochs) == ("glove-bilstm", "frozen", 150, 10)
    encoder = imdb.with_defaults(parse(["--model", "encoder", "--head", "custom"]))
    assert (encoder.encoder, encoder.max_length, encoder.head_dropout) == ("minilm-l6", 256, 0.2)
    assert imdb.with_defaults(parse(["--model", "encoder"])).head_dropout == 0.1
    assert imdb.with_defaults(parse(["--model", "encoder", "--freeze-encoder"])).learning_rate == 1e-3  # head only
    explicit = imdb.with_defaults(parse(["--max-length", "64", "--epochs", "3", "--fast"]), **imdb.VARIANTS["bilstm-tuned"])
    assert (explicit.max_length, explicit.epochs, explicit.embeddings) == (64, 1, "tuned")  # --fast: one epoch
    with pytest.raises(SystemExit):
        parse(["--model", "minilm-l6"])  # --model is the family; the preset is --encoder
    with pytest.raises(ConfigError, match="--resume"):
        imdb.main(["--variants", "bilstm-frozen", "--resume", "--name", "x"])


def test_comparison_table_from_run_folders(tmp_path):
    for name, accuracy in (("run-a", 0.83), ("run-b", 0.88)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "metrics.json").write_text(json.dumps({
            "model": name, "test": {"accuracy": accuracy, "precision": 0.8, "recall": 0.9},
            "seconds_per_epoch": 61.5, "parameters": {"trainable": 157825, "frozen": 931900},
        }))
    table = imdb.main(["--compare", str(tmp_path / "run-a"), str(tmp_path / "run-b"), "--output-dir", str(tmp_path)])
    assert table.loc["run-b", "test accuracy"] == 0.88
    markdown = (tmp_path / "comparison.md").read_text()
    assert "| run-a | run-a | 0.8300 | 0.8000 | 0.9000 | 61.5 |" in markdown and "157,825" in markdown
    assert pd.read_csv(tmp_path / "comparison.csv", index_col="run").loc["run-a", "frozen params"] == 931900
    with pytest.raises(DataError, match="no metrics.json"):
        imdb.main(["--compare", str(tmp_path)])


def test_encoder_custom_head_frozen_exports_to_onnx_with_the_same_predictions(tiny_bert_dir, tmp_path):
    keras.utils.set_random_seed(0)
    classifier = EncoderClassifier.from_preset(str(tiny_bert_dir), ["neg", "pos"], sequence_length=16,
                                               head="custom", dropout=0.2, hidden_dim=200, freeze_encoder=True)
    counts = parameter_counts(classifier)
    assert counts["trainable"] == (16 * 200 + 200) + (200 * 2 + 2)  # the head only
    assert counts["frozen"] == parameter_counts(classifier.backbone)["total"]
    texts = ["the movie was really good", "so bad, i hate it", "today"]
    expected = TextClassificationPipeline(classifier).predict_proba(texts)
    path = export_onnx(classifier, tmp_path / "model.onnx")
    for onnx_path, tolerance in ((path, 1e-5), (quantize_dynamic_int8(path), 0.05)):
        served = OnnxTextClassificationPipeline(onnx_path, tiny_bert_dir, max_length=16).predict_proba(texts)
        np.testing.assert_allclose(served, expected, atol=tolerance)


def write_tiny_imdb(folder):
    (folder / "imdb").mkdir(parents=True)
    for split in ("train", "test"):
        rows = [(index, 8 if label == "pos" else 2, label, text)
                for index, (label, text) in enumerate((label, text) for label in REVIEWS for text in REVIEWS[label] * 4)]
        with gzip.open(folder / "imdb" / f"imdb_{split}.csv.gz", "wt", encoding="utf-8") as file:
            pd.DataFrame(rows, columns=["id", "rating", "label", "text"]).to_csv(file, index=False)
    words = "a good movie really great film loved it wonderful bad awful hated boring dull story acting and".split()
    vectors = np.random.default_rng(0).normal(size=(len(words), 8))
    glove = folder / "glove.txt"
    glove.write_text("".join(f"{word} {' '.join(f'{v:.4f}' for v in row)}\n" for word, row in zip(words, vectors)))
    return glove


@pytest.mark.slow  # ~1 CPU-minute: two trainings, SavedModels, ONNX exports
def test_variants_run_end_to_end_on_tiny_data(tiny_bert_dir, tmp_path):
    glove = write_tiny_imdb(tmp_path / "data")
    run = imdb.main([
        "--data-dir", str(tmp_path / "data"), "--output-dir", str(tmp_path / "runs"), "--name", "tiny", "--fast",
        "--variants", "bilstm-tuned", "encoder-custom", "--word-vectors", str(glove),
        "--encoder", str(tiny_bert_dir), "--max-length", "16", "--onnx-sample", "8", "--batch-size", "8",
    ])
    for variant in ("bilstm-tuned", "encoder-custom"):
        folder = run.path / variant
        for name in ("config.json", "metrics.json", "summary.txt", "model.keras", "saved_model/saved_model.pb",
                     "onnx/model.onnx", "onnx/model.int8.onnx"):
            assert (folder / name).is_file(), f"{variant}: {name}"
        assert any((folder / "logs").rglob("events.out.tfevents.*"))
        metrics = json.loads((folder / "metrics.json").read_text())
        assert set(metrics["test"]) >= {"accuracy", "precision", "recall"} and metrics["seconds_per_epoch"] > 0
        assert metrics["onnx"]["float32"]["agreement"] == 1.0 and metrics["parameters"]["trainable"] > 0
    bilstm_metrics = json.loads((run.path / "bilstm-tuned" / "metrics.json").read_text())
    assert bilstm_metrics["word_vectors"]["missing"] == 0 and bilstm_metrics["parameters"]["frozen"] == 0
    assert (run.path / "bilstm-tuned" / "onnx" / "vocabulary.txt").is_file()
    table = pd.read_csv(run.path / "comparison.csv", index_col="run")
    assert list(table.index) == ["bilstm-tuned", "encoder-custom"]


def test_encoder_trained_in_bfloat16_exports_float32_models(tiny_bert_dir, tmp_path):
    write_tiny_imdb(tmp_path / "data")
    try:
        run = imdb.main([
            "--data-dir", str(tmp_path / "data"), "--output-dir", str(tmp_path / "runs"), "--name", "bf16", "--fast",
            "--model", "encoder", "--encoder", str(tiny_bert_dir), "--max-length", "16", "--onnx-sample", "8",
            "--batch-size", "8", "--precision", "mixed_bfloat16",
        ])
    finally:
        set_precision("float32")  # the policy is global: later tests build float32 models
    assert json.loads((run.path / "config.json").read_text())["precision"] == "mixed_bfloat16"
    onnx = json.loads((run.path / "metrics.json").read_text())["onnx"]["float32"]
    # Keras' test predictions (after `fit` switched the model to float32) and the float32 ONNX file agree to float
    # rounding, far below bfloat16's ~1e-2 steps.
    assert onnx["agreement"] == 1.0 and onnx["max_abs_difference"] < 1e-4
    reloaded = keras.saving.load_model(run.path / "model.keras")
    assert {layer.dtype_policy.compute_dtype for layer in reloaded.backbone.transformer_layers} == {"float32"}


@pytest.mark.slow
@pytest.mark.skipif(resolve_data_dir() is None, reason="../shared/data is not beside the repository")
def test_fast_run_on_real_imdb_with_real_glove_and_minilm(tmp_path):
    run = imdb.main(["--fast", "--output-dir", str(tmp_path), "--name", "fast",
                     "--variants", "bilstm-frozen", "encoder-builtin"])
    for variant in ("bilstm-frozen", "encoder-builtin"):
        metrics = json.loads((run.path / variant / "metrics.json").read_text())
        assert metrics["test"]["accuracy"] > 0.5, variant
        assert metrics["onnx"]["int8"]["agreement"] > 0.9, variant
    frozen = json.loads((run.path / "bilstm-frozen" / "metrics.json").read_text())
    assert frozen["word_vectors"]["coverage"] > 0.9 and frozen["parameters"]["frozen"] > 900_000
    assert "| bilstm-frozen |" in (run.path / "comparison.md").read_text()
