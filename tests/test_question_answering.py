"""The QuestionAnswerer task: trains with fit, reloads, exports (SavedModel, ONNX) and answers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfnlp.data.qa import MODEL_INPUTS
from tfnlp.errors import DataError
from tfnlp.export.onnx import export_onnx
from tfnlp.export.saved_model import export_saved_model
from tfnlp.export.saving import save_model
from tfnlp.models.question_answering import QuestionAnswerer
from tfnlp.serving.qa_pipeline import OnnxQuestionAnswerer, QuestionAnsweringPipeline
from tfnlp.training import fit

# Questions whose answer is always the word after "it was": learnable in a few steps.
CONTEXTS = [
    "the movie was bad today. i feel sad, it was good and not awful.",
    "i feel so happy. it was great, the tweet was sad and angry.",
    "it was awful. the movie was really good and i feel joy today.",
    "today i feel fear and it was sad, so very sad, the tweet was bad.",
]
ANSWERS = ["good", "great", "awful", "sad"]
QUESTIONS = ["what was it?"] * len(CONTEXTS)


def answers_of(contexts, texts):
    return [{"text": [text], "answer_start": [context.index("it was " + text) + 7]}
            for context, text in zip(contexts, texts)]


@pytest.fixture(scope="module")
def trained(trainable_bert_dir):
    keras.utils.set_random_seed(0)
    model = QuestionAnswerer.from_preset(str(trainable_bert_dir), max_length=24, stride=8, dropout=0.0)
    features = model.features(QUESTIONS * 4, CONTEXTS * 4, answers_of(CONTEXTS * 4, ANSWERS * 4))
    history = fit(model, features.dataset(8, shuffle=True, seed=0), epochs=8, learning_rate=1e-2)
    return model, features, history


def test_fit_lowers_the_span_loss_and_the_reader_finds_the_answers(trained):
    model, features, history = trained
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert len(features) > len(CONTEXTS) * 4  # contexts longer than a window
    reader = QuestionAnsweringPipeline(model)
    found = reader.answer_all(QUESTIONS, CONTEXTS)
    for context, expected, (best,) in zip(CONTEXTS, ANSWERS, found):
        assert set(best) == {"answer", "score", "start", "end"}
        assert context[best["start"] : best["end"]] == best["answer"]
    assert sum(best["answer"] == expected for (best,), expected in zip(found, ANSWERS)) >= 3


def test_several_contexts_give_the_best_answer_and_its_context(trained):
    reader = QuestionAnsweringPipeline(trained[0])
    single = reader(QUESTIONS[0], CONTEXTS[0])
    best = reader(QUESTIONS[0], CONTEXTS[:2])
    assert best["context_index"] in (0, 1)
    assert best["answer"] == CONTEXTS[best["context_index"]][best["start"] : best["end"]]
    ranked = reader(QUESTIONS[0], CONTEXTS[:2], top_k=3)
    assert len(ranked) == 3 and ranked[0] == best
    assert ranked[0]["score"] >= ranked[1]["score"] >= ranked[2]["score"]
    assert single["score"] == pytest.approx(next(a for a in reader(QUESTIONS[0], [CONTEXTS[0]], top_k=5)
                                                 if a["start"] == single["start"])["score"])
    with pytest.raises(DataError, match="No context"):
        reader(QUESTIONS[0], [])


def test_keras_file_reloads_with_its_tokenizer_and_windows(trained, tmp_path):
    model, features, _ = trained
    path = save_model(model, tmp_path / "model.keras")
    reloaded = keras.saving.load_model(path)
    assert isinstance(reloaded, QuestionAnswerer) and (reloaded.max_length, reloaded.stride) == (24, 8)
    again = reloaded.features(QUESTIONS, CONTEXTS)
    expected = model.features(QUESTIONS, CONTEXTS)
    assert [ids.tolist() for ids in again.token_ids] == [ids.tolist() for ids in expected.token_ids]
    for expected, actual in zip(model.predict_logits(features), reloaded.predict_logits(features)):
        np.testing.assert_allclose(np.concatenate(actual), np.concatenate(expected), atol=1e-5)


def test_padding_never_wins_and_logits_ignore_padding(trained):
    model, features, _ = trained
    (indices, inputs), *_ = features.batches(batch_size=len(features))
    outputs = model({name: tf.constant(inputs[name]) for name in MODEL_INPUTS}, training=False)
    padded = inputs["padding_mask"] == 0
    assert padded.any() and (outputs["start_logits"].numpy()[padded] <= -1e3).all()
    alone = model.predict_logits(features, batch_size=1)[0]
    batched = model.predict_logits(features, batch_size=len(features))[0]
    for a, b in zip(alone, batched):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_saved_model_token_id_signature_matches_keras(trained, tmp_path):
    model, features, _ = trained
    path = export_saved_model(model, tmp_path / "saved_model")
    served = tf.saved_model.load(str(path))
    (indices, inputs), *_ = features.batches(batch_size=4)
    outputs = served.signatures["token_ids"](**{name: tf.constant(inputs[name]) for name in MODEL_INPUTS})
    expected = model({name: tf.constant(inputs[name]) for name in MODEL_INPUTS}, training=False)
    np.testing.assert_allclose(outputs["start_logits"].numpy(), expected["start_logits"].numpy(), atol=1e-5)
    window = served.signatures["window_config"]()
    assert (int(window["max_length"]), int(window["stride"])) == (24, 8)


def test_onnx_export_matches_keras_logits_and_answers(trained, tmp_path, trainable_bert_dir):
    model, features, _ = trained
    path = export_onnx(model, tmp_path / "model.onnx")
    onnx_reader = OnnxQuestionAnswerer(path, trainable_bert_dir, max_length=24, stride=8)
    for keras_logits, onnx_logits in zip(model.predict_logits(features), onnx_reader.predict_logits(features)):
        np.testing.assert_allclose(np.concatenate(onnx_logits), np.concatenate(keras_logits), atol=1e-4)
    keras_answers = QuestionAnsweringPipeline(model).answer_all(QUESTIONS, CONTEXTS)
    onnx_answers = QuestionAnsweringPipeline(onnx_reader).answer_all(QUESTIONS, CONTEXTS)
    assert [a[0]["answer"] for a in onnx_answers] == [a[0]["answer"] for a in keras_answers]


def test_onnx_reader_without_a_file_says_how_to_fix(tmp_path, trainable_bert_dir):
    with pytest.raises(DataError, match="No ONNX model"):
        OnnxQuestionAnswerer(tmp_path / "missing.onnx", trainable_bert_dir)


def test_a_reader_without_tokenizer_says_how_to_fix(trained):
    bare = QuestionAnswerer(trained[0].backbone, tokenizer=None)
    with pytest.raises(ValueError, match="from_preset"):
        bare.features(QUESTIONS, CONTEXTS)
