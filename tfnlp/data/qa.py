"""Extractive question answering data: answers checked, contexts windowed, spans labelled and decoded.

A question and its context become one or more *windows* `[CLS] question [SEP]
context piece [SEP]`: a context longer than `max_length` tokens is cut into
overlapping pieces, consecutive pieces sharing `stride` tokens (Hugging Face's
`stride` semantics, computed by the same Rust `tokenizers` code). Each token
keeps its character offsets in the context, so a predicted token span maps back
to the exact text. A window that does not hold the whole answer is labelled with
the `[CLS]` position, the "no answer" of SQuAD 2.0.

Example:
>>> tokenizer = load_fast_tokenizer("tiny_bert/")  # doctest: +SKIP
>>> features = qa_features(["Who?"], ["Ann wrote it."], tokenizer,
...                        answers=[{"text": ["Ann"], "answer_start": [0]}])  # doctest: +SKIP
>>> features.start_positions, features.end_positions  # doctest: +SKIP
(array([3]), array([3]))
"""

import contextlib
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from tfnlp.data.pipeline import length_boundaries, shuffled_range
from tfnlp.data.readers import read_jsonl, read_squad, read_table, select_columns, validate_texts
from tfnlp.data.registry import load_dataset
from tfnlp.errors import ConfigError, DataError

MODEL_INPUTS = ("token_ids", "padding_mask", "segment_ids")
_SPECIAL_TOKENS_IN_PAIR = 3  # [CLS] question [SEP] context [SEP]


# --- Reading and checking answers ----------------------------------------------------------------


def check_answers(frame, path=None, skip_mismatches=False):
    """Check that every answer's text is the context at its `answer_start`.

    Args:
        frame: rows with `context`, `question` and `answers` =
            `{"text": [...], "answer_start": [...]}` (as `read_squad` gives).
        path: the file the rows come from, for messages.
        skip_mismatches: drop the questions with a mismatching answer and
            report how many (for data sets known to hold a few such rows)
            instead of raising.

    Returns:
        `(frame, skipped)`: the usable rows and the number of questions dropped.

    Example:
    >>> frame, skipped = check_answers(read_squad("dev-v1.1.json"))  # doctest: +SKIP
    """
    for column in ("question", "context"):
        validate_texts(frame, column, path, first_line=None)
    bad_rows = [row for row, (context, answers) in enumerate(zip(frame["context"], frame["answers"]))
                if _answer_mismatch(context, answers) is not None]
    if bad_rows and not skip_mismatches:
        row = bad_rows[0]
        context, answers = frame["context"].iloc[row], frame["answers"].iloc[row]
        text, start = _answer_mismatch(context, answers)
        found = context[start : start + len(text)] if isinstance(start, int) and start >= 0 else None
        where = f"question {frame['id'].iloc[row]!r}" if "id" in frame.columns else f"row {row + 1}"
        raise DataError(
            f"{where}: the answer {text!r} is not the context at answer_start={start} "
            f"(the context there reads {found!r}); {len(bad_rows)} such answer(s) in all",
            path,
            hint="fix answer_start (the 0-based character index of the answer in the context), or pass "
            "skip_mismatches=True to drop these questions and count them",
        )
    kept = frame.iloc[sorted(set(range(len(frame))) - set(bad_rows))].reset_index(drop=True) if bad_rows else frame
    return kept, len(bad_rows)


def _answer_mismatch(context, answers):
    """`(text, start)` of the first answer that is not the context at `start`, else None."""
    texts, starts = answers["text"], answers["answer_start"]
    if len(texts) != len(starts):
        return str(list(texts)), list(starts)
    for text, start in zip(texts, starts):
        start = int(start)
        if not text or start < 0 or context[start : start + len(text)] != text:
            return text, start
    return None


