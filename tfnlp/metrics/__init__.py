"""Metrics: classification, regression correlation, entity F1, SQuAD EM/F1, BLEU, ROUGE."""

from tfnlp.metrics.bleu import bleu
from tfnlp.metrics.classification import (
    classification_metrics,
    error_analysis,
    normalized_confusion_matrix,
    per_example_loss,
)
from tfnlp.metrics.entities import entity_metrics, entity_spans, entity_table
from tfnlp.metrics.regression import pearson, regression_metrics, spearman
from tfnlp.metrics.rouge import ROUGE_TYPES, rouge
from tfnlp.metrics.sentences import split_sentences
from tfnlp.metrics.squad import exact_match, f1, squad_scores
