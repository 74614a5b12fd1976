"""Every task's SavedModel, run by `saved_model_cli` in a fresh process, gives the Keras model's outputs.

The raw-string signatures run in a process that imports only TensorFlow and
tensorflow-text (the ops of the in-graph tokenizer); the token-id signatures of
the `raw_strings=False` export in one that imports only TensorFlow, as a server
built without tensorflow-text.
"""

import subprocess
import sys

import keras
import numpy as np
import tensorflow as tf

from tfnlp.export.saved_model import export_saved_model
from tfnlp.models import bilstm
from tfnlp.models.classifier import EncoderClassifier
from tfnlp.models.question_answering import QuestionAnswerer
from tfnlp.models.regressor import EncoderRegressor
from tfnlp.models.token_classifier import EncoderTokenClassifier, TokenClassificationPipeline
from tfnlp.models.word_vectors import WordVectors, embedding_matrix
from tfnlp.serving.qa_pipeline import QuestionAnsweringPipeline

TEXTS = ["i feel happy", "the movie was really good !", "so sad"]
PAIRS = ["i feel sad", "a bad movie", "so very sad today"]
TOKEN_INPUTS = ("token_ids", "padding_mask", "segment_ids")

# saved_model_cli with the tokenizer ops registered first; `-c` leaves sys.argv[1:] to its flags.
CLI_WITH_TEXT_OPS = ("import tensorflow_text; from tensorflow.python.tools import saved_model_cli; "
                     "saved_model_cli.main()")


def saved_model_cli_run(path, signature, inputs, outdir, text_ops=False):
    """Outputs (name -> array) of `saved_model_cli run` on `inputs` (name -> nested list)."""
    launcher = ["-c", CLI_WITH_TEXT_OPS] if text_ops else ["-m", "tensorflow.python.tools.saved_model_cli"]
    expressions = ";".join(f"{name}={np.asarray(value).tolist()!r}" for name, value in inputs.items())
    subprocess.run([sys.executable, *launcher, "run", "--dir", str(path), "--tag_set", "serve",
                    "--signature_def", signature, "--input_exprs", expressions, "--outdir", str(outdir)],
                   capture_output=True, text=True, check=True)
    return {file.stem: np.load(file, allow_pickle=True) for file in outdir.glob("*.npy")}


def token_id_export(model, tmp_path):
    return export_saved_model(model, tmp_path / "saved_model_token_ids", raw_strings=False)


def token_id_inputs(inputs):
    return {name: keras.ops.convert_to_numpy(inputs[name]).astype("int32") for name in TOKEN_INPUTS}


def test_classifier(tiny_bert_dir, tmp_path):
    keras.utils.set_random_seed(0)
    model = EncoderClassifier.from_preset(tiny_bert_dir, ["sad", "happy", "angry"])
    path = export_saved_model(model, tmp_path / "saved_model")
    inputs = model.preprocessor(TEXTS)
    expected = keras.ops.convert_to_numpy(keras.ops.softmax(model(inputs, training=False)))
    by_text = saved_model_cli_run(path, "serving_default", {"text": TEXTS}, tmp_path / "text", text_ops=True)
    np.testing.assert_allclose(by_text["probabilities"], expected, atol=1e-5)
    assert [label.decode() for label in by_text["label"]] == [model.label_names[i] for i in expected.argmax(1)]
    by_ids = saved_model_cli_run(token_id_export(model, tmp_path), "token_ids", token_id_inputs(inputs),
                                 tmp_path / "ids")
    np.testing.assert_allclose(by_ids["probabilities"], expected, atol=1e-5)


