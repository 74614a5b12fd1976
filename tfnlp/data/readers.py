"""Readers for the file formats of NLP data sets; each returns a pandas DataFrame.

Every reader raises `DataError` naming the file (and the line where it is known) with a hint on how to fix it:
a missing file, an empty file, bytes that are not UTF-8, or content that does not fit the format.
"""

import csv
import gzip
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from tfnlp.errors import DataError

_SEPARATOR_NAMES = {",": "commas", "\t": "tabs", ";": "semicolons", "|": "vertical bars"}
_SUFFIX_SEPARATORS = {".csv": ",", ".tsv": "\t"}
_CONLL_COLUMNS = ("tokens", "pos_tags", "chunk_tags", "ner_tags")


def read_text_label(path, sep=";"):
    """Reads `text;label` lines (the emotion data set's format) into the columns `text` and `label`.

    Each line is split at its last `sep`, so texts may contain `sep`. Blank lines at the end are ignored.

    Example:
    >>> frame = read_text_label("emotion/train.txt")
    >>> frame.iloc[0].to_dict()
    {'text': 'i didnt feel humiliated', 'label': 'sadness'}
    """
    path = Path(path)
    rows = []
    for number, line in enumerate(_lines(_read_text(path).rstrip()), start=1):
        text, found, label = line.rpartition(sep)
        if not found or not label.strip():
            raise DataError(
                f"expected 'text{sep}label' but found {line[:80]!r}",
                path,
                number,
                hint=f"end each line with '{sep}' and its label; pass sep= if the file uses another separator",
            )
        rows.append((text, label.strip()))
    return pd.DataFrame(rows, columns=["text", "label"])


def read_table(path, sep=None, columns=None, quoting=True):
    """Reads a CSV or TSV file (optionally gzip-compressed) with a header line.

    Args:
        path: the file; `.csv`, `.tsv`, `.csv.gz` or `.tsv.gz` when `sep` is not given.
        sep: the column separator; by default `,` for `.csv` and a tab for `.tsv`.
        columns: the columns to keep, which must exist: a list of names, or a dict mapping the names in the
            file to the names wanted (to rename while reading). By default, every column.
        quoting: whether double quotes enclose fields; False for files with stray quotes (such as STS-B).

    Example:
    >>> frame = read_table("imdb/imdb_test.csv.gz", columns=["text", "label"])
    >>> frame = read_table("SST-2/dev.tsv", columns={"sentence": "text", "label": "label"})
    """
    path = Path(path)
    sep = sep or _separator_from_suffix(path)
    try:
        frame = pd.read_csv(
            io.StringIO(_read_text(path)),
            sep=sep,
            quoting=csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE,
            keep_default_na=False,  # keep texts such as "NA" or "null" as they are; only empty fields are missing
            na_values=[""],
        )
    except pd.errors.ParserError as error:
        line = re.search(r"line (\d+)", str(error))
        raise DataError(
            f"cannot parse the table: {str(error).strip()}",
            path,
            int(line.group(1)) if line else None,
            hint="check the separator (sep=) and the quoting of that line; for stray double quotes pass "
            "quoting=False",
        ) from None
    _check_separator(frame, sep, path)
    return frame if columns is None else select_columns(frame, columns, path)


def read_json(path, key=None):
    """Reads a JSON array of records (objects, or arrays of values), or the array held by `key` of an object.

    Example:
    >>> frame = read_json("samsum/val.json")
    >>> frame = read_json("clinc150/data_oos_plus.json", key="val")  # columns 0 (text) and 1 (intent)
    """
    path = Path(path)
    data = _parse_json(_read_text(path), path)
    if isinstance(data, dict):
        if key not in data:
            raise DataError(
                f"no key {key!r}; the file holds an object with keys {list(data)[:20]}",
                path,
                hint="pass key= naming the key whose value is the array of records",
            )
        data = data[key]
    elif key is not None:
        raise DataError(f"key={key!r} was given but the file holds no JSON object", path, hint="leave out key=")
    return _records_frame(data, path)


