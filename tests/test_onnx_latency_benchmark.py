"""`python -m benchmarks.onnx_latency` on a tiny classifier: every variant timed, the rewrites shrink the graph."""

import json

import keras

from benchmarks import onnx_latency
from tfnlp.export.saving import save_model
from tfnlp.models.classifier import EncoderClassifier


def test_quick_run_times_every_variant_and_keeps_the_logits(tiny_bert_dir, tmp_path):
    keras.utils.set_random_seed(0)
    classifier = EncoderClassifier.from_preset(str(tiny_bert_dir), label_names=["a", "b", "c"], sequence_length=16)
    model_path = save_model(classifier, tmp_path / "model.keras")
    report = onnx_latency.main(["--model", str(model_path), "--quick", "--json", str(tmp_path / "report.json")])

    variants = {(row["variant"], row["threads"]) for row in report["results"]}
    assert {variant for variant, _ in variants} == {"tf2onnx int8", "tfnlp int8", "tfnlp fp32"}
    assert all(row["calls"] == 20 and row["median_ms"] > 0 for row in report["results"])
    facts = report["facts"]
    assert facts["tfnlp int8"]["nodes"] < facts["tf2onnx int8"]["nodes"] - 60  # layer norms, dense products, shapes
    assert facts["tfnlp int8"]["max_logit_difference_to_fp32"] < 0.1
    assert facts["tf2onnx int8"]["max_logit_difference_to_fp32"] < 0.1
    assert json.loads((tmp_path / "report.json").read_text())["benchmark"] == "onnx_latency"
