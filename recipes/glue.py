"""Fine-tune an encoder on a GLUE task: STS-B (sentence-pair regression) or SST-2 (sentiment).

STS-B reports Pearson and Spearman correlation on dev, SST-2 accuracy; both train
on raw strings (pairs packed as `[CLS] a [SEP] b [SEP]`), pick the best epoch on
dev, and export `.keras`, SavedModels (raw strings; token ids) and ONNX (float and
int8) into the run folder. Any CSV/TSV/JSONL data works too: `--train-file`,
`--validation-file` and the `--*-column` options.

Per-task defaults (used when --epochs/--learning-rate/--batch-size are not given):
stsb 6 epochs, 8e-5, batch 32; sst2 3 epochs, 5e-5, batch 32.
"""


import keras

from tfnlp import plots
from tfnlp.cli import parse_args, recipe_parser, run_recipe
from tfnlp.data import encode_labels, load_dataset
from tfnlp.data.files import read_examples
from tfnlp.data.pipeline import text_dataset
from tfnlp.errors import ConfigError
from tfnlp.export.bundle import export_run_models
from tfnlp.metrics import classification_metrics
from tfnlp.metrics.regression import check_scores, regression_metrics
from tfnlp.models.classifier import EncoderClassifier
from tfnlp.models.packing import HF_STRATEGIES
from tfnlp.models.regressor import EncoderRegressor, predict_texts
from tfnlp.runs import RunDir
from tfnlp.serving.results import classification_results, softmax
from tfnlp.training import fit, recipe_strategy

TASK_DEFAULTS = {
    "stsb": {"epochs": 6, "learning_rate": 8e-5, "batch_size": 32},
    "sst2": {"epochs": 3, "learning_rate": 5e-5, "batch_size": 32},
}
FAST_SIZES = {"train": 1000, "validation": 200}


def build_parser():
    parser = recipe_parser(__doc__, epochs=None, batch_size=None, learning_rate=None)
    add = parser.add_argument
    add("--task", choices=sorted(TASK_DEFAULTS), default="stsb", help="stsb: pair regression; sst2: classification.")
    add("--truncate", choices=HF_STRATEGIES, default="longest_first", help="how long pairs are cut.")
    add("--train-file", help="CSV/TSV/JSONL training data instead of the GLUE files.")
    add("--validation-file", help="CSV/TSV/JSONL evaluation data (with --train-file).")
    add("--text-column", help="text column of the files (default: sentence1 for stsb, sentence for sst2).")
    add("--text-pair-column", help="second text column (default: sentence2 for stsb, none for sst2).")
    add("--label-column", help="score or label column (default: score for stsb, label for sst2).")
    add("--score-range", type=float, nargs=2, default=(0.0, 5.0), metavar=("LOW", "HIGH"),
        help="the scores' stated range (stsb); a score outside it is an error.")
    add("--text", default="A man is playing a guitar.", help="custom text to score or classify at the end.")
    add("--text-pair", default="A person plays an instrument.", help="second text of the custom pair (stsb).")
    return parser


def load_data(args):
    """`({"train", "validation"} frames with text(, text_pair), label)`, label names or None."""
    files = {"train": args.train_file or args.task, "validation": args.validation_file or args.task}
    if args.train_file:
        frames = read_files(args)
    else:
        data = load_dataset(args.task, data_dir=args.data_dir)
        columns = ("sentence1", "sentence2") if args.task == "stsb" else ("text",)
        frames = {split: data[split].rename(columns=dict(zip(columns, ("text", "text_pair"))))
                  for split in ("train", "validation")}
    if args.fast:
        frames = {split: frame.sample(min(len(frame), FAST_SIZES[split]), random_state=args.seed)
                  for split, frame in frames.items()}
    if args.task == "stsb":
        for split, frame in frames.items():
            frame["label"] = check_scores(frame["label"], args.score_range, source=files[split])
        return frames, None
    if not args.train_file:
        return frames, ["negative", "positive"]
    label_names = sorted({str(label) for label in frames["train"]["label"]})
    for split, frame in frames.items():
        frame["label"] = encode_labels(frame["label"].astype(str), label_names, files[split], first_line=None)
    return frames, label_names