def read_jsonl(path):
    """Reads JSON Lines: one JSON object per line; blank lines are skipped.

    Example:
    >>> frame = read_jsonl("reviews.jsonl")  # {"text": "...", "label": "pos"} on each line
    """
    path = Path(path)
    rows = []
    for number, line in enumerate(_lines(_read_text(path)), start=1):
        if not line.strip():
            continue
        row = _parse_json(line, path, line=number)
        if not isinstance(row, dict):
            raise DataError(
                f"expected a JSON object, found {type(row).__name__}", path, number, hint="write one object per line"
            )
        rows.append(row)
    return pd.DataFrame(rows)


def read_conll(path):
    """Reads CoNLL-2003 style token lines into one row per sentence.

    Each token line holds four whitespace-separated columns `token POS chunk NER`; a blank line ends a sentence
    and `-DOCSTART-` lines are skipped. The columns are `tokens`, `pos_tags`, `chunk_tags` and `ner_tags`, each
    a list of strings.

    Example:
    >>> frame = read_conll("conll2003/valid.txt")
    >>> frame.iloc[0]["tokens"][:2], frame.iloc[0]["ner_tags"][:2]
    (['CRICKET', '-'], ['O', 'O'])
    """
    path = Path(path)
    sentences, tokens = [], []
    for number, line in enumerate(_lines(_read_text(path)), start=1):
        fields = line.split()
        if not fields or fields[0] == "-DOCSTART-":
            if tokens:
                sentences.append(tokens)
            tokens = []
        elif len(fields) == len(_CONLL_COLUMNS):
            tokens.append(fields)
        else:
            raise DataError(
                f"expected {len(_CONLL_COLUMNS)} columns (token POS chunk NER), found {len(fields)}: {line[:80]!r}",
                path,
                number,
                hint="write one token per line with its four space-separated tags, and a blank line between "
                "sentences",
            )
    if tokens:
        sentences.append(tokens)
    if not sentences:
        raise DataError("no sentences found", path, hint="check that this is a CoNLL file with token lines")
    return pd.DataFrame([dict(zip(_CONLL_COLUMNS, map(list, zip(*tokens)))) for tokens in sentences])


def read_squad(path):
    """Reads a SQuAD JSON file (v1.1 or v2.0) into one row per question.

    The columns are `id`, `title`, `context`, `question` and `answers` = {"text": [...], "answer_start": [...]};
    the lists are empty for SQuAD 2.0's unanswerable questions.

    Example:
    >>> frame = read_squad("squad_v1.1/dev-v1.1.json")
    >>> frame.iloc[0]["answers"]["text"][0]
    'Denver Broncos'
    """
    path = Path(path)
    data = _parse_json(_read_text(path), path)
    try:
        rows = [
            _squad_row(article, paragraph, question)
            for article in data["data"]
            for paragraph in article["paragraphs"]
            for question in paragraph["qas"]
        ]
    except (AttributeError, KeyError, TypeError) as error:
        missing = f"missing key {error}" if isinstance(error, KeyError) else str(error)
        raise DataError(
            f"not in the SQuAD layout ({missing})",
            path,
            hint="expected {'data': [{'title', 'paragraphs': [{'context', 'qas': [{'id', 'question', "
            "'answers': [{'text', 'answer_start'}]}]}]}]}",
        ) from None
    if not rows:
        raise DataError("no questions found", path, hint="check that the file holds SQuAD articles with 'qas'")
    return pd.DataFrame(rows)


def select_columns(frame, columns, path=None):
    """Returns `frame` with only `columns` (a list of names, or a dict of names in `frame` -> new names).

    Raises DataError listing the columns found when one is missing.

    Example:
    >>> select_columns(frame, {"sentence": "text", "label": "label"})
    """
    renames = dict(columns) if isinstance(columns, dict) else {name: name for name in columns}
    missing = [name for name in renames if name not in frame.columns]
    if missing:
        raise DataError(
            f"missing column(s) {missing}; the file has the columns {list(frame.columns)}",
            path,
            hint="rename the columns in the file, or map the file's names to the expected ones with "
            "columns={'<name in the file>': '<expected name>'}",
        )
    return frame[list(renames)].rename(columns=renames)


