"""Read a BERT encoder's weights back out of a Hugging Face ONNX export.

Some checkpoints ship only as ONNX (the offline `minilm-l3-onnx` preset is
paraphrase-MiniLM-L3-v2 exported by sentence-transformers). PyTorch's exporter
keeps the parameter names of biases, embeddings and layer norms but gives the
transposed weight matrices anonymous names (`onnx::MatMul_470`); each is found
here through the graph, as the `MatMul` whose output the named bias is added to.
The result is a `BertEncoder` that can be fine-tuned like any other.
"""

import re

import numpy as np

from tfnlp.errors import PresetError
from tfnlp.models.encoders import BertEncoder

_LAYER = re.compile(r"encoder\.layer\.(\d+)\.")


def read_bert_onnx(path):
    """`(weights, num_heads)` of a Hugging Face BERT encoder exported to ONNX.

    `weights` maps Hugging Face parameter names without their prefix
    (`embeddings.word_embeddings.weight`, `encoder.layer.0.attention.self.query.weight`,
    ...) to numpy arrays, with weight matrices as PyTorch stores them (out, in).
    `num_heads` comes from the reshape that splits the keys into heads.

    Raises:
        PresetError: the file is not a BERT encoder export.
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    arrays = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    weights = {_strip_prefix(name): value for name, value in arrays.items() if not name.startswith("onnx::")}
    producers = {output: node for node in graph.node for output in node.output}
    for node in graph.node:
        bias = next((name for name in node.input if name.endswith(".bias") and name in arrays), None)
        matmul = next((producers.get(name) for name in node.input if name != bias), None)
        if node.op_type != "Add" or bias is None or matmul is None or matmul.op_type != "MatMul":
            continue
        kernel = next((arrays[name] for name in matmul.input if name in arrays), None)
        if kernel is not None:
            weights[_strip_prefix(bias).removesuffix(".bias") + ".weight"] = kernel.T
    if "embeddings.word_embeddings.weight" not in weights or "encoder.layer.0.attention.self.key.weight" not in weights:
        raise PresetError(
            f"{path}: no BERT embeddings or attention weights found; expected a Hugging Face BERT encoder exported "
            "to ONNX by PyTorch (parameter names like 'embeddings.word_embeddings.weight')."
        )
    return weights, _num_heads(graph, producers, weights)


def encoder_from_onnx(path, hidden_activation="gelu"):
    """A `BertEncoder` holding the weights of the BERT ONNX export at `path`.

    The pooler is not part of sentence-transformers exports; it starts as the
    identity with zero bias followed by tanh, so fine-tuning starts from the
    [CLS] hidden state.

    Example:
    >>> encoder = load_encoder("minilm-l3-onnx")  # doctest: +SKIP  (calls this on the preset's file)
    >>> encoder.num_layers  # doctest: +SKIP
    3
    """
    weights, num_heads = read_bert_onnx(path)
    vocabulary_size, hidden_dim = weights["embeddings.word_embeddings.weight"].shape
    num_layers = 1 + max(int(match.group(1)) for match in map(_LAYER.search, weights) if match)
    encoder = BertEncoder(
        vocabulary_size=vocabulary_size,
        num_layers=num_layers,
        num_heads=num_heads,
        hidden_dim=hidden_dim,
        intermediate_dim=weights["encoder.layer.0.intermediate.dense.weight"].shape[0],
        max_sequence_length=weights["embeddings.position_embeddings.weight"].shape[0],
        num_segments=weights["embeddings.token_type_embeddings.weight"].shape[0],
        hidden_activation=hidden_activation,
    )
    missing = sorted(_expected_names(num_layers) - set(weights))
    if missing:
        raise PresetError(
            f"{path}: the ONNX file lacks {missing[:4]}{' ...' if len(missing) > 4 else ''}; the exporter may have "
            "merged equal tensors (e.g. freshly initialised biases). Export a trained checkpoint."
        )
    _assign(encoder, weights)
    return encoder


def _strip_prefix(name):
    # "model.0.auto_model.embeddings..." (sentence-transformers) or "bert.embeddings..." -> "embeddings..."
    match = re.search(r"(embeddings|encoder|pooler)\.", name)
    return name[match.start():] if match else name


def _num_heads(graph, producers, weights):
    """Heads from `Reshape(key, [batch, length, heads or -1, head_dim])`, as PyTorch's BERT splits them."""
    from onnx import numpy_helper

    hidden_dim = weights["embeddings.word_embeddings.weight"].shape[1]
    key_add = next(
        node.output[0] for node in graph.node
        if node.op_type == "Add" and "encoder.layer.0.attention.self.key.bias" in {_strip_prefix(n) for n in node.input}
    )
    for node in graph.node:
        shape = producers.get(node.input[1]) if node.op_type == "Reshape" and node.input[0] == key_add else None
        last = producers.get(shape.input[-1]) if shape is not None and shape.op_type == "Concat" else None
        if last is not None and last.op_type == "Constant":
            head_dim = int(numpy_helper.to_array(last.attribute[0].t).reshape(-1)[0])
            if 0 < head_dim <= hidden_dim and hidden_dim % head_dim == 0:
                return hidden_dim // head_dim
    raise PresetError("could not find how the ONNX graph splits attention into heads (a Reshape of the keys).")


