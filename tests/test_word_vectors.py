"""GloVe readers (text, .npy + vocabulary, offline preset) and embedding matrices with their OOV report."""

import numpy as np
import pytest

from tfnlp.errors import DataError
from tfnlp.models.word_vectors import (
    WordVectors,
    embedding_matrix,
    load_word_vectors,
    read_glove_text,
)

WORDS = ["the", "movie", "good", "café"]
VECTORS = np.arange(12, dtype="float32").reshape(4, 3) / 4


def write_glove(path, words=WORDS, vectors=VECTORS, header=False):
    lines = [f"{len(words)} {vectors.shape[1]}"] if header else []
    lines += [" ".join([word, *(f"{value:g}" for value in row)]) for word, row in zip(words, vectors)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("header", [False, True])
def test_text_format_reads_words_and_vectors(tmp_path, header):
    vectors = load_word_vectors(write_glove(tmp_path / "glove.txt", header=header))
    assert vectors.words == WORDS and vectors.dim == 3
    np.testing.assert_array_equal(vectors.vectors, VECTORS)
    np.testing.assert_array_equal(vectors["café"], VECTORS[3])
    assert read_glove_text(tmp_path / "glove.txt", max_words=2).words == WORDS[:2]


def test_npy_with_list_text_and_parquet_vocabularies(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    np.save(tmp_path / "vectors.npy", VECTORS)
    (tmp_path / "words.txt").write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    pq.write_table(pa.table({"index": WORDS}), tmp_path / "words.parquet")
    for vocabulary in (WORDS, tmp_path / "words.txt", tmp_path / "words.parquet"):
        vectors = load_word_vectors(tmp_path / "vectors.npy", vocabulary=vocabulary)
        assert vectors.words == WORDS
        np.testing.assert_array_equal(vectors["good"], VECTORS[2])


def test_offline_preset_reads_real_glove_rows():
    vectors = load_word_vectors("glove-6b-50d")
    assert len(vectors) == 400_000 and vectors.dim == 50
    assert vectors.words[:4] == ["the", ",", ".", "of"]
    # The first numbers of `the` and `movie` in glove.6B.50d.txt.
    np.testing.assert_allclose(vectors["the"][:3], [0.418, 0.24968, -0.41242], atol=1e-6)
    assert "movie" in vectors and "zzzqqxx" not in vectors


def test_embedding_matrix_zero_rows_and_oov_report():
    vectors = WordVectors(WORDS, VECTORS)
    vocabulary = ["", "[UNK]", "movie", "awesomesauce", "the", "qwxz"]
    matrix, report = embedding_matrix(vectors, vocabulary)
    assert matrix.shape == (6, 3) and matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix[2], VECTORS[1])
    np.testing.assert_array_equal(matrix[4], VECTORS[0])
    assert not matrix[[0, 1, 3, 5]].any()
    assert report.missing == ["awesomesauce", "qwxz"]  # reserved tokens are not "missing"
    assert report.found == 2 and report.coverage == 0.5
    assert report.as_dict(examples=1) == {
        "vocabulary_size": 6, "found": 2, "missing": 2, "coverage": 0.5, "missing_examples": ["awesomesauce"],
    }


@pytest.mark.parametrize(
    "content, line, message",
    [
        ("the 0.1 0.2\nmovie 0.3\n", 2, "2 columns where line 1 has 3"),
        ("the 0.1 0.2\nmovie 0.3 0.4 0.5\n", 2, "4 columns"),
        ("the 0.1 0.2\nmovie 0.3 abc\n", 2, "column 3 is 'abc'"),
        ("2 2\nthe 0.1 0.2\nmovie x 0.4\n", 3, "column 2 is 'x'"),
        ("the\n", 1, "a word and no numbers"),
    ],
)
def test_malformed_text_lines_say_where(tmp_path, content, line, message):
    path = tmp_path / "bad.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message) as error:
        load_word_vectors(path)
    assert error.value.line == line and error.value.path == path


def test_bad_files_and_vocabularies(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("the 0.1\ncaf\xe9 0.2\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8") as error:
        load_word_vectors(path)
    assert error.value.line == 2
    with pytest.raises(DataError, match="not found"):
        load_word_vectors(tmp_path / "missing.txt")
    with pytest.raises(DataError, match="no word vectors"):
        load_word_vectors("minilm-l6")
    np.save(tmp_path / "vectors.npy", VECTORS)
    with pytest.raises(DataError, match="needs its vocabulary"):
        load_word_vectors(tmp_path / "vectors.npy")
    with pytest.raises(DataError, match="4 vectors but 3 words"):
        load_word_vectors(tmp_path / "vectors.npy", vocabulary=WORDS[:3])
    np.save(tmp_path / "flat.npy", VECTORS.ravel())
    with pytest.raises(DataError, match="2-D float matrix"):
        load_word_vectors(tmp_path / "flat.npy", vocabulary=WORDS)
