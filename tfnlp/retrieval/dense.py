"""Dense retrieval's vector index: L2-normalised text embeddings in a faiss inner-product index.

The index keeps one vector per stored document and is saved in one file beside the store's database. `update`
embeds only the documents whose text is new or changed (by content hash), so re-indexing a store after a few
writes costs a few embeddings, not the whole corpus.

Example:
>>> store = SQLiteDocumentStore("docs.sqlite")
>>> index = DenseIndex.for_store(store)  # docs.dense.npz, MiniLM-L6 mean-pooled embeddings
>>> index.update(store)  # the number of texts embedded
2067
"""

import functools
import io
import logging
import zipfile
from pathlib import Path

import numpy as np

from tfnlp.errors import ConfigError, DataError
from tfnlp.export.atomic import atomic_path
from tfnlp.retrieval.store import check_top_k

logger = logging.getLogger(__name__)


def encoder_embedder(preset="minilm-l6", sequence_length=256, batch_size=32):
    """Returns `embed_fn(texts)`: the encoder's mean-pooled last hidden states, one float32 row per text.

    The encoder loads on the first call. Texts are embedded shortest first, so each batch is padded little,
    and the rows come back in input order.

    Args:
        preset: the encoder, as in `tfnlp.models.encoders.load_encoder`.
        sequence_length: the most tokens kept per text; 256 is what all-MiniLM-L6-v2 was trained with.
        batch_size: texts per forward pass.

    Example:
    >>> embed = encoder_embedder("minilm-l6")
    >>> embed(["Where is the Nile?"]).shape
    (1, 384)
    """

    @functools.cache
    def models():
        from tfnlp.models.encoders import load_encoder, load_preprocessor

        return load_encoder(preset), load_preprocessor(preset, sequence_length=sequence_length)

    def embed(texts):
        from tfnlp.models.features import extract_features

        texts = list(texts)
        order = sorted(range(len(texts)), key=lambda position: len(texts[position]))
        vectors = extract_features(*models(), [texts[i] for i in order], pooling="mean", batch_size=batch_size)
        return vectors[np.argsort(order)]

    return embed


