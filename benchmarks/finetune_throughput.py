"""Fine-tuning throughput: tfnlp (Keras `fit`) against PyTorch/transformers on the same weights.

Variants, run side by side in one process, in interleaved rounds so that a busy spell on
a shared machine falls on all of them:

- keras: `EncoderClassifier.from_preset(...)` compiled with `tfnlp.training.adamw`, trained
  with `model.fit` on pre-tokenized batches padded to exactly `--sequence-length`
  (the classifier's preprocessor is set to None, so `fit` gets token ids).
- keras_xla: the same with `compile(jit_compile=True)`.
- keras_bf16: the keras variant built under `--precision mixed_bfloat16`
  (`tfnlp.training.set_precision`): bfloat16 arithmetic, float32 weights.
- torch: `transformers.AutoModelForSequenceClassification` on the same checkpoint and the
  same token ids, in a plain loop (forward, loss, backward, clip, AdamW step, zero_grad).
- keras_dynamic: tfnlp's own training path on raw strings: `text_dataset(...,
  bucket_by_length=True)` and the classifier's `DynamicPaddingPreprocessor` (truncation
  at `--dynamic-max-length`), so batches are padded only to their longest text.

Both optimizers do the same work: AdamW, weight decay 0.01 except biases and LayerNorm,
gradient-norm clipping at 1.0, linear warm-up then decay. Each round runs
`--warmup-steps` untimed steps, then `--steps` timed ones; a step's time is the wall time
between consecutive batch ends (Keras) or of forward-to-zero_grad (PyTorch).

Example:
    python -m benchmarks.finetune_throughput --steps 30 --rounds 3
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

VARIANTS = ("keras", "keras_xla", "keras_bf16", "torch", "keras_dynamic")
QUICK = {"steps": 5, "warmup_steps": 2, "rounds": 1}
WEIGHT_DECAY = 0.01
CLIPNORM = 1.0
WARMUP_RATIO = 0.1


def build_parser():
    parser = benchmark_parser("benchmarks.finetune_throughput", __doc__, "finetune", QUICK)
    add = parser.add_argument
    add("--preset", default="minilm-l6", help="tfnlp preset (a BERT checkpoint in Hugging Face format).")
    add("--batch-size", type=int, default=32, help="examples per training step.")
    add("--sequence-length", type=int, default=64, help="fixed length of every batch (keras, keras_xla, torch).")
    add("--dynamic-max-length", type=int, default=128, help="truncation limit of the keras_dynamic variant.")
    add("--learning-rate", type=float, default=5e-5, help="peak AdamW learning rate.")
    add("--steps", type=int, default=30, help="timed steps per variant and round.")
    add("--warmup-steps", type=int, default=5, help="untimed steps before the timed ones, in every round.")
    add("--rounds", type=int, default=3, help="rounds; each runs every variant once, in turn.")
    add("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS), help="what to measure.")
    add("--threads", type=int, default=usable_cores(), help="threads for TensorFlow (intra-op) and PyTorch.")
    add("--data-dir", help="folder holding emotion/ (default: tfnlp's search path).")
    add("--seed", type=int, default=42, help="random seed.")
    return parser


def parse_args(argv=None):
    return parse_benchmark_args(build_parser(), QUICK, argv)


def load_emotion(data_dir):
    """The emotion training texts, their label ids and the label names."""
    from tfnlp.data import dataset_info, load_dataset

    frame = load_dataset("emotion", split="train", data_dir=data_dir)
    return frame["text"].tolist(), frame["label"].to_numpy(), list(dataset_info("emotion").label_names)


def fixed_length_inputs(preset, texts, sequence_length):
    """Token ids, segment ids and padding masks of `texts`, each padded or truncated to `sequence_length`.

    Uses the preset's own in-graph tokenizer with keras-hub's BERT packer (the parent
    of tfnlp's `DynamicPaddingPreprocessor`, which pads to a fixed length).
    """
    import keras_hub
    import tensorflow as tf

    from tfnlp.models.encoders import load_tokenizer

    packer = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer=load_tokenizer(preset), sequence_length=sequence_length
    )
    batches = tf.data.Dataset.from_tensor_slices(texts).batch(256).map(packer)
    parts = list(batches.as_numpy_iterator())
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def step_timer():
    """A Keras callback that keeps wall-clock marks in `.marks`: `fit`'s start, then every batch end."""
    import keras

    class StepTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.marks = [time.perf_counter()]

        def on_train_batch_end(self, batch, logs=None):
            self.marks.append(time.perf_counter())

    return StepTimer()


def keras_runner(classifier, dataset, warmup_steps):
    """A function `run(steps)` that trains `classifier` with `fit` and returns the timed step seconds."""
    timer = step_timer()

    def run(steps):
        classifier.fit(
            dataset, epochs=1, steps_per_epoch=warmup_steps + steps, shuffle=False, callbacks=[timer], verbose=0
        )
        return np.diff(timer.marks)[warmup_steps:].tolist()

    return run


def keras_classifier(args, label_names, sequence_length, total_steps, jit_compile):
    """`EncoderClassifier.from_preset` compiled with tfnlp's AdamW (task loss and accuracy metric)."""
    from tfnlp.models.classifier import EncoderClassifier
    from tfnlp.training import adamw

    classifier = EncoderClassifier.from_preset(args.preset, label_names=label_names, sequence_length=sequence_length)
    optimizer = adamw(args.learning_rate, total_steps, WARMUP_RATIO, WEIGHT_DECAY, CLIPNORM)
    classifier.compile(optimizer=optimizer, jit_compile=jit_compile)
    return classifier


def fixed_keras_setup(args, inputs, labels, label_names, total_steps, jit_compile, precision="float32"):
    """The keras / keras_xla / keras_bf16 variant: token-id batches of fixed shape, preprocessor off."""
    import tensorflow as tf

    from tfnlp.training import set_precision

    set_precision(precision)
    classifier = keras_classifier(args, label_names, args.sequence_length, total_steps, jit_compile)
    set_precision("float32")  # the next variant's default
    classifier.preprocessor = None
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(args.batch_size, drop_remainder=True)
    return keras_runner(classifier, dataset.repeat().prefetch(tf.data.AUTOTUNE), args.warmup_steps)


def dynamic_keras_setup(args, texts, labels, label_names, total_steps):
    """The keras_dynamic variant: raw strings, length buckets, padding to each batch's longest text."""
    from tfnlp.data.pipeline import text_dataset

    classifier = keras_classifier(args, label_names, args.dynamic_max_length, total_steps, jit_compile=False)
    dataset = text_dataset(texts, labels, args.batch_size, shuffle=True, seed=args.seed, bucket_by_length=True)
    return keras_runner(classifier, dataset.repeat(), args.warmup_steps), classifier.preprocessor


def mean_padded_length(preprocessor, texts, labels, args):
    """Mean padded length of one epoch of the keras_dynamic variant's batches (tokenization only)."""
    import tensorflow as tf

    from tfnlp.data.pipeline import text_dataset

    dataset = text_dataset(texts, labels, args.batch_size, shuffle=True, seed=args.seed, bucket_by_length=True)
    lengths = dataset.map(lambda x, y: tf.shape(preprocessor(x)["token_ids"])[1], num_parallel_calls=tf.data.AUTOTUNE)
    return round(float(np.mean(list(lengths.as_numpy_iterator()))), 1)


def torch_setup(args, inputs, labels, num_labels, total_steps):
    """The torch variant: the same checkpoint and token ids in a plain PyTorch training loop."""
    import torch
    import transformers

    from tfnlp.presets import resolve_preset

    torch.manual_seed(args.seed)
    transformers.logging.set_verbosity_error()  # not the expected "classifier weights newly initialized"
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        resolve_preset(args.preset), num_labels=num_labels
    )
    model.train()
    optimizer = torch.optim.AdamW(torch_parameter_groups(model), lr=args.learning_rate)
    scheduler = transformers.get_linear_schedule_with_warmup(optimizer, int(WARMUP_RATIO * total_steps), total_steps)
    batches = torch_batches(inputs, labels, args.batch_size)

    def run(steps):
        batch_order = [batches[i % len(batches)] for i in range(args.warmup_steps + steps)]
        seconds = [torch_step(model, optimizer, scheduler, batch) for batch in batch_order]
        return seconds[args.warmup_steps :]

    return run, model.config._attn_implementation


