"""`tf.data` input pipelines: raw strings in, batches grouped by length out.

Tokenization and padding happen in the model's preprocessor (see
`tfnlp.models.DynamicPaddingPreprocessor`), which pads each batch to its longest
text; grouping texts of similar length into the same batch keeps that padding small.
"""

import numpy as np
import tensorflow as tf

from tfnlp.errors import DataError

# Set by `tfnlp.training.callbacks.ShuffleEpoch`; created here, outside any
# distribution strategy's scope, so it stays a plain host variable.
SHUFFLE_EPOCH = tf.Variable(0, dtype=tf.int64, trainable=False, name="tfnlp_shuffle_epoch")


def _as_string_array(texts, name="texts"):
    array = np.asarray(list(texts), dtype=object)
    if array.ndim != 1 or len(array) == 0:
        raise DataError(f"`{name}` must be a non-empty list of strings, got shape {array.shape}.")
    if not all(isinstance(text, str) for text in array):
        bad = next(i for i, text in enumerate(array) if not isinstance(text, str))
        raise DataError(
            f"`{name}`[{bad}] is {array[bad]!r} ({type(array[bad]).__name__}), not a string.",
            hint="drop or fill missing values before building the dataset.",
        )
    return array.astype(str)


def word_counts(texts):
    """Whitespace-separated words per text: a cheap proxy for token length."""
    return np.array([len(text.split()) for text in texts])


def length_boundaries(lengths, num_buckets=8):
    """Bucket boundaries at the quantiles of `lengths` (distinct, increasing)."""
    quantiles = np.quantile(lengths, np.linspace(0, 1, num_buckets + 1)[1:-1])
    return sorted({int(q) + 1 for q in quantiles})


def text_dataset(
    texts,
    labels=None,
    batch_size=32,
    shuffle=False,
    seed=None,
    bucket_by_length=True,
    num_buckets=8,
):
    """Batches of raw strings (and labels) for `fit`, `evaluate` and `predict`.

    Args:
        texts: a list of strings, or a pair `(first_texts, second_texts)` for
            text-pair tasks.
        labels: class ids or regression targets, or `None` for prediction; or
            a dict of such arrays (e.g. `tfnlp.training.with_teacher_logits`).
        batch_size: texts per batch.
        shuffle: reshuffle every epoch (for training), in an order that depends
            only on `seed` and the epoch (see `SHUFFLE_EPOCH`).
        seed: the shuffling seed (default: a random one).
        bucket_by_length: batch texts of similar word counts together, so
            dynamic padding wastes little; batches are then not in input order,
            so leave it off where outputs must line up with inputs
            (`predict`).
        num_buckets: number of length groups.

    Example:
    >>> ds = text_dataset(["i feel great", "so sad"], [1, 0], batch_size=2)
    >>> next(iter(ds))[1].numpy()
    array([1, 0], dtype=int32)
    """
    is_pair = isinstance(texts, tuple)
    columns = tuple(_as_string_array(t, f"texts[{i}]") for i, t in enumerate(texts)) if is_pair else (
        _as_string_array(texts),
    )
    if is_pair and len({len(c) for c in columns}) != 1:
        raise DataError(f"The two text columns differ in length: {[len(c) for c in columns]}.")
    features = columns if is_pair else columns[0]
    if labels is not None:
        labels = {key: _label_array(value, len(columns[0]), key) for key, value in labels.items()} if isinstance(
            labels, dict) else _label_array(labels, len(columns[0]), "labels")
        elements = (features, labels)
    else:
        elements = features
    if shuffle:
        dataset = _epoch_shuffled(elements, len(columns[0]), seed)
    else:
        dataset = tf.data.Dataset.from_tensor_slices(elements)
    if bucket_by_length and len(columns[0]) > batch_size:
        lengths = sum(word_counts(column) for column in columns)
        boundaries = length_boundaries(lengths, num_buckets)
        dataset = dataset.bucket_by_sequence_length(
            element_length_func=lambda *element: _element_words(element[0]),
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        )
    else:
        dataset = dataset.batch(batch_size)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _label_array(values, size, name):
    values = np.asarray(values)
    if len(values) != size:
        raise DataError(f"{size} texts but {len(values)} {name}.")
    return values.astype("int32") if np.issubdtype(values.dtype, np.integer) else values.astype("float32")


def shuffled_range(size, seed=None):
    """The indices `0 .. size-1` in a new order each epoch, the order keyed by `(seed, SHUFFLE_EPOCH)` alone.

    Every shuffled tfnlp dataset draws its order from here, so a resumed run
    replays the uninterrupted run's order (see `tfnlp.training.callbacks.ShuffleEpoch`).

    Example:
    >>> sorted(int(i) for i in shuffled_range(4, seed=0))
    [0, 1, 2, 3]
    """
    seed = int(np.random.default_rng().integers(2**31)) if seed is None else int(seed)

    def permutation(_):
        key = tf.stack([tf.constant(seed, tf.int64), SHUFFLE_EPOCH.read_value()])
        return tf.data.Dataset.from_tensor_slices(tf.random.experimental.stateless_shuffle(tf.range(size), key))

    order = tf.data.Dataset.from_tensors(0).flat_map(permutation)
    return order.apply(tf.data.experimental.assert_cardinality(size))


def _epoch_shuffled(elements, size, seed):
    """`from_tensor_slices(elements)` in the order of `shuffled_range(size, seed)`."""
    tensors = tf.nest.map_structure(tf.constant, elements)
    return shuffled_range(size, seed).map(lambda index: tf.nest.map_structure(lambda t: tf.gather(t, index), tensors))


def _element_words(features):
    texts = features if isinstance(features, tuple) else (features,)
    return tf.add_n([tf.size(tf.strings.split(text)) for text in texts])
