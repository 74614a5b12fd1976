"""A BiLSTM sentiment classifier over pretrained word vectors that takes raw strings.

The model of the transfer-learning chapter: vectorization (vocabulary from the
training texts) and truncation live inside the model, then
Embedding(GloVe, frozen or tuned, padding masked) -> BiLSTM(64, sequences,
dropout 0.5) -> BiLSTM(64, dropout 0.25) -> Dense(1, sigmoid) = P(positive).

Three calls build it:
>>> vectorizer = review_vectorizer(train_texts)  # doctest: +SKIP
>>> matrix, report = embedding_matrix(load_word_vectors("glove-6b-50d"),
...                                   vectorizer.get_vocabulary())  # doctest: +SKIP
>>> model = bilstm_classifier(vectorizer, matrix, trainable_embeddings=False)  # doctest: +SKIP
>>> model.predict(tf.constant(["A wonderful film."]))  # doctest: +SKIP
array([[0.91]], dtype=float32)

The raw-string model wraps a token-id model (`token_model(model)`), which is
what goes to ONNX: strings are vectorized outside the graph by
`tfnlp.serving.word_pipeline.word_tokenizer` with the same vocabulary.
"""

from pathlib import Path

import keras
import tensorflow as tf
from keras import ops

from tfnlp.errors import ConfigError, DataError
from tfnlp.export.atomic import atomic_path
from tfnlp.serving.word_pipeline import KEEP, LINE_BREAKS, STANDARDIZATION

LOSS = "binary_crossentropy"


@keras.saving.register_keras_serializable(package="tfnlp")
def standardize_review(texts):
    """HTML line breaks to spaces, Unicode lower-case, apostrophes dropped, punctuation to spaces.

    Example:
    >>> standardize_review(tf.constant(["Don't miss it!<br />GREAT"])).numpy()
    array([b'dont miss it great'], dtype=object)
    """
    texts = tf.strings.regex_replace(texts, *LINE_BREAKS)
    texts = tf.strings.lower(texts, encoding="utf-8")
    for pattern, replacement in STANDARDIZATION:
        texts = tf.strings.regex_replace(texts, pattern, replacement)
    return texts


@keras.saving.register_keras_serializable(package="tfnlp")
class TruncateTokens(keras.layers.Layer):
    """Keep at most `length` token ids of each right-padded row: the first ones or the last ones.

    Rows stay right-padded with 0 (the kept tokens first), and the output is as
    wide as the longest kept row (at least 1), so short batches stay short.

    Example:
    >>> TruncateTokens(2, keep="last")(tf.constant([[5, 6, 7], [8, 0, 0]])).numpy().tolist()
    [[6, 7], [8, 0]]
    """

    def __init__(self, length=150, keep="first", **kwargs):
        super().__init__(**kwargs)
        if keep not in KEEP:
            raise ConfigError(f"keep={keep!r} is not one of {KEEP}.")
        if length < 1:
            raise ConfigError(f"The sequence length must be at least 1, got {length}.")
        self.length = length
        self.keep = keep

    def call(self, ids):
        # One padding column more: a batch of empty texts still has one (masked) step.
        ids = ops.pad(ids, [[0, 0], [0, 1]])
        lengths = ops.sum(ops.cast(ops.not_equal(ids, 0), "int32"), axis=1)
        width = ops.maximum(ops.minimum(ops.max(lengths), self.length), 1)
        if self.keep == "first":
            return ids[:, :width]
        start = ops.maximum(lengths - self.length, 0)
        steps = ops.arange(width, dtype="int32")
        taken = ops.take_along_axis(ids, start[:, None] + steps[None, :], axis=1)
        return ops.where(steps[None, :] < lengths[:, None], taken, ops.zeros_like(taken))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None)

    def get_config(self):
        return {**super().get_config(), "length": self.length, "keep": self.keep}


