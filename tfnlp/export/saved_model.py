"""SavedModel export of a text classifier (or another tfnlp task) for TF Serving.

Signatures of a classifier:
- `serving_default(text: string[batch])` -> `label`, `label_id`, `score`,
  `probabilities`: tokenization runs in the graph (tensorflow-text ops, so the
  server or loader must `import tensorflow_text`).
- `token_ids(token_ids, padding_mask, segment_ids: int32[batch, seq])` ->
  `logits`, `probabilities`: for clients that tokenize themselves. A server
  built without tensorflow-text ops cannot load a graph that holds them: give
  it the export made with `raw_strings=False`.
- `label_names()` -> the class names, in label-id order.

Other tasks (`EncoderRegressor`, `EncoderTokenClassifier`) name their own
endpoints in a `serving_endpoints()` method, with the same raw-string
`serving_default` and `token_ids` pair.
"""

import keras
import tensorflow as tf

from tfnlp.export.atomic import atomic_path

TOKEN_INPUTS = ("token_ids", "padding_mask", "segment_ids")


def export_saved_model(classifier, path, raw_strings=True):
    """Write `classifier` (an `EncoderClassifier` with a preprocessor) as a SavedModel.

    A model with a `serving_endpoints()` method (name -> `(function,
    input_signature)`) is exported with those endpoints instead; only
    endpoints that take strings need a preprocessor.
    With `raw_strings=False` only the endpoints on token ids are written (the
    `token_ids` one is then also `serving_default`): the graph holds no
    tensorflow-text op, so it loads in a server built without them (a graph
    that holds one does not load there at all, whichever signature is asked for).
    The directory is written under a temporary name and renamed at the end, so an
    existing export at `path` survives a failed one.

    Example:
    >>> export_saved_model(classifier, "saved_models/emotion/saved_model")  # doctest: +SKIP
    >>> # In another process:
    >>> import tensorflow_text  # registers the tokenizer ops  # doctest: +SKIP
    >>> served = tf.saved_model.load("saved_models/emotion/saved_model")  # doctest: +SKIP
    >>> served.signatures["serving_default"](text=tf.constant(["i feel great"]))  # doctest: +SKIP
    """
    if hasattr(classifier, "serving_endpoints"):
        endpoints = classifier.serving_endpoints()
    else:
        endpoints = _classifier_endpoints(classifier)
    if not raw_strings:
        endpoints = {name: endpoint for name, endpoint in endpoints.items() if not _takes_text(endpoint)}
        endpoints["serving_default"] = endpoints["token_ids"]
    has_tokenizer = getattr(classifier, "preprocessor", None) is not None or getattr(classifier, "tokenizer", None)
    if any(map(_takes_text, endpoints.values())) and not has_tokenizer:
        raise ValueError(
            "The classifier has no preprocessor, so a raw-string signature cannot be "
            "built: attach one (e.g. `classifier.preprocessor = load_preprocessor(preset)`), "
            "or export the token-id signatures alone with `raw_strings=False`."
        )
    # No `archive.track(model)`: the endpoints track the variables they use, and
    # tracking the model too would save every weight twice (Keras' variables
    # beside their TensorFlow values).
    archive = keras.export.ExportArchive()
    for name, (function, input_signature) in endpoints.items():
        archive.add_endpoint(name, function, input_signature=input_signature)
    with atomic_path(path) as temporary:
        archive.write_out(str(temporary), verbose=False)
    return path


def _takes_text(endpoint):
    _, input_signature = endpoint
    return any(spec.dtype == tf.string for spec in input_signature)


def _classifier_endpoints(classifier):
    names = tf.constant(classifier.label_names)

    def serve_text(text):
        probabilities = tf.nn.softmax(classifier(classifier.preprocessor(text), training=False))
        label_id = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        return {
            "label": tf.gather(names, label_id),
            "label_id": label_id,
            "score": tf.reduce_max(probabilities, axis=-1),
            "probabilities": probabilities,
        }

    def serve_token_ids(token_ids, padding_mask, segment_ids):
        inputs = {"token_ids": token_ids, "padding_mask": padding_mask, "segment_ids": segment_ids}
        logits = classifier(inputs, training=False)
        return {"logits": logits, "probabilities": tf.nn.softmax(logits)}

    return {
        "serving_default": (serve_text, [tf.TensorSpec([None], tf.string, name="text")]),
        "token_ids": (serve_token_ids, [tf.TensorSpec([None, None], tf.int32, name=name) for name in TOKEN_INPUTS]),
        "label_names": (lambda: {"label_names": names}, []),
    }
