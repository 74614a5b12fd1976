"""Tests of tfnlp.retrieval.store (SQLiteDocumentStore), BM25Retriever and recall@k, on tiny documents made here."""

import sqlite3

import pytest

from tfnlp.errors import ConfigError, DataError
from tfnlp.retrieval import (
    BM25Retriever,
    Document,
    DuplicateDocumentError,
    SQLiteDocumentStore,
    fts5_query,
    recall_at_k,
    recall_vs_k_plot,
    squad_paragraph_documents,
)

DOCUMENTS = [
    Document("The Nile is the longest river in Africa.", meta={"title": "Nile", "year": 2001, "tags": ["river"]}),
    Document("The Amazon river carries the most water.", meta={"title": "Amazon", "year": 2005, "tags": ["river"]}),
    Document("Mount Everest is the highest mountain.", meta={"title": "Everest", "year": 2010, "tags": ["peak"]}),
    Document("Paris is the capital of France.", meta={"title": "Paris", "year": 2010, "draft": True}),
]


@pytest.fixture
def store(tmp_path):
    with SQLiteDocumentStore(tmp_path / "docs.sqlite") as store:
        store.write_documents(DOCUMENTS)
        yield store


def contents(documents):
    return [doc.content for doc in documents]


def titles(results):
    return [doc.meta["title"] for doc, _ in results]


def test_document_id_is_content_hash():
    assert Document("same text").id == Document("same text", meta={"title": "other"}).id
    assert Document("same text").id != Document("other text").id
    assert Document("text", id="my-id").id == "my-id"


@pytest.mark.parametrize(
    "arguments",
    [
        {"content": 3},
        {"content": "x", "meta": "title"},
        {"content": "x", "meta": {"nested": {"a": 1}}},
        {"content": "x", "id": ""},
    ],
)
def test_document_rejects_bad_fields(arguments):
    with pytest.raises(DataError, match="How to fix|must be"):
        Document(**arguments)


def test_write_skips_duplicates_by_default(store):
    assert store.write_documents([Document(DOCUMENTS[0].content, meta={"title": "changed"})]) == 0
    assert store.count() == 4
    assert store.get([DOCUMENTS[0].id])[0].meta["title"] == "Nile"


def test_write_overwrites_duplicates(store):
    changed = Document("The Nile is long.", meta={"title": "Nile 2"}, id=DOCUMENTS[0].id)
    assert store.write_documents([changed], duplicate="overwrite") == 1
    assert store.count() == 4
    assert store.get([changed.id]) == [changed]
    assert titles(store.bm25_search("Africa")) == []  # the old text left the full-text index too


def test_write_fails_on_duplicates_and_writes_nothing(store):
    new = Document("A new text about lakes.")
    with pytest.raises(DuplicateDocumentError, match="duplicate='skip'"):
        store.write_documents([new, DOCUMENTS[1]], duplicate="fail")
    assert store.count() == 4
    assert store.get([new.id]) == []


def test_repeats_within_one_write(tmp_path):
    store = SQLiteDocumentStore(tmp_path / "docs.sqlite")
    first, second = Document("text", meta={"n": 1}, id="a"), Document("text", meta={"n": 2}, id="a")
    assert store.write_documents([first, second]) == 1
    assert store.get(["a"])[0].meta == {"n": 1}
    assert store.write_documents([first, second], duplicate="overwrite") == 1
    assert store.get(["a"])[0].meta == {"n": 2}
    with pytest.raises(DuplicateDocumentError, match="appears twice"):
        store.write_documents([first, second], duplicate="fail")


def test_get_keeps_order_and_leaves_out_unknown_ids(store):
    ids = [DOCUMENTS[2].id, "unknown", DOCUMENTS[0].id]
    assert store.get(ids) == [DOCUMENTS[2], DOCUMENTS[0]]


def test_delete_by_ids_and_by_filters(store):
    assert store.delete(ids=[DOCUMENTS[0].id, "unknown"]) == 1
    assert store.delete(filters={"year": 2010}) == 2
    assert contents(store.filter_documents()) == [DOCUMENTS[1].content]
    assert store.delete(filters={}) == 1
    assert store.count() == 0
    assert store.bm25_search("Amazon") == []


