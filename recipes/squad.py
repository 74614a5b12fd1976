"""Extractive question answering: fine-tune an encoder on SQuAD-format data and answer questions about any text.

By default the SQuAD v1.1 dev set is split by article (the first 38 articles train,
the next 10 evaluate; the split is printed and saved as split.json), the encoder is
fine-tuned on sliding windows of the training questions, and exact match and F1
(the official SQuAD script's) are reported on the held-out articles. Any SQuAD-format
JSON or a CSV/TSV/JSONL of question/context/answer columns can replace it (--data,
--eval-data). `--question ... --context ...` answers a question about any text, with
a trained reader (--model <run folder or .keras file>) or after training.
"""

import json
import time
from pathlib import Path

import keras

from tfnlp import plots
from tfnlp.cli import parse_args, recipe_parser, run_recipe
from tfnlp.data.qa import load_qa_data, split_by_article
from tfnlp.errors import ConfigError
from tfnlp.export.bundle import export_run_models
from tfnlp.export.saving import load_trained_model
from tfnlp.metrics.squad import question_type, squad_scores, squad_scores_by_group
from tfnlp.models.question_answering import QuestionAnswerer
from tfnlp.runs import RunDir, write_json
from tfnlp.serving.qa_pipeline import QuestionAnsweringPipeline
from tfnlp.training import fit, recipe_strategy

FAST = {"train_articles": 4, "eval_articles": 2, "max_train_questions": 300, "max_eval_questions": 100}


def build_parser():
    parser = recipe_parser(__doc__, epochs=3, batch_size=16, max_length=384, learning_rate=1e-4)
    parser.set_defaults(model="minilm-l6")
    add = parser.add_argument
    add("--stride", type=int, default=128, help="tokens shared by consecutive windows of a long context.")
    add("--max-answer-length", type=int, default=30, help="most tokens in a predicted answer.")
    add("--null-threshold", type=float, help="allow 'no answer' (SQuAD 2.0) when it beats the best span by this.")
    add("--data", default="squad", help="'squad' (the named data set), a SQuAD-format .json, or a .csv/.tsv/.jsonl.")
    add("--eval-data", help="a separate evaluation file; without it --data is split by article.")
    add("--train-articles", type=int, default=38, help="articles (titles) to train on when splitting --data.")
    add("--eval-articles", type=int, default=10, help="held-out articles to evaluate on when splitting --data.")
    add("--max-train-questions", type=int, help="train on a random sample of this many questions.")
    add("--max-eval-questions", type=int, help="evaluate on a random sample of this many questions.")
    add("--skip-bad-answers", action="store_true",
        help="drop and count questions whose answer text is not the context at answer_start, instead of an error.")
    add("--question-column", default="question", help="question column of a CSV/TSV/JSONL file.")
    add("--context-column", default="context", help="context column of a CSV/TSV/JSONL file.")
    add("--answer-column", default="answer", help="answer column of a CSV/TSV/JSONL file (empty: no answer).")
    add("--answer-start-column", help="answer character-offset column (default: the answer's first occurrence).")
    add("--question", help="a question to answer about --context.")
    add("--context", help="the text (or a file holding it) to answer --question from.")
    add("--no-onnx", action="store_true", help="skip the ONNX export.")
    return parser


def load_reader(args):
    """A trained reader (run folder or .keras file given as --model), or `None` for a preset."""
    path = Path(args.model)
    if (path / "model.keras").is_file() or path.suffix == ".keras":
        return load_trained_model(path)
    return None


def read_questions(source, args):
    columns = {"question": args.question_column, "context": args.context_column,
               "answer": args.answer_column, "answer_start": args.answer_start_column}
    frame = load_qa_data(source, args.data_dir, args.skip_bad_answers, **columns)
    if frame.attrs["skipped_answers"]:
        print(f"{source}: skipped {frame.attrs['skipped_answers']} questions whose answer is not in the context")
    return frame


def load_data(args):
    frame = read_questions(args.data, args)
    skipped = {"data": frame.attrs["skipped_answers"]}
    if args.eval_data:
        train, evaluate = frame, read_questions(args.eval_data, args)
        split = {"train": args.data, "evaluate": args.eval_data}
        skipped["eval_data"] = evaluate.attrs["skipped_answers"]
    else:
        train, evaluate, split = split_by_article(frame, args.train_articles, args.eval_articles)
    if args.max_train_questions:
        train = train.sample(min(len(train), args.max_train_questions), random_state=args.seed)
    if args.max_eval_questions:
        evaluate = evaluate.sample(min(len(evaluate), args.max_eval_questions), random_state=args.seed)
    return train.reset_index(drop=True), evaluate.reset_index(drop=True), split, skipped


