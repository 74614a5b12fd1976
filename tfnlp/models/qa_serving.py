"""Extractive QA on raw strings inside the graph, for the reader's SavedModel `serving_default`.

The same steps as `tfnlp.serving.qa_pipeline` (which runs them in Python with
the fast tokenizer): word pieces with character offsets, overlapping windows of
the context (Hugging Face's: `stride` tokens shared by consecutive windows),
`[CLS] question [SEP] window [SEP]`, and the best span over all windows of an
example, scored `p(start) * p(end)` with start <= end, on context tokens, at
most `max_answer_length` tokens long.

Offsets: keras-hub normalizes (accents, case) before it splits words, and
tensorflow-text's offsets would then point into the normalized text. Here words
are split on the original text, with their offsets, and normalized one by one
(which gives keras-hub's word pieces: normalizing changes no whitespace or
punctuation); a piece's offsets inside its word map back character for
character, or proportionally in the rare word whose normalization changes its
length in characters (a ligature, a decomposed accent).
"""

import tensorflow as tf
import tensorflow_text as tf_text
from keras_hub.src.tokenizers.word_piece_tokenizer import (
    PUNCTUATION_AND_CJK_REGEX,
    PUNCTUATION_REGEX,
    WHITESPACE_AND_PUNCTUATION_REGEX,
    WHITESPACE_PUNCTUATION_AND_CJK_REGEX,
)

_LARGE = 1 << 30


class InGraphWordPieces(tf.Module):
    """keras-hub's WordPiece ids of strings, with each piece's character offsets in the original string."""

    def __init__(self, tokenizer):
        super().__init__()
        self.lowercase, self.strip_accents = tokenizer.lowercase, tokenizer.strip_accents
        cjk = tokenizer.split_on_cjk
        self.split_pattern = WHITESPACE_PUNCTUATION_AND_CJK_REGEX if cjk else WHITESPACE_AND_PUNCTUATION_REGEX
        self.keep_pattern = PUNCTUATION_AND_CJK_REGEX if cjk else PUNCTUATION_REGEX
        self.word_pieces = tf_text.FastWordpieceTokenizer(
            vocab=tokenizer.get_vocabulary(), token_out_type=tf.int32, suffix_indicator=tokenizer.suffix_indicator,
            unknown_token=tokenizer.oov_token, no_pretokenization=True,
        )

    def __call__(self, texts):
        """`(ids, starts, ends)`: ragged `[batch, (pieces)]`; offsets in characters, `end` exclusive."""
        words, word_starts, _ = tf_text.regex_split_with_offsets(texts, self.split_pattern, self.keep_pattern)
        normalized = words
        if self.strip_accents:
            normalized = tf.strings.regex_replace(tf_text.normalize_utf8(normalized, "NFD"), r"\p{Mn}", "")
        if self.lowercase:
            normalized = tf_text.case_fold_utf8(normalized)
        ids, piece_starts, piece_ends = self.word_pieces.tokenize_with_offsets(normalized)  # [b, (w), (p)]
        word_of_piece = tf.cast(ids.values.value_rowids(), tf.int32)  # flat word index of each piece
        normalized_word = tf.gather(normalized.flat_values, word_of_piece)
        original_word = tf.gather(words.flat_values, word_of_piece)
        same_length = tf.equal(_chars(original_word), _chars(normalized_word))
        scale = tf.cast(_chars(original_word), tf.float32) / tf.cast(tf.maximum(_chars(normalized_word), 1), tf.float32)
        word_start = _prefix_chars(tf.gather(texts, words.value_rowids()), word_starts.flat_values)
        word_start = tf.gather(word_start, word_of_piece)

        def to_original(byte_offsets):
            # bytes in the normalized word -> characters there -> characters in the original text
            chars = _prefix_chars(normalized_word, byte_offsets.flat_values)
            scaled = tf.cast(tf.round(tf.cast(chars, tf.float32) * scale), tf.int32)
            return ids.with_flat_values(word_start + tf.where(same_length, chars, scaled)).merge_dims(1, 2)

        return ids.merge_dims(1, 2), to_original(piece_starts), to_original(piece_ends)


def _chars(strings):
    return tf.strings.length(strings, unit="UTF8_CHAR")


def _prefix_chars(strings, byte_offsets):
    """How many characters each string has before its byte offset."""
    byte_offsets = tf.cast(byte_offsets, tf.int32)
    return _chars(tf.strings.substr(strings, tf.zeros_like(byte_offsets), byte_offsets))


