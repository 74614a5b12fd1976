"""Text classification and word tagging with ONNX Runtime: fast tokenizer outside the graph, model inside.

Needs neither TensorFlow nor tensorflow-text at serving time.
"""

import json
import os

import numpy as np
import onnxruntime
from tokenizers import Tokenizer

from tfnlp.errors import ConfigError, DataError
from tfnlp.serving.fast_tokenizer import load_fast_tokenizer
from tfnlp.serving.results import classification_results, softmax
from tfnlp.serving.tagging import WordTagging

# ONNX input name -> the `tokenizers.Encoding` field that feeds it.
_ENCODING_FIELDS = {"token_ids": "ids", "padding_mask": "attention_mask", "segment_ids": "type_ids"}
_NUMPY_TYPES = {"tensor(int32)": np.int32, "tensor(int64)": np.int64, "tensor(bool)": np.bool_}
# The ONNX metadata key under which `export_onnx` stores a classifier's label names.
LABEL_NAMES_KEY = "tfnlp.label_names"


class _OnnxEncoderPipeline:
    """An ONNX Runtime session on an exported encoder task, its fast tokenizer and its label names."""

    _has_labels = True

    def __init__(self, onnx_path, tokenizer=None, label_names=None, max_length=None, intra_op_num_threads=None):
        self.onnx_path = os.fspath(onnx_path)
        if not os.path.isfile(self.onnx_path):
            raise DataError(
                "No ONNX model here.",
                path=self.onnx_path,
                hint="export one with `tfnlp.export.onnx.export_onnx(model, path)`.",
            )
        self.session = _inference_session(self.onnx_path, intra_op_num_threads)
        folder = os.path.dirname(self.onnx_path)
        settings = exported_settings(folder)
        self.max_length = settings.get("max_length", 128) if max_length is None else max_length
        if not isinstance(tokenizer, Tokenizer):
            tokenizer = load_fast_tokenizer(folder if tokenizer is None else tokenizer, self.max_length)
        truncate = settings.get("truncate")
        if truncate and tokenizer.truncation:  # how the model's packer cut pairs
            tokenizer.enable_truncation(self.max_length, strategy=truncate)
        self.tokenizer = tokenizer
        self._input_types = self._check_inputs()
        if self._has_labels:
            self.label_names = list(label_names) if label_names is not None else self._stored_label_names()
            self._check_num_labels()

    def size_mb(self):
        """The ONNX file's size in MiB (for benchmarks)."""
        return os.path.getsize(self.onnx_path) / (1024 * 1024)

    def _logits(self, texts):
        """The model's first output for a batch of texts (or of `(text, text_pair)` tuples)."""
        encodings = self.tokenizer.encode_batch(texts)
        if len({len(encoding.ids) for encoding in encodings}) > 1:
            raise ConfigError(
                "The tokenizer gave sequences of different lengths in one batch: call "
                "`tokenizer.enable_padding()` (or pass a path to get `load_fast_tokenizer`'s settings)."
            )
        feed = {
            name: np.array([getattr(encoding, _ENCODING_FIELDS[name]) for encoding in encodings], dtype=dtype)
            for name, dtype in self._input_types.items()
        }
        return self.session.run(None, feed)[0]

    def _stored_label_names(self):
        stored = self.session.get_modelmeta().custom_metadata_map.get(LABEL_NAMES_KEY)
        if stored is None:
            raise ConfigError(
                f"{self.onnx_path} does not store its label names: pass `label_names=[...]` "
                "in the order the model was trained with."
            )
        return json.loads(stored)

    def _check_inputs(self):
        """`{input name: numpy dtype}`; fails early on inputs a tokenizer cannot feed."""
        inputs = {spec.name: spec.type for spec in self.session.get_inputs()}
        unknown = sorted(set(inputs) - set(_ENCODING_FIELDS))
        if unknown:
            raise ConfigError(
                f"{self.onnx_path} has inputs {unknown} that a tokenizer cannot feed; this pipeline feeds "
                f"{sorted(_ENCODING_FIELDS)}. Export a model with those inputs (e.g. a keras-hub encoder)."
            )
        wrong_types = {name: kind for name, kind in inputs.items() if kind not in _NUMPY_TYPES}
        if wrong_types:
            raise ConfigError(
                f"{self.onnx_path}: token inputs must be int32, int64 or bool, got {wrong_types}."
            )
        return {name: _NUMPY_TYPES[onnx_type] for name, onnx_type in inputs.items()}

    def _check_num_labels(self):
        num_outputs = self.session.get_outputs()[0].shape[-1]
        if isinstance(num_outputs, int) and num_outputs != len(self.label_names):
            raise ConfigError(
                f"{self.onnx_path} gives {num_outputs} scores per text (or token) but {len(self.label_names)} label "
                f"names were given ({self.label_names}): pass those the model was trained with."
            )



