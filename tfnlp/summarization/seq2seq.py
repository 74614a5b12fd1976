"""Encoder-decoder summarization (BART): fine-tuning with teacher forcing, and summaries by beam search.

Example:
>>> seq2seq_lm = load_seq2seq_lm("path/to/bart-base")  # doctest: +SKIP
>>> seq2seq_finetune(seq2seq_lm, train["dialogue"], train["summary"], epochs=1,
...                  gradient_accumulation_steps=16)  # doctest: +SKIP
>>> summarize = Seq2SeqSummarizer(seq2seq_lm, num_beams=4, length_penalty=2.0, max_new_tokens=128)
>>> scores, summaries = evaluate_summaries(test, summarize, "dialogue", "summary")  # doctest: +SKIP
"""

import keras
import tensorflow as tf

from tfnlp.errors import DataError
from tfnlp.generation.seq2seq import generate_seq2seq
from tfnlp.summarization.causal import clean_summary
from tfnlp.training.fit import fit


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


def seq2seq_dataset(texts, summaries, batch_size=8, shuffle_seed=None):
    """Batches of `{"encoder_text", "decoder_text"}` raw strings; the model's preprocessor packs them.

    The preprocessor makes the teacher-forcing inputs `</s> <s> summary` and the labels `<s> summary </s>`,
    with sample weights 0 on padding, so padded label positions never count in the loss.
    """
    texts, summaries = list(texts), list(summaries)
    if len(texts) != len(summaries):
        raise DataError(f"{len(texts)} texts but {len(summaries)} summaries", hint="pass one summary per text")
    if not texts:
        raise DataError("no training examples", hint="pass at least one text and summary")
    empty = [i for i, (t, s) in enumerate(zip(texts, summaries)) if not str(t).strip() or not str(s).strip()]
    if empty:
        raise DataError(f"rows {empty[:5]} have an empty text or summary", hint="drop them before fine-tuning")
    dataset = tf.data.Dataset.from_tensor_slices({"encoder_text": texts, "decoder_text": summaries})
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(texts), seed=shuffle_seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size)


def seq2seq_finetune(seq2seq_lm, texts, summaries, *, epochs=3, batch_size=8, learning_rate=5e-5, warmup_ratio=0.1,
                     gradient_accumulation_steps=1, validation=None, run_dir=None, seed=0):
    """Fine-tune an encoder-decoder model on (text, summary) pairs with teacher forcing.

    The loss is the mean cross-entropy over the summary tokens (padding excluded), as Hugging Face's with
    labels padded by -100; AdamW with linear warm-up then decay (`tfnlp.training.fit`).

    Args:
        seq2seq_lm: a model from `tfnlp.models.load_seq2seq_lm` (its preprocessor's sequence lengths cut
            texts and summaries).
        texts, summaries: the training pairs.
        gradient_accumulation_steps: apply the averaged gradients of this many batches at once.
        validation: optional `(texts, summaries)` for the validation loss and the best checkpoint.
        run_dir: the run folder (TensorBoard logs, best checkpoint, resumable backup).

    Returns:
        The Keras `History`.
    """
    train = seq2seq_dataset(texts, summaries, batch_size, shuffle_seed=seed)
    val = seq2seq_dataset(*validation, batch_size) if validation is not None else None
    return fit(
        seq2seq_lm, train, val, epochs=epochs, learning_rate=learning_rate, warmup_ratio=warmup_ratio,
        run_dir=run_dir,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight"),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="token_accuracy")],
        gradient_accumulation_steps=gradient_accumulation_steps if gradient_accumulation_steps > 1 else None,
    )
