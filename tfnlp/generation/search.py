"""`generate`: greedy search, sampling and beam search over a key/value-cached causal LM.

The strategies follow Hugging Face's `generate` step for step, so that on the same
weights they choose the same tokens: greedy takes the arg-max; sampling warps the
scores (temperature, then top-k, then top-p) and draws from them; beam search keeps
the `num_beams` best running sequences by summed log-probability, sets aside those
that end (end-of-sequence, or the length limit) with the score
`sum of log-probabilities / new_tokens ** length_penalty`, and stops when no
running beam can beat the finished ones.
"""

import dataclasses

import numpy as np

from tfnlp.errors import ConfigError
from tfnlp.generation import processing, text
from tfnlp.generation.decoder import decoder_for
from tfnlp.models.causal_lm import checkpoint_text

_FINISHED = np.float32(-1e9)  # Hugging Face's score for "not a candidate"


@dataclasses.dataclass(frozen=True)
class GenerationOptions:
    """The decoding knobs of `generate`, checked once (see `generate` for their meaning)."""

    max_new_tokens: int = 32
    do_sample: bool = False
    num_beams: int = 1
    length_penalty: float = 1.0
    early_stopping: object = False
    no_repeat_ngram_size: int = 0
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = None

    def __post_init__(self):
        checks = [
            (isinstance(self.max_new_tokens, (int, np.integer)) and self.max_new_tokens >= 1,
             "max_new_tokens", "a whole number >= 1"),
            (isinstance(self.num_beams, (int, np.integer)) and self.num_beams >= 1, "num_beams", "a whole number >= 1"),
            (isinstance(self.top_k, (int, np.integer)) and self.top_k >= 0, "top_k", "a whole number >= 0 (0: no cut)"),
            (isinstance(self.no_repeat_ngram_size, (int, np.integer)) and self.no_repeat_ngram_size >= 0,
             "no_repeat_ngram_size", "a whole number >= 0 (0: off)"),
            (_is_number(self.temperature) and self.temperature > 0, "temperature", "a number > 0"),
            (_is_number(self.top_p) and 0 < self.top_p <= 1, "top_p", "a number in (0, 1]"),
            (_is_number(self.length_penalty), "length_penalty", "a number"),
            (self.early_stopping in (True, False, "never"), "early_stopping", "True, False or 'never'"),
        ]
        for valid, name, expected in checks:
            if not valid:
                raise ConfigError(f"{name}={getattr(self, name)!r}: must be {expected}.")
        sampling_only = {"temperature": 1.0, "top_k": 0, "top_p": 1.0}
        changed = [name for name, default in sampling_only.items() if getattr(self, name) != default]
        if changed and not self.do_sample:
            raise ConfigError(
                f"{', '.join(changed)} only change sampling; pass do_sample=True to sample, "
                "or leave them at their defaults for greedy or beam search."
            )


