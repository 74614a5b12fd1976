"""Generate text with a pretrained causal LM (the text-generation chapter), SmolLM2-135M-Instruct by default.

Without --prompt: the chapter's experiments. A greedy trace of "Transformers are the"
(the five most likely tokens per step); on the unicorn news prompt, greedy search, beam
search (5 beams) and beam search with no repeated bigrams, with their log-probabilities;
sampling at temperature 2.0 and 0.5, top-k (50), top-p (0.90), and both; the
next-token distribution with the top-k and top-p cuts, and the effect of temperature.

With --prompt: one generation of that prompt with the --decoding strategy. --chat
wraps every prompt in the instruct model's chat template first.

Writes generations.json (every text with its options, log-probability and speed),
metrics.json, trace.csv and plots/ into the run folder.
"""

import time

import numpy as np

from tfnlp.cli import parse_args, recipe_parser, run_recipe
from tfnlp.generation import (
    DECODING_STRATEGIES,
    apply_chat_template,
    generate,
    greedy_trace,
    next_token_distribution_plot,
    next_token_probabilities,
    strategy_options,
    temperature_plot,
)
from tfnlp.models.causal_lm import load_causal_lm
from tfnlp.runs import RunDir, write_json

TRACE_PROMPT = "Transformers are the"
UNICORN_PROMPT = (
    "In a shocking finding, scientist discovered a herd of unicorns living in a remote, previously "
    "unexplored valley, in the Andes Mountains. Even more surprising to the researchers was the fact "
    "that the unicorns spoke perfect English."
)
# (name, strategy, overrides of the command-line settings): the chapter's runs on the unicorn prompt.
CHAPTER_RUNS = [
    ("greedy", "greedy", {}),
    ("beam", "beam", {}),
    ("beam_no_repeat", "beam-no-repeat", {}),
    ("sample_temperature_2.0", "sample", {"temperature": 2.0}),
    ("sample_temperature_0.5", "sample", {"temperature": 0.5}),
    ("top_k", "top-k", {}),
    ("top_p", "top-p", {}),
    ("top_k_top_p", "top-k-top-p", {}),
]
FAST_NEW_TOKENS = 24


def build_parser():
    parser = recipe_parser(__doc__, model="smollm2-135m")
    add = parser.add_argument
    add("--prompt", help="generate from this prompt only (with --decoding) instead of the chapter's experiments.")
    add("--decoding", choices=DECODING_STRATEGIES, default="greedy", help="decoding strategy for --prompt.")
    add("--chat", action="store_true", help="wrap each prompt in the instruct model's chat template (a user turn).")
    add("--max-new-tokens", type=int, default=128, help=f"most tokens generated per text (--fast: {FAST_NEW_TOKENS}).")
    add("--num-beams", type=int, default=5, help="beams of beam search.")
    add("--no-repeat-ngram-size", type=int, default=2, help="n-gram size never repeated by beam-no-repeat.")
    add("--temperature", type=float, default=1.0, help="sampling temperature of the sample/top-k/top-p strategies.")
    add("--top-k", type=int, default=50, help="k of top-k sampling.")
    add("--top-p", type=float, default=0.90, help="p of top-p (nucleus) sampling.")
    add("--trace-steps", type=int, default=8, help="steps of the greedy trace table.")
    return parser


def options_for(args, strategy, **overrides):
    settings = {
        "num_beams": args.num_beams, "no_repeat_ngram_size": args.no_repeat_ngram_size,
        "temperature": args.temperature, "top_k": args.top_k, "top_p": args.top_p, "seed": args.seed,
    }
    return {"max_new_tokens": args.max_new_tokens, **strategy_options(strategy, **{**settings, **overrides})}


def timed_generation(causal_lm, name, prompt, options):
    start = time.perf_counter()
    result = generate(causal_lm, prompt, **options)
    seconds = time.perf_counter() - start
    print(f"\n=== {name} {options}\n{result['generated_text']}\n"
          f"(log-probability {result['logprob']:.2f}, {len(result['token_ids'])} new tokens in {seconds:.1f} s)")
    return {"name": name, "options": options, **result, "seconds": round(seconds, 3),
            "new_tokens_per_second": round(len(result["token_ids"]) / seconds, 2)}


def chapter_experiments(causal_lm, args, run, prompt_text):
    trace_prompt, unicorn_prompt = prompt_text(TRACE_PROMPT), prompt_text(UNICORN_PROMPT)
    trace = greedy_trace(causal_lm, trace_prompt, steps=args.trace_steps)
    trace.to_csv(run.file("trace.csv"), index=False)
    print(trace.to_string(max_colwidth=40))
    generations = [timed_generation(causal_lm, "trace_prompt_greedy", trace_prompt,
                                    {"max_new_tokens": args.trace_steps})]
    generations += [timed_generation(causal_lm, name, unicorn_prompt, options_for(args, strategy, **overrides))
                    for name, strategy, overrides in CHAPTER_RUNS]
    probabilities = next_token_probabilities(causal_lm, unicorn_prompt)
    next_token_distribution_plot(probabilities, run.file("plots/next_token_distribution.png"),
                                 top_k=args.top_k, top_p=args.top_p, title="Next token after the unicorn prompt")
    temperature_plot(np.log(probabilities.clip(1e-30)), run.file("plots/temperature.png"))
    return generations, {"greedy_trace": trace.to_dict(orient="records")}


def summary(generations):
    return {
        generation["name"]: {key: generation.get(key) for key in
                             ("logprob", "score", "new_tokens_per_second", "finished")}
        | {"new_tokens": len(generation["token_ids"])}
        for generation in generations
    }


def main(argv=None):
    args = parse_args(build_parser(), argv)
    if args.fast:
        args.max_new_tokens = min(args.max_new_tokens, FAST_NEW_TOKENS)
    causal_lm = load_causal_lm(args.model)
    run = RunDir(args.output_dir, "generate", args.name)
    run.save_config(args)
    print(f"Run folder: {run.path}")

    def prompt_text(text):
        return apply_chat_template(causal_lm, text) if args.chat else text

    if args.prompt is not None:
        generations = [timed_generation(causal_lm, args.decoding, prompt_text(args.prompt),
                                        options_for(args, args.decoding))]
        extra = {}
    else:
        generations, extra = chapter_experiments(causal_lm, args, run, prompt_text)
    write_json(run.file("generations.json"), generations)
    run.save_metrics({"generations": summary(generations), **extra})
    return run


if __name__ == "__main__":
    run_recipe(main)
