"""ROUGE F-measures with bootstrap confidence intervals, computed with Google's `rouge-score` package."""

import re

import numpy as np

from tfnlp.errors import ConfigError, DataError
from tfnlp.metrics.sentences import split_sentences

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
_ROUGE_TYPE_PATTERN = re.compile(r"rouge[1-9]|rougeL|rougeLsum")


def rouge(predictions, references, rouge_types=ROUGE_TYPES, use_stemmer=True, bootstrap=True, n_samples=1000, seed=0):
    """ROUGE F-measures of predicted summaries against one reference each.

    Texts are tokenized as `rouge-score` does (lowercased, split on anything but letters and digits, words of
    more than 3 letters Porter-stemmed when `use_stemmer`). ROUGE-Lsum compares sentence by sentence, with
    sentences separated by newlines: a text without a newline is first split with `split_sentences`; a text
    with one is taken as already split.

    With `bootstrap`, the scores are aggregated as `rouge_score.scoring.BootstrapAggregator` does (and so the
    chapter's `datasets.load_metric("rouge")`): `n_samples` resamples of the examples, "low" and "high" are the
    2.5th and 97.5th percentiles of the resampled mean F-measure and "mid" its median. The resampling draws from
    `numpy.random.RandomState(seed)`, so a seed gives the numbers that `BootstrapAggregator` gives after
    `numpy.random.seed(seed)`.

    Args:
        predictions: the generated summaries, a list of str.
        references: the reference summaries, a list of str of the same length.
        rouge_types: names among "rouge1" ... "rouge9", "rougeL" and "rougeLsum".
        use_stemmer: whether to Porter-stem words, as the rouge-score package can.
        bootstrap: whether to compute the confidence interval.
        n_samples: the number of bootstrap resamples.
        seed: the seed of the resampling.

    Returns:
        A dict: rouge type -> {"low", "mid", "high"} F-measures (floats in [0, 1]); without `bootstrap`,
        rouge type -> {"mid": the mean F-measure}.

    Example:
    >>> scores = rouge(["the cat sat on the mat"], ["the cat is on the mat"])
    >>> round(scores["rouge1"]["mid"], 4), round(scores["rouge2"]["mid"], 4)
    (0.8333, 0.6)
    """
    predictions, references = _check_texts(predictions, references)
    rouge_types = _check_rouge_types(rouge_types)
    _check_n_samples(n_samples)
    if "rougeLsum" in rouge_types:
        predictions = [_one_sentence_per_line(text) for text in predictions]
        references = [_one_sentence_per_line(text) for text in references]
    fmeasures = _fmeasures(predictions, references, rouge_types, use_stemmer)
    if not bootstrap:
        return {name: {"mid": float(column.mean())} for name, column in zip(rouge_types, fmeasures.T)}
    random_state = np.random.RandomState(seed)
    return {
        name: _bootstrap_interval(column, n_samples, random_state) for name, column in zip(rouge_types, fmeasures.T)
    }


def _fmeasures(predictions, references, rouge_types, use_stemmer):
    """A (examples, rouge types) array of F-measures."""
    from rouge_score import rouge_scorer  # imported on first use: it imports nltk, which is slow to import

    scorer = rouge_scorer.RougeScorer(list(rouge_types), use_stemmer=use_stemmer)
    scores = [scorer.score(reference, prediction) for prediction, reference in zip(predictions, references)]
    return np.array([[score[name].fmeasure for name in rouge_types] for score in scores], dtype=np.float64)


def _bootstrap_interval(values, n_samples, random_state):
    """Low, mid and high percentiles of the mean of `values` over bootstrap resamples (as rouge-score's)."""
    resampled = random_state.randint(0, len(values), size=(n_samples, len(values)))
    means = values[resampled].mean(axis=1)
    low, mid, high = np.percentile(means, [2.5, 50.0, 97.5])
    return {"low": float(low), "mid": float(mid), "high": float(high)}


def _one_sentence_per_line(text):
    return text if "\n" in text else "\n".join(split_sentences(text))


def _check_texts(predictions, references):
    """Returns predictions and references as lists of str, or says what is wrong with them."""
    for name, texts in (("predictions", predictions), ("references", references)):
        if isinstance(texts, str):
            raise DataError(
                f"{name} must be a list of str, got one str", hint=f"wrap a single text in a list: [{name[:-1]}]"
            )
    predictions, references = list(predictions), list(references)
    if not predictions:
        raise DataError("no predictions to score", hint="pass at least one prediction and its reference")
    if len(predictions) != len(references):
        raise DataError(
            f"{len(predictions)} predictions but {len(references)} references",
            hint="pass one reference per prediction, in the same order",
        )
    for name, texts in (("predictions", predictions), ("references", references)):
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise DataError(
                    f"{name}[{index}] is a {type(text).__name__}, not a str: {text!r:.80}",
                    hint="pass text; rouge takes one reference per prediction",
                )
    return predictions, references


def _check_rouge_types(rouge_types):
    if isinstance(rouge_types, str):
        raise ConfigError(
            f"rouge_types must be a list of names, got the str {rouge_types!r}; pass ({rouge_types!r},)"
        )
    unknown = [name for name in rouge_types if not isinstance(name, str) or not _ROUGE_TYPE_PATTERN.fullmatch(name)]
    if unknown or not rouge_types:
        raise ConfigError(
            (f"unknown rouge types {unknown}" if unknown else "rouge_types is empty")
            + f"; use names among rouge1 ... rouge9, rougeL and rougeLsum, e.g. {ROUGE_TYPES}",
        )
    return tuple(rouge_types)


def _check_n_samples(n_samples):
    if not isinstance(n_samples, int) or n_samples < 1:
        raise ConfigError(f"n_samples must be a positive int, got {n_samples!r}; the usual value is 1000")
