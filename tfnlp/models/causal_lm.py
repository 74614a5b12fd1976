"""Pretrained causal language models (Llama, GPT-2) as keras-hub `CausalLM`s.

`load_causal_lm("smollm2-135m")` turns the offline GGUF into a Hugging Face-format
directory once (cached under `causal_lm_cache_dir()`), then loads it with keras-hub,
fixing what keras-hub 0.32 gets wrong for such checkpoints:

- its Llama loader ignores `rms_norm_eps` and uses 1e-6 (SmolLM2 was trained with
  1e-5; logits then move by ~1e-2): tfnlp passes the checkpoint's value;
- its `generate()` always prepends the start token (`<|im_start|>` for SmolLM2),
  which Hugging Face does not add to a plain prompt: tfnlp keeps it only when the
  checkpoint's own tokenizer adds it;
- its byte-level BPE tokenizer splits some texts differently from the checkpoint's
  `tokenizer.json`. Eager: its split regex reaches `tokenizers` as a literal string,
  so no pre-tokenization happens and merges cross word boundaries after runs of
  whitespace ("a  b" -> "a", "ĠĠ", "b" instead of "a", "Ġ", "Ġb"); SmolLM2's digit
  splitting is skipped too (harmless: its vocabulary has no multi-digit tokens).
  In graph: special tokens are swapped for stand-ins "ĴA", "ĴB", ... while splitting,
  and "ĴB" is swapped back before "ĴBA", so with more than 10 registered (SmolLM2
  has 17) some, e.g. `<|im_end|>`, come out in pieces; trailing spaces split apart.
  `load_reference_tokenizer` gives the checkpoint's own tokenizer; tfnlp tokenizes
  with it and feeds token ids (`next_token_logits`) wherever exact ids matter.

Example:
>>> causal_lm = load_causal_lm("smollm2-135m")  # doctest: +SKIP
>>> causal_lm.generate("The capital of France is", max_length=7)  # doctest: +SKIP
'The capital of France is Paris.'
"""

import dataclasses
import json
import os
import weakref
from pathlib import Path

import keras
import keras_hub
import numpy as np

from tfnlp import presets
from tfnlp.errors import PresetError
from tfnlp.models.gguf import convert_gguf_to_hf

# Bump when `convert_gguf_to_hf` changes its output, so stale caches are rebuilt.
_CONVERSION_VERSION = 1

# Hugging Face config values that keras-hub's converters cannot express: a
# checkpoint with another value would load without error but compute differently.
_SUPPORTED_HF_VALUES = {
    "llama": {
        "hidden_act": ("silu", None),
        "attention_bias": (False, None),
        "mlp_bias": (False, None),
    },
    "gpt2": {
        "activation_function": ("gelu_new", None),
        "layer_norm_epsilon": (1e-5, None),
        "n_inner": (None,),
        "scale_attn_by_inverse_layer_idx": (False, None),
        "reorder_and_upcast_attn": (False, None),
    },
}


def causal_lm_cache_dir():
    """Where converted checkpoints are kept: `$TFNLP_CACHE_DIR`, else `~/.cache/tfnlp`.

    Example:
    >>> causal_lm_cache_dir()  # with TFNLP_CACHE_DIR=/tmp/tfnlp-cache  # doctest: +SKIP
    PosixPath('/tmp/tfnlp-cache')
    """
    return Path(os.environ.get("TFNLP_CACHE_DIR") or "~/.cache/tfnlp").expanduser()


def resolve_causal_lm(preset="smollm2-135m"):
    """The Hugging Face-format directory of a causal LM, converting a GGUF once.

    Args:
        preset: an offline preset name (`"smollm2-135m"`), a local Hugging Face
            directory, a `.gguf` file (or a folder holding exactly one and no
            `config.json`), or a hub id when online.

    Returns:
        A `Path` to a directory with `config.json`, weights and tokenizer. A GGUF
        is converted into `causal_lm_cache_dir()`, keyed by its sha256, on the
        first call and reused afterwards.

    Example:
    >>> resolve_causal_lm("smollm2-135m")  # doctest: +SKIP
    PosixPath('/root/.cache/tfnlp/gguf/SmolLM2-135M-Instruct.Q4_1-b179c9523d0e6a0f-v1')
    """
    path = presets.resolve_preset(preset)
    gguf_file = _find_gguf_file(path)
    if gguf_file is None:
        return path
    return _converted_directory(gguf_file)


def _find_gguf_file(path):
    if path.is_file():
        return path if path.suffix == ".gguf" else None
    if (path / "config.json").is_file():
        return None
    candidates = sorted(path.glob("*.gguf"))
    if len(candidates) > 1:
        raise PresetError(
            f"{path} holds {len(candidates)} GGUF files "
            f"({', '.join(c.name for c in candidates)}); pass the one to load."
        )
    return candidates[0] if candidates else None


