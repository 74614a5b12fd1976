"""Transfer learning on IMDb reviews (the transfer-learning chapter): a BiLSTM over GloVe, and encoder classifiers.

Models (`--model`):
- `glove-bilstm`: vocabulary from the training reviews, GloVe vectors (`--word-vectors`)
  frozen or tuned (`--embeddings`), two BiLSTMs, a sigmoid; 150 tokens per review.
- `encoder`: a pretrained encoder (`--encoder`, MiniLM-L6 by default) with the built-in
  or a custom head (`--head`), optionally frozen (`--freeze-encoder`); 256 tokens.
`--variants bilstm-frozen bilstm-tuned encoder-builtin ...` trains several in one run
folder (one subfolder each) and writes a comparison table; `--compare RUN ...` builds
the table from finished run folders. Validation is held out of the training split;
the test split is scored once (accuracy, precision, recall), then exported:
`model.keras`, `saved_model/` (raw strings), `onnx/model.onnx` and `onnx/model.int8.onnx`.
"""

import argparse

import keras
import numpy as np

from tfnlp.cli import parse_args, recipe_parser, run_recipe
from tfnlp.comparison import comparison_table, read_run_metrics, write_comparison
from tfnlp.data import load_dataset
from tfnlp.data.pipeline import text_dataset
from tfnlp.data.splits import holdout_split
from tfnlp.errors import ConfigError
from tfnlp.export.bundle import export_run_models
from tfnlp.export.onnx import quantize_dynamic_int8
from tfnlp.export.saving import save_model
from tfnlp.metrics.classification import binary_metrics, prediction_agreement
from tfnlp.models import bilstm
from tfnlp.models.classifier import HEADS, EncoderClassifier
from tfnlp.models.parameters import parameter_counts
from tfnlp.models.word_vectors import embedding_matrix, load_word_vectors
from tfnlp.runs import RunDir
from tfnlp.serving.onnx_pipeline import OnnxTextClassificationPipeline
from tfnlp.serving.pipelines import TextClassificationPipeline
from tfnlp.serving.word_pipeline import KEEP, OnnxWordPipeline
from tfnlp.training import fit, recipe_strategy
from tfnlp.training.timing import EpochTimer

MODELS = ("glove-bilstm", "encoder")
# Per-family defaults of the shared options left unset on the command line.
DEFAULTS = {
    "glove-bilstm": {"epochs": 10, "learning_rate": 4e-3, "max_length": 150},
    # One epoch: an encoder epoch at 256 tokens takes about an hour on 2 CPU cores.
    "encoder": {"epochs": 1, "learning_rate": 1e-4, "max_length": 256},
    # Only a new head trains: it needs a larger step than fine-tuning.
    "encoder-frozen": {"epochs": 1, "learning_rate": 1e-3, "max_length": 256},
}
VARIANTS = {
    "bilstm-frozen": {"model": "glove-bilstm", "embeddings": "frozen"},
    "bilstm-tuned": {"model": "glove-bilstm", "embeddings": "tuned"},
    "encoder-builtin": {"model": "encoder", "head": "builtin", "freeze_encoder": False},
    "encoder-custom": {"model": "encoder", "head": "custom", "freeze_encoder": False},
    "encoder-builtin-frozen": {"model": "encoder", "head": "builtin", "freeze_encoder": True},
    "encoder-custom-frozen": {"model": "encoder", "head": "custom", "freeze_encoder": True},
}
COMPARISON_COLUMNS = {
    "model": "model",
    "test accuracy": "test.accuracy",
    "test precision": "test.precision",
    "test recall": "test.recall",
    "s / epoch": "seconds_per_epoch",
    "epochs": "epochs",
    "trainable params": "parameters.trainable",
    "frozen params": "parameters.frozen",
    "ONNX int8 accuracy": "onnx.int8.accuracy",
    "int8 agreement": "onnx.int8.agreement",
}
FAST_SIZES = {"train": 1000, "validation": 200, "test": 300}
LABEL_NAMES = ("neg", "pos")


