"""Comparison tables of several runs (or variants of one run): markdown and CSV from their metrics.json."""

import json
import numbers
from pathlib import Path

import pandas as pd

from tfnlp.errors import DataError
from tfnlp.export.atomic import atomic_path


def comparison_table(metrics_by_run, columns):
    """One row per run, one column per metric.

    Args:
        metrics_by_run: run name -> its metrics (as in `metrics.json`).
        columns: column header -> dotted path into the metrics, e.g.
            `{"test accuracy": "test.accuracy"}`; a missing value is left empty.

    Example:
    >>> comparison_table({"a": {"test": {"accuracy": 0.9}}}, {"accuracy": "test.accuracy"})
         accuracy
    run          
    a         0.9
    """
    rows = {name: {header: _lookup(metrics, path) for header, path in columns.items()}
            for name, metrics in metrics_by_run.items()}
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(columns)).rename_axis("run")


def read_run_metrics(run_folders):
    """Folder name -> the `metrics.json` of each run folder."""
    metrics = {}
    for folder in map(Path, run_folders):
        path = folder / "metrics.json"
        if not path.is_file():
            raise DataError("no metrics.json in this run folder", path=folder,
                            hint="pass folders of finished runs (each holds metrics.json)")
        metrics[folder.name] = json.loads(path.read_text(encoding="utf-8"))
    return metrics


def write_comparison(table, folder, name="comparison"):
    """Write `<name>.md` (a markdown table) and `<name>.csv` into `folder`; returns the markdown text."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    markdown = to_markdown(table)
    with atomic_path(folder / f"{name}.md") as temporary:
        Path(temporary).write_text(markdown, encoding="utf-8")
    with atomic_path(folder / f"{name}.csv") as temporary:
        table.to_csv(temporary)
    return markdown


def to_markdown(table):
    """A DataFrame as a GitHub markdown table (floats under 10 to 4 places, others to 1; thousands separators)."""
    header = [table.index.name or "", *map(str, table.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, row in table.iterrows():
        lines.append("| " + " | ".join([str(name), *map(_format, row)]) + " |")
    return "\n".join(lines) + "\n"


def _format(value):
    if value is None or (isinstance(value, numbers.Real) and pd.isna(value)):
        return ""
    if isinstance(value, numbers.Integral) or (isinstance(value, numbers.Real) and float(value).is_integer()):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):  # scores to 4 places; seconds, sizes and the like to 1
        return f"{value:.4f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def _lookup(metrics, path):
    for key in path.split("."):
        if not isinstance(metrics, dict) or key not in metrics:
            return None
        metrics = metrics[key]
    return metrics
