"""BLEU (the chapter's two examples), ROUGE against rouge-score itself, and the offline sentence splitter."""

import numpy as np
import pandas as pd
import pytest

from tfnlp.data import load_dataset
from tfnlp.errors import ConfigError, DataError
from tfnlp.metrics import bleu, rouge, split_sentences

REFERENCE = "the cat is on the mat"


# ---- BLEU ----


@pytest.mark.parametrize("smoothing", [{"smooth_method": "floor", "smooth_value": 0}, {"smooth_method": "none"}])
def test_bleu_repeated_word_scores_zero_without_smoothing(smoothing):
    result = bleu(["the the the the the the"], [REFERENCE], **smoothing)
    assert result["score"] == 0.0
    assert [round(precision, 2) for precision in result["precisions"]] == [33.33, 0.0, 0.0, 0.0]
    assert result["counts"] == [2, 0, 0, 0]
    assert result["totals"] == [6, 5, 4, 3]
    assert (result["bp"], result["sys_len"], result["ref_len"]) == (1.0, 6, 6)


@pytest.mark.parametrize("smoothing", [{"smooth_method": "floor", "smooth_value": 0}, {"smooth_method": "none"}, {}])
def test_bleu_short_prediction_pays_the_brevity_penalty(smoothing):
    result = bleu(["the cat is on mat"], [REFERENCE], **smoothing)
    assert round(result["score"], 2) == 57.89
    assert round(result["bp"], 4) == 0.8187
    assert [round(precision, 2) for precision in result["precisions"]] == [100.0, 75.0, 66.67, 50.0]
    assert result["counts"] == [5, 3, 2, 1]
    assert (result["sys_len"], result["ref_len"]) == (5, 6)


def test_bleu_default_exp_smoothing_lifts_a_score_with_zero_matches():
    assert round(bleu(["the the the the the the"], [REFERENCE])["score"], 2) == 9.65


def test_bleu_takes_several_references_per_prediction():
    one = bleu(["the cat is on mat"], [["a dog sat there"]])
    both = bleu(["the cat is on mat"], [["a dog sat there", REFERENCE]])
    assert one["score"] < 10 < both["score"]


@pytest.mark.parametrize(
    "predictions, references, message",
    [
        ([], [], "no predictions"),
        (["a b c", "d e f"], ["a b c"], "2 predictions but 1 references"),
        ("the cat", ["the cat"], "got one str"),
        (["a b"], [["a b"], ["a b", "c d"]], "1 predictions but 2 references"),
        (["a b", "c d"], [["a b"], ["a b", "c d"]], "different numbers of references"),
        ([None], ["a b"], r"predictions\[0\] is a NoneType"),
    ],
)
def test_bleu_says_what_is_wrong_with_its_inputs(predictions, references, message):
    with pytest.raises(DataError, match=message):
        bleu(predictions, references)


def test_bleu_rejects_an_unknown_smoothing():
    with pytest.raises(ConfigError, match="unknown smooth_method 'exponential'"):
        bleu(["a"], ["a"], smooth_method="exponential")


# ---- ROUGE ----


def test_rouge_matches_hand_counts():
    # 5 of 6 unigrams match both ways; 3 of 5 bigrams; longest common subsequence "the cat on the mat".
    scores = rouge(["the cat sat on the mat"], [REFERENCE])
    assert scores["rouge1"]["mid"] == pytest.approx(5 / 6)
    assert scores["rouge2"]["mid"] == pytest.approx(3 / 5)
    assert scores["rougeL"]["mid"] == pytest.approx(5 / 6)
    assert scores["rouge1"]["low"] == scores["rouge1"]["high"] == scores["rouge1"]["mid"]  # one example


def test_rouge_stems_words_by_default():
    assert rouge(["cats running"], ["cat runs"])["rouge1"]["mid"] == pytest.approx(1.0)
    assert rouge(["cats running"], ["cat runs"], use_stemmer=False)["rouge1"]["mid"] == 0.0


def test_rouge_lsum_splits_unsplit_text_into_sentences():
    # Whole-text LCS matches one sentence (F 0.5); sentence-level union LCS matches both (F 1.0).
    scores = rouge(["The cat sat. The dog ran."], ["The dog ran.\nThe cat sat."])
    assert scores["rougeL"]["mid"] == pytest.approx(0.5)
    assert scores["rougeLsum"]["mid"] == pytest.approx(1.0)


def test_rouge_without_bootstrap_is_the_mean_of_rouge_score_fmeasures(cnn_sample):
    from rouge_score import rouge_scorer

    predictions, references = cnn_sample
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True)
    expected = [scorer.score(reference, prediction) for prediction, reference in zip(predictions, references)]
    scores = rouge(predictions, references, bootstrap=False)
    for name in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
        assert scores[name] == {"mid": pytest.approx(np.mean([score[name].fmeasure for score in expected]))}


def test_rouge_bootstrap_equals_rouge_score_aggregator_with_the_same_seed(cnn_sample):
    from rouge_score import rouge_scorer, scoring

    predictions, references = cnn_sample
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True)
    aggregator = scoring.BootstrapAggregator()
    for prediction, reference in zip(predictions, references):
        aggregator.add_scores(scorer.score(reference, prediction))
    np.random.seed(7)
    expected = aggregator.aggregate()
    scores = rouge(predictions, references, seed=7)
    for name, interval in scores.items():
        assert interval["low"] == pytest.approx(expected[name].low.fmeasure)
        assert interval["mid"] == pytest.approx(expected[name].mid.fmeasure)
        assert interval["high"] == pytest.approx(expected[name].high.fmeasure)


