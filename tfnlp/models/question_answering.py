"""Extractive question answering on a pretrained encoder: token ids in, start/end logits out.

keras-hub has no span-QA task; `QuestionAnswerer` follows its `Task` layout (a
backbone, a head, default `compile`) and carries the encoder's tokenizer, so a
reloaded `.keras` file can window new questions and contexts by itself.
Windows are built outside the graph (`tfnlp.data.qa`), because one long context
gives several windows and answers need the tokens' character offsets.
"""

import keras
import keras_hub
import tensorflow as tf
from keras import ops

from tfnlp.data.qa import MODEL_INPUTS, qa_features
from tfnlp.models.encoders import load_encoder, load_tokenizer
from tfnlp.serving.fast_tokenizer import fast_tokenizer_from_keras_hub

# Added to the logits of padding, so neither softmax nor loss ever picks it
# (BERT's own masking constant; small enough for float16).
_PADDING_LOGIT = -10000.0


@keras.saving.register_keras_serializable(package="tfnlp")
class SpanLogits(keras.layers.Layer):
    """A dense layer giving each token a start and an end logit; padding masked out."""

    def __init__(self, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.dense = keras.layers.Dense(2, kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy,
                                        name="dense")

    def build(self, sequence_shape, padding_mask_shape=None):
        self.dense.build(sequence_shape)

    def call(self, sequence, padding_mask):
        logits = self.dense(sequence)
        keep = ops.cast(padding_mask, "bool")
        start = ops.where(keep, logits[..., 0], _PADDING_LOGIT)
        end = ops.where(keep, logits[..., 1], _PADDING_LOGIT)
        return start, end

    def get_config(self):
        return {**super().get_config(),
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}


@keras.saving.register_keras_serializable(package="tfnlp")
class QuestionAnswerer(keras_hub.models.Task):
    """An encoder with a span head: `{"start_logits", "end_logits"}` per token.

    Trains with `fit` on `QAFeatures.dataset(...)` batches (labels: the start
    and end token of the answer, 0 = `[CLS]` for "no answer"); the loss is the
    sum of the two cross-entropies.

    Args:
        backbone: a keras-hub encoder backbone (see `load_encoder`).
        tokenizer: the backbone's keras-hub WordPiece tokenizer (saved with
            the model; needed by `features`).
        max_length: the most tokens per window.
        stride: tokens shared by consecutive windows of a long context.
        dropout: dropout before the span head.

    Example:
    >>> model = QuestionAnswerer.from_preset("minilm-l6")  # doctest: +SKIP
    >>> train = model.features(questions, contexts, answers).dataset(16, shuffle=True)  # doctest: +SKIP
    >>> fit(model, train, epochs=2, learning_rate=1e-4)  # doctest: +SKIP
    >>> QuestionAnsweringPipeline(model)("Who wrote it?", "Ann wrote it.")  # doctest: +SKIP
    {'answer': 'Ann', 'score': 0.93, 'start': 0, 'end': 3}
    """

    def __init__(self, backbone, tokenizer=None, max_length=384, stride=128, dropout=0.1, **kwargs):
        # === Layers ===
        self.backbone = backbone
        self.tokenizer = tokenizer
        dtype = backbone.dtype_policy  # the head computes in the backbone's precision (see EncoderClassifier)
        self.output_dropout = keras.layers.Dropout(dropout, dtype=dtype, name="output_dropout")
        self.span_logits = SpanLogits(
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02), dtype=dtype, name="span_logits"
        )
        # === Functional model ===
        inputs = backbone.input
        sequence = backbone(inputs)["sequence_output"]
        start, end = self.span_logits(self.output_dropout(sequence), inputs["padding_mask"])
        outputs = {"start_logits": start, "end_logits": end}
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        # === Config ===
        self.max_length = max_length
        self.stride = stride
        self.dropout = dropout
        self._fast_tokenizer = None
        self._forward = None
        _freeze_unused_pooler(backbone)

    @classmethod
    def from_preset(cls, preset="minilm-l6", max_length=384, stride=128, **kwargs):
        """The pretrained encoder named by `preset` with a new span head.

        Args:
            preset: offline preset name, local Hugging Face directory or hub id.
            max_length, stride: the windows (defaults as Hugging Face's QA examples).
            **kwargs: `dropout`.
        """
        return cls(load_encoder(preset), load_tokenizer(preset), max_length=max_length, stride=stride, **kwargs)

    def compile(self, optimizer="auto", loss="auto", *, metrics="auto", **kwargs):
        """keras-hub's convention: `"auto"` gives AdamW(5e-5), span cross-entropy and accuracy."""
        if optimizer == "auto":
            optimizer = keras.optimizers.AdamW(5e-5)
        if loss == "auto":
            loss = {name: keras.losses.SparseCategoricalCrossentropy(from_logits=True)
                    for name in ("start_logits", "end_logits")}
        if metrics == "auto":
            metrics = {name: [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
                       for name in ("start_logits", "end_logits")}
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def fast_tokenizer(self):
        """The Rust tokenizer giving the ids of `self.tokenizer`, with character offsets."""
        if self.tokenizer is None:
            raise ValueError(
                "This QuestionAnswerer has no tokenizer: build it with `QuestionAnswerer.from_preset(...)` "
                "or pass `tokenizer=load_tokenizer(preset)`."
            )
        if self._fast_tokenizer is None:
            self._fast_tokenizer = fast_tokenizer_from_keras_hub(self.tokenizer, self.max_length)
        return self._fast_tokenizer

    def features(self, questions, contexts, answers=None):
        """`qa_features` with this model's tokenizer, `max_length` and `stride`."""
        return qa_features(questions, contexts, self.fast_tokenizer(), answers, self.max_length, self.stride)

    def predict_logits(self, features, batch_size=32):
        """Start and end logits of every window (one array per window, in window order).

        One compiled call per batch of windows sorted by length (no
        `Model.predict` overhead, little padding).
        """
        if self._forward is None:
            self._forward = tf.function(
                lambda inputs: self(inputs, training=False), reduce_retracing=True
            )
        starts, ends = [None] * len(features), [None] * len(features)
        for indices, inputs in features.batches(batch_size):
            outputs = self._forward({name: tf.constant(inputs[name]) for name in MODEL_INPUTS})
            start, end = outputs["start_logits"].numpy(), outputs["end_logits"].numpy()
            for row, window in enumerate(indices):
                size = len(features.token_ids[window])
                starts[window], ends[window] = start[row, :size], end[row, :size]
        return starts, ends

    def serving_endpoints(self):
        """SavedModel endpoints: name -> (function, input signature); see `export_saved_model`.

        `serving_default(question, context)` (strings `[batch]`) -> `answer`,
        `score`, `start`, `end` (character offsets in the context, `end`
        exclusive): tokenization, windows and span decoding run in the graph
        (`tfnlp.models.qa_serving`), with the answers of
        `QuestionAnsweringPipeline`. `token_ids(token_ids, padding_mask,
        segment_ids)` (int32 `[windows, seq]`) -> `start_logits`,
        `end_logits`, for clients that window with `qa_features` and decode
        with `decode_answers`; `window_config()` -> `max_length`, `stride`.
        """
        from tfnlp.models.qa_serving import answer_endpoint

        def span_logits(token_ids, padding_mask, segment_ids):
            inputs = {"token_ids": token_ids, "padding_mask": padding_mask, "segment_ids": segment_ids}
            outputs = self(inputs, training=False)
            return {"start_logits": outputs["start_logits"], "end_logits": outputs["end_logits"]}

        window = {"max_length": tf.constant(self.max_length), "stride": tf.constant(self.stride)}
        return {
            "serving_default": answer_endpoint(self),
            "token_ids": (span_logits, [tf.TensorSpec([None, None], tf.int32, name=name) for name in MODEL_INPUTS]),
            "window_config": (lambda: window, []),
        }

    def get_compile_config(self):
        # `compile()` runs with the defaults on construction, so a reloaded
        # model is ready; `fit` compiles again with its own optimizer.
        return None

    def get_config(self):
        config = super().get_config()
        config.update(
            tokenizer=None if self.tokenizer is None else keras.layers.serialize(self.tokenizer),
            max_length=self.max_length,
            stride=self.stride,
            dropout=self.dropout,
        )
        return config

    @classmethod
    def from_config(cls, config):
        if isinstance(config.get("tokenizer"), dict):
            config["tokenizer"] = keras.layers.deserialize(config["tokenizer"])
        return super().from_config(config)


def _freeze_unused_pooler(backbone):
    """Spans use the token states, not the pooled `[CLS]` output: its layer gets no gradient."""
    try:
        backbone.get_layer("pooled_dense").trainable = False
    except ValueError:  # a backbone without a pooler
        pass
