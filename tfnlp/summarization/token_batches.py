"""What decoder-only and encoder-decoder fine-tuning share: pair checks, padded id batches, and the fit call."""

import keras
import numpy as np
import tensorflow as tf

from tfnlp.errors import DataError
from tfnlp.training.fit import fit


def check_pairs(texts, summaries):
    """`texts` and `summaries` as lists of str, one summary per text, at least one pair."""
    texts, summaries = [str(text) for text in texts], [str(summary) for summary in summaries]
    if len(texts) != len(summaries):
        raise DataError(f"{len(texts)} texts but {len(summaries)} summaries", hint="pass one summary per text")
    if not texts:
        raise DataError("no training examples", hint="pass at least one text and summary")
    return texts, summaries


def padded(rows, pad=0, dtype="int32"):
    """Rows of different lengths as one `(rows, longest)` array, and its mask (True on real entries)."""
    values = np.full((len(rows), max(map(len, rows))), pad, dtype)
    mask = np.zeros(values.shape, bool)
    for i, row in enumerate(rows):
        values[i, : len(row)], mask[i, : len(row)] = row, True
    return values, mask


def batches_dataset(batches):
    """A `tf.data.Dataset` over prepared `(x dict, labels, weights)` NumPy batches (shapes vary by batch)."""
    x, _, _ = batches[0]
    signature = (
        {key: tf.TensorSpec((None, None), tf.as_dtype(value.dtype)) for key, value in x.items()},
        tf.TensorSpec((None, None), tf.int32),
        tf.TensorSpec((None, None), tf.float32),
    )
    dataset = tf.data.Dataset.from_generator(lambda: iter(batches), output_signature=signature)
    return dataset.apply(tf.data.experimental.assert_cardinality(len(batches)))


def fit_on_summary_tokens(task, train, validation=None, **options):
    """`tfnlp.training.fit` on token-id batches: the mean cross-entropy over the weighted (summary) tokens.

    The task's own `fit` would run its string preprocessor; the model fitted shares the task's layers and
    takes ids.
    """
    trainer = keras.Model(task.input, task.output)
    return fit(
        trainer, train, validation,
        # The mean over the summary tokens, not over every position of the padded batch.
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight"),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="token_accuracy")],
        **options,
    )
