"""Tests of tfnlp.data.registry: tiny copies of every data set in tmp_path, a fake hub, and the real data."""

import dataclasses
import gzip
import json
import logging
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import tfnlp
from tfnlp.data import DatasetDict, dataset_info, encode_labels, list_datasets, load_dataset, resolve_data_dir
from tfnlp.data import registry
from tfnlp.errors import DataError

EMOTIONS = ("sadness", "joy", "love", "anger", "fear", "surprise")
STSB_HEADER = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2"
CONLL = "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n"
SQUAD = {
    "data": [
        {
            "title": "Rivers",
            "paragraphs": [
                {
                    "context": "The Nile is long.",
                    "qas": [
                        {"id": "q1", "question": "What is long?", "answers": [{"text": "The Nile", "answer_start": 0}]}
                    ],
                }
            ],
        }
    ]
}
SAMSUM = [
    {"id": "1", "summary": "A greets B.", "dialogue": "A: hi\r\nB: hello"},
    {"id": "2", "summary": "Nothing.", "dialogue": ""},
]


def write_tiny_data(root):
    """Writes a two-row copy of every registered data set, in the layout of ../shared/data."""
    emotion = "i feel happy;joy\ni am sad;sadness\n"
    imdb = gzip.compress(b'id,rating,label,text\n0,9,pos,"Great, great film."\n1,2,neg,Dull.\n')
    sst2 = "sentence\tlabel\ngood fun \t1\nboring \t0\n"
    stsb = f'{STSB_HEADER}\tscore\n0\tg\tf\ty\t1\tn\tn\t"A man sings.\tA man is singing.\t3.800\n'
    clinc = {key: [["book a flight", "book_flight"]] for key in ("train", "val", "test")}
    clinc |= {f"oos_{key}": [["what is love", "oos"]] for key in ("train", "val", "test")}
    files = {
        **{f"emotion/{name}": emotion for name in ("train.txt", "val.txt", "test.txt")},
        "clinc150/data_oos_plus.json": json.dumps(clinc),
        **{f"imdb/imdb_{split}.csv.gz": imdb for split in ("train", "test")},
        **{f"glue/SST-2/{name}": sst2 for name in ("train.tsv", "dev.tsv")},
        "glue/SST-2/test.tsv": "index\tsentence\n0\tfine .\n",
        **{f"glue/STS-B/{name}": stsb for name in ("train.tsv", "dev.tsv")},
        "glue/STS-B/test.tsv": f"{STSB_HEADER}\n0\tg\tf\ty\t1\tn\tn\tA dog.\tA cat.\n",
        **{f"conll2003/{name}": CONLL for name in ("train.txt", "valid.txt", "test.txt")},
        "squad_v1.1/dev-v1.1.json": json.dumps(SQUAD),
        "samsum/train.json": json.dumps(SAMSUM),
        **{f"samsum/{name}": json.dumps(SAMSUM[:1]) for name in ("val.json", "test.json")},
        "cnn_dailymail/cnn_dailymail_validation_subset.csv": 'article,highlights,id\n"(CNN) Text.","One.\nTwo.",abc\n',
    }
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return root


class FakeSplit(dict):
    """A hub split as `datasets` gives it: columns by name, and `features` with the class names."""

    def __init__(self, columns, **features):
        super().__init__(columns)
        self.features = features


def class_label(*names):
    return SimpleNamespace(names=list(names))


def tag_sequence(*names):
    return SimpleNamespace(feature=class_label(*names))


def glue_test(columns):
    return FakeSplit(columns | {"label": [-1] * len(next(iter(columns.values())))})


