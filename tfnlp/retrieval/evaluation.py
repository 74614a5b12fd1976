"""Retriever evaluation: recall@k over question-answer pairs, and its plot.

A retrieved document is relevant to a question when its text contains one of the question's gold answers, so
any extractive QA data set (SQuAD's columns `question` and `answers`) evaluates a retriever without labels of
which document is the right one.

Example:
>>> questions = load_dataset("squad", split="validation")
>>> store.write_documents(squad_paragraph_documents(questions))
2067
>>> result = recall_at_k(BM25Retriever(store), questions)
>>> recall_vs_k_plot({"BM25": result}, "plots/recall_vs_k.png")
"""

import time

import numpy as np

from tfnlp.errors import ConfigError, DataError
from tfnlp.plots import plt, save_figure
from tfnlp.retrieval.store import Document


def squad_paragraph_documents(questions):
    """Returns one `Document` per distinct paragraph of SQuAD rows, with its article as `meta["title"]`.

    Args:
        questions: rows with `title` and `context`, e.g. `load_dataset("squad", split="validation")`.

    Example:
    >>> len(squad_paragraph_documents(load_dataset("squad", split="validation")))
    2067
    """
    rows = question_records(questions, ("title", "context"))
    paragraphs = dict.fromkeys((row["context"], row["title"]) for row in rows)
    return [Document(context, meta={"title": title}) for context, title in paragraphs]


def recall_at_k(retriever, questions, ks=(1, 3, 5, 10, 20)):
    """The share of questions with a relevant document among the top k retrieved, for each k.

    A document is relevant when its content contains one of the question's gold answer texts.

    Args:
        retriever: has `retrieve(query, top_k)` (and `retrieve_batch(queries, top_k)`, used when present).
        questions: rows with `question` and `answers` (`{"text": [...]}`): a DataFrame or a list of dicts.
        ks: the cut-offs.

    Returns:
        A dict: `recall` (k -> recall@k), `questions` (how many), `query_seconds` (retrieving them all) and
        `ms_per_query`.

    Example:
    >>> recall_at_k(BM25Retriever(store), load_dataset("squad", split="validation"), ks=(1, 5))
    {'recall': {1: 0.5, 5: 0.75}, 'questions': 10570, 'query_seconds': 21.0, 'ms_per_query': 2.0}
    """
    ks = _checked_ks(ks)
    rows = question_records(questions, ("question", "answers"))
    queries = [row["question"] for row in rows]
    start = time.perf_counter()
    results = _retrieve_all(retriever, queries, top_k=ks[-1])
    seconds = time.perf_counter() - start
    ranks = np.array([_first_relevant_rank(result, row["answers"]["text"]) for result, row in zip(results, rows)])
    return {
        "recall": {k: float(np.mean(ranks < k)) for k in ks},
        "questions": len(rows),
        "query_seconds": seconds,
        "ms_per_query": 1000 * seconds / max(len(rows), 1),
    }


def recall_vs_k_plot(results, path, title="Retriever recall@k"):
    """Plots recall against k for one or more retrievers and saves it as PNG; returns the path.

    Args:
        results: retriever name -> the dict `recall_at_k` returned.
        path: the PNG file to write.

    Example:
    >>> recall_vs_k_plot({"BM25": bm25_result, "Dense": dense_result}, "plots/recall_vs_k.png")
    PosixPath('plots/recall_vs_k.png')
    """
    figure, axis = plt.subplots(figsize=(6, 4))
    for name, result in results.items():
        ks, recalls = zip(*sorted(result["recall"].items()))
        axis.plot(ks, recalls, marker="o", label=name)
    axis.set_xticks(sorted({k for result in results.values() for k in result["recall"]}))
    axis.set_xlabel("k (documents retrieved)")
    axis.set_ylabel("recall@k")
    axis.set_ylim(0, 1.02)
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right")
    axis.set_title(title)
    return save_figure(figure, path)


def question_records(rows, columns):
    """`rows` (a DataFrame or a list of dicts) as a list of dicts, each checked to have `columns`."""
    records = rows.to_dict("records") if hasattr(rows, "to_dict") else list(rows)
    for number, record in enumerate(records, start=1):
        missing = [column for column in columns if column not in record]
        if missing:
            raise DataError(
                f"row {number} has no {', '.join(missing)}: {record!r:.120}",
                hint=f"pass rows with the columns {', '.join(columns)}, e.g. load_dataset('squad', split=...)",
            )
    return records


def _checked_ks(ks):
    ks = sorted(set(ks))
    if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks):
        raise ConfigError(f"ks must be positive ints such as (1, 3, 5, 10, 20), got {ks!r}")
    return ks


def _retrieve_all(retriever, queries, top_k):
    if hasattr(retriever, "retrieve_batch"):
        return retriever.retrieve_batch(queries, top_k=top_k)
    return [retriever.retrieve(query, top_k=top_k) for query in queries]


def _first_relevant_rank(result, answers):
    """The 0-based rank of the first document containing an answer; infinity when there is none."""
    for rank, (doc, _) in enumerate(result):
        if any(answer in doc.content for answer in answers):
            return rank
    return np.inf
