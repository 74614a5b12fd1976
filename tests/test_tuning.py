"""keras-tuner search over distillation's alpha, temperature and epochs, on a tiny model (2 trials)."""

import pytest

from tfnlp.errors import ConfigError
from tfnlp.models.students import student_classifier
from tfnlp.training.tuning import search_and_distill, search_distillation

from .test_distiller import dataset, preprocessor, tiny_teacher  # noqa: F401  (fixture)


def test_two_trial_search_then_retrain(preprocessor, tmp_path):  # noqa: F811
    teacher = tiny_teacher(preprocessor, seed=1, num_layers=1)
    built = []

    def build_student():
        built.append(student_classifier(teacher, layers=(0,)))
        return built[-1]

    student, best, history = search_and_distill(
        build_student, teacher, dataset(), dataset(), tmp_path / "tuning", max_trials=2,
        temperature=(2.0, 20.0), epochs=(1, 2), learning_rate=1e-2,
    )
    assert len(best["trials"]) == 2 and len(built) == 3  # two trials, then the retraining
    assert best["trials"][0]["val_accuracy"] >= best["trials"][1]["val_accuracy"]
    assert 0.0 <= best["alpha"] <= 1.0 and 2.0 <= best["temperature"] <= 20.0 and best["epochs"] in (1, 2)
    assert student is built[-1] and student.backbone.num_layers == 1
    assert len(history.history["val_sparse_categorical_accuracy"]) == best["epochs"]
    assert (tmp_path / "tuning" / "distillation").is_dir()


def test_search_needs_validation_and_sane_ranges(preprocessor, tmp_path):  # noqa: F811
    teacher = tiny_teacher(preprocessor, num_layers=1)
    with pytest.raises(ConfigError, match="validation"):
        search_distillation(lambda: teacher, teacher, dataset(), None, tmp_path)
    with pytest.raises(ConfigError, match="temperature"):
        search_distillation(lambda: teacher, teacher, dataset(), dataset(), tmp_path, temperature=(20, 2))
