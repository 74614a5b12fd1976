"""Benchmarks of tfnlp against reference implementations, and the helpers they share.

Each benchmark is a module runnable alone (`python -m benchmarks.finetune_throughput --help`);
`python -m benchmarks.run_all` runs them together and appends an entry to `benchmarks/RESULTS.md`.

The machine these run on is often shared, so every result carries the load average and the CPU
time other processes took while it ran (`OtherProcessesWatch`), and comparisons are made side by
side in one process, with ratios, rather than against figures from another day.
"""

import argparse
import datetime
import importlib.metadata
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEFAULT_OUTPUT_DIR = Path("saved_models") / "benchmarks"
VERSIONED_PACKAGES = ("tensorflow", "keras", "keras-hub", "tensorflow-text", "torch", "transformers", "tokenizers")


def usable_cores():
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0))


def load_average():
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(value, 2) for value in os.getloadavg()]


def cpu_model():
    """The CPU model name from /proc/cpuinfo, or "unknown"."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return "unknown"
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else "unknown"


def machine_info():
    """The CPU, cores, package versions and load average, for a result's header."""
    versions = {}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable_cores(),
        "versions": versions,
        "load_average_at_start": load_average(),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }


def configure_threads(threads):
    """Give TensorFlow (intra-op) and PyTorch the same number of threads.

    Must run before TensorFlow executes its first op; calling it again with the
    same number is harmless.
    """
    import tensorflow as tf
    import torch

    if tf.config.threading.get_intra_op_parallelism_threads() != threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
        except RuntimeError as error:
            raise RuntimeError(
                f"TensorFlow already started with other thread settings; call "
                f"configure_threads({threads}) before any TensorFlow op runs."
            ) from error
    torch.set_num_threads(threads)


class OtherProcessesWatch:
    """The CPU time that other processes use while a benchmark runs (from /proc).

    The load average counts the benchmark's own threads too; this tells whether
    someone else took CPU from it.

    Example:
    >>> watch = OtherProcessesWatch()  # doctest: +SKIP
    >>> watch.busiest()  # doctest: +SKIP
    [{'pid': 812, 'command': 'python -m recipes.emotion', 'cores_used': 1.93}]
    """

    def __init__(self):
        self.start_time = time.monotonic()
        self.start_ticks = _process_ticks()
        self.start_others_seconds = _others_cpu_seconds()

    def busiest(self, min_cores=0.05):
        """Other processes that used at least `min_cores` cores on average since the start."""
        used = [entry for entry in self._usage() if entry["cores_used"] >= min_cores]
        for entry in used:
            entry["command"] = _command_line(entry["pid"]) or entry["command"]
        return sorted(used, key=lambda entry: -entry["cores_used"])

    def total_cores(self):
        """The cores all other processes together (short-lived ones too) used on average since the start."""
        elapsed = max(time.monotonic() - self.start_time, 1e-9)
        return round(max(_others_cpu_seconds() - self.start_others_seconds, 0.0) / elapsed, 2)

    def _usage(self):
        elapsed = max(time.monotonic() - self.start_time, 1e-9)
        ticks_per_second = os.sysconf("SC_CLK_TCK")
        usage = []
        for pid, (command, ticks) in _process_ticks().items():
            before = self.start_ticks.get(pid, (command, 0))[1]
            cores = (ticks - before) / ticks_per_second / elapsed
            usage.append({"pid": pid, "command": command, "cores_used": round(cores, 2)})
        return usage


def _others_cpu_seconds():
    """CPU seconds the whole machine has been busy, less this process's own (from /proc/stat).

    Includes time the hypervisor gave to other guests (steal): also CPU this process could not have.
    """
    user, nice, system, idle, iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    busy_seconds = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    own = os.times()
    return busy_seconds - own.user - own.system


def _command_line(pid, limit=100):
    """The command line of `pid` (shortened), or None if the process is gone."""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    line = " ".join(word.decode(errors="replace") for word in words if word)
    return line[:limit] or None


def _process_ticks():
    """pid -> (command, user + system clock ticks) of every process but this one."""
    ticks = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # the process ended meanwhile
        command = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks[int(entry.name)] = (command, int(fields[11]) + int(fields[12]))
    return ticks


def rate_summary(seconds, items_per_unit):
    """Throughput of timed units (steps or passes) that each handle `items_per_unit` items.

    Returns the median unit time and the rate it gives (the headline figure, robust
    to a few units slowed by other processes), the interquartile range of the
    per-unit rates, and the overall rate (all items / all time).
    """
    seconds = np.asarray(seconds, dtype=float)
    rates = items_per_unit / seconds
    return {
        "units": int(seconds.size),
        "median_seconds": round(float(np.median(seconds)), 5),
        "median_rate": round(float(items_per_unit / np.median(seconds)), 2),
        "rate_p25_p75": [round(float(np.percentile(rates, q)), 2) for q in (25, 75)],
        "overall_rate": round(float(items_per_unit * seconds.size / seconds.sum()), 2),
    }


def format_table(rows, columns):
    """A plain-text table of `rows` (dicts), with `columns` as (header, key) pairs."""
    cells = [[header for header, _ in columns]]
    cells += [[_format_cell(row.get(key)) for _, key in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)) for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _format_cell(value):
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(_format_cell(item) for item in value)
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def default_json_path(name):
    """`saved_models/benchmarks/<name>-<timestamp>.json`."""
    return DEFAULT_OUTPUT_DIR / f"{name}-{datetime.datetime.now():%Y%m%d-%H%M%S}.json"


def save_json(path, data):
    """Write `data` as indented JSON, atomically (tfnlp's run-folder writer); returns the path."""
    from tfnlp.runs import write_json

    return write_json(path, data)


def finish_report(report, watch, **fields):
    """`report` with `fields`, the load at the end and what other processes used during the run."""
    report.update(**fields, load_average_at_end=load_average(), others_cores=watch.total_cores(),
                  other_processes=watch.busiest())
    return report


def print_load(report):
    """The lines every benchmark prints after its table: the load, and the other processes' share."""
    print("load average at start/end:", report["machine"]["load_average_at_start"], report["load_average_at_end"])
    print(f"other processes used {report['others_cores']} cores on average; busiest:",
          report["other_processes"] or "none above 0.05")


def benchmark_parser(module, description, name, quick):
    """An `ArgumentParser` for `python -m <module>` with the options every benchmark has: `--json`, `--quick`.

    `name` names the default JSON file; `quick` (option -> value) is the smoke run's settings.
    """
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", help=f"where to write the results (default: {DEFAULT_OUTPUT_DIR}/{name}-<time>.json).")
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {quick}.")
    return parser


def parse_benchmark_args(parser, quick, argv=None):
    """`parser`'s arguments, with the `quick` settings applied under `--quick`."""
    args = parser.parse_args(argv)
    if args.quick:
        vars(args).update(quick)
    return args


def benchmark_main(parse_args, run, print_report, name, argv=None):
    """Parse, run, print and save one benchmark (`saved_models/benchmarks/<name>-<time>.json` by default)."""
    args = parse_args(argv)
    report = run(args)
    print_report(report)
    path = save_json(args.json or default_json_path(name), report)
    print(f"Wrote {path}")
    return report
