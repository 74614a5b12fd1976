"""`python -m recipes.intent_distill --fast` end to end on the real CLINC150 data (slow: ~10 min on 2 cores)."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tfnlp.data import resolve_data_dir
from tfnlp.errors import ConfigError
from tfnlp.export.saving import load_trained_model

pytestmark = [
    pytest.mark.skipif(resolve_data_dir() is None, reason="../shared/data is not beside the repository"),
]

VARIANTS = ["teacher (Keras)", "teacher (transformers PyTorch)", "student alone (alpha=1)", "distilled (Keras)",
            "distilled (SavedModel)", "distilled + ORT fp32", "distilled + ORT int8",
            "distilled + pruned 50% + ORT int8", "distilled + pruned 90% + ORT int8"]


def test_help_lists_the_recipe_options():
    completed = subprocess.run([sys.executable, "-m", "recipes.intent_distill", "--help"],
                               capture_output=True, text=True, check=True)
    for option in ("--teacher", "--student-layers", "--student-encoder", "--trials", "--transfer-questions",
                   "--augment-copies", "--hidden-weight", "--precision", "--sparsities", "--fast"):
        assert option in completed.stdout


def test_transfer_questions_read_squad_as_plain_queries(tmp_path):
    from recipes import intent_distill

    args = intent_distill.build_parser().parse_args(["--transfer-questions", "50"])
    questions = intent_distill.transfer_questions(args)
    assert len(questions) == len(set(questions)) == 50
    assert all(question == question.lower() and "?" not in question for question in questions)
    assert intent_distill.transfer_questions(intent_distill.build_parser().parse_args(
        ["--transfer-questions", "0"])) == []
    (tmp_path / "clinc150").mkdir()
    without_squad = intent_distill.build_parser().parse_args(["--data-dir", str(tmp_path)])
    with pytest.raises(ConfigError, match="--transfer-questions 0"):
        intent_distill.transfer_questions(without_squad)


@pytest.mark.slow
def test_fast_run_benchmarks_every_variant(tmp_path):
    from recipes import intent_distill

    run = intent_distill.main(["--fast", "--output-dir", str(tmp_path), "--name", "smoke",
                               "--sparsities", "0.5,0.9", "--augment-copies", "1", "--hidden-weight", "0.5"]).path
    results = json.loads((run / "benchmark.json").read_text())
    assert set(VARIANTS) == set(results)
    for metrics in results.values():
        assert metrics["size_mb"] > 0 and 0 <= metrics["accuracy"] <= 1
        assert 0 <= metrics["in_scope_accuracy"] <= 1 and 0 <= metrics["out_of_scope_recall"] <= 1
        assert metrics["latency_ms"]["p95"] >= metrics["latency_ms"]["median"] > 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["transformers_max_logit_difference"] < 1e-3
    assert metrics["distillation_data"] == {"queries": 2000, "word_dropped": 2000, "transfer_questions": 200}
    assert results["distilled + ORT int8"]["size_mb"] < results["teacher (Keras)"]["size_mb"] / 4
    assert metrics["pruned_90"]["sparsity_reached"] >= 0.89
    assert 0 <= metrics["search"]["alpha"] <= 1 and len(metrics["search"]["trials"]) == 2
    assert "hidden_loss" in metrics["distilled_history"]  # --hidden-weight reached the Distiller
    for name in ("model.keras", "teacher.keras", "student_alone.keras", "saved_model/saved_model.pb", "onnx/model.onnx",
                 "onnx/model.int8.onnx", "benchmark.md", "plots/accuracy_vs_latency.png",
                 "plots/weights_pruned_90.png", "transformers/model.safetensors"):
        assert (run / name).is_file(), name
    assert "out-of-scope recall" in (run / "benchmark.md").read_text()

    saved = {name: (run / name).stat().st_mtime_ns for name in ("teacher.keras", "student_alone.keras",
                                                                 "pruned_50.keras", "pruned_90.keras")}
    distilled = shutil.copy(run / "model.keras", tmp_path / "distilled_before_resume.keras")
    intent_distill.main(["--fast", "--output-dir", str(tmp_path), "--name", "smoke", "--sparsities", "0.5,0.9",
                         "--hidden-weight", "0.5", "--resume"])
    assert {name: (run / name).stat().st_mtime_ns for name in saved} == saved  # nothing trained again
    # model.keras is written again by the re-export, with the same weights: the distilled student was reused.
    for before, after in zip(load_trained_model(distilled).get_weights(),
                             load_trained_model(run / "model.keras").get_weights()):
        np.testing.assert_array_equal(before, after)
    resumed = json.loads((run / "benchmark.json").read_text())
    assert set(VARIANTS) == set(resumed)
    assert resumed["distilled + ORT int8"]["accuracy"] == pytest.approx(results["distilled + ORT int8"]["accuracy"],
                                                                         abs=0.01)

