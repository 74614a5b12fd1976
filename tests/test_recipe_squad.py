"""`python -m recipes.squad`: on a tiny model and a CSV file (fast), and `--fast` on the real SQuAD data (slow)."""

import json

import pandas as pd
import pytest

from recipes import squad
from tfnlp.data import resolve_data_dir
from tfnlp.errors import ConfigError, DataError

CONTEXT = "the movie was bad today. i feel sad, it was good and not awful."


@pytest.fixture(scope="module")
def csv_run(trainable_bert_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("squad_csv")
    rows = [("what was it?", CONTEXT, "good"), ("how do i feel?", CONTEXT, "sad"),
            ("what was the movie?", CONTEXT, "bad"), ("was it joy?", CONTEXT, "")]
    pd.DataFrame(rows * 3, columns=["q", "passage", "a"]).to_csv(folder / "train.csv", index=False)
    pd.DataFrame(rows, columns=["q", "passage", "a"]).to_csv(folder / "eval.csv", index=False)
    args = ["--model", str(trainable_bert_dir), "--data", str(folder / "train.csv"),
            "--eval-data", str(folder / "eval.csv"), "--question-column", "q", "--context-column", "passage",
            "--answer-column", "a", "--no-onnx", "--epochs", "1", "--batch-size", "4",
            "--max-length", "32", "--stride", "8",
            "--question", "what was it?", "--context", CONTEXT, "--output-dir", str(folder), "--name", "run"]
    return squad.main(args).path


def test_csv_run_writes_the_run_folder(csv_run):
    for name in ("config.json", "metrics.json", "split.json", "predictions.json", "model.keras",
                 "saved_model/saved_model.pb", "plots/scores_by_question_type.png"):
        assert (csv_run / name).is_file(), name
    assert not (csv_run / "onnx").exists()  # --no-onnx (the ONNX export is tested in test_question_answering)
    metrics = json.loads((csv_run / "metrics.json").read_text())
    assert metrics["questions"] == {"train": 12, "evaluate": 4}
    assert 0 <= metrics["evaluate"]["exact_match"] <= metrics["evaluate"]["f1"] <= 1
    assert sum(group["count"] for group in metrics["evaluate"]["by_question_type"].values()) == 4
    assert metrics["answer"]["answer"] == CONTEXT[metrics["answer"]["start"] : metrics["answer"]["end"]]
    assert json.loads((csv_run / "split.json").read_text())["evaluate"].endswith("eval.csv")


def test_trained_run_folder_answers_any_text(csv_run, capsys):
    result = squad.main(["--model", str(csv_run), "--question", "how do i feel?", "--context", CONTEXT])
    assert result["answer"] == CONTEXT[result["start"] : result["end"]]
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["question"] == "how do i feel?"
    with pytest.raises(ConfigError, match="--context"):
        squad.main(["--model", str(csv_run), "--question", "how do i feel?"])


def test_bad_csv_answer_fails_before_a_run_folder_is_made(tmp_path, trainable_bert_dir):
    pd.DataFrame({"question": ["who?"], "context": ["Ann wrote it."], "answer": ["Bob"]}).to_csv(
        tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match="bad.csv:2: the answer 'Bob' does not occur"):
        squad.main(["--model", str(trainable_bert_dir), "--data", str(tmp_path / "bad.csv"),
                    "--eval-data", str(tmp_path / "bad.csv"), "--output-dir", str(tmp_path / "runs")])
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
@pytest.mark.skipif(resolve_data_dir() is None, reason="../shared/data is not beside the repository")
def test_fast_run_on_real_squad(tmp_path):
    run = squad.main(["--fast", "--output-dir", str(tmp_path), "--name", "fast"]).path
    split = json.loads((run / "split.json").read_text())
    assert split["train"][0] == "Super_Bowl_50" and not set(split["train"]) & set(split["evaluate"])
    for name in ("model.keras", "saved_model/saved_model.pb", "onnx/model.onnx", "onnx/model.int8.onnx",
                 "onnx/vocab.txt", "predictions.json"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["evaluate"]["f1"] > 0.02  # a reader that learned something in a few steps