def test_rouge_bootstrap_intervals_are_ordered_and_seeded(cnn_sample):
    predictions, references = cnn_sample
    first = rouge(predictions, references, n_samples=200, seed=3)
    for interval in first.values():
        assert interval["low"] < interval["mid"] < interval["high"]  # 40 different examples: a real interval
    assert rouge(predictions, references, n_samples=200, seed=3) == first
    assert rouge(predictions, references, n_samples=200, seed=4) != first


@pytest.mark.parametrize(
    "predictions, references, error, message",
    [
        ([], [], DataError, "no predictions"),
        (["a"], ["a", "b"], DataError, "1 predictions but 2 references"),
        ("a summary", ["a summary"], DataError, "got one str"),
        (["a"], [["a"]], DataError, r"references\[0\] is a list"),
    ],
)
def test_rouge_says_what_is_wrong_with_its_inputs(predictions, references, error, message):
    with pytest.raises(error, match=message):
        rouge(predictions, references)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"rouge_types": ["rouge1", "rougeW"]}, r"unknown rouge types \['rougeW'\]"),
        ({"rouge_types": "rouge1"}, "got the str 'rouge1'"),
        ({"rouge_types": []}, "rouge_types is empty"),
        ({"n_samples": 0}, "n_samples must be a positive int"),
    ],
)
def test_rouge_says_what_is_wrong_with_its_options(options, message):
    with pytest.raises(ConfigError, match=message):
        rouge(["a"], ["a"], **options)


@pytest.fixture(scope="module")
def cnn_sample():
    """40 real articles' first two sentences (one per line) as predictions, their highlights as references."""
    frame = load_dataset("cnn_dailymail", split="validation").head(40)
    predictions = ["\n".join(split_sentences(article, max_sentences=2)) for article in frame["article"]]
    return predictions, list(frame["highlights"])


# ---- Sentence splitting ----


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "The U.S. and the U.N. met on Tuesday. Mr. Smith and Dr. Jones said prices rose 3.5 percent. It ended.",
            [
                "The U.S. and the U.N. met on Tuesday.",
                "Mr. Smith and Dr. Jones said prices rose 3.5 percent.",
                "It ended.",
            ],
        ),
        ("U.S. officials met U.N. envoys. They agreed!", ["U.S. officials met U.N. envoys.", "They agreed!"]),
        (
            "(CNN)Sen. Harry Reid spoke. Then-Gov. Jerry Brown did not.",
            ["(CNN)Sen. Harry Reid spoke.", "Then-Gov. Jerry Brown did not."],
        ),
        ("Is it over? \"Yes,\" he said.", ["Is it over?", "\"Yes,\" he said."]),
        ("first line\nsecond line\n\n  third line ", ["first line", "second line", "third line"]),
        ("", []),
    ],
)
def test_split_sentences_keeps_abbreviations_and_decimals_inside(text, expected):
    assert split_sentences(text) == expected


def test_split_sentences_max_sentences_returns_the_first_ones():
    text = " ".join(f"Sentence number {index} is here." for index in range(200))
    assert split_sentences(text, max_sentences=3) == [f"Sentence number {index} is here." for index in range(3)]
    assert split_sentences("One. Two.", max_sentences=3) == ["One.", "Two."]
    assert split_sentences("One.\nTwo. Three.\nFour.", max_sentences=2) == ["One.", "Two."]


def test_split_sentences_on_real_articles_loses_no_text_and_keeps_abbreviations():
    articles = load_dataset("cnn_dailymail", split="validation")["article"].head(30)
    lengths = []
    for article in articles:
        sentences = split_sentences(article)
        assert "".join(article.split()) == "".join("".join(sentences).split())
        lengths += [len(sentence) for sentence in sentences]
        ends = [sentence.rsplit(" ", 1)[-1] for sentence in sentences[:-1]]
        assert not {"Mr.", "Mrs.", "Dr.", "U.N."} & set(ends), ends
    assert len(lengths) > 400 and 80 < np.median(lengths) < 200  # not one sentence per article, nor per clause
    first = split_sentences(articles[0], max_sentences=2)
    assert first == ["(CNN)Share, and your gift will be multiplied.", split_sentences(articles[0])[1]]


def test_split_sentences_says_what_is_wrong_with_its_inputs():
    with pytest.raises(DataError, match="expects a str, got list"):
        split_sentences(["one text"])
    with pytest.raises(ConfigError, match="max_sentences must be a positive int"):
        split_sentences("One. Two.", max_sentences=0)


def test_metrics_accept_pandas_columns():
    frame = pd.DataFrame({"prediction": ["the cat is on mat"], "reference": [REFERENCE]})
    assert round(bleu(frame["prediction"], frame["reference"])["score"], 2) == 57.89
    assert rouge(frame["prediction"], frame["reference"])["rouge1"]["mid"] == pytest.approx(10 / 11)
