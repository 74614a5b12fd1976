"""Convert a llama.cpp GGUF checkpoint into a Hugging Face-format directory.

GGUF stores a Llama model with llama.cpp's tensor names, quantized weights, and
query/key projections whose rows are permuted for llama.cpp's rotary embedding.
`convert_gguf_to_hf` undoes all three and writes what transformers and keras-hub
read: `config.json`, `model.safetensors` (float32) and the tokenizer files.

Quantized formats such as Q4_1 are lossy: the dequantized weights are the GGUF's,
not the original checkpoint's.

Example:
>>> from tfnlp.models.gguf import convert_gguf_to_hf
>>> convert_gguf_to_hf("SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2-hf")  # doctest: +SKIP
PosixPath('smollm2-hf')
"""

import json
import os
from pathlib import Path

import numpy as np

from tfnlp.errors import PresetError
from tfnlp.export.atomic import atomic_path

# llama.cpp's per-layer tensor names (`blk.{i}.<name>.weight`) -> Hugging Face's.
_LAYER_TENSOR_NAMES = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
_GLOBAL_TENSOR_NAMES = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}
# `tokenizer.ggml.pre` -> whether digits are split one by one before the
# byte-level split (llama.cpp names the pre-tokenizer, Hugging Face spells it out).
_PRE_TOKENIZER_SPLITS_DIGITS = {"smollm": True, "gpt-2": False}
# llama.cpp token types (gguf.TokenType).
_CONTROL_TOKEN, _USER_DEFINED_TOKEN = 3, 4


def convert_gguf_to_hf(gguf_path, output_dir):
    """Write a GGUF Llama checkpoint as a Hugging Face-format directory.

    The directory holds `config.json` (`LlamaForCausalLM`), `model.safetensors`
    (float32 weights, dequantized, with llama.cpp's query/key row permutation
    undone), `tokenizer.json` (byte-level BPE from the GGUF's vocabulary and
    merges), `tokenizer_config.json` (special tokens and chat template) and
    `generation_config.json`. It is written atomically: a reader sees either
    the complete directory or none.

    Args:
        gguf_path: a `.gguf` file with `general.architecture` `llama` and a
            byte-level BPE (`gpt2`) tokenizer.
        output_dir: the directory to create; an existing one is replaced.

    Returns:
        `output_dir` as a `Path`.

    Raises:
        PresetError: the file is not a readable GGUF, or holds an architecture,
            tokenizer or tensor type this converter does not handle.

    Example:
    >>> directory = convert_gguf_to_hf("model.Q8_0.gguf", "/tmp/model-hf")  # doctest: +SKIP
    >>> transformers.AutoModelForCausalLM.from_pretrained(directory)  # doctest: +SKIP
    """
    gguf_path, output_dir = Path(gguf_path), Path(output_dir)
    reader = _open_gguf(gguf_path)
    metadata = {name: field.contents() for name, field in reader.fields.items()}
    _check_supported(gguf_path, metadata)
    tensors = _hf_tensors(gguf_path, reader, metadata)
    config = _hf_config(metadata, tie_word_embeddings="lm_head.weight" not in tensors)
    with atomic_path(output_dir) as temporary:
        temporary = Path(temporary)
        temporary.mkdir()
        _write_json(temporary / "config.json", config)
        _write_json(temporary / "generation_config.json", _generation_config(config))
        _save_safetensors(temporary / "model.safetensors", tensors)
        _build_tokenizer(metadata).save(str(temporary / "tokenizer.json"))
        _write_json(temporary / "tokenizer_config.json", _tokenizer_config(metadata))
    return output_dir


def _open_gguf(gguf_path):
    import gguf

    if not gguf_path.is_file():
        raise PresetError(f"{gguf_path}: no such GGUF file.")
    try:
        return gguf.GGUFReader(gguf_path)
    except (ValueError, OSError) as error:
        raise PresetError(
            f"{gguf_path}: not a readable GGUF file ({error}). Check that the "
            "download is complete, or convert the checkpoint again with llama.cpp."
        ) from error


