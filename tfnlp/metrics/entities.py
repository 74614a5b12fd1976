"""Entity-level precision, recall and F1 for IOB2 tags, as seqeval (and CoNLL's conlleval) count them.

An entity is a maximal run of tags of one type that starts at `B-X`, or at an
`I-X` that follows `O` or another type (seqeval's default, lenient mode, which
the CoNLL-2003 figures use). A predicted entity counts only if its type and both
boundaries match a true one exactly.
"""

from collections import Counter

from tfnlp.errors import DataError


def _split_tag(tag):
    # As seqeval: the prefix is the first character, the type what follows the dash.
    return tag[0], tag[1:].split("-", maxsplit=1)[-1] or "_"


def _ends(previous_prefix, prefix, previous_type, kind):
    if previous_prefix in ("E", "S"):
        return True
    if previous_prefix in ("B", "I") and prefix in ("B", "S", "O"):
        return True
    return previous_prefix not in ("O", ".") and previous_type != kind


def _starts(previous_prefix, prefix, previous_type, kind):
    if prefix in ("B", "S"):
        return True
    if previous_prefix in ("E", "S", "O") and prefix in ("E", "I"):
        return True
    return prefix not in ("O", ".") and previous_type != kind


def entity_spans(tags):
    """The entities of one sentence as `(type, first, last + 1)` word spans.

    Example:
    >>> entity_spans(["B-PER", "I-PER", "O", "I-LOC", "B-LOC"])
    [('PER', 0, 2), ('LOC', 3, 4), ('LOC', 4, 5)]
    """
    spans, previous_prefix, previous_type, begin = [], "O", "", 0
    for index, tag in enumerate(list(tags) + ["O"]):
        prefix, kind = _split_tag(tag)
        if _ends(previous_prefix, prefix, previous_type, kind):
            spans.append((previous_type, begin, index))
        if _starts(previous_prefix, prefix, previous_type, kind):
            begin = index
        previous_prefix, previous_type = prefix, kind
    return spans


def _scores(correct, predicted, true):
    precision = correct / predicted if predicted else 0.0
    recall = correct / true if true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def entity_metrics(true_tags, predicted_tags):
    """Micro-averaged entity precision/recall/F1 and the same per entity type.

    Args:
        true_tags, predicted_tags: per sentence, the list of IOB2 tags (strings).

    Returns:
        `{"precision", "recall", "f1", "per_type": {type: {"precision", "recall", "f1", "support"}}}`,
        where `support` is the number of true entities of that type.

    Example:
    >>> entity_metrics([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]])["f1"]
    0.0
    """
    true_tags, predicted_tags = list(true_tags), list(predicted_tags)
    if len(true_tags) != len(predicted_tags):
        raise DataError(f"{len(true_tags)} true sentences but {len(predicted_tags)} predicted")
    true_entities, predicted_entities = set(), set()
    for sentence, (true, predicted) in enumerate(zip(true_tags, predicted_tags)):
        if len(true) != len(predicted):
            raise DataError(
                f"sentence {sentence + 1}: {len(true)} true tags but {len(predicted)} predicted",
                hint="predict one tag per word",
            )
        true_entities |= {(sentence, *span) for span in entity_spans(true)}
        predicted_entities |= {(sentence, *span) for span in entity_spans(predicted)}
    correct = true_entities & predicted_entities
    count = lambda entities: Counter(entity[1] for entity in entities)  # noqa: E731
    correct_by, predicted_by, true_by = count(correct), count(predicted_entities), count(true_entities)
    per_type = {
        kind: {**_scores(correct_by[kind], predicted_by[kind], true_by[kind]), "support": true_by[kind]}
        for kind in sorted(set(true_by) | set(predicted_by))
    }
    return {**_scores(len(correct), len(predicted_entities), len(true_entities)), "per_type": per_type}


def entity_table(metrics):
    """The per-type results as printable text (type, precision, recall, F1, support)."""
    rows = [f"{'type':<8}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}"]
    for kind, scores in metrics["per_type"].items():
        rows.append(
            f"{kind:<8}{scores['precision']:>10.4f}{scores['recall']:>10.4f}{scores['f1']:>10.4f}{scores['support']:>9}"
        )
    total = sum(scores["support"] for scores in metrics["per_type"].values())
    rows.append(f"{'micro':<8}{metrics['precision']:>10.4f}{metrics['recall']:>10.4f}{metrics['f1']:>10.4f}{total:>9}")
    return "\n".join(rows)
