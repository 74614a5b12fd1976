"""Retrieval on the real SQuAD v1.1 dev set: its 2,067 paragraphs as documents, its 10,570 questions as queries.

Run with `-s` to see recall@k and timings; the dense test (MiniLM embeddings, minutes on two CPU cores) is slow:
`make test-slow ARGS="-s tests/test_retrieval_squad.py"`.
"""

import time

import pytest

from tfnlp.data import load_dataset
from tfnlp.errors import DataError
from tfnlp.retrieval import (
    BM25Retriever,
    DenseIndex,
    DenseRetriever,
    SQLiteDocumentStore,
    encoder_embedder,
    recall_at_k,
    recall_vs_k_plot,
    squad_paragraph_documents,
)

KS = (1, 3, 5, 10, 20)


@pytest.fixture(scope="module")
def squad():
    try:
        return load_dataset("squad", split="validation")
    except DataError as error:
        pytest.skip(f"SQuAD dev set not available: {error}")


@pytest.fixture(scope="module")
def squad_store(squad, tmp_path_factory):
    store = SQLiteDocumentStore(tmp_path_factory.mktemp("squad") / "squad.sqlite")
    start = time.perf_counter()
    written = store.write_documents(squad_paragraph_documents(squad))
    print(f"\nSQLite/FTS5: indexed {written} paragraphs in {time.perf_counter() - start:.2f} s")
    return store


@pytest.fixture(scope="module")
def bm25_result(squad, squad_store):
    result = recall_at_k(BM25Retriever(squad_store), squad, ks=KS)
    print(f"\nBM25: {summary(result)}")
    return result


def summary(result):
    recalls = ", ".join(f"@{k} {value:.3f}" for k, value in result["recall"].items())
    timing = f"{result['query_seconds']:.1f} s ({result['ms_per_query']:.1f} ms each)"
    return f"recall {recalls}; {result['questions']} queries in {timing}"


def assert_monotone(result):
    values = [result["recall"][k] for k in KS]
    assert values == sorted(values), values


def test_one_document_per_paragraph(squad, squad_store):
    assert squad_store.count() == 2067 == squad["context"].nunique()
    super_bowl = squad.loc[squad["title"] == "Super_Bowl_50", "context"].nunique()
    assert squad_store.count({"title": "Super_Bowl_50"}) == super_bowl
    assert squad_store.write_documents(squad_paragraph_documents(squad)) == 0  # written again: all skipped


def test_bm25_recall_at_k(bm25_result, tmp_path):
    assert bm25_result["questions"] == 10570
    assert_monotone(bm25_result)
    assert bm25_result["recall"][3] > 0.88
    assert bm25_result["recall"][20] > 0.95
    assert recall_vs_k_plot({"BM25": bm25_result}, tmp_path / "recall.png").stat().st_size > 10_000


def test_bm25_filters_by_title(squad_store):
    results = BM25Retriever(squad_store).retrieve("Who won the game?", top_k=5, filters={"title": "Super_Bowl_50"})
    assert len(results) == 5 and {doc.meta["title"] for doc, _ in results} == {"Super_Bowl_50"}


@pytest.mark.slow
def test_dense_recall_at_k(squad, squad_store, bm25_result, tmp_path):
    index = DenseIndex.for_store(squad_store, embed_fn=encoder_embedder("minilm-l6"))
    start = time.perf_counter()
    assert index.update(squad_store) == 2067
    print(f"\nDense (MiniLM-L6, mean pooled): indexed 2067 paragraphs in {time.perf_counter() - start:.1f} s")
    assert index.update(squad_store) == 0  # nothing changed: nothing embedded

    result = recall_at_k(DenseRetriever(squad_store, index), squad, ks=KS)
    print(f"Dense: {summary(result)}")
    assert_monotone(result)
    assert result["recall"][20] > 0.85
    path = recall_vs_k_plot({"BM25": bm25_result, "Dense (MiniLM-L6)": result}, tmp_path / "recall_vs_k.png")
    print(f"plot: {path}")
