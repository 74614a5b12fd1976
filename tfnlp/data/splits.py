"""Holding out part of a split: for data sets that ship no validation split (IMDb)."""

from sklearn.model_selection import train_test_split

from tfnlp.errors import DataError


def holdout_split(frame, fraction=0.1, seed=42, stratify="label"):
    """Split a DataFrame into `(rest, held_out)`, both shuffled, class proportions kept.

    Args:
        frame: the rows to split (e.g. IMDb's train split, sorted by label).
        fraction: the share of rows held out, between 0 and 1.
        seed: makes the split repeatable.
        stratify: the column whose class proportions both parts keep; `None` for none.

    Example:
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"text": list("abcdefghij"), "label": [0] * 5 + [1] * 5})
    >>> train, validation = holdout_split(frame, fraction=0.2)
    >>> len(train), sorted(validation["label"])
    (8, [0, 1])
    """
    if not 0 < fraction < 1:
        raise DataError(f"the held-out fraction must be between 0 and 1, got {fraction}",
                        hint="e.g. 0.1 holds out a tenth of the rows")
    labels = frame[stratify] if stratify is not None else None
    rest, held_out = train_test_split(frame, test_size=fraction, random_state=seed, stratify=labels)
    return rest.reset_index(drop=True), held_out.reset_index(drop=True)
