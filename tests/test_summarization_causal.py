"""Decoder-only summarization on a tiny Llama made in the test: prompts, training examples, LoRA fine-tuning."""

import json

import numpy as np
import pytest

from tests.test_causal_lm import write_tiny_llama
from tests.test_generation import CHAT_TEMPLATE
from tfnlp.errors import ConfigError, DataError
from tfnlp.generation import decode, decoder_for, encode
from tfnlp.models.causal_lm import load_causal_lm, next_token_logits
from tfnlp.summarization.causal import (
    CausalLMSummarizer,
    clean_summary,
    lora_finetune,
    summary_prompt,
    summary_training_dataset,
    summary_training_example,
)

DIALOGUES = [
    "anna: the cat sat on the mat\nbob: good cat",
    "bob: hello world\nanna: hello bob",
    "anna: the dog ran home\nbob: fast dog",
    "bob: we eat at noon\nanna: see you then",
]
SUMMARIES = ["the cat sat", "bob says hello", "the dog ran", "they eat at noon"]


def write_tiny_chat_llama(directory):
    """The tiny Llama of `write_tiny_llama`, with a chat template."""
    directory = write_tiny_llama(directory)
    config_path = directory / "tokenizer_config.json"
    config_path.write_text(json.dumps({**json.loads(config_path.read_text()), "chat_template": CHAT_TEMPLATE}))
    return directory


@pytest.fixture(scope="module")
def tiny_llama_dir(tmp_path_factory):
    return write_tiny_chat_llama(tmp_path_factory.mktemp("llama"))


@pytest.fixture()
def causal_lm(tiny_llama_dir):
    return load_causal_lm(tiny_llama_dir)


def test_prompts(causal_lm):
    assert summary_prompt(causal_lm, "  some text \n") == "some text\nTL;DR:"
    chat = summary_prompt(causal_lm, "some text", style="chat", instruction="Sum up.")
    assert "<|im_start|>user\nSum up.\n\nsome text<|im_end|>" in chat
    assert chat.endswith("<|im_start|>assistant\n")
    with pytest.raises(ConfigError, match="style must be one of"):
        summary_prompt(causal_lm, "text", style="poem")


def test_clean_summary_keeps_the_first_paragraph_one_sentence_per_line():
    assert clean_summary("  Bob came. He ate.\n\nUnrelated text.") == "Bob came.\nHe ate."
    assert clean_summary("\n\n") == ""


def test_long_texts_are_cut_to_the_token_budget(causal_lm):
    summarizer = CausalLMSummarizer(causal_lm, max_text_tokens=5)
    prompt = summarizer.prompt(DIALOGUES[0] * 20)
    assert prompt.endswith("\nTL;DR:")
    assert len(encode(causal_lm, prompt.removesuffix("\nTL;DR:"))) <= 5


@pytest.mark.parametrize("style", ["tldr", "chat"])
def test_training_example_weights_exactly_the_summary_and_its_end(causal_lm, style):
    summarizer = CausalLMSummarizer(causal_lm, style=style)
    ids, weights = summary_training_example(summarizer, DIALOGUES[0], SUMMARIES[0])
    prompt_ids = encode(causal_lm, summarizer.prompt(DIALOGUES[0]))
    assert ids[: len(prompt_ids)] == prompt_ids
    assert len(weights) == len(ids) - 1
    # Position i predicts token i + 1: the weighted targets are the summary then the end token.
    targets = [ids[i + 1] for i, weight in enumerate(weights) if weight]
    assert decode(causal_lm, targets).strip() == SUMMARIES[0]
    assert targets[-1] == 2  # <|im_end|>, the tiny model's end of sequence
    with pytest.raises(DataError, match="empty"):
        summary_training_example(summarizer, DIALOGUES[0], "  ")


def test_training_batches_pad_and_mask(causal_lm):
    summarizer = CausalLMSummarizer(causal_lm)
    dataset = summary_training_dataset(summarizer, DIALOGUES, SUMMARIES, batch_size=3)
    assert int(dataset.cardinality()) == 2
    seen = 0
    for x, labels, weights in dataset:
        mask = x["padding_mask"].numpy()
        assert x["token_ids"].shape == labels.shape == weights.shape
        assert not weights.numpy()[~mask].any()  # padding never counts in the loss
        seen += len(mask)
    assert seen == len(DIALOGUES)
    with pytest.raises(DataError, match="4 texts but 3 summaries"):
        summary_training_dataset(summarizer, DIALOGUES, SUMMARIES[:3])


def test_lora_finetuning_trains_only_adapters_and_generation_sees_them(causal_lm, tmp_path):
    summarizer = CausalLMSummarizer(causal_lm, max_new_tokens=8)
    prompt_ids = encode(causal_lm, summarizer.prompt(DIALOGUES[0]))
    summarizer([DIALOGUES[0]])  # traces the cached decoder before LoRA exists
    backbone = causal_lm.backbone
    before = {w.path: w.numpy().copy() for w in backbone.weights}

    history = lora_finetune(summarizer, DIALOGUES, SUMMARIES, rank=4, epochs=20, batch_size=2,
                            learning_rate=5e-2, gradient_accumulation_steps=2, run_dir=tmp_path / "run")

    losses, accuracies = history.history["loss"], history.history["token_accuracy"]
    assert losses[-1] < losses[0] - 0.3 and accuracies[-1] > accuracies[0] + 0.2
    assert backbone.trainable_weights and all("lora" in w.path for w in backbone.trainable_weights)
    # Only the adapted projections change. (Keras saves a LoRA layer's kernel with its adapters merged in, so
    # the best-checkpoint restore at the end of `fit` leaves them merged into the kernel.)
    changed = {w.path for w in backbone.weights if "lora" not in w.path and not np.array_equal(w.numpy(), before[w.path])}
    assert changed and all(path.endswith(("query/kernel", "value/kernel")) for path in changed)
    # The cached decoder is rebuilt for the adapted layers: its logits are the full forward pass's.
    decoder = decoder_for(causal_lm)
    np.testing.assert_allclose(
        decoder.start([prompt_ids], len(prompt_ids) + 4)[0], next_token_logits(causal_lm, prompt_ids), atol=1e-4
    )
    assert (tmp_path / "run" / "logs").is_dir()


def test_bad_style_is_explained(causal_lm):
    with pytest.raises(ConfigError, match="style must be one of"):
        CausalLMSummarizer(causal_lm, style="haiku")
