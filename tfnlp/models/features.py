"""Sentence features from a frozen encoder's hidden states (for classical classifiers)."""

import weakref

import numpy as np
import tensorflow as tf

from tfnlp.data.pipeline import text_dataset

POOLINGS = ("cls", "mean")


def extract_features(backbone, preprocessor, texts, pooling="mean", batch_size=64):
    """One vector per text from the last hidden states of `backbone`.

    Args:
        backbone: a keras-hub encoder backbone (its weights are not changed).
        preprocessor: the matching preprocessor (e.g. `load_preprocessor`).
        texts: a list of strings.
        pooling: `"cls"` takes the first token's state (as the chapter does
            with DistilBERT); `"mean"` averages over real tokens (how
            sentence-transformers models such as MiniLM were trained).
        batch_size: texts per forward pass.

    Returns:
        A float32 array of shape `(len(texts), hidden_dim)`, in input order.

    Example:
    >>> features = extract_features(load_encoder(), load_preprocessor(), ["hi"])  # doctest: +SKIP
    >>> features.shape  # doctest: +SKIP
    (1, 384)
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling={pooling!r} is not one of {POOLINGS}.")
    embed = _pooled_states(backbone, preprocessor, pooling)
    dataset = text_dataset(texts, batch_size=batch_size, bucket_by_length=False)
    return np.concatenate([embed(batch).numpy() for batch in dataset])


# backbone -> {(id(preprocessor), pooling): compiled function}. Each function keeps its preprocessor alive, so
# the id cannot be reused while the entry exists; an entry goes with its backbone.
_COMPILED = weakref.WeakKeyDictionary()


def _pooled_states(backbone, preprocessor, pooling):
    """One compiled function per (backbone, preprocessor, pooling): a retriever embedding one query per call
    would otherwise trace a new graph for every query."""
    functions = _COMPILED.setdefault(backbone, {})
    key = (id(preprocessor), pooling)
    if key not in functions:

        @tf.function(reduce_retracing=True)
        def embed(batch):
            inputs = preprocessor(batch)
            states = backbone(inputs, training=False)["sequence_output"]
            if pooling == "cls":
                return states[:, 0, :]
            mask = tf.cast(inputs["padding_mask"], states.dtype)[..., None]
            return tf.reduce_sum(states * mask, axis=1) / tf.reduce_sum(mask, axis=1)

        functions[key] = embed
    return functions[key]
