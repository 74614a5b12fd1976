"""Classical baselines on fixed features: logistic regression and the most frequent class."""

from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

from tfnlp.metrics.classification import classification_metrics


def feature_baselines(train_features, train_labels, eval_sets, max_iter=3000):
    """Fit logistic regression and a most-frequent-class dummy; score both.

    Args:
        train_features, train_labels: the training set.
        eval_sets: split name -> `(features, labels)`.
        max_iter: logistic regression's iteration cap.

    Returns:
        `{"logistic_regression": {split: metrics}, "most_frequent": {split: metrics}}`.
    """
    models = {
        "logistic_regression": LogisticRegression(max_iter=max_iter),
        "most_frequent": DummyClassifier(strategy="most_frequent"),
    }
    results = {}
    for name, model in models.items():
        model.fit(train_features, train_labels)
        results[name] = {
            split: classification_metrics(labels, model.predict(features))
            for split, (features, labels) in eval_sets.items()
        }
    return results
