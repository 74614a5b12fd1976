"""tfnlp: a TensorFlow/Keras NLP toolkit, from data files to served models."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# TensorFlow's C++ start-up chatter hides the progress bars; users can still set it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
