"""PerformanceBenchmark, the Keras -> transformers export behind the PyTorch reference, and int8 vs fp32
agreement on real CLINC150 queries."""

import json

import keras
import numpy as np
import pandas as pd
import pytest

from tfnlp.benchmark.performance import (
    PerformanceBenchmark,
    plot_metrics,
    results_table,
    save_results,
    summary_line,
)
from tfnlp.data import load_dataset
from tfnlp.data.pipeline import text_dataset
from tfnlp.errors import DataError
from tfnlp.export.hf_bert import export_hf_bert, max_logit_difference
from tfnlp.export.onnx import export_onnx, quantize_dynamic_int8
from tfnlp.models.classifier import EncoderClassifier
from tfnlp.models.encoders import BertEncoder, load_preprocessor
from tfnlp.presets import resolve_preset
from tfnlp.serving.onnx_pipeline import OnnxTextClassificationPipeline
from tfnlp.serving.pipelines import TextClassificationPipeline, path_size_mb
from tfnlp.serving.transformers_pipeline import TorchTextClassificationPipeline
from tfnlp.training import fit

from .conftest import TINY_VOCAB

LABELS = ["sad", "happy", "angry"]
FRAME = pd.DataFrame({"text": ["i feel happy", "so sad today", "i hate it", "really good movie", "the movie was bad",
                               "i love it", "not happy"], "label": [1, 0, 2, 1, 0, 1, 0]})


def classifier_on(preprocessor, label_names, vocabulary_size, hidden_dim=16, weight_std=None, seed=0):
    keras.utils.set_random_seed(seed)
    backbone = BertEncoder(vocabulary_size=vocabulary_size, num_layers=2, num_heads=2, hidden_dim=hidden_dim,
                           intermediate_dim=2 * hidden_dim, max_sequence_length=128)
    classifier = EncoderClassifier(backbone, label_names, preprocessor=preprocessor)
    if weight_std is not None:  # spread the logits so that argmax ties are rare
        rng = np.random.default_rng(seed)
        for weight in classifier.weights:
            if len(weight.shape) > 1:
                weight.assign(rng.normal(0.0, weight_std, weight.shape).astype("float32"))
    return classifier


@pytest.fixture(scope="module")
def tiny(tiny_bert_dir):
    return classifier_on(load_preprocessor(str(tiny_bert_dir), 32), LABELS, len(TINY_VOCAB))


def test_benchmark_measures_size_latency_accuracy_and_plots(tiny, tmp_path):
    pipeline = TextClassificationPipeline(tiny)
    benchmark = PerformanceBenchmark(pipeline, FRAME, "tiny", query="i feel happy", warmup=2, repeats=20)
    results = benchmark.run(tmp_path / "benchmark.json")
    metrics = results["tiny"]
    expected = np.mean([LABELS[label] == result["label"]
                        for label, result in zip(FRAME["label"], pipeline(FRAME["text"].tolist()))])
    assert metrics["accuracy"] == pytest.approx(expected)
    latency = metrics["latency_ms"]
    assert 0 < latency["median"] <= latency["p95"] and latency["std"] >= 0 and latency["mean"] > 0
    saved = tmp_path / "tiny.keras"
    tiny.save(saved)
    assert metrics["size_mb"] == pytest.approx(path_size_mb(saved), rel=0.05)

    other = {"other": {**metrics, "accuracy": 0.5, "size_mb": 2 * metrics["size_mb"]}}
    merged = save_results(other, tmp_path / "benchmark.json")
    assert set(json.loads((tmp_path / "benchmark.json").read_text())) == {"tiny", "other"} == set(merged)
    assert "| tiny |" in results_table(merged) and "+/-" in results_table(merged)
    assert plot_metrics(merged, "tiny", tmp_path / "plot.png").stat().st_size > 0
    with pytest.raises(DataError, match="text"):
        PerformanceBenchmark(pipeline, FRAME.rename(columns={"text": "query"}), "bad")


class LookupPipeline:
    """Answers each text with a fixed label: accuracies computable by hand."""

    label_names = ["balance", "transfer", "oos"]

    def __init__(self, answers):
        self.answers = answers

    def size_mb(self):
        return 1.0

    def __call__(self, texts):
        batch = [texts] if isinstance(texts, str) else texts
        return [{"label": self.answers.get(text, "balance"), "score": 1.0} for text in batch]


