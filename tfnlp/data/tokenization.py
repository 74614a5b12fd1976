"""Show how one text becomes model inputs: characters, words and subwords."""

import numpy as np


def tokenization_demo(text, tokenizer):
    """Character, word and subword tokenizations of `text`, as in the chapter.

    Character and word vocabularies are built from `text` itself (ids in order of
    first appearance, like the chapter's toy tokenizers); subwords come from the
    model's own `tokenizer` (a keras-hub tokenizer).

    Example:
    >>> demo = tokenization_demo("Tokenizing text", load_tokenizer())  # doctest: +SKIP
    >>> demo["subword_tokens"]  # doctest: +SKIP
    ['token', '##izing', 'text']
    """
    characters = list(text)
    words = text.split()
    subword_ids = [int(i) for i in np.asarray(tokenizer(text))]
    return {
        "text": text,
        "characters": characters,
        "character_ids": _first_appearance_ids(characters),
        "words": words,
        "word_ids": _first_appearance_ids(words),
        "subword_tokens": [tokenizer.id_to_token(i) for i in subword_ids],
        "subword_ids": subword_ids,
    }


def _first_appearance_ids(tokens):
    vocabulary = {}
    for token in tokens:
        vocabulary.setdefault(token, len(vocabulary))
    return [vocabulary[token] for token in tokens]
