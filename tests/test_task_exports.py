"""SavedModel (raw strings and token ids) and ONNX exports of the regressor and the token classifier."""

import numpy as np
import onnxruntime
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops of the raw-string signatures)

from tfnlp.errors import DataError
from tfnlp.export.bundle import export_run_models
from tfnlp.export.onnx import export_onnx
from tfnlp.export.saved_model import export_saved_model
from tfnlp.models.regressor import EncoderRegressor
from tfnlp.models.token_classifier import EncoderTokenClassifier, TokenClassificationPipeline
from tfnlp.serving.onnx_pipeline import OnnxTextRegressionPipeline, OnnxTokenClassificationPipeline
from tfnlp.serving.tagging import text_words

FIRST = ["i feel happy", "the movie was really good !", "so sad"]
SECOND = ["i feel sad", "a bad movie", "so very sad today"]
WORDS = [["i", "feeling", "happy"], ["the", "movies", "was", "good", "today"]]
# 18 words of 1-2 pieces: the last ones get no piece within 16 tokens and are tagged "O".
LONG_SENTENCE = "the movies was really good and i feeling happy , so very not sad today ! really great".split()
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
    glued = ["so good!", "Zürich, today"]  # punctuation splits off, as the pipelines split it
    assert served.signatures["serving_default"](text=tf.constant(glued))["num_words"].numpy().tolist() == [
        len(text_words(text)[0]) for text in glued] == [3, 3]
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


def test_run_folder_exports_serve_the_same_tags_with_onnx_runtime(tagger, tmp_path):
    paths = export_run_models(tagger, tmp_path)
    assert {path.name for path in tmp_path.iterdir()} >= {"model.keras", "saved_model", "saved_model_token_ids", "onnx"}
    assert {"model.onnx", "model.int8.onnx", "vocab.txt", "tokenizer_config.json"} <= set(
        path.name for path in (tmp_path / "onnx").iterdir())
    sentences = WORDS + [LONG_SENTENCE, ["café", "ungoodly"], []]
    keras_pipeline = TokenClassificationPipeline(tagger)
    onnx_pipeline = OnnxTokenClassificationPipeline(paths["onnx"])  # tokenizer and max_length from the folder
    assert onnx_pipeline.max_length == 16 and onnx_pipeline.label_names == TAGS
    expected = keras_pipeline.word_probabilities(sentences, batch_size=2)
    served = onnx_pipeline.word_probabilities(sentences, batch_size=2)
    for keras_one, onnx_one in zip(expected, served):
        np.testing.assert_allclose(onnx_one, keras_one, atol=1e-4)
    cut = [row[tagger.outside_id] for row in expected[2][-3:]]
    assert cut == [1.0, 1.0, 1.0], "words past the sequence length are 'O' with certainty"
    text = "the movies was really good today"
    assert [e["entity_group"] for e in onnx_pipeline(text)] == [e["entity_group"] for e in keras_pipeline(text)]


def test_run_folder_exports_serve_the_same_scores_with_onnx_runtime(regressor, tmp_path):
    paths = export_run_models(regressor, tmp_path, int8=False)
    long_first = " ".join(LONG_SENTENCE)  # the pair is cut longest-first to 16 tokens, as the preprocessor cuts it
    first, second = FIRST + [long_first, "so sad"], SECOND + ["i feel happy", long_first]
    scorer = OnnxTextRegressionPipeline(paths["onnx"])
    np.testing.assert_allclose(scorer.predict_scores(first, second, batch_size=2),
                               regressor.predict_scores(first, second), atol=1e-4)
    assert scorer.predict_scores([], []).shape == (0,)
    with pytest.raises(DataError, match="2 texts but 1 text pairs"):
        scorer.predict_scores(["a", "b"], ["c"])
