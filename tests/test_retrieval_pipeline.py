"""Retriever + reader: `ExtractiveQAPipeline.ask`, reader and end-to-end EM/F1, and the `recipes.qa` run."""

import json

import keras
import pandas as pd
import pytest

from tfnlp.data.qa import read_qa_table, write_squad_json
from tfnlp.data.readers import read_squad
from tfnlp.errors import ConfigError
from tfnlp.models.question_answering import QuestionAnswerer
from tfnlp.retrieval import BM25Retriever, Document, SQLiteDocumentStore
from tfnlp.retrieval.pipeline import ExtractiveQAPipeline, end_to_end_scores, reader_scores
from tfnlp.serving.qa_pipeline import QuestionAnsweringPipeline

DOCUMENTS = [
    ("the movie was bad today. i feel sad, it was good and not awful.", "Movies"),
    ("i feel so happy. it was great, the tweet was sad and angry.", "Tweets"),
    ("it was awful. the movie was really good and i feel joy today.", "Movies"),
]


@pytest.fixture(scope="module")
def pipeline(trainable_bert_dir, tmp_path_factory):
    keras.utils.set_random_seed(0)
    store = SQLiteDocumentStore(tmp_path_factory.mktemp("store") / "docs.sqlite")
    store.write_documents([Document(text, meta={"title": title}) for text, title in DOCUMENTS])
    reader = QuestionAnswerer.from_preset(str(trainable_bert_dir), max_length=24, stride=8)
    return ExtractiveQAPipeline(BM25Retriever(store), QuestionAnsweringPipeline(reader))


def test_ask_returns_ranked_answers_with_their_documents(pipeline):
    answers = pipeline.ask("was the tweet sad or angry?", top_k_retriever=3, top_k_reader=4)
    assert 1 <= len(answers) <= 4
    assert [a["score"] for a in answers] == sorted((a["score"] for a in answers), reverse=True)
    documents = {doc.id: doc for doc in pipeline.retriever.store.filter_documents()}
    for answer in answers:
        content = documents[answer["document_id"]].content
        assert content[answer["start"] : answer["end"]] == answer["answer"]
        assert answer["answer"] in answer["context"] and answer["meta"]["title"] in ("Movies", "Tweets")
    only_movies = pipeline.ask("was the tweet sad?", filters={"title": "Movies"})
    assert {a["meta"]["title"] for a in only_movies} == {"Movies"}
    assert pipeline.ask("sad", filters={"title": "Cooking"}) == []
    with pytest.raises(ConfigError, match="non-empty string"):
        pipeline.ask("  ")


def test_end_to_end_reads_what_the_retriever_finds(pipeline):
    questions = pd.DataFrame({
        "question": ["was the tweet sad and angry?", "did i feel joy today?"],
        "context": [DOCUMENTS[1][0], DOCUMENTS[2][0]],
        "answers": [{"text": ["sad and angry"], "answer_start": [44]}, {"text": ["joy"], "answer_start": [50]}],
    })
    gold = reader_scores(pipeline.reader, questions)
    through_one = end_to_end_scores(pipeline, questions, top_k_retriever=1)
    assert gold["count"] == through_one["count"] == 2 and through_one["top_k_retriever"] == 1
    assert 0 <= gold["exact_match"] <= gold["f1"] <= 1 and 0 <= through_one["f1"] <= 1


def test_a_question_table_converts_to_squad_json_and_back(tmp_path):
    table = tmp_path / "faq.csv"
    pd.DataFrame({"q": ["who wrote it?", "when?", "why?"],
                  "passage": ["Ann wrote it in 1990.", "Ann wrote it in 1990.", "Because it rained."],
                  "a": ["Ann", "1990", ""]}).to_csv(table, index=False)
    frame = read_qa_table(table, question="q", context="passage", answer="a")
    path = write_squad_json(frame, tmp_path / "faq.json", title="FAQ")
    data = json.loads(path.read_text())
    assert [len(article["paragraphs"]) for article in data["data"]] == [2]  # one paragraph per distinct context
    back = read_squad(path)
    assert back["question"].tolist() == frame["question"].tolist()
    assert back["answers"].tolist() == frame["answers"].tolist()
    assert set(back["title"]) == {"FAQ"}
