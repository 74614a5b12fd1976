"""Decoder-only summarization: prompting a causal LM ("TL;DR:" or its chat template) and LoRA fine-tuning.

A causal LM summarizes by continuing a prompt that ends where the summary should start. Zero-shot, that
is the GPT-2 paper's "TL;DR:" cue or, for an instruct model, a chat turn asking for a summary. Fine-tuning
teaches the same prompt's continuation: the loss covers only the summary tokens (and the end-of-sequence
token that stops generation), and with LoRA only low-rank adapters on the attention projections train, so a
135M-parameter model fine-tunes on a CPU in minutes.

Example:
>>> from tfnlp.models import load_causal_lm  # doctest: +SKIP
>>> causal_lm = load_causal_lm("smollm2-135m")  # doctest: +SKIP
>>> summarize = CausalLMSummarizer(causal_lm, style="chat")  # doctest: +SKIP
>>> summarize(["Amanda: I baked cookies. Do you want some?\\nJerry: Sure!"])  # doctest: +SKIP
['Amanda baked cookies and will bring Jerry some.']
>>> lora_finetune(causal_lm, train_dialogues, train_summaries, epochs=1)  # doctest: +SKIP
"""

import numpy as np

from tfnlp.errors import ConfigError, DataError
from tfnlp.generation import apply_chat_template, decode, encode, generate
from tfnlp.metrics.sentences import split_sentences
from tfnlp.models.causal_lm import checkpoint_text
from tfnlp.summarization.token_batches import batches_dataset, check_pairs, fit_on_summary_tokens, padded

PROMPT_STYLES = ("tldr", "chat")
DEFAULT_INSTRUCTION = "Summarize the following text in one to three sentences."
# Batches are cut from runs of this many batches' worth of examples sorted by length: little padding, and
# still a shuffled order.
_SORTED_BATCHES = 20


def summary_prompt(causal_lm, text, style="tldr", instruction=DEFAULT_INSTRUCTION):
    """The prompt whose continuation is a summary of `text`.

    Args:
        style: `"tldr"`: the text then `"\\nTL;DR:"` (any causal LM); `"chat"`: one user turn,
            `instruction` and the text, in the instruct model's chat template, ready for the assistant's reply.

    Example:
    >>> summary_prompt(None, "The cat sat on the mat.")
    'The cat sat on the mat.\\nTL;DR:'
    """
    text = text.strip()
    if style == "tldr":
        return f"{text}\nTL;DR:"
    if style == "chat":
        return apply_chat_template(causal_lm, [{"role": "user", "content": f"{instruction}\n\n{text}"}])
    raise ConfigError(f"style must be one of {PROMPT_STYLES}; got {style!r}.")


def truncate_to_tokens(causal_lm, text, max_tokens):
    """`text` cut to its first `max_tokens` tokens (whole, when it is short enough)."""
    ids = encode(causal_lm, text)
    return text if len(ids) <= max_tokens else decode(causal_lm, ids[:max_tokens])


def clean_summary(continuation):
    """A generated continuation as a summary: up to its first blank line, one sentence per line (for ROUGE-Lsum).

    Example:
    >>> clean_summary(" Jerry will get cookies. Amanda baked them.\\n\\nMore text")
    'Jerry will get cookies.\\nAmanda baked them.'
    """
    summary = continuation.strip().split("\n\n")[0]
    return "\n".join(split_sentences(summary)) if summary.strip() else ""


class CausalLMSummarizer:
    """Summarizes texts with a causal LM by continuing `summary_prompt`, e.g. for `evaluate_summaries`.

    Args:
        causal_lm: a keras-hub causal LM (Llama or GPT-2), e.g. `tfnlp.models.load_causal_lm("smollm2-135m")`.
        style: `"tldr"` or `"chat"` (see `summary_prompt`).
        max_new_tokens: the longest summary, in tokens.
        max_text_tokens: longer texts are cut to this many tokens first.
        instruction: the request of a `"chat"` prompt.
        **generation: more `tfnlp.generation.generate` options, e.g. `num_beams=4, no_repeat_ngram_size=3`.

    Calling it on a list of texts returns their summaries (see `clean_summary`).
    """

    def __init__(self, causal_lm, style="tldr", max_new_tokens=64, max_text_tokens=768,
                 instruction=DEFAULT_INSTRUCTION, **generation):
        if style not in PROMPT_STYLES:
            raise ConfigError(f"style must be one of {PROMPT_STYLES}; got {style!r}.")
        self.causal_lm = causal_lm
        self.style = style
        self.max_new_tokens = max_new_tokens
        self.max_text_tokens = max_text_tokens
        self.instruction = instruction
        self.generation = generation

    def prompt(self, text):
        text = truncate_to_tokens(self.causal_lm, text, self.max_text_tokens)
        return summary_prompt(self.causal_lm, text, self.style, self.instruction)

    def summarize(self, text):
        result = generate(self.causal_lm, self.prompt(text), max_new_tokens=self.max_new_tokens, **self.generation)
        return clean_summary(result["continuation"])

    def __call__(self, texts):
        return [self.summarize(text) for text in texts]


