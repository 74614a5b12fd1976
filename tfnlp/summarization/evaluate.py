"""Runs a summarizer over a data set in batches and scores its summaries with ROUGE."""

from tfnlp.errors import ConfigError, DataError
from tfnlp.metrics.rouge import ROUGE_TYPES, rouge


def evaluate_summaries(
    dataset,
    summarizer,
    text_column="article",
    summary_column="highlights",
    batch_size=16,
    progress=True,
    rouge_types=ROUGE_TYPES,
):
    """Summarizes every text of a data set and scores the summaries against the references with ROUGE.

    Args:
        dataset: a table with a text and a summary column: a DataFrame (as `load_dataset(name, split=...)`
            returns), a dict of lists, or a Hugging Face `datasets.Dataset`.
        summarizer: a function from a list of texts to a list of summaries (str), one per text.
        text_column: the column of texts to summarize ("dialogue" for SAMSum).
        summary_column: the column of reference summaries ("summary" for SAMSum).
        batch_size: the number of texts given to `summarizer` at a time.
        progress: whether to show a progress bar.
        rouge_types: the ROUGE variants to compute (see `tfnlp.metrics.rouge`).

    Returns:
        `(scores, summaries)`: the `tfnlp.metrics.rouge` dict (rouge type -> {"low", "mid", "high"} F-measures)
        and the generated summaries, in the data set's order.

    Example:
    >>> from tfnlp.data import load_dataset
    >>> from tfnlp.summarization import lead_3
    >>> validation = load_dataset("cnn_dailymail", split="validation")
    >>> scores, summaries = evaluate_summaries(validation, lambda texts: [lead_3(text) for text in texts])
    >>> scores["rouge1"]["mid"]  # doctest: +SKIP
    0.28...
    """
    texts = _column(dataset, text_column, "text_column")
    references = _column(dataset, summary_column, "summary_column")
    if not texts:
        raise DataError("the data set has no rows to summarize", hint="pass a data set with at least one row")
    summaries = _summarize(texts, summarizer, batch_size, progress)
    return rouge(summaries, references, rouge_types=rouge_types), summaries


def _summarize(texts, summarizer, batch_size, progress):
    """Calls `summarizer` on batches of `texts`, with a progress bar, and checks what it returns."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive int, got {batch_size!r}")
    from tqdm.auto import tqdm  # imported on first use, like the metrics' packages

    summaries = []
    with tqdm(total=len(texts), desc="summarizing", unit="text", disable=not progress) as bar:
        for start in range(0, len(texts), batch_size):
            batch = texts[start : start + batch_size]
            summaries += _checked_summaries(summarizer(batch), len(batch), start)
            bar.update(len(batch))
    return summaries


def _checked_summaries(summaries, n_texts, start):
    how_to_fix = (
        "the summarizer must return a list with one summary (a str) per text, in order; wrap a pipeline that "
        "returns dicts, e.g. lambda texts: [result['summary_text'] for result in pipeline(texts)]"
    )
    if isinstance(summaries, str):
        raise DataError(f"the summarizer returned one str for the {n_texts} texts from row {start}", hint=how_to_fix)
    summaries = list(summaries)
    if len(summaries) != n_texts:
        raise DataError(
            f"the summarizer returned {len(summaries)} summaries for the {n_texts} texts from row {start}",
            hint=how_to_fix,
        )
    for offset, summary in enumerate(summaries):
        if not isinstance(summary, str):
            raise DataError(
                f"the summarizer returned a {type(summary).__name__} for row {start + offset}: {summary!r:.80}",
                hint=how_to_fix,
            )
    return summaries


def _column(dataset, name, argument):
    try:
        return list(dataset[name])
    except KeyError:
        columns = getattr(dataset, "column_names", None) or list(dataset.keys())
        raise DataError(
            f"the data set has no column {name!r}; its columns are {list(columns)}",
            hint=f"pass the right name as {argument}=...",
        ) from None
