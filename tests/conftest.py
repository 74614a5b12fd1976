"""Shared fixtures: tiny models and vocabularies made in code, and the real data folder."""

import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

TINY_WORDS = (
    "i feel happy sad angry love hate the a movie was good bad today really so very not "
    "it is and of to tweet joy fear surprise great awful ##s ##ing ##ed ##ly"
).split()
TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(".,!?'") + TINY_WORDS


def write_tiny_bert(directory, seed=0, vocab=TINY_VOCAB, initializer_range=0.5):
    """A 2-layer BERT saved in Hugging Face format (config, safetensors, vocab).

    The default large `initializer_range` puts activations where exact and
    approximate GELU differ (for parity tests); 0.02, BERT's own, trains well.
    """
    import torch
    import transformers

    torch.manual_seed(seed)
    config = transformers.BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        hidden_act="gelu",
        initializer_range=initializer_range,
    )
    model = transformers.BertModel(config).eval()
    model.save_pretrained(directory)
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n")
    (directory / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    return directory


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory):
    return write_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="session")
def trainable_bert_dir(tmp_path_factory):
    return write_tiny_bert(tmp_path_factory.mktemp("trainable_bert"), initializer_range=0.02)
