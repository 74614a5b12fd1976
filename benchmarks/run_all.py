"""Run every tfnlp benchmark in one process and append a dated entry to benchmarks/RESULTS.md.

Runs `benchmarks.finetune_throughput`, `benchmarks.tokenization_throughput` and
`benchmarks.decoding_speed` with their
defaults (or their `--quick` settings), writes each one's JSON under `--output-dir`, and
appends the command, the machine, the figures, the ratios and the load to the results file.

Example:
    make benchmarks ARGS="--quick"
    python -m benchmarks.run_all --notes "after the attention change"
"""

import argparse
import datetime
import os
import shlex
import sys
from pathlib import Path

from benchmarks import (
    DEFAULT_OUTPUT_DIR,
    OtherProcessesWatch,
    configure_threads,
    load_average,
    machine_info,
    usable_cores,
)
from benchmarks import decoding_speed, finetune_throughput, tokenization_throughput

RESULTS_FILE = Path(__file__).with_name("RESULTS.md")
BUSY_OTHERS_CORES = 0.2  # others' average use above which an entry says the machine was shared


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run_all",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--quick", action="store_true", help="smoke run: each benchmark's --quick settings.")
    add("--threads", type=int, default=usable_cores(), help="threads for TensorFlow (intra-op) and PyTorch.")
    add("--data-dir", help="folder holding emotion/ (default: tfnlp's search path).")
    add("--output-dir", default=str(DEFAULT_OUTPUT_DIR), help="where the JSON results go.")
    add("--results", default=str(RESULTS_FILE), help="the Markdown file the entry is appended to.")
    add("--notes", default="", help="a sentence for the entry's notes (e.g. what changed).")
    return parser


# name, module, whether it reads a data set (and so takes --data-dir)
BENCHMARKS = (
    ("finetune", finetune_throughput, True),
    ("tokenization", tokenization_throughput, True),
    ("decoding", decoding_speed, False),
)


def benchmark_argv(args, name, stamp, uses_data=True):
    """The command-line options passed on to one benchmark."""
    argv = ["--threads", str(args.threads), "--json", str(Path(args.output_dir) / f"{name}-{stamp}.json")]
    argv += ["--quick"] if args.quick else []
    argv += ["--data-dir", args.data_dir] if args.data_dir and uses_data else []
    return argv


def invocation(argv):
    """The command as typed from the repository root."""
    python = os.path.relpath(sys.executable) if sys.executable.startswith(os.getcwd()) else sys.executable
    return shlex.join([python, "-m", "benchmarks.run_all", *argv])


def markdown_table(rows, columns):
    """A Markdown table of `rows` (dicts), with `columns` as (header, key) pairs."""
    lines = ["| " + " | ".join(header for header, _ in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(key)) for _, key in columns) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value):
    if isinstance(value, list):
        return ", ".join(_cell(item) for item in value)
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return "-" if value is None else str(value)


FINETUNE_COLUMNS = [
    ("variant", "variant"),
    ("examples/s (median step)", "median_rate"),
    ("p25–p75 of per-step rates", "rate_p25_p75"),
    ("examples/s (all timed steps)", "overall_rate"),
    ("timed steps", "units"),
    ("vs torch", "ratio_to_torch"),
    ("load 1 min, per round", "load_1min"),
    ("others' cores, per round", "others_cores"),
]
TOKENIZATION_COLUMNS = [
    ("method", "method"),
    ("texts/s (median pass)", "median_rate"),
    ("p25–p75 of per-pass rates", "rate_p25_p75"),
    ("timed passes", "units"),
    ("vs keras_hub_tf_data", "ratio_to_keras_hub"),
    ("load 1 min, per round", "load_1min"),
    ("others' cores, per round", "others_cores"),
]


def finetune_section(report):
    options, facts = report["options"], report["facts"]
    ratios = ", ".join(f"{name} = {value}" for name, value in report["ratios"].items())
    return "\n".join([
        f"### Fine-tuning throughput ({options['preset']}, batch {options['batch_size']}, fixed length "
        f"{options['sequence_length']}; dynamic: max {options['dynamic_max_length']}; "
        f"{options['rounds']} rounds x {options['steps']} timed steps after {options['warmup_steps']} warm-up)",
        "",
        markdown_table(report["results"], FINETUNE_COLUMNS),
        "",
        f"Ratios (median-step rates): {ratios}.",
        f"The fixed-length batches hold {facts.get('fixed_mean_real_tokens', '-')} real tokens per text on "
        f"average, padded to {options['sequence_length']}; keras_dynamic pads to "
        f"{facts.get('dynamic_mean_padded_length', '-')} tokens per batch on average (one epoch of its "
        f"length-bucketed batches, truncation at {options['dynamic_max_length']}); "
        f"PyTorch attention implementation: {facts.get('torch_attention', '-')}.",
        f"JSON: `{report['json_path']}`",
    ])


