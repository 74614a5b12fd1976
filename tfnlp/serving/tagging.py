"""What every word-tagging pipeline (Keras or ONNX Runtime) returns, given its tag probabilities per word.

A pipeline defines `label_names` and `_batch_word_probabilities(sentences)` (an
array `[batch, max_words, num_tags]` for one batch of word lists); `WordTagging`
adds batching, `tag` and `__call__`, so both runtimes give the same results.
"""

import re

import numpy as np

from tfnlp.metrics.entities import entity_spans


class WordTagging:
    def word_probabilities(self, sentences, batch_size=64):
        """Per sentence (in input order), an array `(num_words, num_tags)` of tag probabilities."""
        sentences = [list(words) for words in sentences]
        # Batches of similar lengths pad little; results go back to input order.
        order = sorted(range(len(sentences)), key=lambda index: len(sentences[index]))
        results = [None] * len(sentences)
        for start in range(0, len(order), batch_size):
            indices = order[start : start + batch_size]
            probabilities = self._batch_word_probabilities([sentences[i] for i in indices])
            for row, index in enumerate(indices):
                results[index] = probabilities[row, : len(sentences[index])]
        return results

    def tag(self, sentences, batch_size=64):
        """The tag of each word, per sentence (lists of word lists in, lists of tags out)."""
        return [
            [self.label_names[i] for i in probabilities.argmax(axis=-1)]
            for probabilities in self.word_probabilities(sentences, batch_size)
        ]

    def __call__(self, text):
        """Entities in a text: `[{"entity_group", "word", "start", "end", "score"}]`.

        The text is split into words and punctuation marks, as CoNLL-style
        tagging data is tokenized (`text_words`).

        `start`/`end` are character offsets in `text`; the score is the mean of
        the entity's word scores.
        """
        words, offsets = text_words(text)
        if not words:
            return []
        probabilities = self.word_probabilities([words])[0]
        tags = [self.label_names[i] for i in probabilities.argmax(axis=-1)]
        scores = probabilities.max(axis=-1)
        return [
            {
                "entity_group": kind,
                "word": text[offsets[first][0] : offsets[last - 1][1]],
                "start": offsets[first][0],
                "end": offsets[last - 1][1],
                "score": float(np.mean(scores[first:last])),
            }
            for kind, first, last in entity_spans(tags)
        ]


# Runs of letters, digits and "_", or one other non-space character. `WORD_SPLIT` is the same split for
# TensorFlow's RE2 (whose `\w` is ASCII only): the SavedModel's raw-string signature splits texts so.
WORD_PATTERN = re.compile(r"\w+|[^\w\s]")
WORD_SPLIT = r"\s+|[^\p{L}\p{N}_\s]"
WORD_SPLIT_KEEP = r"[^\p{L}\p{N}_\s]"


def text_words(text):
    """The words and punctuation marks of `text`, and their `(start, end)` character offsets.

    Example:
    >>> text_words("the European Union.")
    (['the', 'European', 'Union', '.'], [(0, 3), (4, 12), (13, 18), (18, 19)])
    """
    matches = list(WORD_PATTERN.finditer(text))
    return [m.group() for m in matches], [m.span() for m in matches]
