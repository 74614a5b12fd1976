"""tfnlp.generation against transformers' PyTorch `generate` on tiny Llama and GPT-2 models made in the test.

Greedy and beam search must choose the same tokens as Hugging Face on the same weights;
sampling is checked for repeatability and for drawing only from the kept tokens; the
score filters are checked on fixed logits.
"""

import numpy as np
import pytest

from tests.test_causal_lm import write_tiny_gpt2, write_tiny_llama
from tfnlp.errors import ConfigError
from tfnlp.generation import (
    apply_chat_template,
    ban_repeated_ngrams,
    banned_ngram_tokens,
    decoder_for,
    generate,
    greedy_trace,
    next_token_distribution_plot,
    next_token_probabilities,
    sequence_logprob,
    temperature_plot,
    top_k_filter,
    top_p_filter,
)
from tfnlp.models.causal_lm import load_causal_lm, load_reference_tokenizer, next_token_logits

PROMPTS = ["the cat sat on", "hello world"]
ARCHITECTURES = ["llama", "gpt2"]


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    return {
        "llama": write_tiny_llama(tmp_path_factory.mktemp("llama")),
        "gpt2": write_tiny_gpt2(tmp_path_factory.mktemp("gpt2")),
    }


@pytest.fixture(scope="module")
def models(tiny_dirs):
    return {name: load_causal_lm(directory) for name, directory in tiny_dirs.items()}


@pytest.fixture(scope="module")
def torch_models(tiny_dirs):
    import transformers

    return {
        name: transformers.AutoModelForCausalLM.from_pretrained(directory).eval()
        for name, directory in tiny_dirs.items()
    }


def prompt_ids(tiny_dirs, architecture, prompt):
    return load_reference_tokenizer(tiny_dirs[architecture]).encode(prompt).ids


def torch_generate(model, ids, **options):
    """New token ids from transformers' `generate` (and the sequence score, for beam search)."""
    import torch

    inputs = torch.tensor([ids])
    eos = options.pop("eos_token_id", model.generation_config.eos_token_id)
    with torch.no_grad():
        output = model.generate(
            inputs,
            attention_mask=torch.ones_like(inputs),
            do_sample=False,
            pad_token_id=eos,
            eos_token_id=eos,
            return_dict_in_generate=True,
            output_scores=True,
            **options,
        )
    new = output.sequences[0, len(ids) :].tolist()
    if options.get("num_beams", 1) > 1:
        # Padding after an early end: the best sequence is as long as its own tokens.
        new = new[: int((output.beam_indices[0] >= 0).sum())]
    score = float(output.sequences_scores[0]) if output.get("sequences_scores") is not None else None
    return new, score


def torch_sequence_logprob(model, ids, prompt_length):
    import torch

    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, :-1].double()
    logprobs = torch.log_softmax(logits, dim=-1)
    picked = logprobs[torch.arange(len(ids) - 1), torch.tensor(ids[1:])]
    return float(picked[prompt_length - 1 :].sum())


# --- the cached decoder ---------------------------------------------------------------------


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_cached_decoder_matches_full_forward_at_every_step(models, tiny_dirs, architecture):
    causal_lm = models[architecture]
    ids = prompt_ids(tiny_dirs, architecture, PROMPTS[0])
    decoder = decoder_for(causal_lm)  # shared with `generate`: traced once per batch size

    batch = [list(ids), list(ids[::-1]), list(ids[1:] + ids[:1])]
    logits = decoder.start(batch, max_length=len(ids) + 3)
    for step in range(3):
        np.testing.assert_allclose(logits, next_token_logits(causal_lm, batch), atol=1e-5, rtol=0)
        tokens = [int(row.argmax()) for row in logits]
        batch = [row + [token] for row, token in zip(batch, tokens)]
        logits = decoder.step(tokens)


