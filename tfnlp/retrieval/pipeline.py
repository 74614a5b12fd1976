"""Open-domain extractive QA: a retriever finds the documents, a reader finds the answer spans in them.

Example:
>>> store = SQLiteDocumentStore("squad.sqlite")  # doctest: +SKIP
>>> qa = ExtractiveQAPipeline(BM25Retriever(store), QuestionAnsweringPipeline(reader))  # doctest: +SKIP
>>> qa.ask("Which NFL team won Super Bowl 50?", top_k_retriever=10, top_k_reader=3)[0]  # doctest: +SKIP
{'answer': 'Denver Broncos', 'score': 0.93, 'document_id': '3f2c...', 'start': 177, 'end': 191,
 'context': '...The American Football Conference (AFC) champion Denver Broncos defeated...', 'meta': {...}}
"""

import time

from tfnlp.errors import ConfigError
from tfnlp.metrics.squad import squad_scores
from tfnlp.retrieval.evaluation import question_records
from tfnlp.retrieval.store import check_top_k

SNIPPET_CHARS = 100  # context kept on each side of an answer


class ExtractiveQAPipeline:
    """Answers questions from a document store: retriever -> reader -> answers ranked by the reader's score.

    Args:
        retriever: a `BM25Retriever` or `DenseRetriever` (anything with `retrieve(query, top_k, filters)`).
        reader: a `tfnlp.serving.qa_pipeline.QuestionAnsweringPipeline` (Keras or ONNX reader).
    """

    def __init__(self, retriever, reader):
        self.retriever = retriever
        self.reader = reader

    def ask(self, question, top_k_retriever=10, top_k_reader=3, filters=None):
        """The best `top_k_reader` answers to `question` in the `top_k_retriever` documents that match `filters`.

        Returns:
            A list, best first, of `{"answer", "score", "document_id", "start", "end", "context", "meta"}`:
            `start`/`end` are character offsets in the document, `context` a snippet around the answer.
            Empty when no document matches.
        """
        check_top_k(top_k_retriever)
        check_top_k(top_k_reader)
        if not isinstance(question, str) or not question.strip():
            raise ConfigError(f"The question must be a non-empty string, got {question!r:.80}.")
        documents = [document for document, _ in self.retriever.retrieve(question, top_k_retriever, filters)]
        if not documents:
            return []
        per_document = self.reader.answer_all([question] * len(documents), [d.content for d in documents],
                                              top_k=top_k_reader)
        answers = [_with_document(answer, document) for document, found in zip(documents, per_document)
                   for answer in found]
        answers.sort(key=lambda answer: -answer["score"])
        return answers[:top_k_reader]


def _with_document(answer, document):
    text = document.content
    left, right = max(0, answer["start"] - SNIPPET_CHARS), min(len(text), answer["end"] + SNIPPET_CHARS)
    snippet = ("..." if left else "") + text[left:right] + ("..." if right < len(text) else "")
    return {**answer, "document_id": document.id, "context": snippet, "meta": dict(document.meta)}


def reader_scores(reader, questions):
    """EM/F1 of a `QuestionAnsweringPipeline` reading each question's gold paragraph.

    Args:
        reader: a `QuestionAnsweringPipeline`.
        questions: rows with `question`, `context` (the gold paragraph) and `answers` (SQuAD's columns).

    Returns:
        `{"exact_match", "f1", "count", "seconds"}`.
    """
    rows = question_records(questions, ("question", "context", "answers"))
    start = time.perf_counter()
    predictions = reader.predict([row["question"] for row in rows], [row["context"] for row in rows])
    return {**squad_scores(predictions, [row["answers"] for row in rows]),
            "seconds": round(time.perf_counter() - start, 1)}


def end_to_end_scores(pipeline, questions, top_k_retriever=10):
    """EM/F1 of an `ExtractiveQAPipeline`'s best answer, read from the `top_k_retriever` documents retrieved.

    Returns:
        `{"exact_match", "f1", "count", "seconds", "top_k_retriever"}`.
    """
    rows = question_records(questions, ("question", "answers"))
    start = time.perf_counter()
    found = [pipeline.ask(row["question"], top_k_retriever, top_k_reader=1) for row in rows]
    predictions = [answers[0]["answer"] if answers else "" for answers in found]
    return {**squad_scores(predictions, [row["answers"] for row in rows]),
            "seconds": round(time.perf_counter() - start, 1), "top_k_retriever": top_k_retriever}
