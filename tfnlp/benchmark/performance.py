"""Size, latency and accuracy of a deployed text classifier, and the plot that compares variants.

Any pipeline that maps a string to `[{"label", "score"}]` and reports `size_mb()`
can be measured: `TextClassificationPipeline` (Keras), `SavedModelPipeline`,
`OnnxTextClassificationPipeline` (fp32 or int8) and `TorchTextClassificationPipeline`
(transformers, the reference). Latency is of one query through the whole pipeline,
tokenization included, as a user of the service sees it.
"""

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tfnlp import plots
from tfnlp.comparison import to_markdown
from tfnlp.errors import ConfigError, DataError
from tfnlp.runs import write_json

DEFAULT_QUERY = "What is the pin number for my account?"


class PerformanceBenchmark:
    """Measure one pipeline: size on disk (MB), one-query latency (ms), test accuracy.

    Args:
        pipeline: a text-classification pipeline with `size_mb()`; called as
            `pipeline(text)` and `pipeline(list_of_texts)`.
        dataset: the test split, a DataFrame with `text` and integer `label`
            columns (e.g. `load_dataset("clinc150")["test"]`, `oos` included).
        name: the variant's name in the results and the plot.
        label_names: the name of each label id; default the pipeline's.
        query: the text whose latency is measured.
        warmup, repeats: untimed then timed calls of `pipeline(query)`.
        batch_size: texts per pipeline call when measuring accuracy.
        out_of_scope: the label of queries the classifier should reject; where
            it is one of the labels, the results also give the accuracy on the
            other queries and this label's recall, as CLINC150 is reported
            (Larson et al. 2019): the two move apart, and `oos` is 18% of its test.

    Example:
    >>> benchmark = PerformanceBenchmark(TextClassificationPipeline(teacher),
    ...     load_dataset("clinc150")["test"], "teacher")  # doctest: +SKIP
    >>> benchmark.run("run/benchmark.json")  # doctest: +SKIP
    {'teacher': {'size_mb': 86.7, 'accuracy': 0.86, 'latency_ms': {'mean': 4.4, ...}}}
    """

    def __init__(self, pipeline, dataset, name, label_names=None, query=DEFAULT_QUERY, warmup=10, repeats=100,
                 batch_size=64, out_of_scope="oos"):
        missing = {"text", "label"} - set(getattr(dataset, "columns", ()))
        if missing:
            raise DataError(f"The benchmark dataset lacks the columns {sorted(missing)}; pass a split such as "
                            "`load_dataset('clinc150')['test']` (columns text, label).")
        if repeats < 2:
            raise ConfigError(f"repeats={repeats}: need at least 2 timed calls for a standard deviation.")
        self.pipeline, self.dataset, self.name = pipeline, dataset, name
        self.label_names = list(label_names if label_names is not None else pipeline.label_names)
        self.query, self.warmup, self.repeats, self.batch_size = query, warmup, repeats, batch_size
        self.out_of_scope = out_of_scope

    def compute_size(self):
        """Size on disk of what would be deployed, in MB (MiB, as the chapter)."""
        return {"size_mb": float(self.pipeline.size_mb())}

    def time_pipeline(self):
        """Mean, standard deviation, median and 95th percentile of one query's latency, in ms."""
        for _ in range(self.warmup):
            self.pipeline(self.query)
        latencies = []
        for _ in range(self.repeats):
            start = time.perf_counter()
            self.pipeline(self.query)
            latencies.append(1000 * (time.perf_counter() - start))
        latencies = np.array(latencies)
        return {"latency_ms": {"mean": float(latencies.mean()), "std": float(latencies.std(ddof=1)),
                               "median": float(np.median(latencies)), "p95": float(np.percentile(latencies, 95))}}

    def compute_accuracy(self):
        """Accuracy on every example of `dataset` (predicted label name vs the true one); with an
        out-of-scope label among the true ones, also `in_scope_accuracy` and `out_of_scope_recall`."""
        texts = self.dataset["text"].tolist()
        predicted = []
        for start in range(0, len(texts), self.batch_size):
            predicted += [result["label"] for result in self.pipeline(texts[start : start + self.batch_size])]
        true = np.array([self.label_names[label] for label in self.dataset["label"]])
        correct = np.array(predicted) == true
        metrics = {"accuracy": float(correct.mean())}
        out_of_scope = true == self.out_of_scope
        if out_of_scope.any() and not out_of_scope.all():
            metrics.update(in_scope_accuracy=float(correct[~out_of_scope].mean()),
                           out_of_scope_recall=float(correct[out_of_scope].mean()))
        return metrics

    def run(self, path=None):
        """All three measurements as `{name: {...}}`; merged into the JSON file `path` if given."""
        metrics = {**self.compute_size(), **self.compute_accuracy(), **self.time_pipeline()}
        results = {self.name: metrics}
        if path is not None:
            save_results(results, path)
        return results