def test_cached_decoder_reorders_and_copies_rows(models, tiny_dirs):
    causal_lm = models["llama"]
    ids = prompt_ids(tiny_dirs, "llama", PROMPTS[0])
    decoder = decoder_for(causal_lm)

    logits = decoder.start([ids], max_length=len(ids) + 2, copies=3)
    assert logits.shape == (3, causal_lm.backbone.vocabulary_size)
    decoder.step([5, 6, 7])
    decoder.reorder([2, 2, 0])  # rows now hold the histories ...7, ...7, ...5
    logits = decoder.step([9, 9, 9])

    np.testing.assert_allclose(logits[0], next_token_logits(causal_lm, ids + [7, 9]), atol=1e-5, rtol=0)
    np.testing.assert_allclose(logits[1], logits[0], atol=1e-6, rtol=0)
    np.testing.assert_allclose(logits[2], next_token_logits(causal_lm, ids + [5, 9]), atol=1e-5, rtol=0)


def test_gpt2_prompt_longer_than_its_positions_is_rejected(models):
    with pytest.raises(ValueError, match="64 positions"):
        generate(models["gpt2"], [3] * 60, max_new_tokens=10)


# --- greedy and beam search vs transformers -------------------------------------------------


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("prompt", PROMPTS)
def test_greedy_matches_transformers(models, torch_models, tiny_dirs, architecture, prompt):
    ids = prompt_ids(tiny_dirs, architecture, prompt)

    result = generate(models[architecture], prompt, max_new_tokens=12)

    expected, _ = torch_generate(torch_models[architecture], ids, max_new_tokens=12)
    assert result["prompt_ids"] == ids
    assert result["token_ids"] == expected
    assert result["generated_text"] == prompt + result["continuation"]


# Three beams throughout: each batch size is traced once (seconds on 2 cores).
BEAM_CASES = [
    {"num_beams": 3},
    {"num_beams": 3, "no_repeat_ngram_size": 2},
    {"num_beams": 3, "length_penalty": 2.0},
    {"num_beams": 3, "length_penalty": -1.0, "no_repeat_ngram_size": 1},
    {"num_beams": 3, "early_stopping": True},
]


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("options", BEAM_CASES, ids=lambda options: "-".join(f"{k}={v}" for k, v in options.items()))
def test_beam_search_matches_transformers(models, torch_models, tiny_dirs, architecture, options):
    ids = prompt_ids(tiny_dirs, architecture, PROMPTS[0])

    result = generate(models[architecture], ids, max_new_tokens=10, **options)

    expected, score = torch_generate(torch_models[architecture], ids, max_new_tokens=10, **options)
    assert result["token_ids"] == expected
    assert result["score"] == pytest.approx(score, abs=1e-4)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("length_penalty", [0.0, 1.0, 3.0])
def test_beam_search_with_finished_beams_matches_transformers(models, torch_models, tiny_dirs, architecture,
                                                              length_penalty):
    # End-of-sequence = the most likely second token, so beams finish at different lengths.
    ids = prompt_ids(tiny_dirs, architecture, PROMPTS[1])
    eos = generate(models[architecture], ids, max_new_tokens=2, eos_token_ids=())["token_ids"][1]
    options = {"num_beams": 3, "length_penalty": length_penalty}

    result = generate(models[architecture], ids, max_new_tokens=8, eos_token_ids=[eos], **options)

    expected, score = torch_generate(torch_models[architecture], ids, max_new_tokens=8, eos_token_id=eos, **options)
    assert result["token_ids"] == expected
    assert result["finished"] == (expected[-1] == eos)
    assert result["score"] == pytest.approx(score, abs=1e-4)


def test_no_repeat_ngram_search_repeats_no_bigram(models, tiny_dirs):
    ids = prompt_ids(tiny_dirs, "llama", PROMPTS[0])
    for num_beams in (1, 3):
        tokens = ids + generate(models["llama"], ids, max_new_tokens=20, num_beams=num_beams,
                                no_repeat_ngram_size=2, eos_token_ids=())["token_ids"]
        bigrams = list(zip(tokens, tokens[1:]))
        assert len(bigrams) == len(set(bigrams))


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_logprobs_match_transformers(models, torch_models, tiny_dirs, architecture):
    ids = prompt_ids(tiny_dirs, architecture, PROMPTS[0])
    for options in ({}, {"num_beams": 3}):
        result = generate(models[architecture], ids, max_new_tokens=6, eos_token_ids=(), **options)
        full = ids + result["token_ids"]

        expected = torch_sequence_logprob(torch_models[architecture], full, len(ids))
        assert sequence_logprob(models[architecture], full, len(ids)) == pytest.approx(expected, abs=1e-4)
        assert result["logprob"] == pytest.approx(expected, abs=1e-4)
    assert result["score"] == pytest.approx(expected / 6, abs=1e-4)  # length_penalty 1: per new token


