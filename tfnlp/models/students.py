"""Smaller students for distillation, initialised from a teacher's layers (as DistilBERT).

A student that keeps the teacher's width, embeddings, pooler and half of its
transformer layers (the last among them, which feeds the head) starts close to
the teacher, so distillation has little to recover; it shares the teacher's
tokenizer, so a `Distiller` tokenizes once.
"""

import math

import keras
import numpy as np

from tfnlp.errors import ConfigError
from tfnlp.models.classifier import EncoderClassifier


def spread_layers(num_layers, keep=None):
    """The teacher layers a student keeps by default: `keep` of them, evenly spaced from the first to the last.

    The last layer is always kept: the teacher's classification head, which the
    student copies, was trained on its output. A 3-layer student of a CLINC150
    MiniLM-L6 teacher starts at 66% validation accuracy with layers (0, 2, 5) and
    at 3.5% with (0, 2, 4) (benchmarks/RESULTS.md).

    Args:
        num_layers: the teacher's transformer layers.
        keep: the student's; default half the teacher's (at least one).

    Example:
    >>> spread_layers(6), spread_layers(12)
    ([0, 2, 5], [0, 2, 4, 7, 9, 11])
    """
    keep = max(1, num_layers // 2) if keep is None else keep
    if not 1 <= keep <= num_layers:
        raise ConfigError(f"keep={keep}: a student keeps 1 to {num_layers} of the teacher's {num_layers} layers.")
    if keep == 1:
        return [num_layers - 1]
    return [int(index) for index in np.round(np.linspace(0, num_layers - 1, keep))]


def shrink_encoder(encoder, layers=None):
    """A copy of a keras-hub BERT encoder with only the transformer `layers`, in that order.

    Embeddings, their layer norm and the pooler are copied; the copy is a new
    model (training it leaves `encoder` untouched).

    Args:
        encoder: a `BertEncoder` (or `keras_hub.models.BertBackbone`).
        layers: the indices of the teacher layers the student keeps; default
            `spread_layers(encoder.num_layers)` (half of them, first and last included).

    Example:
    >>> small = shrink_encoder(load_encoder("minilm-l6"))  # doctest: +SKIP
    >>> small.num_layers  # layers 0, 2 and 5  # doctest: +SKIP
    3
    """
    layers = spread_layers(encoder.num_layers) if layers is None else list(layers)
    bad = [index for index in layers if not 0 <= index < encoder.num_layers]
    if not layers or bad:
        raise ConfigError(
            f"layers={layers}: the encoder has {encoder.num_layers} transformer layers "
            f"(indices 0-{encoder.num_layers - 1}); choose a non-empty subset of them."
        )
    # A new model: it computes in the current Keras precision (`set_precision`), not the teacher's.
    config = {**encoder.get_config(), "num_layers": len(layers), "dtype": keras.config.dtype_policy().name}
    student = type(encoder).from_config(config)
    for name in ("token_embedding", "position_embedding", "segment_embedding", "embeddings_layer_norm",
                 "pooled_dense"):
        student.get_layer(name).set_weights(encoder.get_layer(name).get_weights())
    for student_layer, index in zip(student.transformer_layers, layers):
        student_layer.set_weights(encoder.transformer_layers[index].get_weights())
    return student


def student_classifier(teacher, layers=None, copy_head=True, encoder=None):
    """An `EncoderClassifier` on `shrink_encoder(teacher.backbone, layers)` with the teacher's preprocessor.

    Args:
        teacher: an `EncoderClassifier`, usually fine-tuned.
        layers: the teacher layers the student keeps; default
            `spread_layers` (half of them, first and last included).
        copy_head: start from the teacher's classification head too.
        encoder: a pretrained encoder to use instead of the teacher's layers
            (e.g. `load_encoder("minilm-l3-onnx")`); it must read the
            teacher's token ids, so its vocabulary size must match.

    Example:
    >>> student = student_classifier(teacher)  # layers 0, 2, 5 of a 6-layer teacher  # doctest: +SKIP
    >>> distiller = Distiller(student, teacher, alpha=0.5, temperature=4.0)  # doctest: +SKIP
    """
    if encoder is not None and encoder.vocabulary_size != teacher.backbone.vocabulary_size:
        raise ConfigError(
            f"the student encoder has a vocabulary of {encoder.vocabulary_size} tokens and the teacher "
            f"{teacher.backbone.vocabulary_size}: the student reads the teacher's token ids, so pick an encoder "
            "trained with the teacher's vocabulary."
        )
    student = EncoderClassifier(
        backbone=encoder if encoder is not None else shrink_encoder(teacher.backbone, layers),
        label_names=teacher.label_names,
        preprocessor=teacher.preprocessor,
        head=teacher.head,
        dropout=teacher.dropout,
        hidden_dim=teacher.hidden_dim,
    )
    if copy_head:
        for student_layer, teacher_layer in zip(student.head_layers, teacher.head_layers):
            student_layer.set_weights(teacher_layer.get_weights())
    return student


def count_parameters(model):
    """Number of weights in `model` (trainable and not)."""
    return sum(math.prod(weight.shape) for weight in model.weights)
