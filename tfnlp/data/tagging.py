"""Token-tagging data: sentences as word lists with one tag per word, from CoNLL, JSONL or CSV files.

Example:
>>> frame = read_tagged("conll2003/valid.txt")            # CoNLL: token POS chunk NER
>>> frame = read_tagged("ner.jsonl", tokens_column="words", tags_column="tags")
>>> train = tagged_dataset(frame["tokens"], encode_tags(frame["ner_tags"], label_names), batch_size=32)
"""

import numpy as np
import tensorflow as tf

from tfnlp.data.files import file_kind, read_examples
from tfnlp.data.pipeline import length_boundaries, shuffled_range
from tfnlp.data.readers import read_conll
from tfnlp.data.registry import _encode_tags
from tfnlp.errors import DataError


def read_tagged(path, tokens_column="tokens", tags_column="ner_tags", sep=None):
    """Read sentences with one tag per word into the columns `tokens` and `ner_tags` (lists of strings).

    Args:
        path: a CoNLL file (`.txt`/`.conll`: `token POS chunk NER` lines, blank
            lines between sentences), or a `.jsonl`/`.json` file whose rows hold
            lists, or a `.csv`/`.tsv` whose cells hold space-separated words and tags.
        tokens_column, tags_column: the columns' names in a JSON or table file.
        sep: the separator of a table with another suffix.

    Raises:
        DataError: a missing column, a sentence with no words, or words and
            tags of different lengths (naming the row).
    """
    if sep is None and file_kind(path) not in (".csv", ".tsv", ".json", ".jsonl"):
        frame = read_conll(path)[["tokens", "ner_tags"]]
    else:
        frame = read_examples(path, {tokens_column: "tokens", tags_column: "ner_tags"}, sep=sep)
        for column in ("tokens", "ner_tags"):
            frame[column] = [_as_words(value, column, row, path) for row, value in enumerate(frame[column], 1)]
    check_tagged(frame["tokens"], frame["ner_tags"], path)
    return frame


def _as_words(value, column, row, path):
    if isinstance(value, str):
        return value.split()
    if isinstance(value, (list, tuple, np.ndarray)) and all(isinstance(item, str) for item in value):
        return list(value)
    raise DataError(
        f"row {row}: column {column!r} holds {str(value)[:60]!r}, not a list of strings or a space-separated text",
        path,
        hint="write the words (and tags) of each sentence as a JSON list, or as one space-separated string",
    )


def check_tagged(token_lists, tag_lists, source=None):
    """Raises DataError for an empty sentence or a sentence whose tags do not line up with its words."""
    for row, (tokens, tags) in enumerate(zip(token_lists, tag_lists), start=1):
        if len(tokens) == 0:
            raise DataError(f"sentence {row} has no words", source, hint="remove the empty sentence")
        if len(tokens) != len(tags):
            raise DataError(
                f"sentence {row} has {len(tokens)} words but {len(tags)} tags (words {list(tokens)[:8]})",
                source,
                hint="give exactly one tag per word",
            )


def tag_names(tag_lists):
    """The tags in use, "O" first then sorted by entity type and B before I.

    Example:
    >>> tag_names([["B-PER", "I-PER", "O", "B-LOC"]])
    ('O', 'B-LOC', 'B-PER', 'I-PER')
    """
    tags = {tag for tags in tag_lists for tag in tags}
    others = sorted(tags - {"O"}, key=lambda tag: (tag[2:], tag[:2]))
    return (("O",) if "O" in tags else ()) + tuple(others)


def encode_tags(tag_lists, label_names, source=None):
    """Tag names -> lists of int ids into `label_names`; an unknown tag is a DataError.

    Example:
    >>> encode_tags([["O", "B-PER"]], ("O", "B-PER"))
    [[0, 1]]
    """
    return _encode_tags(tag_lists, tuple(label_names), source)


def tagged_dataset(token_lists, tag_ids=None, batch_size=32, shuffle=False, seed=None, bucket_by_length=None):
    """Batches of word lists (and word-level tag ids) as ragged tensors, for `EncoderTokenClassifier`.

    The model's preprocessor splits each word into word pieces and labels the
    first piece of each word. Batches keep the input order unless `shuffle`.

    Args:
        token_lists: the sentences, each a list of words.
        tag_ids: per sentence, one tag id per word; `None` for prediction.
        batch_size: sentences per batch.
        shuffle: reshuffle every epoch (for training).
        seed: makes the shuffling repeatable.
        bucket_by_length: batch sentences of similar length together, so
            dynamic padding wastes little (CoNLL mixes 1-word and 100-word
            sentences); default: when shuffling.

    Example:
    >>> ds = tagged_dataset([["EU", "rejects", "German"]], [[3, 0, 7]], batch_size=8)
    >>> words, tags = next(iter(ds))
    """
    token_lists = [list(tokens) for tokens in token_lists]
    if not token_lists:
        raise DataError("no sentences to batch", hint="pass at least one list of words")
    words = tf.ragged.constant(token_lists, dtype=tf.string)
    elements = words
    if tag_ids is not None:
        tag_ids = [list(tags) for tags in tag_ids]
        check_tagged(token_lists, tag_ids)
        elements = (words, tf.ragged.constant(tag_ids, dtype=tf.int32))
    if shuffle:
        dataset = shuffled_range(len(token_lists), seed).map(
            lambda row: tf.nest.map_structure(lambda ragged: ragged[row], elements))
    else:
        dataset = tf.data.Dataset.from_tensor_slices(elements)
    if bucket_by_length is None:
        bucket_by_length = shuffle
    if bucket_by_length and len(token_lists) > batch_size:
        boundaries = tf.constant(length_boundaries([len(tokens) for tokens in token_lists]), tf.int64)
        dataset = dataset.group_by_window(
            key_func=lambda words, *_: tf.searchsorted(boundaries, [tf.size(words, tf.int64)], out_type=tf.int64)[0],
            reduce_func=lambda _, window: window.ragged_batch(batch_size),
            window_size=batch_size,
        )
    else:
        dataset = dataset.ragged_batch(batch_size)
    return dataset.prefetch(tf.data.AUTOTUNE)
