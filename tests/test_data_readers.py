"""Tests of tfnlp.data.readers on tiny files written in tmp_path."""

import gzip
import json

import pandas as pd
import pytest

from tfnlp.data import (
    read_conll,
    read_json,
    read_jsonl,
    read_squad,
    read_table,
    read_text_label,
    select_columns,
    validate_texts,
)
from tfnlp.errors import DataError


def write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# ---- read_text_label ----


def test_text_label_splits_at_the_last_separator(tmp_path):
    path = write(tmp_path, "train.txt", "i feel good;joy\nhalf; and half;sadness\r\nwell ;  love \n\n")
    frame = read_text_label(path)
    assert frame.columns.tolist() == ["text", "label"]
    assert frame["text"].tolist() == ["i feel good", "half; and half", "well "]
    assert frame["label"].tolist() == ["joy", "sadness", "love"]


def test_text_label_other_separator(tmp_path):
    frame = read_text_label(write(tmp_path, "a.tsv", "hello\tpos\n"), sep="\t")
    assert frame.iloc[0].tolist() == ["hello", "pos"]


@pytest.mark.parametrize("bad_line", ["no separator here", "label missing;", ""])
def test_text_label_line_without_label_names_the_line(tmp_path, bad_line):
    path = write(tmp_path, "train.txt", f"fine;joy\n{bad_line}\nfine;joy\n")
    with pytest.raises(DataError, match=r"train\.txt:2: expected 'text;label'") as error:
        read_text_label(path)
    assert error.value.line == 2
    assert "sep=" in error.value.hint


def test_text_label_wrong_separator_hint(tmp_path):
    path = write(tmp_path, "train.txt", "i feel good,joy\n")
    with pytest.raises(DataError, match="pass sep="):
        read_text_label(path)


# ---- common rules: missing, empty, not UTF-8 ----


@pytest.mark.parametrize("reader", [read_text_label, read_table, read_json, read_jsonl, read_conll, read_squad])
def test_missing_file_names_the_path(tmp_path, reader):
    path = tmp_path / "nowhere" / "file.csv"
    with pytest.raises(DataError, match="file not found") as error:
        reader(path)
    assert str(path) in str(error.value)
    assert "How to fix:" in str(error.value)


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(DataError, match="not a file"):
        read_text_label(tmp_path)


@pytest.mark.parametrize("reader", [read_text_label, read_table, read_json, read_jsonl, read_conll, read_squad])
@pytest.mark.parametrize("content", ["", "  \n\n"])
def test_empty_file(tmp_path, reader, content):
    path = write(tmp_path, "empty.csv", content)
    with pytest.raises(DataError, match="the file is empty"):
        reader(path)


def test_non_utf8_bytes_give_line_and_byte_offset(tmp_path):
    path = write(tmp_path, "train.txt", "ok;joy\ncaf\xe9;joy\n".encode("latin-1"))
    with pytest.raises(DataError) as error:
        read_text_label(path)
    message = str(error.value)
    assert error.value.line == 2
    assert "0xe9 at byte offset 10 (column 4 of the line)" in message
    assert "re-encode the file as UTF-8" in message


def test_non_utf8_inside_gzip(tmp_path):
    path = write(tmp_path, "data.csv.gz", gzip.compress("text,label\ncaf\xe9,pos\n".encode("latin-1")))
    with pytest.raises(DataError, match="invalid UTF-8") as error:
        read_table(path)
    assert error.value.line == 2


def test_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    path = write(tmp_path, "data.csv", "\ufefftext,label\nhi,pos\n".encode("utf-8"))
    assert read_table(path, columns=["text"]).columns.tolist() == ["text"]


# ---- read_table ----


def test_table_csv_gz_and_tsv(tmp_path):
    csv_path = write(tmp_path, "data.csv.gz", gzip.compress(b'id,text,label\n1,"a, quoted text",pos\n2,NA,neg\n'))
    frame = read_table(csv_path)
    assert frame.columns.tolist() == ["id", "text", "label"]
    assert frame["text"].tolist() == ["a, quoted text", "NA"]  # "NA" is a text, not a missing value
    tsv = read_table(write(tmp_path, "data.tsv", "sentence\tlabel\nfine film\t1\n"))
    assert tsv.iloc[0].tolist() == ["fine film", 1]


def test_table_columns_select_and_rename(tmp_path):
    path = write(tmp_path, "data.tsv", "index\tsentence\tlabel\n0\tfine\t1\n")
    assert read_table(path, columns=["label", "sentence"]).columns.tolist() == ["label", "sentence"]
    renamed = read_table(path, columns={"sentence": "text", "label": "label"})
    assert renamed.columns.tolist() == ["text", "label"]
    assert renamed["text"].tolist() == ["fine"]


