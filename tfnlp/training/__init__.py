"""Training: `fit` with tfnlp's defaults, optimizers and schedules, callbacks."""

from tfnlp.training.callbacks import BestCheckpoint, StopOnNaN, TrainingError, standard_callbacks
from tfnlp.training.fit import count_batches, fit
from tfnlp.training.optimizers import WarmupLinearDecay, adamw
