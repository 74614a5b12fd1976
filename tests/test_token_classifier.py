"""Token tagging: word-piece alignment, training, word-level predictions, entity F1, tagged files."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import TINY_VOCAB
from tfnlp.data.tagging import encode_tags, read_tagged, tag_names, tagged_dataset
from tfnlp.errors import ConfigError, DataError
from tfnlp.metrics.entities import entity_metrics, entity_spans, entity_table
from tfnlp.models.token_classifier import EncoderTokenClassifier, TokenClassificationPipeline, TokenClassifierPreprocessor
from tfnlp.models.encoders import load_tokenizer

TAGS = ("O", "B-EMO", "I-EMO", "B-FILM")
# Emotions (B-EMO, I-EMO for a second emotion word) and films; "feeling" and "movies" are two pieces each.
SENTENCES = [
    (["i", "feeling", "happy", "today"], ["O", "B-EMO", "I-EMO", "O"]),
    (["the", "movies", "was", "good"], ["O", "B-FILM", "O", "O"]),
    (["so", "sad", "and", "angry"], ["O", "B-EMO", "O", "B-EMO"]),
    (["a", "movie", "!"], ["O", "B-FILM", "O"]),
    (["really", "happy", "sad", "tweet"], ["O", "B-EMO", "I-EMO", "O"]),
    (["it", "is", "the", "movie"], ["O", "O", "O", "B-FILM"]),
]
WORDS = [words for words, _ in SENTENCES]
TAG_IDS = encode_tags([tags for _, tags in SENTENCES], TAGS)


@pytest.fixture(scope="module")
def preprocessor(tiny_bert_dir):
    return TokenClassifierPreprocessor(load_tokenizer(str(tiny_bert_dir)), sequence_length=16)


def test_first_piece_is_labelled_and_the_rest_ignored(preprocessor):
    x, y = preprocessor([["i", "feeling", "movies", "!"]], [[0, 1, 3, 0]])
    pieces = [TINY_VOCAB[i] for i in x["token_ids"].numpy()[0]]
    assert pieces == ["[CLS]", "i", "feel", "##ing", "movie", "##s", "!", "[SEP]"]
    assert y.numpy()[0].tolist() == [-100, 0, 1, -100, 3, -100, 0, -100]
    _, positions = preprocessor.pack_words([["i", "feeling", "movies", "!"], ["so"]])
    assert positions.numpy().tolist() == [[1, 2, 4, 6], [1, -1, -1, -1]]


def test_truncated_words_have_no_position(tiny_bert_dir):
    short = TokenClassifierPreprocessor(load_tokenizer(str(tiny_bert_dir)), sequence_length=5)
    x, y = short([["i", "feeling", "movies"]], [[0, 1, 3]])
    assert x["token_ids"].shape == (1, 5)
    assert y.numpy()[0].tolist() == [-100, 0, 1, -100, -100]
    assert short.pack_words([["i", "feeling", "movies"]])[1].numpy().tolist() == [[1, 2, -1]]


def test_alignment_matches_transformers_word_ids(preprocessor):
    transformers = pytest.importorskip("transformers")
    reference = transformers.BertTokenizer(vocab={token: i for i, token in enumerate(TINY_VOCAB)})
    x, positions = preprocessor.pack_words(WORDS)
    for row, words in enumerate(WORDS):
        encoded = reference(words, is_split_into_words=True)
        ids = x["token_ids"].numpy()[row][: len(encoded["input_ids"])].tolist()
        assert ids == encoded["input_ids"]
        word_ids = encoded.word_ids()
        firsts = [word_ids.index(w) for w in range(len(words))]
        assert positions.numpy()[row][: len(words)].tolist() == firsts


def test_tags_must_line_up_with_words(preprocessor):
    with pytest.raises(DataError, match="sentence 1 has 2 words but 1 tags"):
        tagged_dataset([["i", "feel"]], [[0]])
    with pytest.raises(tf.errors.InvalidArgumentError, match="one tag per word"):
        preprocessor([["i", "feel"]], [[0]])
    with pytest.raises(ConfigError, match="word lists"):
        preprocessor(["i feel"])


@pytest.fixture(scope="module")
def tagger(trainable_bert_dir):
    keras.utils.set_random_seed(0)
    model = EncoderTokenClassifier.from_preset(str(trainable_bert_dir), TAGS, sequence_length=16, dropout=0.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.history_ = model.fit(tagged_dataset(WORDS, TAG_IDS, batch_size=3, shuffle=True, seed=0), epochs=12, verbose=0)
    return model


def test_tagger_learns_word_tags(tagger):
    losses = tagger.history_.history["loss"]
    assert losses[-1] < 0.2 * losses[0]
    assert tagger.history_.history["accuracy"][-1] > 0.95
    predicted = TokenClassificationPipeline(tagger).tag(WORDS, batch_size=4)
    assert predicted == [tags for _, tags in SENTENCES]
    assert entity_metrics([tags for _, tags in SENTENCES], predicted)["f1"] == 1.0


def test_pipeline_entities_have_character_offsets(tagger):
    entities = TokenClassificationPipeline(tagger)("i  feeling happy, today")  # "," is a word of its own
    assert entities[0]["entity_group"] == "EMO"
    assert entities[0]["word"] == "feeling happy" and (entities[0]["start"], entities[0]["end"]) == (3, 16)


def test_tagger_save_and_reload(tagger, tmp_path):
    tagger.save(tmp_path / "tagger.keras")
    restored = keras.saving.load_model(tmp_path / "tagger.keras")
    assert isinstance(restored, EncoderTokenClassifier) and restored.label_names == list(TAGS)
    original = TokenClassificationPipeline(tagger).word_probabilities(WORDS[:2])
    again = TokenClassificationPipeline(restored).word_probabilities(WORDS[:2])
    for a, b in zip(original, again):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_entity_spans_follow_seqeval():
    # I- after O (or after another type) starts an entity, as seqeval's default mode and conlleval.
    assert entity_spans(["I-PER", "I-PER", "B-PER", "I-LOC", "O", "B-ORG"]) == [
        ("PER", 0, 2), ("PER", 2, 3), ("LOC", 3, 4), ("ORG", 5, 6)
    ]
    assert entity_spans(["O", "O"]) == []


def test_entity_metrics_hand_computed():
    true = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "B-MISC", "I-MISC"]]
    predicted = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O", "B-MISC", "O"]]
    # true: PER(0-2) LOC(3) ORG(0) MISC(2-4); predicted: PER ORG(3) ORG(0) MISC(2-3); correct: PER, ORG(0).
    metrics = entity_metrics(true, predicted)
    assert metrics["precision"] == pytest.approx(2 / 4) and metrics["recall"] == pytest.approx(2 / 4)
    assert metrics["per_type"]["ORG"] == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "support": 1}
    assert metrics["per_type"]["LOC"]["f1"] == 0.0 and metrics["per_type"]["LOC"]["support"] == 1
    assert "micro" in entity_table(metrics)
    with pytest.raises(DataError, match="sentence 1: 2 true tags but 1 predicted"):
        entity_metrics([["O", "O"]], [["O"]])


def test_tagged_files_of_any_format(tmp_path):
    jsonl = tmp_path / "train.jsonl"
    jsonl.write_text("\n".join(json.dumps({"words": w, "tags": t}) for w, t in SENTENCES[:2]))
    frame = read_tagged(jsonl, tokens_column="words", tags_column="tags")
    assert frame["tokens"][0] == SENTENCES[0][0] and frame["ner_tags"][1] == SENTENCES[1][1]
    table = tmp_path / "train.tsv"
    table.write_text("text\tlabels\ni feel happy\tO O B-EMO\n")
    assert read_tagged(table, "text", "labels")["ner_tags"][0] == ["O", "O", "B-EMO"]
    assert tag_names(frame["ner_tags"]) == ("O", "B-EMO", "I-EMO", "B-FILM")


def test_tagged_file_errors_name_the_problem(tmp_path):
    jsonl = tmp_path / "bad.jsonl"
    jsonl.write_text(json.dumps({"words": ["a", "b"]}) + "\n")
    with pytest.raises(DataError, match=r"missing column\(s\) \['tags'\]"):
        read_tagged(jsonl, tokens_column="words", tags_column="tags")
    uneven = tmp_path / "uneven.tsv"
    uneven.write_text("tokens\tner_tags\na b c\tO O\n")
    with pytest.raises(DataError, match="sentence 1 has 3 words but 2 tags"):
        read_tagged(uneven)
    conll = tmp_path / "train.txt"
    conll.write_text("EU NNP B-NP B-ORG\nrejects VBZ B-VP\n")
    with pytest.raises(DataError, match=r"train.txt:2: expected 4 columns"):
        read_tagged(conll)