def test_table_missing_column_lists_the_columns_found(tmp_path):
    path = write(tmp_path, "data.csv", "review,sentiment\ngood,pos\n")
    with pytest.raises(DataError, match=r"missing column\(s\) \['text'\]") as error:
        read_table(path, columns=["text", "sentiment"])
    assert "['review', 'sentiment']" in str(error.value)
    assert "columns={'<name in the file>'" in error.value.hint


@pytest.mark.parametrize("separator,name", [(";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars")])
def test_table_wrong_separator_is_named(tmp_path, separator, name):
    path = write(tmp_path, "data.csv", f"text{separator}label\ngood{separator}pos\n")
    with pytest.raises(DataError, match=f"looks separated by {name}") as error:
        read_table(path)
    assert error.value.hint == f"pass sep={separator!r}"


def test_table_unknown_suffix_asks_for_sep(tmp_path):
    path = write(tmp_path, "data.txt", "a,b\n1,2\n")
    with pytest.raises(DataError, match="cannot tell the separator"):
        read_table(path)
    assert read_table(path, sep=",").shape == (1, 2)


def test_table_bad_row_names_its_line(tmp_path):
    path = write(tmp_path, "data.tsv", 'a\tb\n1\t2\n"3\t4\n5\t6\n')
    with pytest.raises(DataError, match="cannot parse the table"):
        read_table(path, columns=["a", "b"])
    path = write(tmp_path, "wide.csv", "a,b\n1,2\n3,4,5\n")
    with pytest.raises(DataError) as error:
        read_table(path)
    assert error.value.line == 3


def test_table_without_quoting_keeps_stray_quotes(tmp_path):
    path = write(tmp_path, "sts.tsv", 'sentence1\tsentence2\n"Quoted start\tplain\nplain\tend"\n')
    frame = read_table(path, quoting=False)
    assert frame["sentence1"].tolist() == ['"Quoted start', "plain"]
    assert len(frame) == 2


# ---- read_json / read_jsonl ----


def test_json_array_of_objects(tmp_path):
    path = write(tmp_path, "data.json", json.dumps([{"id": "1", "dialogue": "A: hi"}, {"id": "2", "dialogue": "B"}]))
    frame = read_json(path)
    assert frame.columns.tolist() == ["id", "dialogue"]
    assert frame["id"].tolist() == ["1", "2"]


def test_json_key_holds_the_array(tmp_path):
    path = write(tmp_path, "data.json", json.dumps({"train": [["hello", "greeting"]], "val": [["bye", "goodbye"]]}))
    frame = read_json(path, key="val")
    assert frame.values.tolist() == [["bye", "goodbye"]]


def test_json_object_without_key_lists_the_keys(tmp_path):
    path = write(tmp_path, "data.json", json.dumps({"train": [], "val": []}))
    with pytest.raises(DataError, match=r"no key None; the file holds an object with keys \['train', 'val'\]"):
        read_json(path)
    with pytest.raises(DataError, match="no key 'test'"):
        read_json(path, key="test")
    with pytest.raises(DataError, match="non-empty JSON array"):
        read_json(path, key="train")


def test_json_key_for_an_array_file(tmp_path):
    path = write(tmp_path, "data.json", json.dumps([{"a": 1}]))
    with pytest.raises(DataError, match="key='train' was given"):
        read_json(path, key="train")


def test_json_mixed_records(tmp_path):
    path = write(tmp_path, "data.json", json.dumps([{"a": 1}, "oops"]))
    with pytest.raises(DataError, match="record 2 is a str"):
        read_json(path)


def test_json_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, "data.json", '[\n  {"a": 1},\n  {"a": 2,}\n]\n')
    with pytest.raises(DataError, match="invalid JSON") as error:
        read_json(path)
    assert error.value.line == 3
    assert "read_jsonl" in error.value.hint


def test_jsonl_reads_objects_and_skips_blank_lines(tmp_path):
    path = write(tmp_path, "data.jsonl", '{"text": "a", "label": "pos"}\n\n{"text": "b", "label": "neg"}\n')
    frame = read_jsonl(path)
    assert frame.to_dict("list") == {"text": ["a", "b"], "label": ["pos", "neg"]}


def test_jsonl_bad_line_is_named(tmp_path):
    path = write(tmp_path, "data.jsonl", '{"text": "a"}\n{"text": "b"}\n{"text": "c"\n')
    with pytest.raises(DataError, match=r"data\.jsonl:3: invalid JSON") as error:
        read_jsonl(path)
    assert "each line must hold one whole JSON object" in error.value.hint
    with pytest.raises(DataError, match=r"list\.jsonl:2: expected a JSON object, found list"):
        read_jsonl(write(tmp_path, "list.jsonl", '{"text": "a"}\n["b"]\n'))


