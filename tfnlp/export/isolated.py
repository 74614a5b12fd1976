"""ONNX export in a child process, for long runs that hold many models.

tf2onnx's conversion peaks at ~6 GB above the process's own memory for a 17M-weight
BERT (measured: 1.3 -> 7.4 GB for a 3-layer MiniLM student), and TensorFlow keeps what
it allocated; a recipe that has already trained several models then runs out of memory.
A child process returns all of it when it exits.
"""

import os
import subprocess
import sys

from tfnlp.errors import TfnlpError

_EXPORT = """
import sys
from tfnlp.export.onnx import export_onnx, quantize_dynamic_int8
from tfnlp.export.saving import load_trained_model
path = export_onnx(load_trained_model(sys.argv[1]), sys.argv[2])
if sys.argv[3] == "int8":
    quantize_dynamic_int8(path)
"""


def export_onnx_in_subprocess(keras_path, onnx_path, int8=True):
    """`export_onnx` (then `quantize_dynamic_int8` if `int8`) of a saved `.keras` model, in a child process.

    Returns `(onnx_path, int8_path or None)`; the int8 file is `<name>.int8.onnx`.

    Example:
    >>> export_onnx_in_subprocess("run/model.keras", "run/onnx/model.onnx")  # doctest: +SKIP
    ('run/onnx/model.onnx', 'run/onnx/model.int8.onnx')
    """
    onnx_path = os.fspath(onnx_path)
    command = [sys.executable, "-c", _EXPORT, os.fspath(keras_path), onnx_path, "int8" if int8 else "fp32"]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode == -9:
        raise TfnlpError(f"ONNX export of {keras_path} was killed (SIGKILL), most likely out of memory: tf2onnx "
                         "needs ~6 GB free for a 3-layer MiniLM. Free memory and rerun with --teacher <run>/teacher.keras.")
    if completed.returncode != 0:
        raise TfnlpError(f"ONNX export of {keras_path} failed (exit {completed.returncode}):\n"
                         f"{completed.stderr[-3000:]}")
    return onnx_path, (os.path.splitext(onnx_path)[0] + ".int8.onnx" if int8 else None)