def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def generate(causal_lm, prompt, max_new_tokens=32, do_sample=False, num_beams=1, length_penalty=1.0,
             no_repeat_ngram_size=0, temperature=1.0, top_k=0, top_p=1.0, seed=None, early_stopping=False,
             eos_token_ids=None):
    """Continue `prompt` with the model: greedy, sampling or beam search, with a key/value cache.

    Args:
        causal_lm: a keras-hub `CausalLM` (Llama or GPT-2), e.g. from
            `tfnlp.models.load_causal_lm`.
        prompt: text (encoded with the checkpoint's own tokenizer) or token ids.
        max_new_tokens: the most tokens to add.
        do_sample: draw tokens at random instead of taking the most likely.
        num_beams: beams of beam search; 1 means greedy search (or plain sampling).
        length_penalty: beam search ranks a finished beam by its summed
            log-probability divided by `new_tokens ** length_penalty`
            (> 0 favours longer sequences, < 0 shorter ones).
        early_stopping: beam search stops when `num_beams` beams have finished
            (True), when no running beam is likely to beat them (False, as
            Hugging Face's default), or only when none can ("never").
        no_repeat_ngram_size: forbid any n-gram of this size to occur twice
            (0: off); the prompt counts.
        temperature: divides the logits before sampling: < 1 sharpens the
            distribution, > 1 flattens it.
        top_k: sample only from the `top_k` most likely tokens (0: all).
        top_p: sample only from the most likely tokens whose probabilities sum
            to `top_p` (nucleus sampling; 1: all). Combines with `top_k`.
        seed: seed of the sampling generator, for repeatable samples.
        eos_token_ids: ids that end a sequence (default: the checkpoint's
            end-of-sequence ids; `()` never stops early).

    Returns:
        `{"generated_text": prompt + continuation, "continuation": the new text,
        "prompt_ids": [...], "token_ids": the new ids (end-of-sequence included),
        "logprob": their summed log-probability under the model,
        "finished": whether an end-of-sequence token ended it}`, and for beam
        search `"score"`, the length-penalised score it was ranked by.

    Raises:
        ConfigError: an option out of range, e.g. `top_p=1.5` or `num_beams=0`.

    Example:
    >>> causal_lm = load_causal_lm("smollm2-135m")  # doctest: +SKIP
    >>> generate(causal_lm, "The capital of France is", max_new_tokens=3)["generated_text"]  # doctest: +SKIP
    'The capital of France is Paris.'
    >>> generate(causal_lm, "Once upon a time", do_sample=True, top_k=50, top_p=0.9, seed=1)  # doctest: +SKIP
    """
    options = GenerationOptions(
        max_new_tokens, do_sample, num_beams, length_penalty, early_stopping, no_repeat_ngram_size,
        temperature, top_k, top_p, seed,
    )
    prompt_ids = prompt_token_ids(causal_lm, prompt)
    if eos_token_ids is None:
        eos_token_ids = checkpoint_text(causal_lm).eos_token_ids
    eos_token_ids = np.asarray(list(eos_token_ids), dtype="int64")
    result = search(decoder_for(causal_lm), prompt_ids, options, eos_token_ids)
    continuation = text.decode(causal_lm, result["token_ids"])
    if isinstance(prompt, str):
        generated = prompt + continuation
    else:
        generated = text.decode(causal_lm, prompt_ids + result["token_ids"])
    return {"generated_text": generated, "continuation": continuation, "prompt_ids": prompt_ids, **result}


def prompt_token_ids(causal_lm, prompt):
    """The token ids of a prompt given as text or ids, checked against the vocabulary."""
    if isinstance(prompt, str):
        ids = text.encode(causal_lm, prompt)
    elif isinstance(prompt, (list, tuple, np.ndarray)) and np.ndim(prompt) == 1:
        ids = [int(token) for token in prompt]
    else:
        raise ConfigError(f"prompt must be a string or a flat sequence of token ids; received {type(prompt).__name__}.")
    if not ids:
        raise ConfigError("The prompt is empty: give at least one token of text to continue.")
    vocabulary_size = causal_lm.backbone.vocabulary_size
    bad = [token for token in ids if not 0 <= token < vocabulary_size]
    if bad:
        raise ConfigError(f"prompt holds token ids outside the vocabulary [0, {vocabulary_size}): {bad[:5]}.")
    return ids


def search(decoder, prompt_ids, options, eos_token_ids, forced=None):
    """Greedy search, sampling or beam search with `options`, over any decoder with `start`, `step` and `reorder`.

    Args:
        decoder: a `CachedDecoder` (causal LMs) or `Seq2SeqDecoder` (encoder-decoders, source already encoded).
        prompt_ids: the ids the decoder continues.
        options: a `GenerationOptions`.
        eos_token_ids: an int64 array of the ids that end a sequence.
        forced: `{step: token id}`: the new token at these steps is forced (Hugging Face's
            `forced_bos_token_id` is `{0: id}`, its `forced_eos_token_id` `{max_new_tokens - 1: id}`).

    Returns:
        `{"token_ids", "logprob", "finished"}` (and `"score"` for beam search).
    """
    forced = forced or {}
    if options.num_beams == 1:
        return _sample_or_greedy(decoder, prompt_ids, options, eos_token_ids, forced)
    return _beam_search(decoder, prompt_ids, options, eos_token_ids, forced)