def build_parser():
    parser = recipe_parser(
        __doc__, model="glove-bilstm", epochs=None, batch_size=32, max_length=None, learning_rate=None,
        model_choices=MODELS, model_help="model family; the encoder's preset is --encoder.",
    )
    add = parser.add_argument
    add("--encoder", default="minilm-l6", help="--model encoder: offline preset, local Hugging Face BERT folder or hub id.")
    add("--head", choices=HEADS, default="builtin", help="--model encoder: classification head on the pooled output.")
    add("--head-dropout", type=float, help="dropout of the head (default: 0.1 built-in, 0.2 custom).")
    add("--freeze-encoder", action="store_true", help="--model encoder: train only the head.")
    add("--embeddings", choices=("frozen", "tuned"), default="frozen", help="--model glove-bilstm: train the word vectors too?")
    add("--word-vectors", default="glove-6b-50d", help="GloVe preset, GloVe .txt file, or .npy file (with --vocabulary).")
    add("--vocabulary", help="the words of a .npy --word-vectors file (text file or .parquet).")
    add("--max-tokens", type=int, default=20000, help="--model glove-bilstm: vocabulary size, from the training texts.")
    add("--keep", choices=KEEP, default="first", help="--model glove-bilstm: which tokens a long review keeps.")
    add("--validation-fraction", type=float, default=0.1, help="share of the training split held out for validation.")
    add("--onnx-sample", type=int, default=2000, help="test reviews scored with ONNX Runtime (float and int8).")
    add("--variants", nargs="+", choices=sorted(VARIANTS), help="train these variants and compare them.")
    add("--compare", nargs="+", metavar="RUN", help="only build the comparison table of these finished run folders.")
    return parser


def with_defaults(args, **overrides):
    """The options of one variant: `overrides`, then the family defaults for unset options."""
    options = {**vars(args), **overrides}
    frozen = options["model"] == "encoder" and options["freeze_encoder"]
    for key, value in DEFAULTS["encoder-frozen" if frozen else options["model"]].items():
        if options[key] is None:
            options[key] = value
    if options["head_dropout"] is None:
        options["head_dropout"] = 0.2 if options["head"] == "custom" else 0.1
    if options["fast"]:
        options["epochs"] = 1
        options["onnx_sample"] = min(options["onnx_sample"], FAST_SIZES["test"])
    return argparse.Namespace(**options)


def load_data(args):
    data = load_dataset("imdb", data_dir=args.data_dir)
    train, validation = holdout_split(data["train"], args.validation_fraction, seed=args.seed)
    data = {"train": train, "validation": validation, "test": data["test"]}
    if args.fast:
        data = {split: frame.sample(min(len(frame), FAST_SIZES[split]), random_state=args.seed)
                for split, frame in data.items()}
    return data


def texts_and_labels(frame):
    return frame["text"].tolist(), frame["label"].to_numpy()


def train(model, train_ds, validation_ds, args, run, **fit_options):
    timer = EpochTimer()
    history = fit(model, train_ds, validation_ds, epochs=args.epochs, learning_rate=args.learning_rate,
                  run_dir=run.path, callbacks=[timer], **fit_options)
    return {
        "history": {key: [float(value) for value in values] for key, values in history.history.items()},
        "epoch_seconds": timer.seconds,
        "seconds_per_epoch": float(np.mean(timer.seconds)) if timer.seconds else None,
    }


def run_bilstm(data, args, run, strategy):
    vectorizer = bilstm.review_vectorizer(data["train"]["text"], args.max_tokens)
    matrix, report = embedding_matrix(load_word_vectors(args.word_vectors, args.vocabulary),
                                      vectorizer.get_vocabulary())
    print(f"Word vectors found for {report.found:,} of {report.vocabulary_size:,} words; "
          f"{len(report.missing):,} get zero rows, e.g. {report.missing[:10]}")
    with strategy.scope():  # variables made here are mirrored over the replicas
        model = bilstm.bilstm_classifier(vectorizer, matrix, args.max_length, args.keep,
                                         trainable_embeddings=args.embeddings == "tuned")
        save_summary(model, run)
        train_ds, validation_ds = (
            bilstm.token_dataset(model, *texts_and_labels(data[split]), args.batch_size,
                                 shuffle=split == "train", seed=args.seed)
            for split in ("train", "validation")
        )
        # The token model trains (with XLA) and predicts; it shares its layers with `model`.
        results = train(bilstm.token_model(model), train_ds, validation_ds, args, run, loss=bilstm.LOSS,
                        metrics=bilstm.bilstm_metrics(), monitor="val_accuracy", mode="max")
    test_texts, test_labels = texts_and_labels(data["test"])
    test_ds = bilstm.token_dataset(model, test_texts, batch_size=64)
    positive = bilstm.token_model(model).predict(test_ds, verbose=0).ravel()
    save_model(model, run.path / "model.keras")
    bilstm.export_bilstm_saved_model(model, run.path / "saved_model", LABEL_NAMES)
    onnx_path = bilstm.export_bilstm_onnx(model, run.path / "onnx" / "model.onnx")
    settings = bilstm.vectorization_settings(model)

    def onnx_pipeline(path):
        return OnnxWordPipeline(path, label_names=LABEL_NAMES, **settings).positive_probability

    return {**results, "word_vectors": report.as_dict(), "parameters": parameter_counts(model),
            "test": binary_metrics(test_labels, positive >= 0.5),
            "onnx": onnx_results({"float32": onnx_path, "int8": quantize_dynamic_int8(onnx_path)}, onnx_pipeline,
                                 test_texts, test_labels, positive, args.onnx_sample)}


