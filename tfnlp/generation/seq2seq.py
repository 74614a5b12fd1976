"""Generation with encoder-decoder models (BART): the source is encoded once, the decoder runs with caches.

The searches are `tfnlp.generation.generate`'s own (greedy, sampling, Hugging Face's beam search with
length penalty and no-repeat n-grams); `Seq2SeqDecoder` gives them the same `start`/`step`/`reorder`
interface as the causal LMs' `CachedDecoder`, over keras-hub's `call_decoder_with_cache`.

Example:
>>> seq2seq_lm = load_seq2seq_lm("path/to/bart")  # doctest: +SKIP
>>> generate_seq2seq(seq2seq_lm, "A long article ...", num_beams=4, length_penalty=2.0)["text"]  # doctest: +SKIP
"""

import weakref

import numpy as np
import tensorflow as tf

from tfnlp.errors import ConfigError
from tfnlp.generation.search import GenerationOptions, search
from tfnlp.models.seq2seq import seq2seq_settings


class Seq2SeqDecoder:
    """`start`/`step`/`reorder` decoding of one encoded source with a keras-hub `BartSeq2SeqLM`.

    Args:
        seq2seq_lm: the model.
        source_ids: the source's token ids, `<s>` and `</s>` included.
    """

    def __init__(self, seq2seq_lm, source_ids):
        backbone = seq2seq_lm.backbone
        self.num_layers, self.num_heads = backbone.num_layers, backbone.num_heads
        self.head_dim = backbone.hidden_dim // backbone.num_heads
        self._encode, self._prefill, self._step = _compiled(seq2seq_lm)
        source_ids = tf.constant([source_ids], "int32")
        self.source_mask = tf.ones_like(source_ids, dtype="bool")
        self.encoded = self._encode(source_ids, self.source_mask)
        self.position = 0

    def _zeros(self, rows, length):
        return tf.zeros((rows, self.num_layers, 2, length, self.num_heads, self.head_dim), self.encoded.dtype)

    def start(self, token_ids, max_length, copies=1):
        """Feed the decoder prompt (one row); returns float32 logits `(copies, vocabulary)` of the next token."""
        token_ids = tf.constant(np.repeat(np.asarray(token_ids, "int32"), copies, axis=0))
        rows = int(token_ids.shape[0])
        self.encoded_rows = tf.repeat(self.encoded, rows, axis=0)
        self.mask_rows = tf.repeat(self.source_mask, rows, axis=0)
        logits, self.self_cache, self.cross_cache = self._prefill(
            self.encoded_rows, self.mask_rows, token_ids,
            self._zeros(rows, max_length), self._zeros(rows, int(self.encoded.shape[1])),
        )
        self.position = int(token_ids.shape[1])
        return logits.numpy()

    def step(self, token_ids):
        """Feed one token per row; returns the logits of the token after it."""
        if self.position >= int(self.self_cache.shape[3]):
            raise ValueError(f"The cache holds {self.self_cache.shape[3]} positions; all are used.")
        token_ids = tf.constant(np.asarray(token_ids, "int32").reshape(-1, 1))
        logits, self.self_cache = self._step(
            self.encoded_rows, self.mask_rows, token_ids, self.self_cache, self.cross_cache,
            tf.constant(self.position, "int32"),
        )
        self.position += 1
        return logits.numpy()

    def reorder(self, rows):
        """Make row `i` a copy of row `rows[i]` (beam search keeps its best beams)."""
        self.self_cache = tf.gather(self.self_cache, np.asarray(rows, "int32"))


_COMPILED = weakref.WeakKeyDictionary()


def _compiled(seq2seq_lm):
    """The model's traced encoder, prefill and one-token step, made on first use and kept with the model."""
    if seq2seq_lm not in _COMPILED:
        model = weakref.proxy(seq2seq_lm)  # the model owns its functions, not the reverse

        def encode(token_ids, padding_mask):
            return model.call_encoder(token_ids, padding_mask)

        def prefill(encoded, mask, token_ids, self_cache, cross_cache):
            logits, _, self_cache, cross_cache = model.call_decoder_with_cache(
                encoded, mask, token_ids, self_cache, 0, cross_cache, 0)
            return tf.cast(logits[:, -1], "float32"), self_cache, cross_cache

        def step(encoded, mask, token_ids, self_cache, cross_cache, position):
            logits, _, self_cache, _ = model.call_decoder_with_cache(
                encoded, mask, token_ids, self_cache, position, cross_cache, None)
            return tf.cast(logits[:, -1], "float32"), self_cache

        _COMPILED[seq2seq_lm] = tuple(tf.function(f, reduce_retracing=True) for f in (encode, prefill, step))
    return _COMPILED[seq2seq_lm]