def save_results(results, path):
    """Merge `{variant: metrics}` into the JSON file `path` (created if missing); returns all results."""
    path = Path(path)
    merged = json.loads(path.read_text()) if path.is_file() else {}
    merged.update(results)
    write_json(path, merged)
    return merged


def results_table(results):
    """A Markdown table: variant, size (MB), latency mean +/- std, median and p95 (ms), accuracy, and the
    in-scope accuracy and out-of-scope recall where every variant has them."""
    scopes = all("in_scope_accuracy" in metrics for metrics in results.values())
    rows = {}
    for name, metrics in results.items():
        latency = metrics["latency_ms"]
        rows[name] = {"size (MB)": f"{metrics['size_mb']:.1f}",
                      "latency (ms), mean +/- std": f"{latency['mean']:.2f} +/- {latency['std']:.2f}",
                      "median (ms)": f"{latency['median']:.2f}", "p95 (ms)": f"{latency['p95']:.2f}",
                      "accuracy": f"{metrics['accuracy']:.4f}"}
        if scopes:
            rows[name].update({"in-scope accuracy": f"{metrics['in_scope_accuracy']:.4f}",
                               "out-of-scope recall": f"{metrics['out_of_scope_recall']:.4f}"})
    return to_markdown(pd.DataFrame.from_dict(rows, orient="index").rename_axis("variant")).rstrip("\n")


def summary_line(name, metrics):
    """One variant in one line: size, latency mean +/- std, accuracy (and in-scope / out-of-scope where measured).

    Example:
    >>> summary_line("int8", {"size_mb": 17.4, "latency_ms": {"mean": 0.47, "std": 0.04}, "accuracy": 0.8804})
    'int8: 17.4 MB, 0.47 +/- 0.04 ms, accuracy 0.8804'
    """
    latency = metrics["latency_ms"]
    line = (f"{name}: {metrics['size_mb']:.1f} MB, {latency['mean']:.2f} +/- {latency['std']:.2f} ms, "
            f"accuracy {metrics['accuracy']:.4f}")
    if "in_scope_accuracy" in metrics:
        line += (f" (in-scope {metrics['in_scope_accuracy']:.4f}, "
                 f"out-of-scope recall {metrics['out_of_scope_recall']:.4f})")
    return line


def plot_metrics(results, current, path):
    """Accuracy against mean latency, one bubble per variant with area proportional to size.

    The `current` variant is drawn dashed, as in the chapter, to show where the
    latest optimisation moved the model.
    """
    figure, axis = plots.plt.subplots(figsize=(7, 5))
    sizes = np.array([metrics["size_mb"] for metrics in results.values()])
    scale = 2000.0 / max(sizes.max(), 1e-9)  # the largest bubble ~2000 pt^2
    for name, metrics in results.items():
        x, y = metrics["latency_ms"]["mean"], 100 * metrics["accuracy"]
        style = {"linestyle": "--", "facecolor": "none", "edgecolor": "black"} if name == current else {"alpha": 0.5}
        axis.scatter(x, y, s=max(metrics["size_mb"] * scale, 20.0), **style)
        axis.annotate(name, (x, y), textcoords="offset points", xytext=(6, 6), fontsize=8)
    accuracies = [100 * metrics["accuracy"] for metrics in results.values()]
    axis.set_ylim(min(accuracies) - 3, max(accuracies) + 3)
    axis.set_xlim(left=0)
    axis.set_xlabel("Average latency (ms)")
    axis.set_ylabel("Accuracy (%)")
    axis.set_title("Accuracy vs latency (bubble area = size on disk)")
    return plots.save_figure(figure, path)
