"""Named-entity recognition: fine-tune an encoder to tag words (CoNLL-2003, IOB2 tags PER/ORG/LOC/MISC).

Words are split into word pieces; the first piece of each word carries its tag.
Reports entity-level precision/recall/F1 (seqeval's definition) on validation and
test with a per-type table, tags a custom text, and exports `.keras`,
SavedModels (raw strings; token ids) and ONNX (float and int8) into the run folder. Any tagged
data works too: `--train-file` / `--validation-file` / `--test-file` as CoNLL,
JSONL or CSV/TSV (`--tokens-column`, `--tags-column`).
"""


import keras

from tfnlp import plots
from tfnlp.cli import parse_args, recipe_parser, run_recipe
from tfnlp.data import load_dataset
from tfnlp.data.tagging import encode_tags, read_tagged, tag_names, tagged_dataset
from tfnlp.errors import ConfigError
from tfnlp.export.bundle import export_run_models
from tfnlp.metrics.entities import entity_metrics, entity_table
from tfnlp.models.token_classifier import EncoderTokenClassifier, TokenClassificationPipeline
from tfnlp.runs import RunDir
from tfnlp.training import fit, recipe_strategy

FAST_SIZES = {"train": 1000, "validation": 200, "test": 200}
SPLITS = ("train", "validation", "test")


def build_parser():
    parser = recipe_parser(__doc__, epochs=5, batch_size=32, max_length=256, learning_rate=1e-4)
    add = parser.add_argument
    add("--train-file", help="tagged training data (CoNLL, JSONL or CSV/TSV) instead of CoNLL-2003.")
    add("--validation-file", help="tagged validation data (with --train-file).")
    add("--test-file", help="tagged test data (with --train-file; optional).")
    add("--tokens-column", default="tokens", help="words column of JSONL/CSV files.")
    add("--tags-column", default="ner_tags", help="tags column of JSONL/CSV files.")
    add("--text", default="Angela Merkel met Emmanuel Macron in Paris on behalf of the European Union.",
        help="custom text to tag at the end.")
    return parser


def load_data(args):
    """`({split: frame with tokens, ner_tags (ids)}, tag names)`."""
    if args.train_file:
        if not args.validation_file:
            raise ConfigError("--train-file needs --validation-file: the data to pick the best epoch on.")
        files = {"train": args.train_file, "validation": args.validation_file, "test": args.test_file}
        frames = {split: read_tagged(path, args.tokens_column, args.tags_column)
                  for split, path in files.items() if path}
        label_names = tag_names(frames["train"]["ner_tags"])
        for split, frame in frames.items():
            frame["ner_tags"] = encode_tags(frame["ner_tags"], label_names, files[split])
    else:
        data = load_dataset("conll2003", data_dir=args.data_dir)
        frames, label_names = {split: data[split] for split in SPLITS}, data.info.label_names
    if args.fast:
        frames = {split: frame.sample(min(len(frame), FAST_SIZES[split]), random_state=args.seed)
                  for split, frame in frames.items()}
    return frames, list(label_names)


def finetune(tagger, frames, args, run):
    train = tagged_dataset(frames["train"]["tokens"], frames["train"]["ner_tags"], args.batch_size,
                           shuffle=True, seed=args.seed)
    validation = tagged_dataset(frames["validation"]["tokens"], frames["validation"]["ner_tags"], args.batch_size)
    history = fit(tagger, train, validation, epochs=args.epochs, learning_rate=args.learning_rate,
                  run_dir=run.path, monitor="val_accuracy", mode="max")
    return {key: [float(v) for v in values] for key, values in history.history.items()}


def evaluate(pipeline, frames, label_names, run):
    results = {}
    for split in ("validation", "test"):
        if split not in frames:
            continue
        frame = frames[split]
        true = [[label_names[i] for i in tags] for tags in frame["ner_tags"]]
        results[split] = entity_metrics(true, pipeline.tag(frame["tokens"].tolist()))
        plots.entity_f1_by_type(results[split]["per_type"], run.file(f"plots/entity_f1_{split}.png"),
                                title=f"Entity F1 by type ({split})")
        print(f"\n{split} entities:\n{entity_table(results[split])}")
    return results


def main(argv=None):
    args = parse_args(build_parser(), argv)
    if args.fast:
        args.epochs = 1
    keras.utils.set_random_seed(args.seed)
    frames, label_names = load_data(args)  # bad data fails here, before any folder is made
    run = RunDir(args.output_dir, "ner", args.name, args.resume)
    run.save_config(args)
    print(f"Run folder: {run.path}")
    print({split: len(frame) for split, frame in frames.items()}, "tags:", label_names)

    with recipe_strategy(args.strategy, run).scope():  # variables made here are mirrored over the replicas
        tagger = EncoderTokenClassifier.from_preset(args.model, label_names, sequence_length=args.max_length)
        history = finetune(tagger, frames, args, run)
    pipeline = TokenClassificationPipeline(tagger)
    results = evaluate(pipeline, frames, label_names, run)
    run.save_metrics({"entities": results, "history": history})
    entities = pipeline(args.text)
    run.save_metrics({"custom_text": {"text": args.text, "entities": entities}})
    print("Custom text:", entities)
    export_run_models(tagger, run.path)
    print(f"Saved model.keras, saved_model/, saved_model_token_ids/, onnx/, metrics.json and plots/ in {run.path}")
    return run


if __name__ == "__main__":
    run_recipe(main)