def source_token_ids(seq2seq_lm, texts, max_tokens=None):
    """`<s> text </s>` ids of a text (or a list of them), cut to fit `max_tokens` (default: the model's positions).

    Tokenized with the checkpoint's fast tokenizer when it has one (`vocab.json` and `merges.txt`), which
    keras-hub's BPE equals on these files and outpaces many times; else with keras-hub's.
    """
    single = isinstance(texts, str)
    texts = [texts] if single else list(texts)
    if any(not isinstance(text, str) or not text.strip() for text in texts):
        raise ConfigError("A source text is empty: give a text to summarize.")
    tokenizer = seq2seq_lm.preprocessor.tokenizer
    limit = min(max_tokens or seq2seq_lm.backbone.max_sequence_length, seq2seq_lm.backbone.max_sequence_length)
    fast = seq2seq_settings(seq2seq_lm).fast_tokenizer
    if fast is not None:
        pieces = [encoding.ids for encoding in fast.encode_batch(texts)]
    else:
        pieces = [np.asarray(ids).tolist() for ids in tokenizer(texts)]
    ids = [[tokenizer.start_token_id] + row[: limit - 2] + [tokenizer.end_token_id] for row in pieces]
    return ids[0] if single else ids


def generate_seq2seq(seq2seq_lm, text, max_new_tokens=None, num_beams=None, length_penalty=None,
                     no_repeat_ngram_size=None, early_stopping=None, max_source_tokens=None, **sampling):
    """Generate the target of `text` (e.g. its summary) with an encoder-decoder model.

    Options left at None take the checkpoint's `generation_config.json` values, else Hugging Face's
    defaults (greedy, 20 new tokens). The decoder starts from the checkpoint's `decoder_start_token_id`
    and forces its `forced_bos_token_id` first and `forced_eos_token_id` last, as Hugging Face's `generate`
    does, so that the searches pick the same tokens.

    Args:
        seq2seq_lm: a model from `tfnlp.models.load_seq2seq_lm`.
        text: the source text.
        max_new_tokens, num_beams, length_penalty, no_repeat_ngram_size, early_stopping: as in
            `tfnlp.generation.generate`.
        max_source_tokens: longer sources are cut.
        **sampling: `do_sample`, `temperature`, `top_k`, `top_p`, `seed`.

    Returns:
        `{"text", "token_ids", "logprob", "finished"}` (and `"score"` for beam search).
    """
    settings = seq2seq_settings(seq2seq_lm)
    given = {"max_new_tokens": max_new_tokens, "num_beams": num_beams, "length_penalty": length_penalty,
             "no_repeat_ngram_size": no_repeat_ngram_size, "early_stopping": early_stopping}
    defaults = {"max_new_tokens": 20, "num_beams": 1, "length_penalty": 1.0, "no_repeat_ngram_size": 0,
                "early_stopping": False}
    chosen = {key: value if value is not None else settings.generation.get(key, defaults[key])
              for key, value in given.items()}
    options = GenerationOptions(
        chosen["max_new_tokens"], sampling.pop("do_sample", False), chosen["num_beams"], chosen["length_penalty"],
        chosen["early_stopping"], chosen["no_repeat_ngram_size"], sampling.pop("temperature", 1.0),
        sampling.pop("top_k", 0), sampling.pop("top_p", 1.0), sampling.pop("seed", None),
    )
    if sampling:
        raise ConfigError(f"Unknown generation options: {sorted(sampling)}.")
    decoder = Seq2SeqDecoder(seq2seq_lm, source_token_ids(seq2seq_lm, text, max_source_tokens))
    eos = np.asarray(settings.eos_token_ids, dtype="int64")
    forced = {}
    if settings.forced_bos_token_id is not None:
        forced[0] = settings.forced_bos_token_id
    if settings.forced_eos_token_id is not None:
        forced[options.max_new_tokens - 1] = settings.forced_eos_token_id
    result = search(decoder, [settings.decoder_start_token_id], options, eos, forced)
    special = {settings.decoder_start_token_id, settings.forced_bos_token_id, *settings.eos_token_ids}
    tokenizer = seq2seq_lm.preprocessor.tokenizer
    ids = [token for token in result["token_ids"] if token not in special and token != tokenizer.pad_token_id]
    text_out = tokenizer.detokenize(np.asarray(ids, "int32")) if ids else ""
    text_out = text_out.numpy().decode("utf-8") if hasattr(text_out, "numpy") else str(text_out)
    return {"text": text_out.strip(), **result}
