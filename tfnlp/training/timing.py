"""Wall-clock time of each training epoch, for reports and comparison tables."""

import time

import keras


class EpochTimer(keras.callbacks.Callback):
    """Record each epoch's wall-clock seconds (validation included) in `self.seconds`.

    Example:
    >>> timer = EpochTimer()
    >>> model.fit(train, epochs=3, callbacks=[timer])  # doctest: +SKIP
    >>> timer.seconds  # doctest: +SKIP
    [61.2, 58.9, 59.4]
    """

    def __init__(self):
        super().__init__()
        self.seconds = []
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(round(time.perf_counter() - self._start, 2))
