"""Text variants for distillation: word dropping and plain-query normalisation."""

import pytest

from tfnlp.data.augmentation import as_plain_queries, drop_words
from tfnlp.errors import DataError

QUERIES = ["how do i reset my bank pin number", "what is the weather like in paris today", "hello"]


def test_drop_words_keeps_order_and_at_least_one_word():
    variants = drop_words(QUERIES * 20, rate=0.5, seed=3)
    assert variants != QUERIES * 20  # some words went
    for original, variant in zip(QUERIES * 20, variants):
        words = variant.split()
        assert words, "every variant keeps a word"
        remaining = iter(original.split())
        assert all(word in remaining for word in words)  # a subsequence: order kept, nothing added


def test_drop_words_is_repeatable_and_rate_zero_is_identity():
    assert drop_words(QUERIES, rate=0.3, seed=1) == drop_words(QUERIES, rate=0.3, seed=1)
    assert drop_words(QUERIES, rate=0.0) == QUERIES
    with pytest.raises(DataError, match=r"\[0, 1\)"):
        drop_words(QUERIES, rate=1.0)


def test_as_plain_queries_lowercases_and_strips_punctuation():
    assert as_plain_queries(["Which NFL team won Super Bowl 50?", "What's   the (real) answer?!"]) == [
        "which nfl team won super bowl 50", "what's the real answer"]
