"""Benchmarks of deployed models: size, latency, accuracy, and the comparison plot."""

from tfnlp.benchmark.performance import PerformanceBenchmark, plot_metrics, results_table, save_results, summary_line