def _check_supported(gguf_path, metadata):
    architecture = metadata.get("general.architecture")
    if architecture != "llama":
        raise PresetError(
            f"{gguf_path}: general.architecture is {architecture!r}; only 'llama' "
            "GGUF files can be converted. Load other models from a Hugging Face "
            "directory instead."
        )
    tokenizer_model = metadata.get("tokenizer.ggml.model")
    pre_tokenizer = metadata.get("tokenizer.ggml.pre", "gpt-2")
    if tokenizer_model != "gpt2" or pre_tokenizer not in _PRE_TOKENIZER_SPLITS_DIGITS:
        raise PresetError(
            f"{gguf_path}: tokenizer {tokenizer_model!r} with pre-tokenizer "
            f"{pre_tokenizer!r} is not supported; supported: byte-level BPE "
            f"('gpt2') with pre-tokenizer {sorted(_PRE_TOKENIZER_SPLITS_DIGITS)}."
        )


def _hf_tensors(gguf_path, reader, metadata):
    """Dequantized float32 tensors under their Hugging Face names."""
    import gguf

    num_heads = metadata["llama.attention.head_count"]
    num_kv_heads = metadata.get("llama.attention.head_count_kv", num_heads)
    tensors = {}
    for tensor in reader.tensors:
        name = _hf_tensor_name(gguf_path, tensor.name)
        try:
            weights = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        except NotImplementedError:
            raise PresetError(
                f"{gguf_path}: tensor {tensor.name} has type {tensor.tensor_type.name}, "
                "which the installed `gguf` package cannot dequantize. Upgrade it "
                "(`pip install -U gguf`) or use a Q8_0/Q4_*/F16/F32 file."
            ) from None
        weights = weights.astype(np.float32).reshape(tuple(reversed(tensor.shape)))
        if name.endswith("q_proj.weight"):
            weights = _undo_rope_permutation(weights, num_heads)
        elif name.endswith("k_proj.weight"):
            weights = _undo_rope_permutation(weights, num_kv_heads)
        tensors[name] = np.ascontiguousarray(weights)
    return tensors


def _hf_tensor_name(gguf_path, gguf_name):
    if gguf_name in _GLOBAL_TENSOR_NAMES:
        return _GLOBAL_TENSOR_NAMES[gguf_name]
    parts = gguf_name.split(".")
    if len(parts) == 4 and parts[0] == "blk" and parts[2] in _LAYER_TENSOR_NAMES:
        return f"model.layers.{parts[1]}.{_LAYER_TENSOR_NAMES[parts[2]]}.{parts[3]}"
    raise PresetError(
        f"{gguf_path}: tensor {gguf_name!r} has no Hugging Face Llama equivalent "
        "(rope scaling tables, biases and mixture-of-experts are not supported)."
    )


