"""The options every recipe shares, with the same names and meanings, and config files.

Every option can also come from a YAML or JSON file (`--config run.yaml`, keys as
the option names with `_` or `-`); options on the command line win over the file.
"""

import argparse
import difflib
import json
import sys
from pathlib import Path

from tfnlp.errors import ConfigError, TfnlpError
from tfnlp.runs import RESUME_MAY_CHANGE, saved_options

STRATEGIES = ("default", "mirrored", "multi-worker")  # tfnlp.training.distribute.get_strategy
# tfnlp.training.precision.set_precision. mixed_bfloat16: CPUs with AMX or AVX512-BF16, Ampere and later
# GPUs, TPUs (no loss scaling needed); mixed_float16: older GPUs (Keras adds a LossScaleOptimizer).
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def recipe_parser(description, *, model="minilm-l6", epochs=3, batch_size=32, max_length=128, learning_rate=5e-5,
                  model_choices=None, model_help="offline preset name, local Hugging Face directory, or hub id."):
    """An `ArgumentParser` with the shared recipe options; a recipe adds its own.

    The keyword arguments are the recipe's defaults for the shared options;
    `model_choices` and `model_help` let a recipe whose `--model` picks a model
    family (not a preset) say so.
    """
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    add = parser.add_argument
    add("--config", help="YAML or JSON file of option values (command-line options win).")
    add("--data-dir", help="folder holding the data sets (default: $TFNLP_DATA_DIR, then ../shared/data).")
    add("--model", default=model, choices=model_choices, help=model_help)
    add("--epochs", type=int, default=epochs, help="passes over the training data.")
    add("--batch-size", type=int, default=batch_size, help="examples per training step.")
    add("--max-length", type=int, default=max_length, help="most tokens per example; batches pad to their longest.")
    add("--learning-rate", type=float, default=learning_rate, help="peak learning rate (linear warm-up then decay).")
    add("--output-dir", default="saved_models", help="root of the run folders.")
    add("--name", help="run folder name (default: <recipe>-<timestamp>).")
    add("--seed", type=int, default=42, help="random seed, for repeatable runs.")
    add("--fast", action="store_true", help="small subset and one epoch: a smoke run of a few minutes.")
    add("--resume", action="store_true", help="continue the interrupted run named by --name from its last backup.")
    add("--strategy", choices=STRATEGIES, default="default",
        help="tf.distribute strategy: mirrored = all local GPUs; multi-worker = the workers in $TF_CONFIG.")
    add("--precision", choices=PRECISIONS, default="float32",
        help="arithmetic while training: mixed_bfloat16 for CPUs with AMX/AVX512-BF16 (1.37x MiniLM fine-tuning "
             "steps here), Ampere+ GPUs and TPUs; mixed_float16 for older GPUs. Weights, evaluation and exports "
             "stay float32.")
    return parser


def load_config_file(path):
    """Read a YAML or JSON mapping of option values."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found; pass an existing YAML or JSON file to --config.")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            values = json.loads(text)
        else:
            import yaml

            values = yaml.safe_load(text)
    except Exception as error:  # both parsers' errors carry the line and column.
        raise ConfigError(f"{path}: not valid {path.suffix.lstrip('.').upper() or 'YAML'}: {error}") from error
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of option names to values, got {type(values).__name__}.")
    return {key.replace("-", "_"): value for key, value in values.items()}


def parse_args(parser, argv=None):
    """Parse `argv` and set `--precision`.

    Defaults come from `--config` (unknown keys are errors) and, with `--resume`, from the
    options the run was started with, so `--name RUN --resume` alone continues it as it was.
    """
    first, _ = parser.parse_known_args(argv)
    values = load_config_file(first.config) if first.config else {}
    known = {action.dest for action in parser._actions}
    for key in values:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{first.config}: unknown option {key!r}.{hint}")
    parser.set_defaults(**values)
    first, _ = parser.parse_known_args(argv)
    if first.resume and first.name:
        saved = saved_options(Path(first.output_dir) / first.name)
        parser.set_defaults(**{key: value for key, value in saved.items()
                               if key in known and key not in values and key not in RESUME_MAY_CHANGE})
    args = parser.parse_args(argv)
    from tfnlp.training.precision import set_precision  # tfnlp.training imports this module

    set_precision(args.precision)  # before any model is built
    return args


def run_recipe(main):
    """Run a recipe's `main(argv)` as a command: a tfnlp error (bad input or option) prints
    its message (what, where, how to fix) without a traceback and exits with status 2, as
    argparse does for a bad option; any other exception is a bug and keeps its traceback.
    """
    try:
        main(sys.argv[1:])
    except TfnlpError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
