"""Figures of next-token distributions, saved as PNG with `tfnlp.plots.save_figure`."""

import numpy as np

from tfnlp.generation import processing
from tfnlp.plots import plt, save_figure


def next_token_distribution_plot(probabilities, path, top_k=50, top_p=0.90, title=None):
    """The next-token probability histogram (log scale) and the cumulative probability of sorted tokens.

    The right panel marks the top-k cut (tokens left of it are kept) and the top-p
    cut (the cumulative probability where nucleus sampling stops).

    Args:
        probabilities: `(vocabulary,)` probabilities, e.g. from `next_token_probabilities`.
        path: where the PNG goes.

    Example:
    >>> next_token_distribution_plot(next_token_probabilities(causal_lm, prompt), "plots/next_token.png")  # doctest: +SKIP
    """
    probabilities = np.asarray(probabilities, dtype="float64")
    cumulative = np.cumsum(np.sort(probabilities)[::-1])
    nucleus_size = int(np.searchsorted(cumulative, top_p) + 1)
    figure, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    smallest = max(probabilities[probabilities > 0].min(), 1e-12)
    axes[0].hist(probabilities, bins=np.logspace(np.log10(smallest), 0, 100), color="C0", edgecolor="C0")
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_title("Probability distribution")
    axes[0].set_xlabel("Probability")
    axes[0].set_ylabel("Count")

    shown = max(4 * max(top_k, nucleus_size), 100)
    axes[1].plot(np.arange(1, cumulative.size + 1), cumulative, color="black")
    axes[1].set_xlim(0, min(shown, cumulative.size))
    axes[1].set_ylim(min(0.5, cumulative[0]), 1.01)
    axes[1].axvline(top_k, color="C0", label=f"top-k threshold (k={top_k})")
    axes[1].axhline(top_p, color="C1", linestyle="--", label=f"nucleus threshold (p={top_p:.2f}: {nucleus_size} tokens)")
    axes[1].set_title("Cumulative probability")
    axes[1].set_xlabel("Token (descending probability)")
    axes[1].set_ylabel("Probability")
    axes[1].minorticks_on()
    axes[1].legend(loc="lower right")
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)


def temperature_plot(logits, path, temperatures=(0.5, 1.0, 2.0), tokens=1000, title=None):
    """The probabilities of the `tokens` most likely tokens, sorted, at each temperature.

    Example:
    >>> temperature_plot(logits, "plots/temperature.png")  # doctest: +SKIP
    """
    logits = np.asarray(logits, dtype="float32")
    order = np.argsort(-logits, kind="stable")[:tokens]
    figure, axis = plt.subplots(figsize=(7, 4))
    for temperature in temperatures:
        axis.step(np.arange(order.size), processing.softmax(logits, temperature)[order], label=f"T={temperature}")
    axis.set_yscale("log")
    axis.set_xlabel("Token (sorted by probability at T=1)")
    axis.set_ylabel("Probability")
    axis.set_title(title or "Effect of temperature on the next-token distribution")
    axis.legend(loc="best")
    return save_figure(figure, path)
