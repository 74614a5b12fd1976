"""Text <-> token ids for generation, with the checkpoint's own tokenizer where it has one.

keras-hub's byte-level BPE disagrees with a checkpoint's `tokenizer.json` on some
texts (see `tfnlp.models.causal_lm`), so prompts are encoded, and continuations
decoded, with the checkpoint's `tokenizers.Tokenizer`; keras-hub's tokenizer is
used only for a model that has none (a keras-hub preset).
"""

import numpy as np

from tfnlp.errors import ConfigError
from tfnlp.models.causal_lm import checkpoint_text


def encode(causal_lm, text):
    """Token ids of `text`, as the checkpoint's tokenizer makes them (special tokens included).

    Example:
    >>> encode(load_causal_lm("smollm2-135m"), "The capital of France is")  # doctest: +SKIP
    [504, 3575, 282, 4649, 314]
    """
    tokenizer = checkpoint_text(causal_lm).tokenizer
    if tokenizer is not None:
        return tokenizer.encode(text).ids
    return np.asarray(_keras_hub_tokenizer(causal_lm)(text)).tolist()


def decode(causal_lm, token_ids, skip_special_tokens=True):
    """The text of `token_ids`; special tokens such as `<|im_end|>` are left out by default.

    Example:
    >>> decode(load_causal_lm("smollm2-135m"), [7042, 30])  # doctest: +SKIP
    ' Paris.'
    """
    token_ids = [int(token) for token in token_ids]
    tokenizer = checkpoint_text(causal_lm).tokenizer
    if tokenizer is not None:
        return tokenizer.decode(token_ids, skip_special_tokens=skip_special_tokens)
    keras_tokenizer = _keras_hub_tokenizer(causal_lm)
    if skip_special_tokens:
        special = set(getattr(keras_tokenizer, "special_token_ids", None) or [])
        token_ids = [token for token in token_ids if token not in special]
    if not token_ids:
        return ""
    text = keras_tokenizer.detokenize(np.asarray(token_ids, dtype="int32"))
    return text.numpy().decode("utf-8") if hasattr(text, "numpy") else str(text)


def token_text(causal_lm, token_id):
    """The text of a single token (special tokens shown), e.g. `" Paris"`."""
    return decode(causal_lm, [token_id], skip_special_tokens=False)


def _keras_hub_tokenizer(causal_lm):
    if causal_lm.preprocessor is None:
        raise ConfigError(
            "This model has no tokenizer: it was loaded without a preprocessor. "
            "Pass token ids instead of text, or load it with tfnlp.models.load_causal_lm."
        )
    return causal_lm.preprocessor.tokenizer


def apply_chat_template(causal_lm, messages, add_generation_prompt=True):
    """The prompt text of a conversation, rendered with the instruct model's chat template.

    Renders the checkpoint's Jinja template as transformers' `apply_chat_template`
    does (sandboxed, `trim_blocks`, `lstrip_blocks`).

    Args:
        messages: a list of `{"role": "system"|"user"|"assistant", "content": str}`,
            or a single user message as a string.
        add_generation_prompt: end with the assistant's turn opening, so the
            model answers.

    Raises:
        ConfigError: the checkpoint has no chat template, or `messages` is malformed.

    Example:
    >>> apply_chat_template(load_causal_lm("smollm2-135m"), "Hi")  # doctest: +SKIP
    '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, ...<|im_start|>assistant\\n'
    """
    import jinja2.sandbox

    checkpoint = checkpoint_text(causal_lm)
    if not checkpoint.chat_template:
        raise ConfigError(
            "This checkpoint has no chat template (tokenizer_config.json: chat_template); "
            "it is not an instruct model. Pass a plain prompt instead."
        )
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not {"role", "content"} <= message.keys():
            raise ConfigError(
                f"messages[{index}] = {message!r}: each message must be a dict with 'role' and 'content'."
            )

    def raise_exception(message):
        raise ConfigError(f"The chat template rejected the messages: {message}")

    environment = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    environment.globals["raise_exception"] = raise_exception
    template = environment.from_string(checkpoint.chat_template)
    return template.render(
        messages=list(messages), add_generation_prompt=add_generation_prompt, **checkpoint.special_tokens
    )
