"""Encoder-decoder (seq2seq) LMs: BART from Hugging Face-format directories (or hub ids) through keras-hub.

Example:
>>> seq2seq_lm = load_seq2seq_lm("path/to/bart-large-cnn")  # doctest: +SKIP
>>> from tfnlp.generation import generate_seq2seq
>>> generate_seq2seq(seq2seq_lm, article, num_beams=4, length_penalty=2.0)["text"]  # doctest: +SKIP
"""

import dataclasses
import json
import weakref

import keras_hub

from tfnlp import presets
from tfnlp.errors import PresetError


@dataclasses.dataclass(frozen=True)
class Seq2SeqSettings:
    """How a checkpoint's decoder starts and ends, as Hugging Face's `generate` reads them.

    Attributes:
        decoder_start_token_id: the id the decoder is first fed (BART: `</s>`).
        forced_bos_token_id: the id forced as the first generated token, or None (BART-large: `<s>`).
        forced_eos_token_id: the id forced as the last token when the length limit is reached, or None.
        eos_token_ids: the ids that end a summary.
        generation: the checkpoint's `generation_config.json` defaults (e.g. `num_beams`, `length_penalty`).
        fast_tokenizer: the checkpoint's byte-level BPE as a `tokenizers` object, or None.
    """

    decoder_start_token_id: int
    forced_bos_token_id: int = None
    forced_eos_token_id: int = None
    eos_token_ids: tuple = ()
    generation: dict = dataclasses.field(default_factory=dict)
    fast_tokenizer: object = None


_SETTINGS = weakref.WeakKeyDictionary()
# The generation defaults a checkpoint may set that `generate_seq2seq` understands.
_GENERATION_KEYS = ("num_beams", "length_penalty", "no_repeat_ngram_size", "early_stopping", "max_new_tokens")


def load_seq2seq_lm(preset, encoder_sequence_length=512, decoder_sequence_length=128):
    """Load a BART checkpoint as a keras-hub `BartSeq2SeqLM` with its preprocessor.

    Args:
        preset: a local Hugging Face BART directory (`config.json`, `model.safetensors`, `vocab.json`,
            `merges.txt`), a keras-hub preset, or a hub id when online.
        encoder_sequence_length, decoder_sequence_length: the token lengths the preprocessor packs
            sources and summaries to for training.

    Raises:
        PresetError: the checkpoint is not BART, or uses a feature keras-hub's BART computes differently.
    """
    path = presets.resolve_preset(preset)
    config = _read_json(path / "config.json") if path.is_dir() else {}
    _check_supported(path, config)
    seq2seq_lm = _load_bart(path, config)
    seq2seq_lm.preprocessor.encoder_sequence_length = encoder_sequence_length
    seq2seq_lm.preprocessor.decoder_sequence_length = decoder_sequence_length
    tokenizer = seq2seq_lm.preprocessor.tokenizer
    generation = _read_json(path / "generation_config.json") if path.is_dir() else {}
    merged = {**config, **generation}
    eos = merged.get("eos_token_id", tokenizer.end_token_id)
    _SETTINGS[seq2seq_lm] = Seq2SeqSettings(
        decoder_start_token_id=int(merged.get("decoder_start_token_id", tokenizer.end_token_id)),
        # keras-hub's own presets always start summaries with `<s>` (its preprocessor packs them so).
        forced_bos_token_id=merged.get("forced_bos_token_id", None if config else tokenizer.start_token_id),
        forced_eos_token_id=merged.get("forced_eos_token_id"),
        eos_token_ids=tuple(eos) if isinstance(eos, list) else (int(eos),),
        generation={key: merged[key] for key in _GENERATION_KEYS if merged.get(key) is not None},
        fast_tokenizer=_fast_tokenizer(path),
    )
    return seq2seq_lm


def seq2seq_settings(seq2seq_lm):
    """The `Seq2SeqSettings` of a model from `load_seq2seq_lm` (BART's defaults for any other)."""
    known = _SETTINGS.get(seq2seq_lm)
    if known is not None:
        return known
    tokenizer = seq2seq_lm.preprocessor.tokenizer
    return Seq2SeqSettings(tokenizer.end_token_id, tokenizer.start_token_id, (tokenizer.end_token_id,))


def _load_bart(path, config):
    if not config:
        return keras_hub.models.BartSeq2SeqLM.from_preset(str(path))
    from keras_hub.src.utils.preset_utils import get_preset_loader

    loader = get_preset_loader(str(path))
    # keras-hub reads the depth from `num_hidden_layers`, which transformers 5 no longer writes into a
    # BART config (it is an alias of `encoder_layers` there).
    loader.config.setdefault("num_hidden_layers", config["encoder_layers"])
    return loader.load_task(keras_hub.models.BartSeq2SeqLM, load_weights=True, load_task_weights=False)


def _fast_tokenizer(path):
    if not (path.is_dir() and (path / "vocab.json").is_file() and (path / "merges.txt").is_file()):
        return None
    import tokenizers

    return tokenizers.ByteLevelBPETokenizer(str(path / "vocab.json"), str(path / "merges.txt"))


def _read_json(path):
    return json.loads(path.read_text()) if path.is_file() else {}


def _check_supported(path, config):
    if not config:
        return
    if config.get("model_type") != "bart":
        raise PresetError(
            f"{path}: model_type {config.get('model_type')!r} is not supported; tfnlp's seq2seq models are BART "
            "(keras-hub BartSeq2SeqLM). Pass a BART checkpoint."
        )
    problems = []
    if config.get("scale_embedding"):
        problems.append("scale_embedding=true (keras-hub does not scale embeddings by sqrt(d_model))")
    if config.get("encoder_layers") != config.get("decoder_layers"):
        problems.append("different encoder and decoder depths")
    if config.get("encoder_attention_heads") != config.get("decoder_attention_heads"):
        problems.append("different encoder and decoder head counts")
    if config.get("normalize_before") or config.get("add_final_layer_norm"):
        problems.append("pre-layer-norm (mBART-style) layers")
    if problems:
        raise PresetError(f"{path}: keras-hub's BART would compute this checkpoint differently: {'; '.join(problems)}.")
