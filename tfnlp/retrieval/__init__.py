"""Retrieval: a document store with BM25 search, a dense vector index, retrievers and their evaluation.

Example:
>>> from tfnlp.retrieval import BM25Retriever, Document, SQLiteDocumentStore
>>> store = SQLiteDocumentStore("docs.sqlite")
>>> store.write_documents([Document("The Nile is the longest river.", meta={"title": "Rivers"})])
1
>>> BM25Retriever(store).retrieve("longest river", top_k=1)[0][0].meta
{'title': 'Rivers'}
"""

from tfnlp.retrieval.dense import DenseIndex, encoder_embedder
from tfnlp.retrieval.evaluation import recall_at_k, recall_vs_k_plot, squad_paragraph_documents
from tfnlp.retrieval.retrievers import BM25Retriever, DenseRetriever
from tfnlp.retrieval.store import (
    Document,
    DocumentStore,
    DuplicateDocumentError,
    SQLiteDocumentStore,
    fts5_query,
)

__all__ = [
    "BM25Retriever",
    "DenseIndex",
    "DenseRetriever",
    "Document",
    "DocumentStore",
    "DuplicateDocumentError",
    "SQLiteDocumentStore",
    "encoder_embedder",
    "fts5_query",
    "recall_at_k",
    "recall_vs_k_plot",
    "squad_paragraph_documents",
]