def summary_training_example(summarizer, text, summary, max_summary_tokens=128):
    """`(token_ids, loss_weights)` of prompt + summary + end-of-sequence; the weights are 1 on the summary's tokens.

    The prompt and the summary are tokenized apart, as generation sees them: the model learns to continue
    exactly the prompt ids it will be given.
    """
    causal_lm = summarizer.causal_lm
    if not summary.strip():
        raise DataError("a training summary is empty", hint="drop rows without a summary before fine-tuning")
    eos = checkpoint_text(causal_lm).eos_token_ids
    if not eos:
        raise ConfigError("The model has no end-of-sequence token to end summaries with.")
    prompt_ids = encode(causal_lm, summarizer.prompt(text))
    target = " " + summary.strip() if summarizer.style == "tldr" else summary.strip()
    target_ids = encode(causal_lm, target)[:max_summary_tokens] + [eos[0]]
    ids = prompt_ids + target_ids
    # Position i predicts token i + 1: weight the positions whose next token is part of the target.
    weights = [0.0] * (len(prompt_ids) - 1) + [1.0] * len(target_ids)
    return ids, weights


def summary_training_dataset(summarizer, texts, summaries, batch_size=8, max_summary_tokens=128, seed=0):
    """A `tf.data.Dataset` of `({"token_ids", "padding_mask"}, next_ids, loss_weights)` batches for `fit`.

    Examples are shuffled with `seed`, then sorted by length within runs of batches, so batches pad little.
    """
    texts, summaries = check_pairs(texts, summaries)
    examples = [summary_training_example(summarizer, t, s, max_summary_tokens) for t, s in zip(texts, summaries)]
    order = np.random.default_rng(seed).permutation(len(examples))
    run = batch_size * _SORTED_BATCHES
    batches = []
    for start in range(0, len(order), run):
        chunk = sorted(order[start : start + run], key=lambda i: len(examples[i][0]))
        batches += [_padded_batch([examples[i] for i in chunk[b : b + batch_size]]) for b in range(0, len(chunk), batch_size)]
    return batches_dataset([batches[i] for i in np.random.default_rng(seed + 1).permutation(len(batches))])


def _padded_batch(examples):
    token_ids, mask = padded([ids[:-1] for ids, _ in examples])
    labels, _ = padded([ids[1:] for ids, _ in examples])
    weights, _ = padded([loss_weights for _, loss_weights in examples], dtype="float32")
    return {"token_ids": token_ids, "padding_mask": mask}, labels, weights


def lora_finetune(summarizer, texts, summaries, *, rank=8, epochs=1, batch_size=8, learning_rate=2e-4,
                  gradient_accumulation_steps=1, validation=None, max_summary_tokens=128, run_dir=None, seed=0):
    """Fine-tune `summarizer`'s causal LM to write the summaries, training only LoRA adapters.

    `backbone.enable_lora(rank)` freezes every weight and adds rank-`rank` adapters to the attention
    query and value projections; the loss is the cross-entropy of the summary tokens given the prompt.

    Args:
        summarizer: a `CausalLMSummarizer`; its prompt style and text length are the ones trained.
        texts, summaries: training pairs (lists of str).
        rank: the adapters' rank.
        epochs, batch_size, learning_rate: as for `tfnlp.training.fit` (AdamW, warm-up then linear decay).
        gradient_accumulation_steps: apply the averaged gradients of this many batches at a time.
        validation: optional `(texts, summaries)` for the validation loss (and the best checkpoint).
        run_dir: the run folder for TensorBoard logs, the best checkpoint and the resumable backup.

    Returns:
        The Keras `History`.
    """
    backbone = summarizer.causal_lm.backbone
    if not getattr(backbone, "_lora_enabled_layers", None):
        backbone.enable_lora(rank)
    train = summary_training_dataset(summarizer, texts, summaries, batch_size, max_summary_tokens, seed)
    val = None
    if validation is not None:
        val = summary_training_dataset(summarizer, *validation, batch_size, max_summary_tokens, seed)
    return fit_on_summary_tokens(
        summarizer.causal_lm, train, val, epochs=epochs, learning_rate=learning_rate, run_dir=run_dir,
        gradient_accumulation_steps=gradient_accumulation_steps,
    )