def _converted_directory(gguf_file):
    stat = gguf_file.stat()
    # presets' sha256 is memoized per (path, size, mtime): a verified offline
    # preset is not hashed a second time.
    sha256 = presets._file_sha256(str(gguf_file), stat.st_size, stat.st_mtime_ns)
    name = f"{gguf_file.stem}-{sha256[:16]}-v{_CONVERSION_VERSION}"
    directory = causal_lm_cache_dir() / "gguf" / name
    if not (directory / "config.json").is_file():
        convert_gguf_to_hf(gguf_file, directory)
    return directory


def load_causal_lm(preset="smollm2-135m", sampler="greedy"):
    """Load a pretrained causal LM as a keras-hub `CausalLM` with its preprocessor.

    Args:
        preset: as in `resolve_causal_lm`: `"smollm2-135m"`, a Hugging Face
            Llama or GPT-2 directory, a `.gguf` file, or a hub id when online.
        sampler: how `generate()` picks tokens: `"greedy"` (as Hugging Face's
            default; keras-hub's own default samples from the top 5), or any
            `keras_hub.samplers` name or instance.

    Returns:
        A `keras_hub.models.CausalLM` (`Llama3CausalLM` for Llama checkpoints,
        `GPT2CausalLM` for GPT-2) whose logits match the checkpoint's, and whose
        `generate()` adds a start token only if the checkpoint's tokenizer does.

    Raises:
        PresetError: the preset cannot be resolved, or its `config.json` uses
            a feature keras-hub's model would silently compute differently.

    Example:
    >>> causal_lm = load_causal_lm("smollm2-135m")  # doctest: +SKIP
    >>> causal_lm.generate("The capital of France is", max_length=7)  # doctest: +SKIP
    'The capital of France is Paris.'
    """
    directory = resolve_causal_lm(preset)
    hf_config = _read_hf_config(directory)
    backbone = keras_hub.models.Backbone.from_preset(
        str(directory), **_backbone_fixes(directory, hf_config)
    )
    causal_lm = keras_hub.models.CausalLM.from_preset(str(directory), backbone=backbone)
    causal_lm.compile(sampler=sampler)
    if not _reference_adds_start_token(directory, causal_lm.preprocessor.tokenizer):
        _disable_start_token(causal_lm.preprocessor)
    _CHECKPOINTS[causal_lm] = _read_checkpoint(directory)
    return causal_lm


@dataclasses.dataclass(frozen=True)
class CheckpointText:
    """What text generation needs from a checkpoint's files, beyond keras-hub's model.

    Attributes:
        tokenizer: the checkpoint's own `tokenizers.Tokenizer` (from its
            `tokenizer.json`), or None where it has none.
        eos_token_ids: the ids that end a generated sequence, as Hugging Face
            reads them (`generation_config.json`, else `config.json`).
        chat_template: the Jinja chat template of an instruct model, or None.
        special_tokens: names such as `bos_token` -> their text, for the template.
    """

    tokenizer: object = None
    eos_token_ids: tuple = ()
    chat_template: str = None
    special_tokens: dict = dataclasses.field(default_factory=dict)


_CHECKPOINTS = weakref.WeakKeyDictionary()


def checkpoint_text(causal_lm):
    """The `CheckpointText` of a model from `load_causal_lm`; for other models, keras-hub's view.

    Example:
    >>> checkpoint_text(load_causal_lm("smollm2-135m")).eos_token_ids  # doctest: +SKIP
    (2,)
    """
    known = _CHECKPOINTS.get(causal_lm)
    if known is not None:
        return known
    tokenizer = causal_lm.preprocessor.tokenizer if causal_lm.preprocessor is not None else None
    end = getattr(tokenizer, "end_token_id", None)
    return CheckpointText(eos_token_ids=() if end is None else (int(end),))


def _read_checkpoint(directory):
    config = _read_hf_config(directory) or {}
    generation_path = directory / "generation_config.json"
    generation = json.loads(generation_path.read_text(encoding="utf-8")) if generation_path.is_file() else {}
    eos = generation.get("eos_token_id", config.get("eos_token_id"))
    eos = () if eos is None else tuple(eos) if isinstance(eos, list) else (eos,)
    tokenizer_config_path = directory / "tokenizer_config.json"
    tokenizer_config = (
        json.loads(tokenizer_config_path.read_text(encoding="utf-8")) if tokenizer_config_path.is_file() else {}
    )
    special = {
        name: value if isinstance(value, str) else value.get("content")
        for name, value in tokenizer_config.items()
        if name.endswith("_token") and isinstance(value, (str, dict))
    }
    tokenizer = _reference_tokenizer(directory) if (directory / "tokenizer.json").is_file() else None
    return CheckpointText(tokenizer, eos, tokenizer_config.get("chat_template"), special)


