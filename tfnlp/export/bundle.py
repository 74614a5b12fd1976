"""Every deployable form of a trained encoder task, written into a run folder in one call."""

from pathlib import Path

from tfnlp.export.atomic import atomic_path
from tfnlp.export.isolated import export_onnx_in_subprocess
from tfnlp.export.saved_model import export_saved_model
from tfnlp.export.saving import save_model
from tfnlp.runs import write_json


def export_run_models(model, folder, onnx=True, int8=True):
    """Write `model` into `folder` as `.keras`, two SavedModels and (optionally) ONNX.

    - `model.keras`: reloads with `keras.saving.load_model` (after `import tfnlp`).
    - `saved_model/`: `serving_default` on raw strings (load after
      `import tensorflow_text`) and `token_ids`.
    - `saved_model_token_ids/`: the token-id signatures alone, for a TF Serving
      built without tensorflow-text ops (it cannot load a graph that holds them).
    - `onnx/model.onnx` and `onnx/model.int8.onnx` with `vocab.txt` and
      `tokenizer_config.json` (casing, accents, `max_length`, how pairs are
      cut, a reader's `stride`) beside them: the folder is all that the ONNX Runtime pipelines
      (`OnnxTextClassificationPipeline(path)`, ...) need.

    Args:
        model: a tfnlp encoder task (classifier, regressor, tagger, reader).
        folder: the run folder.
        onnx, int8: write the ONNX files (float, and dynamically quantized int8).

    Returns:
        A dict: form name -> path.

    Example:
    >>> export_run_models(classifier, "saved_models/emotion-1")  # doctest: +SKIP
    """
    folder = Path(folder)
    paths = {
        "keras": save_model(model, folder / "model.keras"),
        "saved_model": export_saved_model(model, folder / "saved_model"),
        "saved_model_token_ids": export_saved_model(model, folder / "saved_model_token_ids", raw_strings=False),
    }
    if not onnx:
        return paths
    # tf2onnx peaks at several GB above this process, which keeps what TensorFlow allocated: a child returns it.
    paths["onnx"], int8_path = export_onnx_in_subprocess(paths["keras"], folder / "onnx" / "model.onnx", int8=int8)
    if int8_path:
        paths["onnx_int8"] = int8_path
    paths["vocabulary"] = write_tokenizer_files(*_tokenizer_and_lengths(model), folder / "onnx")
    return paths


def write_tokenizer_files(tokenizer, settings, folder):
    """`vocab.txt` and `tokenizer_config.json` (with `settings`) of a keras-hub WordPiece `tokenizer`."""
    folder = Path(folder)
    with atomic_path(folder / "vocab.txt") as temporary:
        Path(temporary).write_text("\n".join(tokenizer.get_vocabulary()) + "\n", encoding="utf-8")
    config = {"do_lower_case": tokenizer.lowercase, "strip_accents": tokenizer.strip_accents, **settings}
    write_json(folder / "tokenizer_config.json", config)
    return folder / "vocab.txt"


def _tokenizer_and_lengths(model):
    """The task's tokenizer and the sequence settings its ONNX pipeline must use."""
    preprocessor = getattr(model, "preprocessor", None)
    if preprocessor is None:  # a reader: windows of `max_length` tokens, `stride` overlap
        return model.tokenizer, {"max_length": model.max_length, "stride": model.stride}
    settings = {"max_length": preprocessor.sequence_length}
    if getattr(preprocessor, "truncate", None):  # how pairs are cut
        settings["truncate"] = preprocessor.truncate
    return preprocessor.tokenizer, settings