def tokenization_section(report):
    options, agreement = report["options"], report["agreement"]
    ratios = ", ".join(f"{name} = {value}" for name, value in report["ratios"].items())
    identical = ", ".join(f"{pair}: {count}" for pair, count in agreement["identical"].items())
    mismatches = agreement["first_mismatch"] or "none"
    return "\n".join([
        f"### Tokenization throughput ({report['num_texts']:,} emotion texts, batch {options['batch_size']}, "
        f"max length {options['max_length']}; median of {options['rounds']} passes after a warm-up)",
        "",
        markdown_table(report["results"], TOKENIZATION_COLUMNS),
        "",
        f"Ratios: {ratios}.",
        f"Token ids identical on a random sample of {agreement['sample_size']}: {identical}; "
        f"first mismatch: {mismatches}.",
        f"JSON: `{report['json_path']}`",
    ])


DECODING_COLUMNS = [
    ("variant", "variant"),
    ("new tokens/s (median generation)", "median_rate"),
    ("p25–p75 of per-generation rates", "rate_p25_p75"),
    ("timed generations", "units"),
    ("vs torch", "ratio_to_torch"),
    ("load 1 min, per round", "load_1min"),
    ("others' cores, per round", "others_cores"),
]


def decoding_section(report):
    options, facts = report["options"], report["facts"]
    same = ", ".join(f"{variant}: {count}" for variant, count in facts["same_tokens_as_torch"].items()) or "-"
    return "\n".join([
        f"### Decoding speed ({options['preset']}, greedy, {options['new_tokens']} new tokens after a "
        f"{options['prompt_tokens']}-token prompt; {options['rounds']} rounds x {options['generations']} "
        "generations after a warm-up)",
        "",
        markdown_table(report["results"], DECODING_COLUMNS),
        "",
        f"New tokens equal to torch's, position by position: {same}; "
        f"PyTorch attention implementation: {facts.get('torch_attention', '-')}.",
        f"JSON: `{report['json_path']}`",
    ])


def notes(args, watch):
    """The entry's notes: the user's, and whether other processes shared the machine."""
    others = watch.total_cores()
    busiest = "; ".join(f"`{entry['command']}` ({entry['cores_used']} cores)" for entry in watch.busiest(0.1))
    shared = (
        f"Other processes used {others} of {usable_cores()} cores on average during the run "
        f"(busiest still running at the end: {busiest or 'none'}): figures are lower and noisier than on "
        "an idle machine; compare the ratios, not the absolute figures."
        if others > BUSY_OTHERS_CORES
        else f"The machine was otherwise idle (other processes used {others} cores on average)."
    )
    return " ".join(part for part in ("Quick smoke run." if args.quick else "", args.notes, shared) if part)


def entry(args, argv, machine, reports, watch):
    """The Markdown entry for RESULTS.md."""
    versions = ", ".join(f"{name} {version}" for name, version in machine["versions"].items())
    return "\n".join([
        f"## {machine['date'].replace('T', ' ')}{' (quick)' if args.quick else ''}",
        "",
        f"- Command: `{invocation(argv)}`",
        f"- Machine: {machine['cpu_model']}, {machine['usable_cores']} usable cores "
        f"({machine['logical_cores']} logical); {args.threads} threads for TensorFlow and PyTorch; {versions}.",
        f"- Load average (1, 5, 15 min) at start: {machine['load_average_at_start']}; at end: {load_average()}.",
        f"- Notes: {notes(args, watch)}",
        "",
        finetune_section(reports["finetune"]),
        "",
        tokenization_section(reports["tokenization"]),
        "",
        decoding_section(reports["decoding"]),
        "",
    ])


def append_entry(path, text):
    """Append `text` to the Markdown file at `path` (created if missing), one blank line before it."""
    path = Path(path)
    existing = path.read_text(encoding="utf-8").rstrip("\n") + "\n\n" if path.exists() else ""
    path.write_text(existing + text, encoding="utf-8")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    configure_threads(args.threads)
    watch = OtherProcessesWatch()
    machine = machine_info()
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    reports = {}
    for name, module, uses_data in BENCHMARKS:
        module_argv = benchmark_argv(args, name, stamp, uses_data)
        reports[name] = module.main(module_argv)
        reports[name]["json_path"] = module_argv[module_argv.index("--json") + 1]
    append_entry(args.results, entry(args, argv, machine, reports, watch))
    print(f"Appended an entry to {args.results}")


if __name__ == "__main__":
    main()