def validate_texts(frame, column, path=None, first_line=1):
    """Raises DataError for the first empty or whitespace-only text (or empty token list) in `frame[column]`.

    Args:
        frame: the rows read from `path`.
        column: the text column to check.
        path: the file the rows come from, for the message.
        first_line: the file's line number of the first row (2 after a header line), to name the line of a bad
            row; None when rows do not map to lines (JSON, fields spanning lines): the message names the row.

    Example:
    >>> validate_texts(read_text_label("train.txt"), "text", "train.txt")
    """
    if column not in frame.columns:
        raise DataError(
            f"no column {column!r}; the columns are {list(frame.columns)}",
            path,
            hint="name the column that holds the texts",
        )
    blank = frame[column].map(_is_blank).to_numpy(dtype=bool)
    if blank.any():
        row = int(np.argmax(blank))
        raise DataError(
            f"empty text in column {column!r} at row {row + 1} ({blank.sum()} empty in all)",
            path,
            None if first_line is None else first_line + row,
            hint="remove the rows without text or fill them in",
        )


def _read_text(path):
    """Returns the text of `path` decoded as UTF-8 (gunzipped first if the name ends in `.gz`)."""
    if not path.is_file():
        raise DataError(
            "file not found" if not path.exists() else "not a file",
            path,
            hint=f"check the path (relative paths start from {Path.cwd()}); for the named data sets use "
            "load_dataset(name, data_dir=...)",
        )
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as error:
            raise DataError(f"cannot decompress: {error}", path, hint="download the file again") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line_start = data.rfind(b"\n", 0, error.start) + 1
        raise DataError(
            f"invalid UTF-8 byte 0x{data[error.start]:02x} at byte offset {error.start} "
            f"(column {error.start - line_start + 1} of the line)",
            path,
            data.count(b"\n", 0, error.start) + 1,
            hint="re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 old.txt > new.txt`",
        ) from None
    if not text.strip():
        raise DataError("the file is empty", path, hint="check that it was written completely, or use another file")
    return text.removeprefix("\ufeff")  # a byte-order mark would otherwise stick to the first column's name


def _lines(text):
    # str.splitlines() also splits at form feeds and Unicode separators, which tweets may contain.
    return [line.removesuffix("\r") for line in text.split("\n")]


def _parse_json(text, path, line=None):
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(
            f"invalid JSON: {error.msg} (column {error.colno})",
            path,
            line or error.lineno,
            hint="fix the JSON syntax there"
            + ("; each line must hold one whole JSON object" if line else "; for one object per line use read_jsonl"),
        ) from None


def _records_frame(records, path):
    if not isinstance(records, list) or not records:
        raise DataError(
            f"expected a non-empty JSON array of records, found {type(records).__name__} {str(records)[:40]}",
            path,
            hint="use a file holding [{...}, {...}], or pass key= naming the array inside the object",
        )
    kind = list if isinstance(records[0], list) else dict
    for number, record in enumerate(records, start=1):
        if not isinstance(record, kind):
            raise DataError(
                f"record {number} is a {type(record).__name__}; expected every record to be a JSON object "
                "(or every record an array)",
                path,
                hint="write every record the same way, as an object of named fields",
            )
    return pd.DataFrame(records)


def _check_separator(frame, sep, path):
    if len(frame.columns) != 1:
        return
    header = str(frame.columns[0])
    for other, name in _SEPARATOR_NAMES.items():
        if other != sep and other in header:
            raise DataError(
                f"the file has a single column {header[:60]!r}; it looks separated by {name}, not by {sep!r}",
                path,
                1,
                hint=f"pass sep={other!r}",
            )


def _separator_from_suffix(path):
    suffix = path.with_suffix("").suffix if path.suffix == ".gz" else path.suffix
    if suffix not in _SUFFIX_SEPARATORS:
        raise DataError(
            f"cannot tell the separator from the suffix {suffix!r}",
            path,
            hint="pass sep=',' or sep='\\t', or name the file .csv or .tsv",
        )
    return _SUFFIX_SEPARATORS[suffix]


def _squad_row(article, paragraph, question):
    answers = question["answers"]
    return {
        "id": question["id"],
        "title": article.get("title", ""),
        "context": paragraph["context"],
        "question": question["question"],
        "answers": {
            "text": [answer["text"] for answer in answers],
            "answer_start": [int(answer["answer_start"]) for answer in answers],
        },
    }


def _is_blank(value):
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, np.ndarray)):
        return len(value) == 0
    return bool(pd.isna(value))
