"""Smoke test of `python -m recipes.summarize --fast` on the real CNN/DailyMail and SAMSum files, with a tiny Llama."""

import json

import pandas as pd
import pytest

from recipes import summarize as recipe
from tests.test_summarization_causal import write_tiny_chat_llama
from tfnlp.errors import ConfigError


@pytest.fixture(scope="module")
def tiny_llama_dir(tmp_path_factory):
    return write_tiny_chat_llama(tmp_path_factory.mktemp("llama"))


def test_fast_run_scores_every_system_and_fine_tunes(tiny_llama_dir, tmp_path):
    run = recipe.main(["--model", str(tiny_llama_dir), "--fast", "--batch-size", "4", "--learning-rate", "1e-2",
                       "--output-dir", str(tmp_path), "--name", "smoke"])

    table = pd.read_csv(run.path / "rouge.csv")
    assert list(zip(table["dataset"], table["system"])) == [
        ("cnn_dailymail", "lead-3"), ("cnn_dailymail", "zero-shot tldr"), ("cnn_dailymail", "zero-shot chat"),
        ("samsum", "zero-shot chat"), ("samsum", "LoRA fine-tuned chat"),
    ]
    assert table["examples"].tolist() == [20, 2, 2, 4, 4]
    lead_3 = table.iloc[0]
    assert 0.2 < lead_3["rouge1"] < 0.6 and lead_3["rouge2"] < lead_3["rouge1"]  # real articles, real highlights
    metrics = json.loads((run.path / "metrics.json").read_text())
    assert set(metrics["rouge"]["cnn_dailymail/lead-3"]["rougeLsum"]) == {"low", "mid", "high"}
    assert len(metrics["finetuning"]["history"]["loss"]) == 1
    summaries = [json.loads(line) for line in (run.path / "summaries.jsonl").read_text().splitlines()]
    assert len(summaries) == table["examples"].sum()
    comparison = (run.path / "comparison.txt").read_text()
    assert comparison.startswith("GROUND TRUTH") and "LEAD-3" in comparison and "ZERO-SHOT (chat)" in comparison
    for name in ("plots/samsum_token_lengths.png", "finetuned.weights.h5", "config.json"):
        assert (run.path / name).is_file(), name
    assert (run.path / "lora" / "logs").is_dir()


def test_fine_tuning_without_test_dialogues_is_refused(tiny_llama_dir, tmp_path):
    with pytest.raises(ConfigError, match="--samsum-test"):
        recipe.main(["--model", str(tiny_llama_dir), "--samsum-test", "0", "--output-dir", str(tmp_path)])


def test_help_describes_the_recipe(capsys):
    with pytest.raises(SystemExit):
        recipe.main(["--help"])
    assert "lead-3" in capsys.readouterr().out


def test_seq2seq_model_is_scored_before_and_after_fine_tuning(tiny_llama_dir, tmp_path):
    from tests.test_seq2seq import write_tiny_bart

    bart_dir = write_tiny_bart(tmp_path / "tiny-bart")
    run = recipe.main(["--model", str(tiny_llama_dir), "--seq2seq", str(bart_dir), "--fast", "--samsum-train", "4",
                       "--batch-size", "2", "--lead3-articles", "0", "--max-length", "60",
                       "--output-dir", str(tmp_path / "runs"), "--name", "bart"])
    systems = pd.read_csv(run.path / "rouge.csv")["system"].tolist()
    assert systems == ["zero-shot tldr", "zero-shot chat", "zero-shot chat", "LoRA fine-tuned chat",
                       "seq2seq", "seq2seq", "seq2seq fine-tuned"]
    assert (run.path / "seq2seq" / "logs").is_dir()
