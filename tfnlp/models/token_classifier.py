"""Token tagging (NER) on a pretrained encoder: word-level tags through word-piece alignment.

Each word is split into word pieces by the encoder's own tokenizer; the first
piece of a word carries its tag and the other pieces (and `[CLS]`, `[SEP]`,
padding) get the label -100, which the loss and the accuracy ignore (as
Hugging Face's token-classification fine-tuning). At prediction time the tag of
a word is read at its first piece; a word whose pieces were cut by
`sequence_length` (or a word with no piece at all) is tagged "O".
"""

import keras
import keras_hub
import tensorflow as tf
import tensorflow_text as tf_text

from tfnlp.errors import ConfigError
from tfnlp.models.encoders import load_encoder, load_tokenizer
from tfnlp.serving.tagging import WORD_SPLIT, WORD_SPLIT_KEEP, WordTagging

IGNORE_LABEL = -100
TOKEN_INPUTS = ("token_ids", "padding_mask", "segment_ids")


@keras.saving.register_keras_serializable(package="tfnlp")
class TokenClassifierPreprocessor(keras_hub.models.Preprocessor):
    """Words -> `[CLS] pieces [SEP]` token ids, and word tags -> first-piece labels.

    Takes a batch of word lists (a ragged string tensor `[batch, (words)]` or a
    list of lists) and, for training, word-level tag ids of the same shape.
    Each batch is padded only to its longest sequence.

    Args:
        tokenizer: a keras-hub BERT tokenizer (see `load_tokenizer`).
        sequence_length: the most tokens per sentence, `[CLS]` and `[SEP]` included.

    Example:
    >>> preprocessor = TokenClassifierPreprocessor(load_tokenizer("minilm-l6"))  # doctest: +SKIP
    >>> x, y = preprocessor([["EU", "rejects", "Germany"]], [[3, 0, 5]])  # doctest: +SKIP
    >>> y.numpy()  # "germany" is two pieces: only the first is labelled  # doctest: +SKIP
    array([[-100, 3, 0, 5, -100, -100]], dtype=int32)
    """

    def __init__(self, tokenizer, sequence_length=128, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.sequence_length = sequence_length
        self._graph_call = tf.function(self._pack, reduce_retracing=True)

    def build(self, input_shape):
        super().build(input_shape)
        self.packer = keras_hub.layers.MultiSegmentPacker(
            sequence_length=self.sequence_length,
            start_value=self.tokenizer.start_token_id,
            end_value=self.tokenizer.end_token_id,
            pad_value=self.tokenizer.pad_token_id,
        )
        self.label_packer = keras_hub.layers.MultiSegmentPacker(
            sequence_length=self.sequence_length,
            start_value=IGNORE_LABEL,
            end_value=IGNORE_LABEL,
            pad_value=IGNORE_LABEL,
        )

    def call(self, x, y=None, sample_weight=None):
        # keras-hub's tokenizers return Python lists outside a graph; packing
        # uses ragged tensor ops, so eager calls run through a tf.function.
        words = _as_ragged_words(x)
        labels = None if y is None else _as_ragged_labels(y)
        if tf.executing_eagerly():
            x, y, _ = self._graph_call(words, labels)
        else:
            x, y, _ = self._pack(words, labels)
        return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)

    def pack_words(self, words):
        """The model inputs of `words` and each word's first-piece position.

        Returns `(x, positions)`: `positions` is a dense int32 tensor
        `[batch, max_words]` holding where each word's first piece sits in the
        packed sequence, -1 for a word with no piece left (and past each
        sentence's words); gather the model's per-token outputs there.
        """
        if not self.built:
            self.build(None)
        words = _as_ragged_words(words)
        x, _, positions = (self._graph_call if tf.executing_eagerly() else self._pack)(words, None)
        return x, positions

    def _pack(self, words, labels):
        pieces = self.tokenizer(words)  # [batch, (words), (pieces)]
        pieces_per_word = pieces.row_lengths(axis=2)
        flat_pieces = pieces.merge_dims(1, 2)
        token_ids, segment_ids = self.packer(flat_pieces)
        # An int32 mask, as the backbone's input declares (a bool one fails under a distribution strategy).
        padding_mask = tf.cast(token_ids != self.tokenizer.pad_token_id, tf.int32)
        x = {"token_ids": token_ids, "padding_mask": padding_mask, "segment_ids": segment_ids}
        longest = tf.reduce_max(tf.reduce_sum(padding_mask, axis=-1))
        x = {key: value[:, :longest] for key, value in x.items()}
        positions = _first_piece_positions(pieces_per_word, budget=self.sequence_length - 2)
        if labels is None:
            return x, None, positions.to_tensor(-1)
        check = tf.debugging.assert_equal(
            labels.row_lengths(),
            words.row_lengths(),
            message="each sentence needs exactly one tag per word; a sentence's words and tags differ in number",
        )
        with tf.control_dependencies([check]):
            word_of_piece = pieces.values.value_rowids()  # flat word index of each piece
            is_first = tf.ragged.range(pieces.values.row_lengths()).flat_values == 0
            piece_labels = tf.where(
                is_first, tf.gather(tf.cast(labels.flat_values, tf.int32), word_of_piece), IGNORE_LABEL
            )
        y, _ = self.label_packer(flat_pieces.with_flat_values(piece_labels))
        return x, y[:, :longest], positions.to_tensor(-1)

    def get_config(self):
        config = super().get_config()
        config.update(sequence_length=self.sequence_length)
        return config


