"""Training: `fit` with tfnlp's defaults, optimizers and schedules, callbacks."""

from tfnlp.training.callbacks import BestCheckpoint, ShuffleEpoch, StopOnNaN, TrainingError, standard_callbacks
from tfnlp.training.distribute import STRATEGIES, get_strategy, recipe_strategy
from tfnlp.training.distiller import Distiller, with_teacher_logits
from tfnlp.training.fit import count_batches, fit
from tfnlp.training.optimizers import WarmupLinearDecay, adamw
from tfnlp.training.precision import PRECISIONS, set_precision, to_float32
