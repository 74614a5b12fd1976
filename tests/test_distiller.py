"""Distiller: the loss by hand, alpha=1 is fine-tuning, the teacher stays frozen, the student saves alone;
students made from teacher layers."""

import keras
import numpy as np
import pytest

from tfnlp.data.pipeline import text_dataset
from tfnlp.errors import ConfigError
from tfnlp.export.saving import save_model
from tfnlp.models.classifier import EncoderClassifier
from tfnlp.models.encoders import BertEncoder, load_preprocessor
from tfnlp.models.students import shrink_encoder, spread_layers, student_classifier
from tfnlp.training import Distiller, fit, with_teacher_logits
from tfnlp.training.distiller import hidden_state_mse, same_preprocessing, soft_target_kl, with_hidden_states

from .conftest import TINY_VOCAB

LABELS = ["sad", "happy", "angry"]
TEXTS = ["i feel happy", "so sad today", "i hate it", "really good movie", "the movie was bad",
         "i love it", "not happy", "angry tweet"]
Y = [1, 0, 2, 1, 0, 1, 0, 2]


def tiny_teacher(preprocessor, seed=0, num_layers=3):
    keras.utils.set_random_seed(seed)
    backbone = BertEncoder(vocabulary_size=len(TINY_VOCAB), num_layers=num_layers, num_heads=2, hidden_dim=16,
                           intermediate_dim=32, max_sequence_length=64, dropout=0.0)
    return EncoderClassifier(backbone, LABELS, preprocessor=preprocessor, dropout=0.0)


@pytest.fixture(scope="module")
def preprocessor(tiny_bert_dir):
    return load_preprocessor(str(tiny_bert_dir), sequence_length=16)


def dataset():
    return text_dataset(TEXTS, Y, batch_size=4, bucket_by_length=False)


def test_loss_equals_hand_computation_on_fixed_logits():
    student_logits = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]], "float32")
    teacher_logits = np.array([[1.0, 2.0, 0.0], [-1.0, 0.0, 4.0]], "float32")
    labels = np.array([0, 2])
    alpha, temperature = 0.3, 4.0
    distiller = Distiller(keras.Sequential([keras.layers.Dense(3)]), keras.Sequential([keras.layers.Dense(3)]),
                          alpha=alpha, temperature=temperature)
    distiller.compile()
    losses = {key: float(value) for key, value in
              distiller.compute_losses(labels, student_logits, teacher_logits).items()}

    def softmax(z):
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    ce = -np.mean(np.log(softmax(student_logits)[np.arange(2), labels]))
    p_t, p_s = softmax(teacher_logits / temperature), softmax(student_logits / temperature)
    kl = np.mean(np.sum(p_t * np.log(p_t / p_s), axis=-1))
    assert losses["student_loss"] == pytest.approx(ce, rel=1e-5)
    assert losses["distillation_loss"] == pytest.approx(temperature**2 * kl, rel=1e-5)
    assert losses["loss"] == pytest.approx(alpha * ce + (1 - alpha) * temperature**2 * kl, rel=1e-5)
    # Identical distributions carry no distillation signal.
    assert float(soft_target_kl(teacher_logits, teacher_logits, temperature)) == pytest.approx(0.0, abs=1e-6)