def _first_piece_positions(pieces_per_word, budget):
    """Ragged `[batch, (words)]`: 1 + the pieces before each word (after `[CLS]`), or -1."""
    counts = pieces_per_word.flat_values
    before = tf.cumsum(counts, exclusive=True)
    row_start = tf.gather(before, tf.gather(pieces_per_word.row_starts(), pieces_per_word.value_rowids()))
    start = before - row_start + 1
    kept = (counts > 0) & (start <= budget)
    return pieces_per_word.with_flat_values(tf.cast(tf.where(kept, start, -1), tf.int32))


def _as_ragged_words(words):
    if isinstance(words, tf.RaggedTensor):
        return words
    if isinstance(words, tf.Tensor):  # dense [batch, words], padded with ""
        return tf.RaggedTensor.from_tensor(words, padding="")
    if any(isinstance(sentence, str) for sentence in words):
        raise ConfigError("Pass a batch of word lists, e.g. [['EU', 'rejects', 'German']], not strings.")
    words = [list(sentence) for sentence in words]
    return tf.ragged.constant(words, dtype=tf.string, ragged_rank=1)


def _as_ragged_labels(labels):
    if isinstance(labels, tf.RaggedTensor):
        return labels
    if isinstance(labels, tf.Tensor):
        raise ConfigError("Pass word tags as a ragged tensor or a list of lists, one tag id per word.")
    return tf.ragged.constant([list(tags) for tags in labels], dtype=tf.int32, ragged_rank=1)


@keras.saving.register_keras_serializable(package="tfnlp")
class MaskedAccuracy(keras.metrics.Mean):
    """Token accuracy over labelled positions only (labels of -100 are skipped)."""

    def __init__(self, name="accuracy", ignore_label=IGNORE_LABEL, **kwargs):
        super().__init__(name=name, **kwargs)
        self.ignore_label = ignore_label

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = keras.ops.cast(y_true, "int32")
        correct = keras.ops.cast(keras.ops.argmax(y_pred, axis=-1) == y_true, self.dtype)
        weight = keras.ops.cast(y_true != self.ignore_label, self.dtype)
        return super().update_state(correct, sample_weight=weight)

    def get_config(self):
        return {**super().get_config(), "ignore_label": self.ignore_label}