# ---- read_conll ----

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
-DOCSTART- -X- -X- O

BRUSSELS NNP B-NP B-LOC
"""


def test_conll_sentences(tmp_path):
    frame = read_conll(write(tmp_path, "train.txt", CONLL))
    assert frame.columns.tolist() == ["tokens", "pos_tags", "chunk_tags", "ner_tags"]
    assert frame["tokens"].tolist() == [["EU", "rejects", "German"], ["Peter", "Blackburn"], ["BRUSSELS"]]
    assert frame["ner_tags"].tolist() == [["B-ORG", "O", "B-MISC"], ["B-PER", "I-PER"], ["B-LOC"]]
    assert frame["pos_tags"][0] == ["NNP", "VBZ", "JJ"]
    assert frame["chunk_tags"][1] == ["B-NP", "I-NP"]


def test_conll_wrong_column_count_names_the_line(tmp_path):
    path = write(tmp_path, "train.txt", CONLL.replace("rejects VBZ B-VP O", "rejects VBZ O"))
    with pytest.raises(DataError, match=r"train\.txt:4: expected 4 columns .* found 3") as error:
        read_conll(path)
    assert error.value.line == 4


def test_conll_without_sentences(tmp_path):
    with pytest.raises(DataError, match="no sentences"):
        read_conll(write(tmp_path, "train.txt", "-DOCSTART- -X- -X- O\n\n"))


# ---- read_squad ----


def squad_file(tmp_path, answers):
    data = {
        "version": "2.0",
        "data": [
            {
                "title": "Rivers",
                "paragraphs": [
                    {
                        "context": "The Nile is long.",
                        "qas": [
                            {"id": "q1", "question": "What is long?", "answers": answers},
                            {"id": "q2", "question": "What is short?", "answers": []},
                        ],
                    }
                ],
            }
        ],
    }
    return write(tmp_path, "squad.json", json.dumps(data))


def test_squad_one_row_per_question(tmp_path):
    answers = [{"text": "The Nile", "answer_start": 0}, {"text": "Nile", "answer_start": 4}]
    frame = read_squad(squad_file(tmp_path, answers))
    assert frame.columns.tolist() == ["id", "title", "context", "question", "answers"]
    assert frame["id"].tolist() == ["q1", "q2"]
    assert frame["answers"][0] == {"text": ["The Nile", "Nile"], "answer_start": [0, 4]}
    assert frame["answers"][1] == {"text": [], "answer_start": []}  # unanswerable (SQuAD 2.0)
    assert frame["context"][1] == "The Nile is long."


def test_squad_wrong_layout(tmp_path):
    with pytest.raises(DataError, match="missing key 'answer_start'"):
        read_squad(squad_file(tmp_path, [{"text": "Nile"}]))
    with pytest.raises(DataError, match="missing key 'data'"):
        read_squad(write(tmp_path, "other.json", json.dumps({"items": []})))


# ---- select_columns / validate_texts ----


def test_select_columns_missing():
    with pytest.raises(DataError, match=r"missing column\(s\) \['dialogue'\]"):
        select_columns(pd.DataFrame({"id": ["1"], "text": ["a"]}), ["id", "dialogue"])


@pytest.mark.parametrize("blank", ["", "   ", "\t\n", None])
def test_validate_texts_rejects_empty_and_whitespace(tmp_path, blank):
    frame = pd.DataFrame({"text": ["fine", "also fine", blank], "label": ["a", "b", "c"]})
    with pytest.raises(DataError, match=r"data\.csv:4: empty text in column 'text' at row 3") as error:
        validate_texts(frame, "text", tmp_path / "data.csv", first_line=2)
    assert "remove the rows" in error.value.hint


def test_validate_texts_rows_without_lines_and_token_lists():
    validate_texts(pd.DataFrame({"tokens": [["a"], ["b", "c"]]}), "tokens")
    with pytest.raises(DataError, match="at row 2") as error:
        validate_texts(pd.DataFrame({"tokens": [["a"], []]}), "tokens", "x.json", first_line=None)
    assert error.value.line is None


def test_validate_texts_unknown_column():
    with pytest.raises(DataError, match=r"no column 'text'; the columns are \['sentence'\]"):
        validate_texts(pd.DataFrame({"sentence": ["a"]}), "text")


def test_read_then_validate_names_the_line(tmp_path):
    path = write(tmp_path, "train.txt", "good;joy\n   ;sadness\n")
    with pytest.raises(DataError, match=r"train\.txt:2: empty text"):
        validate_texts(read_text_label(path), "text", path)