# The same rows as write_tiny_data, in the hub's layout (class ids in an order of the hub's own).
HUB = {
    "emotion": FakeSplit({"text": ["i feel happy", "i am sad"], "label": [1, 0]}, label=class_label(*EMOTIONS)),
    "clinc150": FakeSplit(
        {"text": ["book a flight", "what is love"], "intent": [1, 0]}, intent=class_label("oos", "book_flight")
    ),
    "imdb": FakeSplit({"text": ["Great, great film.", "Dull."], "label": [1, 0]}, label=class_label("neg", "pos")),
    "sst2": FakeSplit(
        {"sentence": ["good fun ", "boring "], "label": [1, 0], "idx": [0, 1]},
        label=class_label("negative", "positive"),
    ),
    "stsb": FakeSplit({"sentence1": ['"A man sings.'], "sentence2": ["A man is singing."], "label": [3.8], "idx": [0]}),
    "conll2003": FakeSplit(
        {
            "id": ["0", "1"],
            "tokens": [["EU", "rejects"], ["Peter"]],
            "pos_tags": [[1, 0], [1]],
            "chunk_tags": [[0, 1], [0]],
            "ner_tags": [[2, 0], [1]],
        },
        pos_tags=tag_sequence("VBZ", "NNP"),
        chunk_tags=tag_sequence("B-NP", "B-VP"),
        ner_tags=tag_sequence("O", "B-PER", "B-ORG"),
    ),
    "squad": FakeSplit(
        {
            "id": ["q1"],
            "title": ["Rivers"],
            "context": ["The Nile is long."],
            "question": ["What is long?"],
            "answers": [{"text": ["The Nile"], "answer_start": [0]}],
        }
    ),
    "samsum": FakeSplit({column: [row[column] for row in SAMSUM] for column in ("id", "dialogue", "summary")}),
    "cnn_dailymail": FakeSplit({"article": ["(CNN) Text."], "highlights": ["One.\nTwo."], "id": ["abc"]}),
}
HUB_TEST = {
    "sst2": glue_test({"sentence": ["fine ."], "idx": [0]}),
    "stsb": glue_test({"sentence1": ["A dog."], "sentence2": ["A cat."], "idx": [0]}),
}


@pytest.fixture
def tiny_data(tmp_path):
    return write_tiny_data(tmp_path / "data")


@pytest.fixture
def no_data(tmp_path):
    """A data directory holding no data set."""
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty"