def run_encoder(data, args, run, strategy):
    with strategy.scope():  # variables made here are mirrored over the replicas
        classifier = EncoderClassifier.from_preset(
            args.encoder, LABEL_NAMES, sequence_length=args.max_length, head=args.head,
            dropout=args.head_dropout, hidden_dim=200, freeze_encoder=args.freeze_encoder,
        )
        save_summary(classifier, run)
        train_ds = text_dataset(*texts_and_labels(data["train"]), args.batch_size, shuffle=True, seed=args.seed)
        validation_ds = text_dataset(*texts_and_labels(data["validation"]), args.batch_size)
        results = train(classifier, train_ds, validation_ds, args, run,
                        monitor="val_sparse_categorical_accuracy", mode="max")
    test_texts, test_labels = texts_and_labels(data["test"])
    positive = TextClassificationPipeline(classifier).predict_proba(test_texts)[:, 1]
    exported = export_run_models(classifier, run.path)

    def onnx_pipeline(path):
        pipeline = OnnxTextClassificationPipeline(path, max_length=args.max_length)  # tokenizer files beside it
        return lambda texts: pipeline.predict_proba(texts)[:, 1]

    return {**results, "parameters": parameter_counts(classifier),
            "test": binary_metrics(test_labels, positive >= 0.5),
            "onnx": onnx_results({"float32": exported["onnx"], "int8": exported["onnx_int8"]}, onnx_pipeline,
                                 test_texts, test_labels, positive, args.onnx_sample)}


def onnx_results(paths, make_predictor, texts, labels, keras_positive, sample):
    """Score the float and int8 ONNX models (`{"float32": path, "int8": path}`) on `sample` test texts against Keras."""
    results = {}
    for precision, path in paths.items():
        positive = make_predictor(path)(texts[:sample])
        results[precision] = prediction_agreement(labels[:sample], keras_positive[:sample], positive)
    return results


def save_summary(model, run):
    lines = []
    model.summary(expand_nested=True, print_fn=lambda line, **_: lines.append(line))
    run.file("summary.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


def run_variant(args, data, run):
    run.save_config(args)
    keras.utils.set_random_seed(args.seed)
    strategy = recipe_strategy(args.strategy, run)
    metrics = (run_bilstm if args.model == "glove-bilstm" else run_encoder)(data, args, run, strategy)
    run.save_metrics({"model": variant_label(args), "epochs": args.epochs, **metrics})
    print(f"{variant_label(args)}: test {metrics['test']}; {metrics['seconds_per_epoch']:.0f} s per epoch; "
          f"parameters {metrics['parameters']}; ONNX {metrics['onnx']}")
    return run.metrics


def variant_label(args):
    if args.model == "glove-bilstm":
        return f"GloVe BiLSTM, {args.embeddings} embeddings, {args.keep} {args.max_length} tokens"
    frozen = ", frozen encoder" if args.freeze_encoder else ""
    return f"{args.encoder}, {args.head} head{frozen}, {args.max_length} tokens"


def main(argv=None):
    args = parse_args(build_parser(), argv)
    if args.compare:
        table = comparison_table(read_run_metrics(args.compare), COMPARISON_COLUMNS)
        print(write_comparison(table, args.output_dir))
        return table
    if args.variants and args.resume:
        raise ConfigError("--resume continues one run; rerun the unfinished variants with --name <variant> --resume.")
    data = load_data(args)  # bad data fails here, before any folder is made
    print({split: len(frame) for split, frame in data.items()})
    run = RunDir(args.output_dir, "imdb", args.name, args.resume)
    if not args.variants:
        run_variant(with_defaults(args), data, run)
        return run
    run.save_config(args)
    metrics = {name: run_variant(with_defaults(args, **VARIANTS[name]), data, RunDir(run.path, "imdb", name))
               for name in args.variants}
    print(write_comparison(comparison_table(metrics, COMPARISON_COLUMNS), run.path))
    return run


if __name__ == "__main__":
    run_recipe(main)