_LAYER_PARAMETERS = (
    "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
    "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm",
)


def _expected_names(num_layers):
    names = {f"embeddings.{name}.weight" for name in ("word_embeddings", "position_embeddings",
                                                        "token_type_embeddings", "LayerNorm")}
    names.add("embeddings.LayerNorm.bias")
    for index in range(num_layers):
        for part in _LAYER_PARAMETERS:
            names |= {f"encoder.layer.{index}.{part}.weight", f"encoder.layer.{index}.{part}.bias"}
    return names


def _assign(encoder, weights):
    def dense(layer, name):
        layer.kernel.assign(weights[f"{name}.weight"].T.reshape(layer.kernel.shape))
        layer.bias.assign(weights[f"{name}.bias"].reshape(layer.bias.shape))

    def norm(layer, name):
        layer.gamma.assign(weights[f"{name}.weight"])
        layer.beta.assign(weights[f"{name}.bias"])

    encoder.get_layer("token_embedding").embeddings.assign(weights["embeddings.word_embeddings.weight"])
    encoder.get_layer("position_embedding").position_embeddings.assign(weights["embeddings.position_embeddings.weight"])
    encoder.get_layer("segment_embedding").embeddings.assign(weights["embeddings.token_type_embeddings.weight"])
    norm(encoder.get_layer("embeddings_layer_norm"), "embeddings.LayerNorm")
    pooler = encoder.get_layer("pooled_dense")
    if "pooler.dense.weight" in weights:
        dense(pooler, "pooler.dense")
    else:
        pooler.kernel.assign(np.eye(pooler.kernel.shape[0], dtype="float32"))
        pooler.bias.assign(np.zeros(pooler.bias.shape, dtype="float32"))
    for index, block in enumerate(encoder.transformer_layers):
        attention, prefix = block._self_attention_layer, f"encoder.layer.{index}"
        for name, layer in (("query", attention.query_dense), ("key", attention.key_dense),
                            ("value", attention.value_dense)):
            dense(layer, f"{prefix}.attention.self.{name}")
        dense(attention.output_dense, f"{prefix}.attention.output.dense")
        norm(block._self_attention_layer_norm, f"{prefix}.attention.output.LayerNorm")
        dense(block._feedforward_intermediate_dense, f"{prefix}.intermediate.dense")
        dense(block._feedforward_output_dense, f"{prefix}.output.dense")
        norm(block._feedforward_layer_norm, f"{prefix}.output.LayerNorm")