def _undo_rope_permutation(weights, num_heads):
    """Inverse of llama.cpp's `permute` of query/key projection rows.

    llama.cpp's `convert_hf_to_gguf.py` interleaves the two rotary halves of
    each head: `w.reshape(n, 2, d // n // 2, -1).swapaxes(1, 2)`. Swapping the
    same axes of the other split restores Hugging Face's "rotate half" layout.
    """
    rows = weights.shape[0]
    split = weights.reshape(num_heads, rows // num_heads // 2, 2, *weights.shape[1:])
    return split.swapaxes(1, 2).reshape(weights.shape)


def _as_float32_literal(value):
    # GGUF stores float32: 1e-5 reads back as 9.99999974e-06; keep the short form.
    return float(str(np.float32(value)))


def _hf_config(metadata, tie_word_embeddings):
    num_heads = metadata["llama.attention.head_count"]
    hidden_size = metadata["llama.embedding_length"]
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_act": "silu",
        "hidden_size": hidden_size,
        "intermediate_size": metadata["llama.feed_forward_length"],
        "num_hidden_layers": metadata["llama.block_count"],
        "num_attention_heads": num_heads,
        "num_key_value_heads": metadata.get("llama.attention.head_count_kv", num_heads),
        "head_dim": metadata.get("llama.rope.dimension_count", hidden_size // num_heads),
        "max_position_embeddings": metadata["llama.context_length"],
        "rms_norm_eps": _as_float32_literal(metadata["llama.attention.layer_norm_rms_epsilon"]),
        "rope_theta": _as_float32_literal(metadata.get("llama.rope.freq_base", 10000.0)),
        "rope_scaling": None,
        "attention_bias": False,
        "mlp_bias": False,
        "vocab_size": len(metadata["tokenizer.ggml.tokens"]),
        "tie_word_embeddings": tie_word_embeddings,
        "torch_dtype": "float32",
    }
    for name in ("bos", "eos", "pad"):
        token_id = _special_token_id(metadata, name)
        if token_id is not None:
            config[f"{name}_token_id"] = token_id
    return config


def _generation_config(config):
    keys = ("bos_token_id", "eos_token_id", "pad_token_id")
    return {key: config[key] for key in keys if key in config}


def _special_token_id(metadata, name):
    key = {"unk": "unknown", "pad": "padding"}.get(name, name)
    return metadata.get(f"tokenizer.ggml.{key}_token_id")


def _build_tokenizer(metadata):
    """A `tokenizers.Tokenizer` equal to the one llama.cpp converted from."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

    tokens = metadata["tokenizer.ggml.tokens"]
    token_types = metadata.get("tokenizer.ggml.token_type", [1] * len(tokens))
    merges = [tuple(merge.split(" ")) for merge in metadata["tokenizer.ggml.merges"]]
    tokenizer = Tokenizer(
        models.BPE(vocab={token: index for index, token in enumerate(tokens)}, merges=merges)
    )
    byte_level = pre_tokenizers.ByteLevel(
        add_prefix_space=bool(metadata.get("tokenizer.ggml.add_space_prefix", False)),
        use_regex=True,
    )
    if _PRE_TOKENIZER_SPLITS_DIGITS[metadata.get("tokenizer.ggml.pre", "gpt-2")]:
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), byte_level]
        )
    else:
        tokenizer.pre_tokenizer = byte_level
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = _post_processor(metadata, processors)
    tokenizer.add_special_tokens(
        [
            AddedToken(token, special=True, normalized=False)
            for token, kind in zip(tokens, token_types)
            if kind == _CONTROL_TOKEN
        ]
    )
    tokenizer.add_tokens(
        [
            AddedToken(token, special=False, normalized=False)
            for token, kind in zip(tokens, token_types)
            if kind == _USER_DEFINED_TOKEN
        ]
    )
    return tokenizer


def _post_processor(metadata, processors):
    byte_level = processors.ByteLevel(trim_offsets=False)
    bos_id = _special_token_id(metadata, "bos")
    if not metadata.get("tokenizer.ggml.add_bos_token", False) or bos_id is None:
        return byte_level
    bos = metadata["tokenizer.ggml.tokens"][bos_id]
    template = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos}:1 $B:1", special_tokens=[(bos, bos_id)]
    )
    return processors.Sequence([byte_level, template])


def _tokenizer_config(metadata):
    tokens = metadata["tokenizer.ggml.tokens"]
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "add_bos_token": bool(metadata.get("tokenizer.ggml.add_bos_token", False)),
        "add_eos_token": bool(metadata.get("tokenizer.ggml.add_eos_token", False)),
        "clean_up_tokenization_spaces": False,
        "model_max_length": metadata["llama.context_length"],
    }
    for name in ("bos", "eos", "unk", "pad"):
        token_id = _special_token_id(metadata, name)
        if token_id is not None:
            config[f"{name}_token"] = tokens[token_id]
    if "tokenizer.chat_template" in metadata:
        config["chat_template"] = metadata["tokenizer.chat_template"]
    return config


def _save_safetensors(path, tensors):
    from safetensors.numpy import save_file

    save_file(tensors, os.fspath(path), metadata={"format": "pt"})


def _write_json(path, content):
    path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
