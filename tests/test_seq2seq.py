"""BART through keras-hub against the transformers PyTorch reference, on a tiny BART made in the test:
logits, greedy and beam search (length penalty, no-repeat n-grams, forced `<s>`), the teacher-forcing loss
with padded labels ignored, and fine-tuning."""

import json

import numpy as np
import pytest

from tfnlp.errors import DataError, PresetError
from tfnlp.generation.seq2seq import generate_seq2seq, source_token_ids
from tfnlp.models.seq2seq import load_seq2seq_lm, seq2seq_settings
from tfnlp.summarization import evaluate_summaries
from tfnlp.summarization.seq2seq import Seq2SeqSummarizer, seq2seq_dataset, seq2seq_finetune

CORPUS = [
    "the cat sat on the mat and the dog sat on the log",
    "a quick brown fox jumps over the lazy dog",
    "hello world, this is a tiny bart model for tests",
    "summaries are short texts that say what a long text says",
] * 20
SOURCES = ["the cat sat on the mat", "a quick brown fox jumps", "hello world this is a test", "the dog sat on the log"]
TARGETS = ["cat on mat", "fox jumps", "hello world", "dog on log"]


def write_tiny_bart(directory):
    """A 2+2-layer BART in Hugging Face format with a byte-level BPE (vocab.json, merges.txt) of ~120 tokens."""
    import tokenizers
    import torch
    import transformers

    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = tokenizers.ByteLevelBPETokenizer()
    tokenizer.train_from_iterator(CORPUS, vocab_size=120, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                                  show_progress=False)
    tokenizer.save_model(str(directory))
    torch.manual_seed(0)
    config = transformers.BartConfig(
        vocab_size=tokenizer.get_vocab_size(), d_model=16, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
        max_position_embeddings=64, dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
        init_std=0.3, pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2,
    )
    model = transformers.BartForConditionalGeneration(config).eval()
    model.generation_config.forced_bos_token_id = 0  # as BART-large checkpoints: summaries start with <s>
    model.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def bart_dir(tmp_path_factory):
    return write_tiny_bart(tmp_path_factory.mktemp("bart"))


@pytest.fixture(scope="module")
def torch_bart(bart_dir):
    import transformers

    return transformers.BartForConditionalGeneration.from_pretrained(bart_dir).eval()


@pytest.fixture()
def bart(bart_dir):
    return load_seq2seq_lm(bart_dir, encoder_sequence_length=24, decoder_sequence_length=8)


def torch_logits(model, source_ids, decoder_ids):
    import torch

    with torch.no_grad():
        return model(input_ids=torch.tensor([source_ids]), decoder_input_ids=torch.tensor([decoder_ids])).logits[0].numpy()


def test_logits_match_transformers(bart, torch_bart):
    source = source_token_ids(bart, SOURCES[0])
    decoder_ids = [2, 0, 5, 9, 17, 30]
    backbone = bart.backbone
    hidden = backbone({"encoder_token_ids": np.array([source]), "encoder_padding_mask": np.ones((1, len(source))),
                       "decoder_token_ids": np.array([decoder_ids]), "decoder_padding_mask": np.ones((1, 6))})
    logits = backbone.token_embedding(hidden["decoder_sequence_output"], reverse=True).numpy()[0]
    np.testing.assert_allclose(logits, torch_logits(torch_bart, source, decoder_ids), atol=1e-4)


def test_source_tokens_match_keras_hub_and_the_reference_tokenizer(bart, bart_dir):
    import tokenizers

    reference = tokenizers.ByteLevelBPETokenizer(str(bart_dir / "vocab.json"), str(bart_dir / "merges.txt"))
    keras_hub_tokenizer = bart.preprocessor.tokenizer
    texts = SOURCES + ["  two  spaces, punctuation!? and Caps"]
    for text, ids in zip(texts, source_token_ids(bart, texts)):
        assert ids == [0] + reference.encode(text).ids + [2] == [0] + np.asarray(keras_hub_tokenizer(text)).tolist() + [2]
    assert len(source_token_ids(bart, " ".join(SOURCES * 10), max_tokens=10)) == 10


