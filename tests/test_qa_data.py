"""Extractive QA data: windows, offsets and span labels, decoding, SQuAD EM/F1, bad input."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import TINY_VOCAB
from tfnlp.data.qa import (
    check_answers,
    decode_answers,
    qa_features,
    load_qa_data,
    read_qa_table,
    split_by_article,
)
from tfnlp.data.readers import read_squad
from tfnlp.errors import ConfigError, DataError
from tfnlp.metrics.squad import exact_match, f1, normalize_answer, question_type, squad_scores, squad_scores_by_group
from tfnlp.serving.fast_tokenizer import load_fast_tokenizer

SQUAD_DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad_v1.1" / "dev-v1.1.json"
QUESTION = "what was good?"
# 29 tokens; "really so very good" is far from the start.
CONTEXT = ("The movie was good. It was so sad, and the tweet was bad today. I feel happy, "
           "it was really so very good, and not awful!")
ANSWER = "really so very good"


@pytest.fixture(scope="module")
def vocab_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("qa_vocab")
    (directory / "vocab.txt").write_text("\n".join(TINY_VOCAB) + "\n")
    (directory / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    return directory


@pytest.fixture(scope="module")
def tokenizer(vocab_dir):
    return load_fast_tokenizer(vocab_dir)


def answer(text=ANSWER, context=CONTEXT):
    return {"text": [text], "answer_start": [context.index(text)]}


def answer_text(features, window, context=CONTEXT):
    offsets = features.offsets[window]
    return context[offsets[features.start_positions[window], 0] : offsets[features.end_positions[window], 1]]


# --- Windows, offsets and labels ---


def test_ids_offsets_and_windows_match_the_transformers_reference(tokenizer, vocab_dir):
    from transformers import BertTokenizerFast

    reference = BertTokenizerFast(vocab={token: i for i, token in enumerate(TINY_VOCAB)}, do_lower_case=True)
    contexts = [CONTEXT, "Café: the movie was góód, I feel so happy today and it was great."]
    features = qa_features([QUESTION] * 2, contexts, tokenizer, max_length=20, stride=5)
    expected = reference([QUESTION] * 2, contexts, max_length=20, stride=5, truncation="only_second",
                         return_overflowing_tokens=True, return_offsets_mapping=True)
    assert len(features) == len(expected["input_ids"]) > 4
    assert [ids.tolist() for ids in features.token_ids] == expected["input_ids"]
    assert [ids.tolist() for ids in features.segment_ids] == expected["token_type_ids"]
    assert features.example_index.tolist() == expected["overflow_to_sample_mapping"]
    for window, offsets in enumerate(expected["offset_mapping"]):
        sequence = expected.sequence_ids(window)
        context_offsets = [list(span) for span, seq in zip(offsets, sequence) if seq == 1]
        assert features.offsets[window][features.offsets[window][:, 0] >= 0].tolist() == context_offsets


def test_ids_match_the_models_keras_hub_tokenizer(tokenizer, tiny_bert_dir):
    from tfnlp.models.encoders import load_tokenizer

    keras_tokenizer = load_tokenizer(str(tiny_bert_dir))
    features = qa_features([QUESTION], [CONTEXT], tokenizer, max_length=64, stride=8)
    question = np.asarray(keras_tokenizer(QUESTION)).tolist()
    context = np.asarray(keras_tokenizer(CONTEXT)).tolist()
    assert len(features) == 1
    assert features.token_ids[0].tolist() == [2] + question + [3] + context + [3]


def test_long_context_windows_overlap_by_stride_and_label_the_answer_in_a_later_window(tokenizer):
    features = qa_features([QUESTION], [CONTEXT], tokenizer, answers=[answer()], max_length=16, stride=4)
    assert len(features) >= 4 and set(features.example_index) == {0}
    contexts = [offsets[offsets[:, 0] >= 0].tolist() for offsets in features.offsets]
    for previous, current in zip(contexts, contexts[1:]):
        assert previous[-4:] == current[:4]  # consecutive windows share `stride` tokens
    assert features.start_positions[0] == features.end_positions[0] == 0  # first window: no answer
    holding = [w for w in range(len(features)) if features.start_positions[w] > 0]
    assert holding and holding[0] > 0
    for window in holding:
        assert answer_text(features, window) == ANSWER
        assert features.start_positions[window] <= features.end_positions[window]


def test_answer_crossing_a_window_edge_is_labelled_no_answer_there(tokenizer):
    features = qa_features([QUESTION], [CONTEXT], tokenizer, answers=[answer()], max_length=16, stride=4)
    first = CONTEXT.index(ANSWER)
    last = first + len(ANSWER)
    partial = [
        window for window, offsets in enumerate(features.offsets)
        if (ctx := offsets[offsets[:, 0] >= 0]).size
        and (ctx[0, 0] <= first < ctx[-1, 1] < last or first < ctx[0, 0] < last <= ctx[-1, 1])
    ]
    assert partial, "the test needs a window that cuts the answer"
    for window in partial:
        assert (features.start_positions[window], features.end_positions[window]) == (0, 0)


def test_unanswerable_question_labels_cls_everywhere_and_offsets_skip_question_tokens(tokenizer):
    features = qa_features([QUESTION], [CONTEXT], tokenizer, answers=[{"text": [], "answer_start": []}],
                           max_length=16, stride=4)
    assert not features.start_positions.any() and not features.end_positions.any()
    question_tokens = 1 + 4 + 1  # [CLS] what was good ? [SEP]
    for offsets in features.offsets:
        assert (offsets[:question_tokens] == -1).all() and (offsets[-1] == -1).all()


def test_offsets_map_back_to_exact_answer_text_with_accents_and_punctuation(tokenizer):
    context = "It was Café Müller (1978), i feel!"
    answers = [answer("Café Müller", context), answer("1978", context)]
    features = qa_features(["what was it?", "when?"], [context] * 2, tokenizer, answers=answers)
    assert answer_text(features, 0, context) == "Café Müller"
    assert answer_text(features, 1, context) == "1978"


def test_dataset_pads_each_batch_and_carries_labels(tokenizer):
    features = qa_features([QUESTION, "sad?"], [CONTEXT, "so sad"], tokenizer,
                           answers=[answer(), answer("sad", "so sad")], max_length=24, stride=6)
    inputs, labels = next(iter(features.dataset(batch_size=len(features))))
    assert inputs["token_ids"].shape == (len(features), features.lengths().max())
    assert inputs["padding_mask"].numpy().sum(axis=1).tolist() == features.lengths().tolist()
    assert labels["start_logits"].numpy().tolist() == features.start_positions.tolist()
    for indices, batch in features.batches(batch_size=2):
        assert batch["token_ids"].shape[1] == features.lengths()[indices].max()


# --- Decoding ---


def hand_logits(features, window, start_scores, end_scores):
    """Logits that are low everywhere except at the given {token: logit} positions."""
    length = len(features.token_ids[window])
    start, end = np.full(length, -5.0), np.full(length, -5.0)
    for token, value in start_scores.items():
        start[token] = value
    for token, value in end_scores.items():
        end[token] = value
    return start, end


def test_decoding_picks_the_best_valid_span_with_offsets(tokenizer):
    context = "i feel happy today and the movie was good"
    features = qa_features(["how?"], [context], tokenizer)
    tokens = {context[s:e]: t for t, (s, e) in enumerate(features.offsets[0]) if s >= 0}
    # A question token gets the top logits and an end before both starts the
    # second best: neither may be picked; "movie was good" is 3 tokens long.
    start, end = hand_logits(
        features, 0,
        {1: 9.0, tokens["movie"]: 6.0, tokens["happy"]: 5.0},
        {1: 9.0, tokens["feel"]: 6.5, tokens["good"]: 4.5, tokens["today"]: 5.0},
    )
    best = decode_answers(features, [start], [end], [context], max_answer_length=2)[0][0]
    assert best["answer"] == "happy today"
    assert context[best["start"] : best["end"]] == best["answer"]
    assert 0 < best["score"] < 1
    longer = decode_answers(features, [start], [end], [context], max_answer_length=3)[0][0]
    assert longer["answer"] == "movie was good"


def test_decoding_takes_the_best_window_and_top_k(tokenizer):
    features = qa_features([QUESTION], [CONTEXT], tokenizer, answers=[answer()], max_length=16, stride=4)
    window = int(np.flatnonzero(features.start_positions)[0])
    starts, ends = [], []
    for w in range(len(features)):
        first_context = int(np.flatnonzero(features.offsets[w][:, 0] >= 0)[0])
        if w == window:
            start, end = hand_logits(features, w, {features.start_positions[w]: 8.0},
                                     {features.end_positions[w]: 8.0})
        else:  # other windows: a weak span on their first context token
            start, end = hand_logits(features, w, {0: 3.0, first_context: 2.0}, {0: 3.0, first_context: 2.0})
        starts.append(start)
        ends.append(end)
    answers = decode_answers(features, starts, ends, [CONTEXT], top_k=3)[0]
    assert answers[0]["answer"] == ANSWER
    assert len(answers) == 3 and answers[0]["score"] > answers[1]["score"] >= answers[2]["score"]
    assert len({(a["start"], a["end"]) for a in answers}) == 3


def test_null_answer_with_a_threshold(tokenizer):
    context = "the movie was good"
    features = qa_features(["what?"], [context], tokenizer)
    good = len(features.offsets[0]) - 2  # ... good [SEP]
    start, end = hand_logits(features, 0, {0: 6.0, good: 2.0}, {0: 6.0, good: 2.0})
    assert decode_answers(features, [start], [end], [context])[0][0]["answer"] == "good"
    null = decode_answers(features, [start], [end], [context], null_threshold=0.0)[0][0]
    assert null == {"answer": "", "score": pytest.approx(null["score"]), "start": 0, "end": 0}
    assert null["score"] > 0.9
    assert decode_answers(features, [start], [end], [context], null_threshold=1.0)[0][0]["answer"] == "good"


# --- SQuAD metrics (cases checked against the official v1.1 evaluate-v1.1.py) ---


def test_official_normalisation():
    assert normalize_answer("The Denver Broncos!") == "denver broncos"
    assert normalize_answer("an  apple, a day") == "apple day"
    assert normalize_answer("Theater") == "theater"  # articles only as whole words
    assert normalize_answer("$1.5 billion") == "15 billion"


def test_exact_match_and_f1_hand_cases():
    assert exact_match("the Broncos", "Broncos") == 1.0
    assert exact_match("Denver Broncos", "Broncos") == 0.0
    assert f1("Denver Broncos", "Broncos") == pytest.approx(2 / 3)
    assert f1("Broncos Broncos", "Broncos") == pytest.approx(2 / 3)  # precision 1/2, recall 1
    assert f1("Carolina Panthers", "Denver Broncos") == 0.0
    assert f1("", "Broncos") == 0.0
    scores = squad_scores(
        ["Denver Broncos", "Santa Clara", "", "Levi's Stadium in Santa Clara"],
        [["Denver Broncos", "The Broncos"], {"text": ["Santa Clara, California"]}, [], ["Levi's Stadium"]],
    )
    assert scores["count"] == 4
    assert scores["exact_match"] == pytest.approx(2 / 4)
    # 1 + F1("santa clara", "santa clara california") = 0.8 + 1 (unanswerable, empty) + 4/7
    assert scores["f1"] == pytest.approx((1 + 0.8 + 1 + 2 * (2 / 5) / (2 / 5 + 1)) / 4)
    with pytest.raises(DataError, match="one prediction per example"):
        squad_scores(["a"], [])


def test_scores_by_question_type():
    assert [question_type(q) for q in ("Who won?", "In which year?", "Name the team.")] == ["who", "which", "other"]
    by_type = squad_scores_by_group(["Ann", "1990", "x"], [["Ann"], ["1991"], ["y"]], ["who", "when", "who"])
    assert by_type["who"] == {"exact_match": 0.5, "f1": 0.5, "count": 2}
    assert by_type["when"]["f1"] == 0.0


# --- Reading and bad input ---


def squad_frame(text="Denver Broncos", start=0):
    return pd.DataFrame([{"id": "q1", "title": "Super Bowl", "context": "Denver Broncos won.",
                          "question": "Who won?", "answers": {"text": [text], "answer_start": [start]}}])


def test_mismatching_answer_is_a_clear_error_or_a_counted_skip():
    with pytest.raises(DataError, match=r"question 'q1'.*'Broncos' is not the context at answer_start=0"):
        check_answers(squad_frame("Broncos", 0), "dev.json")
    frame, skipped = check_answers(pd.concat([squad_frame(), squad_frame("Broncos", 0)]), skip_mismatches=True)
    assert (len(frame), skipped) == (1, 1)


def test_squad_json_with_a_bad_answer_start_fails_when_read(tmp_path):
    data = {"data": [{"title": "t", "paragraphs": [{"context": "Ann wrote it.", "qas": [
        {"id": "x", "question": "Who?", "answers": [{"text": "Ann", "answer_start": 4}]}]}]}]}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match="bad.json.*answer_start=4"):
        load_qa_data(path)
    frame = load_qa_data(path, skip_mismatches=True)
    assert len(frame) == 0 and frame.attrs["skipped_answers"] == 1


def test_read_qa_table_finds_answers_and_reports_bad_rows(tmp_path):
    path = tmp_path / "faq.csv"
    pd.DataFrame({"q": ["Who wrote it?", "When?"], "passage": ["Ann wrote it in 1990.", "No date here."],
                  "a": ["Ann", ""]}).to_csv(path, index=False)
    frame = load_qa_data(path, question="q", context="passage", answer="a")
    assert frame.attrs["skipped_answers"] == 0
    assert frame["answers"].tolist() == [{"text": ["Ann"], "answer_start": [0]}, {"text": [], "answer_start": []}]
    with pytest.raises(DataError, match="missing column"):
        read_qa_table(path)
    pd.DataFrame({"question": ["Who?"], "context": ["Ann wrote it."], "answer": ["Bob"]}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"faq.csv:2: the answer 'Bob' does not occur"):
        read_qa_table(path)


def test_bad_texts_and_windows_are_clear_errors(tokenizer):
    with pytest.raises(DataError, match=r"`contexts`\[0\] is ''"):
        qa_features([QUESTION], [""], tokenizer)
    with pytest.raises(DataError, match="question 0 .* has 4 tokens"):
        qa_features([QUESTION], [CONTEXT], tokenizer, max_length=10, stride=4)
    with pytest.raises(ConfigError, match="stride"):
        qa_features([QUESTION], [CONTEXT], tokenizer, max_length=16, stride=16)
    with pytest.raises(DataError, match="differ in length"):
        qa_features([QUESTION], [CONTEXT, CONTEXT], tokenizer)


def test_tokenizer_settings_are_restored(tokenizer):
    before = (tokenizer.truncation, tokenizer.padding)
    qa_features([QUESTION], [CONTEXT], tokenizer, max_length=16, stride=4)
    assert (tokenizer.truncation, tokenizer.padding) == before


def test_split_by_article():
    frame = pd.DataFrame({"title": list("aabccd"), "question": list("123456")})
    train, evaluate, titles = split_by_article(frame, num_train=2, num_eval=1)
    assert titles == {"train": ["a", "b"], "evaluate": ["c"]}
    assert train["question"].tolist() == ["1", "2", "3"] and evaluate["question"].tolist() == ["4", "5"]
    with pytest.raises(ConfigError, match="4 articles"):
        split_by_article(frame, num_train=4, num_eval=1)


@pytest.mark.skipif(not SQUAD_DEV.is_file(), reason="needs ../shared/data/squad_v1.1")
def test_real_squad_dev_answers_all_match_and_split_38_10():
    frame, skipped = check_answers(read_squad(SQUAD_DEV), SQUAD_DEV)
    assert skipped == 0 and len(frame) == 10570
    train, evaluate, titles = split_by_article(frame)
    assert (len(titles["train"]), len(titles["evaluate"])) == (38, 10)
    assert not set(train["title"]) & set(evaluate["title"])
