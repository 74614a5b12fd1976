"""Text classification on a pretrained encoder: built-in or custom head, optionally frozen."""

import keras
import keras_hub

from tfnlp.errors import ConfigError
from tfnlp.models.encoders import load_encoder, load_preprocessor

HEADS = ("builtin", "custom")


def _pooled_output(backbone, inputs):
    outputs = backbone(inputs)
    if isinstance(outputs, dict) and "pooled_output" in outputs:
        return outputs["pooled_output"]
    # Backbones without a pooler (e.g. DistilBERT): the first token's state.
    sequence = outputs["sequence_output"] if isinstance(outputs, dict) else outputs
    return sequence[:, 0, :]


@keras.saving.register_keras_serializable(package="tfnlp")
class EncoderClassifier(keras_hub.models.TextClassifier):
    """A pretrained encoder with a classification head, trained on raw strings.

    Heads:
    - `"builtin"`: dropout then a dense layer on the pooled output, as
      `keras_hub.models.BertTextClassifier`.
    - `"custom"`: dropout, dense (`hidden_dim`, relu), dropout, dense on the
      pooled output.

    Args:
        backbone: a keras-hub encoder backbone (see `load_encoder`).
        label_names: the class names, in label-id order.
        preprocessor: turns raw strings into the backbone's inputs; `None` if
            the inputs are already token ids.
        head: `"builtin"` or `"custom"`.
        dropout: dropout rate of the head.
        hidden_dim: width of the custom head's hidden layer.
        freeze_encoder: train only the head.

    Example:
    >>> classifier = EncoderClassifier.from_preset(
    ...     "minilm-l6", label_names=["neg", "pos"])  # doctest: +SKIP
    >>> classifier.fit(x=["great!", "awful"], y=[1, 0], batch_size=2)  # doctest: +SKIP
    """

    def __init__(
        self,
        backbone,
        label_names,
        preprocessor=None,
        head="builtin",
        dropout=0.1,
        hidden_dim=200,
        freeze_encoder=False,
        **kwargs,
    ):
        if head not in HEADS:
            raise ConfigError(f"head={head!r} is not one of {HEADS}.")
        if len(label_names) < 2:
            raise ConfigError(f"A classifier needs at least 2 labels, got {list(label_names)}.")
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        # The head computes in the backbone's precision (not the global policy's: a float32 model reloaded
        # while mixed precision is on stays float32).
        dtype = backbone.dtype_policy
        self.head_layers = [keras.layers.Dropout(dropout, dtype=dtype, name="head_dropout")]
        if head == "custom":
            self.head_layers += [
                keras.layers.Dense(hidden_dim, activation="relu", dtype=dtype, name="head_hidden"),
                keras.layers.Dropout(dropout, dtype=dtype, name="head_hidden_dropout"),
            ]
        self.head_layers.append(keras.layers.Dense(len(label_names), dtype=dtype, name="logits"))
        # === Functional model ===
        inputs = backbone.input
        x = _pooled_output(backbone, inputs)
        for layer in self.head_layers:
            x = layer(x)
        super().__init__(inputs=inputs, outputs=x, **kwargs)
        # === Config ===
        self.label_names = list(label_names)
        self.num_classes = len(label_names)
        self.head = head
        self.dropout = dropout
        self.hidden_dim = hidden_dim
        self.freeze_encoder = freeze_encoder
        backbone.trainable = not freeze_encoder

    @classmethod
    def from_preset(cls, preset, label_names, sequence_length=128, truncate="longest_first", **kwargs):
        """Build a classifier on the pretrained encoder named by `preset`.

        Args:
            preset: offline preset name, local directory or hub id.
            label_names: the class names.
            sequence_length: truncation limit in tokens (batches are padded
                only to their longest text).
            truncate: how text pairs are cut to `sequence_length`:
                `"longest_first"`, `"only_first"` or `"only_second"`.
            **kwargs: `head`, `dropout`, `hidden_dim`, `freeze_encoder`.
        """
        return cls(
            backbone=load_encoder(preset),
            label_names=label_names,
            preprocessor=load_preprocessor(preset, sequence_length, truncate),
            **kwargs,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            label_names=self.label_names,
            head=self.head,
            dropout=self.dropout,
            hidden_dim=self.hidden_dim,
            freeze_encoder=self.freeze_encoder,
        )
        return config
