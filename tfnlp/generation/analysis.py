"""Looking inside decoding: the greedy trace table, next-token distributions, sequence log-probabilities."""

import keras
import numpy as np
import pandas as pd

from tfnlp.errors import ConfigError
from tfnlp.generation import processing, text
from tfnlp.generation.decoder import decoder_for
from tfnlp.generation.search import prompt_token_ids


def next_token_probabilities(causal_lm, prompt):
    """The model's probability for every token of the vocabulary to follow `prompt` (text or ids).

    Example:
    >>> probabilities = next_token_probabilities(causal_lm, "The capital of France is")  # doctest: +SKIP
    >>> probabilities.argmax(), probabilities.sum()  # doctest: +SKIP
    (7042, 1.0)
    """
    prompt_ids = prompt_token_ids(causal_lm, prompt)
    logits = decoder_for(causal_lm).start([prompt_ids], len(prompt_ids))[0]
    return processing.softmax(logits)


def greedy_trace(causal_lm, prompt, steps=8, choices=5):
    """A table of greedy decoding, one row per step: the input so far and the most likely next tokens.

    Each step appends the most likely token to the input, as greedy search does.

    Args:
        causal_lm: a keras-hub `CausalLM`, e.g. from `tfnlp.models.load_causal_lm`.
        prompt: text or token ids to start from.
        steps: rows (tokens decoded).
        choices: the most likely tokens shown per step.

    Returns:
        A pandas `DataFrame` with columns `Input`, `Choice 1` ... `Choice <choices>`,
        cells such as `" Paris (64.01%)"`. Its `attrs` hold the numbers:
        `token_ids` and `probabilities`, arrays `(steps, choices)`.

    Example:
    >>> greedy_trace(load_causal_lm("smollm2-135m"), "Transformers are the", steps=2)  # doctest: +SKIP
                        Input         Choice 1  ...
    0    Transformers are the   most (9.73%)  ...
    """
    for name, value in (("steps", steps), ("choices", choices)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name}={value!r}: must be a whole number >= 1.")
    ids = prompt_token_ids(causal_lm, prompt)
    decoder = decoder_for(causal_lm)
    logits = decoder.start([ids], len(ids) + steps)[0]
    rows, top_ids, top_probabilities = [], [], []
    for step in range(steps):
        probabilities = processing.softmax(logits)
        best = np.argsort(-probabilities, kind="stable")[:choices]
        row = {"Input": text.decode(causal_lm, ids, skip_special_tokens=False)}
        for rank, token in enumerate(best, start=1):
            row[f"Choice {rank}"] = f"{text.token_text(causal_lm, token)} ({100 * probabilities[token]:.2f}%)"
        rows.append(row)
        top_ids.append(best)
        top_probabilities.append(probabilities[best])
        ids = ids + [int(best[0])]
        if step + 1 < steps:
            logits = decoder.step([best[0]])[0]
    table = pd.DataFrame(rows)
    table.attrs = {"token_ids": np.array(top_ids), "probabilities": np.array(top_probabilities)}
    return table


def token_logprobs(causal_lm, token_ids):
    """log p(token i | tokens before it) for i = 1 .. n-1, by one full forward pass of keras-hub's model.

    Args:
        token_ids: a sequence of ids, or a batch of equally long sequences.

    Returns:
        float32 array `(n - 1,)`, or `(batch, n - 1)` for a batch.
    """
    token_ids = np.asarray(token_ids, dtype="int32")
    batched = token_ids.ndim == 2
    token_ids = np.atleast_2d(token_ids)
    if token_ids.ndim != 2 or token_ids.shape[1] < 2:
        raise ConfigError(f"token_ids must hold at least two ids per sequence; got shape {token_ids.shape}.")
    backbone = causal_lm.backbone
    hidden = backbone({"token_ids": token_ids, "padding_mask": np.ones_like(token_ids)})
    logits = keras.ops.convert_to_numpy(backbone.token_embedding(hidden[:, :-1], reverse=True)).astype("float32")
    logprobs = processing.log_softmax(logits)
    picked = np.take_along_axis(logprobs, token_ids[:, 1:, None].astype("int64"), axis=-1)[..., 0]
    return picked if batched else picked[0]


def sequence_logprob(causal_lm, token_ids, prompt_length):
    """The summed log-probability of `token_ids[prompt_length:]` given what comes before each.

    The chapter's version sums from one token later (`log_probs[:, input_len:]`
    skips the first generated token); this one counts every generated token, so it
    equals `generate(...)["logprob"]`.

    Args:
        token_ids: prompt ids followed by generated ids (a flat sequence).
        prompt_length: how many leading ids are the prompt (>= 1).

    Example:
    >>> result = generate(causal_lm, "The capital of France is", max_new_tokens=8)  # doctest: +SKIP
    >>> ids = result["prompt_ids"] + result["token_ids"]  # doctest: +SKIP
    >>> sequence_logprob(causal_lm, ids, len(result["prompt_ids"]))  # doctest: +SKIP
    -4.21
    """
    token_ids = [int(token) for token in token_ids]
    if not 1 <= prompt_length < len(token_ids):
        raise ConfigError(
            f"prompt_length={prompt_length}: must be at least 1 and less than the {len(token_ids)} ids given, "
            "so that at least one generated token is scored."
        )
    return float(token_logprobs(causal_lm, token_ids)[prompt_length - 1 :].sum())