class DenseIndex:
    """Normalised embeddings of a store's documents in a faiss inner-product index (so scores are cosines).

    Args:
        path: the index file (`.npz`); loaded if it exists, written by `update`.
        embed_fn: turns a list of texts into an array of shape `(len(texts), dim)`; by default
            `encoder_embedder()` (MiniLM-L6). Rows are L2-normalised here, so any embedding works.

    Example:
    >>> index = DenseIndex("docs.dense.npz", embed_fn=encoder_embedder())
    >>> index.update(store)
    3
    >>> index.search(index.embed_fn(["longest river"]), top_k=1)
    [[('b6685fc3...', 0.71)]]
    """

    def __init__(self, path, embed_fn=None):
        self.path = Path(path)
        self.embed_fn = embed_fn or encoder_embedder()
        self._ids, self._hashes, self._index = [], [], None
        if self.path.exists():
            self._load()
        self._rows = {doc_id: row for row, doc_id in enumerate(self._ids)}

    @classmethod
    def for_store(cls, store, embed_fn=None):
        """The index saved beside `store`'s database file: `docs.sqlite` -> `docs.dense.npz`.

        Example:
        >>> DenseIndex.for_store(SQLiteDocumentStore("docs.sqlite")).path
        PosixPath('docs.dense.npz')
        """
        if not isinstance(getattr(store, "path", None), Path):
            raise ConfigError(
                f"{store!r} has no database file to save the index beside; use DenseIndex(path, embed_fn) instead"
            )
        return cls(store.path.with_suffix(".dense.npz"), embed_fn)

    def __len__(self):
        return len(self._ids)

    def __repr__(self):
        return f"DenseIndex({str(self.path)!r}, {len(self)} documents)"

    def update(self, store):
        """Makes the index match `store`: embeds new or changed texts, drops deleted documents, saves the file.

        Returns:
            The number of texts embedded (0 when nothing changed).
        """
        documents = store.filter_documents()
        hashes = [doc.content_hash for doc in documents]
        known = dict(zip(self._hashes, self._vectors()))
        texts = {doc.content_hash: doc.content for doc in documents if doc.content_hash not in known}
        if texts:
            logger.info("Embedding %d new or changed documents of %d", len(texts), len(documents))
            known.update(zip(texts, self._embed(list(texts.values()))))
        ids = [doc.id for doc in documents]
        if (ids, hashes) != (self._ids, self._hashes):
            self._build(ids, hashes, [known[each] for each in hashes])
            self._save()
        return len(texts)

    def search(self, query_vectors, top_k=10, ids=None):
        """Returns, for each query vector, up to `top_k` (document id, cosine) pairs, best first.

        Args:
            query_vectors: an array of shape `(queries, dim)` from the same `embed_fn`.
            top_k: the most results per query.
            ids: search only these document ids (e.g. those a metadata filter selects); all by default.
        """
        faiss = _import_faiss()
        check_top_k(top_k)
        queries = _normalized(query_vectors)
        rows = None if ids is None else [self._rows[each] for each in ids if each in self._rows]
        if self._index is None or rows == []:
            return [[] for _ in queries]
        self._check_dimension(queries.shape[1])
        params = None if rows is None else faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.asarray(rows, "int64")))
        scores, found = self._index.search(queries, min(top_k, len(self)), params=params)
        return [
            [(self._ids[row], float(score)) for score, row in zip(score_row, found_row) if row >= 0]
            for score_row, found_row in zip(scores, found)
        ]

    def _embed(self, texts):
        vectors = _normalized(self.embed_fn(texts))
        if len(vectors) != len(texts):
            raise DataError(
                f"embed_fn returned {len(vectors)} vectors for {len(texts)} texts; it must return one row per text"
            )
        self._check_dimension(vectors.shape[1])
        return vectors

    def _check_dimension(self, dimension):
        if self._index is not None and self._index.d != dimension:
            raise DataError(
                f"the index holds {self._index.d}-dimensional embeddings but embed_fn gives {dimension}",
                self.path,
                hint="use the embed_fn the index was built with, or delete the index file to rebuild it",
            )

    def _vectors(self):
        if self._index is None:
            return np.zeros((0, 0), "float32")
        return self._index.reconstruct_n(0, self._index.ntotal)

    def _build(self, ids, hashes, vectors):
        faiss = _import_faiss()
        self._ids, self._hashes = ids, hashes
        self._rows = {doc_id: row for row, doc_id in enumerate(ids)}
        self._index = None
        if vectors:
            matrix = np.stack(vectors)
            self._index = faiss.IndexFlatIP(matrix.shape[1])
            self._index.add(matrix)

    def _save(self):
        faiss = _import_faiss()
        index = np.zeros(0, "uint8") if self._index is None else faiss.serialize_index(self._index)
        buffer = io.BytesIO()
        np.savez(buffer, index=index, ids=np.asarray(self._ids, dtype=str), hashes=np.asarray(self._hashes, dtype=str))
        with atomic_path(self.path) as temporary:
            Path(temporary).write_bytes(buffer.getvalue())

    def _load(self):
        faiss = _import_faiss()
        try:
            with np.load(self.path, allow_pickle=False) as data:
                index, ids, hashes = data["index"], data["ids"].tolist(), data["hashes"].tolist()
            self._index = faiss.deserialize_index(index) if index.size else None
        except (OSError, ValueError, KeyError, RuntimeError, zipfile.BadZipFile) as error:
            raise DataError(
                f"not a tfnlp dense index ({error})", self.path, hint="delete the file and call update(store)"
            ) from None
        self._ids, self._hashes = ids, hashes


def _normalized(vectors):
    vectors = np.array(vectors, dtype="float32", order="C", ndmin=2)  # a copy: faiss normalises in place
    if vectors.ndim != 2:
        raise DataError(f"embeddings must have shape (texts, dim), got {vectors.shape}")
    _import_faiss().normalize_L2(vectors)
    return vectors


def _import_faiss():
    try:
        import faiss
    except ImportError:
        raise ImportError("dense retrieval needs faiss: `pip install faiss-cpu`") from None
    return faiss
