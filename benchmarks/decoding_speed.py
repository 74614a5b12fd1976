"""Decoding speed: new tokens per second of greedy generation, tfnlp against transformers (PyTorch).

Variants, run side by side in one process on the same converted weights, in interleaved
rounds so that a busy spell on a shared machine falls on all of them:

- tfnlp: `tfnlp.generation.generate` (the lean key/value-cached decode step over the
  keras-hub model's weights), greedy.
- torch: `transformers.AutoModelForCausalLM.generate(do_sample=False)` with its default
  dynamic cache.
- keras_hub: keras-hub's own `CausalLM.generate` with the greedy sampler, from token ids
  padded to prompt + new tokens (its compiled while loop).

Every variant gets the same prompt (`--prompt-tokens` ids cut from the chapter's unicorn
text) and must produce exactly `--new-tokens` tokens: end-of-sequence does not stop any of
them. A generation's time includes the prompt's forward pass; the rate is new tokens
divided by it. Each round runs every variant `--generations` times after an untimed
warm-up in the first round (tracing, compilation). The report says whether the variants
produced the same tokens.

Example:
    python -m benchmarks.decoding_speed --rounds 3
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

VARIANTS = ("tfnlp", "torch", "keras_hub")
QUICK = {"new_tokens": 16, "rounds": 1, "generations": 1}
PROMPT_TEXT = (
    "In a shocking finding, scientist discovered a herd of unicorns living in a remote, previously "
    "unexplored valley, in the Andes Mountains. Even more surprising to the researchers was the fact "
    "that the unicorns spoke perfect English."
)


def build_parser():
    parser = benchmark_parser("benchmarks.decoding_speed", __doc__, "decoding", QUICK)
    add = parser.add_argument
    add("--preset", default="smollm2-135m", help="tfnlp causal LM preset or Hugging Face directory.")
    add("--prompt-tokens", type=int, default=32, help="prompt length in tokens.")
    add("--new-tokens", type=int, default=64, help="tokens generated per generation.")
    add("--generations", type=int, default=2, help="timed generations per variant and round.")
    add("--rounds", type=int, default=3, help="rounds; each runs every variant in turn.")
    add("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS), help="what to measure.")
    add("--threads", type=int, default=usable_cores(), help="threads for TensorFlow (intra-op) and PyTorch.")
    return parser


def parse_args(argv=None):
    return parse_benchmark_args(build_parser(), QUICK, argv)


def prompt_ids(preset, length):
    """`length` ids of the unicorn text (repeated if it is shorter), by the checkpoint's tokenizer."""
    from tfnlp.models.causal_lm import load_reference_tokenizer

    ids = load_reference_tokenizer(preset).encode(PROMPT_TEXT).ids
    return (ids * (length // len(ids) + 1))[:length]


def tfnlp_runner(causal_lm, ids, new_tokens):
    from tfnlp.generation import generate

    def run():
        return generate(causal_lm, ids, max_new_tokens=new_tokens, eos_token_ids=())["token_ids"]

    return run


def torch_runner(preset, ids, new_tokens):
    """transformers' greedy `generate` on the converted checkpoint; returns (run, attention implementation)."""
    import torch
    import transformers

    from tfnlp.models.causal_lm import resolve_causal_lm

    model = transformers.AutoModelForCausalLM.from_pretrained(resolve_causal_lm(preset)).eval()
    config = transformers.GenerationConfig(
        max_new_tokens=new_tokens, min_new_tokens=0, do_sample=False, eos_token_id=None,
        pad_token_id=model.generation_config.pad_token_id or 0,
    )
    inputs = torch.tensor([ids])
    mask = torch.ones_like(inputs)

    def run():
        with torch.no_grad():
            output = model.generate(inputs, attention_mask=mask, generation_config=config)
        return output[0, len(ids):].tolist()

    return run, model.config._attn_implementation


def keras_hub_runner(causal_lm, ids, new_tokens):
    """keras-hub's own greedy `generate` from token ids (its preprocessor is bypassed)."""
    length = len(ids) + new_tokens
    token_ids = np.zeros((1, length), dtype="int32")
    token_ids[0, : len(ids)] = ids
    padding_mask = np.zeros((1, length), dtype=bool)
    padding_mask[0, : len(ids)] = True
    inputs = {"token_ids": token_ids, "padding_mask": padding_mask}

    def run():
        preprocessor, causal_lm.preprocessor = causal_lm.preprocessor, None
        try:
            output = causal_lm.generate(inputs, stop_token_ids=None)
        finally:
            causal_lm.preprocessor = preprocessor
        return np.asarray(output["token_ids"])[0, len(ids):].tolist()

    return run


def build_runners(args, ids):
    """Variant name -> `run()` returning the new ids, plus facts about the variants."""
    runners, facts = {}, {}
    if {"tfnlp", "keras_hub"} & set(args.variants):
        from tfnlp.models.causal_lm import load_causal_lm

        causal_lm = load_causal_lm(args.preset, sampler="greedy")
    for variant in args.variants:
        if variant == "tfnlp":
            runners[variant] = tfnlp_runner(causal_lm, ids, args.new_tokens)
        elif variant == "torch":
            runners[variant], facts["torch_attention"] = torch_runner(args.preset, ids, args.new_tokens)
        else:
            runners[variant] = keras_hub_runner(causal_lm, ids, args.new_tokens)
    return runners, facts


def measure(runners, args):
    """Warm every variant up once, then run each `--generations` times per round, in turn.

    Returns variant -> timed generation seconds, variant -> per-round conditions, and
    variant -> the ids of its last generation.
    """
    outputs = {}
    for variant, run in runners.items():
        start = time.perf_counter()
        outputs[variant] = run()
        print(f"warm-up {variant}: {time.perf_counter() - start:.1f} s", flush=True)
    seconds = {variant: [] for variant in runners}
    conditions = {variant: {"load_1min": [], "others_cores": []} for variant in runners}
    for round_index in range(args.rounds):
        for variant, run in runners.items():
            conditions[variant]["load_1min"].append(load_average()[0])
            watch = OtherProcessesWatch()
            for _ in range(args.generations):
                start = time.perf_counter()
                outputs[variant] = run()
                seconds[variant].append(time.perf_counter() - start)
            conditions[variant]["others_cores"].append(watch.total_cores())
            print(f"round {round_index + 1}/{args.rounds} {variant}: "
                  f"{args.new_tokens / np.median(seconds[variant]):.1f} new tokens/s", flush=True)
    return seconds, conditions, outputs


def agreement(outputs):
    """For each variant, how many of its new tokens equal torch's, position by position."""
    reference = outputs.get("torch")
    if reference is None:
        return {}
    return {
        variant: f"{sum(a == b for a, b in zip(ids, reference))}/{len(reference)}"
        for variant, ids in outputs.items() if variant != "torch"
    }


def summarize(seconds, conditions, new_tokens):
    """Per-variant rows: new tokens/s (median generation) and the ratio to the torch variant."""
    rows = []
    for variant, times in seconds.items():
        summary = rate_summary(times, new_tokens)
        rows.append({"variant": variant, **summary, **conditions[variant]})
    torch_rate = next((row["median_rate"] for row in rows if row["variant"] == "torch"), None)
    for row in rows:
        row["ratio_to_torch"] = round(row["median_rate"] / torch_rate, 3) if torch_rate else None
    return rows


TABLE_COLUMNS = [
    ("variant", "variant"),
    ("new tokens/s (median generation)", "median_rate"),
    ("p25-p75", "rate_p25_p75"),
    ("median generation s", "median_seconds"),
    ("generations", "units"),
    ("vs torch", "ratio_to_torch"),
    ("load 1min per round", "load_1min"),
    ("others' cores per round", "others_cores"),
]


def run(args):
    """Measure every variant and return the report (a JSON-ready dict)."""
    configure_threads(args.threads)
    watch = OtherProcessesWatch()
    report = {"benchmark": "decoding_speed", "machine": machine_info(), "options": vars(args).copy()}
    ids = prompt_ids(args.preset, args.prompt_tokens)
    runners, facts = build_runners(args, ids)
    seconds, conditions, outputs = measure(runners, args)
    rows = summarize(seconds, conditions, args.new_tokens)
    return finish_report(
        report,
        watch,
        facts={**facts, "same_tokens_as_torch": agreement(outputs)},
        results=rows,
        generation_seconds=seconds,
    )


def print_report(report):
    print(format_table(report["results"], TABLE_COLUMNS))
    print("facts:", report["facts"])
    print_load(report)


def main(argv=None):
    return benchmark_main(parse_args, run, print_report, "decoding", argv)


if __name__ == "__main__":
    main(sys.argv[1:])
