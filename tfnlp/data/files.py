"""Read any task's examples from a CSV, TSV, JSON or JSON Lines file, with column names by option.

Example:
>>> frame = read_examples("pairs.jsonl", {"premise": "text", "hypothesis": "text_pair", "score": "label"})
"""

from pathlib import Path

from tfnlp.data.readers import read_json, read_jsonl, read_table, select_columns, validate_texts
from tfnlp.errors import DataError

_READERS = {".csv": read_table, ".tsv": read_table, ".jsonl": read_jsonl, ".json": read_json}


def file_kind(path):
    """The suffix that decides the reader (`.csv`, `.tsv`, `.json`, `.jsonl`; `.gz` looked through)."""
    path = Path(path)
    suffix = path.with_suffix("").suffix if path.suffix == ".gz" else path.suffix
    return suffix.lower()


def read_examples(path, columns, text_columns=(), sep=None):
    """Read `path` and keep `columns` (a list, or a dict of file name -> name wanted).

    Args:
        path: a `.csv`, `.tsv` (optionally `.gz`), `.json` (an array of objects)
            or `.jsonl` file.
        columns: the columns to keep; a missing one is a DataError listing the
            columns the file has.
        text_columns: the kept (renamed) columns that must hold non-empty text.
        sep: the separator of a delimited file with another suffix (then read as a table).

    Example:
    >>> frame = read_examples("dev.tsv", {"sentence1": "text", "sentence2": "text_pair", "score": "label"},
    ...                       text_columns=("text", "text_pair"))  # doctest: +SKIP
    """
    kind = file_kind(path)
    if sep is not None:
        frame = read_table(path, sep=sep)
    elif kind in _READERS:
        frame = _READERS[kind](path)
    else:
        raise DataError(
            f"cannot tell the format from the suffix {kind!r}",
            path,
            hint="name the file .csv, .tsv, .json or .jsonl, or pass sep= for a delimited file",
        )
    frame = select_columns(frame, columns, path)
    first_line = 2 if kind in (".csv", ".tsv") or sep else (1 if kind == ".jsonl" else None)
    for column in text_columns:
        validate_texts(frame, column, path, first_line)
    return frame
