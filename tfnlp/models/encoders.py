"""Pretrained encoders and their preprocessing, loaded from presets.

`load_encoder("minilm-l6")` gives a keras-hub BERT backbone whose numerics match the
checkpoint (keras-hub's `BertBackbone` always uses the tanh approximation of GELU,
which moves MiniLM's hidden states by ~3e-3 from the reference; `BertEncoder` uses
the activation the checkpoint was trained with).
"""

import json

import keras
import keras_hub
import tensorflow as tf
from keras_hub.src.utils.preset_utils import get_preset_loader

from tfnlp.errors import PresetError
from tfnlp.models.packing import PairPacker
from tfnlp.presets import bert_text_normalization, resolve_preset

# Hugging Face `hidden_act` values -> Keras activations.
_HF_ACTIVATIONS = {
    "gelu": "gelu",  # exact (erf) GELU
    "gelu_new": "gelu_approximate",
    "gelu_pytorch_tanh": "gelu_approximate",
    "gelu_fast": "gelu_approximate",
    "relu": "relu",
}


@keras.saving.register_keras_serializable(package="tfnlp")
def gelu_approximate(x):
    return keras.activations.gelu(x, approximate=True)


@keras.saving.register_keras_serializable(package="tfnlp")
class BertEncoder(keras_hub.models.BertBackbone):
    """keras-hub's `BertBackbone` with a configurable feed-forward activation.

    Args:
        hidden_activation: `"gelu"` (exact, as Hugging Face BERT checkpoints),
            `"gelu_approximate"` or `"relu"`.
        **kwargs: the arguments of `keras_hub.models.BertBackbone`.

    Example:
    >>> encoder = BertEncoder(vocabulary_size=100, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16)
    >>> encoder.hidden_activation
    'gelu'
    """

    def __init__(self, *args, hidden_activation="gelu", **kwargs):
        super().__init__(*args, **kwargs)
        self.hidden_activation = hidden_activation
        activation = (
            gelu_approximate
            if hidden_activation == "gelu_approximate"
            else keras.activations.get(hidden_activation)
        )
        # The feed-forward layers are already built by the functional
        # construction above; their activation is only read at call time.
        for layer in self.transformer_layers:
            layer.activation = activation
            layer._feedforward_intermediate_dense.activation = activation

    def get_config(self):
        return {**super().get_config(), "hidden_activation": self.hidden_activation}


def _read_hf_config(directory):
    path = directory / "config.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def _only_onnx_file(path):
    """`path` if it is an `.onnx` file, the one `.onnx` file of a folder without `config.json`, else None."""
    if path.is_file():
        return path if path.suffix == ".onnx" else None
    files = sorted(path.glob("*.onnx"))
    return files[0] if len(files) == 1 and not (path / "config.json").exists() else None


def load_encoder(preset="minilm-l6", load_weights=True):
    """Load a pretrained encoder backbone.

    Args:
        preset: offline preset name (e.g. `"minilm-l6"`, or `"minilm-l3-onnx"`
            whose weights are read out of its ONNX file), a local Hugging Face
            or keras-hub directory, a BERT `.onnx` file, or a hub id when online.
        load_weights: `False` gives the architecture with random weights.

    Returns:
        A `keras_hub.models.Backbone`; a `BertEncoder` for BERT checkpoints.

    Example:
    >>> encoder = load_encoder("minilm-l6")  # doctest: +SKIP
    >>> encoder.num_layers  # doctest: +SKIP
    6
    """
    directory = resolve_preset(preset)
    onnx_file = _only_onnx_file(directory)
    if onnx_file is not None:
        if not load_weights:
            raise PresetError(f"{preset}: an ONNX export defines its architecture by its weights; load_weights=True.")
        from tfnlp.models.onnx_bert import encoder_from_onnx  # it builds a BertEncoder: import here, not in a cycle

        return encoder_from_onnx(onnx_file)
    hf_config = _read_hf_config(directory)
    is_hf_bert = hf_config is not None and hf_config.get("model_type") == "bert"
    if not is_hf_bert:
        return keras_hub.models.Backbone.from_preset(str(directory), load_weights=load_weights)
    activation = hf_config.get("hidden_act", "gelu")
    if activation not in _HF_ACTIVATIONS:
        raise PresetError(
            f"{directory}/config.json: hidden_act {activation!r} is not supported; "
            f"supported: {sorted(_HF_ACTIVATIONS)}."
        )
    loader = get_preset_loader(str(directory))
    return loader.load_backbone(
        BertEncoder, load_weights, hidden_activation=_HF_ACTIVATIONS[activation]
    )


