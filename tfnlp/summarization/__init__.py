"""Summarization: baselines and their evaluation with ROUGE."""

from tfnlp.summarization.baselines import lead_3
from tfnlp.summarization.evaluate import evaluate_summaries