class OnnxTextClassificationPipeline(_OnnxEncoderPipeline):
    """Classify raw strings with an ONNX classifier; same results as the Keras pipelines.

    Args:
        onnx_path: a model written by `export_onnx` (or `quantize_dynamic_int8`).
        tokenizer: a `tokenizers.Tokenizer`, used as configured, or a
            `vocab.txt` / `tokenizer.json` / folder for `load_fast_tokenizer`,
            which gives the ids of keras-hub's BERT preprocessing; `None`: the
            ONNX file's folder (where `export_run_models` writes `vocab.txt`).
        label_names: the class names in label-id order; `None` reads those
            `export_onnx` stored in the model.
        max_length: the most tokens per text when `tokenizer` is a path; `None`:
            the `max_length` of the `tokenizer_config.json` beside the ONNX
            file, else 128.
        intra_op_num_threads: threads for one operator; `None` lets ONNX
            Runtime choose (all physical cores).

    Example:
    >>> pipeline = OnnxTextClassificationPipeline("run/onnx/model.int8.onnx")  # doctest: +SKIP
    >>> pipeline("i feel great")  # doctest: +SKIP
    [{'label': 'joy', 'score': 0.97}]
    """

    def __call__(self, text_or_texts, top_k=1, batch_size=32):
        """`pipeline("text")` -> `[{"label", "score"}]`; a list gives one result per text.

        Args:
            text_or_texts: a string or a list of strings.
            top_k: labels per text, best first; `None` for all.
            batch_size: texts per model call (each padded to its longest text).
        """
        single = isinstance(text_or_texts, str)
        probabilities = self.predict_proba(text_or_texts, batch_size)
        if not len(probabilities):
            return []
        return classification_results(probabilities, self.label_names, top_k=top_k, single=single)

    def predict_proba(self, text_or_texts, batch_size=32):
        """Class probabilities, shape `(len(texts), num_labels)`, in input order."""
        texts = [text_or_texts] if isinstance(text_or_texts, str) else list(text_or_texts)
        bad = [text for text in texts if not isinstance(text, str)]
        if bad:
            raise TypeError(f"The pipeline classifies strings; got {type(bad[0]).__name__}: {bad[0]!r}.")
        if not texts:
            return np.zeros((0, len(self.label_names)), dtype=np.float32)
        batches = [texts[start : start + batch_size] for start in range(0, len(texts), batch_size)]
        return np.concatenate([softmax(self._logits(batch)) for batch in batches])



def _inference_session(path, intra_op_num_threads=None):
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    if intra_op_num_threads is not None:
        options.intra_op_num_threads = intra_op_num_threads
    try:
        return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    except Exception as error:  # a truncated or foreign file
        raise DataError(f"ONNX Runtime cannot load this model ({type(error).__name__}: {str(error)[:300]}).",
                        path=path, hint="export it again with `tfnlp.export.onnx.export_onnx`.") from error


