"""SQuAD exact match and F1, as the official v1.1 evaluation script computes them.

Answers are normalised (lower case, punctuation and the articles a/an/the
removed, whitespace collapsed), then compared to each gold answer; an example
scores its best match. Scores are fractions (the official script prints them
times 100). A question without gold answers (SQuAD 2.0's unanswerable) counts
as matched only by the empty prediction, as the v2.0 script does.
"""

import collections
import re
import string

from tfnlp.errors import DataError

_PUNCTUATION = set(string.punctuation)


def normalize_answer(text):
    """The official SQuAD normalisation.

    Example:
    >>> normalize_answer("The  Denver Broncos!")
    'denver broncos'
    """
    text = "".join(char for char in text.lower() if char not in _PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction, gold):
    """1.0 if the normalised answers are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1(prediction, gold):
    """Token-overlap F1 of the normalised answers (the v1.1 definition).

    Example:
    >>> round(f1("the Denver Broncos", "Denver"), 3)
    0.667
    """
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = sum((collections.Counter(predicted) & collections.Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def squad_scores(predictions, gold_answers):
    """Mean exact match and F1 over examples, each the max over its gold answers.

    Args:
        predictions: one answer string per example.
        gold_answers: per example a list of gold answer strings, or a SQuAD
            `answers` dict `{"text": [...], ...}`; empty for "no answer".

    Returns:
        `{"exact_match", "f1", "count"}`, the scores as fractions.

    Example:
    >>> squad_scores(["Denver Broncos"], [["Denver Broncos", "The Broncos"]])
    {'exact_match': 1.0, 'f1': 1.0, 'count': 1}
    """
    predictions, gold_answers = list(predictions), list(gold_answers)
    if len(predictions) != len(gold_answers) or not predictions:
        raise DataError(
            f"Need one prediction per example and at least one example; got {len(predictions)} predictions "
            f"for {len(gold_answers)} examples."
        )
    em_total = f1_total = 0.0
    for prediction, gold in zip(predictions, gold_answers):
        texts = list(gold["text"]) if isinstance(gold, dict) else list(gold)
        if not texts:  # unanswerable: only "no answer" is right, for both scores
            em_total += float(not normalize_answer(prediction))
            f1_total += float(not normalize_answer(prediction))
            continue
        em_total += max(exact_match(prediction, text) for text in texts)
        f1_total += max(f1(prediction, text) for text in texts)
    count = len(predictions)
    return {"exact_match": em_total / count, "f1": f1_total / count, "count": count}


QUESTION_WORDS = ("what", "which", "who", "whose", "whom", "when", "where", "why", "how")


def question_type(question):
    """The question's first wh-word ("what", "who", "how"...), or "other".

    Example:
    >>> question_type("In what year did Tesla die?")
    'what'
    """
    words = re.findall(r"[a-z]+", question.lower())
    return next((word for word in words if word in QUESTION_WORDS), "other")


def squad_scores_by_group(predictions, gold_answers, groups):
    """`squad_scores` for each group of examples (e.g. `question_type` of each question).

    Example:
    >>> squad_scores_by_group(["1990", "Ann"], [["1990"], ["Bob"]], ["when", "who"])["who"]["f1"]
    0.0
    """
    rows = collections.defaultdict(list)
    for prediction, gold, group in zip(predictions, gold_answers, groups, strict=True):
        rows[group].append((prediction, gold))
    return {group: squad_scores(*zip(*pairs)) for group, pairs in sorted(rows.items())}
