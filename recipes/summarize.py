"""Summarization (the summarisation chapter): lead-3, zero-shot and LoRA fine-tuned SmolLM2, scored with ROUGE.

1. One CNN/DailyMail article side by side: its highlights, lead-3, and the causal LM's zero-shot summaries
   (a "TL;DR:" prompt and the chat template).
2. The CNN/DailyMail sample: lead-3 on --lead3-articles articles (all 1,000 by default), the zero-shot
   prompts on the first --cnn-articles (generation on a CPU is the cost).
3. SAMSum: token-length histograms of dialogues and summaries; the zero-shot model on the first
   --samsum-test test dialogues; LoRA fine-tuning (only rank --lora-rank adapters on the attention query and
   value projections train) on --samsum-train training dialogues with the --finetune-style prompt; the
   fine-tuned model on the same test dialogues.
4. With --seq2seq (a BART directory, or hub id when online): the encoder-decoder model on the same
   CNN/DailyMail articles and SAMSum dialogues (beam search with --seq2seq-beams and --length-penalty),
   then fine-tuned on the SAMSum training dialogues with teacher forcing and scored again.

Writes rouge.csv (one row per data set and system; bootstrap intervals in metrics.json), summaries.jsonl,
comparison.txt, plots/, finetuned.weights.h5 (the adapters merged into the weights: load them into
`tfnlp.models.load_causal_lm(model).load_weights(...)`), the fine-tuning's TensorBoard logs and metrics.json.

Example:
    python -m recipes.summarize --samsum-train 1000 --cnn-articles 50
"""

import json

import pandas as pd

from tfnlp.cli import parse_args, recipe_parser, run_recipe
from tfnlp.data import load_dataset
from tfnlp.errors import ConfigError
from tfnlp.generation import encode
from tfnlp.models.causal_lm import load_causal_lm
from tfnlp.models.seq2seq import load_seq2seq_lm
from tfnlp.plots import token_length_histograms
from tfnlp.runs import RunDir
from tfnlp.summarization import evaluate_summaries, lead_3
from tfnlp.summarization.causal import PROMPT_STYLES, CausalLMSummarizer, lora_finetune
from tfnlp.summarization.seq2seq import Seq2SeqSummarizer, seq2seq_finetune

FAST = {"lead3_articles": 20, "cnn_articles": 2, "samsum_test": 4, "samsum_train": 16, "max_new_tokens": 12}
DIALOGUE_INSTRUCTION = "Summarize the following dialogue in one or two sentences."
ROUGE_COLUMNS = ["rouge1", "rouge2", "rougeL", "rougeLsum"]


def build_parser():
    parser = recipe_parser(__doc__, model="smollm2-135m", epochs=1, batch_size=4, max_length=768, learning_rate=2e-4)
    add = parser.add_argument
    add("--lead3-articles", type=int, default=1000, help="CNN/DailyMail articles scored for lead-3.")
    add("--cnn-articles", type=int, default=50, help="CNN/DailyMail articles summarized by the causal LM.")
    add("--samsum-test", type=int, default=100, help="SAMSum test dialogues scored before and after fine-tuning.")
    add("--samsum-train", type=int, default=1000, help="SAMSum training dialogues for LoRA fine-tuning (0: none).")
    add("--lora-rank", type=int, default=8, help="rank of the LoRA adapters.")
    add("--gradient-accumulation", type=int, default=2, help="batches whose gradients are averaged per update.")
    add("--max-dialogue-tokens", type=int, default=384,
        help="SAMSum dialogues are cut to this many tokens (training memory grows with the square of the length).")
    add("--finetune-style", choices=PROMPT_STYLES, default="chat", help="prompt fine-tuned (and compared) on SAMSum.")
    add("--max-new-tokens", type=int, default=64, help="longest generated summary, in tokens.")
    add("--num-beams", type=int, default=1, help="beams of beam search (1: greedy).")
    add("--no-repeat-ngram-size", type=int, default=3, help="n-grams never repeated in a summary (0: off).")
    add("--seq2seq", help="also evaluate and fine-tune this BART checkpoint (directory, or hub id when online).")
    add("--seq2seq-beams", type=int, default=4, help="beams of the seq2seq model's beam search.")
    add("--length-penalty", type=float, default=2.0, help="beam search length penalty of the seq2seq model.")
    add("--seq2seq-learning-rate", type=float, default=5e-5, help="peak learning rate of seq2seq fine-tuning.")
    return parser