def _forced(scores, token):
    """Scores where only `token` may be chosen (as Hugging Face's forced-token processors set them)."""
    forced = np.full_like(scores, -np.inf)
    forced[..., token] = 0.0
    return forced


def _sample_or_greedy(decoder, prompt_ids, options, eos_token_ids, forced):
    rng = np.random.default_rng(options.seed)
    logits = decoder.start([prompt_ids], len(prompt_ids) + options.max_new_tokens)[0]
    sequence, new_ids, logprob, finished = list(prompt_ids), [], 0.0, False
    for step in range(options.max_new_tokens):
        scores = _forced(logits, forced[step]) if step in forced else logits
        if options.no_repeat_ngram_size:
            scores = processing.ban_repeated_ngrams(scores, [sequence], options.no_repeat_ngram_size)
        if options.do_sample:
            probabilities = processing.softmax(processing.warp(scores, options.temperature, options.top_k, options.top_p))
            token = int(rng.choice(probabilities.size, p=probabilities / probabilities.sum()))
        else:
            token = int(np.argmax(scores))
        logprob += float(processing.log_softmax(logits)[token])
        sequence.append(token)
        new_ids.append(token)
        if token in eos_token_ids:
            finished = True
            break
        if step + 1 < options.max_new_tokens:
            logits = decoder.step([token])[0]
    return {"token_ids": new_ids, "logprob": logprob, "finished": finished}


@dataclasses.dataclass
class _Beams:
    """Beams' new tokens, scores, raw log-probability sums and lengths (one row per beam)."""

    tokens: np.ndarray
    scores: np.ndarray
    logprobs: np.ndarray
    lengths: np.ndarray

    def take(self, rows):
        return _Beams(self.tokens[rows].copy(), self.scores[rows], self.logprobs[rows], self.lengths[rows])


def _beam_search(decoder, prompt_ids, options, eos_token_ids, forced):
    """Hugging Face's beam search (transformers 5 `_beam_search`), for one prompt."""
    beams, steps = options.num_beams, options.max_new_tokens
    keep = max(2, 1 + len(eos_token_ids)) * beams  # candidates kept per step
    rng = np.random.default_rng(options.seed)
    logits = decoder.start([prompt_ids], len(prompt_ids) + steps, copies=beams)
    prompt = np.asarray(prompt_ids, dtype="int64")

    empty = np.zeros((beams, steps), dtype="int64")
    zeros = np.zeros(beams, dtype="float32")
    # Only the first beam starts live, so the first step does not pick one token `beams` times.
    running = _Beams(empty.copy(), np.where(np.arange(beams) == 0, 0.0, _FINISHED).astype("float32"),
                     zeros.copy(), np.zeros(beams, dtype="int64"))
    finished = _Beams(empty.copy(), np.full(beams, _FINISHED), zeros.copy(), np.zeros(beams, dtype="int64"))
    is_finished = np.zeros(beams, dtype=bool)
    may_improve = True
    for step in range(steps):
        raw = processing.log_softmax(logits)
        scores = _forced(raw, forced[step]) if step in forced else raw
        if options.no_repeat_ngram_size:
            sequences = [np.concatenate([prompt, row[:step]]) for row in running.tokens]
            scores = processing.ban_repeated_ngrams(scores, sequences, options.no_repeat_ngram_size)
        if options.do_sample:
            scores = processing.warp(scores, options.temperature, options.top_k, options.top_p)
        vocabulary = scores.shape[-1]
        totals = (scores + running.scores[:, None]).reshape(-1)
        chosen = _top_candidates(totals, keep, options.do_sample, rng)
        rows, tokens = chosen // vocabulary, chosen % vocabulary
        candidates = running.take(rows)
        candidates.tokens[:, step] = tokens
        candidates.scores = totals[chosen]
        candidates.logprobs = candidates.logprobs + raw[rows, tokens]
        candidates.lengths = np.full(keep, step + 1)
        ends = np.isin(tokens, eos_token_ids) | (step + 1 >= steps)

        # Running beams: the best candidates that did not end.
        live = candidates.scores + ends.astype("float32") * _FINISHED
        best_live = _top_indices(live, beams)
        running = candidates.take(best_live)
        running.scores = live[best_live]

        # Finished beams: merge those that ended among the top `beams` candidates.
        penalised = candidates.scores / np.float32((step + 1) ** options.length_penalty)
        just_ended = ends & (np.arange(keep) < beams)  # only the top `beams` may be kept
        closed = (is_finished.all() and options.early_stopping is True) or not may_improve
        eligible = just_ended & (not closed)
        penalised = np.where(eligible, penalised, penalised + _FINISHED).astype("float32")
        merged = _Beams(*(np.concatenate([a, b]) for a, b in zip(
            (finished.tokens, finished.scores, finished.logprobs, finished.lengths),
            (candidates.tokens, penalised, candidates.logprobs, candidates.lengths))))
        merged_finished = np.concatenate([is_finished, just_ended])
        best = _top_indices(merged.scores, beams)
        finished, is_finished = merged.take(best), merged_finished[best]

        may_improve = may_improve and _may_improve(running, finished, is_finished, step + 1, steps, options)
        if not may_improve or (is_finished.all() and options.early_stopping is True) or ends.all():
            break
        decoder.reorder(rows[best_live])
        logits = decoder.step(running.tokens[:, step])

    length = int(finished.lengths[0])
    token_ids = finished.tokens[0, :length].tolist()
    return {
        "token_ids": token_ids,
        "logprob": float(finished.logprobs[0]),
        "score": float(finished.scores[0]),
        "finished": bool(length and token_ids[-1] in eos_token_ids),
    }


