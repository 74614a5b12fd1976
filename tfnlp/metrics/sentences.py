"""Offline English sentence splitting, for ROUGE-Lsum and lead-n summaries.

NLTK's `sent_tokenize` needs the punkt parameters, which are not in NLTK's wheel (they are downloaded at run
time), so tfnlp uses pysbd instead: a rule-based segmenter (Sadvilkar & Neumann 2020) whose rules ship in its
wheel. It keeps abbreviations such as "U.S.", "U.N.", "Mr." and "Dr." and decimals such as "3.5" inside sentences.
"""

import functools
import re

from tfnlp.errors import ConfigError, DataError

# Lead-n summaries only need the start of a text: segmenting this many characters per wanted sentence first (and
# doubling while too few sentences are found) spares segmenting whole news articles.
_PREFIX_CHARS_PER_SENTENCE = 400
# Titles that come before a name and never end a sentence. pysbd misses them when glued to the word before,
# as in CNN's "(CNN)Sen. Harry Reid ..." or "then-Gov. Brown".
_TITLES = "Adm|Capt|Cmdr|Col|Dr|Gen|Gov|Hon|Lt|Maj|Mr|Mrs|Ms|Prof|Rep|Rev|Sen|Sgt"
_TITLE_AT_END = re.compile(rf"(?<![A-Za-z])(?:{_TITLES})\.$")


def split_sentences(text, max_sentences=None):
    """Splits English text into sentences, offline.

    Line breaks always end a sentence; within each line, pysbd's rules find the sentence ends. Surrounding
    whitespace is stripped and empty sentences are dropped.

    Args:
        text: the text, a str.
        max_sentences: return at most this many sentences, the first ones; by default all of them. Only the
            start of a long text is segmented then (a growing prefix, until more sentences than wanted are
            found), several times faster on news articles. pysbd keeps a quoted passage in one piece, so where
            an article's quotes do not pair up within a paragraph (paragraphs are not marked in CNN/DailyMail),
            the prefix can split better than the whole text: the first sentences differed from
            `split_sentences(text)[:max_sentences]` in 12 of the 1,000 CNN/DailyMail articles here.

    Returns:
        A list of str.

    Example:
    >>> split_sentences("The U.S. and the U.N. agreed. Mr. Smith paid $3.50 for it.")
    ['The U.S. and the U.N. agreed.', 'Mr. Smith paid $3.50 for it.']
    """
    _check_text(text)
    _check_max_sentences(max_sentences)
    sentences = []
    for line in text.splitlines():
        wanted = None if max_sentences is None else max_sentences - len(sentences)
        if wanted == 0:
            break
        sentences += _split_line(line, wanted)
    return sentences


def _split_line(line, wanted):
    """The first `wanted` sentences of one line (all of them when `wanted` is None)."""
    if wanted is None:
        return _segment(line)
    size = _PREFIX_CHARS_PER_SENTENCE * wanted
    while size < len(line):
        cut = line.rfind(" ", 0, size)
        sentences = _segment(line[:cut]) if cut > 0 else []
        if len(sentences) > wanted:  # the last one may be cut short, but the first `wanted` ones are whole
            return sentences[:wanted]
        size *= 2
    return _segment(line)[:wanted]


def _segment(text):
    sentences = []
    for sentence in _segmenter().segment(text):
        sentence = sentence.strip()
        if not sentence:
            continue
        if sentences and _TITLE_AT_END.search(sentences[-1]):
            sentences[-1] += " " + sentence
        else:
            sentences.append(sentence)
    return sentences


@functools.cache
def _segmenter():
    import pysbd  # imported on first use: `import tfnlp.metrics` stays fast

    return pysbd.Segmenter(language="en", clean=False)


def _check_text(text):
    if not isinstance(text, str):
        raise DataError(
            f"split_sentences expects a str, got {type(text).__name__}",
            hint="pass one text; for many texts use [split_sentences(text) for text in texts]",
        )


def _check_max_sentences(max_sentences):
    if max_sentences is not None and (not isinstance(max_sentences, int) or max_sentences < 1):
        raise ConfigError(
            f"max_sentences must be a positive int or None, got {max_sentences!r}; pass e.g. max_sentences=3, "
            "or leave it out to get every sentence"
        )
