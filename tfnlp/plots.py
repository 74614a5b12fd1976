"""Every tfnlp figure, saved as PNG (never shown: recipes run headless)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

from tfnlp.export.atomic import atomic_path  # noqa: E402


def save_figure(figure, path):
    """Write `figure` to `path` atomically as PNG and close it; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=120, format="png")
    plt.close(figure)
    return path


def class_distribution(labels, label_names, path, title="Frequency of classes"):
    """Horizontal bar chart of how many examples each class has."""
    counts = np.bincount(np.asarray(labels), minlength=len(label_names))
    order = np.argsort(counts)
    figure, axis = plt.subplots(figsize=(6, 0.4 * len(label_names) + 1))
    axis.barh([label_names[i] for i in order], counts[order], color="tab:blue")
    axis.set_title(title)
    axis.set_xlabel("examples")
    return save_figure(figure, path)


def lengths_by_class(lengths, labels, label_names, path, ylabel="Words per text"):
    """Box plot of text lengths for each class."""
    lengths, labels = np.asarray(lengths), np.asarray(labels)
    groups = [lengths[labels == i] for i in range(len(label_names))]
    figure, axis = plt.subplots(figsize=(7, 4))
    axis.boxplot(groups, showfliers=False)
    axis.set_xticks(range(1, len(label_names) + 1), label_names, rotation=30)
    axis.set_ylabel(ylabel)
    axis.set_title(f"{ylabel} by class")
    return save_figure(figure, path)


def confusion_matrix_plot(matrix, label_names, path, title="Normalized confusion matrix"):
    """Heat map of a row-normalised confusion matrix, each cell annotated."""
    figure, axis = plt.subplots(figsize=(1 + 0.9 * len(label_names), 1 + 0.8 * len(label_names)))
    image = axis.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(label_names))
    axis.set_xticks(ticks, label_names, rotation=45, ha="right")
    axis.set_yticks(ticks, label_names)
    for (row, column), value in np.ndenumerate(matrix):
        color = "white" if value > 0.5 else "black"
        axis.text(column, row, f"{value:.2f}", ha="center", va="center", color=color, fontsize=8)
    axis.set_xlabel("Predicted label")
    axis.set_ylabel("True label")
    axis.set_title(title)
    figure.colorbar(image, ax=axis, fraction=0.046)
    return save_figure(figure, path)


def class_probabilities(probabilities, label_names, path, title):
    """Bar chart of one text's probability for each class."""
    figure, axis = plt.subplots(figsize=(7, 4))
    axis.bar(label_names, 100 * np.asarray(probabilities), color="tab:blue")
    axis.set_ylabel("Class probability (%)")
    axis.set_title(title)
    return save_figure(figure, path)


def score_scatter(labels, predictions, path, title="Predicted vs true scores"):
    """Predicted against true scores (regression), with the identity line."""
    figure, axis = plt.subplots(figsize=(5, 5))
    axis.scatter(labels, predictions, s=6, alpha=0.4)
    low, high = float(np.min(labels)), float(np.max(labels))
    axis.plot([low, high], [low, high], color="gray", linewidth=1)
    axis.set_xlabel("True score")
    axis.set_ylabel("Predicted score")
    axis.set_title(title)
    return save_figure(figure, path)


def entity_f1_by_type(per_type, path, title="Entity F1 by type"):
    """Bar chart of each entity type's F1 (from `tfnlp.metrics.entities.entity_metrics`)."""
    kinds = list(per_type)
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.bar(kinds, [per_type[kind]["f1"] for kind in kinds])
    axis.set_ylim(0, 1)
    axis.set_ylabel("F1")
    axis.set_title(title)
    return save_figure(figure, path)


def scores_by_group(scores, path, title="Exact match and F1 by question type"):
    """Grouped bars of `exact_match` and `f1` per group (as `squad_scores_by_group` gives), counts on the axis."""
    groups = list(scores)
    positions = np.arange(len(groups))
    figure, axis = plt.subplots(figsize=(1 + 0.8 * len(groups), 4))
    for shift, metric in ((-0.2, "exact_match"), (0.2, "f1")):
        axis.bar(positions + shift, [scores[group][metric] for group in groups], width=0.4, label=metric)
    axis.set_xticks(positions, [f"{group}\n({scores[group]['count']})" for group in groups])
    axis.set_ylim(0, 1)
    axis.set_ylabel("score")
    axis.set_title(title)
    axis.legend()
    return save_figure(figure, path)


def token_length_histograms(lengths, path, bins=20, title="Tokens per text"):
    """Side-by-side histograms of token counts, one per named group (e.g. dialogues and their summaries)."""
    figure, axes = plt.subplots(1, len(lengths), figsize=(4.5 * len(lengths), 3.5), sharey=True)
    for axis, (name, values) in zip(np.atleast_1d(axes), lengths.items()):
        axis.hist(values, bins=bins, color="tab:blue", edgecolor="tab:blue", alpha=0.8)
        axis.set_title(f"{name} token length")
        axis.set_xlabel("Length")
    np.atleast_1d(axes)[0].set_ylabel("Count")
    figure.suptitle(title)
    return save_figure(figure, path)
