"""Corpus BLEU through sacrebleu, with its n-gram statistics."""

from tfnlp.errors import ConfigError, DataError

SMOOTH_METHODS = ("exp", "none", "floor", "add-k")


def bleu(predictions, references, smooth_method="exp", smooth_value=None, lowercase=False, tokenize="13a"):
    """Corpus BLEU of predictions against one or more references each, computed by sacrebleu.

    The chapter's two examples against "the cat is on the mat" are reproduced exactly without smoothing,
    by `smooth_method="none"` or by `smooth_method="floor", smooth_value=0` (the chapter's call, which floors a
    zero n-gram count at 0): "the the the the the the" scores 0.0 with precisions [33.33, 0, 0, 0], and
    "the cat is on mat" 57.89 with brevity penalty 0.8187. sacrebleu's default "exp" smoothing (kept here)
    gives the first one 9.65 instead. "exp" and "floor" change a score only where some n-gram order has no match;
    "add-k" changes every score.

    Args:
        predictions: the system outputs, a list of str.
        references: one reference per prediction (a list of str), or several per prediction (a list of lists
            of str, every prediction with the same number).
        smooth_method: "exp", "none", "floor" or "add-k" (see sacrebleu).
        smooth_value: the value for "floor" (default 0.1) or "add-k" (default 1).
        lowercase: whether to compare lowercased text.
        tokenize: sacrebleu's tokenizer: "13a" (mteval's), "intl", "char", "none", ...

    Returns:
        A dict with "score" (0-100), "counts" and "totals" (matching and total n-grams of each order 1-4),
        "precisions" (percentages), "bp" (brevity penalty), "sys_len" and "ref_len" (lengths in tokens).

    Example:
    >>> result = bleu(["the cat is on mat"], ["the cat is on the mat"])
    >>> round(result["score"], 2), round(result["bp"], 4), result["counts"]
    (57.89, 0.8187, [5, 3, 2, 1])
    """
    predictions = _check_predictions(predictions)
    reference_streams = _reference_streams(references, len(predictions))
    _check_smooth_method(smooth_method)
    from sacrebleu.metrics import BLEU  # imported on first use: `import tfnlp.metrics` stays fast

    metric = BLEU(smooth_method=smooth_method, smooth_value=smooth_value, lowercase=lowercase, tokenize=tokenize)
    result = metric.corpus_score(predictions, reference_streams)
    return {
        "score": float(result.score),
        "counts": [int(count) for count in result.counts],
        "totals": [int(total) for total in result.totals],
        "precisions": [float(precision) for precision in result.precisions],
        "bp": float(result.bp),
        "sys_len": int(result.sys_len),
        "ref_len": int(result.ref_len),
    }


def _check_predictions(predictions):
    if isinstance(predictions, str):
        raise DataError(
            "predictions must be a list of str, got one str", hint="wrap a single text in a list: [prediction]"
        )
    predictions = list(predictions)
    if not predictions:
        raise DataError("no predictions to score", hint="pass at least one prediction and its reference")
    for index, text in enumerate(predictions):
        if not isinstance(text, str):
            raise DataError(f"predictions[{index}] is a {type(text).__name__}, not a str: {text!r:.80}")
    return predictions


def _reference_streams(references, n_predictions):
    """Turns one reference or a list of references per prediction into sacrebleu's streams (one per rank)."""
    if isinstance(references, str):
        raise DataError("references must be a list, got one str", hint="wrap a single text in a list: [reference]")
    references = [[each] if isinstance(each, str) else list(each) for each in references]
    if len(references) != n_predictions:
        raise DataError(
            f"{n_predictions} predictions but {len(references)} references",
            hint="pass one reference (or one list of references) per prediction, in the same order",
        )
    counts = {len(each) for each in references}
    if len(counts) > 1 or 0 in counts:
        raise DataError(
            f"the predictions have different numbers of references ({sorted(counts)})",
            hint="give every prediction the same number (at least one) of references",
        )
    for index, each in enumerate(references):
        if not all(isinstance(text, str) for text in each):
            raise DataError(f"references[{index}] holds something other than str: {each!r:.80}")
    return [list(stream) for stream in zip(*references)]


def _check_smooth_method(smooth_method):
    if smooth_method not in SMOOTH_METHODS:
        raise ConfigError(f"unknown smooth_method {smooth_method!r}; use one of {SMOOTH_METHODS}")
