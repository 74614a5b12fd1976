"""Classify tweets into six emotions with a pretrained encoder (the text-classification chapter).

Steps: explore the data (class and length plots), show tokenization, train logistic
regression on frozen hidden states against a most-frequent baseline, fine-tune the
encoder, evaluate (accuracy, weighted F1, confusion matrix, error analysis), classify a
custom text, and export the models into the run folder (`.keras`, SavedModels on raw strings
and on token ids, ONNX float and int8 with the tokenizer files).
"""

import keras

from tfnlp import plots
from tfnlp.cli import parse_args, recipe_parser, run_recipe
from tfnlp.data import load_dataset
from tfnlp.data.pipeline import text_dataset, word_counts
from tfnlp.data.tokenization import tokenization_demo
from tfnlp.export.bundle import export_run_models
from tfnlp.metrics import classification_metrics, error_analysis, normalized_confusion_matrix
from tfnlp.models.classifier import HEADS, EncoderClassifier
from tfnlp.models.features import POOLINGS, extract_features
from tfnlp.runs import RunDir
from tfnlp.serving.pipelines import TextClassificationPipeline
from tfnlp.training import fit, recipe_strategy
from tfnlp.training.baselines import feature_baselines

FAST_SIZES = {"train": 1000, "validation": 200, "test": 200}


def build_parser():
    parser = recipe_parser(__doc__, epochs=5, batch_size=32, max_length=128, learning_rate=1e-4)
    add = parser.add_argument
    add("--head", choices=HEADS, default="builtin", help="classification head on the pooled output.")
    add("--freeze-encoder", action="store_true", help="train only the head.")
    add("--pooling", choices=POOLINGS, default="mean", help="hidden-state pooling for the logistic-regression features.")
    add("--tokenize-text", default="Tokenizing text is a core task of NLP.", help="text for the tokenizer demo.")
    add("--text", default="I saw a movie today and it was really good.", help="custom text to classify at the end.")
    return parser


def load_data(args):
    data = load_dataset("emotion", data_dir=args.data_dir)
    label_names = list(data.info.label_names)
    if args.fast:
        data = {split: frame.sample(min(len(frame), FAST_SIZES[split]), random_state=args.seed)
                for split, frame in data.items()}
    return data, label_names


def explore(data, label_names, run):
    train = data["train"]
    plots.class_distribution(train["label"], label_names, run.file("plots/class_distribution.png"))
    plots.lengths_by_class(word_counts(train["text"]), train["label"], label_names,
                           run.file("plots/words_per_tweet.png"), ylabel="Words per tweet")


def frozen_feature_baselines(classifier, data, pooling):
    features = {
        split: extract_features(classifier.backbone, classifier.preprocessor, frame["text"].tolist(), pooling)
        for split, frame in data.items()
    }
    eval_sets = {split: (features[split], data[split]["label"]) for split in ("validation", "test")}
    return feature_baselines(features["train"], data["train"]["label"], eval_sets)


def finetune(classifier, data, args, run):
    train = text_dataset(data["train"]["text"], data["train"]["label"], args.batch_size, shuffle=True, seed=args.seed)
    validation = text_dataset(data["validation"]["text"], data["validation"]["label"], args.batch_size)
    history = fit(classifier, train, validation, epochs=args.epochs, learning_rate=args.learning_rate,
                  run_dir=run.path, monitor="val_sparse_categorical_accuracy", mode="max")
    return {key: [float(v) for v in values] for key, values in history.history.items()}


def evaluate(pipeline, data, label_names, run):
    results = {}
    for split in ("validation", "test"):
        frame = data[split]
        probabilities = pipeline.predict_proba(frame["text"].tolist())
        predictions = probabilities.argmax(axis=1)
        results[split] = classification_metrics(frame["label"], predictions)
        matrix = normalized_confusion_matrix(frame["label"], predictions, len(label_names))
        plots.confusion_matrix_plot(matrix, label_names, run.file(f"plots/confusion_matrix_{split}.png"),
                                    title=f"Normalized confusion matrix ({split})")
        if split == "validation":
            highest, lowest = error_analysis(frame["text"], frame["label"], probabilities, label_names)
            highest.to_csv(run.file("errors_highest_loss.csv"), index=False)
            lowest.to_csv(run.file("errors_lowest_loss.csv"), index=False)
            print("\nHighest-loss validation examples:\n", highest.to_string(max_colwidth=70))
            print("\nLowest-loss validation examples:\n", lowest.to_string(max_colwidth=70))
    return results


def main(argv=None):
    args = parse_args(build_parser(), argv)
    if args.fast:
        args.epochs = 1
    keras.utils.set_random_seed(args.seed)
    data, label_names = load_data(args)  # bad data fails here, before any folder is made
    run = RunDir(args.output_dir, "emotion", args.name, args.resume)
    run.save_config(args)
    print(f"Run folder: {run.path}")
    print({split: len(frame) for split, frame in data.items()})
    explore(data, label_names, run)

    with recipe_strategy(args.strategy, run).scope():  # variables made here are mirrored over the replicas
        classifier = EncoderClassifier.from_preset(
            args.model, label_names, sequence_length=args.max_length,
            head=args.head, freeze_encoder=args.freeze_encoder,
        )
        demo = tokenization_demo(args.tokenize_text, classifier.preprocessor.tokenizer)
        run.save_metrics({"tokenization_demo": demo})
        print("Subword tokens:", demo["subword_tokens"])

        baselines = frozen_feature_baselines(classifier, data, args.pooling)
        run.save_metrics({"frozen_features": baselines})
        print("Frozen-feature baselines:", baselines)

        history = finetune(classifier, data, args, run)
    pipeline = TextClassificationPipeline(classifier)
    results = evaluate(pipeline, data, label_names, run)
    run.save_metrics({"fine_tuned": results, "history": history})
    print("Fine-tuned:", results)

    probabilities = pipeline.predict_proba([args.text])[0]
    plots.class_probabilities(probabilities, label_names, run.file("plots/custom_text.png"),
                              title=f'Prediction for "{args.text}"')
    run.save_metrics({"custom_text": {"text": args.text, "prediction": pipeline(args.text, top_k=None)}})
    export_run_models(classifier, run.path)
    print(f"Saved model.keras, saved_model/, saved_model_token_ids/, onnx/, metrics.json and plots/ in {run.path}")
    return run


if __name__ == "__main__":
    run_recipe(main)
