import keras
import numpy as np
import pytest
import torch
import transformers

from tests.conftest import TINY_VOCAB
from tfnlp.errors import PresetError
from tfnlp.models.encoders import BertEncoder, load_encoder, load_preprocessor


def reference_hidden_states(directory, texts):
    model = transformers.AutoModel.from_pretrained(directory).eval()
    tokenizer = transformers.BertTokenizerFast(
        vocab={token: i for i, token in enumerate(TINY_VOCAB)}, do_lower_case=True
    )
    encoded = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        output = model(**encoded)
    return encoded, output


def test_hidden_states_match_transformers_reference(tiny_bert_dir):
    texts = ["I feel really happy today!", "so sad"]
    encoded, reference = reference_hidden_states(tiny_bert_dir, texts)
    encoder = load_encoder(tiny_bert_dir)
    inputs = load_preprocessor(tiny_bert_dir, sequence_length=32)(texts)
    # Same token ids from tfnlp's in-graph tokenizer as from the reference tokenizer.
    np.testing.assert_array_equal(inputs["token_ids"].numpy(), encoded["input_ids"].numpy())
    outputs = encoder(inputs)
    mask = encoded["attention_mask"].numpy()[..., None]
    sequence_gap = np.abs((outputs["sequence_output"].numpy() - reference.last_hidden_state.numpy()) * mask)
    assert sequence_gap.max() < 1e-4
    np.testing.assert_allclose(outputs["pooled_output"].numpy(), reference.pooler_output.numpy(), atol=1e-4)


def test_approximate_gelu_would_miss_the_reference(tiny_bert_dir):
    """Guards the reason BertEncoder exists: keras-hub's default activation differs."""
    texts = ["i feel really happy today"]
    encoded, reference = reference_hidden_states(tiny_bert_dir, texts)
    encoder = load_encoder(tiny_bert_dir)
    approximate = BertEncoder(**{**encoder.get_config(), "hidden_activation": "gelu_approximate"})
    approximate.set_weights(encoder.get_weights())
    inputs = load_preprocessor(tiny_bert_dir)(texts)
    exact_gap = np.abs(encoder(inputs)["sequence_output"].numpy() - reference.last_hidden_state.numpy()).max()
    approximate_gap = np.abs(approximate(inputs)["sequence_output"].numpy() - reference.last_hidden_state.numpy()).max()
    assert approximate_gap > 10 * exact_gap


def test_encoder_config_round_trip_keeps_activation(tiny_bert_dir):
    encoder = load_encoder(tiny_bert_dir)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(encoder))
    assert isinstance(clone, BertEncoder)
    assert clone.hidden_activation == "gelu"
    assert clone.transformer_layers[0]._feedforward_intermediate_dense.activation is keras.activations.gelu


def test_dynamic_padding_pads_to_longest_in_batch(tiny_bert_dir):
    preprocessor = load_preprocessor(tiny_bert_dir, sequence_length=32)
    short = preprocessor(["so sad", "i feel happy"])
    assert short["token_ids"].shape == (2, 5)  # [CLS] i feel happy [SEP]
    truncated = load_preprocessor(tiny_bert_dir, sequence_length=4)(["i feel really very happy today"])
    assert truncated["token_ids"].shape == (1, 4)
    assert truncated["token_ids"].numpy()[0, -1] == TINY_VOCAB.index("[SEP]")


def test_unknown_activation_is_a_clear_error(tmp_path, tiny_bert_dir):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_bert_dir, broken)
    config = (broken / "config.json").read_text().replace('"gelu"', '"swishy"')
    (broken / "config.json").write_text(config)
    with pytest.raises(PresetError, match="hidden_act 'swishy' is not supported"):
        load_encoder(broken)