def read_qa_table(path, question="question", context="context", answer="answer", answer_start=None, sep=None,
                  skip_mismatches=False):
    """Read a CSV/TSV (or JSONL) file of question/context/answer columns into `read_squad`'s layout.

    Args:
        path: a `.csv`, `.tsv` or `.jsonl` file (optionally gzipped).
        question, context, answer: the names of those columns in the file.
            An empty answer marks an unanswerable question.
        answer_start: the column with each answer's 0-based character index in
            the context; `None` takes the answer's first occurrence.
        sep: the separator, when the file's suffix does not tell it.
        skip_mismatches: as in `check_answers`.

    Returns:
        A DataFrame with `id`, `title`, `context`, `question`, `answers`;
        `frame.attrs["skipped_answers"]` counts the questions skipped.

    Example:
    >>> frame = read_qa_table("faq.csv", question="q", context="passage", answer="a")  # doctest: +SKIP
    """
    path = Path(path)
    is_jsonl = path.suffix == ".jsonl" or path.name.endswith(".jsonl.gz")
    frame = read_jsonl(path) if is_jsonl else read_table(path, sep=sep)
    columns = {question: "question", context: "context", answer: "answer"}
    if answer_start is not None:
        columns[answer_start] = "answer_start"
    frame = select_columns(frame, columns, path)
    first_line = None if is_jsonl else 2
    for column in ("question", "context"):
        validate_texts(frame, column, path, first_line)
    rows = []
    for row, record in enumerate(frame.to_dict("records")):
        text = "" if pd.isna(record["answer"]) else str(record["answer"])
        start = _answer_start(record, text, path, None if first_line is None else first_line + row)
        answers = {"text": [text] if text else [], "answer_start": [start] if text else []}
        rows.append({"id": str(row), "title": "", "context": record["context"],
                     "question": record["question"], "answers": answers})
    return _checked(pd.DataFrame(rows), path, skip_mismatches)


def write_squad_json(frame, path, title="questions"):
    """Write questions in `read_squad`'s layout as a SQuAD-format JSON file (v2.0 when some have no answer).

    Rows are grouped into articles by `title` (`title` for rows without one)
    and into paragraphs by `context`; the file is written atomically. With
    `read_qa_table` this converts any question/context/answer table to SQuAD.

    Example:
    >>> write_squad_json(read_qa_table("faq.csv"), "faq.json")  # doctest: +SKIP
    PosixPath('faq.json')
    """
    from tfnlp.runs import write_json

    articles = {}
    for row in frame.to_dict("records"):
        paragraphs = articles.setdefault(row.get("title") or title, {})
        answers = row["answers"]
        paragraphs.setdefault(row["context"], []).append({
            "id": str(row.get("id", len(paragraphs))),
            "question": row["question"],
            "answers": [{"text": text, "answer_start": int(start)}
                        for text, start in zip(answers["text"], answers["answer_start"])],
            **({} if len(answers["text"]) else {"is_impossible": True}),  # SQuAD 2.0's marker
        })
    unanswerable = any(not question["answers"] for paragraphs in articles.values()
                       for qas in paragraphs.values() for question in qas)
    data = [{"title": name, "paragraphs": [{"context": context, "qas": qas} for context, qas in paragraphs.items()]}
            for name, paragraphs in articles.items()]
    return write_json(Path(path), {"version": "v2.0" if unanswerable else "1.1", "data": data})


def _checked(frame, path, skip_mismatches):
    frame, skipped = check_answers(frame, path, skip_mismatches)
    frame.attrs["skipped_answers"] = skipped
    return frame


def _answer_start(record, text, path, line):
    if not text:
        return -1
    if "answer_start" in record and not pd.isna(record["answer_start"]):
        return int(record["answer_start"])
    start = record["context"].find(text)
    if start < 0:
        raise DataError(
            f"the answer {text[:60]!r} does not occur in its context",
            path,
            line,
            hint="the answer must be a span copied from the context (same case and spacing), or empty "
            "for an unanswerable question",
        )
    return start


def load_qa_data(source="squad", data_dir=None, skip_mismatches=False, **columns):
    """Questions with checked answers from a named data set, a SQuAD-format JSON file or a table.

    Args:
        source: a registry name (`"squad"`: its splits, concatenated), a
            SQuAD-format `.json` (v1.1 or v2.0), or a `.csv`/`.tsv`/`.jsonl`
            for `read_qa_table`.
        data_dir: where the named data sets are (see `load_dataset`).
        skip_mismatches: drop and count answers that do not match their
            context instead of raising (see `check_answers`).
        **columns: `read_qa_table`'s column options, for tables.

    Returns:
        A DataFrame in `read_squad`'s layout; `frame.attrs["skipped_answers"]`
        counts the questions skipped.

    Example:
    >>> load_qa_data("squad").attrs["skipped_answers"]  # doctest: +SKIP
    0
    >>> load_qa_data("faq.csv", question="q", context="passage", answer="a")  # doctest: +SKIP
    """
    path = Path(source)
    if path.name.removesuffix(".gz").endswith(".json"):
        return _checked(read_squad(path), path, skip_mismatches)
    if path.suffix:
        return read_qa_table(path, skip_mismatches=skip_mismatches, **columns)
    data = load_dataset(source, data_dir=data_dir)
    return _checked(pd.concat(list(data.values()), ignore_index=True), source, skip_mismatches)