def review_vectorizer(texts, max_tokens=20000):
    """A `TextVectorization` layer whose vocabulary is the `max_tokens` most frequent words of `texts`.

    Ids 0 and 1 are padding and unknown words; texts are standardized by
    `standardize_review` (IMDb's `<br />` removed).

    Example:
    >>> review_vectorizer(["a good film", "a bad film"]).get_vocabulary()[:3]
    ['', '[UNK]', 'film']
    """
    texts = list(texts)
    bad = next((index for index, text in enumerate(texts) if not isinstance(text, str)), None)
    if not texts or bad is not None:
        found = "no texts" if not texts else f"texts[{bad}] is {texts[bad]!r}"
        raise DataError(f"the vocabulary is built from a non-empty list of strings; got {found}",
                        hint="drop or fill missing texts first")
    vectorizer = keras.layers.TextVectorization(max_tokens=max_tokens, standardize=standardize_review,
                                                name="vectorizer")
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(texts).batch(512))
    return vectorizer


def bilstm_token_model(embeddings, trainable_embeddings=False, units=64, dropout=(0.5, 0.25)):
    """The token-id part: `{"token_ids": int64[batch, steps]}` -> P(positive), shape `[batch, 1]`.

    Args:
        embeddings: the initial `(vocabulary_size, dim)` matrix (see
            `tfnlp.models.word_vectors.embedding_matrix`); id 0 is padding and masked.
        trainable_embeddings: tune the word vectors too (else they stay frozen).
        units: LSTM units per direction.
        dropout: input dropout of the first and of the second BiLSTM.
    """
    token_ids = keras.Input(shape=(None,), dtype="int64", name="token_ids")
    x = keras.layers.Embedding(*embeddings.shape, weights=[embeddings], mask_zero=True,
                               trainable=trainable_embeddings, name="embedding")(token_ids)
    x = keras.layers.Bidirectional(keras.layers.LSTM(units, return_sequences=True, dropout=dropout[0]),
                                   name="bilstm_1")(x)
    x = keras.layers.Bidirectional(keras.layers.LSTM(units, dropout=dropout[1]), name="bilstm_2")(x)
    probability = keras.layers.Dense(1, activation="sigmoid", name="probability")(x)
    return keras.Model({"token_ids": token_ids}, probability, name="token_model")


def bilstm_classifier(vectorizer, embeddings, sequence_length=150, keep="first", trainable_embeddings=False,
                      units=64, dropout=(0.5, 0.25)):
    """The raw-string model: `string[batch]` -> P(positive), shape `[batch, 1]`.

    Args:
        vectorizer: from `review_vectorizer` (its vocabulary must match `embeddings`' rows).
        embeddings: the initial embedding matrix, one row per vocabulary word.
        sequence_length: the most tokens per text.
        keep: `"first"` or `"last"`: which tokens a long text keeps.
        trainable_embeddings, units, dropout: as `bilstm_token_model`.

    `model.summary()` shows the trainable and the frozen (non-trainable)
    parameter counts; see also `tfnlp.models.parameters.parameter_counts`.
    """
    if embeddings.ndim != 2 or embeddings.shape[0] != vectorizer.vocabulary_size():
        raise ConfigError(
            f"The embedding matrix has shape {embeddings.shape} but the vectorizer has "
            f"{vectorizer.vocabulary_size()} words: build it with "
            "`embedding_matrix(word_vectors, vectorizer.get_vocabulary())`."
        )
    text = keras.Input(shape=(), dtype="string", name="text")
    token_ids = TruncateTokens(sequence_length, keep, name="truncate")(vectorizer(text))
    probability = bilstm_token_model(embeddings, trainable_embeddings, units, dropout)({"token_ids": token_ids})
    return keras.Model(text, probability, name="glove_bilstm")


