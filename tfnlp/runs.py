"""Run folders: `saved_models/<recipe>-<timestamp or name>/` with everything a run writes.

Layout: `config.json` (every option used), `metrics.json`, `logs/` (TensorBoard),
`plots/*.png`, `checkpoints/`, `backup/` (while training), `model.keras`,
`saved_model/`, `onnx/`.
"""

import datetime
import json
from pathlib import Path

import numpy as np

from tfnlp.errors import ConfigError
from tfnlp.export.atomic import atomic_path


def _to_jsonable(value):
    if isinstance(value, dict):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path, data):
    """Write `data` as indented JSON, atomically (numpy values converted)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        Path(temporary).write_text(json.dumps(_to_jsonable(data), indent=2) + "\n", encoding="utf-8")
    return path


class RunDir:
    """The folder of one run.

    Args:
        output_dir: the root, e.g. `saved_models`.
        recipe: the recipe name, used in the default folder name.
        name: the folder name; default `<recipe>-<YYYYmmdd-HHMMSS>`.
        resume: continue an existing run (its folder must exist); otherwise an
            existing non-empty folder is an error, so nothing is overwritten.

    Example:
    >>> run = RunDir("saved_models", "emotion", name="demo")  # doctest: +SKIP
    >>> run.save_metrics({"test": {"accuracy": 0.93}})  # doctest: +SKIP
    """

    def __init__(self, output_dir, recipe, name=None, resume=False):
        if resume and not name:
            raise ConfigError("--resume needs --name: the run folder to continue.")
        name = name or f"{recipe}-{datetime.datetime.now():%Y%m%d-%H%M%S}"
        self.path = Path(output_dir) / name
        if resume and not (self.path / "config.json").is_file():
            raise ConfigError(f"{self.path}: no run to resume here (no config.json); check --name and --output-dir.")
        if not resume and self.path.exists() and any(self.path.iterdir()):
            raise ConfigError(
                f"{self.path} already holds a run. Pass --resume to continue it, or another --name."
            )
        self.path.mkdir(parents=True, exist_ok=True)
        self.resumed = resume
        self.metrics = self._read("metrics.json") if resume else {}

    def _read(self, name):
        path = self.path / name
        return json.loads(path.read_text()) if path.is_file() else {}

    def file(self, relative):
        """Path of `relative` inside the run, its parent folders created."""
        path = self.path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def save_config(self, options):
        """Record every option used (a dict or an argparse namespace)."""
        return write_json(self.path / "config.json", vars(options) if not isinstance(options, dict) else options)

    def save_metrics(self, metrics):
        """Merge `metrics` into `metrics.json` and rewrite it."""
        self.metrics.update(metrics)
        return write_json(self.path / "metrics.json", self.metrics)