def torch_parameter_groups(model):
    """AdamW groups: weight decay on all weights but biases and LayerNorm (as `tfnlp.training.adamw`)."""
    decayed, not_decayed = [], []
    for name, parameter in model.named_parameters():
        exempt = name.endswith("bias") or "LayerNorm" in name
        (not_decayed if exempt else decayed).append(parameter)
    return [{"params": decayed, "weight_decay": WEIGHT_DECAY}, {"params": not_decayed, "weight_decay": 0.0}]


def torch_batches(inputs, labels, batch_size):
    """The fixed-length arrays as a list of transformers keyword batches (full batches only)."""
    import torch

    count = len(labels) // batch_size
    names = {"token_ids": "input_ids", "segment_ids": "token_type_ids", "padding_mask": "attention_mask"}
    batches = []
    for i in range(count):
        rows = slice(i * batch_size, (i + 1) * batch_size)
        batch = {hf_name: torch.as_tensor(inputs[key][rows]).long() for key, hf_name in names.items()}
        batches.append({**batch, "labels": torch.as_tensor(labels[rows]).long()})
    return batches


def torch_step(model, optimizer, scheduler, batch):
    """One training step; returns its wall-clock seconds."""
    import torch

    start = time.perf_counter()
    loss = model(**batch).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), CLIPNORM)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad()
    return time.perf_counter() - start


