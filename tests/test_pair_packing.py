"""Text-pair packing and truncation against the transformers `BertTokenizer` reference."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import TINY_VOCAB
from tfnlp.errors import DataError
from tfnlp.models.encoders import DynamicPaddingPreprocessor, load_tokenizer
from tfnlp.models.packing import HF_STRATEGIES, PairPacker, pair_keep_lengths

WORDS = "i feel happy sad angry love hate the a movie was good bad today".split()


def _text(length, offset=0):
    return " ".join(WORDS[(offset + i) % len(WORDS)] for i in range(length))


@pytest.fixture(scope="module")
def hf_tokenizer():
    transformers = pytest.importorskip("transformers")
    # transformers 5 ignores `vocab_file=`; pass the vocabulary itself.
    return transformers.BertTokenizer(vocab={token: i for i, token in enumerate(TINY_VOCAB)})


@pytest.fixture(scope="module")
def keras_tokenizer(tiny_bert_dir):
    return load_tokenizer(str(tiny_bert_dir))


def _hf_encode(hf_tokenizer, first, second, max_length, strategy):
    try:
        encoded = hf_tokenizer(first, second, truncation=strategy, max_length=max_length)
    except Exception:  # the Rust tokenizer refuses to empty a side
        return None
    return encoded["input_ids"], encoded["token_type_ids"]


LENGTHS = [(5, 5), (4, 10), (10, 4), (2, 10), (6, 6), (7, 3), (3, 7), (1, 12), (12, 1), (9, 9)]


@pytest.mark.parametrize("strategy", HF_STRATEGIES)
def test_pairs_match_transformers(strategy, hf_tokenizer, keras_tokenizer):
    max_length = 10
    pairs = [(_text(a, offset), _text(b, offset + 5)) for (a, b), offset in itertools.product(LENGTHS, (0, 3))]
    expected = [_hf_encode(hf_tokenizer, first, second, max_length, strategy) for first, second in pairs]
    fits = [pair for pair, reference in zip(pairs, expected) if reference is not None]
    assert len(fits) >= 10
    preprocessor = DynamicPaddingPreprocessor(keras_tokenizer, sequence_length=max_length, truncate=strategy)
    spec = tf.TensorSpec([None], tf.string)
    packed = tf.function(lambda a, b: preprocessor(x=(a, b)), input_signature=[spec, spec])
    x = packed(tf.constant([a for a, _ in fits]), tf.constant([b for _, b in fits]))
    lengths = x["padding_mask"].numpy().sum(axis=1)
    for row, (token_ids, segment_ids) in enumerate(reference for reference in expected if reference is not None):
        assert x["token_ids"].numpy()[row, : lengths[row]].tolist() == token_ids, (strategy, fits[row])
        assert x["segment_ids"].numpy()[row, : lengths[row]].tolist() == segment_ids
    refused = [pair for pair, reference in zip(pairs, expected) if reference is None]
    if refused:  # Hugging Face refuses to empty a side; so does the packer, in the graph too
        with pytest.raises(tf.errors.InvalidArgumentError, match="would lose all its tokens"):
            packed(tf.constant([refused[0][0]]), tf.constant([refused[0][1]]))


def test_eager_python_path_matches_graph(keras_tokenizer):
    preprocessor = DynamicPaddingPreprocessor(keras_tokenizer, sequence_length=10)
    first, second = [_text(4), _text(2)], [_text(10, 2), _text(3, 1)]
    graph = tf.function(lambda a, b: preprocessor(x=(a, b)))(tf.constant(first), tf.constant(second))
    eager = preprocessor(x=(first, second))
    for key in ("token_ids", "segment_ids", "padding_mask"):
        np.testing.assert_array_equal(np.asarray(eager[key]), graph[key].numpy())


def test_longest_first_differs_from_round_robin_on_odd_budgets():
    # 4 + 10 tokens into 7: Hugging Face keeps 3 + 4, keras-hub's round robin 4 + 3.
    keep = pair_keep_lengths(np.array([4]), np.array([10]), 7, "longest_first")
    assert (int(keep[0][0]), int(keep[1][0])) == (3, 4)
    round_robin = PairPacker(sequence_length=10, start_value=2, end_value=3, truncate="round_robin")
    _, segments = round_robin(([5] * 4, [6] * 10))
    assert np.asarray(segments).tolist().count(0) - 2 == 4


def test_only_first_that_cannot_fit_is_a_clear_error(keras_tokenizer):
    preprocessor = DynamicPaddingPreprocessor(keras_tokenizer, sequence_length=8, truncate="only_first")
    with pytest.raises(DataError, match="second text alone fills the budget of 5 tokens"):
        preprocessor(x=([_text(3)], [_text(6)]))


def test_unknown_strategy_is_rejected():
    with pytest.raises(ValueError, match="longest_first"):
        PairPacker(sequence_length=8, start_value=2, end_value=3, truncate="longest")


def test_pair_classifier_predicts_pairs_in_input_order(tiny_bert_dir):
    from tfnlp.models.classifier import EncoderClassifier
    from tfnlp.models.regressor import predict_texts

    classifier = EncoderClassifier.from_preset(tiny_bert_dir, ["different", "same"], sequence_length=16,
                                               truncate="only_second")
    assert classifier.preprocessor.truncate == "only_second"
    first, second = ["i feel happy", "so sad", "i feel happy"], ["so sad", "a movie was good", "so sad"]
    logits = predict_texts(classifier, first, second, batch_size=2)
    expected = classifier(classifier.preprocessor(x=(first, second)), training=False).numpy()
    np.testing.assert_allclose(logits, expected, atol=1e-5)
    np.testing.assert_allclose(logits[0], logits[2], atol=1e-5)  # the same pair, wherever it is
    alone = predict_texts(classifier, first)
    assert not np.allclose(alone[0], logits[0], atol=1e-3)  # the second text counts
