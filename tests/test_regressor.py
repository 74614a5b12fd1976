"""Text-pair regression (EncoderRegressor) and the Pearson/Spearman metrics."""

import keras
import numpy as np
import pytest

from tfnlp.data.pipeline import text_dataset
from tfnlp.errors import DataError
from tfnlp.metrics.regression import PearsonR, check_scores, pearson, regression_metrics, spearman
from tfnlp.models.regressor import EncoderRegressor

# The same first sentences with different second ones: the score needs both sides.
FIRST = ["i feel happy", "i feel happy", "the movie was good", "the movie was good", "i hate it", "i hate it"] * 2
SECOND = ["i feel happy", "so sad today", "the movie was good", "it is bad", "i hate it", "i love it"] * 2
SCORES = [5.0, 1.0, 5.0, 1.5, 5.0, 0.0] * 2


def test_correlations_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 6, 50).astype(float)  # many ties, as STS-B's scores
    predictions = labels + rng.normal(0, 1.5, 50)
    assert pearson(labels, predictions) == pytest.approx(stats.pearsonr(labels, predictions)[0], abs=1e-12)
    assert spearman(labels, predictions) == pytest.approx(stats.spearmanr(labels, predictions)[0], abs=1e-12)


def test_hand_computed_values():
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # ranks (1, 2, 3, 4) vs (1, 2.5, 2.5, 4): r = 4.5 / sqrt(5 * 4.5)
    assert spearman([1, 2, 3, 4], [10, 20, 20, 30]) == pytest.approx(4.5 / np.sqrt(22.5))
    assert regression_metrics([0.0, 1.0], [1.0, 3.0])["mse"] == pytest.approx(2.5)


def test_streaming_pearson_is_exact_over_batches():
    rng = np.random.default_rng(1)
    labels, predictions = rng.normal(size=30), rng.normal(size=30)
    metric = PearsonR()
    for start in (0, 7, 20):  # uneven batches
        stop = {0: 7, 7: 20, 20: 30}[start]
        metric.update_state(labels[start:stop], predictions[start:stop])
    assert float(metric.result()) == pytest.approx(pearson(labels, predictions), abs=1e-9)


def test_bad_scores_are_clear_errors():
    with pytest.raises(DataError, match=r"train.tsv:3: the score '6.5' at row 2 is not a number from 0 to 5"):
        check_scores(["1.0", "6.5", "2"], (0, 5), "train.tsv", first_line=2)
    with pytest.raises(DataError, match="'n/a' at row 1 is not a number"):
        check_scores(["n/a"], None)
    with pytest.raises(DataError, match=r"predictions\[1\] is nan"):
        pearson([1, 2, 3], [1, float("nan"), 3])
    with pytest.raises(DataError, match="all predictions are equal"):
        spearman([1, 2, 3], [2, 2, 2])


@pytest.fixture(scope="module")
def trained(trainable_bert_dir):
    keras.utils.set_random_seed(0)
    regressor = EncoderRegressor.from_preset(trainable_bert_dir, sequence_length=16, dropout=0.0)
    regressor.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = regressor.fit(text_dataset((FIRST, SECOND), SCORES, batch_size=6), epochs=20, verbose=0)
    return regressor, history


def test_regressor_trains_on_pairs(trained):
    regressor, history = trained
    losses = history.history["loss"]
    assert losses[-1] < 0.3 * losses[0], losses
    predictions = regressor.predict_scores(FIRST, SECOND, batch_size=4)
    assert predictions.shape == (len(FIRST),)
    assert pearson(SCORES, predictions) > 0.9
    labelled = text_dataset((FIRST, SECOND), SCORES, batch_size=4)
    assert regressor.evaluate(labelled, verbose=0, return_dict=True)["pearson"] == pytest.approx(
        pearson(SCORES, predictions), abs=1e-4
    )


def test_regressor_save_and_reload(trained, tmp_path):
    regressor, _ = trained
    regressor.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    assert isinstance(restored, EncoderRegressor) and restored.text_pairs
    assert restored.preprocessor.truncate == "longest_first"
    np.testing.assert_allclose(
        restored.predict_scores(FIRST[:4], SECOND[:4]), regressor.predict_scores(FIRST[:4], SECOND[:4]), atol=1e-5
    )
