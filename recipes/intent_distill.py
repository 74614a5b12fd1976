"""Make an intent classifier efficient on CLINC150 (the chapter on efficient transformers in production).

Steps: fine-tune the teacher (MiniLM-L6, 151 labels incl. `oos`); measure it through the
Keras pipeline and through transformers' PyTorch pipeline on the same weights; fine-tune a
3-layer student made from teacher layers alone (alpha = 1); search alpha, temperature and
epochs for distillation with keras-tuner and retrain the best, on the training queries plus
teacher-labelled texts (SQuAD questions as out-of-scope probes; optionally word-dropped
copies of the queries; the teacher's logits computed once); export the distilled student
(.keras, SavedModel, ONNX fp32, ONNX int8 per-channel); prune it to 50/70/90% sparsity.
Every variant gets size (MB), one-query latency and test accuracy (with in-scope accuracy and `oos`
recall), in one table and one plot.
`--resume --name RUN` keeps the models a run already saved (teacher, student alone, distilled,
pruned), trains only what is missing, and exports and measures every variant again.
"""

import functools
import gc

import keras
import numpy as np

from tfnlp.benchmark.performance import PerformanceBenchmark, plot_metrics, results_table, summary_line
from tfnlp.cli import parse_args, recipe_parser, run_recipe
from tfnlp.data import load_dataset
from tfnlp.data.augmentation import as_plain_queries, drop_words
from tfnlp.data.pipeline import text_dataset
from tfnlp.errors import ConfigError, DataError
from tfnlp.export.bundle import export_run_models
from tfnlp.export.hf_bert import export_hf_bert, max_logit_difference
from tfnlp.export.isolated import export_onnx_in_subprocess
from tfnlp.export.saving import load_trained_model, save_model
from tfnlp.models.classifier import EncoderClassifier
from tfnlp.models.encoders import load_encoder
from tfnlp.models.students import count_parameters, student_classifier
from tfnlp.runs import RunDir
from tfnlp.serving.onnx_pipeline import OnnxTextClassificationPipeline
from tfnlp.serving.pipelines import SavedModelPipeline, TextClassificationPipeline
from tfnlp.serving.transformers_pipeline import TorchTextClassificationPipeline
from tfnlp.training import Distiller, count_batches, fit, recipe_strategy, with_teacher_logits
from tfnlp.training.pruning import MagnitudePruning, kernel_values, weight_histogram
from tfnlp.training.tuning import distill, search_and_distill

FAST_SIZES = {"train": 2000, "validation": 300, "test": 300}
ACCURACY = "val_sparse_categorical_accuracy"
INT8 = "distilled + ORT int8"
WORD_DROP_RATE = 0.15


def build_parser():
    parser = recipe_parser(__doc__, epochs=5, batch_size=32, max_length=64, learning_rate=1e-4)
    add = parser.add_argument
    add("--teacher", help="a fine-tuned teacher .keras file (e.g. an earlier run's teacher.keras): skip its training.")
    add("--student-layers", help="teacher layers the student keeps, comma-separated; default half of them, evenly "
        "spaced from the first to the last (0,2,5 of MiniLM-L6's six: the copied head needs the last).")
    add("--student-encoder", help="start the student from this pretrained encoder instead of teacher layers "
        "(e.g. minilm-l3-onnx, read out of the packaged ONNX file); it must share the teacher's vocabulary.")
    add("--student-epochs", type=int, default=5,
        help="epochs of the student fine-tuned alone; the search tries this to twice this (the chapter: 5 to 10).")
    add("--trials", type=int, default=8, help="keras-tuner trials over alpha, temperature and epochs.")
    add("--alpha", type=float, help="with --temperature: distil with these values (and --student-epochs), no search.")
    add("--temperature", type=float, help="see --alpha.")
    add("--hidden-weight", type=float, default=0.0,
        help="weight of intermediate-layer distillation: the student's layers also learn the hidden states of "
        "teacher layers 1, 3, 5 (TinyBERT); the teacher then runs at every step. 0: logits only.")
    add("--transfer-questions", type=int, default=5000,
        help="SQuAD questions (from --data-dir) added to the distillation data, labelled by the teacher: they show "
        "the student what the teacher rejects as out of scope. 0: distil on CLINC150 alone.")
    add("--augment-copies", type=int, default=0,
        help="copies of the training queries with words dropped, labelled by the teacher, added to the "
        "distillation data (1 copy: +0.3 points on CLINC150 for 1.7x the distillation time; RESULTS.md).")
    add("--sparsities", default="0.5,0.7,0.9", help="pruning targets, comma-separated fractions.")
    add("--pruning-epochs", type=int, default=2, help="epochs of distillation while pruning, per target.")
    add("--query", default="What is the pin number for my account?", help="the query whose latency is measured.")
    return parser


