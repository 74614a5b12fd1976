"""tfnlp: a TensorFlow/Keras NLP toolkit, from data files to served models."""

import os
import sys


def _import_sqlite3_with_own_library():
    """Import `sqlite3` bound to its own SQLite, not TensorFlow's.

    TensorFlow loads a SQLite build without FTS5 into the global symbol scope, and a
    `sqlite3` imported after it binds to that build (the document store then fails
    with "no such module: fts5"). RTLD_DEEPBIND makes the module prefer the library
    it was built against, whatever was imported first.
    """
    if "sqlite3" in sys.modules or not hasattr(os, "RTLD_DEEPBIND"):
        return
    flags = sys.getdlopenflags()
    sys.setdlopenflags(flags | os.RTLD_DEEPBIND)
    try:
        import sqlite3  # noqa: F401
    finally:
        sys.setdlopenflags(flags)


_import_sqlite3_with_own_library()
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# TensorFlow's C++ start-up chatter hides the progress bars; users can still set it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