def test_delete_needs_ids_or_filters(store):
    with pytest.raises(ConfigError, match="either ids or filters"):
        store.delete()
    with pytest.raises(ConfigError, match="either ids or filters"):
        store.delete(ids=["a"], filters={})
    with pytest.raises(ConfigError, match=r"write \['abc'\]"):
        store.delete(ids="abc")


@pytest.mark.parametrize(
    "filters, expected",
    [
        (None, ["Nile", "Amazon", "Everest", "Paris"]),
        ({"title": "Paris"}, ["Paris"]),
        ({"tags": "river"}, ["Nile", "Amazon"]),  # a list matches when one of its items does
        ({"year": {"$gte": 2005, "$lt": 2010}}, ["Amazon"]),
        ({"year": {"$gt": 2005}}, ["Everest", "Paris"]),
        ({"year": {"$lte": 2005}, "tags": "river"}, ["Nile", "Amazon"]),
        ({"title": {"$in": ["Paris", "Nile", "Rome"]}}, ["Nile", "Paris"]),
        ({"title": {"$nin": ["Paris", "Nile"]}}, ["Amazon", "Everest"]),
        ({"title": {"$ne": "Paris"}}, ["Nile", "Amazon", "Everest"]),
        ({"draft": {"$exists": True}}, ["Paris"]),
        ({"draft": True}, ["Paris"]),
        ({"tags": {"$exists": False}}, ["Paris"]),
        ({"$or": [{"title": "Nile"}, {"year": 2010}]}, ["Nile", "Everest", "Paris"]),
        ({"$and": [{"tags": "river"}, {"year": 2005}]}, ["Amazon"]),
        ({"$not": {"tags": "river"}}, ["Everest", "Paris"]),
        ({"title": "Rome"}, []),
    ],
)
def test_filters(store, filters, expected):
    assert [doc.meta["title"] for doc in store.filter_documents(filters)] == expected
    assert store.count(filters) == len(expected)


@pytest.mark.parametrize(
    "filters, message",
    [
        ({"year": {"$between": [1, 2]}}, r"unknown filter operator '\$between' in the filter on 'year'; the operators"),
        ({"$nor": []}, r"unknown filter operator '\$nor' at the top"),
        ({"title": {"$in": "Paris"}}, r"\$in takes a non-empty list"),
        ({"$or": {"title": "Paris"}}, r"\$or takes a non-empty list"),
        ({"title": None}, r"\{'\$exists': False\}"),
        ({"title": {}}, "empty dict"),
        ({"draft": {"$exists": "yes"}}, "True or False"),
        (["title", "Paris"], "filters must be a dict"),
    ],
)
def test_filter_errors_say_what_is_wrong(store, filters, message):
    with pytest.raises(ConfigError, match=message):
        store.count(filters)


def test_reopen_keeps_documents_and_index(tmp_path):
    path = tmp_path / "sub" / "docs.sqlite"
    with SQLiteDocumentStore(path) as store:
        store.write_documents(DOCUMENTS)
    with SQLiteDocumentStore(path) as reopened:
        assert reopened.count() == 4
        assert reopened.filter_documents() == DOCUMENTS
        assert titles(reopened.bm25_search("highest mountain")) == ["Everest"]


def test_bm25_ranks_the_best_match_first(store):
    results = store.bm25_search("Which river is the longest?", top_k=3)
    assert titles(results)[:2] == ["Nile", "Amazon"]  # "the" and "is" alone rank the others below
    scores = [score for _, score in results]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0


def test_bm25_stems_words(store, tmp_path):
    assert set(titles(store.bm25_search("rivers"))) == {"Nile", "Amazon"}
    unstemmed = SQLiteDocumentStore(tmp_path / "unstemmed.sqlite", stemming=False)
    unstemmed.write_documents(DOCUMENTS)
    assert titles(unstemmed.bm25_search("rivers")) == []


def test_bm25_with_filters_and_top_k(store):
    results = store.bm25_search("the river", filters={"year": {"$gt": 2001}})
    assert titles(results)[0] == "Amazon"
    assert set(titles(results)) == {"Amazon", "Everest", "Paris"}
    assert len(store.bm25_search("the", top_k=2)) == 2
    with pytest.raises(ConfigError, match="top_k must be a positive int"):
        store.bm25_search("the", top_k=0)