def _read_hf_config(directory):
    path = directory / "config.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _backbone_fixes(directory, hf_config):
    """Backbone arguments that keras-hub's Hugging Face converter leaves out."""
    if hf_config is None:  # a keras-hub preset stores its full config
        return {}
    model_type = hf_config.get("model_type")
    for key, allowed in _SUPPORTED_HF_VALUES.get(model_type, {}).items():
        if hf_config.get(key) not in allowed:
            raise PresetError(
                f"{directory}/config.json: {key}={hf_config.get(key)!r} is not "
                f"supported by keras-hub's {model_type} model (supported: "
                f"{[value for value in allowed if value is not None]}); its outputs "
                "would differ from the checkpoint's. Use a checkpoint without it."
            )
    if model_type == "llama":
        # transformers' LlamaConfig default when the file leaves it out.
        epsilon = hf_config.get("rms_norm_eps", 1e-6)
        return {"layer_norm_epsilon": epsilon, **_llama3_rope_scaling(directory, hf_config)}
    return {}


def _llama3_rope_scaling(directory, hf_config):
    """Rope scaling written by transformers 5 (`rope_parameters`), which keras-hub skips.

    keras-hub reads Llama 3.1+ frequency scaling only from the older
    `rope_scaling` key; without these arguments long-wavelength frequencies
    would silently go unscaled.
    """
    rope = hf_config.get("rope_parameters") or {}
    rope_type = rope.get("rope_type", "default")
    if rope_type == "default" or hf_config.get("rope_scaling") is not None:
        return {}
    if rope_type != "llama3":
        raise PresetError(
            f"{directory}/config.json: rope_type {rope_type!r} is not supported by "
            "keras-hub's Llama model (supported: 'default', 'llama3')."
        )
    return {
        "rope_frequency_adjustment_factor": rope["factor"],
        "rope_low_freq_factor": rope["low_freq_factor"],
        "rope_high_freq_factor": rope["high_freq_factor"],
        "rope_pretraining_sequence_length": rope["original_max_position_embeddings"],
    }


def _reference_adds_start_token(directory, tokenizer):
    if not (directory / "tokenizer.json").is_file():
        return False  # vocab.json + merges.txt only: GPT-2, which adds none.
    token_ids = _reference_tokenizer(directory).encode("a").ids
    return bool(token_ids) and token_ids[0] == tokenizer.start_token_id


def _disable_start_token(preprocessor):
    """Stop `preprocessor` from prepending the start token to prompts.

    keras-hub's `generate_preprocess` calls the packer without `add_start_value`,
    so `add_start_token=False` alone is ignored there; the packer's own start
    value has to go. The packer is made in `build`, hence the explicit call.
    """
    preprocessor.add_start_token = False
    preprocessor.build(None)
    preprocessor.packer.start_value = None


def load_reference_tokenizer(preset="smollm2-135m"):
    """The checkpoint's own `tokenizers.Tokenizer`, read from its `tokenizer.json`.

    keras-hub's BPE tokenizer disagrees with it on some texts (runs of
    whitespace and digits; special tokens in graph mode), so tfnlp tokenizes
    with this one wherever exact token ids matter.

    Example:
    >>> tokenizer = load_reference_tokenizer("smollm2-135m")  # doctest: +SKIP
    >>> tokenizer.encode("The capital of France is").ids  # doctest: +SKIP
    [504, 3575, 282, 4649, 314]
    """
    return _reference_tokenizer(resolve_causal_lm(preset))


def _reference_tokenizer(directory):
    import tokenizers

    path = directory / "tokenizer.json"
    if not path.is_file():
        raise PresetError(
            f"{path}: missing. Save the checkpoint's fast tokenizer there, e.g. "
            "`transformers.AutoTokenizer.from_pretrained(directory).save_pretrained(directory)`."
        )
    return tokenizers.Tokenizer.from_file(str(path))


def next_token_logits(causal_lm, token_ids):
    """Logits of the token that follows `token_ids`, for each sequence.

    Args:
        causal_lm: a keras-hub `CausalLM`, e.g. from `load_causal_lm`.
        token_ids: a sequence of ids, or a batch of equally long sequences
            (no padding), e.g. from `load_reference_tokenizer(...).encode(text).ids`.

    Returns:
        A float32 NumPy array `(vocabulary_size,)`, or `(batch, vocabulary_size)`
        for a batch.

    Example:
    >>> ids = load_reference_tokenizer().encode("The capital of France is").ids  # doctest: +SKIP
    >>> next_token_logits(load_causal_lm(), ids).argmax()  # doctest: +SKIP
    7042
    """
    token_ids = np.asarray(token_ids, dtype="int32")
    batched = token_ids.ndim == 2
    if token_ids.ndim not in (1, 2) or token_ids.shape[-1] == 0:
        raise ValueError(
            "`token_ids` must be a non-empty sequence of ids or a batch of "
            f"equally long sequences; received an array of shape {token_ids.shape}."
        )
    token_ids = token_ids.reshape(-1, token_ids.shape[-1])
    backbone = causal_lm.backbone
    hidden_states = backbone({"token_ids": token_ids, "padding_mask": np.ones_like(token_ids)})
    logits = backbone.token_embedding(hidden_states[:, -1, :], reverse=True)
    logits = keras.ops.convert_to_numpy(keras.ops.cast(logits, "float32"))
    return logits if batched else logits[0]
