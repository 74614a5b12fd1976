"""Mixed precision: train with bfloat16 or float16 arithmetic, evaluate and export in float32.

Under a mixed policy the weights stay float32 and only the arithmetic is 16-bit, so a
model trained that way becomes an ordinary float32 model by switching its layers' compute
dtype back (`to_float32`): nothing is copied or rounded. `fit` does that after training,
so predictions, SavedModels, ONNX files and int8 quantization all see float32 graphs
(ONNX Runtime has few bfloat16 kernels).

>>> set_precision("mixed_bfloat16")  # doctest: +SKIP
>>> classifier = EncoderClassifier.from_preset("minilm-l6", ["neg", "pos"])  # doctest: +SKIP
"""

import keras

from tfnlp.cli import PRECISIONS
from tfnlp.errors import ConfigError


def set_precision(name="float32"):
    """Make `name` the Keras dtype policy of every model built from now on."""
    if name not in PRECISIONS:
        raise ConfigError(f"precision {name!r} is not one of {PRECISIONS}; float32 is the default.")
    keras.mixed_precision.set_global_policy(name)


def _mixed_layers(model):
    # Tokenizers and preprocessors keep their integer or string policies.
    return [layer for layer in model._flatten_layers(include_self=True)
            if layer.dtype_policy.compute_dtype != layer.dtype_policy.variable_dtype]


def to_float32(model):
    """Switch every layer of `model` (trained under a mixed policy) to float32 arithmetic, in place.

    Its saved config then says float32 too, so `model.keras` reloads as a float32 model.
    Returns `model`.
    """
    mixed = _mixed_layers(model)
    if not mixed:
        return model
    for layer in mixed:
        layer.dtype_policy = "float32"
    # Functions traced under the mixed policy would keep computing in 16 bits.
    model.train_function = model.test_function = model.predict_function = None
    return model
