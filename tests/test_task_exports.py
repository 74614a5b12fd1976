"""SavedModel (raw strings and token ids) and ONNX exports of the regressor and the token classifier."""

import numpy as np
import onnxruntime
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops of the raw-string signatures)

from tfnlp.export.onnx import export_onnx
from tfnlp.export.saved_model import export_saved_model
from tfnlp.models.regressor import EncoderRegressor
from tfnlp.models.token_classifier import EncoderTokenClassifier, TokenClassificationPipeline

FIRST = ["i feel happy", "the movie was really good !", "so sad"]
SECOND = ["i feel sad", "a bad movie", "so very sad today"]
WORDS = [["i", "feeling", "happy"], ["the", "movies", "was", "good", "today"]]
TAGS = ["O", "B-EMO", "I-EMO"]


def _onnx_outputs(path, inputs):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {spec.name: np.asarray(inputs[spec.name]).astype(np.int32) for spec in session.get_inputs()}
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, feed)))


@pytest.fixture(scope="module")
def regressor(tiny_bert_dir):
    return EncoderRegressor.from_preset(str(tiny_bert_dir), sequence_length=16)


@pytest.fixture(scope="module")
def tagger(tiny_bert_dir):
    return EncoderTokenClassifier.from_preset(str(tiny_bert_dir), TAGS, sequence_length=16)


def test_regressor_exports(regressor, tmp_path):
    inputs = regressor.preprocessor(x=(FIRST, SECOND))
    expected = regressor(inputs, training=False).numpy()
    served = tf.saved_model.load(str(export_saved_model(regressor, tmp_path / "saved_model")))
    by_text = served.signatures["serving_default"](text=tf.constant(FIRST), text_pair=tf.constant(SECOND))
    np.testing.assert_allclose(by_text["score"].numpy(), expected, atol=1e-5)
    token_inputs = {name: tf.cast(inputs[name], tf.int32) for name in ("token_ids", "padding_mask", "segment_ids")}
    np.testing.assert_allclose(served.signatures["token_ids"](**token_inputs)["score"].numpy(), expected, atol=1e-5)
    onnx_scores = _onnx_outputs(export_onnx(regressor, tmp_path / "model.onnx"), inputs)["logits"]
    assert onnx_scores.shape == (len(FIRST),)
    np.testing.assert_allclose(onnx_scores, expected, atol=1e-4)


def test_token_classifier_exports(tagger, tmp_path):
    pipeline_tags = TokenClassificationPipeline(tagger).tag(WORDS)
    served = tf.saved_model.load(str(export_saved_model(tagger, tmp_path / "saved_model")))
    by_text = served.signatures["serving_default"](text=tf.constant([" ".join(words) for words in WORDS]))
    assert by_text["num_words"].numpy().tolist() == [3, 5]
    tags = [[t.decode() for t in row[:n]] for row, n in zip(by_text["tags"].numpy(), by_text["num_words"].numpy())]
    assert tags == pipeline_tags
    assert by_text["tags"].numpy()[0, 3] == b""  # past the first sentence's words
    padded = tf.ragged.constant(WORDS).to_tensor("")
    assert served.signatures["words"](words=padded)["tag_ids"].numpy().tolist() == by_text["tag_ids"].numpy().tolist()
    assert [n.decode() for n in served.signatures["label_names"]()["label_names"].numpy()] == TAGS

    inputs, _ = tagger.preprocessor.pack_words(WORDS)
    expected = tagger(inputs, training=False).numpy()
    token_inputs = {name: tf.cast(inputs[name], tf.int32) for name in ("token_ids", "padding_mask", "segment_ids")}
    np.testing.assert_allclose(served.signatures["token_ids"](**token_inputs)["logits"].numpy(), expected, atol=1e-5)
    onnx_logits = _onnx_outputs(export_onnx(tagger, tmp_path / "model.onnx"), inputs)["logits"]
    assert onnx_logits.shape == expected.shape
    np.testing.assert_allclose(onnx_logits, expected, atol=1e-4)
