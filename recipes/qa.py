"""Question answering over a document store: retriever (BM25, dense) + reader, evaluated (the QA chapter).

Indexes the SQuAD v1.1 dev paragraphs (2,067) in a SQLite store with BM25 and in a
dense index of MiniLM embeddings, reports index and query times, recall@k of both
retrievers over all dev questions (a paragraph is relevant when it contains a gold
answer) with the recall-vs-k plot, then the reader's EM/F1 on the gold paragraph and
end to end through the retriever (top 10) on the held-out articles, side by side.
The reader is a trained one (`--reader`: a `recipes.squad` run folder or .keras
file), else one fine-tuned here on the training articles. Domain adaptation: the
reader is fine-tuned on `--adapt-train` and evaluated on `--adapt-eval` before and
after (SQuAD-format JSON or CSV/TSV/JSONL of question/context/answer columns); by
default the science articles of the held-out split, half to adapt and half to
evaluate. `--csv-to-squad IN OUT` converts such a table to SQuAD JSON and exits;
`--question` answers any question against the indexed store.
"""

import time

import keras

from tfnlp.cli import parse_args, recipe_parser, run_recipe
from tfnlp.data.qa import load_qa_data, read_qa_table, split_by_article, write_squad_json
from tfnlp.errors import ConfigError
from tfnlp.export.saving import load_trained_model, save_model
from tfnlp.models.question_answering import QuestionAnswerer
from tfnlp.retrieval import (
    BM25Retriever,
    DenseIndex,
    DenseRetriever,
    SQLiteDocumentStore,
    encoder_embedder,
    recall_at_k,
    recall_vs_k_plot,
    squad_paragraph_documents,
)
from tfnlp.retrieval.pipeline import ExtractiveQAPipeline, end_to_end_scores, reader_scores
from tfnlp.runs import RunDir
from tfnlp.serving.qa_pipeline import QuestionAnsweringPipeline
from tfnlp.training import fit, recipe_strategy

KS = (1, 3, 5, 10, 20)
EXAMPLE_QUESTIONS = ["Which NFL team won Super Bowl 50?", "What is the chemical symbol of oxygen?",
                     "Who founded the Yuan dynasty?"]
# Held-out SQuAD dev articles of the natural sciences: the default target domain.
SCIENCE_ARTICLES = ("Chloroplast", "Prime_number", "Force", "Geology", "Oxygen", "Immune_system", "Ctenophora")
FAST = {"max_questions": 60, "max_eval_questions": 20, "max_train_questions": 60}


def build_parser():
    parser = recipe_parser(__doc__, epochs=2, batch_size=16, max_length=384, learning_rate=1e-4)
    add = parser.add_argument
    add("--data", default="squad", help="the corpus and questions: 'squad' (SQuAD v1.1 dev) or a SQuAD-format .json.")
    add("--train-articles", type=int, default=38, help="articles whose questions train the reader.")
    add("--eval-articles", type=int, default=10, help="held-out articles whose questions evaluate it.")
    add("--reader", help="a trained reader: a recipes.squad run folder or .keras file (default: train one).")
    add("--stride", type=int, default=128, help="tokens shared by consecutive windows of a long context.")
    add("--top-k-retriever", type=int, default=10, help="documents the reader reads per question.")
    add("--top-k-reader", type=int, default=3, help="answers returned per question.")
    add("--max-questions", type=int, help="recall@k on a random sample of this many dev questions (default all).")
    add("--max-eval-questions", type=int, help="reader and end-to-end scores on a sample of the held-out questions.")
    add("--max-train-questions", type=int, help="train the reader on a sample of the training questions.")
    add("--adapt-train", help="target-domain training data for domain adaptation (SQuAD JSON or a table).")
    add("--adapt-eval", help="target-domain evaluation data (with --adapt-train).")
    add("--adapt-epochs", type=int, default=2, help="fine-tuning epochs on the target domain.")
    add("--no-adaptation", action="store_true", help="skip domain adaptation.")
    add("--question", help="answer this question from the indexed store and exit.")
    add("--csv-to-squad", nargs=2, metavar=("TABLE", "JSON"),
        help="convert a question/context/answer table to SQuAD JSON and exit.")
    add("--question-column", default="question", help="question column of a table.")
    add("--context-column", default="context", help="context column of a table.")
    add("--answer-column", default="answer", help="answer column of a table (empty: no answer).")
    return parser


