"""Word-level vectorization outside TensorFlow, and ONNX Runtime serving of word models (the GloVe BiLSTM).

String ops cannot go into an ONNX graph, so the BiLSTM's token-id part is exported
and texts are vectorized here with the model's vocabulary: the same standardization
(`STANDARDIZATION`, also used by `tfnlp.models.bilstm.standardize_review` in the
graph), whitespace split, lookup and truncation give the ids of the Keras model.
Needs neither TensorFlow nor tensorflow-text.
"""

import os

import numpy as np
from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers

from tfnlp.errors import ConfigError, DataError
from tfnlp.serving.results import classification_results

# (regex, replacement) applied in order after lower-casing. HTML line breaks (IMDb
# keeps `<br />`) become spaces; apostrophes are dropped ("don't" -> "dont");
# other punctuation and symbols split words; every kind of white space is one space,
# so TensorFlow's ASCII split and Rust's Unicode split agree.
LINE_BREAKS = (r"<br\s*/?>", " ")
STANDARDIZATION = (
    (r"['\x{2019}]", ""),
    (r"[\p{P}\p{S}]", " "),
    (r"[\s\v\p{Z}\p{Cc}]+", " "),
)
PAD_TOKEN, OOV_TOKEN = "", "[UNK]"  # TextVectorization's ids 0 and 1
KEEP = ("first", "last")


def word_tokenizer(vocabulary, sequence_length=150, keep="first"):
    """A `tokenizers.Tokenizer` giving the token ids of a `tfnlp.models.bilstm` vectorizer.

    `encode_batch` pads a batch with id 0 to its longest text.

    Args:
        vocabulary: the vectorizer's words in id order (`""` and `"[UNK]"`
            first), or a text file with one word per line.
        sequence_length: the most tokens kept per text.
        keep: `"first"` or `"last"`: which tokens a long text keeps.

    Example:
    >>> tokenizer = word_tokenizer(["", "[UNK]", "great", "movie"])
    >>> tokenizer.encode("Great movie!<br />Really.").ids
    [2, 3, 1]
    """
    words = _read_vocabulary(vocabulary)
    if words[:2] != [PAD_TOKEN, OOV_TOKEN]:
        raise ConfigError(
            f"The vocabulary must start with the padding and unknown tokens ['', '[UNK]'] as "
            f"TextVectorization's does; it starts with {words[:2]}."
        )
    if keep not in KEEP:
        raise ConfigError(f"keep={keep!r} is not one of {KEEP}.")
    ids = {word: index for index, word in enumerate(words) if index > 0}
    ids["[PAD]"] = 0  # a name for id 0: `tokenizers` needs a non-empty padding token
    tokenizer = Tokenizer(models.WordLevel(ids, unk_token=OOV_TOKEN))
    steps = [LINE_BREAKS, *STANDARDIZATION]
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.Replace(Regex(steps[0][0]), steps[0][1]), normalizers.Lowercase()]
        + [normalizers.Replace(Regex(pattern), replacement) for pattern, replacement in steps[1:]]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.enable_truncation(sequence_length, direction="right" if keep == "first" else "left")
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer


class OnnxWordPipeline:
    """Classify raw strings with an exported word model (sigmoid output) on ONNX Runtime.

    Args:
        onnx_path: the token-id model written by `tfnlp.models.bilstm.export_bilstm_onnx`
            (or its int8 version).
        vocabulary, sequence_length, keep: as the Keras model's vectorizer
            (see `word_tokenizer`).
        label_names: the negative and positive class names.

    Example:
    >>> pipeline = OnnxWordPipeline("run/onnx/model.int8.onnx", "run/onnx/vocabulary.txt")  # doctest: +SKIP
    >>> pipeline("A wonderful film.")  # doctest: +SKIP
    [{'label': 'pos', 'score': 0.93}]
    """

    def __init__(self, onnx_path, vocabulary, sequence_length=150, keep="first", label_names=("neg", "pos")):
        from tfnlp.serving.onnx_pipeline import _inference_session

        self.onnx_path = os.fspath(onnx_path)
        if not os.path.isfile(self.onnx_path):
            raise DataError("No ONNX model here.", path=self.onnx_path,
                            hint="export one with `tfnlp.models.bilstm.export_bilstm_onnx(model, path)`.")
        self.session = _inference_session(self.onnx_path)
        self.input_name = self.session.get_inputs()[0].name
        self.tokenizer = word_tokenizer(vocabulary, sequence_length, keep)
        self.label_names = list(label_names)

    def positive_probability(self, texts, batch_size=64):
        """P(positive) per text, in input order."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        return np.concatenate(
            [self._batch(texts[start : start + batch_size]) for start in range(0, len(texts), batch_size)]
        )

    def __call__(self, texts, top_k=1):
        """`pipeline("text")` -> `[{"label", "score"}]`; a list gives one result per text."""
        positive = self.positive_probability(texts)
        probabilities = np.stack([1.0 - positive, positive], axis=1)
        return classification_results(probabilities, self.label_names, top_k, single=isinstance(texts, str))

    def _batch(self, texts):
        ids = np.array([encoding.ids for encoding in self.tokenizer.encode_batch(texts)], dtype=np.int64)
        return self.session.run(None, {self.input_name: ids})[0].reshape(-1)


def _read_vocabulary(vocabulary):
    if isinstance(vocabulary, (str, os.PathLike)):
        if not os.path.isfile(vocabulary):
            raise DataError("vocabulary file not found", path=vocabulary,
                            hint="pass the vocabulary.txt written beside the ONNX model")
        with open(vocabulary, encoding="utf-8") as file:
            return file.read().split("\n")[:-1]  # one word per line; the first is ""
    return [str(word) for word in vocabulary]