def build_runners(args, texts, labels, label_names):
    """Variant name -> `run(steps)`, plus facts about the variants for the report."""
    total_steps = args.rounds * (args.warmup_steps + args.steps)
    needed = args.batch_size * (args.warmup_steps + args.steps)
    runners, facts = {}, {}
    if {"keras", "keras_xla", "keras_bf16", "torch"} & set(args.variants):
        inputs = fixed_length_inputs(args.preset, texts[:needed], args.sequence_length)
        fixed_labels = labels[:needed].astype("int32")
        facts["fixed_mean_real_tokens"] = round(float(inputs["padding_mask"].sum(axis=1).mean()), 1)
    for variant in args.variants:
        if variant in ("keras", "keras_xla", "keras_bf16"):
            runners[variant] = fixed_keras_setup(
                args, inputs, fixed_labels, label_names, total_steps, jit_compile=variant == "keras_xla",
                precision="mixed_bfloat16" if variant == "keras_bf16" else "float32",
            )
        elif variant == "torch":
            runners[variant], facts["torch_attention"] = torch_setup(
                args, inputs, fixed_labels, len(label_names), total_steps
            )
        else:
            runners[variant], preprocessor = dynamic_keras_setup(args, texts, labels, label_names, total_steps)
            facts["dynamic_mean_padded_length"] = mean_padded_length(preprocessor, texts, labels, args)
    return runners, facts


def measure(runners, args):
    """Run every variant once per round, in turn.

    Returns variant -> timed step seconds, and variant -> per-round conditions: the
    1-minute load average before the round and the cores other processes used during it.
    """
    seconds = {variant: [] for variant in runners}
    conditions = {variant: {"load_1min": [], "others_cores": []} for variant in runners}
    for round_index in range(args.rounds):
        for variant, run in runners.items():
            conditions[variant]["load_1min"].append(load_average()[0])
            watch = OtherProcessesWatch()
            seconds[variant] += run(args.steps)
            conditions[variant]["others_cores"].append(watch.total_cores())
            print(f"round {round_index + 1}/{args.rounds} {variant}: median step "
                  f"{np.median(seconds[variant]):.3f} s", flush=True)
    return seconds, conditions


def summarize(seconds, conditions, batch_size):
    """Per-variant rows: examples/s (median step) and the ratio to the torch variant."""
    rows = []
    for variant, times in seconds.items():
        summary = rate_summary(times, batch_size)
        rows.append({"variant": variant, **summary, **conditions[variant]})
    torch_rate = next((row["median_rate"] for row in rows if row["variant"] == "torch"), None)
    for row in rows:
        row["ratio_to_torch"] = round(row["median_rate"] / torch_rate, 3) if torch_rate else None
    return rows


def ratios(rows):
    """The ratios worth quoting, by name."""
    rate = {row["variant"]: row["median_rate"] for row in rows}
    pairs = {
        "keras/torch": ("keras", "torch"),
        "keras_xla/torch": ("keras_xla", "torch"),
        "keras_xla/keras": ("keras_xla", "keras"),
        "keras_bf16/keras": ("keras_bf16", "keras"),
        "keras_dynamic/torch": ("keras_dynamic", "torch"),
        "keras_dynamic/keras": ("keras_dynamic", "keras"),
    }
    return {name: round(rate[a] / rate[b], 3) for name, (a, b) in pairs.items() if a in rate and b in rate}


TABLE_COLUMNS = [
    ("variant", "variant"),
    ("examples/s (median step)", "median_rate"),
    ("p25-p75", "rate_p25_p75"),
    ("examples/s (overall)", "overall_rate"),
    ("median step s", "median_seconds"),
    ("steps", "units"),
    ("vs torch", "ratio_to_torch"),
    ("load 1min per round", "load_1min"),
    ("others' cores per round", "others_cores"),
]


def run(args):
    """Measure every variant and return the report (a JSON-ready dict)."""
    configure_threads(args.threads)
    watch = OtherProcessesWatch()
    report = {"benchmark": "finetune_throughput", "machine": machine_info(), "options": vars(args).copy()}
    texts, labels, label_names = load_emotion(args.data_dir)
    runners, facts = build_runners(args, texts, labels, label_names)
    seconds, conditions = measure(runners, args)
    rows = summarize(seconds, conditions, args.batch_size)
    return finish_report(
        report,
        watch,
        facts=facts,
        results=rows,
        ratios=ratios(rows),
        step_seconds=seconds,
    )


def print_report(report):
    print(format_table(report["results"], TABLE_COLUMNS))
    print("ratios:", report["ratios"])
    print("facts:", report["facts"])
    print_load(report)


def main(argv=None):
    return benchmark_main(parse_args, run, print_report, "finetune", argv)


if __name__ == "__main__":
    main(sys.argv[1:])
