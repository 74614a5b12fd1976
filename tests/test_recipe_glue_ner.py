"""The glue and ner recipes end to end on tiny files and a tiny BERT; real-data smoke runs are marked slow."""

import json

import pytest

from recipes import glue, ner
from tfnlp.data import resolve_data_dir
from tfnlp.errors import ConfigError, DataError

PAIRS = [("i feel happy", "i feel happy", 5.0), ("so sad today", "the movie was good", 0.4),
         ("a good movie", "the movie was good", 4.2), ("i hate it", "i love it", 1.0)] * 3
SENTENCES = [(["i", "feel", "happy"], ["O", "O", "B-EMO"]), (["the", "movie", "was", "sad"], ["O", "B-FILM", "O", "B-EMO"])] * 3


def _tsv(path, rows):
    path.write_text("sentence1\tsentence2\tscore\n" + "".join(f"{a}\t{b}\t{s}\n" for a, b, s in rows))
    return str(path)


def _jsonl(path, rows):
    path.write_text("".join(json.dumps({"words": words, "tags": tags}) + "\n" for words, tags in rows))
    return str(path)


def _common(model_dir, output):
    return ["--model", str(model_dir), "--epochs", "1", "--batch-size", "4", "--max-length", "32",
            "--output-dir", str(output)]


def test_glue_stsb_on_any_tsv(tiny_bert_dir, tmp_path):
    train, dev = _tsv(tmp_path / "train.tsv", PAIRS), _tsv(tmp_path / "dev.tsv", PAIRS[:6])
    run = glue.main(["--task", "stsb", "--train-file", train, "--validation-file", dev, "--name", "stsb",
                     *_common(tiny_bert_dir, tmp_path / "runs")]).path
    for name in ("config.json", "metrics.json", "model.keras", "saved_model/saved_model.pb", "onnx/model.onnx",
                 "onnx/model.int8.onnx", "plots/dev_scores.png"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["validation"]) == {"pearson", "spearman", "mse"}
    assert isinstance(metrics["custom_text"]["score"], float)


def test_ner_on_any_jsonl(tiny_bert_dir, tmp_path):
    train, dev = _jsonl(tmp_path / "train.jsonl", SENTENCES), _jsonl(tmp_path / "dev.jsonl", SENTENCES[:2])
    run = ner.main(["--train-file", train, "--validation-file", dev, "--test-file", dev,
                    "--tokens-column", "words", "--tags-column", "tags", "--name", "ner", "--text", "i feel happy",
                    *_common(tiny_bert_dir, tmp_path / "runs")]).path
    for name in ("model.keras", "saved_model/saved_model.pb", "onnx/model.onnx", "plots/entity_f1_test.png"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["entities"]["test"]["per_type"]) <= {"EMO", "FILM"}
    assert 0 <= metrics["entities"]["test"]["f1"] <= 1


def test_bad_options_and_data_fail_before_any_run_folder(tiny_bert_dir, tmp_path):
    runs = tmp_path / "runs"
    with pytest.raises(ConfigError, match="--train-file needs --validation-file"):
        glue.main(["--train-file", _tsv(tmp_path / "a.tsv", PAIRS), *_common(tiny_bert_dir, runs)])
    bad = _tsv(tmp_path / "bad.tsv", [("a", "b", 7.5), *PAIRS])
    with pytest.raises(DataError, match="bad.tsv: the score 7.5 at row 1 is not a number from 0.0 to 5.0"):
        glue.main(["--train-file", bad, "--validation-file", bad, *_common(tiny_bert_dir, runs)])
    empty_side = tmp_path / "empty.tsv"
    empty_side.write_text("sentence1\tsentence2\tscore\ni feel\t\t2.0\n")
    with pytest.raises(DataError, match="empty text in column 'text_pair' at row 1"):
        glue.main(["--train-file", str(empty_side), "--validation-file", str(empty_side), *_common(tiny_bert_dir, runs)])
    with pytest.raises(DataError, match=r"missing column\(s\) \['tags'\]"):
        missing = tmp_path / "missing.jsonl"
        missing.write_text(json.dumps({"words": ["a"]}) + "\n")
        ner.main(["--train-file", str(missing), "--validation-file", str(missing), "--tokens-column", "words",
                  "--tags-column", "tags", *_common(tiny_bert_dir, runs)])
    assert not runs.exists()
    assert "--task" in glue.build_parser().format_help() and "--tags-column" in ner.build_parser().format_help()


needs_data = pytest.mark.skipif(resolve_data_dir() is None, reason="../shared/data is not beside the repository")


@pytest.mark.slow
@needs_data
@pytest.mark.parametrize("task", ["stsb", "sst2"])
def test_glue_fast_on_real_data(task, tmp_path):
    metrics = json.loads((glue.main(["--task", task, "--fast", "--output-dir", str(tmp_path)]).path
                          / "metrics.json").read_text())
    if task == "stsb":
        assert metrics["validation"]["pearson"] > 0.3
    else:
        assert metrics["validation"]["accuracy"] > 0.6


@pytest.mark.slow
@needs_data
def test_ner_fast_on_real_data(tmp_path):
    metrics = json.loads((ner.main(["--fast", "--output-dir", str(tmp_path)]).path / "metrics.json").read_text())
    assert metrics["entities"]["test"]["f1"] > 0.2
