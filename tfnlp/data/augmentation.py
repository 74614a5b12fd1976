"""Text variants for distillation: more inputs on which the student can match the teacher.

A distilled student only learns the teacher's function where it sees inputs.
Variants of the training texts (words dropped) probe the teacher near its
training data; a transfer set of other texts probes it elsewhere, for example
queries an intent classifier should reject. The teacher's logits label both
(`tfnlp.training.with_teacher_logits`), so neither needs annotation.
"""

import re

import numpy as np

from tfnlp.errors import DataError


def drop_words(texts, rate=0.1, seed=0):
    """Each text with every word dropped with probability `rate` (one word always kept).

    Example:
    >>> drop_words(["how do i reset my pin"], rate=0.0)
    ['how do i reset my pin']
    """
    if not 0.0 <= rate < 1.0:
        raise DataError(f"rate={rate}: the probability of dropping a word must be in [0, 1).")
    rng = np.random.default_rng(seed)
    variants = []
    for text in texts:
        words = text.split()
        keep = rng.random(len(words)) >= rate
        if words and not keep.any():
            keep[rng.integers(len(words))] = True
        variants.append(" ".join(word for word, kept in zip(words, keep) if kept))
    return variants


def as_plain_queries(texts):
    """Lower-cased, without punctuation: how CLINC150 and most assistant logs write queries.

    Example:
    >>> as_plain_queries(["Where did Super Bowl 50 take place?"])
    ['where did super bowl 50 take place']
    """
    return [" ".join(re.sub(r"[^\w\s']", " ", text).lower().split()) for text in texts]
