"""ONNX Runtime latency of one short query: tf2onnx's graph against tfnlp's export, fp32 and int8.

Variants, built from the same Keras classifier and run side by side in one process,
in interleaved rounds (a busy spell on a shared machine falls on all of them):

- `tf2onnx int8`: the graph as tf2onnx writes it (`export_onnx(..., optimize=False)`)
  quantized by `onnxruntime.quantization.quantize_dynamic` directly (per channel):
  what tfnlp exported before its graph rewrites.
- `tfnlp int8`: `export_onnx` (constant shapes folded, dense products unflattened,
  layer norms fused) + `quantize_dynamic_int8` (constants folded, `Gemm` as `MatMul`,
  so every weight matrix is int8).
- `tfnlp fp32`: `export_onnx` alone.

Each runs with 1 intra-op thread and with all usable cores. A call is one
`session.run` on the token ids of `--query` (tokenization, ~0.02 ms with the fast
tokenizer, is outside the graph and the same for all). The model is `--model`
(a `.keras` classifier, e.g. a run's distilled student) or, by default, a
3-layer student of MiniLM-L6 with 151 labels (random head: latency does not
depend on the weights' values).

Example:
    python -m benchmarks.onnx_latency --model saved_models/intent-distill-s14/model.keras
"""

import os
import sys
import tempfile
import time

import numpy as np

from benchmarks import (
    OtherProcessesWatch,
    benchmark_main,
    benchmark_parser,
    finish_report,
    format_table,
    load_average,
    machine_info,
    parse_benchmark_args,
    print_load,
    usable_cores,
)

QUERY = "What is the pin number for my account?"
QUICK = {"rounds": 1, "calls": 20}
_NUMPY_TYPES = {"tensor(int32)": np.int32, "tensor(int64)": np.int64, "tensor(bool)": np.bool_}


def build_parser():
    parser = benchmark_parser("benchmarks.onnx_latency", __doc__, "onnx-latency", QUICK)
    add = parser.add_argument
    add("--model", help="a .keras text classifier (default: 3-layer MiniLM-L6 student, 151 labels).")
    add("--query", default=QUERY, help="the text whose token ids are fed.")
    add("--rounds", type=int, default=5, help="rounds; each runs every variant in turn.")
    add("--calls", type=int, default=200, help="timed calls per variant and round.")
    return parser


def parse_args(argv=None):
    return parse_benchmark_args(build_parser(), QUICK, argv)


def load_classifier(path):
    if path:
        from tfnlp.export.saving import load_trained_model

        return load_trained_model(path)
    from tfnlp.models.classifier import EncoderClassifier
    from tfnlp.models.students import student_classifier

    teacher = EncoderClassifier.from_preset("minilm-l6", [f"intent_{i}" for i in range(151)], sequence_length=64)
    return student_classifier(teacher)


def export_variants(classifier, folder):
    """Variant name -> ONNX file, all from `classifier`."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from tfnlp.export.onnx import export_onnx, quantize_dynamic_int8

    raw = export_onnx(classifier, os.path.join(folder, "tf2onnx.onnx"), optimize=False)
    raw_int8 = os.path.join(folder, "tf2onnx.int8.onnx")
    quantize_dynamic(raw, raw_int8, weight_type=QuantType.QInt8, per_channel=True)
    fused = export_onnx(classifier, os.path.join(folder, "tfnlp.onnx"))
    return {"tf2onnx int8": raw_int8, "tfnlp int8": quantize_dynamic_int8(fused), "tfnlp fp32": fused}


def query_feed(classifier, query):
    """The ONNX inputs for `query`, from the classifier's own preprocessor."""
    features = classifier.preprocessor([query])
    return {name: np.asarray(value) for name, value in features.items()}


def sessions(paths, feed):
    """(variant, threads) -> (session, feed in its input types)."""
    import onnxruntime

    runners = {}
    for variant, path in paths.items():
        for threads in sorted({1, usable_cores()}):
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
            types = {spec.name: spec.type for spec in session.get_inputs()}
            typed = {name: feed[name].astype(_NUMPY_TYPES[kind]) for name, kind in types.items()}
            runners[(variant, threads)] = (session, typed)
    return runners



def measure(runners, args):
    """Per (variant, threads): every timed call's seconds, and the load before each round."""
    for session, feed in runners.values():
        for _ in range(20):
            session.run(None, feed)
    seconds = {key: [] for key in runners}
    loads = {key: [] for key in runners}
    for round_index in range(args.rounds):
        for key, (session, feed) in runners.items():
            loads[key].append(load_average()[0])
            for _ in range(args.calls):
                start = time.perf_counter()
                session.run(None, feed)
                seconds[key].append(time.perf_counter() - start)
        print(f"round {round_index + 1}/{args.rounds} done", flush=True)
    return seconds, loads


def graph_facts(paths, runners, reference_variant="tfnlp fp32"):
    """Per variant: file size, node count, and its largest logit difference to `reference_variant`."""
    import onnx

    facts = {}
    logits = {variant: runners[(variant, 1)][0].run(None, runners[(variant, 1)][1])[0] for variant in paths}
    for variant, path in paths.items():
        facts[variant] = {
            "size_mb": round(os.path.getsize(path) / 2**20, 2),
            "nodes": len(onnx.load(path).graph.node),
            "max_logit_difference_to_fp32": float(np.abs(logits[variant] - logits[reference_variant]).max()),
        }
    return facts


def summarize(seconds, loads):
    rows = []
    for (variant, threads), times in seconds.items():
        times_ms = 1000 * np.asarray(times)
        rows.append({"variant": variant, "threads": threads, "median_ms": round(float(np.median(times_ms)), 3),
                     "p25_p75_ms": [round(float(np.percentile(times_ms, q)), 3) for q in (25, 75)],
                     "calls": int(times_ms.size), "load_1min": loads[(variant, threads)]})
    baseline = {row["threads"]: row["median_ms"] for row in rows if row["variant"] == "tf2onnx int8"}
    for row in rows:
        row["speedup_vs_tf2onnx_int8"] = round(baseline[row["threads"]] / row["median_ms"], 3)
    return rows


TABLE_COLUMNS = [
    ("variant", "variant"),
    ("threads", "threads"),
    ("median ms", "median_ms"),
    ("p25-p75 ms", "p25_p75_ms"),
    ("calls", "calls"),
    ("speed-up vs tf2onnx int8", "speedup_vs_tf2onnx_int8"),
    ("load 1min per round", "load_1min"),
]


def run(args):
    watch = OtherProcessesWatch()
    report = {"benchmark": "onnx_latency", "machine": machine_info(), "options": vars(args).copy()}
    classifier = load_classifier(args.model)
    feed = query_feed(classifier, args.query)
    with tempfile.TemporaryDirectory() as folder:
        paths = export_variants(classifier, folder)
        runners = sessions(paths, feed)
        facts = graph_facts(paths, runners)
        seconds, loads = measure(runners, args)
    facts["query_tokens"] = int(next(iter(feed.values())).shape[1])
    return finish_report(report, watch, facts=facts, results=summarize(seconds, loads))


def print_report(report):
    print(format_table(report["results"], TABLE_COLUMNS))
    print("facts:", report["facts"])
    print_load(report)


def main(argv=None):
    return benchmark_main(parse_args, run, print_report, "onnx-latency", argv)


if __name__ == "__main__":
    main(sys.argv[1:])
