"""The one result format shared by every text-classification pipeline (Keras, SavedModel, ONNX).

It is the familiar shape of the Hugging Face pipelines:
`pipeline("i feel great")` -> `[{"label": "joy", "score": 0.97}]`;
`pipeline(["a", "b"])` -> one dict per text; `top_k=None` -> every label, best first.
"""

import numpy as np


def softmax(logits):
    """Numerically stable softmax over the last axis."""
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / np.sum(exp, axis=-1, keepdims=True)


def classification_results(probabilities, label_names, top_k=1, single=False):
    """Turn a `(batch, num_labels)` probability array into pipeline results.

    Args:
        probabilities: array of shape `(batch, num_labels)`.
        label_names: the label of each column.
        top_k: labels per text, best first; `None` for all of them.
        single: the input was one string (not a list): with `top_k=1` return
            `[{"label", "score"}]`, otherwise the list of that text's labels.

    Example:
    >>> classification_results(np.array([[0.1, 0.9]]), ["neg", "pos"], single=True)
    [{'label': 'pos', 'score': 0.9}]
    """
    probabilities = np.asarray(probabilities)
    if probabilities.shape[-1] != len(label_names):
        raise ValueError(
            f"The model gives {probabilities.shape[-1]} scores per text but "
            f"{len(label_names)} label names were given: pass the label names "
            "the model was trained with."
        )
    k = probabilities.shape[-1] if top_k is None else top_k
    order = np.argsort(-probabilities, axis=-1)[:, :k]
    per_text = [
        [{"label": label_names[i], "score": float(row[i])} for i in best]
        for row, best in zip(probabilities, order)
    ]
    if top_k == 1:
        per_text = [labels[0] for labels in per_text]
        return per_text
    return per_text[0] if single else per_text
