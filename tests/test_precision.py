import keras
import numpy as np
import pytest

from tfnlp.cli import parse_args, recipe_parser
from tfnlp.data.pipeline import text_dataset
from tfnlp.errors import ConfigError
from tfnlp.export.saving import load_trained_model, save_model
from tfnlp.models.classifier import EncoderClassifier
from tfnlp.models.students import student_classifier
from tfnlp.training import fit, set_precision, to_float32

LABELS = ["sad", "happy"]
TEXTS = ["i feel happy", "so sad today", "really great movie", "awful and bad", "i love it", "i hate it"]
TARGETS = [1, 0, 1, 0, 1, 0]


@pytest.fixture(autouse=True)
def float32_afterwards():
    yield
    set_precision("float32")  # a mixed policy left behind would change every later test's models


def compute_dtypes(model):
    """The compute dtypes of the layers with float weights (tokenizers stay integer; inputs compute nothing)."""
    policies = [layer.dtype_policy for layer in model._flatten_layers(include_self=True)
                if not isinstance(layer, keras.layers.InputLayer)]
    return {policy.compute_dtype for policy in policies if policy.variable_dtype.startswith("float")}


def float32_twin(model, preset):
    set_precision("float32")
    twin = EncoderClassifier.from_preset(preset, LABELS, sequence_length=16)
    twin.set_weights(model.get_weights())
    return twin


def test_mixed_training_ends_with_a_float32_model(trainable_bert_dir, tmp_path):
    set_precision("mixed_bfloat16")
    keras.utils.set_random_seed(0)
    classifier = EncoderClassifier.from_preset(trainable_bert_dir, LABELS, sequence_length=16)
    assert "bfloat16" in compute_dtypes(classifier)
    assert {weight.dtype for weight in classifier.weights} == {"float32"}  # only the arithmetic is 16-bit
    before = [weight.copy() for weight in classifier.get_weights()]
    fit(classifier, text_dataset(TEXTS, TARGETS, batch_size=3), epochs=1, learning_rate=1e-3)
    assert any(not np.array_equal(a, b) for a, b in zip(before, classifier.get_weights()))  # it trained
    assert compute_dtypes(classifier) == {"float32"}
    twin = float32_twin(classifier, trainable_bert_dir)
    np.testing.assert_allclose(classifier.predict(TEXTS, verbose=0), twin.predict(TEXTS, verbose=0), atol=1e-5)
    path = tmp_path / "model.keras"
    classifier.save(path)
    assert compute_dtypes(keras.saving.load_model(path)) == {"float32"}


def test_a_float32_model_reloads_float32_under_a_mixed_policy(trainable_bert_dir, tmp_path):
    # e.g. `--precision mixed_bfloat16 --teacher teacher.keras`: the teacher must score in float32.
    classifier = EncoderClassifier.from_preset(trainable_bert_dir, LABELS, sequence_length=16)
    expected = classifier.predict(TEXTS, verbose=0)
    save_model(classifier, tmp_path / "model.keras")
    set_precision("mixed_bfloat16")
    reloaded = load_trained_model(tmp_path / "model.keras")
    assert compute_dtypes(reloaded) == {"float32"}
    np.testing.assert_allclose(reloaded.predict(TEXTS, verbose=0), expected, atol=1e-6)


def test_to_float32_changes_the_arithmetic(trainable_bert_dir):
    set_precision("mixed_bfloat16")
    classifier = EncoderClassifier.from_preset(trainable_bert_dir, LABELS, sequence_length=16)
    mixed = classifier.predict(TEXTS, verbose=0)  # traces a bfloat16 predict function ...
    exact = float32_twin(classifier, trainable_bert_dir).predict(TEXTS, verbose=0)
    assert np.abs(mixed - exact).max() > 1e-4
    # ... which `to_float32` must drop, or predictions would stay bfloat16.
    np.testing.assert_allclose(to_float32(classifier).predict(TEXTS, verbose=0), exact, atol=1e-5)


def test_precision_option_sets_the_policy():
    args = parse_args(recipe_parser("demo"), ["--precision", "mixed_bfloat16"])
    assert args.precision == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == "mixed_bfloat16"
    parse_args(recipe_parser("demo"), [])
    assert keras.config.dtype_policy().name == "float32"
    with pytest.raises(ConfigError, match="float32 is the default"):
        set_precision("bfloat8")


def test_a_student_computes_in_the_current_precision_not_its_teachers(trainable_bert_dir):
    teacher = EncoderClassifier.from_preset(trainable_bert_dir, LABELS, sequence_length=16)
    set_precision("mixed_bfloat16")  # e.g. distilling a float32 teacher loaded from its .keras file
    student = student_classifier(teacher, layers=(0,))
    assert compute_dtypes(teacher) == {"float32"}
    assert compute_dtypes(student.backbone) == {"bfloat16"}