def evaluate(reader, frame, args):
    start = time.perf_counter()
    pipeline = QuestionAnsweringPipeline(reader, args.max_answer_length, args.null_threshold)
    predictions = pipeline.predict(frame["question"].tolist(), frame["context"].tolist())
    scores = squad_scores(predictions, frame["answers"])
    scores["seconds"] = round(time.perf_counter() - start, 1)
    types = [question_type(question) for question in frame["question"]]
    scores["by_question_type"] = squad_scores_by_group(predictions, frame["answers"], types)
    return scores, dict(zip(frame["id"], predictions))


def train(reader, train_frame, args, run):
    start = time.perf_counter()
    features = reader.features(train_frame["question"].tolist(), train_frame["context"].tolist(),
                               train_frame["answers"].tolist())
    print(f"{len(train_frame)} training questions -> {len(features)} windows "
          f"({int((features.start_positions == 0).sum())} without the answer)")
    dataset = features.dataset(args.batch_size, shuffle=True, seed=args.seed)
    history = fit(reader, dataset, epochs=args.epochs, learning_rate=args.learning_rate, run_dir=run.path,
                  monitor="loss")
    return {"windows": len(features), "seconds": round(time.perf_counter() - start, 1),
            "history": {key: [float(v) for v in values] for key, values in history.history.items()}}


def answer(reader, args):
    context = args.context
    if context is None:
        raise ConfigError("--question needs --context: the text to find the answer in (or a file holding it).")
    if len(context) < 255 and Path(context).is_file():
        context = Path(context).read_text(encoding="utf-8")
    pipeline = QuestionAnsweringPipeline(reader, args.max_answer_length, args.null_threshold)
    result = pipeline(args.question, context)
    print(json.dumps({"question": args.question, **result}, ensure_ascii=False))
    return result


def main(argv=None):
    args = parse_args(build_parser(), argv)
    if args.fast:
        args.epochs = 1
        vars(args).update(FAST)
    keras.utils.set_random_seed(args.seed)
    reader = load_reader(args)
    if reader is not None and args.question:  # answer with a trained reader: no training, no run folder
        return answer(reader, args)
    train_frame, eval_frame, split, skipped = load_data(args)  # bad data fails here, before any folder is made
    run = RunDir(args.output_dir, "squad", args.name, args.resume)
    run.save_config(args)
    write_json(run.path / "split.json", split)
    print(f"Run folder: {run.path}")
    print(f"Split: train {split['train']}\n       evaluate {split['evaluate']}")
    print(f"{len(train_frame)} training and {len(eval_frame)} evaluation questions")
    run.save_metrics({"questions": {"train": len(train_frame), "evaluate": len(eval_frame)},
                      "skipped_bad_answers": skipped})

    strategy = recipe_strategy(args.strategy, run)
    trained_before = reader is not None
    with strategy.scope():  # variables made here are mirrored over the replicas
        if reader is None:
            reader = QuestionAnswerer.from_preset(args.model, max_length=args.max_length, stride=args.stride)
        elif args.strategy != "default":
            reader = load_reader(args)  # again, inside the scope
    if trained_before:
        before, _ = evaluate(reader, eval_frame, args)
        run.save_metrics({"before_training": before})
        print(f"Before training: EM {before['exact_match']:.3f}  F1 {before['f1']:.3f}")
    if args.epochs > 0:
        with strategy.scope():
            run.save_metrics({"training": train(reader, train_frame, args, run)})
    scores, predictions = evaluate(reader, eval_frame, args)
    write_json(run.path / "predictions.json", predictions)
    run.save_metrics({"evaluate": scores})
    plots.scores_by_group(scores["by_question_type"], run.file("plots/scores_by_question_type.png"),
                          title="Held-out EM and F1 by question type (questions)")
    print(f"Evaluation (held-out): EM {scores['exact_match']:.3f}  F1 {scores['f1']:.3f}  ({scores['count']} questions)")
    if args.question:
        run.save_metrics({"answer": {"question": args.question, **answer(reader, args)}})
    exported = export_run_models(reader, run.path, onnx=not args.no_onnx)
    print(f"Saved {', '.join(Path(path).name for path in exported.values())}, metrics.json, predictions.json "
          f"and split.json in {run.path}")
    return run


if __name__ == "__main__":
    run_recipe(main)