def test_pair_regressor(tiny_bert_dir, tmp_path):
    model = EncoderRegressor.from_preset(str(tiny_bert_dir), sequence_length=16)
    path = export_saved_model(model, tmp_path / "saved_model")
    inputs = model.preprocessor(x=(TEXTS, PAIRS))
    expected = keras.ops.convert_to_numpy(model(inputs, training=False))
    by_text = saved_model_cli_run(path, "serving_default", {"text": TEXTS, "text_pair": PAIRS}, tmp_path / "text",
                                  text_ops=True)
    np.testing.assert_allclose(by_text["score"], expected, atol=1e-5)
    by_ids = saved_model_cli_run(token_id_export(model, tmp_path), "token_ids", token_id_inputs(inputs),
                                 tmp_path / "ids")
    np.testing.assert_allclose(by_ids["score"], expected, atol=1e-5)


def test_token_classifier(tiny_bert_dir, tmp_path):
    tags = ["O", "B-EMO", "I-EMO"]
    model = EncoderTokenClassifier.from_preset(str(tiny_bert_dir), tags, sequence_length=16)
    path = export_saved_model(model, tmp_path / "saved_model")
    words = [text.split() for text in TEXTS]
    by_text = saved_model_cli_run(path, "serving_default", {"text": TEXTS}, tmp_path / "text", text_ops=True)
    served_tags = [[tag.decode() for tag in row[:n]] for row, n in zip(by_text["tags"], by_text["num_words"])]
    assert served_tags == TokenClassificationPipeline(model).tag(words)
    inputs, _ = model.preprocessor.pack_words(words)
    by_ids = saved_model_cli_run(token_id_export(model, tmp_path), "token_ids", token_id_inputs(inputs),
                                 tmp_path / "ids")
    np.testing.assert_allclose(by_ids["logits"], keras.ops.convert_to_numpy(model(inputs, training=False)),
                               atol=1e-5)


def test_question_answerer(tiny_bert_dir, tmp_path):
    model = QuestionAnswerer.from_preset(str(tiny_bert_dir), max_length=24, stride=8)
    questions, contexts = ["is it good ?"], ["the movie was really good today and it is not sad"]
    expected = QuestionAnsweringPipeline(model).answer_all(questions, contexts)[0][0]
    path = export_saved_model(model, tmp_path / "saved_model")
    by_text = saved_model_cli_run(path, "serving_default", {"question": questions, "context": contexts},
                                  tmp_path / "text", text_ops=True)
    assert by_text["answer"][0].decode() == expected["answer"]
    assert (int(by_text["start"][0]), int(by_text["end"][0])) == (expected["start"], expected["end"])
    features = model.features(questions, contexts)
    (_, inputs), *_ = features.batches(batch_size=4)
    logits = model(inputs, training=False)
    by_ids = saved_model_cli_run(token_id_export(model, tmp_path), "token_ids", inputs, tmp_path / "ids")
    for name in ("start_logits", "end_logits"):
        np.testing.assert_allclose(by_ids[name], keras.ops.convert_to_numpy(logits[name]), atol=1e-5)


def test_bilstm(tmp_path):
    keras.utils.set_random_seed(0)
    vectorizer = bilstm.review_vectorizer(TEXTS + PAIRS)
    words = ["movie", "good", "bad", "sad"]
    vectors = WordVectors(words, np.random.default_rng(0).normal(size=(len(words), 8)).astype("float32"))
    model = bilstm.bilstm_classifier(vectorizer, embedding_matrix(vectors, vectorizer.get_vocabulary())[0], units=4)
    path = bilstm.export_bilstm_saved_model(model, tmp_path / "saved_model")
    expected = keras.ops.convert_to_numpy(model(tf.constant(TEXTS), training=False)).ravel()
    by_text = saved_model_cli_run(path, "serving_default", {"text": TEXTS}, tmp_path / "text")
    np.testing.assert_allclose(by_text["probability"], expected, atol=1e-6)
    ids = model.get_layer("truncate")(model.get_layer("vectorizer")(tf.constant(TEXTS))).numpy()
    by_ids = saved_model_cli_run(path, "token_ids", {"token_ids": ids}, tmp_path / "ids")
    np.testing.assert_allclose(by_ids["probability"], expected, atol=1e-6)
    assert [label.decode() for label in by_ids["label"]] == ["pos" if p >= 0.5 else "neg" for p in expected]

