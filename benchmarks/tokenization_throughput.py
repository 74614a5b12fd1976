"""Tokenization throughput of tfnlp's input pipeline against the Hugging Face tokenizers.

Methods, each timed over every emotion training text, in interleaved rounds:

- keras_hub_tf_data: tfnlp's preprocessor (`load_preprocessor`: keras-hub's tf-text WordPiece
  tokenizer with packing and dynamic padding) mapped over batches inside `tf.data`
  (`num_parallel_calls=AUTOTUNE`, prefetch); output: padded model inputs.
- tokenizers: the Rust fast tokenizer from the preset's tokenizer.json, padding off,
  `encode_batch` per batch; output: token ids per text.
- transformers: `AutoTokenizer` on the same directory, called on each batch, padding off;
  output: Python lists of ids.

All three truncate at `--max-length` and add [CLS]/[SEP]. The token ids of a random sample
are compared between the three, and the agreement counts reported.

Example:
    python -m benchmarks.tokenization_throughput --rounds 3
"""

import sys
import time

import numpy as np

from benchmarks import (
    OtherProcessesWatch,
    benchmark_main,
    benchmark_parser,
    configure_threads,
    finish_report,
    format_table,
    load_average,
    machine_info,
    parse_benchmark_args,
    print_load,
    rate_summary,
    usable_cores,
)

METHODS = ("keras_hub_tf_data", "tokenizers", "transformers")
QUICK = {"num_texts": 2000, "rounds": 1, "check_size": 200}
WARMUP_TEXTS = 1000


def build_parser():
    parser = benchmark_parser("benchmarks.tokenization_throughput", __doc__, "tokenization", QUICK)
    add = parser.add_argument
    add("--preset", default="minilm-l6", help="tfnlp preset whose tokenizer is measured.")
    add("--batch-size", type=int, default=32, help="texts per batch, for every method.")
    add("--max-length", type=int, default=128, help="truncation limit in tokens, [CLS] and [SEP] included.")
    add("--num-texts", type=int, help="use only the first N training texts (default: all 16,000).")
    add("--rounds", type=int, default=3, help="timed passes over the texts per method, taken in turn.")
    add("--check-size", type=int, default=1000, help="texts in the token-id agreement sample.")
    add("--threads", type=int, default=usable_cores(), help="TensorFlow intra-op (and PyTorch) threads.")
    add("--data-dir", help="folder holding emotion/ (default: tfnlp's search path).")
    add("--seed", type=int, default=42, help="seed of the agreement sample.")
    return parser


def parse_args(argv=None):
    return parse_benchmark_args(build_parser(), QUICK, argv)


def load_texts(data_dir, num_texts):
    """The emotion training texts (the first `num_texts`, or all)."""
    from tfnlp.data import load_dataset

    texts = load_dataset("emotion", split="train", data_dir=data_dir)["text"].tolist()
    return texts[:num_texts] if num_texts else texts


def batches(texts, batch_size):
    return [texts[i : i + batch_size] for i in range(0, len(texts), batch_size)]


def keras_hub_tokenize(args):
    """`tokenize(texts)` through tfnlp's preprocessor in a `tf.data` map; returns the padded batches."""
    import tensorflow as tf

    from tfnlp.models.encoders import load_preprocessor

    preprocessor = load_preprocessor(args.preset, sequence_length=args.max_length)

    def tokenize(texts):
        dataset = (
            tf.data.Dataset.from_tensor_slices(texts)
            .batch(args.batch_size)
            .map(preprocessor, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE)
        )
        return list(dataset)

    return tokenize


