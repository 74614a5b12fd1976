"""Encoder-decoder summarization (BART): fine-tuning with teacher forcing, and summaries by beam search.

Example:
>>> seq2seq_lm = load_seq2seq_lm("path/to/bart-base")  # doctest: +SKIP
>>> seq2seq_finetune(seq2seq_lm, train["dialogue"], train["summary"], epochs=1,
...                  gradient_accumulation_steps=16)  # doctest: +SKIP
>>> summarize = Seq2SeqSummarizer(seq2seq_lm, num_beams=4, length_penalty=2.0, max_new_tokens=128)
>>> scores, summaries = evaluate_summaries(test, summarize, "dialogue", "summary")  # doctest: +SKIP
"""

import numpy as np

from tfnlp.errors import DataError
from tfnlp.generation.seq2seq import generate_seq2seq, source_token_ids
from tfnlp.models.seq2seq import seq2seq_settings
from tfnlp.summarization.causal import clean_summary
from tfnlp.summarization.token_batches import batches_dataset, check_pairs, fit_on_summary_tokens, padded


class Seq2SeqSummarizer:
    """Summarizes texts with an encoder-decoder model and `generate_seq2seq` (for `evaluate_summaries`).

    Args:
        seq2seq_lm: a model from `tfnlp.models.load_seq2seq_lm`.
        **generation: `generate_seq2seq` options (`num_beams`, `length_penalty`, `max_new_tokens`,
            `no_repeat_ngram_size`, `max_source_tokens`, ...); unset ones take the checkpoint's defaults.
    """

    def __init__(self, seq2seq_lm, **generation):
        self.seq2seq_lm = seq2seq_lm
        self.generation = generation

    def summarize(self, text):
        return clean_summary(generate_seq2seq(self.seq2seq_lm, text, **self.generation)["text"])

    def __call__(self, texts):
        return [self.summarize(text) for text in texts]


def seq2seq_dataset(seq2seq_lm, texts, summaries, batch_size=8, max_source_tokens=512, max_target_tokens=128,
                    shuffle_seed=None):
    """Teacher-forcing batches: `({"encoder_token_ids", ..., "decoder_token_ids", ...}, labels, weights)`.

    As Hugging Face's BART: sources `<s> text </s>`, labels `<s> summary </s>`, decoder inputs the labels
    shifted right behind `decoder_start_token_id`; batches pad to their longest row and the weights are 0
    on padding, so padded label positions never count in the loss. Tokenized with the checkpoint's fast
    tokenizer (keras-hub's in-graph BPE costs seconds per batch inside tf.data).
    """
    texts, summaries = check_pairs(texts, summaries)
    empty = [i for i, (t, s) in enumerate(zip(texts, summaries)) if not t.strip() or not s.strip()]
    if empty:
        raise DataError(f"rows {empty[:5]} have an empty text or summary", hint="drop them before fine-tuning")
    settings = seq2seq_settings(seq2seq_lm)
    pad = seq2seq_lm.preprocessor.tokenizer.pad_token_id
    sources = source_token_ids(seq2seq_lm, texts, max_source_tokens)
    labels = source_token_ids(seq2seq_lm, summaries, max_target_tokens)
    order = np.arange(len(texts))
    if shuffle_seed is not None:
        order = np.random.default_rng(shuffle_seed).permutation(len(texts))
    batches = []
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        encoder_ids, encoder_mask = padded([sources[i] for i in rows], pad)
        label_ids, label_mask = padded([labels[i] for i in rows], pad)
        decoder_ids = np.concatenate([np.full((len(rows), 1), settings.decoder_start_token_id), label_ids[:, :-1]], 1)
        x = {"encoder_token_ids": encoder_ids, "encoder_padding_mask": encoder_mask,
             "decoder_token_ids": decoder_ids.astype("int32"),
             "decoder_padding_mask": np.concatenate([np.ones((len(rows), 1), bool), label_mask[:, :-1]], 1)}
        batches.append((x, label_ids, label_mask.astype("float32")))
    return batches_dataset(batches)


def seq2seq_finetune(seq2seq_lm, texts, summaries, *, epochs=3, batch_size=8, learning_rate=5e-5, warmup_ratio=0.1,
                     gradient_accumulation_steps=1, max_source_tokens=512, max_target_tokens=128, validation=None,
                     run_dir=None, seed=0):
    """Fine-tune an encoder-decoder model on (text, summary) pairs with teacher forcing.

    The loss is the mean cross-entropy over the summary tokens (padding excluded), as Hugging Face's with
    labels padded by -100; AdamW with linear warm-up then decay (`tfnlp.training.fit`).

    Args:
        seq2seq_lm: a model from `tfnlp.models.load_seq2seq_lm`.
        texts, summaries: the training pairs.
        max_source_tokens, max_target_tokens: longer texts and summaries are cut.
        gradient_accumulation_steps: apply the averaged gradients of this many batches at once.
        validation: optional `(texts, summaries)` for the validation loss and the best checkpoint.
        run_dir: the run folder (TensorBoard logs, best checkpoint, resumable backup).

    Returns:
        The Keras `History`.
    """
    lengths = {"max_source_tokens": max_source_tokens, "max_target_tokens": max_target_tokens}
    train = seq2seq_dataset(seq2seq_lm, texts, summaries, batch_size, shuffle_seed=seed, **lengths)
    val = seq2seq_dataset(seq2seq_lm, *validation, batch_size, **lengths) if validation is not None else None
    return fit_on_summary_tokens(
        seq2seq_lm, train, val, epochs=epochs, learning_rate=learning_rate, warmup_ratio=warmup_ratio,
        run_dir=run_dir, gradient_accumulation_steps=gradient_accumulation_steps,
    )