def answer_endpoint(reader, max_answer_length=30):
    """`(function, input_signature)`: `question, context: string[batch]` -> `answer`, `score`, `start`, `end`.

    `start`/`end` are character offsets in the context (`end` exclusive), as
    `QuestionAnsweringPipeline` gives them; a question that leaves no room for
    context tokens in `reader.max_length` fails with a message saying so.
    """
    pieces = InGraphWordPieces(reader.tokenizer)
    tokenizer = reader.tokenizer
    cls_id, sep_id, pad_id = tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id
    max_length, stride = reader.max_length, reader.stride

    def answer(question, context):
        question_ids, _, _ = pieces(question)
        context_ids, context_starts, context_ends = pieces(context)
        question_length = tf.cast(question_ids.row_lengths(), tf.int32)
        room = max_length - question_length - 3
        check = tf.debugging.assert_greater(
            room, stride, message=f"a question leaves no more than stride={stride} context tokens in "
                                  f"max_length={max_length}: shorten it")
        with tf.control_dependencies([check]):
            step = room - stride
        length = tf.cast(context_ids.row_lengths(), tf.int32)
        num_windows = 1 + tf.maximum(0, -(-(length - room) // step))  # ceil division
        windows = tf.ragged.range(num_windows)
        example = tf.cast(windows.value_rowids(), tf.int32)  # the example of each window
        start = windows.flat_values * tf.gather(step, example)
        stop = tf.minimum(start + tf.gather(room, example), tf.gather(length, example))
        # Indices into the flat context pieces of each window's tokens.
        piece_base = tf.cast(context_ids.row_starts(), tf.int32)  # each example's first context piece
        in_window = tf.ragged.range(start, stop) + tf.gather(piece_base, example)[:, None]
        window_ids = tf.gather(context_ids.flat_values, in_window)
        num = tf.shape(example)[0]
        column = tf.RaggedTensor.from_tensor(tf.fill([num, 1], cls_id))
        sep = tf.RaggedTensor.from_tensor(tf.fill([num, 1], sep_id))
        window_question = tf.gather(question_ids, example)
        token_ids = tf.concat([column, window_question, sep, window_ids, sep], axis=1)
        first_context = tf.gather(question_length, example) + 2
        positions = tf.ragged.range(token_ids.row_lengths())
        segment_ids = tf.cast(positions >= tf.cast(first_context, tf.int64)[:, None], tf.int32)
        dense_ids = token_ids.to_tensor(pad_id)
        inputs = {"token_ids": dense_ids, "padding_mask": tf.cast(dense_ids != pad_id, tf.int32),
                  "segment_ids": segment_ids.to_tensor(0)}
        outputs = reader(inputs, training=False)
        width = tf.shape(dense_ids)[1]
        index = tf.range(width)[None, :]
        in_context = (index >= first_context[:, None]) & (index < (first_context + stop - start)[:, None])
        allowed = in_context | tf.equal(index, 0)  # [CLS] takes part in the softmax, as in the pipeline
        start_p = _masked_softmax(outputs["start_logits"], allowed)
        end_p = _masked_softmax(outputs["end_logits"], allowed)
        scores = start_p[:, :, None] * end_p[:, None, :]
        span = index[:, None, :] - index[:, :, None]  # end - start, [1, width, width]
        valid = (span >= 0) & (span < max_answer_length) & in_context[:, :, None] & in_context[:, None, :]
        flat = tf.reshape(tf.where(valid, scores, -1.0), [num, -1])
        best = tf.argmax(flat, axis=-1, output_type=tf.int32)
        best_score = tf.reduce_max(flat, axis=-1)
        num_examples = tf.shape(question)[0]
        example_best = tf.math.unsorted_segment_max(best_score, example, num_examples)
        is_best = tf.equal(best_score, tf.gather(example_best, example))
        window_of = tf.math.unsorted_segment_min(tf.where(is_best, tf.range(num), _LARGE), example, num_examples)
        best = tf.gather(best, window_of)
        start_token, end_token = best // width, best % width
        offset_in_context = tf.gather(start, window_of) - tf.gather(first_context, window_of)
        found = tf.gather(best_score, window_of) >= 0  # else no context token at all
        first_piece = piece_base + offset_in_context
        start_char = tf.where(found, tf.gather(context_starts.flat_values, first_piece + start_token), 0)
        end_char = tf.where(found, tf.gather(context_ends.flat_values, first_piece + end_token), 0)
        return {
            "answer": tf.strings.substr(context, start_char, end_char - start_char, unit="UTF8_CHAR"),
            "score": tf.gather(best_score, window_of),
            "start": start_char,
            "end": end_char,
        }

    signature = [tf.TensorSpec([None], tf.string, name="question"), tf.TensorSpec([None], tf.string, name="context")]
    return answer, signature


def _masked_softmax(logits, allowed):
    return tf.nn.softmax(tf.where(allowed, tf.cast(logits, tf.float32), -1e9), axis=-1)