def read_files(args):
    if not args.validation_file:
        raise ConfigError("--train-file needs --validation-file: the data to evaluate on.")
    pair = args.text_pair_column or ("sentence2" if args.task == "stsb" else None)
    columns = {args.text_column or ("sentence1" if args.task == "stsb" else "sentence"): "text"}
    if pair:
        columns[pair] = "text_pair"
    columns[args.label_column or ("score" if args.task == "stsb" else "label")] = "label"
    texts = tuple(columns.values())[:-1]
    return {split: read_examples(path, columns, text_columns=texts)
            for split, path in (("train", args.train_file), ("validation", args.validation_file))}


def texts_of(frame):
    if "text_pair" in frame:
        return frame["text"].tolist(), frame["text_pair"].tolist()
    return frame["text"].tolist()


def build_model(args, label_names, pairs):
    if label_names is None:
        return EncoderRegressor.from_preset(args.model, sequence_length=args.max_length,
                                            truncate=args.truncate, text_pairs=pairs)
    return EncoderClassifier.from_preset(args.model, label_names, sequence_length=args.max_length,
                                         truncate=args.truncate)


def finetune(model, frames, args, run):
    train = text_dataset(texts_of(frames["train"]), frames["train"]["label"].to_numpy(), args.batch_size,
                         shuffle=True, seed=args.seed)
    validation = text_dataset(texts_of(frames["validation"]), frames["validation"]["label"].to_numpy(),
                              args.batch_size)
    monitor = "val_pearson" if isinstance(model, EncoderRegressor) else "val_sparse_categorical_accuracy"
    history = fit(model, train, validation, epochs=args.epochs, learning_rate=args.learning_rate,
                  run_dir=run.path, monitor=monitor, mode="max")
    return {key: [float(v) for v in values] for key, values in history.history.items()}


def evaluate(model, frame, run):
    labels = frame["label"].to_numpy()
    if isinstance(model, EncoderRegressor):
        scores = model.predict_scores(frame["text"], frame.get("text_pair"))
        plots.score_scatter(labels, scores, run.file("plots/dev_scores.png"), title="Dev: predicted vs true scores")
        return regression_metrics(labels, scores)
    logits = predict_texts(model, frame["text"], frame.get("text_pair"))
    return classification_metrics(labels, logits.argmax(axis=1))


def custom_example(model, args, pairs):
    pair = [args.text_pair] if pairs else None
    example = {"text": args.text, "text_pair": pair and args.text_pair}
    outputs = predict_texts(model, [args.text], pair)
    if isinstance(model, EncoderRegressor):
        return {**example, "score": float(outputs[0])}
    return {**example, "prediction": classification_results(softmax(outputs), model.label_names, None, single=True)}


def main(argv=None):
    args = parse_args(build_parser(), argv)
    for option, value in TASK_DEFAULTS[args.task].items():
        if getattr(args, option) is None:
            setattr(args, option, value)
    if args.fast:
        args.epochs = 1
    keras.utils.set_random_seed(args.seed)
    frames, label_names = load_data(args)  # bad data fails here, before any folder is made
    run = RunDir(args.output_dir, f"glue-{args.task}", args.name, args.resume)
    run.save_config(args)
    print(f"Run folder: {run.path}")
    print({split: len(frame) for split, frame in frames.items()})

    with recipe_strategy(args.strategy, run).scope():  # variables made here are mirrored over the replicas
        pairs = "text_pair" in frames["train"]
        model = build_model(args, label_names, pairs)
        history = finetune(model, frames, args, run)
    results = evaluate(model, frames["validation"], run)
    run.save_metrics({"task": args.task, "validation": results, "history": history})
    print(f"{args.task} dev:", results)
    example = custom_example(model, args, pairs)
    run.save_metrics({"custom_text": example})
    print("Custom example:", example)
    export_run_models(model, run.path)
    print(f"Saved model.keras, saved_model/, saved_model_token_ids/, onnx/, metrics.json and plots/ in {run.path}")
    return run


if __name__ == "__main__":
    run_recipe(main)