# --- sampling ---------------------------------------------------------------------------------


def test_sampling_with_a_seed_is_repeatable(models):
    options = {"max_new_tokens": 10, "do_sample": True, "temperature": 1.5, "eos_token_ids": ()}
    first = generate(models["llama"], PROMPTS[0], seed=3, **options)
    again = generate(models["llama"], PROMPTS[0], seed=3, **options)
    other = [generate(models["llama"], PROMPTS[0], seed=seed, **options)["token_ids"] for seed in range(4, 8)]

    assert first["token_ids"] == again["token_ids"]
    assert any(tokens != first["token_ids"] for tokens in other)


def test_top_k_sampling_draws_only_from_the_k_best(models, tiny_dirs):
    ids = prompt_ids(tiny_dirs, "llama", PROMPTS[0])
    allowed = set(np.argsort(-next_token_probabilities(models["llama"], ids))[:2].tolist())
    drawn = {
        generate(models["llama"], ids, max_new_tokens=1, do_sample=True, top_k=2, temperature=5.0, seed=seed)[
            "token_ids"][0]
        for seed in range(12)
    }
    assert drawn == allowed


def test_beam_sampling_is_repeatable(models):
    options = {"max_new_tokens": 6, "do_sample": True, "num_beams": 3, "top_p": 0.9, "seed": 1}
    assert generate(models["gpt2"], PROMPTS[0], **options) == generate(models["gpt2"], PROMPTS[0], **options)


# --- score filters on fixed logits ------------------------------------------------------------

LOGITS = np.log(np.array([0.05, 0.4, 0.1, 0.3, 0.15], dtype="float32"))


def kept(scores):
    return np.flatnonzero(np.isfinite(scores)).tolist()


def test_top_k_filter_keeps_the_k_best():
    assert kept(top_k_filter(LOGITS, 2)) == [1, 3]
    assert kept(top_k_filter(LOGITS, 0)) == [0, 1, 2, 3, 4]
    assert kept(top_k_filter(np.array([1.0, 2.0, 2.0, 0.0]), 1)) == [1, 2]  # ties with the k-th stay
    np.testing.assert_array_equal(top_k_filter(LOGITS, 2)[[1, 3]], LOGITS[[1, 3]])


@pytest.mark.parametrize("p, expected", [(0.4, [1]), (0.5, [1, 3]), (0.7, [1, 3]), (0.71, [1, 3, 4]),
                                         (0.95, [1, 2, 3, 4]), (1.0, [0, 1, 2, 3, 4])])
def test_top_p_filter_keeps_the_nucleus(p, expected):
    assert kept(top_p_filter(LOGITS, p)) == expected


def test_top_p_filter_matches_transformers_on_a_batch():
    import torch
    from transformers.generation.logits_process import TopKLogitsWarper, TopPLogitsWarper

    logits = np.random.default_rng(0).normal(size=(3, 50)).astype("float32") * 3
    expected = TopPLogitsWarper(0.8)(None, TopKLogitsWarper(20)(None, torch.tensor(logits))).numpy()
    np.testing.assert_array_equal(top_p_filter(top_k_filter(logits, 20), 0.8), expected)


def test_banned_ngrams_include_the_prompt():
    assert banned_ngram_tokens([5, 6, 7, 5], 2).tolist() == [6]
    assert banned_ngram_tokens([5, 6, 5, 7, 5], 2).tolist() == [6, 7]
    assert banned_ngram_tokens([1, 2, 3, 1, 2], 3).tolist() == [3]
    assert banned_ngram_tokens([1, 2], 3).tolist() == []
    scores = ban_repeated_ngrams(np.zeros((2, 8)), [[5, 6, 5], [1, 2, 3]], 2)
    assert kept(scores[0]) == [0, 1, 2, 3, 4, 5, 7] and kept(scores[1]) == list(range(8))


# --- greedy trace, plots, chat ------------------------------------------------------------------


