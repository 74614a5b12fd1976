"""Classification metrics and error analysis."""

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score


def classification_metrics(labels, predictions):
    """Accuracy and weighted F1, as plain floats.

    Example:
    >>> classification_metrics([0, 1, 1], [0, 1, 0])["accuracy"]
    0.6666666666666666
    """
    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "f1_weighted": float(f1_score(labels, predictions, average="weighted")),
    }


def binary_metrics(labels, predictions):
    """Accuracy, precision, recall and F1 of the positive class (label 1), as plain floats.

    Example:
    >>> binary_metrics([0, 1, 1, 0], [0, 1, 0, 1])["precision"]
    0.5
    """
    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "precision": float(precision_score(labels, predictions, zero_division=0)),
        "recall": float(recall_score(labels, predictions, zero_division=0)),
        "f1": float(f1_score(labels, predictions, zero_division=0)),
    }


def prediction_agreement(labels, reference, candidate, threshold=0.5):
    """How a second runtime (e.g. ONNX int8) compares with the reference (Keras) on P(positive).

    Returns:
        `{"accuracy"` of the candidate, `"reference_accuracy"`, `"agreement"`
        (share of equal decisions), `"max_abs_difference"` of the probabilities,
        `"examples"}`.

    Example:
    >>> prediction_agreement([1, 0], [0.9, 0.4], [0.8, 0.6])["agreement"]
    0.5
    """
    labels, reference, candidate = (np.asarray(values).reshape(-1) for values in (labels, reference, candidate))
    return {
        "accuracy": float(accuracy_score(labels, candidate >= threshold)),
        "reference_accuracy": float(accuracy_score(labels, reference >= threshold)),
        "agreement": float(np.mean((reference >= threshold) == (candidate >= threshold))),
        "max_abs_difference": float(np.max(np.abs(reference - candidate))),
        "examples": int(len(labels)),
    }


def normalized_confusion_matrix(labels, predictions, num_classes):
    """Confusion matrix whose rows (true labels) sum to 1."""
    return confusion_matrix(labels, predictions, labels=range(num_classes), normalize="true")


def per_example_loss(probabilities, labels):
    """Cross-entropy of each example's true label."""
    probabilities = np.asarray(probabilities)
    true = probabilities[np.arange(len(labels)), np.asarray(labels)]
    return -np.log(np.clip(true, 1e-12, 1.0))


def error_analysis(texts, labels, probabilities, label_names, n=10):
    """The `n` highest- and lowest-loss examples, as in the chapter's error analysis.

    Returns:
        `(highest, lowest)`: two DataFrames with columns `text`, `label`,
        `predicted`, `loss`, sorted by loss.
    """
    probabilities = np.asarray(probabilities)
    frame = pd.DataFrame(
        {
            "text": list(texts),
            "label": [label_names[i] for i in labels],
            "predicted": [label_names[i] for i in probabilities.argmax(axis=1)],
            "loss": per_example_loss(probabilities, labels),
        }
    ).sort_values("loss", ascending=False)
    return frame.head(n).reset_index(drop=True), frame.tail(n).iloc[::-1].reset_index(drop=True)
