"""Metrics: classification (more tasks add theirs here)."""

from tfnlp.metrics.classification import (
    classification_metrics,
    error_analysis,
    normalized_confusion_matrix,
    per_example_loss,
)
from tfnlp.metrics.bleu import bleu
from tfnlp.metrics.rouge import ROUGE_TYPES, rouge
from tfnlp.metrics.sentences import split_sentences