@keras.saving.register_keras_serializable(package="tfnlp")
class EncoderTokenClassifier(keras_hub.models.Task):
    """A pretrained encoder with a per-token classification head, trained on word lists.

    Args:
        backbone: a keras-hub encoder backbone (see `load_encoder`).
        label_names: the tag names in id order, e.g. `("O", "B-PER", "I-PER", ...)`.
        preprocessor: a `TokenClassifierPreprocessor`, or `None` for token-id inputs.
        dropout: dropout rate before the head.

    Example:
    >>> tagger = EncoderTokenClassifier.from_preset("minilm-l6", ["O", "B-PER", "I-PER"])  # doctest: +SKIP
    >>> tagger.fit(tagged_dataset([["John", "Smith", "sings"]], [[1, 2, 0]]), epochs=1)  # doctest: +SKIP
    >>> TokenClassificationPipeline(tagger).tag([["Mary", "Jones", "runs"]])  # doctest: +SKIP
    [['B-PER', 'I-PER', 'O']]
    """

    def __init__(self, backbone, label_names, preprocessor=None, dropout=0.1, **kwargs):
        if len(label_names) < 2:
            raise ConfigError(f"A token classifier needs at least 2 tags, got {list(label_names)}.")
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        dtype = backbone.dtype_policy  # the head computes in the backbone's precision (see EncoderClassifier)
        self.head_dropout = keras.layers.Dropout(dropout, dtype=dtype, name="head_dropout")
        self.logits_dense = keras.layers.Dense(len(label_names), dtype=dtype, name="logits")
        # === Functional model ===
        inputs = backbone.input
        outputs = backbone(inputs)
        sequence = outputs["sequence_output"] if isinstance(outputs, dict) else outputs
        x = self.logits_dense(self.head_dropout(sequence))
        super().__init__(inputs=inputs, outputs=x, **kwargs)
        # Tags come from the token states; the sentence pooler gets no gradient.
        if any(layer.name == "pooled_dense" for layer in backbone.layers):
            backbone.get_layer("pooled_dense").trainable = False
        # === Config ===
        self.label_names = list(label_names)
        self.dropout = dropout

    @classmethod
    def from_preset(cls, preset, label_names, sequence_length=128, **kwargs):
        """Build a token classifier on the pretrained encoder named by `preset`.

        Args:
            preset: offline preset name, local directory or hub id.
            label_names: the tag names in id order.
            sequence_length: the most tokens per sentence; pieces beyond are cut
                and their words tagged "O".
            **kwargs: `dropout`.
        """
        preprocessor = TokenClassifierPreprocessor(load_tokenizer(preset), sequence_length=sequence_length)
        return cls(backbone=load_encoder(preset), label_names=label_names, preprocessor=preprocessor, **kwargs)

    def compile(self, optimizer="auto", loss="auto", *, metrics="auto", **kwargs):
        """`keras.Model.compile` defaulting to Adam and a cross-entropy that skips label -100."""
        super().compile(
            optimizer=keras.optimizers.Adam(5e-5) if optimizer == "auto" else optimizer,
            loss=(
                keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=IGNORE_LABEL)
                if loss == "auto"
                else loss
            ),
            metrics=[MaskedAccuracy()] if metrics == "auto" else metrics,
            **kwargs,
        )

    def word_probabilities(self, words):
        """Tag probabilities per word, `[batch, max_words, num_tags]`, and the word positions.

        Words without a first piece in the sequence get the probability 1 for
        "O" (or the first tag). Runs in the graph: use inside a `tf.function`.
        """
        x, positions = self.preprocessor.pack_words(words)
        probabilities = tf.nn.softmax(self(x, training=False))
        gathered = tf.gather(probabilities, tf.maximum(positions, 0), batch_dims=1)
        outside = tf.one_hot(self.outside_id, len(self.label_names), dtype=gathered.dtype)
        return tf.where((positions >= 0)[..., None], gathered, outside), positions

    @property
    def outside_id(self):
        """The id of the "O" tag (the first tag if there is none)."""
        return self.label_names.index("O") if "O" in self.label_names else 0

    def serving_endpoints(self):
        """SavedModel endpoints: name -> (function, input signature); see `export_saved_model`.

        `serving_default(text)`: the words and punctuation marks (`text_words`) -> per word `tags`,
        `tag_ids`, `scores` (`[batch, max_words]`, "" / -1 / 0 past each
        sentence) and `num_words`; `words(words)`: the same for a padded
        `[batch, max_words]` string tensor ("" = no word); `token_ids(...)` ->
        `logits`, `probabilities`; `label_names()`.
        """
        names = tf.constant(self.label_names)

        def tag_words(words):
            probabilities, _ = self.word_probabilities(words)
            tag_ids = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
            is_word = tf.sequence_mask(words.row_lengths(), tf.shape(tag_ids)[1])
            return {
                "tags": tf.where(is_word, tf.gather(names, tag_ids), ""),
                "tag_ids": tf.where(is_word, tag_ids, -1),
                "scores": tf.where(is_word, tf.reduce_max(probabilities, axis=-1), 0.0),
                "num_words": tf.reduce_sum(tf.cast(is_word, tf.int32), axis=-1),
            }

        def tag_text(text):
            return tag_words(tf_text.regex_split(text, WORD_SPLIT, WORD_SPLIT_KEEP))

        def tag_padded_words(words):
            return tag_words(tf.RaggedTensor.from_tensor(words, padding=""))

        def logits_of_token_ids(token_ids, padding_mask, segment_ids):
            inputs = {"token_ids": token_ids, "padding_mask": padding_mask, "segment_ids": segment_ids}
            logits = self(inputs, training=False)
            return {"logits": logits, "probabilities": tf.nn.softmax(logits)}

        return {
            "serving_default": (tag_text, [tf.TensorSpec([None], tf.string, name="text")]),
            "words": (tag_padded_words, [tf.TensorSpec([None, None], tf.string, name="words")]),
            "token_ids": (
                logits_of_token_ids,
                [tf.TensorSpec([None, None], tf.int32, name=name) for name in TOKEN_INPUTS],
            ),
            "label_names": (lambda: {"label_names": names}, []),
        }

    def get_config(self):
        config = super().get_config()
        config.update(label_names=self.label_names, dropout=self.dropout)
        return config


class TokenClassificationPipeline(WordTagging):
    """Tag words with an `EncoderTokenClassifier`; one compiled function per batch shape.

    Example:
    >>> pipeline = TokenClassificationPipeline(tagger)  # doctest: +SKIP
    >>> pipeline.tag([["EU", "rejects", "German", "call"]])  # doctest: +SKIP
    [['B-ORG', 'O', 'B-MISC', 'O']]
    >>> pipeline("John Smith lives in Paris")  # doctest: +SKIP
    [{'entity_group': 'PER', 'word': 'John Smith', 'start': 0, 'end': 10, 'score': 0.99}, ...]
    """

    def __init__(self, model):
        self.model = model
        self.label_names = list(model.label_names)
        self._forward = tf.function(
            lambda words: self.model.word_probabilities(words)[0], reduce_retracing=True, autograph=False
        )

    def _batch_word_probabilities(self, sentences):
        return self._forward(tf.ragged.constant(sentences, dtype=tf.string, ragged_rank=1)).numpy()