def _top_candidates(totals, count, do_sample, rng):
    """The `count` best (or, sampling, drawn without replacement) flat indices, best first."""
    if not do_sample:
        return _top_indices(totals, count)
    probabilities = processing.softmax(totals)
    drawn = rng.choice(totals.size, size=count, replace=False, p=probabilities / probabilities.sum())
    return drawn[np.argsort(-totals[drawn], kind="stable")]


def _top_indices(values, count):
    """Indices of the `count` largest values, largest first (as `torch.topk`)."""
    part = np.argpartition(-values, count - 1)[:count]
    return part[np.argsort(-values[part], kind="stable")]


def _may_improve(running, finished, is_finished, new_tokens, steps, options):
    """Hugging Face's early-stop heuristic: could the best running beam still beat the worst finished one?"""
    if options.early_stopping == "never" and options.length_penalty > 0:
        length = steps
    else:
        length = new_tokens
    best_running = running.scores[0] / np.float32(length ** options.length_penalty)
    worst_finished = np.where(is_finished, finished.scores.min(), _FINISHED)
    return bool(np.any(best_running > worst_finished))


DECODING_STRATEGIES = ("greedy", "beam", "beam-no-repeat", "sample", "top-k", "top-p", "top-k-top-p")


def strategy_options(name, num_beams=5, no_repeat_ngram_size=2, temperature=1.0, top_k=50, top_p=0.90, seed=None):
    """`generate` keyword arguments of a named decoding strategy (the names `--decoding` takes).

    `greedy`; `beam` (`num_beams`); `beam-no-repeat` (also `no_repeat_ngram_size`);
    `sample` (at `temperature`, from the whole vocabulary); `top-k`, `top-p` and
    `top-k-top-p` (sampling at `temperature` with those cuts).

    Example:
    >>> strategy_options("top-k-top-p", seed=1)
    {'do_sample': True, 'temperature': 1.0, 'seed': 1, 'top_k': 50, 'top_p': 0.9}
    """
    sampling = {"do_sample": True, "temperature": temperature, "seed": seed}
    options = {
        "greedy": {},
        "beam": {"num_beams": num_beams},
        "beam-no-repeat": {"num_beams": num_beams, "no_repeat_ngram_size": no_repeat_ngram_size},
        "sample": sampling,
        "top-k": {**sampling, "top_k": top_k},
        "top-p": {**sampling, "top_p": top_p},
        "top-k-top-p": {**sampling, "top_k": top_k, "top_p": top_p},
    }
    if name not in options:
        raise ConfigError(f"Unknown decoding strategy {name!r}; choose one of {', '.join(DECODING_STRATEGIES)}.")
    return options[name]
