"""Text-classification pipelines over a Keras model or an exported SavedModel.

All return the shared result format of `tfnlp.serving.results` (as does the ONNX
Runtime pipeline), so a caller can swap one for another.
"""

import os
import tempfile

import numpy as np
import tensorflow as tf

from tfnlp.errors import DataError
from tfnlp.export.saving import save_model
from tfnlp.serving.results import classification_results


def path_size_mb(path):
    """Size of a file, or of every file under a folder, in MiB."""
    path = os.fspath(path)
    if os.path.isfile(path):
        return os.path.getsize(path) / 2**20
    sizes = [os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(path) for name in names]
    return sum(sizes) / 2**20


class ClassificationPipeline:
    """Base: subclasses set `label_names` and implement `_batch_probabilities`."""

    label_names = ()

    def _batch_probabilities(self, texts):
        raise NotImplementedError

    def predict_proba(self, texts, batch_size=64):
        """Class probabilities, shape `(len(texts), num_labels)`, in input order."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        return np.concatenate(
            [
                self._batch_probabilities(texts[start : start + batch_size])
                for start in range(0, len(texts), batch_size)
            ]
        )

    def __call__(self, texts, top_k=1):
        """`pipeline("text")` -> `[{"label", "score"}]`; a list gives one result per text."""
        return classification_results(
            self.predict_proba(texts), self.label_names, top_k, single=isinstance(texts, str)
        )


class TextClassificationPipeline(ClassificationPipeline):
    """Classify raw strings with a Keras classifier through one compiled function.

    Never calls `Model.predict` per query (which costs far more than a compiled
    call for one string); each batch is padded only to its longest text.

    Args:
        classifier: an `EncoderClassifier` with its preprocessor.

    Example:
    >>> pipeline = TextClassificationPipeline(classifier)  # doctest: +SKIP
    >>> pipeline("i feel great")  # doctest: +SKIP
    [{'label': 'joy', 'score': 0.97}]
    """

    def __init__(self, classifier):
        self.classifier = classifier
        self.label_names = list(classifier.label_names)
        self._forward = tf.function(self._probabilities, reduce_retracing=True)

    def _probabilities(self, texts):
        inputs = self.classifier.preprocessor(texts)
        return tf.nn.softmax(self.classifier(inputs, training=False))

    def _batch_probabilities(self, texts):
        return self._forward(tf.constant(texts)).numpy()

    def size_mb(self):
        """Size in MiB of the `.keras` file that would be deployed (no optimizer state)."""
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "model.keras")
            save_model(self.classifier, path)
            return path_size_mb(path)


class SavedModelPipeline(ClassificationPipeline):
    """Classify raw strings with a SavedModel written by `export_saved_model`.

    Example:
    >>> pipeline = SavedModelPipeline("saved_models/emotion/saved_model")  # doctest: +SKIP
    >>> pipeline(["i feel great", "so sad"])  # doctest: +SKIP
    [{'label': 'joy', 'score': 0.97}, {'label': 'sadness', 'score': 0.98}]
    """

    def __init__(self, path):
        import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graph uses)

        self.path = os.fspath(path)
        self.model = load_saved_model(self.path)
        self._serve = self.model.signatures["serving_default"]
        names = self.model.signatures["label_names"]()["label_names"].numpy()
        self.label_names = [name.decode() for name in names]

    def _batch_probabilities(self, texts):
        return self._serve(text=tf.constant(texts))["probabilities"].numpy()

    def size_mb(self):
        """Size in MiB of the SavedModel folder."""
        return path_size_mb(self.path)


def load_saved_model(path):
    """`tf.saved_model.load(path)`, with a `DataError` that names the folder when it is missing or unreadable."""
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise DataError("No SavedModel here (no saved_model.pb).", path=path,
                        hint="pass the saved_model/ folder of a run, written by `export_saved_model`.")
    try:
        return tf.saved_model.load(path)
    except Exception as error:  # truncated variables, a foreign graph, missing ops: one remedy
        raise DataError(f"The SavedModel cannot be loaded ({type(error).__name__}: {str(error)[:300]}).", path=path,
                        hint="export it again with `tfnlp.export.saved_model.export_saved_model`.") from error
