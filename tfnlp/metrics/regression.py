"""Regression metrics: Pearson and Spearman correlation (STS-B's figures), and a streaming Pearson for Keras.

`keras.metrics.PearsonCorrelation` averages the correlation of each batch, which is
not the correlation over the whole evaluation set; `PearsonR` accumulates sums and
is exact for any batching.
"""

import keras
import numpy as np
import pandas as pd
from keras import ops

from tfnlp.errors import DataError


def _as_scores(values, name):
    array = np.asarray(values, dtype="float64").reshape(-1)
    if not np.isfinite(array).all():
        row = int(np.argmin(np.isfinite(array)))
        raise DataError(
            f"{name}[{row}] is {array[row]}, not a finite number",
            hint="remove or fill the rows without a score before computing correlations",
        )
    return array


def _check_pair(labels, predictions):
    labels, predictions = _as_scores(labels, "labels"), _as_scores(predictions, "predictions")
    if len(labels) != len(predictions):
        raise DataError(f"{len(labels)} labels but {len(predictions)} predictions")
    if len(labels) < 2:
        raise DataError("a correlation needs at least 2 scored examples", hint="evaluate on more examples")
    for name, values in (("labels", labels), ("predictions", predictions)):
        if np.ptp(values) == 0:
            raise DataError(
                f"all {name} are equal ({values[0]}), so the correlation is undefined",
                hint="check the scores column, or train longer if the model predicts one value",
            )
    return labels, predictions


def _pearson(x, y):
    x, y = x - x.mean(), y - y.mean()
    return float(np.dot(x, y) / np.sqrt(np.dot(x, x) * np.dot(y, y)))


def pearson(labels, predictions):
    """Pearson's linear correlation over all examples.

    Example:
    >>> round(pearson([1, 2, 3, 4], [1.1, 1.9, 3.2, 3.9]), 4)
    0.9957
    """
    return _pearson(*_check_pair(labels, predictions))


def spearman(labels, predictions):
    """Spearman's rank correlation: Pearson of the ranks, ties sharing their mean rank.

    Example:
    >>> spearman([1, 2, 3, 4], [1, 4, 9, 16])
    1.0
    """
    labels, predictions = _check_pair(labels, predictions)
    rank = lambda values: pd.Series(values).rank(method="average").to_numpy()  # noqa: E731
    return _pearson(rank(labels), rank(predictions))


def regression_metrics(labels, predictions):
    """Pearson, Spearman and mean squared error, as plain floats.

    Example:
    >>> regression_metrics([0.0, 2.5, 5.0], [0.5, 2.0, 4.0])["spearman"]
    1.0
    """
    labels_array, predictions_array = _check_pair(labels, predictions)
    return {
        "pearson": pearson(labels_array, predictions_array),
        "spearman": spearman(labels_array, predictions_array),
        "mse": float(np.mean((labels_array - predictions_array) ** 2)),
    }


def check_scores(values, score_range=None, source=None, first_line=None):
    """Raises DataError for a score that is missing, not a number, or outside `score_range`.

    Args:
        values: the scores, one per row.
        score_range: `(low, high)`, both included, or None for any finite number.
        source: the file the scores come from, for the message.
        first_line: the file's line of the first score (2 after a header), or None.

    Returns:
        The scores as a float64 array.

    Example:
    >>> check_scores(["3.8", "5.0"], (0, 5)).tolist()
    [3.8, 5.0]
    """
    values = pd.Series(list(values))
    scores = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
    bad = ~np.isfinite(scores)
    if score_range is not None:
        low, high = score_range
        bad |= (scores < low) | (scores > high)
    if bad.any():
        row = int(np.argmax(bad))
        value = values.iloc[row]
        value = value.item() if isinstance(value, np.generic) else value
        wanted = f"a number from {score_range[0]} to {score_range[1]}" if score_range else "a number"
        raise DataError(
            f"the score {value!r} at row {row + 1} is not {wanted} ({int(bad.sum())} such rows)",
            source,
            None if first_line is None else first_line + row,
            hint=f"write {wanted} for every scored row, or pass the data's own score range",
        )
    return scores


@keras.saving.register_keras_serializable(package="tfnlp")
class PearsonR(keras.metrics.Metric):
    """Pearson correlation over every batch seen, from running sums (exact for any batching).

    Example:
    >>> metric = PearsonR()
    >>> metric.update_state([1.0, 2.0], [1.0, 2.5]); metric.update_state([3.0], [2.9])
    >>> round(float(metric.result()), 4)
    0.9672
    """

    def __init__(self, name="pearson", dtype="float64", **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        self._sums = [
            self.add_variable(shape=(), initializer="zeros", name=f"sum_{part}", dtype=dtype)
            for part in ("n", "x", "y", "xx", "yy", "xy")
        ]

    def update_state(self, y_true, y_pred, sample_weight=None):
        x = ops.reshape(ops.cast(y_true, self.dtype), (-1,))
        y = ops.reshape(ops.cast(y_pred, self.dtype), (-1,))
        values = (ops.cast(ops.size(x), self.dtype), x, y, x * x, y * y, x * y)
        for total, value in zip(self._sums, values):
            total.assign_add(ops.sum(value))

    def result(self):
        n, x, y, xx, yy, xy = self._sums
        covariance = xy - x * y / n
        variance = (xx - x * x / n) * (yy - y * y / n)
        return ops.where(variance > 0, covariance / ops.sqrt(ops.maximum(variance, 1e-300)), 0.0)

    def reset_state(self):
        for total in self._sums:
            total.assign(0.0)