def token_dataset(model, texts, labels=None, batch_size=32, shuffle=False, seed=None):
    """Batches of `{"token_ids"}` (and labels) made by the model's own vectorizer, for its token model.

    Vectorization runs in the `tf.data` pipeline and every batch is padded to
    the model's sequence length, so the token model trains with XLA at one
    shape (the raw-string model cannot: string ops have no XLA kernels).
    Training `token_model(model)` trains `model`: they share their layers.

    Example:
    >>> train = token_dataset(model, texts, labels, shuffle=True, seed=0)  # doctest: +SKIP
    >>> fit(token_model(model), train, loss=LOSS, metrics=bilstm_metrics())  # doctest: +SKIP
    """
    from tfnlp.data.pipeline import text_dataset

    vectorizer, truncate = model.get_layer("vectorizer"), model.get_layer("truncate")

    def to_token_ids(text, *rest):
        ids = truncate(vectorizer(text))
        ids = tf.pad(ids, [[0, 0], [0, truncate.length - tf.shape(ids)[1]]])
        return ({"token_ids": tf.ensure_shape(ids, [None, truncate.length])}, *rest)

    dataset = text_dataset(texts, labels, batch_size, shuffle=shuffle, seed=seed, bucket_by_length=False)
    return dataset.map(to_token_ids, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def bilstm_metrics():
    """Fresh Keras metrics for `fit(..., loss=LOSS, metrics=bilstm_metrics())`."""
    return ["accuracy", keras.metrics.Precision(name="precision"), keras.metrics.Recall(name="recall")]


def token_model(model):
    """The token-id part of a `bilstm_classifier` model (for ONNX)."""
    return model.get_layer("token_model")


def vectorization_settings(model):
    """`{"vocabulary", "sequence_length", "keep"}` of a `bilstm_classifier`, for `word_tokenizer`."""
    truncate = model.get_layer("truncate")
    return {
        "vocabulary": [str(word) for word in model.get_layer("vectorizer").get_vocabulary()],
        "sequence_length": truncate.length,
        "keep": truncate.keep,
    }


def export_bilstm_saved_model(model, path, label_names=("neg", "pos")):
    """Write a SavedModel whose `serving_default(text: string[batch])` gives `label`, `score`, `probability`.

    `probability` is P(positive); `label` the more likely class name and
    `score` its probability. Needs only TensorFlow to load (no tensorflow-text).
    Also `token_ids(token_ids: int64[batch, steps])` -> the same outputs, for
    clients that vectorize themselves (`word_tokenizer`; id 0 is padding), and
    `label_names()`.

    Example:
    >>> export_bilstm_saved_model(model, "saved_models/imdb/saved_model")  # doctest: +SKIP
    >>> served = tf.saved_model.load("saved_models/imdb/saved_model")  # doctest: +SKIP
    >>> served.signatures["serving_default"](text=tf.constant(["great film"]))["label"]  # doctest: +SKIP
    """
    names = tf.constant(list(label_names))

    def outputs(probability):
        positive = tf.reshape(probability, [-1])
        is_positive = positive >= 0.5
        return {
            "label": tf.gather(names, tf.cast(is_positive, tf.int32)),
            "score": tf.where(is_positive, positive, 1.0 - positive),
            "probability": positive,
        }

    def serve_text(text):
        return outputs(model(text, training=False))

    def serve_token_ids(token_ids):
        return outputs(token_model(model)({"token_ids": token_ids}, training=False))

    # Track the vocabulary's lookup table, not the whole model: that would save every weight twice.
    archive = keras.export.ExportArchive()
    archive.track(model.get_layer("vectorizer"))
    archive.add_endpoint("serving_default", serve_text,
                         input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    archive.add_endpoint("token_ids", serve_token_ids,
                         input_signature=[tf.TensorSpec([None, None], tf.int64, name="token_ids")])
    archive.add_endpoint("label_names", lambda: {"label_names": names}, input_signature=[])
    with atomic_path(path) as temporary:
        archive.write_out(str(temporary), verbose=False)
    return path


def export_bilstm_onnx(model, path, opset=17):
    """Export the token-id part to ONNX (the LSTMs become ONNX `Loop`s), and its vocabulary beside it.

    Writes `path` and `vocabulary.txt` in the same folder; serve both with
    `tfnlp.serving.word_pipeline.OnnxWordPipeline`. Returns `path`.
    """
    from tfnlp.export.onnx import export_onnx

    export_onnx(token_model(model), path, opset=opset, output_name="probability")
    vocabulary = vectorization_settings(model)["vocabulary"]
    with atomic_path(Path(path).with_name("vocabulary.txt")) as temporary:
        Path(temporary).write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    return path
