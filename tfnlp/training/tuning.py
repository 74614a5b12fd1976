"""Search distillation's alpha, temperature and epochs with keras-tuner, then retrain with the best.

Each trial builds a fresh student, distils it from the (fixed) teacher with
`tfnlp.training.fit` for the trial's number of epochs, and scores the student's
validation accuracy after the last epoch, the model that retraining with the
same values gives. The search is Bayesian optimisation (a Gaussian process over
the three values), as the chapter's Optuna search is a sequential model-based one.
"""

import gc

import keras_tuner

from tfnlp.errors import ConfigError
from tfnlp.training.distiller import Distiller
from tfnlp.training.fit import fit

OBJECTIVE = "val_sparse_categorical_accuracy"


class _DistillationTuner(keras_tuner.BayesianOptimization):
    """Trials that train through `tfnlp.training.fit` instead of a hypermodel's `fit`."""

    def __init__(self, build_student, teacher, ranges, fit_options, **kwargs):
        super().__init__(objective=keras_tuner.Objective(OBJECTIVE, "max"), **kwargs)
        self.build_student, self.teacher = build_student, teacher
        self.ranges, self.fit_options = ranges, fit_options

    def run_trial(self, trial, train_data, validation_data):
        values = _hyperparameters(trial.hyperparameters, self.ranges)
        history = distill(self.build_student, self.teacher, train_data, validation_data, **values,
                          **self.fit_options)[1]
        gc.collect()  # the trial's student and its traced steps
        return {OBJECTIVE: history.history[OBJECTIVE][-1]}


def _hyperparameters(hp, ranges):
    return {
        "alpha": hp.Float("alpha", *ranges["alpha"]),
        "temperature": hp.Float("temperature", *ranges["temperature"]),
        "epochs": hp.Int("epochs", *ranges["epochs"]),
    }


def distill(build_student, teacher, train_data, validation_data=None, *, alpha, temperature, epochs,
            hidden_weight=0.0, **fit_options):
    """Distil a fresh `build_student()` from `teacher`; returns `(student, history)`.

    Args:
        build_student: a function returning a new student model.
        teacher: the trained teacher (not updated).
        train_data, validation_data: batched datasets of `(texts, labels)`.
        alpha, temperature, hidden_weight: see `Distiller` (a search keeps
            `hidden_weight` fixed).
        epochs: passes over `train_data`.
        **fit_options: more `tfnlp.training.fit` arguments (learning rate,
            run folder, callbacks...).

    Example:
    >>> student, history = distill(lambda: student_classifier(teacher), teacher, train, val,
    ...     alpha=0.3, temperature=7.0, epochs=5, learning_rate=1e-4)  # doctest: +SKIP
    """
    student = build_student()
    distiller = Distiller(student, teacher, alpha=alpha, temperature=temperature, hidden_weight=hidden_weight)
    history = fit(distiller, train_data, validation_data, epochs=epochs, **fit_options)
    return student, history


def search_distillation(build_student, teacher, train_data, validation_data, directory, *, max_trials=10,
                        alpha=(0.0, 1.0), temperature=(2.0, 20.0), epochs=(1, 5), seed=42, **fit_options):
    """Find the alpha, temperature and epochs that maximise the distilled student's validation accuracy.

    Finished trials are kept in `directory`, so calling again with the same
    folder continues the search instead of repeating it.

    Args:
        build_student: a function returning a new student model.
        teacher: the trained teacher.
        train_data, validation_data: batched datasets of `(texts, labels)`.
        directory: where keras-tuner keeps its trials.
        max_trials: models trained in the search.
        alpha, temperature, epochs: `(low, high)` ranges searched.
        seed: makes the search repeatable.
        **fit_options: more `tfnlp.training.fit` arguments (e.g. `learning_rate`).

    Returns:
        `{"alpha", "temperature", "epochs", "val_accuracy", "trials": [...]}`, the
        trials best first, each with its values and validation accuracy.

    Example:
    >>> best = search_distillation(lambda: student_classifier(teacher), teacher, train, val,
    ...     "run/tuning", max_trials=10, learning_rate=1e-4)  # doctest: +SKIP
    >>> student, _ = distill(lambda: student_classifier(teacher), teacher, train, val,
    ...     **{key: best[key] for key in ("alpha", "temperature", "epochs")})  # doctest: +SKIP
    """
    if validation_data is None:
        raise ConfigError("search_distillation needs validation data: the search maximises validation accuracy.")
    for name, (low, high) in {"alpha": alpha, "temperature": temperature, "epochs": epochs}.items():
        if low > high:
            raise ConfigError(f"{name}=({low}, {high}): the low end must not exceed the high end.")
    tuner = _DistillationTuner(
        build_student, teacher, {"alpha": alpha, "temperature": temperature, "epochs": epochs}, fit_options,
        max_trials=max_trials, seed=seed, directory=str(directory), project_name="distillation",
    )
    tuner.search(train_data, validation_data)
    trials = [
        {**trial.hyperparameters.values, "val_accuracy": float(trial.score)}
        for trial in tuner.oracle.get_best_trials(num_trials=max_trials)
    ]
    if not trials:
        raise ConfigError(f"No search trial finished in {directory}; see the errors logged above.")
    return {**trials[0], "trials": trials}


def search_and_distill(build_student, teacher, train_data, validation_data, directory, *, max_trials=10,
                       alpha=(0.0, 1.0), temperature=(2.0, 20.0), epochs=(1, 5), seed=42, run_dir=None,
                       **fit_options):
    """`search_distillation`, then retrain a fresh student with the best values; returns `(student, best, history)`.

    `run_dir` (logs, best checkpoint) is used by the final retraining only.
    """
    best = search_distillation(build_student, teacher, train_data, validation_data, directory,
                               max_trials=max_trials, alpha=alpha, temperature=temperature, epochs=epochs,
                               seed=seed, **fit_options)
    values = {key: best[key] for key in ("alpha", "temperature", "epochs")}
    student, history = distill(build_student, teacher, train_data, validation_data, run_dir=run_dir,
                               **values, **fit_options)
    return student, best, history
