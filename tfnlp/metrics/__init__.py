"""Metrics: classification, regression correlation, entity F1, SQuAD EM/F1, BLEU, ROUGE.

The pure-Python metrics load here; the classification and regression ones (which
need TensorFlow) on first use, so that the ONNX Runtime pipelines, which use
entities and SQuAD scores, load without TensorFlow.
"""

import importlib

from tfnlp.metrics.bleu import bleu
from tfnlp.metrics.entities import entity_metrics, entity_spans, entity_table
from tfnlp.metrics.rouge import ROUGE_TYPES, rouge
from tfnlp.metrics.sentences import split_sentences
from tfnlp.metrics.squad import exact_match, f1, squad_scores

_NEEDS_TENSORFLOW = {
    "classification_metrics": "classification",
    "error_analysis": "classification",
    "normalized_confusion_matrix": "classification",
    "per_example_loss": "classification",
    "pearson": "regression",
    "regression_metrics": "regression",
    "spearman": "regression",
}
__all__ = sorted(["ROUGE_TYPES", "bleu", "entity_metrics", "entity_spans", "entity_table", "exact_match", "f1",
                  "rouge", "split_sentences", "squad_scores", *_NEEDS_TENSORFLOW])


def __getattr__(name):
    if name not in _NEEDS_TENSORFLOW:
        raise AttributeError(f"module 'tfnlp.metrics' has no attribute {name!r}")
    return getattr(importlib.import_module(f"tfnlp.metrics.{_NEEDS_TENSORFLOW[name]}"), name)
