"""Text generation with causal LMs: greedy, beam search, sampling, traces and log-probabilities.

Example:
>>> from tfnlp.models import load_causal_lm  # doctest: +SKIP
>>> from tfnlp.generation import generate, greedy_trace
>>> causal_lm = load_causal_lm("smollm2-135m")  # doctest: +SKIP
>>> generate(causal_lm, "Transformers are the", num_beams=5, no_repeat_ngram_size=2)  # doctest: +SKIP
>>> greedy_trace(causal_lm, "Transformers are the", steps=8)  # doctest: +SKIP
"""

from tfnlp.generation.analysis import (
    greedy_trace,
    next_token_probabilities,
    sequence_logprob,
    token_logprobs,
)
from tfnlp.generation.decoder import CachedDecoder, decoder_for
from tfnlp.generation.plots import next_token_distribution_plot, temperature_plot
from tfnlp.generation.processing import (
    ban_repeated_ngrams,
    banned_ngram_tokens,
    log_softmax,
    softmax,
    top_k_filter,
    top_p_filter,
    warp,
)
from tfnlp.generation.search import (
    DECODING_STRATEGIES,
    GenerationOptions,
    generate,
    prompt_token_ids,
    strategy_options,
)
from tfnlp.generation.text import apply_chat_template, decode, encode

__all__ = [
    "DECODING_STRATEGIES",
    "CachedDecoder",
    "GenerationOptions",
    "apply_chat_template",
    "ban_repeated_ngrams",
    "banned_ngram_tokens",
    "decode",
    "decoder_for",
    "encode",
    "generate",
    "greedy_trace",
    "log_softmax",
    "next_token_distribution_plot",
    "next_token_probabilities",
    "prompt_token_ids",
    "sequence_logprob",
    "softmax",
    "strategy_options",
    "temperature_plot",
    "token_logprobs",
    "top_k_filter",
    "top_p_filter",
    "warp",
]
