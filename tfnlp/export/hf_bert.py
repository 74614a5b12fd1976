"""Write a Keras BERT classifier as a Hugging Face `BertForSequenceClassification` folder.

The chapter compares the optimised models with the transformers (PyTorch)
text-classification pipeline running the same weights; this is the way back from
keras-hub's layout to Hugging Face's (the inverse of keras-hub's `convert_bert`).
Needs torch and transformers (`pip install torch transformers`).
"""

import os

import numpy as np

from tfnlp.errors import ConfigError
from tfnlp.export.atomic import atomic_path

# `BertEncoder.hidden_activation` -> Hugging Face `hidden_act`.
_HF_ACTIVATIONS = {"gelu": "gelu", "gelu_approximate": "gelu_new", "relu": "relu"}


def export_hf_bert(classifier, directory):
    """Write `classifier` (an `EncoderClassifier` with the built-in head on a BERT encoder) for transformers.

    The folder holds `config.json` (with the label names), `model.safetensors`
    and the tokenizer files (the classifier's vocabulary, lower-casing and accent
    stripping, no fixed padding). Written atomically; returns `directory`.

    Example:
    >>> export_hf_bert(teacher, "run/transformers")  # doctest: +SKIP
    >>> transformers.pipeline("text-classification", model="run/transformers")("hello")  # doctest: +SKIP
    """
    import transformers

    model = _to_torch_model(classifier, transformers)
    tokenizer = classifier.preprocessor.tokenizer
    with atomic_path(directory) as temporary:
        model.save_pretrained(temporary)
        vocab_path = os.path.join(temporary, "vocab.txt")
        with open(vocab_path, "w", encoding="utf-8") as file:
            file.write("\n".join(tokenizer.get_vocabulary()) + "\n")
        transformers.BertTokenizer(
            vocab_path,
            do_lower_case=tokenizer.lowercase,
            strip_accents=tokenizer.strip_accents,
            model_max_length=classifier.preprocessor.sequence_length,
        ).save_pretrained(temporary)
    return directory


def max_logit_difference(classifier, directory, texts):
    """Largest absolute difference between the Keras and the exported PyTorch logits on `texts`.

    Each side tokenizes with its own tokenizer, so this checks the tokenizer
    files as well as the weights.
    """
    import torch
    import transformers

    model = transformers.BertForSequenceClassification.from_pretrained(directory).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    keras_logits = np.asarray(classifier(classifier.preprocessor(list(texts)), training=False))
    with torch.no_grad():
        encoded = tokenizer(list(texts), padding=True, truncation=True, return_tensors="pt")
        torch_logits = model(**encoded).logits.numpy()
    return float(np.max(np.abs(keras_logits - torch_logits)))


def _to_torch_model(classifier, transformers):
    import torch

    backbone = classifier.backbone
    activation = getattr(backbone, "hidden_activation", "gelu_approximate")  # keras-hub's own BertBackbone
    if getattr(classifier, "head", "builtin") != "builtin" or activation not in _HF_ACTIVATIONS:
        raise ConfigError(
            f"export_hf_bert writes BertForSequenceClassification, which has one dense layer on the pooled "
            f"output and activations {sorted(_HF_ACTIVATIONS)}; this classifier has head="
            f"{getattr(classifier, 'head', None)!r} and activation {activation!r}."
        )
    labels = list(classifier.label_names)
    config = transformers.BertConfig(
        vocab_size=backbone.vocabulary_size,
        hidden_size=backbone.hidden_dim,
        num_hidden_layers=backbone.num_layers,
        num_attention_heads=backbone.num_heads,
        intermediate_size=backbone.intermediate_dim,
        max_position_embeddings=backbone.max_sequence_length,
        type_vocab_size=backbone.num_segments,
        hidden_act=_HF_ACTIVATIONS[activation],
        layer_norm_eps=1e-12,
        id2label=dict(enumerate(labels)),
        label2id={label: index for index, label in enumerate(labels)},
    )
    model = transformers.BertForSequenceClassification(config).eval()
    state = {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in _state_dict(classifier).items()}
    model.load_state_dict(state, strict=False)
    missing = set(model.state_dict()) - set(state) - {"bert.embeddings.position_ids"}
    if missing:
        raise ConfigError(f"export_hf_bert: no Keras weights for {sorted(missing)}.")
    return model


def _state_dict(classifier):
    """Hugging Face parameter name -> numpy array, from keras-hub's BERT layout."""
    backbone = classifier.backbone

    def linear(dense, heads_first=False):  # Keras kernels -> torch (out, in) weights
        kernel, bias = dense.kernel.numpy(), dense.bias.numpy()
        if kernel.ndim == 3:  # attention: (hidden, heads, head_dim), or (heads, head_dim, hidden) for the output
            kernel = kernel.reshape(-1, kernel.shape[-1]) if heads_first else kernel.reshape(kernel.shape[0], -1)
        return {"weight": kernel.T, "bias": bias.reshape(-1)}

    def norm(layer):
        return {"weight": layer.gamma.numpy(), "bias": layer.beta.numpy()}

    parts = {
        "bert.embeddings.word_embeddings.weight": backbone.get_layer("token_embedding").embeddings.numpy(),
        "bert.embeddings.position_embeddings.weight": backbone.get_layer(
            "position_embedding").position_embeddings.numpy(),
        "bert.embeddings.token_type_embeddings.weight": backbone.get_layer("segment_embedding").embeddings.numpy(),
        **_prefixed("bert.embeddings.LayerNorm", norm(backbone.get_layer("embeddings_layer_norm"))),
        **_prefixed("bert.pooler.dense", linear(backbone.get_layer("pooled_dense"))),
        **_prefixed("classifier", linear(classifier.head_layers[-1])),
    }
    for index, block in enumerate(backbone.transformer_layers):
        attention, prefix = block._self_attention_layer, f"bert.encoder.layer.{index}"
        for name, dense in (("query", attention.query_dense), ("key", attention.key_dense),
                            ("value", attention.value_dense)):
            parts.update(_prefixed(f"{prefix}.attention.self.{name}", linear(dense)))
        parts.update(_prefixed(f"{prefix}.attention.output.dense", linear(attention.output_dense, heads_first=True)))
        parts.update(_prefixed(f"{prefix}.attention.output.LayerNorm", norm(block._self_attention_layer_norm)))
        parts.update(_prefixed(f"{prefix}.intermediate.dense", linear(block._feedforward_intermediate_dense)))
        parts.update(_prefixed(f"{prefix}.output.dense", linear(block._feedforward_output_dense)))
        parts.update(_prefixed(f"{prefix}.output.LayerNorm", norm(block._feedforward_layer_norm)))
    return parts


def _prefixed(prefix, values):
    return {f"{prefix}.{key}": value for key, value in values.items()}
