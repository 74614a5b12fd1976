"""SavedModel export of an extractive QA reader (`QuestionAnswerer`) for TF Serving.

Signature `serving_default(token_ids, padding_mask, segment_ids: int32[batch, seq])`
-> `start_logits`, `end_logits` (float32[batch, seq]). Windowing and the mapping
of token spans back to characters happen outside the graph, in the client's
tokenizer (`tfnlp.data.qa.qa_features` and `decode_answers`): one context can
give several windows, and the answer's character offsets come from the
tokenizer's offset mapping, which the in-graph tokenizer does not keep.
`window_config()` returns `max_length` and `stride`, so a client windows as in training.
"""

import keras
import tensorflow as tf

from tfnlp.data.qa import MODEL_INPUTS
from tfnlp.export.atomic import atomic_path
from tfnlp.export.saving import without_optimizer


def export_qa_saved_model(model, path):
    """Write `model` (a `QuestionAnswerer`) as a SavedModel with a token-id signature; returns `path`.

    Example:
    >>> export_qa_saved_model(reader, "saved_models/squad/saved_model")  # doctest: +SKIP
    >>> served = tf.saved_model.load("saved_models/squad/saved_model")  # doctest: +SKIP
    >>> served.signatures["serving_default"](token_ids=ids, padding_mask=mask, segment_ids=segments)  # doctest: +SKIP
    """

    def serve_token_ids(token_ids, padding_mask, segment_ids):
        inputs = {"token_ids": token_ids, "padding_mask": padding_mask, "segment_ids": segment_ids}
        outputs = model(inputs, training=False)
        return {"start_logits": outputs["start_logits"], "end_logits": outputs["end_logits"]}

    window = {"max_length": tf.constant(model.max_length), "stride": tf.constant(model.stride)}
    with without_optimizer(model):
        archive = keras.export.ExportArchive()
        archive.track(model)
    archive.add_endpoint(
        "serving_default",
        serve_token_ids,
        input_signature=[tf.TensorSpec([None, None], tf.int32, name=name) for name in MODEL_INPUTS],
    )
    archive.add_endpoint("window_config", lambda: window, input_signature=[])
    with atomic_path(path) as temporary:
        archive.write_out(str(temporary), verbose=False)
    return path