def test_greedy_trace_table(models, tiny_dirs):
    causal_lm = models["llama"]
    table = greedy_trace(causal_lm, PROMPTS[0], steps=4, choices=3)

    assert list(table.columns) == ["Input", "Choice 1", "Choice 2", "Choice 3"]
    assert len(table) == 4 and table["Input"][0] == PROMPTS[0]
    probabilities, token_ids = table.attrs["probabilities"], table.attrs["token_ids"]
    assert probabilities.shape == token_ids.shape == (4, 3)
    assert np.all(np.diff(probabilities, axis=1) <= 0) and np.all(probabilities < 1)
    greedy = generate(causal_lm, PROMPTS[0], max_new_tokens=4, eos_token_ids=())["token_ids"]
    assert token_ids[:, 0].tolist() == greedy
    ids = prompt_ids(tiny_dirs, "llama", PROMPTS[0])
    expected = np.sort(next_token_probabilities(causal_lm, ids))[::-1][:3]
    np.testing.assert_allclose(probabilities[0], expected, rtol=1e-5)
    assert table["Choice 1"][0].endswith(f"({100 * expected[0]:.2f}%)")


def test_plots_are_written(models, tmp_path):
    probabilities = next_token_probabilities(models["llama"], PROMPTS[0])
    assert next_token_distribution_plot(probabilities, tmp_path / "next.png", top_k=5, top_p=0.9).stat().st_size
    assert temperature_plot(np.log(probabilities), tmp_path / "temperature.png", tokens=50).stat().st_size


# SmolLM2-Instruct's template: a default system turn, then one block per message.
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a tiny model<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def test_chat_template_matches_transformers(models, tmp_path):
    import json

    import transformers

    directory = write_tiny_llama(tmp_path)
    config_path = directory / "tokenizer_config.json"
    config_path.write_text(json.dumps({**json.loads(config_path.read_text()), "chat_template": CHAT_TEMPLATE}))
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    causal_lm = load_causal_lm(directory)

    for messages in ("hello", [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "hi"}]):
        listed = [{"role": "user", "content": messages}] if isinstance(messages, str) else messages
        expected = hf_tokenizer.apply_chat_template(listed, tokenize=False, add_generation_prompt=True)
        assert apply_chat_template(causal_lm, messages) == expected
    assert apply_chat_template(causal_lm, "hello").endswith("<|im_end|>\n<|im_start|>assistant\n")
    with pytest.raises(ConfigError, match="no chat template"):
        apply_chat_template(models["gpt2"], "hello")
    with pytest.raises(ConfigError, match="'role' and 'content'"):
        apply_chat_template(causal_lm, [{"text": "hello"}])


# --- bad arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, message",
    [
        ({"top_p": 0.0, "do_sample": True}, r"top_p=0.0: must be a number in \(0, 1\]"),
        ({"top_p": 1.5, "do_sample": True}, "top_p=1.5"),
        ({"num_beams": 0}, "num_beams=0: must be a whole number >= 1"),
        ({"temperature": 0, "do_sample": True}, "temperature=0: must be a number > 0"),
        ({"top_k": -1, "do_sample": True}, "top_k=-1"),
        ({"max_new_tokens": 0}, "max_new_tokens=0"),
        ({"no_repeat_ngram_size": 1.5}, "no_repeat_ngram_size=1.5"),
        ({"early_stopping": "sometimes"}, "early_stopping='sometimes'"),
        ({"temperature": 0.7}, "pass do_sample=True"),
    ],
)
def test_bad_options_are_explained(models, options, message):
    with pytest.raises(ConfigError, match=message):
        generate(models["llama"], PROMPTS[0], **options)


def test_bad_prompts_are_explained(models):
    with pytest.raises(ConfigError, match="outside the vocabulary"):
        generate(models["llama"], [1, 10_000])
    with pytest.raises(ConfigError, match="empty"):
        generate(models["llama"], [])
    with pytest.raises(ConfigError, match="string or a flat sequence"):
        generate(models["llama"], [[1, 2]])
    with pytest.raises(ConfigError, match="prompt_length=0"):
        sequence_logprob(models["llama"], [1, 2, 3], 0)
    with pytest.raises(ConfigError, match="steps=0"):
        greedy_trace(models["llama"], PROMPTS[0], steps=0)