def load_data(args):
    data = load_dataset("clinc150", data_dir=args.data_dir)
    label_names = list(data.info.label_names)
    if args.fast:
        data = {split: frame.sample(min(len(frame), FAST_SIZES[split]), random_state=args.seed)
                for split, frame in data.items()}
    return data, label_names


def fast_settings(args):
    if args.fast:
        args.epochs, args.student_epochs, args.trials, args.pruning_epochs = 1, 1, 2, 1
        args.transfer_questions = min(args.transfer_questions, 200)


def transfer_questions(args):
    """`--transfer-questions` SQuAD questions, written as CLINC150 writes queries."""
    if args.transfer_questions <= 0:
        return []
    try:
        questions = load_dataset("squad", data_dir=args.data_dir)["validation"]["question"].drop_duplicates()
    except DataError as error:
        raise ConfigError(f"--transfer-questions needs the SQuAD data set ({error}); pass --transfer-questions 0 "
                          "to distil on CLINC150 alone.") from error
    count = min(args.transfer_questions, len(questions))
    return as_plain_queries(questions.sample(count, random_state=args.seed).tolist())


def distillation_data(teacher, train_frame, args):
    """`(dataset, sizes)`: the training queries, `--augment-copies` word-dropped copies and the transfer questions,
    with the teacher's logits (computed once here, not at every step); the extra texts take the teacher's labels."""
    texts = train_frame["text"].tolist()
    extras = {
        "word_dropped": [variant for copy in range(args.augment_copies)
                         for variant in drop_words(texts, rate=WORD_DROP_RATE, seed=args.seed + copy)],
        "transfer_questions": transfer_questions(args),
    }
    all_texts = texts + [text for extra in extras.values() for text in extra]
    targets = with_teacher_logits(teacher, all_texts)
    targets["labels"][: len(texts)] = train_frame["label"]
    sizes = {"queries": len(texts), **{name: len(extra) for name, extra in extras.items()}}
    print("Distillation data:", sizes)
    return text_dataset(all_texts, targets, args.batch_size, shuffle=True, seed=args.seed), sizes


def saved_or_trained(run, filename, train):
    """The model a resumed run saved as `filename`, else `train()`'s, saved there."""
    path = run.path / filename
    if run.resumed and path.is_file():
        print(f"Resuming with {path}")
        return load_trained_model(path)
    model = train()
    save_model(model, path)
    return model


def train_teacher(args, label_names, train, validation, run):
    if args.teacher:
        return load_trained_model(args.teacher)
    teacher = EncoderClassifier.from_preset(args.model, label_names, sequence_length=args.max_length)
    fit(teacher, train, validation, epochs=args.epochs, learning_rate=args.learning_rate,
        run_dir=run.file("teacher"), monitor=ACCURACY, mode="max")
    return teacher


