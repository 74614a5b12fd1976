"""Text (or text-pair) regression on a pretrained encoder: one continuous score, mean squared error."""

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from tfnlp.errors import DataError
from tfnlp.metrics.regression import PearsonR
from tfnlp.models.classifier import _pooled_output
from tfnlp.models.encoders import load_encoder, load_preprocessor

TOKEN_INPUTS = ("token_ids", "padding_mask", "segment_ids")


@keras.saving.register_keras_serializable(package="tfnlp")
class EncoderRegressor(keras_hub.models.Task):
    """A pretrained encoder with a linear head giving one score per text or pair.

    Trained with mean squared error; the running metric is the Pearson
    correlation over the whole evaluation set (`PearsonR`). For pairs
    (`[CLS] a [SEP] b [SEP]`, as STS-B), pass `(first_texts, second_texts)`.

    Args:
        backbone: a keras-hub encoder backbone (see `load_encoder`).
        preprocessor: turns raw strings (or pairs of them) into the backbone's
            inputs; `None` if the inputs are already token ids.
        text_pairs: whether the model scores pairs; the raw-string SavedModel
            signature then takes `text` and `text_pair`.
        dropout: dropout rate before the head.

    Example:
    >>> regressor = EncoderRegressor.from_preset("minilm-l6")  # doctest: +SKIP
    >>> regressor.fit(x=(["a cat sits"], ["a cat is sitting"]), y=[4.6], batch_size=1)  # doctest: +SKIP
    >>> regressor.predict_scores(["a man sings"], ["a dog runs"])  # doctest: +SKIP
    array([0.4], dtype=float32)
    """

    def __init__(self, backbone, preprocessor=None, text_pairs=True, dropout=0.1, **kwargs):
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        dtype = backbone.dtype_policy  # the head computes in the backbone's precision (see EncoderClassifier)
        self.head_dropout = keras.layers.Dropout(dropout, dtype=dtype, name="head_dropout")
        self.score_dense = keras.layers.Dense(1, dtype=dtype, name="score_dense")
        self.to_score = keras.layers.Reshape((), dtype=dtype, name="score")
        # === Functional model ===
        inputs = backbone.input
        x = self.to_score(self.score_dense(self.head_dropout(_pooled_output(backbone, inputs))))
        super().__init__(inputs=inputs, outputs=x, **kwargs)
        # === Config ===
        self.text_pairs = text_pairs
        self.dropout = dropout

    @classmethod
    def from_preset(cls, preset, sequence_length=128, truncate="longest_first", **kwargs):
        """Build a regressor on the pretrained encoder named by `preset`.

        Args:
            preset: offline preset name, local directory or hub id.
            sequence_length: the most tokens per text or pair.
            truncate: how pairs are cut: `"longest_first"`, `"only_first"`
                or `"only_second"`.
            **kwargs: `text_pairs`, `dropout`.
        """
        return cls(
            backbone=load_encoder(preset),
            preprocessor=load_preprocessor(preset, sequence_length, truncate),
            **kwargs,
        )

    def compile(self, optimizer="auto", loss="auto", *, metrics="auto", **kwargs):
        """`keras.Model.compile` defaulting to Adam, mean squared error and `PearsonR`."""
        super().compile(
            optimizer=keras.optimizers.Adam(5e-5) if optimizer == "auto" else optimizer,
            loss=keras.losses.MeanSquaredError() if loss == "auto" else loss,
            metrics=[PearsonR()] if metrics == "auto" else metrics,
            **kwargs,
        )

    def predict_scores(self, texts, text_pairs=None, batch_size=64):
        """Scores of `texts` (or of the pairs `texts[i]`, `text_pairs[i]`), in input order.

        Example:
        >>> regressor.predict_scores(["a cat sits"], ["a cat is sitting"])  # doctest: +SKIP
        array([4.4], dtype=float32)
        """
        return predict_texts(self, texts, text_pairs, batch_size)

    def serving_endpoints(self):
        """SavedModel endpoints: name -> (function, input signature); see `export_saved_model`.

        `serving_default(text[, text_pair])` -> `score`; `token_ids(token_ids,
        padding_mask, segment_ids)` -> `score`.
        """

        def score(inputs):
            return {"score": self(inputs, training=False)}

        def score_pairs(text, text_pair):
            return score(self.preprocessor(x=(text, text_pair)))

        def score_texts(text):
            return score(self.preprocessor(text))

        def score_token_ids(token_ids, padding_mask, segment_ids):
            return score({"token_ids": token_ids, "padding_mask": padding_mask, "segment_ids": segment_ids})

        if self.text_pairs:
            strings = (score_pairs, [tf.TensorSpec([None], tf.string, name=n) for n in ("text", "text_pair")])
        else:
            strings = (score_texts, [tf.TensorSpec([None], tf.string, name="text")])
        return {
            "serving_default": strings,
            "token_ids": (score_token_ids, [tf.TensorSpec([None, None], tf.int32, name=n) for n in TOKEN_INPUTS]),
        }

    def get_config(self):
        config = super().get_config()
        config.update(text_pairs=self.text_pairs, dropout=self.dropout)
        return config


def predict_texts(model, texts, text_pairs=None, batch_size=64):
    """The outputs of a task with a string preprocessor for `texts` (or pairs), in input order.

    Use this rather than `model.predict` on a dataset of unlabelled pairs, whose
    `(first, second)` elements keras-hub takes for `(x, y)`.

    Example:
    >>> predict_texts(classifier, ["a cat sits"], ["a cat is sitting"]).shape  # doctest: +SKIP
    (1, 2)
    """
    texts = list(texts)
    pairs = None if text_pairs is None else list(text_pairs)
    if pairs is not None and len(pairs) != len(texts):
        raise DataError(f"{len(texts)} texts but {len(pairs)} text pairs")
    forward = tf.function(
        lambda x: model(model.preprocessor(x=x), training=False), reduce_retracing=True, autograph=False
    )
    outputs = []
    for start in range(0, len(texts), batch_size):
        first = tf.constant(texts[start : start + batch_size])
        outputs.append(forward(first if pairs is None else (first, tf.constant(pairs[start : start + batch_size]))))
    return np.concatenate([output.numpy() for output in outputs])