@pytest.mark.parametrize("options", [
    {"num_beams": 1},
    {"num_beams": 3, "length_penalty": 2.0},
    {"num_beams": 3, "length_penalty": 0.5, "no_repeat_ngram_size": 2},
    {"num_beams": 4, "length_penalty": 1.0, "early_stopping": True},
])
def test_generation_matches_transformers(bart, torch_bart, options):
    import torch

    settings = seq2seq_settings(bart)
    assert (settings.decoder_start_token_id, settings.forced_bos_token_id, settings.forced_eos_token_id,
            settings.eos_token_ids) == (2, 0, 2, (2,))
    for text in SOURCES[:3]:
        source = source_token_ids(bart, text)
        with torch.no_grad():
            expected = torch_bart.generate(torch.tensor([source]), max_new_tokens=8, do_sample=False, **options)
        result = generate_seq2seq(bart, text, max_new_tokens=8, **options)
        expected_ids = [token for token in expected[0].tolist()[1:] if token != 1]  # past the start, no padding
        assert result["token_ids"] == expected_ids, (text, options)
        assert result["token_ids"][0] == 0  # the forced <s>


def test_teacher_forcing_loss_matches_transformers_with_padded_labels_ignored(bart, torch_bart):
    import keras
    import torch

    dataset = seq2seq_dataset(bart, SOURCES[:2], ["cat", TARGETS[1] + " fox fox"], batch_size=2)
    x, y, weights = next(iter(dataset))
    weights = np.asarray(weights)
    assert 0 < weights.sum() < weights.size  # the short summary is padded
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight")
    ours = float(loss(y, bart(x), sample_weight=weights))
    assert np.asarray(x["decoder_token_ids"])[:, :2].tolist() == [[2, 0], [2, 0]]  # </s> <s> summary
    labels = np.where(weights > 0, np.asarray(y), -100)
    with torch.no_grad():
        theirs = torch_bart(
            input_ids=torch.tensor(np.asarray(x["encoder_token_ids"]), dtype=torch.long),
            attention_mask=torch.tensor(np.asarray(x["encoder_padding_mask"]), dtype=torch.long),
            decoder_input_ids=torch.tensor(np.asarray(x["decoder_token_ids"]), dtype=torch.long),
            decoder_attention_mask=torch.tensor(np.asarray(x["decoder_padding_mask"]), dtype=torch.long),
            labels=torch.tensor(labels, dtype=torch.long),
        ).loss.item()
    assert ours == pytest.approx(theirs, abs=1e-4)


def test_finetuning_learns_the_summaries(bart, tmp_path):
    summarize = Seq2SeqSummarizer(bart, max_new_tokens=12, num_beams=2)
    history = seq2seq_finetune(bart, SOURCES, TARGETS, epochs=60, batch_size=2, learning_rate=3e-2,
                               gradient_accumulation_steps=2, validation=(SOURCES, TARGETS), run_dir=tmp_path / "run")
    losses = history.history["loss"]
    assert losses[-1] < 0.3 * losses[0]
    scores, summaries = evaluate_summaries({"text": SOURCES, "summary": TARGETS}, summarize, "text", "summary",
                                           progress=False)
    assert len(summaries) == 4 and scores["rouge1"]["mid"] > 0.5
    assert (tmp_path / "run" / "logs").is_dir()


def test_bad_inputs_are_explained(bart, tmp_path):
    with pytest.raises(DataError, match="empty text or summary"):
        seq2seq_dataset(bart, ["a text", " "], ["a summary", "b"])
    with pytest.raises(DataError, match="2 texts but 1 summaries"):
        seq2seq_dataset(bart, ["a", "b"], ["c"])
    (tmp_path / "gpt").mkdir()
    (tmp_path / "gpt" / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(PresetError, match="not supported"):
        load_seq2seq_lm(tmp_path / "gpt")