def main(argv=None):
    args = parse_args(build_parser(), argv)
    if args.csv_to_squad:
        return convert_table(args)
    if bool(args.adapt_train) != bool(args.adapt_eval):
        raise ConfigError("--adapt-train and --adapt-eval go together: give both files, or neither.")
    if args.fast:
        args.epochs = args.adapt_epochs = 1
        vars(args).update({key: value for key, value in FAST.items() if getattr(args, key) is None})
    keras.utils.set_random_seed(args.seed)
    questions = load_qa_data(args.data, args.data_dir)  # bad data fails here, before any folder is made
    adapt = None if args.no_adaptation or not args.adapt_train else (
        load_qa_data(args.adapt_train, **table_columns(args)), load_qa_data(args.adapt_eval, **table_columns(args)))
    run = RunDir(args.output_dir, "qa", args.name, args.resume)
    run.save_config(args)
    print(f"Run folder: {run.path}")

    store, dense_index, index_times = build_store(questions, args, run)
    run.save_metrics({"index": index_times})
    print(f"Indexed {index_times['documents']} paragraphs: BM25 {index_times['bm25_seconds']:.1f} s, "
          f"dense {index_times['dense_seconds']:.1f} s")
    retrievers = {"BM25": BM25Retriever(store), "Dense": DenseRetriever(store, dense_index)}
    sample = questions if not args.max_questions else questions.sample(
        min(len(questions), args.max_questions), random_state=args.seed)
    recalls = {name: recall_at_k(retriever, sample, KS) for name, retriever in retrievers.items()}
    run.save_metrics({"recall_at_k": recalls})
    recall_vs_k_plot(recalls, run.file("plots/recall_vs_k.png"), title=f"Retriever recall@k, {args.data}")
    for name, result in recalls.items():
        print(f"{name}: recall@k {result['recall']}, {result['ms_per_query']:.1f} ms per query")

    train, held_out, split = split_by_article(questions, args.train_articles, args.eval_articles)
    run.save_metrics({"split": split})
    reader = get_reader(train, args, run)
    pipeline = ExtractiveQAPipeline(retrievers["BM25"], QuestionAnsweringPipeline(reader))
    examples = {question: pipeline.ask(question, args.top_k_retriever, args.top_k_reader)
                for question in (args.question and [args.question]) or EXAMPLE_QUESTIONS}
    run.save_metrics({"examples": examples})
    for question, answers in examples.items():
        print(question, "->", [(a["answer"], round(a["score"], 3), a["meta"].get("title")) for a in answers])
    if args.question:
        return run

    evaluation = held_out if not args.max_eval_questions else held_out.sample(
        min(len(held_out), args.max_eval_questions), random_state=args.seed)
    scores = {"reader (gold paragraph)": reader_scores(pipeline.reader, evaluation)}
    for name, retriever in retrievers.items():
        scores[f"{name} top {args.top_k_retriever} + reader"] = end_to_end_scores(
            ExtractiveQAPipeline(retriever, pipeline.reader), evaluation, args.top_k_retriever)
    run.save_metrics({"reader_vs_end_to_end": scores})
    print(table(scores))
    (run.path / "scores.md").write_text(table(scores) + "\n")

    if not args.no_adaptation:
        adapt = adapt or science_domain(held_out)
        run.save_metrics({"domain_adaptation": adapt_reader(reader, *adapt, args, run)})
    print(f"Saved metrics.json, scores.md, plots/, the store and its dense index in {run.path}")
    return run


def convert_table(args):
    input_path, output_path = args.csv_to_squad
    frame = read_qa_table(input_path, question=args.question_column, context=args.context_column,
                          answer=args.answer_column)
    write_squad_json(frame, output_path)
    print(f"Wrote {len(frame)} questions on {frame['context'].nunique()} contexts to {output_path}")
    return output_path


def table_columns(args):
    return {"question": args.question_column, "context": args.context_column, "answer": args.answer_column}


def build_store(questions, args, run):
    documents = squad_paragraph_documents(questions)
    start = time.perf_counter()
    store = SQLiteDocumentStore(run.path / "documents.sqlite")
    store.write_documents(documents)
    bm25_seconds = time.perf_counter() - start
    start = time.perf_counter()
    dense_index = DenseIndex.for_store(store, encoder_embedder(args.model))
    dense_index.update(store)
    return store, dense_index, {"documents": store.count(), "bm25_seconds": round(bm25_seconds, 2),
                                "dense_seconds": round(time.perf_counter() - start, 2)}


def get_reader(train, args, run):
    if args.reader:
        return load_trained_model(args.reader)
    with recipe_strategy(args.strategy, run).scope():
        reader = QuestionAnswerer.from_preset(args.model, max_length=args.max_length, stride=args.stride)
        fine_tune(reader, train, args, args.epochs, run.file("reader"))
    save_model(reader, run.path / "reader.keras")
    return reader


def fine_tune(reader, frame, args, epochs, run_dir):
    if args.max_train_questions:
        frame = frame.sample(min(len(frame), args.max_train_questions), random_state=args.seed)
    features = reader.features(frame["question"].tolist(), frame["context"].tolist(), frame["answers"].tolist())
    fit(reader, features.dataset(args.batch_size, shuffle=True, seed=args.seed), epochs=epochs,
        learning_rate=args.learning_rate, run_dir=run_dir, monitor="loss")


def science_domain(held_out):
    """The held-out science articles' questions, split by article: half to adapt on, half to evaluate."""
    science = held_out[held_out["title"].isin(SCIENCE_ARTICLES)]
    titles = list(dict.fromkeys(science["title"]))
    if len(titles) < 2:
        raise ConfigError("The held-out split has fewer than 2 science articles: pass --adapt-train and --adapt-eval.")
    train, evaluate, _ = split_by_article(science, len(titles) // 2, len(titles) - len(titles) // 2)
    return train, evaluate


def adapt_reader(reader, target_train, target_eval, args, run):
    before = reader_scores(QuestionAnsweringPipeline(reader), target_eval)
    with recipe_strategy(args.strategy, run).scope():
        fine_tune(reader, target_train, args, args.adapt_epochs, run.file("adapted"))
    after = reader_scores(QuestionAnsweringPipeline(reader), target_eval)
    save_model(reader, run.path / "adapted_reader.keras")
    print(f"Domain adaptation ({len(target_train)} questions): EM {before['exact_match']:.3f} -> "
          f"{after['exact_match']:.3f}, F1 {before['f1']:.3f} -> {after['f1']:.3f} on {after['count']} questions")
    return {"train_questions": len(target_train), "before": before, "after": after}


def table(scores):
    lines = ["| answers from | EM | F1 | questions | seconds |", "|---|---|---|---|---|"]
    lines += [f"| {name} | {result['exact_match']:.3f} | {result['f1']:.3f} | {result['count']} | {result['seconds']} |"
              for name, result in scores.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    run_recipe(main)
