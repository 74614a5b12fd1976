"""The raw-string GloVe BiLSTM: vectorization and truncation in the model, training, saving, SavedModel, ONNX."""

import keras
import numpy as np
import onnx
import pytest
import tensorflow as tf

from tfnlp.data import load_dataset
from tfnlp.data.pipeline import text_dataset
from tfnlp.errors import ConfigError, DataError
from tfnlp.export.onnx import quantize_dynamic_int8
from tfnlp.export.saving import save_model
from tfnlp.models import bilstm
from tfnlp.models.parameters import parameter_counts
from tfnlp.models.word_vectors import WordVectors, embedding_matrix
from tfnlp.serving.word_pipeline import OnnxWordPipeline, word_tokenizer
from tfnlp.training import fit

GOOD = ["a good film<br />really good", "great movie, great cast!", "i loved it", "wonderful and moving"]
BAD = ["a bad film, awful", "terrible boring movie", "i hated it", "dull and lifeless<br /><br />bad"]
TEXTS, LABELS = GOOD + BAD, [1] * len(GOOD) + [0] * len(BAD)
TRICKY = [
    "Don't<br />GO—now!! It's “great”… ÜBER café",
    "tabs\tand\nnew lines\u00a0nbsp\u2003em-space\x0bvt",
    "",
    "???",
    "emoji 😀ok 10/10, $5 & 50% <br/>end<br>",
    "film film film film film film film film film film film film good",
]
MOVING_WORDS = ["film", "good", "bad", "great", "movie", "awful"]


def tiny_vectors(dim=8, seed=0):
    return WordVectors(MOVING_WORDS, np.random.default_rng(seed).normal(size=(6, dim)).astype("float32"))


@pytest.fixture(scope="module")
def vectorizer():
    return bilstm.review_vectorizer(TEXTS + TRICKY)


def tiny_model(vectorizer, units=4, **kwargs):
    keras.utils.set_random_seed(0)
    matrix, _ = embedding_matrix(tiny_vectors(), vectorizer.get_vocabulary())
    return bilstm.bilstm_classifier(vectorizer, matrix, units=units, **kwargs)


def predict(model, texts):
    return keras.ops.convert_to_numpy(model(tf.constant(texts), training=False)).ravel()


@pytest.fixture(scope="module")
def trained(vectorizer, tmp_path_factory):
    model = tiny_model(vectorizer, sequence_length=6, keep="last", trainable_embeddings=True)
    dataset = text_dataset(TEXTS, LABELS, batch_size=4, shuffle=True, seed=0)
    history = fit(model, dataset, epochs=3, learning_rate=3e-2, warmup_ratio=0.0,
                  loss=bilstm.LOSS, metrics=bilstm.bilstm_metrics())
    return model, history


def test_standardization_removes_line_breaks_and_punctuation(vectorizer):
    vocabulary = vectorizer.get_vocabulary()
    assert vocabulary[:2] == ["", "[UNK]"]
    assert "br" not in vocabulary and "dont" in vocabulary and "über" in vocabulary
    assert not any(set(word) & set("<>/!,.'—“…") for word in vocabulary)


def test_truncation_keeps_first_or_last_tokens(vectorizer):
    ids = vectorizer(tf.constant(["one two three four five", "six"])).numpy()
    first = bilstm.TruncateTokens(3, "first")(ids).numpy()
    last = bilstm.TruncateTokens(3, "last")(ids).numpy()
    np.testing.assert_array_equal(first, np.concatenate([ids[:, :3]]))
    np.testing.assert_array_equal(last[0], ids[0, 2:5])
    np.testing.assert_array_equal(last[1], [ids[1, 0], 0, 0])
    assert bilstm.TruncateTokens(10, "last")(ids).shape == (2, 5)  # only as wide as the longest text
    assert bilstm.TruncateTokens(3)(tf.zeros((2, 0), "int64")).shape == (2, 1)  # empty texts: one masked step


def test_frozen_and_tuned_embeddings_parameter_counts(vectorizer):
    frozen = parameter_counts(tiny_model(vectorizer))
    tuned = parameter_counts(tiny_model(vectorizer, trainable_embeddings=True))
    embedding = vectorizer.vocabulary_size() * 8
    assert frozen["frozen"] == embedding and tuned["frozen"] == 0
    assert tuned["trainable"] == frozen["trainable"] + embedding and frozen["total"] == tuned["total"]
    lines = []
    tiny_model(vectorizer).summary(print_fn=lambda line, **_: lines.append(line))
    assert any(f"Non-trainable params: {embedding:,}" in line for line in lines)