def split_by_article(frame, num_train=38, num_eval=10):
    """Split questions by article title, in file order: the first `num_train` articles, then `num_eval`.

    No article is in both parts, so evaluation questions are about unseen text.

    Returns:
        `(train, evaluate, {"train": titles, "evaluate": titles})`.

    Example:
    >>> train, evaluate, titles = split_by_article(load_dataset("squad")["validation"])  # doctest: +SKIP
    """
    titles = list(dict.fromkeys(frame["title"]))
    if num_train < 1 or num_eval < 1 or num_train + num_eval > len(titles):
        raise ConfigError(
            f"Cannot split {len(titles)} articles into {num_train} to train and {num_eval} to evaluate: "
            f"pick numbers >= 1 that add up to at most {len(titles)}, or evaluate on a separate file."
        )
    parts = {"train": titles[:num_train], "evaluate": titles[num_train : num_train + num_eval]}
    frames = [frame[frame["title"].isin(part)].reset_index(drop=True) for part in parts.values()]
    return frames[0], frames[1], parts


# --- Windows and labels --------------------------------------------------------------------------


@dataclasses.dataclass
class QAFeatures:
    """The windows of a set of (question, context) examples.

    Attributes:
        token_ids, segment_ids: one int32 array per window.
        offsets: one `(length, 2)` array per window: each token's character
            span in the context, `(-1, -1)` for question and special tokens.
        example_index: the example each window comes from.
        start_positions, end_positions: token labels (0, the `[CLS]`
            position, where the window holds no answer); `None` without answers.
        num_examples: the number of examples.
    """

    token_ids: list
    segment_ids: list
    offsets: list
    example_index: np.ndarray
    start_positions: np.ndarray = None
    end_positions: np.ndarray = None
    num_examples: int = 0

    def __len__(self):
        return len(self.token_ids)

    def lengths(self):
        return np.array([len(ids) for ids in self.token_ids])

    def batches(self, batch_size=32):
        """`(window indices, inputs)` for prediction: windows sorted by length, padded numpy int32 batches.

        Sorting keeps the padding small; the indices say where each row goes.
        """
        lengths = self.lengths()
        order = np.argsort(lengths, kind="stable")
        for first in range(0, len(order), batch_size):
            indices = order[first : first + batch_size]
            width = int(lengths[indices].max())
            inputs = {name: np.zeros((len(indices), width), "int32") for name in MODEL_INPUTS}
            for row, window in enumerate(indices):
                size = lengths[window]
                inputs["token_ids"][row, :size] = self.token_ids[window]
                inputs["segment_ids"][row, :size] = self.segment_ids[window]
                inputs["padding_mask"][row, :size] = 1
            yield indices, inputs

    def dataset(self, batch_size=32, shuffle=False, seed=None, indices=None):
        """Batches of model inputs (and `start_logits`/`end_logits` labels), padded to each batch's longest.

        Args:
            batch_size: windows per batch.
            shuffle: reshuffle every epoch and batch windows of similar
                length together (for training); otherwise input order.
            seed: makes the shuffling repeatable.
            indices: only these windows, in this order.
        """
        indices = np.arange(len(self)) if indices is None else np.asarray(indices)
        lengths = self.lengths()[indices]

        def ragged(arrays):
            flat = np.concatenate([arrays[i] for i in indices]).astype("int32")
            return tf.RaggedTensor.from_row_lengths(flat, lengths)

        inputs = {
            "token_ids": ragged(self.token_ids),
            "segment_ids": ragged(self.segment_ids),
            "padding_mask": tf.RaggedTensor.from_row_lengths(tf.ones(int(lengths.sum()), "int32"), lengths),
        }
        labelled = self.start_positions is not None
        if labelled:
            labels = {"start_logits": tf.constant(self.start_positions[indices], "int32"),
                      "end_logits": tf.constant(self.end_positions[indices], "int32")}

        def window(row):  # a ragged row is a dense tensor, which `padded_batch` needs
            x = {name: values[row] for name, values in inputs.items()}
            return (x, {name: values[row] for name, values in labels.items()}) if labelled else x

        dataset = shuffled_range(len(indices), seed) if shuffle else tf.data.Dataset.range(len(indices))
        dataset = dataset.map(window, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        if shuffle and len(indices) > batch_size:
            boundaries = length_boundaries(lengths)
            dataset = dataset.bucket_by_sequence_length(
                lambda x, *_: tf.shape(x["token_ids"])[0], boundaries, [batch_size] * (len(boundaries) + 1)
            )
        else:
            dataset = dataset.padded_batch(batch_size)
        return dataset.prefetch(tf.data.AUTOTUNE)


def qa_features(questions, contexts, tokenizer, answers=None, max_length=384, stride=128):
    """Tokenize (question, context) pairs into overlapping windows with offsets and span labels.

    Args:
        questions, contexts: lists of strings, one pair per example.
        tokenizer: a `tokenizers.Tokenizer` from
            `tfnlp.serving.fast_tokenizer` (the model's own token ids); its
            truncation and padding settings are restored afterwards.
        answers: per example `{"text": [...], "answer_start": [...]}` (the
            first answer is the label; empty lists: no answer), or `None`.
        max_length: the most tokens per window, special tokens included.
        stride: tokens shared by consecutive windows of one context.

    Returns:
        `QAFeatures`.
    """
    questions, contexts = _string_list(questions, "questions"), _string_list(contexts, "contexts")
    if len(questions) != len(contexts) or (answers is not None and len(answers) != len(questions)):
        sizes = [len(questions), len(contexts)] + ([] if answers is None else [len(answers)])
        raise DataError(f"questions, contexts (and answers) differ in length: {sizes}.")
    _check_window_room(questions, tokenizer, max_length, stride)
    with _windowing(tokenizer, max_length, stride):
        encodings = tokenizer.encode_batch(list(zip(questions, contexts)))
    token_ids, segment_ids, offsets, example_index, starts, ends = [], [], [], [], [], []
    for example, encoding in enumerate(encodings):
        for window in [encoding, *encoding.overflowing]:
            window_offsets = _context_offsets(window)
            token_ids.append(np.array(window.ids, dtype="int32"))
            segment_ids.append(np.array(window.type_ids, dtype="int32"))
            offsets.append(window_offsets)
            example_index.append(example)
            if answers is not None:
                start, end = span_labels(window_offsets, answers[example])
                starts.append(start)
                ends.append(end)
    labelled = answers is not None
    return QAFeatures(
        token_ids, segment_ids, offsets, np.array(example_index),
        np.array(starts) if labelled else None, np.array(ends) if labelled else None, len(questions),
    )


def span_labels(offsets, answers):
    """`(start_token, end_token)` of the first answer in a window; `(0, 0)` (`[CLS]`) if it is not all inside.

    Example:
    >>> span_labels(np.array([[-1, -1], [0, 3], [4, 9], [-1, -1]]), {"text": ["Ann"], "answer_start": [0]})
    (1, 1)
    """
    if len(answers["text"]) == 0 or not answers["text"][0]:
        return 0, 0
    first = int(answers["answer_start"][0])
    last = first + len(answers["text"][0])
    in_context = np.flatnonzero(offsets[:, 0] >= 0)
    if len(in_context) == 0 or offsets[in_context[0], 0] > first or offsets[in_context[-1], 1] < last:
        return 0, 0
    start = in_context[offsets[in_context, 0] <= first][-1]
    end = in_context[offsets[in_context, 1] >= last][0]
    return int(start), int(end)


def _string_list(values, name):
    values = list(values)
    for index, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            raise DataError(
                f"`{name}`[{index}] is {value!r}: expected a non-empty string.",
                hint="drop or fill the examples without text.",
            )
    return values


def _check_window_room(questions, tokenizer, max_length, stride):
    """Fail clearly where a question leaves no room for context tokens beyond the stride."""
    if max_length < 8 or not 0 <= stride < max_length:
        raise ConfigError(f"Need max_length >= 8 and 0 <= stride < max_length; got {max_length} and {stride}.")
    with _windowing(tokenizer, None, 0):
        lengths = [len(encoding.ids) for encoding in tokenizer.encode_batch(questions, add_special_tokens=False)]
    for index, length in enumerate(lengths):
        room = max_length - length - _SPECIAL_TOKENS_IN_PAIR
        if room <= stride:
            raise DataError(
                f"question {index} ({questions[index][:60]!r}) has {length} tokens, which leaves {room} context "
                f"tokens per window of max_length={max_length}: not more than stride={stride}.",
                hint="shorten the question, or raise max_length or lower stride",
            )


@contextlib.contextmanager
def _windowing(tokenizer, max_length, stride):
    """Configure `tokenizer` for windows (no padding; `max_length=None`: no truncation), then restore it."""
    truncation, padding = tokenizer.truncation, tokenizer.padding
    tokenizer.no_padding()
    if max_length is None:
        tokenizer.no_truncation()
    else:
        tokenizer.enable_truncation(max_length, stride=stride, strategy="only_second")
    try:
        yield tokenizer
    finally:
        tokenizer.no_truncation() if truncation is None else tokenizer.enable_truncation(**truncation)
        if padding is not None:
            tokenizer.enable_padding(**padding)


def _context_offsets(window):
    offsets = np.array(window.offsets, dtype="int64").reshape(-1, 2)
    is_context = np.array([sequence == 1 for sequence in window.sequence_ids])
    offsets[~is_context] = -1
    return offsets


# --- Decoding ------------------------------------------------------------------------------------


def decode_answers(features, start_logits, end_logits, contexts, max_answer_length=30, top_k=1,
                   null_threshold=None):
    """The best answer spans of each example, over all its windows, as character offsets.

    A span starts and ends on context tokens, with start <= end and at most
    `max_answer_length` tokens. Its score is `p(start) * p(end)`, the
    probabilities of a softmax over the window's context tokens and `[CLS]`
    (as the Hugging Face pipeline scores). With `null_threshold` set, an
    example whose no-answer score (`[CLS]` as start and end, lowest over its
    windows) exceeds the best span's score by more than the threshold gets
    the answer `""` (SQuAD 2.0).

    Args:
        features: the `QAFeatures` the logits were computed on.
        start_logits, end_logits: one 1-D array per window (any padding
            beyond the window's length is ignored).
        contexts: the examples' context strings.
        max_answer_length: the most tokens in an answer.
        top_k: answers per example, best first.
        null_threshold: `None` never answers "no answer" (SQuAD v1.1).

    Returns:
        Per example, a list of up to `top_k` dicts `{"answer", "score",
        "start", "end"}` (`end` exclusive; `start == end == 0` for no answer).
    """
    if max_answer_length < 1 or top_k < 1:
        raise ConfigError(f"Need max_answer_length >= 1 and top_k >= 1; got {max_answer_length} and {top_k}.")
    candidates = [[] for _ in range(features.num_examples)]
    null_scores = np.full(features.num_examples, np.inf)
    for window, example in enumerate(features.example_index):
        offsets = features.offsets[window]
        length = len(offsets)
        spans, null_score = _window_spans(
            np.asarray(start_logits[window])[:length], np.asarray(end_logits[window])[:length],
            offsets, max_answer_length, top_k,
        )
        null_scores[example] = min(null_scores[example], null_score)
        context = contexts[example]
        candidates[example] += [
            {"answer": context[offsets[s, 0] : offsets[e, 1]], "score": score,
             "start": int(offsets[s, 0]), "end": int(offsets[e, 1])}
            for s, e, score in spans
        ]
    return [_best(found, null, top_k, null_threshold) for found, null in zip(candidates, null_scores)]


def _window_spans(start_logits, end_logits, offsets, max_answer_length, top_k):
    """The window's `top_k` valid `(start, end, score)` spans and its no-answer score."""
    allowed = offsets[:, 0] >= 0
    allowed[0] = True  # [CLS]: the no-answer position takes part in the softmax
    start_p, end_p = _masked_softmax(start_logits, allowed), _masked_softmax(end_logits, allowed)
    scores = start_p[:, None] * end_p[None, :]
    length = len(offsets)
    rows, columns = np.indices((length, length))
    valid = (columns >= rows) & (columns - rows < max_answer_length)
    valid &= (offsets[:, 0] >= 0)[:, None] & (offsets[:, 0] >= 0)[None, :]
    scores = np.where(valid, scores, -1.0)
    flat = scores.ravel()
    best = np.argsort(-flat, kind="stable")[:top_k]
    spans = [(index // length, index % length, float(flat[index])) for index in best if flat[index] >= 0]
    return spans, float(start_p[0] * end_p[0])


def _masked_softmax(logits, allowed):
    logits = np.where(allowed, logits.astype("float64"), -np.inf)
    exp = np.exp(logits - logits.max())
    return exp / exp.sum()


def _best(candidates, null_score, top_k, null_threshold):
    ranked = sorted(candidates, key=lambda answer: -answer["score"])
    unique, seen = [], set()
    for answer in ranked:  # overlapping windows propose the same span twice
        if (answer["start"], answer["end"]) not in seen:
            seen.add((answer["start"], answer["end"]))
            unique.append(answer)
    best_score = unique[0]["score"] if unique else 0.0
    if null_threshold is not None and null_score - best_score > null_threshold:
        unique.insert(0, {"answer": "", "score": float(null_score), "start": 0, "end": 0})
    return unique[:top_k]