def prune(build_student, student, teacher, best, sparsity, train, validation, args):
    """A copy of the distilled student, distilled again while pruned to `sparsity`."""
    pruned = build_student()
    pruned.set_weights(student.get_weights())
    steps = args.pruning_epochs * count_batches(train)
    pruning = MagnitudePruning(pruned, sparsity, end_step=max(1, int(0.75 * steps)), frequency=max(1, steps // 50))
    fit(Distiller(pruned, teacher, alpha=best["alpha"], temperature=best["temperature"],
                  hidden_weight=args.hidden_weight), train, validation,
        epochs=args.pruning_epochs, learning_rate=args.learning_rate, callbacks=[pruning])
    return pruned


def distill_student(build_student, teacher, train, validation, args, run):
    """The searched (or, with --alpha and --temperature, the given) distillation; `(student, best, history)`."""
    options = {"learning_rate": args.learning_rate, "run_dir": run.file("distilled"), "monitor": ACCURACY,
               "mode": "max", "hidden_weight": args.hidden_weight}
    if args.alpha is not None and args.temperature is not None:
        best = {"alpha": args.alpha, "temperature": args.temperature, "epochs": args.student_epochs, "trials": []}
        student, history = distill(build_student, teacher, train, validation, alpha=args.alpha,
                                   temperature=args.temperature, epochs=args.student_epochs, **options)
        return student, best, history
    return search_and_distill(build_student, teacher, train, validation, run.path / "tuning",
                              max_trials=args.trials, epochs=(args.student_epochs, 2 * args.student_epochs),
                              seed=args.seed, **options)


def check_targets(results):
    """The issue's targets, measured side by side in this run."""
    teacher, torch_teacher = results["teacher (Keras)"], results["teacher (transformers PyTorch)"]
    int8, alone, distilled = results[INT8], results["student alone (alpha=1)"], results["distilled (Keras)"]
    latency = {name: metrics["latency_ms"]["mean"] for name, metrics in results.items()}
    checks = {
        "int8 latency <= teacher Keras / 5": latency[INT8] <= latency["teacher (Keras)"] / 5,
        "int8 size <= teacher / 4": int8["size_mb"] <= teacher["size_mb"] / 4,
        "int8 >= 4x faster than PyTorch pipeline": latency["teacher (transformers PyTorch)"] >= 4 * latency[INT8],
        "int8 accuracy >= teacher - 0.5 points": int8["accuracy"] >= teacher["accuracy"] - 0.005,
        "distilled accuracy >= student alone": distilled["accuracy"] >= alone["accuracy"],
    }
    ratios = {
        "latency teacher Keras / int8": latency["teacher (Keras)"] / latency[INT8],
        "latency PyTorch / int8": latency["teacher (transformers PyTorch)"] / latency[INT8],
        "size teacher / int8": teacher["size_mb"] / int8["size_mb"],
        "accuracy int8 - teacher": int8["accuracy"] - teacher["accuracy"],
        "accuracy PyTorch teacher - Keras teacher": torch_teacher["accuracy"] - teacher["accuracy"],
    }
    return {"met": checks, "ratios": ratios}


def main(argv=None):
    args = parse_args(build_parser(), argv)
    fast_settings(args)
    keras.utils.set_random_seed(args.seed)
    data, label_names = load_data(args)  # bad data fails here, before any folder is made
    layers = [int(i) for i in args.student_layers.split(",")] if args.student_layers else None
    sparsities = [float(s) for s in args.sparsities.split(",")]
    run = RunDir(args.output_dir, "intent_distill", args.name, args.resume)
    run.save_config(args)
    print(f"Run folder: {run.path}")
    print({split: len(frame) for split, frame in data.items()})
    train = text_dataset(data["train"]["text"], data["train"]["label"], args.batch_size, shuffle=True, seed=args.seed)
    validation = text_dataset(data["validation"]["text"], data["validation"]["label"], args.batch_size)
    results = {}

    def measure(make_pipeline, name):
        benchmark = PerformanceBenchmark(make_pipeline(), data["test"], name, label_names=label_names,
                                         query=args.query)
        results.update(benchmark.run(run.file("benchmark.json")))
        del benchmark
        gc.collect()  # one run holds many models: free each pipeline (and its traced graph) once measured
        print(summary_line(name, results[name]))

    strategy = recipe_strategy(args.strategy, run)  # each training below builds its variables in its scope
    with strategy.scope():
        teacher = saved_or_trained(run, "teacher.keras",
                                   lambda: train_teacher(args, label_names, train, validation, run))
    measure(lambda: TextClassificationPipeline(teacher), "teacher (Keras)")
    hf_dir = export_hf_bert(teacher, run.path / "transformers")
    run.save_metrics({"transformers_max_logit_difference": max_logit_difference(
        teacher, hf_dir, data["test"]["text"].tolist()[:64])})
    measure(lambda: TorchTextClassificationPipeline(hf_dir), "teacher (transformers PyTorch)")

    def build_student():
        encoder = load_encoder(args.student_encoder) if args.student_encoder else None
        return student_classifier(teacher, layers, encoder=encoder, copy_head=encoder is None)

    def train_alone():
        alone = build_student()
        fit(alone, train, validation, epochs=args.student_epochs, learning_rate=args.learning_rate,
            run_dir=run.file("student_alone"), monitor=ACCURACY, mode="max")
        return alone

    with strategy.scope():
        alone = saved_or_trained(run, "student_alone.keras", train_alone)
    run.save_metrics({"parameters": {"teacher": count_parameters(teacher), "student": count_parameters(alone)}})
    measure(lambda: TextClassificationPipeline(alone), "student alone (alpha=1)")
    alone = None  # free it before the distillation

    @functools.cache  # only when something is distilled: a fully resumed run needs no teacher logits
    def distillation_train():
        dataset, sizes = distillation_data(teacher, data["train"], args)
        run.save_metrics({"distillation_data": sizes})
        return dataset

    if run.resumed and (run.path / "model.keras").is_file() and "search" in run.metrics:
        student, best = load_trained_model(run.path / "model.keras"), run.metrics["search"]
    else:
        with strategy.scope():
            student, best, history = distill_student(build_student, teacher, distillation_train(), validation,
                                                     args, run)
        run.save_metrics({"search": best, "distilled_history": {k: [float(v) for v in vs]
                                                                for k, vs in history.history.items()}})
    print("Best distillation values:", {key: best[key] for key in ("alpha", "temperature", "epochs")})
    exported = export_run_models(student, run.path)  # again on resume: the current exporter
    measure(lambda: TextClassificationPipeline(student), "distilled (Keras)")

    def onnx_pipeline(path):  # the tokenizer files are beside the ONNX file
        return lambda: OnnxTextClassificationPipeline(path, max_length=args.max_length)

    measure(onnx_pipeline(exported["onnx"]), "distilled + ORT fp32")
    measure(onnx_pipeline(exported["onnx_int8"]), INT8)  # per-channel scales
    measure(lambda: SavedModelPipeline(exported["saved_model"]), "distilled (SavedModel)")

    dense_values = kernel_values(student)
    for sparsity in sparsities:
        percent = round(100 * sparsity)
        with strategy.scope():
            pruned = saved_or_trained(run, f"pruned_{percent}.keras", lambda: prune(
                build_student, student, teacher, best, sparsity, distillation_train(), validation, args))
        pruned_values = kernel_values(pruned)
        reached = float(np.mean(pruned_values == 0))
        weight_histogram(dense_values, pruned_values, reached, run.file(f"plots/weights_pruned_{percent}.png"))
        _, path = export_onnx_in_subprocess(run.path / f"pruned_{percent}.keras",
                                            run.path / "onnx" / f"pruned_{percent}.onnx")
        measure(onnx_pipeline(path), f"distilled + pruned {percent}% + ORT int8")
        run.save_metrics({f"pruned_{percent}": {"sparsity_reached": reached}})
        del pruned

    table = results_table(results)
    run.file("benchmark.md").write_text(table + "\n")
    plot_metrics(results, INT8, run.file("plots/accuracy_vs_latency.png"))
    targets = check_targets(results)
    run.save_metrics({"benchmark": results, "targets": targets})
    print("\n" + table)
    print("\nTargets:", targets)
    print("Saved benchmark.md, benchmark.json, plots/, model.keras (distilled), teacher.keras, student_alone.keras, "
          f"saved_model/, onnx/ in {run.path}")
    return run


if __name__ == "__main__":
    run_recipe(main)