def test_alpha_one_equals_plain_finetuning(preprocessor):
    teacher = tiny_teacher(preprocessor, seed=1, num_layers=1)
    plain = tiny_teacher(preprocessor, seed=2, num_layers=1)
    distilled = tiny_teacher(preprocessor, seed=2, num_layers=1)
    initial = [weight.copy() for weight in plain.get_weights()]
    fit(plain, dataset(), epochs=1, learning_rate=1e-2)
    fit(Distiller(distilled, teacher, alpha=1.0, temperature=5.0), dataset(), epochs=1, learning_rate=1e-2)
    assert not np.allclose(plain.get_weights()[0], initial[0])  # training moved the weights
    for a, b in zip(plain.get_weights(), distilled.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_teacher_frozen_student_trains_and_reloads_alone(preprocessor, tmp_path):
    teacher = tiny_teacher(preprocessor, seed=1)
    student = student_classifier(teacher, layers=(0,))
    teacher_before = [w.copy() for w in teacher.get_weights()]
    student_before = [w.copy() for w in student.get_weights()]
    distiller = Distiller(student, teacher, alpha=0.5, temperature=3.0)
    assert distiller.shares_preprocessing  # the student reuses the teacher's preprocessor: tokenized once
    history = fit(distiller, dataset(), dataset(), epochs=1, learning_rate=1e-2)
    assert {"loss", "student_loss", "distillation_loss", "sparse_categorical_accuracy",
            "val_loss", "val_sparse_categorical_accuracy"} <= set(history.history)
    for before, after in zip(teacher_before, teacher.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert any(not np.allclose(b, a) for b, a in zip(student_before, student.get_weights()))

    path = save_model(distiller.student, tmp_path / "student.keras")
    reloaded = keras.saving.load_model(path)
    assert reloaded.backbone.num_layers == 1
    inputs = preprocessor(TEXTS)
    np.testing.assert_allclose(reloaded(inputs), student(inputs), atol=1e-5)


def test_cached_teacher_logits_train_the_student_alike(preprocessor, monkeypatch):
    teacher = tiny_teacher(preprocessor, seed=1)
    targets = with_teacher_logits(teacher, TEXTS, Y, batch_size=3)
    calls = []
    original_call = teacher.call
    monkeypatch.setattr(teacher, "call", lambda *args, **kwargs: calls.append(1) or original_call(*args, **kwargs))
    # Scored in order of length, returned in the texts' order.
    np.testing.assert_allclose(targets["teacher_logits"], teacher(preprocessor(TEXTS)), atol=1e-5)
    np.testing.assert_array_equal(targets["labels"], Y)
    unlabelled = with_teacher_logits(teacher, TEXTS)  # e.g. a transfer set: the teacher's predictions are the labels
    np.testing.assert_array_equal(unlabelled["labels"], targets["teacher_logits"].argmax(-1))
    students, teacher_calls = [], []
    for labels in (Y, targets):
        keras.utils.set_random_seed(5)
        student = student_classifier(teacher, layers=(0,))
        fit(Distiller(student, teacher, alpha=0.3, temperature=3.0),
            text_dataset(TEXTS, labels, batch_size=4, bucket_by_length=False), epochs=2, learning_rate=1e-2)
        students.append(student)
        teacher_calls.append(len(calls))
    assert teacher_calls[0] > 0 and teacher_calls[1] == teacher_calls[0]  # with cached logits it never ran
    for live, cached in zip(*(student.get_weights() for student in students)):
        np.testing.assert_allclose(live, cached, rtol=1e-4, atol=1e-5)


def test_student_copies_chosen_teacher_layers(preprocessor):
    teacher = tiny_teacher(preprocessor, seed=3)
    small = shrink_encoder(teacher.backbone, layers=(2, 0))
    assert small.num_layers == 2 and small.hidden_activation == teacher.backbone.hidden_activation
    for student_layer, index in zip(small.transformer_layers, (2, 0)):
        for a, b in zip(student_layer.get_weights(), teacher.backbone.transformer_layers[index].get_weights()):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(small.get_layer("token_embedding").get_weights()[0],
                                  teacher.backbone.get_layer("token_embedding").get_weights()[0])
    # Keeping every layer (and the head) reproduces the teacher exactly.
    inputs = preprocessor(TEXTS)
    student = student_classifier(teacher, layers=(0, 1, 2))
    np.testing.assert_allclose(student(inputs), teacher(inputs), atol=1e-5)
    with pytest.raises(ConfigError, match="indices 0-2"):
        shrink_encoder(teacher.backbone, layers=(0, 3))


def test_default_student_keeps_half_the_layers_first_and_last_included(preprocessor):
    assert spread_layers(6) == [0, 2, 5] and spread_layers(12) == [0, 2, 4, 7, 9, 11]
    assert spread_layers(6, keep=1) == [5] and spread_layers(3, keep=3) == [0, 1, 2]
    with pytest.raises(ConfigError, match="keeps 1 to 6"):
        spread_layers(6, keep=7)
    teacher = tiny_teacher(preprocessor, seed=5, num_layers=4)
    student = student_classifier(teacher)
    assert student.backbone.num_layers == 2
    for student_layer, index in zip(student.backbone.transformer_layers, (0, 3)):
        for a, b in zip(student_layer.get_weights(), teacher.backbone.transformer_layers[index].get_weights()):
            np.testing.assert_array_equal(a, b)


def test_same_preprocessing_detects_shared_tokenizers(preprocessor, tiny_bert_dir):
    assert same_preprocessing(preprocessor, preprocessor)
    assert same_preprocessing(preprocessor, load_preprocessor(str(tiny_bert_dir), sequence_length=16))
    assert not same_preprocessing(preprocessor, load_preprocessor(str(tiny_bert_dir), sequence_length=8))
    assert not same_preprocessing(None, None)


def test_bad_alpha_and_temperature_are_explained(preprocessor):
    teacher = tiny_teacher(preprocessor)
    with pytest.raises(ConfigError, match="alpha"):
        Distiller(teacher, teacher, alpha=1.5)
    with pytest.raises(ConfigError, match="temperature"):
        Distiller(teacher, teacher, temperature=0)


def test_hidden_state_mse_by_hand_ignores_padding():
    student = [np.array([[[1.0, 2.0], [3.0, 4.0], [9.0, 9.0]]], "float32"), np.zeros((1, 3, 2), "float32")]
    teacher = [np.array([[[1.0, 0.0], [0.0, 4.0], [0.0, 0.0]]], "float32"), np.ones((1, 3, 2), "float32")]
    mask = np.array([[True, True, False]])  # the third token is padding: its error (81 + 81) must not count
    first = (0 + 4 + 9 + 0) / 4  # squared errors over 2 tokens x 2 units
    second = 1.0
    np.testing.assert_allclose(float(hidden_state_mse(student, teacher, mask)), (first + second) / 2, rtol=1e-6)


def test_hidden_states_distillation_pulls_the_student_layers_to_the_teachers(preprocessor):
    teacher = tiny_teacher(preprocessor, seed=2)
    inputs = preprocessor(TEXTS)
    errors = {}
    for hidden_weight in (0.0, 1.0):
        keras.utils.set_random_seed(4)
        student = student_classifier(teacher, layers=(0,))
        distiller = Distiller(student, teacher, alpha=1.0, temperature=2.0, hidden_weight=hidden_weight)
        history = fit(distiller, dataset(), epochs=8, learning_rate=1e-2)
        student_state = with_hidden_states(student, [0])(inputs)[1]
        teacher_state = with_hidden_states(teacher, [2])(inputs)[1]  # the default map: the teacher's last layer
        errors[hidden_weight] = float(hidden_state_mse([student_state], [teacher_state], inputs["padding_mask"]))
    assert distiller.layer_map == [2]
    assert len(history.history["hidden_loss"]) == 8  # logged for TensorBoard, beside the two other terms
    # Fitting the labels alone moves the student's states away from the teacher's (1.5 here); the hidden term
    # keeps them close (0.01).
    assert errors[1.0] < 0.1 * errors[0.0]
    config = distiller.get_config()
    assert (config["hidden_weight"], config["layer_map"]) == (1.0, [2])


def test_hidden_distillation_layer_maps_and_errors(preprocessor, tiny_bert_dir):
    six_layers = tiny_teacher(preprocessor, num_layers=6)
    student = student_classifier(six_layers, layers=(0, 2, 4))
    assert Distiller(student, six_layers, hidden_weight=1.0).layer_map == [1, 3, 5]  # as TinyBERT: ends at the last
    assert Distiller(student, six_layers, hidden_weight=1.0, layer_map=(0, 2, 4)).layer_map == [0, 2, 4]
    with pytest.raises(ConfigError, match="one teacher layer .0-5. for each of the student's 3 layers"):
        Distiller(student, six_layers, hidden_weight=1.0, layer_map=(1, 3))
    with pytest.raises(ConfigError, match="transformer encoders"):
        Distiller(keras.Sequential([keras.layers.Dense(3)]), six_layers, hidden_weight=1.0)
    other_tokenizer = student_classifier(six_layers, layers=(0, 2, 4))
    other_tokenizer.preprocessor = load_preprocessor(str(tiny_bert_dir), sequence_length=8)
    with pytest.raises(ConfigError, match="tokenize alike"):
        Distiller(other_tokenizer, six_layers, hidden_weight=1.0)