def test_glove_rows_are_the_initial_embeddings_and_frozen_ones_stay(vectorizer, trained):
    model = tiny_model(vectorizer)
    weights = bilstm.token_model(model).get_layer("embedding").get_weights()[0]
    row = vectorizer.get_vocabulary().index("good")
    np.testing.assert_array_equal(weights[row], tiny_vectors()["good"])
    tuned = bilstm.token_model(trained[0]).get_layer("embedding").get_weights()[0]
    assert not np.allclose(tuned[row], tiny_vectors()["good"])  # tuned ones moved


def test_raw_string_model_trains(trained):
    model, history = trained
    losses = history.history["loss"]
    assert losses[-1] < losses[0]
    assert {"accuracy", "precision", "recall"} <= set(history.history)
    probabilities = predict(model, GOOD[:2] + BAD[:2] + [""])
    assert probabilities.shape == (5,) and np.all((probabilities > 0) & (probabilities < 1))


def test_token_dataset_gives_the_raw_string_model_predictions(trained):
    model, _ = trained
    batches = list(bilstm.token_dataset(model, TRICKY, [1] * len(TRICKY), batch_size=4))
    assert [ids["token_ids"].shape for ids, _ in batches] == [(4, 6), (2, 6)]  # one width: XLA compiles once
    from_ids = np.concatenate([bilstm.token_model(model)(ids, training=False).numpy().ravel() for ids, _ in batches])
    np.testing.assert_allclose(from_ids, predict(model, TRICKY), atol=1e-6)


def test_keras_file_and_saved_model_reload_with_the_same_predictions(trained, tmp_path):
    model, _ = trained
    expected = predict(model, TRICKY)
    save_model(model, tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(predict(reloaded, TRICKY), expected, atol=1e-6)
    assert bilstm.vectorization_settings(reloaded)["keep"] == "last"
    bilstm.export_bilstm_saved_model(model, tmp_path / "saved_model")
    served = tf.saved_model.load(str(tmp_path / "saved_model")).signatures["serving_default"]
    outputs = served(text=tf.constant(TRICKY))
    np.testing.assert_allclose(outputs["probability"].numpy(), expected, atol=1e-6)
    labels = [label.decode() for label in outputs["label"].numpy()]
    assert labels == ["pos" if p >= 0.5 else "neg" for p in expected]


def test_outside_tokenizer_gives_the_model_token_ids(vectorizer):
    texts = TRICKY + load_dataset("imdb", split="test")["text"].sample(50, random_state=0).tolist()
    for keep in ("first", "last"):
        tokenizer = word_tokenizer(vectorizer.get_vocabulary(), sequence_length=7, keep=keep)
        expected = bilstm.TruncateTokens(7, keep)(vectorizer(tf.constant(texts))).numpy()
        for text, row in zip(texts, expected):
            assert tokenizer.encode(text).ids == row[row > 0].tolist(), text


def test_onnx_float_and_int8_agree_with_keras(trained, tmp_path):
    model, _ = trained
    path = bilstm.export_bilstm_onnx(model, tmp_path / "onnx" / "model.onnx")
    assert "Loop" in {node.op_type for node in onnx.load(path).graph.node}  # the LSTMs
    settings = bilstm.vectorization_settings(model)
    texts = TEXTS + TRICKY
    expected = predict(model, texts)
    onnx_float = OnnxWordPipeline(path, tmp_path / "onnx" / "vocabulary.txt", 6, "last")
    np.testing.assert_allclose(onnx_float.positive_probability(texts, batch_size=3), expected, atol=1e-5)
    int8 = OnnxWordPipeline(quantize_dynamic_int8(path), **settings)
    np.testing.assert_allclose(int8.positive_probability(texts), expected, atol=0.05)
    result = onnx_float(GOOD[0])
    assert result[0]["label"] == ("pos" if expected[0] >= 0.5 else "neg")


def test_bad_inputs_say_what_to_do(vectorizer, tmp_path):
    with pytest.raises(ConfigError, match="embedding_matrix"):
        bilstm.bilstm_classifier(vectorizer, np.zeros((3, 8), "float32"))
    with pytest.raises(ConfigError, match="keep="):
        bilstm.TruncateTokens(5, keep="middle")
    with pytest.raises(DataError, match=r"texts\[1\] is None"):
        bilstm.review_vectorizer(["fine", None])
    with pytest.raises(ConfigError, match="must start with"):
        word_tokenizer(["the", "movie"])
    with pytest.raises(DataError, match="No ONNX model"):
        OnnxWordPipeline(tmp_path / "none.onnx", ["", "[UNK]"])
