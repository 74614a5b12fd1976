"""Tests of tfnlp.retrieval.dense and DenseRetriever with a cheap, deterministic fake embedding."""

import hashlib
import re

import numpy as np
import pytest

from tfnlp.errors import ConfigError, DataError
from tfnlp.retrieval import DenseIndex, DenseRetriever, Document, SQLiteDocumentStore, encoder_embedder

DOCUMENTS = [
    Document("the nile river flows north", meta={"title": "Nile"}),
    Document("the amazon river is wide", meta={"title": "Amazon"}),
    Document("everest is a high mountain", meta={"title": "Everest"}),
    Document("paris is a city in france", meta={"title": "Paris"}),
]


class FakeEmbedding:
    """Bag of words hashed into `dimension` buckets; records every text it embeds."""

    def __init__(self, dimension=512):
        self.dimension = dimension
        self.calls = []

    def __call__(self, texts):
        texts = list(texts)
        self.calls.append(texts)
        vectors = np.zeros((len(texts), self.dimension), "float32")
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                vectors[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 3.0
        return vectors

    @property
    def embedded(self):
        return [text for call in self.calls for text in call]


@pytest.fixture
def store(tmp_path):
    store = SQLiteDocumentStore(tmp_path / "docs.sqlite")
    store.write_documents(DOCUMENTS)
    return store


def titles(results):
    return [doc.meta["title"] for doc, _ in results]


def test_update_embeds_only_new_or_changed_documents(store):
    embed = FakeEmbedding()
    index = DenseIndex.for_store(store, embed_fn=embed)
    assert index.update(store) == 4
    assert index.update(store) == 0
    assert len(embed.calls) == 1

    store.write_documents([Document("lake victoria feeds the nile")])
    store.write_documents([Document("the nile river flows north to egypt", id=DOCUMENTS[0].id)], duplicate="overwrite")
    store.delete(ids=[DOCUMENTS[3].id])
    store.write_documents([Document(DOCUMENTS[1].content, id="same-text-new-id")])  # reuses a known embedding
    assert index.update(store) == 2
    assert sorted(embed.embedded[4:]) == ["lake victoria feeds the nile", "the nile river flows north to egypt"]
    assert len(index) == store.count() == 5


def test_index_is_saved_beside_the_store_and_reopens(store, tmp_path):
    embed = FakeEmbedding()
    index = DenseIndex.for_store(store, embed_fn=embed)
    index.update(store)
    assert index.path == tmp_path / "docs.dense.npz" and index.path.is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left behind

    reopened = DenseIndex(index.path, embed_fn=embed)
    assert len(reopened) == 4
    assert reopened.update(store) == 0
    query = embed(["river"])
    assert reopened.search(query, top_k=4) == index.search(query, top_k=4)


def test_dense_retriever_ranks_by_cosine(store):
    index = DenseIndex.for_store(store, embed_fn=FakeEmbedding())
    index.update(store)
    retriever = DenseRetriever(store, index)
    results = retriever.retrieve("which city is in france", top_k=2)
    assert titles(results)[0] == "Paris"
    assert results[0][1] == pytest.approx(float(np.max([score for _, score in results])))
    assert -1.0 <= results[1][1] < results[0][1] <= 1.0 + 1e-6
    assert titles(retriever.retrieve("high mountain everest", top_k=1)) == ["Everest"]
    assert len(retriever.retrieve("river", top_k=10)) == 4


def test_dense_retriever_applies_filters(store):
    index = DenseIndex.for_store(store, embed_fn=FakeEmbedding())
    index.update(store)
    retriever = DenseRetriever(store, index)
    filtered = retriever.retrieve("which city is in france", top_k=3, filters={"title": {"$in": ["Nile", "Everest"]}})
    assert set(titles(filtered)) == {"Nile", "Everest"}
    assert retriever.retrieve("france", filters={"title": "Rome"}) == []
    batch = retriever.retrieve_batch(["france", "everest"], top_k=1)
    assert [titles(results) for results in batch] == [["Paris"], ["Everest"]]


def test_stale_index_and_bad_arguments_raise_clear_errors(store):
    index = DenseIndex.for_store(store, embed_fn=FakeEmbedding())
    index.update(store)
    retriever = DenseRetriever(store, index)
    store.delete(filters={})
    with pytest.raises(DataError, match=r"call index.update\(store\)"):
        retriever.retrieve("river")
    index.update(store)
    assert len(index) == 0 and retriever.retrieve("river") == []
    with pytest.raises(ConfigError, match="top_k"):
        retriever.retrieve("river", top_k=-1)
    with pytest.raises(ConfigError, match="must be a string"):
        retriever.retrieve(42)


def test_embedding_dimension_must_not_change(store):
    index = DenseIndex.for_store(store, embed_fn=FakeEmbedding(64))
    index.update(store)
    other = DenseIndex(index.path, embed_fn=FakeEmbedding(32))
    store.write_documents([Document("a new text")])
    with pytest.raises(DataError, match="64-dimensional embeddings but embed_fn gives 32"):
        other.update(store)


def test_corrupt_index_file_and_memory_store(tmp_path):
    path = tmp_path / "broken.dense.npz"
    path.write_bytes(b"not an index")
    with pytest.raises(DataError, match="not a tfnlp dense index"):
        DenseIndex(path, embed_fn=FakeEmbedding())
    with pytest.raises(ConfigError, match=r"DenseIndex\(path, embed_fn\)"):
        DenseIndex.for_store(SQLiteDocumentStore(":memory:"), embed_fn=FakeEmbedding())


def test_embed_fn_must_return_one_row_per_text(store):
    index = DenseIndex.for_store(store, embed_fn=lambda texts: np.ones((1, 8), "float32"))
    with pytest.raises(DataError, match="returned 1 vectors for 4 texts"):
        index.update(store)
    assert not index.path.exists()


def test_encoder_embedder_keeps_input_order(tiny_bert_dir):
    from tfnlp.models.encoders import load_encoder, load_preprocessor
    from tfnlp.models.features import _pooled_states, extract_features

    texts = ["i feel really very happy today", "so sad", "the movie was good and not bad"]
    embed = encoder_embedder(tiny_bert_dir, sequence_length=32, batch_size=2)
    backbone, preprocessor = load_encoder(tiny_bert_dir), load_preprocessor(tiny_bert_dir, sequence_length=32)
    one_by_one = [extract_features(backbone, preprocessor, [text]) for text in texts]
    np.testing.assert_allclose(embed(texts), np.concatenate(one_by_one), atol=1e-5)
    # One compiled function serves every call (a retriever embeds one query per call).
    assert _pooled_states(backbone, preprocessor, "mean").experimental_get_tracing_count() <= 2