def check_args(args):
    for name in ("lead3_articles", "cnn_articles", "samsum_test", "samsum_train"):
        if getattr(args, name) < 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 0; got {getattr(args, name)}.")
    if args.samsum_train and not args.samsum_test:
        raise ConfigError("--samsum-train needs --samsum-test > 0: the fine-tuned model is compared on the test dialogues.")


def summarizer_for(causal_lm, args, style, instruction=None, max_text_tokens=None):
    extra = {"instruction": instruction} if instruction else {}
    return CausalLMSummarizer(causal_lm, style=style, max_new_tokens=args.max_new_tokens,
                              max_text_tokens=max_text_tokens or args.max_length, num_beams=args.num_beams,
                              no_repeat_ngram_size=args.no_repeat_ngram_size, **extra)


class Results:
    """ROUGE rows and every summary, as the recipe goes."""

    def __init__(self, run):
        self.run, self.rows, self.scores, self.summaries = run, [], {}, []

    def evaluate(self, dataset_name, system, frame, summarize, text_column, summary_column):
        scores, summaries = evaluate_summaries(frame, summarize, text_column, summary_column, batch_size=8)
        self.scores[f"{dataset_name}/{system}"] = scores | {"examples": len(frame)}
        self.rows.append({"dataset": dataset_name, "system": system, "examples": len(frame)}
                         | {name: round(scores[name]["mid"], 4) for name in ROUGE_COLUMNS})
        self.summaries += [{"dataset": dataset_name, "system": system, "index": i, "summary": s}
                           for i, s in enumerate(summaries)]
        print(f"{dataset_name} {system} ({len(frame)}): "
              + ", ".join(f"{name} {scores[name]['mid']:.4f}" for name in ROUGE_COLUMNS))
        self.save()
        return scores

    def save(self):
        table = pd.DataFrame(self.rows)
        table.to_csv(self.run.file("rouge.csv"), index=False)
        self.run.file("summaries.jsonl").write_text("".join(json.dumps(row) + "\n" for row in self.summaries))
        self.run.save_metrics({"rouge": self.scores})
        return table


def side_by_side(causal_lm, args, article, highlights):
    parts = [("GROUND TRUTH", highlights), ("LEAD-3", lead_3(article))]
    parts += [(f"SMOLLM2 ZERO-SHOT ({style})", summarizer_for(causal_lm, args, style).summarize(article))
              for style in PROMPT_STYLES]
    return "\n\n".join(f"{title}\n{text}" for title, text in parts)


def cnn_dailymail(causal_lm, args, run, results):
    articles = load_dataset("cnn_dailymail", split="validation", data_dir=args.data_dir)
    comparison = side_by_side(causal_lm, args, articles["article"][0], articles["highlights"][0])
    run.file("comparison.txt").write_text(comparison + "\n")
    print(comparison)
    if args.lead3_articles:
        results.evaluate("cnn_dailymail", "lead-3", articles.head(args.lead3_articles),
                         lambda texts: [lead_3(text) for text in texts], "article", "highlights")
    if args.cnn_articles:
        for style in PROMPT_STYLES:
            results.evaluate("cnn_dailymail", f"zero-shot {style}", articles.head(args.cnn_articles),
                             summarizer_for(causal_lm, args, style), "article", "highlights")