class OnnxTokenClassificationPipeline(WordTagging, _OnnxEncoderPipeline):
    """Tag words with an ONNX token classifier; the results of the Keras `TokenClassificationPipeline`.

    Words are split into word pieces by the fast tokenizer one by one, as the
    Keras preprocessor does; the tag of a word is read at its first piece, and a
    word left without a piece by `max_length` is tagged "O".

    Args: as `OnnxTextClassificationPipeline`; `max_length` is the tagger's
    `sequence_length` (read from the export's `tokenizer_config.json` if `None`).

    Example:
    >>> tagger = OnnxTokenClassificationPipeline("run/onnx/model.int8.onnx")  # doctest: +SKIP
    >>> tagger.tag([["EU", "rejects", "German", "call"]])  # doctest: +SKIP
    [['B-ORG', 'O', 'B-MISC', 'O']]
    >>> tagger("John Smith lives in Paris")  # doctest: +SKIP
    [{'entity_group': 'PER', 'word': 'John Smith', 'start': 0, 'end': 10, 'score': 0.99}, ...]
    """

    def _batch_word_probabilities(self, sentences):
        pieces = self._word_pieces([word for words in sentences for word in words])
        budget = self.max_length - 2  # room left by [CLS] and [SEP]
        rows, positions, first = [], np.full((len(sentences), max(map(len, sentences), default=0)), -1), 0
        for row, words in enumerate(sentences):
            sentence_pieces = pieces[first : first + len(words)]
            first += len(words)
            starts = 1 + np.cumsum([0] + [len(word) for word in sentence_pieces[:-1]], dtype=np.int64)
            for index, (start, word) in enumerate(zip(starts, sentence_pieces)):
                if word and start <= budget:
                    positions[row, index] = start
            rows.append([self._cls] + [piece for word in sentence_pieces for piece in word][:budget] + [self._sep])
        probabilities = softmax(self.session.run(None, self._feed(rows))[0])
        gathered = np.take_along_axis(probabilities, np.maximum(positions, 0)[..., None], axis=1)
        outside = np.eye(len(self.label_names), dtype=gathered.dtype)[self._outside_id]
        return np.where((positions >= 0)[..., None], gathered, outside)

    def _word_pieces(self, words):
        encodings = self.tokenizer.encode_batch(words, add_special_tokens=False) if words else []
        return [[i for i, keep in zip(e.ids, e.attention_mask) if keep] for e in encodings]

    def _feed(self, rows):
        longest = max(map(len, rows))
        token_ids = np.array([row + [self._pad] * (longest - len(row)) for row in rows])
        columns = {"token_ids": token_ids, "padding_mask": token_ids != self._pad,
                   "segment_ids": np.zeros_like(token_ids)}
        return {name: columns[name].astype(dtype) for name, dtype in self._input_types.items()}

    @property
    def _cls(self):
        return self.tokenizer.token_to_id("[CLS]")

    @property
    def _sep(self):
        return self.tokenizer.token_to_id("[SEP]")

    @property
    def _pad(self):
        return self.tokenizer.token_to_id("[PAD]")

    @property
    def _outside_id(self):
        return self.label_names.index("O") if "O" in self.label_names else 0


class OnnxTextRegressionPipeline(_OnnxEncoderPipeline):
    """Score texts or text pairs with an ONNX regressor (`EncoderRegressor`); the scores `predict_scores` gives.

    Pairs are packed `[CLS] a [SEP] b [SEP]` and cut as the model's own
    preprocessor cuts them (the `truncate` of the export's
    `tokenizer_config.json`, else longest first).

    Args: as `OnnxTextClassificationPipeline`, without `label_names`.

    Example:
    >>> scorer = OnnxTextRegressionPipeline("run/onnx/model.int8.onnx")  # doctest: +SKIP
    >>> scorer.predict_scores(["A man plays a guitar."], ["A person plays music."])  # doctest: +SKIP
    array([3.9], dtype=float32)
    """

    _has_labels = False

    def predict_scores(self, texts, text_pairs=None, batch_size=64):
        """One score per text (or pair), in input order."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        inputs = texts
        if text_pairs is not None:
            text_pairs = [text_pairs] if isinstance(text_pairs, str) else list(text_pairs)
            if len(text_pairs) != len(texts):
                raise DataError(f"{len(texts)} texts but {len(text_pairs)} text pairs")
            inputs = list(zip(texts, text_pairs))
        bad = [text for pair in inputs for text in (pair if isinstance(pair, tuple) else (pair,))
               if not isinstance(text, str)]
        if bad:
            raise TypeError(f"The pipeline scores strings; got {type(bad[0]).__name__}: {bad[0]!r}.")
        batches = [inputs[start : start + batch_size] for start in range(0, len(inputs), batch_size)]
        return np.concatenate([self._logits(batch).reshape(-1) for batch in batches] or [np.zeros(0, np.float32)])


def exported_settings(folder):
    """The `tokenizer_config.json` that `export_run_models` writes beside an ONNX file, or `{}`."""
    path = os.path.join(folder, "tokenizer_config.json")
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as file:
        return json.load(file)
