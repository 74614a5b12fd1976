"""Retrievers: find the documents of a store that best answer a query, as (Document, score) pairs.

`BM25Retriever` ranks by word overlap (sparse, the store's BM25); `DenseRetriever` by the cosine between
embeddings (a `DenseIndex`). Both take the same metadata filters as the store (see `DocumentStore`).

Example:
>>> retriever = BM25Retriever(store)
>>> [(doc.meta["title"], round(score, 1)) for doc, score in retriever.retrieve("longest river", top_k=1)]
[('Rivers', 2.3)]
"""

from tfnlp.errors import ConfigError, DataError
from tfnlp.retrieval.store import check_top_k


class BM25Retriever:
    """Ranks a store's documents for a query with BM25 (the store's full-text index).

    Args:
        store: a `DocumentStore`.

    Example:
    >>> retriever = BM25Retriever(SQLiteDocumentStore("squad.sqlite"))
    >>> doc, score = retriever.retrieve("Which NFL team won Super Bowl 50?", top_k=1)[0]
    >>> doc.meta["title"]
    'Super_Bowl_50'
    """

    def __init__(self, store):
        self.store = store

    def retrieve(self, query, top_k=10, filters=None):
        """Returns up to `top_k` (Document, score) pairs that match `filters`, best first."""
        return self.store.bm25_search(query, top_k=top_k, filters=filters)

    def retrieve_batch(self, queries, top_k=10, filters=None):
        """`retrieve` for each query of a list: a list of result lists."""
        return [self.retrieve(query, top_k=top_k, filters=filters) for query in queries]


class DenseRetriever:
    """Ranks a store's documents by the cosine between the query's embedding and theirs.

    The index must be up to date with the store: call `index.update(store)` after writing or deleting.

    Args:
        store: the `DocumentStore` the index was built from.
        index: a `DenseIndex`.
        embed_fn: embeds the queries; by default the index's own (queries and documents must share it).

    Example:
    >>> index = DenseIndex.for_store(store)
    >>> index.update(store)
    2067
    >>> retriever = DenseRetriever(store, index)
    >>> doc, score = retriever.retrieve("Which NFL team won Super Bowl 50?", top_k=1)[0]
    """

    def __init__(self, store, index, embed_fn=None):
        self.store = store
        self.index = index
        self.embed_fn = embed_fn or index.embed_fn

    def retrieve(self, query, top_k=10, filters=None):
        """Returns up to `top_k` (Document, score) pairs that match `filters`, best first."""
        return self.retrieve_batch([query], top_k=top_k, filters=filters)[0]

    def retrieve_batch(self, queries, top_k=10, filters=None):
        """`retrieve` for each query of a list, embedding them together (much faster than one at a time)."""
        check_top_k(top_k)
        queries = list(queries)
        for query in queries:
            if not isinstance(query, str):
                raise ConfigError(f"a query must be a string, got {type(query).__name__}: {query!r:.80}")
        if not queries:
            return []
        allowed = None if not filters else [doc.id for doc in self.store.filter_documents(filters)]
        hits = self.index.search(self.embed_fn(queries), top_k=top_k, ids=allowed)
        return self._with_documents(hits)

    def _with_documents(self, hits):
        wanted = {doc_id for results in hits for doc_id, _ in results}
        documents = {doc.id: doc for doc in self.store.get(wanted)}
        missing = wanted - documents.keys()
        if missing:
            raise DataError(
                f"the dense index {self.index.path} names {len(missing)} document(s) no longer in the store, "
                f"e.g. {sorted(missing)[0]!r}",
                hint="call index.update(store) after writing or deleting documents",
            )
        return [[(documents[doc_id], score) for doc_id, score in results] for results in hits]
