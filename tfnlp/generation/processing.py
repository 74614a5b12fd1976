"""Next-token scores: log-softmax, temperature, top-k, top-p and no-repeat n-grams (NumPy).

Each function takes scores of shape `(vocabulary,)` or `(rows, vocabulary)` and
returns new ones, with removed tokens set to `-inf`, as Hugging Face's logits
processors and warpers do (and in the same order: n-grams, temperature, top-k, top-p).

Example:
>>> logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
>>> np.isfinite(top_p_filter(logits, 0.75)).tolist()
[True, True, False, False]
"""

import numpy as np


def log_softmax(logits):
    """`log(softmax(logits))` along the last axis, computed stably."""
    logits = np.asarray(logits, dtype="float32")
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits, temperature=1.0):
    """Probabilities from logits, after dividing them by `temperature`."""
    return np.exp(log_softmax(np.asarray(logits, dtype="float32") / temperature))


def top_k_filter(logits, k):
    """Keep the `k` highest-scoring tokens (ties with the k-th kept too); `k=0` keeps all."""
    logits = np.asarray(logits, dtype="float32")
    if k <= 0 or k >= logits.shape[-1]:
        return logits
    kth = -np.partition(-logits, k - 1, axis=-1)[..., k - 1 : k]
    return np.where(logits < kth, -np.inf, logits).astype("float32")


def top_p_filter(logits, p, min_tokens_to_keep=1):
    """Keep the most likely tokens whose probabilities sum to at least `p` (nucleus); `p=1` keeps all.

    As Hugging Face's `TopPLogitsWarper`: sorted from least to most likely, a token
    is removed while the cumulative probability up to it stays at or below `1 - p`.
    """
    logits = np.asarray(logits, dtype="float32")
    if p >= 1.0:
        return logits
    order = np.argsort(logits, axis=-1, kind="stable")
    sorted_logits = np.take_along_axis(logits, order, axis=-1)
    cumulative = np.cumsum(softmax(sorted_logits), axis=-1)
    remove_sorted = cumulative <= 1.0 - p
    remove_sorted[..., -min_tokens_to_keep:] = False
    remove = np.zeros_like(remove_sorted)
    np.put_along_axis(remove, order, remove_sorted, axis=-1)
    return np.where(remove, -np.inf, logits).astype("float32")


def banned_ngram_tokens(token_ids, ngram_size):
    """Tokens that would repeat an n-gram of `token_ids` (prompt included) if generated next."""
    token_ids = np.asarray(token_ids)
    if ngram_size <= 0 or token_ids.size < ngram_size:
        return np.array([], dtype=token_ids.dtype)
    windows = np.lib.stride_tricks.sliding_window_view(token_ids, ngram_size)
    prefix = token_ids[token_ids.size - ngram_size + 1 :]
    matches = np.all(windows[:, :-1] == prefix, axis=1)
    return np.unique(windows[matches, -1])


def ban_repeated_ngrams(scores, sequences, ngram_size):
    """Set to `-inf` the score of every token that would repeat an n-gram of its row's sequence."""
    scores = np.array(scores, dtype="float32", copy=True)
    rows = scores.reshape(-1, scores.shape[-1])
    for row, sequence in zip(rows, np.atleast_2d(sequences)):
        row[banned_ngram_tokens(sequence, ngram_size)] = -np.inf
    return scores


def warp(scores, temperature=1.0, top_k=0, top_p=1.0):
    """Temperature, then top-k, then top-p, as Hugging Face applies them when sampling."""
    scores = np.asarray(scores, dtype="float32")
    if temperature != 1.0:
        scores = scores / np.float32(temperature)
    return top_p_filter(top_k_filter(scores, top_k), top_p)
