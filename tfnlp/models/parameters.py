"""Parameter counts of a Keras model: what trains and what stays frozen."""

import math


def parameter_counts(model):
    """`{"trainable", "frozen", "total"}` parameter counts of a built Keras model.

    Example:
    >>> import keras
    >>> layer = keras.layers.Dense(2)
    >>> model = keras.Sequential([keras.Input((3,)), layer])
    >>> layer.trainable = False
    >>> parameter_counts(model)
    {'trainable': 0, 'frozen': 8, 'total': 8}
    """
    trainable = sum(math.prod(weight.shape) for weight in model.trainable_weights)
    frozen = sum(math.prod(weight.shape) for weight in model.non_trainable_weights)
    return {"trainable": int(trainable), "frozen": int(frozen), "total": int(trainable + frozen)}
