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


# Options a resumed run may take other values of: where things are, not what is trained.
RESUME_MAY_CHANGE = ("resume", "name", "output_dir", "config", "data_dir", "strategy")


def _read_json(path):
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def saved_options(run_path):
    """The options the run in `run_path` was started with (its `config.json`); `{}` when there is none."""
    return _read_json(Path(run_path) / "config.json")


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
        self.metrics = _read_json(self.path / "metrics.json") if resume else {}

    def file(self, relative):
        """Path of `relative` inside the run, its parent folders created."""
        path = self.path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def save_config(self, options):
        """Record every option used (a dict or an argparse namespace).

        A resumed run must use the options it was started with (except those in
        `RESUME_MAY_CHANGE`): what it saved (checkpoints, models) was trained with them.
        """
        options = vars(options) if not isinstance(options, dict) else options
        if self.resumed:
            self._check_same_options(json.loads(json.dumps(_to_jsonable(options))))
        return write_json(self.path / "config.json", options)

    def _check_same_options(self, options):
        saved = saved_options(self.path)
        changed = {key: (saved[key], options[key]) for key in saved.keys() & options.keys()
                   if key not in RESUME_MAY_CHANGE and saved[key] != options[key]}
        if changed:
            listed = ", ".join(f"--{key.replace('_', '-')} {before!r} (now {after!r})"
                               for key, (before, after) in sorted(changed.items()))
            raise ConfigError(
                f"{self.path} was started with {listed}: resuming with other values would mix two runs. "
                "Resume without these options (a resumed run takes the ones it was started with), or start "
                "a new run with another --name."
            )

    def save_metrics(self, metrics):
        """Merge `metrics` into `metrics.json` and rewrite it."""
        self.metrics.update(metrics)
        return write_json(self.path / "metrics.json", self.metrics)
