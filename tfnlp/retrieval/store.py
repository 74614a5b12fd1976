"""Document stores: the `DocumentStore` interface and its embedded implementation on SQLite with FTS5.

A store holds `Document`s (text plus a metadata dict), finds them by id or by metadata filters, and ranks them
for a query with BM25. `SQLiteDocumentStore` keeps everything in one database file on one machine; a store on a
cluster search engine (Elasticsearch or OpenSearch through its official Python client) can replace it by
implementing the same methods, as `DocumentStore` describes.

Example:
>>> store = SQLiteDocumentStore("docs.sqlite")
>>> store.write_documents([Document("The Nile is the longest river.", meta={"title": "Rivers"})])
1
>>> [doc.content for doc, score in store.bm25_search("longest river", top_k=1)]
['The Nile is the longest river.']
"""

import abc
import contextlib
import dataclasses
import hashlib
import json
import re
import sqlite3
from pathlib import Path

from tfnlp.errors import ConfigError, DataError, TfnlpError

DUPLICATE_POLICIES = ("skip", "overwrite", "fail")
COMPARISON_OPERATORS = {"$eq": "=", "$ne": "=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
LIST_OPERATORS = ("$in", "$nin")
LOGICAL_OPERATORS = ("$and", "$or", "$not")
FILTER_OPERATORS = (*COMPARISON_OPERATORS, *LIST_OPERATORS, "$exists")
_SCALAR_TYPES = (str, int, float, bool)
_SCHEMA_VERSION = 1
_QUERY_TERM = re.compile(r"[^\W_]+")  # what FTS5's unicode61 tokenizer keeps as one token
_SQL_BATCH = 500  # ids per statement, well under SQLite's limit on bound parameters


class DuplicateDocumentError(TfnlpError, ValueError):
    """A document id already in the store, written with `duplicate="fail"`."""


@dataclasses.dataclass
class Document:
    """A text with metadata, the unit that stores hold and retrievers return.

    Attributes:
        content: the text.
        meta: metadata, name -> a string, number, bool or None, or a list of those (a list matches a filter when
            one of its items does, as in Elasticsearch).
        id: a unique string; by default the content's hash, so the same text written twice is stored once.

    Example:
    >>> Document("The Nile is long.", meta={"title": "Rivers"}).id[:8]
    'b6685fc3'
    """

    content: str
    meta: dict = dataclasses.field(default_factory=dict)
    id: str = None

    def __post_init__(self):
        if not isinstance(self.content, str):
            raise DataError(
                f"Document content must be a string, got {type(self.content).__name__}: {self.content!r:.80}",
                hint="pass the document's text as `content`, and other fields in `meta`",
            )
        _check_meta(self.meta, self.id)
        if self.id is None:
            self.id = self.content_hash[:32]
        elif not isinstance(self.id, str) or not self.id:
            raise DataError(f"Document id must be a non-empty string, got {self.id!r}", hint="use str(id)")

    @property
    def content_hash(self):
        """The sha256 of `content` (hex): dense indexes re-embed a document only when it changes."""
        return hashlib.sha256(self.content.encode("utf-8")).hexdigest()


class DocumentStore(abc.ABC):
    """The interface of a document store; `SQLiteDocumentStore` implements it on one machine.

    Filters select documents by metadata. A filter is a dict of conditions that must all hold:
    - `{"title": "Normans"}`: the field equals the value (for a list field, one of its items does);
    - `{"year": {"$gte": 2000, "$lt": 2010}}`: comparisons `$eq`, `$ne`, `$gt`, `$gte`, `$lt`, `$lte`;
      numbers compare as numbers and strings as strings;
    - `{"title": {"$in": ["Normans", "Nile"]}}`, `$nin`: the field is (not) one of the values;
    - `{"source": {"$exists": True}}`: the field is present (with a value other than None);
    - `{"$or": [filter, ...]}`, `{"$and": [filter, ...]}`, `{"$not": filter}`: combinations.
    `$ne` and `$nin` also match documents without the field. `None` or `{}` selects every document.

    A store on a search engine maps the methods to its API: `write_documents` to bulk indexing (op_type "create"
    for "skip" and "fail", "index" for "overwrite"), `count` to `_count`, `get` to `mget`, `delete` to
    `delete_by_query` (or bulk deletes by id), `filter_documents` to a scrolled search with the filter as a
    `bool` query (`term`, `terms`, `range`, `exists`, `should`, `must_not` clauses on keyword fields), and
    `bm25_search` to a `match` query on the content field (BM25 is the engine's default similarity) with the
    filter in `bool.filter`. Retrievers and dense indexes use only these methods, so they work with any store.
    """

    @abc.abstractmethod
    def write_documents(self, documents, duplicate="skip"):
        """Adds `documents` (an iterable of `Document`) in one transaction; returns how many were written.

        Args:
            documents: the documents to add.
            duplicate: what to do with an id already stored (or repeated in `documents`): "skip" keeps the
                stored one, "overwrite" replaces it, "fail" raises `DuplicateDocumentError` and writes nothing.
        """

    @abc.abstractmethod
    def count(self, filters=None):
        """Returns the number of documents that match `filters` (all of them by default)."""

    @abc.abstractmethod
    def get(self, ids):
        """Returns the stored documents with these ids, in the order of `ids`; unknown ids are left out."""

    @abc.abstractmethod
    def delete(self, ids=None, filters=None):
        """Deletes the documents with these ids, or those that match `filters` (`{}` for all); returns how many."""

    @abc.abstractmethod
    def filter_documents(self, filters=None):
        """Returns the documents that match `filters` (all of them by default), in the order they were written."""

    @abc.abstractmethod
    def bm25_search(self, query, top_k=10, filters=None):
        """Returns up to `top_k` (Document, score) pairs that match `filters`, best BM25 score first.

        Any text is a valid query: its words are searched for as plain terms (any of them may match), so quotes,
        operators and punctuation in user input never change the query's syntax.
        """


class SQLiteDocumentStore(DocumentStore):
    """A document store in one SQLite database file, with an FTS5 full-text index for BM25 search.

    Documents, their metadata (one row per field value, for filters) and the full-text index live in the same
    file and change together in transactions: reopening the file gives back the same store.

    Args:
        path: the database file, created if missing; ":memory:" for a store that lives only in this process.
        stemming: index words by their Porter stems (so "rivers" finds "river"); fixed when the file is created.

    Example:
    >>> store = SQLiteDocumentStore("squad.sqlite")
    >>> store.write_documents([Document("Paris is in France.", meta={"title": "Paris"})])
    1
    >>> store.count({"title": "Paris"})
    1
    >>> store.close()
    >>> SQLiteDocumentStore("squad.sqlite").count()
    1
    """

    def __init__(self, path, stemming=True):
        self.path = path if path == ":memory:" else Path(path)
        if self.path != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._connection = sqlite3.connect(self.path)
        except sqlite3.OperationalError as error:
            raise DataError(f"cannot open the store ({error})", self.path, hint="pass a writable file path") from None
        self._connection.execute("PRAGMA foreign_keys = ON")
        self._open_schema(stemming)

    def __repr__(self):
        return f"SQLiteDocumentStore({str(self.path)!r}, {self.count()} documents)"

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        """Closes the database; the file keeps every written document."""
        self._connection.close()

    def write_documents(self, documents, duplicate="skip"):
        if duplicate not in DUPLICATE_POLICIES:
            raise ConfigError(f"duplicate={duplicate!r} is not one of {DUPLICATE_POLICIES}")
        documents = _unique_documents(documents, duplicate)
        with self._transaction():
            stored = {doc.id for doc in self.get([doc.id for doc in documents])}
            if stored and duplicate == "fail":
                raise DuplicateDocumentError(
                    f"{len(stored)} document id(s) already in {self.path}, e.g. {sorted(stored)[0]!r}; nothing "
                    "was written\nHow to fix: pass duplicate='skip' to keep the stored documents or "
                    "duplicate='overwrite' to replace them"
                )
            if duplicate == "overwrite":
                self._delete_ids(stored)
            new = [doc for doc in documents if duplicate == "overwrite" or doc.id not in stored]
            for doc in new:
                self._insert(doc)
        return len(new)

    def count(self, filters=None):
        where, parameters = _where_clause(filters)
        return self._connection.execute(f"SELECT COUNT(*) FROM documents AS d WHERE {where}", parameters).fetchone()[0]

    def get(self, ids):
        ids = _id_list(ids)
        found = {}
        for start in range(0, len(ids), _SQL_BATCH):
            batch = ids[start : start + _SQL_BATCH]
            rows = self._connection.execute(
                f"SELECT id, content, meta FROM documents WHERE id IN ({', '.join('?' * len(batch))})", batch
            )
            found.update((row[0], _document(row)) for row in rows)
        return [found[each] for each in dict.fromkeys(ids) if each in found]

    def delete(self, ids=None, filters=None):
        if (ids is None) == (filters is None):
            raise ConfigError(
                "delete needs either ids or filters, and not both: delete(ids=[...]) or delete(filters={...}); "
                "delete(filters={}) deletes every document"
            )
        with self._transaction():
            if ids is None:
                where, parameters = _where_clause(filters)
                rows = self._connection.execute(f"SELECT id FROM documents AS d WHERE {where}", parameters)
                ids = [row[0] for row in rows]
            return self._delete_ids(_id_list(ids))

    def filter_documents(self, filters=None):
        where, parameters = _where_clause(filters)
        rows = self._connection.execute(
            f"SELECT id, content, meta FROM documents AS d WHERE {where} ORDER BY d.rowid", parameters
        )
        return [_document(row) for row in rows]

    def bm25_search(self, query, top_k=10, filters=None):
        match = fts5_query(query)
        check_top_k(top_k)
        if match is None:
            return []
        where, parameters = _where_clause(filters)
        sql = _BM25_SQL if where == "1" else _FILTERED_BM25_SQL.format(where=where)
        rows = self._connection.execute(sql, [match, *parameters, top_k])
        return [(_document(row), -row[3]) for row in rows]  # FTS5's bm25() is lower for better matches

    @contextlib.contextmanager
    def _transaction(self):
        """Commits the body's changes together, or none of them; other writers wait (BEGIN IMMEDIATE)."""
        with self._connection:
            self._connection.execute("BEGIN IMMEDIATE")
            yield

    def _open_schema(self, stemming):
        try:
            version = self._connection.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in self._connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as error:
            raise DataError(f"not an SQLite database ({error})", self.path, hint="pass a new file name") from None
        if version == _SCHEMA_VERSION:
            return
        if version != 0 or tables:
            raise DataError(
                f"an SQLite database that is not a tfnlp document store (schema version {version}, tables "
                f"{sorted(tables)})",
                self.path,
                hint="pass a new file name, or the file of a store that tfnlp created",
            )
        tokenizer = "porter unicode61 remove_diacritics 2" if stemming else "unicode61 remove_diacritics 2"
        try:
            self._connection.executescript(_SCHEMA.format(tokenizer=tokenizer, version=_SCHEMA_VERSION))
        except sqlite3.OperationalError as error:
            self._connection.rollback()
            raise DataError(
                f"could not create the store ({error})",
                self.path,
                hint="SQLite's FTS5 extension is needed: use a Python whose sqlite3 module has it (python.org and "
                "most Linux builds do), and import tfnlp before anything imports sqlite3 after tensorflow "
                "(TensorFlow brings a SQLite without FTS5)",
            ) from None

    def _insert(self, doc):
        cursor = self._connection.execute(
            "INSERT INTO documents (id, content, meta) VALUES (?, ?, ?)", (doc.id, doc.content, json.dumps(doc.meta))
        )
        self._connection.executemany(
            "INSERT INTO meta (document, key, value) VALUES (?, ?, ?)",
            [(cursor.lastrowid, key, value) for key, value in _meta_rows(doc.meta)],
        )

    def _delete_ids(self, ids):
        ids = list(ids)  # a set from write_documents, or a list
        deleted = 0
        for start in range(0, len(ids), _SQL_BATCH):
            batch = ids[start : start + _SQL_BATCH]
            placeholders = ", ".join("?" * len(batch))
            deleted += self._connection.execute(f"DELETE FROM documents WHERE id IN ({placeholders})", batch).rowcount
        return deleted


# The full-text index reads its text from `documents` (an external-content FTS5 table); the triggers keep it in
# step. `meta` holds one row per metadata value (list items each get a row) for filtering.
_SCHEMA = """
BEGIN;
CREATE TABLE documents (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, content TEXT NOT NULL, meta TEXT NOT NULL);
CREATE TABLE meta (
    document INTEGER NOT NULL REFERENCES documents (rowid) ON DELETE CASCADE, key TEXT NOT NULL, value
);
CREATE INDEX meta_by_key_value ON meta (key, value);
CREATE INDEX meta_by_document ON meta (document);
CREATE VIRTUAL TABLE documents_fts USING fts5 (
    content, content='documents', content_rowid='rowid', tokenize='{tokenizer}'
);
CREATE TRIGGER documents_inserted AFTER INSERT ON documents BEGIN
    INSERT INTO documents_fts (rowid, content) VALUES (new.rowid, new.content);
END;
CREATE TRIGGER documents_deleted AFTER DELETE ON documents BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
END;
PRAGMA user_version = {version};
COMMIT;
"""


# Ranking only rowids and joining the texts to the top k afterwards is twice as fast as sorting whole rows.
# With filters, the match joins `documents` first: a rowid constraint inside the FTS5 query is far slower.
_BM25_SQL = """
SELECT d.id, d.content, d.meta, hits.score FROM (
    SELECT rowid, bm25(documents_fts) AS score FROM documents_fts WHERE documents_fts MATCH ?
    ORDER BY score, rowid LIMIT ?
) AS hits JOIN documents AS d ON d.rowid = hits.rowid ORDER BY hits.score, hits.rowid
"""
_FILTERED_BM25_SQL = """
SELECT d.id, d.content, d.meta, bm25(documents_fts) AS score
FROM documents_fts JOIN documents AS d ON d.rowid = documents_fts.rowid
WHERE documents_fts MATCH ? AND {where} ORDER BY score, d.rowid LIMIT ?
"""


def fts5_query(text):
    """Returns an FTS5 MATCH expression that finds any word of `text`, or None when `text` has no words.

    Each word is quoted, so FTS5 reads it as a plain term: quotes, `AND`/`OR`/`NOT`/`NEAR`, `*`, `-`, `:` and
    parentheses in user text never change the query or make it fail.

    Example:
    >>> fts5_query('what is "NOT" (x*)?')
    '"what" OR "is" OR "NOT" OR "x"'
    """
    if not isinstance(text, str):
        raise ConfigError(f"a query must be a string, got {type(text).__name__}: {text!r:.80}")
    terms = dict.fromkeys(_QUERY_TERM.findall(text))
    return " OR ".join(f'"{term}"' for term in terms) or None


def check_top_k(top_k):
    """Raises ConfigError unless `top_k` is a positive int."""
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ConfigError(f"top_k must be a positive int, got {top_k!r}")


def _id_list(ids):
    if isinstance(ids, (str, bytes)):
        raise ConfigError(f"ids must be a list of document ids, got the string {ids!r}; write [{ids!r}]")
    return list(ids)


def _check_meta(meta, doc_id):
    if not isinstance(meta, dict):
        raise DataError(f"Document meta must be a dict, got {type(meta).__name__} (document {doc_id!r})")
    for key, value in meta.items():
        values = value if isinstance(value, list) else [value]
        if not isinstance(key, str) or not all(item is None or isinstance(item, _SCALAR_TYPES) for item in values):
            raise DataError(
                f"metadata {key!r}: {value!r} (document {doc_id!r}) is not supported",
                hint="use string keys and values that are strings, numbers, bools, None or lists of those; "
                "store nested data as a JSON string",
            )


def _meta_rows(meta):
    for key, value in meta.items():
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                yield key, item


def _document(row):
    return Document(content=row[1], meta=json.loads(row[2]), id=row[0])


def _unique_documents(documents, duplicate):
    """Returns `documents` as a list without repeated ids: the first copy kept, or the last for "overwrite"."""
    unique = {}
    for doc in documents:
        if not isinstance(doc, Document):
            raise DataError(
                f"write_documents takes Document objects, got {type(doc).__name__}: {doc!r:.80}",
                hint="wrap each text as Document(content, meta={...})",
            )
        if doc.id in unique and duplicate == "fail":
            raise DuplicateDocumentError(
                f"document id {doc.id!r} appears twice in the documents to write; nothing was written\n"
                "How to fix: remove the repeat, or pass duplicate='skip' or duplicate='overwrite'"
            )
        if doc.id not in unique or duplicate == "overwrite":
            unique[doc.id] = doc
    return list(unique.values())


def _where_clause(filters):
    """Returns (SQL condition on the documents table `d`, parameters) for `filters`."""
    if filters is None:
        return "1", []
    if not isinstance(filters, dict):
        raise ConfigError(
            f"filters must be a dict such as {{'title': 'Normans'}}, got {type(filters).__name__}: {filters!r}"
        )
    clauses = [_condition(key, value) for key, value in filters.items()]
    if not clauses:
        return "1", []
    return " AND ".join(sql for sql, _ in clauses), [parameter for _, parameters in clauses for parameter in parameters]


def _condition(key, value):
    if key in LOGICAL_OPERATORS:
        return _logical_condition(key, value)
    if key.startswith("$"):
        raise _unknown_operator(key, LOGICAL_OPERATORS, "at the top of a filter")
    if not isinstance(value, dict):
        return _field_condition(key, "$eq", value)
    if not value:
        raise ConfigError(f"the filter on {key!r} is an empty dict; write {{{key!r}: {{'$eq': value}}}} or drop it")
    clauses = [_field_condition(key, operator, operand) for operator, operand in value.items()]
    return " AND ".join(sql for sql, _ in clauses), [parameter for _, parameters in clauses for parameter in parameters]


def _logical_condition(operator, value):
    if operator == "$not":
        sql, parameters = _where_clause(value)
        return f"NOT ({sql})", parameters
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{operator} takes a non-empty list of filters, got {value!r}")
    clauses = [_where_clause(each) for each in value]
    joiner = " AND " if operator == "$and" else " OR "
    return "(" + joiner.join(f"({sql})" for sql, _ in clauses) + ")", [p for _, ps in clauses for p in ps]


def _field_condition(key, operator, operand):
    matching = "d.rowid IN (SELECT document FROM meta WHERE key = ? AND value {})"
    if operator == "$exists":
        if not isinstance(operand, bool):
            raise ConfigError(f"$exists takes True or False, got {operand!r} (field {key!r})")
        return ("" if operand else "NOT ") + "d.rowid IN (SELECT document FROM meta WHERE key = ?)", [key]
    if operator in LIST_OPERATORS:
        if not isinstance(operand, (list, tuple)) or not operand:
            raise ConfigError(f"{operator} takes a non-empty list of values, got {operand!r} (field {key!r})")
        values = [_filter_value(key, operator, item) for item in operand]
        sql = matching.format(f"IN ({', '.join('?' * len(values))})")
        return ("NOT " if operator == "$nin" else "") + sql, [key, *values]
    if operator not in COMPARISON_OPERATORS:
        raise _unknown_operator(operator, FILTER_OPERATORS, f"in the filter on {key!r}")
    sql = matching.format(f"{COMPARISON_OPERATORS[operator]} ?")
    return ("NOT " if operator == "$ne" else "") + sql, [key, _filter_value(key, operator, operand)]


def _filter_value(key, operator, value):
    if isinstance(value, _SCALAR_TYPES):
        return value
    hint = "; to find documents without the field use {'$exists': False}" if value is None else ""
    raise ConfigError(
        f"{operator} on {key!r} takes a string, number or bool, got {type(value).__name__}: {value!r}{hint}"
    )


def _unknown_operator(operator, known, where):
    return ConfigError(f"unknown filter operator {operator!r} {where}; the operators are {', '.join(known)}")