def tokenizers_tokenize(args):
    """`tokenize(texts)` with the Rust tokenizer of tokenizer.json, padding off; returns the encodings."""
    import tokenizers

    from tfnlp.presets import resolve_preset

    tokenizer = tokenizers.Tokenizer.from_file(str(resolve_preset(args.preset) / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(args.max_length)

    def tokenize(texts):
        return [encoding for batch in batches(texts, args.batch_size) for encoding in tokenizer.encode_batch(batch)]

    return tokenize


def transformers_tokenize(args):
    """`tokenize(texts)` with `AutoTokenizer` batch calls, padding off; returns the id lists."""
    import transformers

    from tfnlp.presets import resolve_preset

    tokenizer = transformers.AutoTokenizer.from_pretrained(resolve_preset(args.preset))

    def tokenize(texts):
        return [
            ids
            for batch in batches(texts, args.batch_size)
            for ids in tokenizer(batch, truncation=True, max_length=args.max_length)["input_ids"]
        ]

    return tokenize


def token_ids(method, output):
    """The token ids per text, without padding, from a method's output."""
    if method == "keras_hub_tf_data":
        return [
            row[mask].tolist()
            for batch in output
            for row, mask in zip(batch["token_ids"].numpy(), batch["padding_mask"].numpy())
        ]
    if method == "tokenizers":
        return [encoding.ids for encoding in output]
    return [list(ids) for ids in output]


def agreement(tokenizers_by_method, texts, check_size, seed):
    """How many texts of a random sample get identical ids from each pair of methods."""
    sample_indices = np.random.default_rng(seed).choice(len(texts), min(check_size, len(texts)), replace=False)
    sample = [texts[i] for i in sorted(sample_indices)]
    ids = {method: token_ids(method, tokenize(sample)) for method, tokenize in tokenizers_by_method.items()}
    methods = list(ids)
    counts, first_mismatch = {}, {}
    for i, a in enumerate(methods):
        for b in methods[i + 1 :]:
            same = [x == y for x, y in zip(ids[a], ids[b])]
            counts[f"{a}=={b}"] = f"{sum(same)}/{len(sample)}"
            if not all(same):
                k = same.index(False)
                first_mismatch[f"{a}!={b}"] = {"text": sample[k], a: ids[a][k], b: ids[b][k]}
    return {"sample_size": len(sample), "identical": counts, "first_mismatch": first_mismatch}


def measure(tokenizers_by_method, texts, rounds):
    """One untimed warm-up, then `rounds` timed passes per method in turn.

    Returns method -> pass seconds, and method -> per-round conditions: the 1-minute
    load average before the pass and the cores other processes used during it.
    """
    for tokenize in tokenizers_by_method.values():
        tokenize(texts[:WARMUP_TEXTS])
    seconds = {method: [] for method in tokenizers_by_method}
    conditions = {method: {"load_1min": [], "others_cores": []} for method in tokenizers_by_method}
    for round_index in range(rounds):
        for method, tokenize in tokenizers_by_method.items():
            conditions[method]["load_1min"].append(load_average()[0])
            watch = OtherProcessesWatch()
            start = time.perf_counter()
            tokenize(texts)
            seconds[method].append(time.perf_counter() - start)
            conditions[method]["others_cores"].append(watch.total_cores())
            print(f"round {round_index + 1}/{rounds} {method}: {seconds[method][-1]:.2f} s", flush=True)
    return seconds, conditions


def summarize(seconds, conditions, num_texts):
    """Per-method rows: texts/s (median pass) and the ratio to the keras-hub pipeline."""
    rows = [
        {"method": method, **rate_summary(times, num_texts), **conditions[method]}
        for method, times in seconds.items()
    ]
    reference = rows[0]["median_rate"]
    for row in rows:
        row["ratio_to_keras_hub"] = round(row["median_rate"] / reference, 3)
    return rows


TABLE_COLUMNS = [
    ("method", "method"),
    ("texts/s (median pass)", "median_rate"),
    ("p25-p75", "rate_p25_p75"),
    ("median pass s", "median_seconds"),
    ("passes", "units"),
    ("vs keras_hub", "ratio_to_keras_hub"),
    ("load 1min per round", "load_1min"),
    ("others' cores per round", "others_cores"),
]


def run(args):
    """Measure every method and check their agreement; returns the report (a JSON-ready dict)."""
    configure_threads(args.threads)
    watch = OtherProcessesWatch()
    report = {"benchmark": "tokenization_throughput", "machine": machine_info(), "options": vars(args).copy()}
    texts = load_texts(args.data_dir, args.num_texts)
    tokenizers_by_method = {
        "keras_hub_tf_data": keras_hub_tokenize(args),
        "tokenizers": tokenizers_tokenize(args),
        "transformers": transformers_tokenize(args),
    }
    seconds, conditions = measure(tokenizers_by_method, texts, args.rounds)
    rows = summarize(seconds, conditions, len(texts))
    return finish_report(
        report,
        watch,
        num_texts=len(texts),
        results=rows,
        ratios={f"{row['method']}/keras_hub_tf_data": row["ratio_to_keras_hub"] for row in rows[1:]},
        agreement=agreement(tokenizers_by_method, texts, args.check_size, args.seed),
        pass_seconds=seconds,
    )


def print_report(report):
    print(format_table(report["results"], TABLE_COLUMNS))
    print(f"texts per pass: {report['num_texts']}")
    print("token-id agreement:", report["agreement"]["identical"])
    for pair, example in report["agreement"]["first_mismatch"].items():
        print(f"  first mismatch {pair}: {example}")
    print_load(report)


def main(argv=None):
    return benchmark_main(parse_args, run, print_report, "tokenization", argv)


if __name__ == "__main__":
    main(sys.argv[1:])