@pytest.mark.parametrize(
    "query",
    [
        'the "longest river',  # an unbalanced quote
        "river AND NOT OR NEAR(",  # FTS5 operators and an open parenthesis
        "river* -Nile ^Amazon title:Paris {a b}: +",  # prefix, column filter, initial-token and set syntax
        "l'Amazon, c'est quoi ?!; DROP TABLE documents; --",
        "rïvér",  # accents are folded as in the index
    ],
)
def test_user_text_never_breaks_the_query(store, query):
    results = store.bm25_search(query)
    assert results and set(titles(results)) <= {"Nile", "Amazon", "Paris", "Everest"}
    assert store.count() == 4


def test_queries_without_words_find_nothing(store):
    assert store.bm25_search("?! -- ()") == []
    assert fts5_query("") is None
    with pytest.raises(ConfigError, match="must be a string"):
        store.bm25_search(None)


def test_fts5_query_quotes_every_term():
    assert fts5_query('say "hi" NOT bye*') == '"say" OR "hi" OR "NOT" OR "bye"'


def test_bm25_retriever_returns_document_score_pairs(store):
    retriever = BM25Retriever(store)
    [(doc, score)] = retriever.retrieve("capital of France", top_k=1)
    assert doc == DOCUMENTS[3] and score > 0
    assert retriever.retrieve_batch(["Everest", "Paris"], top_k=1) == [
        retriever.retrieve("Everest", top_k=1),
        retriever.retrieve("Paris", top_k=1),
    ]


def test_bad_arguments_and_files(tmp_path, store):
    with pytest.raises(ConfigError, match="duplicate='keep' is not one of"):
        store.write_documents(DOCUMENTS, duplicate="keep")
    with pytest.raises(DataError, match="takes Document objects"):
        store.write_documents(["a plain string"])
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("hello " * 100)
    with pytest.raises(DataError, match="not an SQLite database"):
        SQLiteDocumentStore(not_a_database)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE people (name TEXT)").connection.commit()
    with pytest.raises(DataError, match="not a tfnlp document store"):
        SQLiteDocumentStore(other)


def test_in_memory_store():
    store = SQLiteDocumentStore(":memory:")
    assert store.write_documents(DOCUMENTS) == 4
    assert titles(store.bm25_search("France")) == ["Paris"]


def test_two_connections_to_one_file(tmp_path):
    first, second = SQLiteDocumentStore(tmp_path / "docs.sqlite"), SQLiteDocumentStore(tmp_path / "docs.sqlite")
    first.write_documents(DOCUMENTS[:2])
    assert second.write_documents(DOCUMENTS) == 2  # sees the first's committed writes: skips them
    assert first.count() == 4


def test_recall_at_k_on_tiny_questions(store, tmp_path):
    questions = [
        {"question": "What is the capital of France?", "answers": {"text": ["Paris"]}},
        {"question": "Which river is the longest?", "answers": {"text": ["Nile", "the Nile"]}},
        {"question": "Which river carries the most water?", "answers": {"text": ["Nile"]}},  # Nile ranks 2nd
        {"question": "Which lake is the largest?", "answers": {"text": ["Lake Superior"]}},  # in no document
    ]
    result = recall_at_k(BM25Retriever(store), questions, ks=(3, 1))
    assert result["recall"] == {1: 0.5, 3: 0.75}
    assert result["questions"] == 4 and result["query_seconds"] >= 0
    path = recall_vs_k_plot({"BM25": result}, tmp_path / "plots" / "recall.png")
    assert path.read_bytes().startswith(b"\x89PNG")


def test_recall_at_k_errors(store):
    with pytest.raises(ConfigError, match="ks must be positive ints"):
        recall_at_k(BM25Retriever(store), [], ks=(0, 5))
    with pytest.raises(DataError, match="row 1 has no answers"):
        recall_at_k(BM25Retriever(store), [{"question": "Where?"}])


def test_squad_paragraph_documents_keeps_one_per_paragraph():
    rows = [
        {"title": "Nile", "context": "The Nile is long.", "question": "q1"},
        {"title": "Nile", "context": "The Nile is long.", "question": "q2"},
        {"title": "Paris", "context": "Paris is big.", "question": "q3"},
    ]
    assert squad_paragraph_documents(rows) == [
        Document("The Nile is long.", meta={"title": "Nile"}),
        Document("Paris is big.", meta={"title": "Paris"}),
    ]