@pytest.fixture
def online(monkeypatch):
    """Makes online loading possible with a fake `datasets` module; returns the calls it receives."""
    for variable in ("TFNLP_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(variable, raising=False)
    calls = []

    def fake_load_dataset(path, name=None, split=None):
        calls.append((path, name, split))
        infos = map(dataset_info, list_datasets())
        dataset = next(info.name for info in infos if (info.hub_id, info.hub_config) == (path, name))
        return HUB_TEST.get(dataset, HUB[dataset]) if split == "test" else HUB[dataset]

    module = types.ModuleType("datasets")
    module.load_dataset = fake_load_dataset
    monkeypatch.setitem(sys.modules, "datasets", module)
    return calls


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("TFNLP_OFFLINE", "1")


# ---- the registry ----


def test_every_documented_data_set_is_registered():
    assert list_datasets() == [
        "emotion", "clinc150", "imdb", "sst2", "stsb", "conll2003", "squad", "samsum", "cnn_dailymail"
    ]


def test_dataset_info_fields():
    info = dataset_info("emotion")
    assert info.label_names == EMOTIONS
    assert info.splits == {"train": "train.txt", "validation": "val.txt", "test": "test.txt"}
    assert (info.hub_id, info.hub_config, info.task) == ("dair-ai/emotion", "split", "text-classification")
    assert dataset_info("conll2003").label_names == (
        "O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"
    )
    clinc_labels = dataset_info("clinc150").label_names
    assert len(clinc_labels) == 151 and "oos" in clinc_labels and list(clinc_labels) == sorted(clinc_labels)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.name = "other"


def test_tasks_are_the_known_ones():
    tasks = {dataset_info(name).task for name in list_datasets()}
    assert tasks == {
        "text-classification", "text-pair-regression", "token-classification", "question-answering", "summarization"
    }


def test_unknown_dataset_suggests_a_close_name():
    with pytest.raises(DataError, match=r"unknown data set 'emotions' \(did you mean 'emotion'\?\)") as error:
        load_dataset("emotions")
    assert "clinc150, imdb" in str(error.value)


def test_unknown_split_lists_the_splits(tiny_data):
    with pytest.raises(DataError, match=r"no split 'valid' \(did you mean 'validation'\?\); its splits are train, "
                       "validation, test"):
        load_dataset("emotion", split="valid", data_dir=tiny_data)


# ---- local files ----


@pytest.mark.parametrize("name", list_datasets())
def test_every_data_set_loads_from_tiny_local_files(tiny_data, name):
    data = load_dataset(name, data_dir=tiny_data)
    info = dataset_info(name)
    assert isinstance(data, DatasetDict) and data.info is info
    assert list(data) == list(info.splits)
    for split, frame in data.items():
        assert set(info.text_columns) <= set(frame.columns), split
        if info.label_names is not None and info.label_column in frame.columns:
            labels = np.concatenate(frame[info.label_column].map(np.atleast_1d).to_list())
            assert labels.dtype.kind == "i" and labels.min() >= 0 and labels.max() < len(info.label_names)


def test_local_values(tiny_data):
    emotion = load_dataset("emotion", split="train", data_dir=tiny_data)
    assert emotion["label"].tolist() == [1, 0] and emotion["label"].dtype == np.int32
    clinc = load_dataset("clinc150", split="validation", data_dir=tiny_data)
    names = dataset_info("clinc150").label_names
    assert [names[i] for i in clinc["label"]] == ["book_flight", "oos"]
    imdb = load_dataset("imdb", split="test", data_dir=tiny_data)
    assert imdb.columns.tolist() == ["id", "rating", "label", "text"] and imdb["rating"].tolist() == [9, 2]
    sst2 = load_dataset("sst2", data_dir=tiny_data)
    assert sst2["train"]["label"].tolist() == [1, 0] and sst2["test"].columns.tolist() == ["text"]
    stsb = load_dataset("stsb", data_dir=tiny_data)
    assert stsb["train"]["sentence1"].tolist() == ['"A man sings.']  # a stray quote is kept
    assert stsb["train"]["label"].tolist() == [3.8] and "label" not in stsb["test"]
    conll = load_dataset("conll2003", split="train", data_dir=tiny_data)
    assert conll["ner_tags"].tolist() == [[3, 0], [1]] and conll["pos_tags"][0] == ["NNP", "VBZ"]
    squad = load_dataset("squad", split="validation", data_dir=tiny_data)
    assert squad["answers"][0] == {"text": ["The Nile"], "answer_start": [0]}
    cnn = load_dataset("cnn_dailymail", split="validation", data_dir=tiny_data)
    assert cnn["highlights"].tolist() == ["One.\nTwo."]


def test_samsum_drops_and_counts_empty_dialogues(tiny_data, caplog):
    with caplog.at_level(logging.WARNING, logger="tfnlp.data.registry"):
        train = load_dataset("samsum", split="train", data_dir=tiny_data)
    assert train["id"].tolist() == ["1"]
    assert "dropped 1 of 2 rows with an empty dialogue (ids: 2)" in caplog.text


def test_split_returns_one_frame_and_repr(tiny_data):
    assert isinstance(load_dataset("emotion", split="test", data_dir=tiny_data), pd.DataFrame)
    assert repr(load_dataset("emotion", data_dir=tiny_data)) == (
        "DatasetDict('emotion', train: 2 rows, validation: 2 rows, test: 2 rows)"
    )


def test_unknown_label_names_file_line_value_and_labels(tiny_data):
    (tiny_data / "emotion/train.txt").write_text("i feel happy;joy\ni am sad;sadnes\n")
    with pytest.raises(DataError) as error:
        load_dataset("emotion", data_dir=tiny_data)
    message = str(error.value)
    assert f"{tiny_data / 'emotion/train.txt'}:2: unknown label 'sadnes' at row 2 (did you mean 'sadness'?)" in message
    assert "known labels: sadness, joy, love, anger, fear, surprise" in message


def test_unknown_label_in_a_table_names_the_line_after_the_header(tiny_data):
    table = b"id,rating,label,text\n0,9,pos,Good.\n1,5,mixed,Meh.\n"
    (tiny_data / "imdb/imdb_test.csv.gz").write_bytes(gzip.compress(table))
    with pytest.raises(DataError, match=r"imdb_test\.csv\.gz:3: unknown label 'mixed' at row 2"):
        load_dataset("imdb", split="test", data_dir=tiny_data)


def test_unknown_tag_names_the_sentence(tiny_data):
    (tiny_data / "conll2003/test.txt").write_text(CONLL.replace("B-PER", "B-PERSON"))
    message = r"test\.txt: unknown label 'B-PERSON' at sentence 2 \(did you mean 'B-PER'\?\)"
    with pytest.raises(DataError, match=message):
        load_dataset("conll2003", split="test", data_dir=tiny_data)


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_text_names_the_line(tiny_data, text):
    (tiny_data / "emotion/val.txt").write_text(f"fine;joy\nfine;joy\n{text};sadness\n")
    with pytest.raises(DataError, match=r"val\.txt:3: empty text in column 'text' at row 3"):
        load_dataset("emotion", split="validation", data_dir=tiny_data)


def test_score_that_is_not_a_number(tiny_data):
    path = tiny_data / "glue/STS-B/dev.tsv"
    path.write_text(path.read_text().replace("3.800", "high"))
    with pytest.raises(DataError, match=r"dev\.tsv:2: the score 'high' at row 1 is not a number"):
        load_dataset("stsb", split="validation", data_dir=tiny_data)


def test_missing_column_in_a_registered_file(tiny_data):
    (tiny_data / "samsum/val.json").write_text(json.dumps([{"id": "1", "text": "A: hi", "summary": "hi"}]))
    with pytest.raises(DataError, match=r"missing column\(s\) \['dialogue'\]"):
        load_dataset("samsum", split="validation", data_dir=tiny_data)


# ---- where the files are looked for ----


def test_files_missing_offline_is_a_clear_error(no_data, offline):
    with pytest.raises(DataError) as error:
        load_dataset("emotion", data_dir=no_data)
    message = str(error.value)
    assert f"expected train.txt, val.txt, test.txt in one of: {no_data / 'emotion'} (no such directory)" in message
    assert "online loading is off (TFNLP_OFFLINE=1)" in message
    for fix in ("data_dir=", "--data-dir", "TFNLP_DATA_DIR", "pip install datasets"):
        assert fix in error.value.hint


def test_partly_missing_files_are_named(tiny_data, offline):
    (tiny_data / "emotion/val.txt").unlink()
    with pytest.raises(DataError, match=r"emotion \(missing val\.txt\)"):
        load_dataset("emotion", data_dir=tiny_data)
    assert len(load_dataset("emotion", split="test", data_dir=tiny_data)) == 2  # the other splits still load


def test_files_missing_without_the_datasets_package(no_data, monkeypatch):
    monkeypatch.delenv("TFNLP_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` fail
    with pytest.raises(DataError, match="the `datasets` package, needed to download from the hub, is not installed"):
        load_dataset("squad", data_dir=no_data)


def test_hf_offline_variable_keeps_the_hub_off(no_data, online, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(DataError, match=r"HF_DATASETS_OFFLINE=1"):
        load_dataset("emotion", data_dir=no_data)
    assert online == []


def test_default_search_lists_every_directory(tmp_path, monkeypatch, offline):
    monkeypatch.setenv("TFNLP_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setattr(registry, "_SHARED_DATA", tmp_path / "shared")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as error:
        load_dataset("imdb")
    for directory in ("env", "shared", "data"):
        assert str(tmp_path / directory / "imdb") in str(error.value)


def test_default_search_uses_the_environment_variable(tiny_data, tmp_path, monkeypatch, offline):
    monkeypatch.setenv("TFNLP_DATA_DIR", str(tiny_data))
    monkeypatch.setattr(registry, "_SHARED_DATA", tmp_path / "shared")
    assert len(load_dataset("emotion", split="train")) == 2


def test_resolve_data_dir_order(tmp_path, monkeypatch):
    for name in ("arg", "env", "shared", "data"):
        (tmp_path / name).mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TFNLP_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setattr(registry, "_SHARED_DATA", tmp_path / "shared")
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_dir() == tmp_path / "env"
    monkeypatch.delenv("TFNLP_DATA_DIR")
    assert resolve_data_dir() == tmp_path / "shared"
    (tmp_path / "shared").rmdir()
    assert resolve_data_dir() == tmp_path / "data"
    (tmp_path / "data").rmdir()
    assert resolve_data_dir() is None


def test_resolve_data_dir_rejects_a_missing_explicit_folder(tmp_path):
    with pytest.raises(DataError, match="data directory not found"):
        resolve_data_dir(tmp_path / "typo")


def test_shared_data_is_beside_the_repository():
    assert registry._SHARED_DATA == Path(tfnlp.__file__).resolve().parent.parent.parent / "shared" / "data"


# ---- the hub ----


@pytest.mark.parametrize("name", list_datasets())
def test_hub_gives_the_same_frames_as_local_files(tiny_data, no_data, online, name):
    local = load_dataset(name, data_dir=tiny_data)
    hub = load_dataset(name, data_dir=no_data)
    info = dataset_info(name)
    assert online == [(info.hub_id, info.hub_config, split) for split in info.splits]
    for split in info.splits:
        expected, actual = local[split], hub[split]
        if name == "imdb":  # the hub copy has no review ids or ratings
            assert actual["rating"].isna().all() and actual["id"].tolist() == [0, 1]
            expected, actual = expected.drop(columns=["id", "rating"]), actual.drop(columns=["id", "rating"])
        pd.testing.assert_frame_equal(actual, expected, obj=f"{name} {split}")


def test_hub_failure_is_a_data_error(no_data, monkeypatch, online):
    def failing_load_dataset(path, name=None, split=None):
        raise ConnectionError("network unreachable")

    monkeypatch.setattr(sys.modules["datasets"], "load_dataset", failing_load_dataset)
    with pytest.raises(DataError, match=r"dair-ai/emotion \[train\]: could not load .* network unreachable"):
        load_dataset("emotion", split="train", data_dir=no_data)


# ---- encode_labels ----


def test_encode_labels():
    codes = encode_labels(pd.Series(["joy", "sadness", "surprise"]), EMOTIONS)
    assert codes.tolist() == [1, 0, 5] and codes.dtype == np.int32


def test_encode_labels_unknown_value():
    with pytest.raises(DataError, match=r"labels\.txt:12: unknown label 'happy' at row 3") as error:
        encode_labels(["joy", "joy", "happy"], EMOTIONS, path="labels.txt", first_line=10)
    assert "known labels: sadness, joy" in error.value.hint
    with pytest.raises(DataError) as error:
        encode_labels(["x"], [f"intent_{i}" for i in range(40)], first_line=None)
    assert error.value.line is None and "... (40 in all)" in error.value.hint


# ---- the real data in ../shared/data ----

EXPECTED_ROWS = {
    "emotion": {"train": 16000, "validation": 2000, "test": 2000},
    "clinc150": {"train": 15000 + 250, "validation": 3000 + 100, "test": 4500 + 1000},
    "imdb": {"train": 25000, "test": 25000},
    "sst2": {"train": 67349, "validation": 872, "test": 1821},
    "stsb": {"train": 5749, "validation": 1500, "test": 1379},
    "conll2003": {"train": 14041, "validation": 3250, "test": 3453},
    "squad": {"validation": 10570},
    "samsum": {"train": 14732 - 1, "validation": 818, "test": 819},  # one empty train dialogue is dropped
    "cnn_dailymail": {"validation": 1000},
}


@pytest.fixture(scope="module")
def real():
    """Loads each real data set once for the whole module: real("imdb") -> DatasetDict."""
    data_dir = resolve_data_dir()
    if data_dir is None:
        pytest.skip("no data directory: set TFNLP_DATA_DIR or place the shared data at ../shared/data")
    loaded = {}

    def load(name):
        if not (data_dir / dataset_info(name).folder).is_dir():
            pytest.skip(f"{name} is not in {data_dir}")
        if name not in loaded:
            loaded[name] = load_dataset(name, data_dir=data_dir)
        return loaded[name]

    return load


def test_expected_rows_cover_the_registry():
    assert list(EXPECTED_ROWS) == list_datasets()


@pytest.mark.parametrize("name", list(EXPECTED_ROWS))
def test_real_row_counts(real, name):
    assert {split: len(frame) for split, frame in real(name).items()} == EXPECTED_ROWS[name]


@pytest.mark.parametrize("name", list(EXPECTED_ROWS))
def test_real_texts_and_labels(real, name):
    data, info = real(name), dataset_info(name)
    for split, frame in data.items():
        assert frame[list(info.text_columns)].notna().all().all(), split
        if info.label_names is not None and info.task == "text-classification" and info.label_column in frame:
            labels = frame[info.label_column]
            assert labels.dtype == np.int32
            assert set(labels) == set(range(len(info.label_names))), f"{name} {split}: every class appears"


def test_real_emotion(real):
    train = real("emotion")["train"]
    assert train["text"][0] == "i didnt feel humiliated" and train["label"][0] == EMOTIONS.index("sadness")


def test_real_clinc150_labels_are_the_sorted_train_intents(real):
    path = resolve_data_dir() / "clinc150/data_oos_plus.json"
    raw = json.loads(path.read_text())
    train_intents = {intent for _, intent in raw["train"] + raw["oos_train"]}
    assert dataset_info("clinc150").label_names == tuple(sorted(train_intents))
    oos = dataset_info("clinc150").label_names.index("oos")
    assert {split: int((frame["label"] == oos).sum()) for split, frame in real("clinc150").items()} == {
        "train": 250, "validation": 100, "test": 1000
    }


def test_real_imdb(real):
    for split, frame in real("imdb").items():
        assert frame["label"].value_counts().tolist() == [12500, 12500], split
        positive = frame["label"] == 1
        assert frame.loc[positive, "rating"].min() >= 7 and frame.loc[~positive, "rating"].max() <= 4, split
        assert "<br />" in " ".join(frame["text"].head(100))  # the original text, markup kept


def test_real_sst2_and_stsb(real):
    sst2 = real("sst2")
    assert sst2["train"].columns.tolist() == ["text", "label"] and sst2["test"].columns.tolist() == ["text"]
    stsb = real("stsb")
    for split in ("train", "validation"):
        scores = stsb[split]["label"]
        assert scores.dtype == np.float64 and scores.between(0, 5).all() and scores.nunique() > 50, split
    assert stsb["test"].columns.tolist() == ["sentence1", "sentence2"]
    quoted = pd.concat([stsb["train"]["sentence1"], stsb["train"]["sentence2"]]).str.count('"')
    assert (quoted % 2 == 1).any()  # unbalanced quotes kept as text, not read as field quoting


def test_real_conll2003(real):
    train = real("conll2003")["train"]
    assert train["tokens"][0] == ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."]
    assert train["ner_tags"][0] == [3, 0, 7, 0, 0, 0, 7, 0, 0]  # B-ORG O B-MISC ... in the hub's ids
    for column in ("pos_tags", "chunk_tags", "ner_tags"):
        assert (train["tokens"].map(len) == train[column].map(len)).all(), column
    assert sum(map(len, train["tokens"])) == 203621


def test_real_squad_answers_are_spans_of_the_context(real):
    squad = real("squad")["validation"]
    assert squad["title"].nunique() == 48 and squad["context"].nunique() == 2067
    for context, answers in zip(squad["context"], squad["answers"]):
        assert 1 <= len(answers["text"]) == len(answers["answer_start"])
        for text, start in zip(answers["text"], answers["answer_start"]):
            assert context[start : start + len(text)] == text


def test_real_samsum_logs_the_dropped_dialogue(real, caplog):
    data_dir = resolve_data_dir()
    with caplog.at_level(logging.WARNING, logger="tfnlp.data.registry"):
        train = load_dataset("samsum", split="train", data_dir=data_dir)
    assert "dropped 1 of 14732 rows with an empty dialogue (ids: 13828807)" in caplog.text
    assert "13828807" not in set(train["id"]) and len(train) == len(real("samsum")["train"])


def test_real_cnn_dailymail(real):
    frame = real("cnn_dailymail")["validation"]
    assert frame["id"].is_unique and frame["highlights"].str.contains("\n").mean() > 0.9
