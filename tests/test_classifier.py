import keras
import numpy as np
import pytest

from tfnlp.data.pipeline import text_dataset
from tfnlp.errors import ConfigError
from tfnlp.models.classifier import EncoderClassifier
from tfnlp.serving.pipelines import TextClassificationPipeline

LABELS = ["sad", "happy"]
TEXTS = ["i feel happy", "so sad today", "really great movie", "awful and bad", "i love it", "i hate it"]
TARGETS = [1, 0, 1, 0, 1, 0]


@pytest.fixture
def classifier(trainable_bert_dir):
    keras.utils.set_random_seed(0)
    return EncoderClassifier.from_preset(trainable_bert_dir, LABELS, sequence_length=16)


def test_builtin_and_custom_heads(tiny_bert_dir):
    builtin = EncoderClassifier.from_preset(tiny_bert_dir, LABELS)
    custom = EncoderClassifier.from_preset(tiny_bert_dir, LABELS, head="custom", hidden_dim=8)
    assert [layer.name for layer in builtin.head_layers] == ["head_dropout", "logits"]
    assert [layer.name for layer in custom.head_layers] == ["head_dropout", "head_hidden", "head_hidden_dropout", "logits"]
    assert custom.get_layer("head_hidden").units == 8
    assert builtin.predict(TEXTS, verbose=0).shape == (len(TEXTS), 2)


def test_frozen_encoder_trains_only_the_head(tiny_bert_dir):
    frozen = EncoderClassifier.from_preset(tiny_bert_dir, LABELS, freeze_encoder=True)
    encoder_before = [w.copy() for w in frozen.backbone.get_weights()]
    head_before = frozen.get_layer("logits").get_weights()[0].copy()
    frozen.compile(optimizer=keras.optimizers.Adam(1e-2))
    frozen.fit(text_dataset(TEXTS, TARGETS, batch_size=3), epochs=1, verbose=0)
    for before, after in zip(encoder_before, frozen.backbone.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert not np.allclose(head_before, frozen.get_layer("logits").get_weights()[0])


def test_fit_on_raw_strings_learns(trainable_bert_dir):
    keras.utils.set_random_seed(0)
    classifier = EncoderClassifier.from_preset(trainable_bert_dir, LABELS, dropout=0.0)
    classifier.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = classifier.fit(text_dataset(TEXTS, TARGETS, batch_size=6), epochs=20, verbose=0)
    assert history.history["loss"][-1] < 0.1 < history.history["loss"][0]
    assert list(classifier.predict(TEXTS, verbose=0).argmax(axis=1)) == TARGETS


def test_save_and_reload_gives_same_predictions(classifier, tmp_path):
    path = tmp_path / "model.keras"
    classifier.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, EncoderClassifier)
    assert restored.label_names == LABELS
    np.testing.assert_allclose(restored.predict(TEXTS, verbose=0), classifier.predict(TEXTS, verbose=0), atol=1e-5)


def test_pipeline_result_format_and_order(classifier):
    pipeline = TextClassificationPipeline(classifier)
    single = pipeline("i feel happy")
    assert len(single) == 1 and set(single[0]) == {"label", "score"} and single[0]["label"] in LABELS
    batch = pipeline(TEXTS)
    assert len(batch) == len(TEXTS)
    expected = classifier.predict(TEXTS, verbose=0).argmax(axis=1)
    assert [LABELS[i] for i in expected] == [result["label"] for result in batch]
    every_label = pipeline("so sad today", top_k=None)
    assert sorted(r["label"] for r in every_label) == sorted(LABELS)
    assert abs(sum(r["score"] for r in every_label) - 1) < 1e-5


def test_bad_arguments_are_clear(tiny_bert_dir):
    with pytest.raises(ConfigError, match="head='fancy'"):
        EncoderClassifier.from_preset(tiny_bert_dir, LABELS, head="fancy")
    with pytest.raises(ConfigError, match="at least 2 labels"):
        EncoderClassifier.from_preset(tiny_bert_dir, ["only"])