def load_tokenizer(preset="minilm-l6"):
    """Load the tokenizer that belongs to `preset` (in-graph, tensorflow-text ops).

    For Hugging Face BERT folders, accents are stripped as the checkpoint's own
    tokenizer does (uncased models: "café" -> "cafe"), which keras-hub skips.

    Example:
    >>> tokenizer = load_tokenizer("minilm-l6")  # doctest: +SKIP
    >>> tokenizer("I feel great")  # doctest: +SKIP
    <tf.Tensor: shape=(3,), dtype=int32, numpy=array([1045, 2514, 2307], dtype=int32)>
    """
    directory = resolve_preset(preset)
    hf_config = _read_hf_config(directory)
    if hf_config is None or hf_config.get("model_type") != "bert":
        return keras_hub.models.Tokenizer.from_preset(str(directory))
    _, strip_accents = bert_text_normalization(directory)
    return keras_hub.models.Tokenizer.from_preset(str(directory), strip_accents=strip_accents)


@keras.saving.register_keras_serializable(package="tfnlp")
class DynamicPaddingPreprocessor(keras_hub.models.BertTextClassifierPreprocessor):
    """BERT preprocessing that pads each batch only to its longest sequence.

    `sequence_length` is the truncation limit; a batch of short tweets is then
    padded to ~30 tokens instead of the limit, which makes training and serving
    several times faster for the same result. Takes one string tensor, or a
    tuple of two for text pairs (`[CLS] a [SEP] b [SEP]`, segment ids 0 then 1),
    cut to `sequence_length` by `truncate`: `"longest_first"` (Hugging Face's
    default), `"only_first"`, `"only_second"`, or keras-hub's `"round_robin"`
    and `"waterfall"` (see `tfnlp.models.packing`).

    Example:
    >>> preprocessor = DynamicPaddingPreprocessor(tokenizer, sequence_length=128)  # doctest: +SKIP
    >>> preprocessor(["a short text"])["token_ids"].shape  # doctest: +SKIP
    TensorShape([1, 5])
    """

    def __init__(self, tokenizer, sequence_length=512, truncate="longest_first", **kwargs):
        super().__init__(tokenizer, sequence_length=sequence_length, truncate=truncate, **kwargs)

    def build(self, input_shape):
        # Skip keras-hub's own build, whose packer knows only its two strategies.
        super(keras_hub.models.TextClassifierPreprocessor, self).build(input_shape)
        self.packer = PairPacker(
            start_value=self.tokenizer.start_token_id,
            end_value=self.tokenizer.end_token_id,
            pad_value=self.tokenizer.pad_token_id,
            truncate=self.truncate,
            sequence_length=self.sequence_length,
        )

    def call(self, x, y=None, sample_weight=None):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(
            super().call(x, y, sample_weight)
        )
        # int32, the dtype the backbone's input declares: Keras averages a first
        # batch over the replicas of a distribution strategy, which fails on bool.
        x["padding_mask"] = tf.cast(x["padding_mask"], "int32")
        longest = tf.reduce_max(tf.reduce_sum(x["padding_mask"], axis=-1))
        x = {key: value[..., :longest] for key, value in x.items()}
        return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)


def load_preprocessor(preset="minilm-l6", sequence_length=128, truncate="longest_first"):
    """The tokenizer of `preset` wrapped with packing and dynamic padding.

    Args:
        preset: as in `load_encoder`.
        sequence_length: the most tokens a text (or pair) keeps, `[CLS]` and
            `[SEP]` included; longer inputs are truncated.
        truncate: how a pair is cut to `sequence_length` (see
            `DynamicPaddingPreprocessor`).
    """
    return DynamicPaddingPreprocessor(
        tokenizer=load_tokenizer(preset), sequence_length=sequence_length, truncate=truncate
    )