def test_benchmark_reports_in_scope_accuracy_and_out_of_scope_recall():
    queries = pd.DataFrame({"text": ["my balance", "send money", "pay rent", "sing a song", "tell a joke"],
                            "label": [0, 1, 1, 2, 2]})
    answers = {"send money": "transfer", "pay rent": "oos", "sing a song": "oos", "tell a joke": "transfer"}
    results = PerformanceBenchmark(LookupPipeline(answers), queries, "lookup", warmup=1, repeats=2).run()
    metrics = results["lookup"]
    assert metrics["accuracy"] == pytest.approx(3 / 5)
    assert metrics["in_scope_accuracy"] == pytest.approx(2 / 3)  # "pay rent" rejected
    assert metrics["out_of_scope_recall"] == pytest.approx(1 / 2)  # "tell a joke" taken for a transfer
    assert "| lookup |" in results_table(results) and "0.6667 | 0.5000 |" in results_table(results)
    assert summary_line("lookup", metrics).endswith("accuracy 0.6000 (in-scope 0.6667, out-of-scope recall 0.5000)")

    in_scope_only = PerformanceBenchmark(LookupPipeline(answers), queries[queries.label < 2], "in", warmup=1,
                                         repeats=2).run()
    assert set(in_scope_only["in"]) == {"size_mb", "accuracy", "latency_ms"}
    assert "out-of-scope" not in results_table({**results, **in_scope_only})
    assert summary_line("in", in_scope_only["in"]).endswith("accuracy 0.6667")


def test_transformers_export_matches_keras_logits(tiny, tmp_path):
    directory = export_hf_bert(tiny, tmp_path / "hf")
    texts = FRAME["text"].tolist() + ["Hello, happy movie!!", "CAFÉ tweet"]
    assert max_logit_difference(tiny, directory, texts) < 1e-4
    torch_pipeline = TorchTextClassificationPipeline(directory)
    assert torch_pipeline.label_names == LABELS
    assert [r["label"] for r in torch_pipeline(texts)] == [r["label"] for r in TextClassificationPipeline(tiny)(texts)]
    assert torch_pipeline("i feel happy")[0]["label"] in LABELS
    assert 0 < torch_pipeline.size_mb() < 1


def test_int8_agrees_with_fp32_on_real_clinc_queries(tmp_path):
    """Per-channel dynamic int8 keeps the float model's predictions on real queries.

    A tiny model trained briefly on 12 CLINC150 intents (real decision margins, fast),
    checked on the test queries of those intents.
    """
    clinc = load_dataset("clinc150")
    intents = list(range(12))
    train, test = (frame[frame["label"].isin(intents)] for frame in (clinc["train"], clinc["test"]))
    names = [clinc.info.label_names[i] for i in intents]
    classifier = classifier_on(load_preprocessor("minilm-l6", 128), names, 30522, hidden_dim=32)
    fit(classifier, text_dataset(train["text"], train["label"], batch_size=32, shuffle=True, seed=0),
        epochs=3, learning_rate=3e-3)
    fp32_path = export_onnx(classifier, tmp_path / "model.onnx")
    int8_path = quantize_dynamic_int8(fp32_path)
    minilm = resolve_preset("minilm-l6")
    fp32 = OnnxTextClassificationPipeline(fp32_path, minilm)
    int8 = OnnxTextClassificationPipeline(int8_path, minilm)
    texts = test["text"].tolist()
    fp32_labels = np.array([r["label"] for r in fp32(texts)])
    int8_labels = np.array([r["label"] for r in int8(texts)])
    true_labels = np.array([names[label] for label in test["label"]])
    assert np.mean(fp32_labels == true_labels) > 0.5  # the model learnt the intents: margins are real
    assert np.mean(int8_labels == fp32_labels) >= 0.97
    assert int8.size_mb() < 0.5 * fp32.size_mb()
    keras_labels = np.array([r["label"] for r in TextClassificationPipeline(classifier)(texts)])
    assert np.mean(keras_labels == fp32_labels) >= 0.99  # and the fp32 ONNX model is the Keras model