def samsum_subsets(args):
    """The SAMSum splits, the shuffled training subset, the test subset and a validation subset."""
    splits = load_dataset("samsum", data_dir=args.data_dir)
    train = splits["train"].sample(frac=1.0, random_state=args.seed).head(args.samsum_train)
    validation = splits["validation"].head(max(args.batch_size, len(train) // 10))
    return splits, train, splits["test"].head(args.samsum_test), validation


def samsum(causal_lm, args, run, results):
    splits, train, test, validation = samsum_subsets(args)
    lengths = splits["train"].head(2000)
    token_length_histograms(
        {"Dialogue": [len(encode(causal_lm, text)) for text in lengths["dialogue"]],
         "Summary": [len(encode(causal_lm, text)) for text in lengths["summary"]]},
        run.file("plots/samsum_token_lengths.png"))
    summarizer = summarizer_for(causal_lm, args, args.finetune_style, DIALOGUE_INSTRUCTION, args.max_dialogue_tokens)
    if not len(test):
        return
    before = results.evaluate("samsum", f"zero-shot {args.finetune_style}", test, summarizer, "dialogue", "summary")
    if not len(train):
        return
    history = lora_finetune(summarizer, list(train["dialogue"]), list(train["summary"]), rank=args.lora_rank,
                            epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                            gradient_accumulation_steps=args.gradient_accumulation,
                            validation=(list(validation["dialogue"]), list(validation["summary"])),
                            run_dir=run.file("lora"), seed=args.seed)
    causal_lm.save_weights(run.file("finetuned.weights.h5"))
    after = results.evaluate("samsum", f"LoRA fine-tuned {args.finetune_style}", test, summarizer, "dialogue", "summary")
    run.save_metrics({"finetuning": {"train_dialogues": len(train), "history": history.history,
                                     "rougeL_zero_shot": before["rougeL"]["mid"],
                                     "rougeL_finetuned": after["rougeL"]["mid"]}})


def seq2seq(args, run, results):
    model = load_seq2seq_lm(args.seq2seq, encoder_sequence_length=args.max_length)
    summarize = Seq2SeqSummarizer(model, num_beams=args.seq2seq_beams, length_penalty=args.length_penalty,
                                  max_new_tokens=args.max_new_tokens, no_repeat_ngram_size=args.no_repeat_ngram_size,
                                  max_source_tokens=args.max_length)
    if args.cnn_articles:
        articles = load_dataset("cnn_dailymail", split="validation", data_dir=args.data_dir)
        results.evaluate("cnn_dailymail", "seq2seq", articles.head(args.cnn_articles), summarize, "article", "highlights")
    _, train, test, validation = samsum_subsets(args)
    if not len(test):
        return
    results.evaluate("samsum", "seq2seq", test, summarize, "dialogue", "summary")
    if len(train):
        seq2seq_finetune(model, train["dialogue"], train["summary"], epochs=args.epochs, batch_size=args.batch_size,
                         learning_rate=args.seq2seq_learning_rate, gradient_accumulation_steps=args.gradient_accumulation,
                         validation=(validation["dialogue"], validation["summary"]), run_dir=run.file("seq2seq"),
                         seed=args.seed)
        results.evaluate("samsum", "seq2seq fine-tuned", test, summarize, "dialogue", "summary")


def main(argv=None):
    args = parse_args(build_parser(), argv)
    if args.fast:
        for name, value in FAST.items():
            setattr(args, name, min(getattr(args, name), value))
    check_args(args)
    causal_lm = load_causal_lm(args.model)
    run = RunDir(args.output_dir, "summarize", args.name, resume=args.resume)
    run.save_config(args)
    print(f"Run folder: {run.path}")
    results = Results(run)
    cnn_dailymail(causal_lm, args, run, results)
    samsum(causal_lm, args, run, results)
    if args.seq2seq:
        seq2seq(args, run, results)
    print(results.save().to_string(index=False))
    return run


if __name__ == "__main__":
    run_recipe(main)
