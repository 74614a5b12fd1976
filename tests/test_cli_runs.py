import json

import pytest

from tfnlp.cli import parse_args, recipe_parser
from tfnlp.errors import ConfigError
from tfnlp.runs import RunDir, write_json


def test_config_file_sets_defaults_and_command_line_wins(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("epochs: 7\nlearning-rate: 0.001\nfast: true\n")
    args = parse_args(recipe_parser("demo"), ["--config", str(config), "--epochs", "2"])
    assert (args.epochs, args.learning_rate, args.fast) == (2, 0.001, True)
    json_config = tmp_path / "run.json"
    json_config.write_text(json.dumps({"batch_size": 8}))
    assert parse_args(recipe_parser("demo"), ["--config", str(json_config)]).batch_size == 8


def test_config_file_errors_are_clear(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("epoch: 7\n")
    with pytest.raises(ConfigError, match="unknown option 'epoch'. Did you mean 'epochs'"):
        parse_args(recipe_parser("demo"), ["--config", str(config)])
    with pytest.raises(ConfigError, match="config file not found"):
        parse_args(recipe_parser("demo"), ["--config", str(tmp_path / "missing.yaml")])
    config.write_text("- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        parse_args(recipe_parser("demo"), ["--config", str(config)])


def test_run_dir_never_overwrites_and_resumes(tmp_path):
    run = RunDir(tmp_path, "emotion", name="first")
    run.save_config({"epochs": 3})
    run.save_metrics({"a": 1})
    with pytest.raises(ConfigError, match="already holds a run.*--resume"):
        RunDir(tmp_path, "emotion", name="first")
    resumed = RunDir(tmp_path, "emotion", name="first", resume=True)
    resumed.save_metrics({"b": 2})
    assert json.loads((tmp_path / "first" / "metrics.json").read_text()) == {"a": 1, "b": 2}
    with pytest.raises(ConfigError, match="no run to resume"):
        RunDir(tmp_path, "emotion", name="other", resume=True)
    with pytest.raises(ConfigError, match="needs --name"):
        RunDir(tmp_path, "emotion", resume=True)
    assert RunDir(tmp_path, "emotion").path.name.startswith("emotion-")


def test_resume_takes_the_options_the_run_was_started_with(tmp_path):
    parser = lambda: recipe_parser("demo", epochs=3)  # noqa: E731 - a fresh parser per parse, as a recipe makes
    started = parse_args(parser(), ["--output-dir", str(tmp_path), "--name", "run", "--epochs", "5",
                                    "--learning-rate", "0.002"])
    RunDir(tmp_path, "demo", "run").save_config(started)
    resumed = parse_args(parser(), ["--output-dir", str(tmp_path), "--name", "run", "--resume"])
    assert (resumed.epochs, resumed.learning_rate, resumed.resume) == (5, 0.002, True)
    # Where things are may change on resume; what is trained may not.
    moved = parse_args(parser(), ["--output-dir", str(tmp_path), "--name", "run", "--resume", "--data-dir", "elsewhere"])
    RunDir(tmp_path, "demo", "run", resume=True).save_config(moved)
    changed = parse_args(parser(), ["--output-dir", str(tmp_path), "--name", "run", "--resume", "--epochs", "2"])
    config_before = (tmp_path / "run" / "config.json").read_text()
    with pytest.raises(ConfigError, match=r"started with --epochs 5 \(now 2\).*Resume without these options"):
        RunDir(tmp_path, "demo", "run", resume=True).save_config(changed)
    assert (tmp_path / "run" / "config.json").read_text() == config_before  # nothing overwritten


def test_write_json_converts_numpy(tmp_path):
    import numpy as np

    path = write_json(tmp_path / "m.json", {"x": np.float32(0.5), "y": np.arange(2)})
    assert json.loads(path.read_text()) == {"x": 0.5, "y": [0, 1]}
