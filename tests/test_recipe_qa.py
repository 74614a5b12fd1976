"""`python -m recipes.qa` on a tiny SQuAD-format corpus and model: every stage, and its bad options."""

import json

import pytest

from recipes import qa
from tfnlp.errors import ConfigError

TOPICS = {
    "Movies": ["the movie was bad today. i feel sad, it was good and not awful.",
               "it was awful. the movie was really good and i feel joy today."],
    "Tweets": ["i feel so happy. it was great, the tweet was sad and angry.",
               "the tweet was really sad today, it was not good."],
    "Feelings": ["i feel fear today, and it was sad, so very sad.", "i love it, it was great and good."],
    "Oxygen": ["it was good and the air was not bad today.", "i feel joy, it was great."],
    "Force": ["the force was great today, it was really good.", "it was sad and awful, i feel hate."],
}


WORDS = ("good", "great", "sad", "awful")


def first_answer(context):
    """`[{"text", "answer_start"}]` of the first "it was <word>" in the context, or `[]` (no answer)."""
    found = [{"text": word, "answer_start": context.index("it was " + word) + 7}
             for word in WORDS if "it was " + word in context]
    return found[:1]


def squad_file(path):
    articles = [{"title": title, "paragraphs": [
        {"context": context, "qas": [{"id": f"{title}-{p}", "question": "what was it?", "answers": first_answer(context)}]}
        for p, context in enumerate(paragraphs)]} for title, paragraphs in TOPICS.items()]
    path.write_text(json.dumps({"version": "1.1", "data": articles}))
    return path


def test_tiny_run_indexes_retrieves_reads_and_adapts(trainable_bert_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(qa, "SCIENCE_ARTICLES", ("Oxygen", "Force"))
    args = ["--data", str(squad_file(tmp_path / "tiny.json")), "--model", str(trainable_bert_dir),
            "--train-articles", "2", "--eval-articles", "3", "--epochs", "1", "--adapt-epochs", "1",
            "--max-length", "32", "--stride", "8", "--batch-size", "4", "--output-dir", str(tmp_path), "--name", "run"]
    run = qa.main(args)
    metrics = json.loads((run.path / "metrics.json").read_text())
    assert metrics["index"]["documents"] == 10
    for name in ("BM25", "Dense"):
        recall = metrics["recall_at_k"][name]["recall"]
        # Top 20 holds all 10 paragraphs: every question with an answer finds its own.
        answerable = sum(bool(first_answer(context)) for paragraphs in TOPICS.values() for context in paragraphs)
        assert list(recall) == ["1", "3", "5", "10", "20"] and recall["20"] == answerable / 10
        assert list(recall.values()) == sorted(recall.values())
    scores = metrics["reader_vs_end_to_end"]
    assert set(scores) == {"reader (gold paragraph)", "BM25 top 10 + reader", "Dense top 10 + reader"}
    assert all(result["count"] == 6 for result in scores.values())
    assert metrics["domain_adaptation"]["train_questions"] == 2 and metrics["domain_adaptation"]["after"]["count"] == 2
    assert (run.path / "plots" / "recall_vs_k.png").stat().st_size > 0
    assert (run.path / "scores.md").read_text().startswith("| answers from |")
    answers = metrics["examples"]
    assert len(answers) == len(qa.EXAMPLE_QUESTIONS) and all(len(found) <= 3 for found in answers.values())


def test_table_conversion_and_bad_options(tmp_path):
    table = tmp_path / "faq.tsv"
    table.write_text("question\tcontext\tanswer\nwho wrote it?\tAnn wrote it.\tAnn\n")
    out = qa.main(["--csv-to-squad", str(table), str(tmp_path / "faq.json")])
    assert json.loads(open(out).read())["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["text"] == "Ann"
    with pytest.raises(ConfigError, match="--adapt-train and --adapt-eval go together"):
        qa.main(["--adapt-train", str(tmp_path / "faq.json"), "--output-dir", str(tmp_path / "runs")])
    assert not (tmp_path / "runs").exists()
