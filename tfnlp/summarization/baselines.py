"""Summarization baselines that need no training."""

from tfnlp.metrics.sentences import split_sentences


def lead_3(article):
    """The lead-3 baseline: the first three sentences of an article, one per line.

    News articles put the main facts first, so their first three sentences make a strong baseline summary.
    The newlines let ROUGE-Lsum compare the summary sentence by sentence.

    Example:
    >>> lead_3("Mr. Smith arrived. He sat down. He ate. He left.")
    'Mr. Smith arrived.\\nHe sat down.\\nHe ate.'
    """
    return "\n".join(split_sentences(article, max_sentences=3))
