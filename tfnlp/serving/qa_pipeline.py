"""Extractive question answering over one or several contexts, with a Keras or an ONNX reader.

Result format (shared by both): `{"answer", "score", "start", "end"}`, `start`
and `end` the character offsets of the answer in its context (`end`
exclusive), plus `"context_index"` when several contexts were given.
"""

import os

import numpy as np

from tfnlp.data.qa import decode_answers, qa_features
from tfnlp.errors import ConfigError, DataError

_OUTPUTS = ("start_logits", "end_logits")


class QuestionAnsweringPipeline:
    """Answer questions with a `QuestionAnswerer` or an `OnnxQuestionAnswerer`.

    Args:
        model: a `QuestionAnswerer` or `OnnxQuestionAnswerer` (its tokenizer,
            `max_length` and `stride` are used).
        max_answer_length: the most tokens in an answer.
        null_threshold: `None` always gives a span (SQuAD v1.1); a number
            allows "no answer" (`""`) when its score beats the best span's by
            more than this (SQuAD 2.0; 0.0 is a neutral start).
        batch_size: windows per model call.

    Example:
    >>> reader = QuestionAnsweringPipeline(model)  # doctest: +SKIP
    >>> reader("Who wrote it?", "Ann wrote it in 1990.")  # doctest: +SKIP
    {'answer': 'Ann', 'score': 0.91, 'start': 0, 'end': 3}
    >>> reader("Who wrote it?", ["Bob sang.", "Ann wrote it."])  # doctest: +SKIP
    {'answer': 'Ann', 'score': 0.88, 'start': 0, 'end': 3, 'context_index': 1}
    """

    def __init__(self, model, max_answer_length=30, null_threshold=None, batch_size=32):
        self.reader = model
        self.tokenizer = model.fast_tokenizer()
        self.max_answer_length = max_answer_length
        self.null_threshold = null_threshold
        self.batch_size = batch_size

    def __call__(self, question, context, top_k=1):
        """Answer `question` from `context` (a string) or from the best of several contexts (a list).

        Returns:
            The best answer dict for `top_k=1`, else a list of up to `top_k`, best first.
        """
        several = not isinstance(context, str)
        contexts = list(context) if several else [context]
        if not contexts:
            raise DataError("No context to answer from: pass a string or a non-empty list of strings.")
        per_context = self.answer_all([question] * len(contexts), contexts, top_k=top_k)
        answers = []
        for index, found in enumerate(per_context):
            answers += [{**answer, "context_index": index} if several else answer for answer in found]
        answers.sort(key=lambda answer: -answer["score"])
        return answers[0] if top_k == 1 else answers[:top_k]

    def answer_all(self, questions, contexts, top_k=1):
        """For each (question, context) pair, a list of up to `top_k` answers, best first."""
        features = qa_features(questions, contexts, self.tokenizer, max_length=self.reader.max_length,
                               stride=self.reader.stride)
        starts, ends = self.reader.predict_logits(features, self.batch_size)
        return decode_answers(features, starts, ends, list(contexts), self.max_answer_length, top_k,
                              self.null_threshold)

    def predict(self, questions, contexts):
        """The best answer text of each pair (for `squad_scores`)."""
        return [found[0]["answer"] if found else "" for found in self.answer_all(questions, contexts)]


class OnnxQuestionAnswerer:
    """A reader exported by `export_onnx(question_answerer, path)`, run by ONNX Runtime.

    Has the interface the pipeline uses (`fast_tokenizer`, `max_length`,
    `stride`, `predict_logits`); needs no TensorFlow.

    Args:
        onnx_path: the `.onnx` file.
        tokenizer: the vocabulary (`vocab.txt`, `tokenizer.json` or their
            folder, for `load_fast_tokenizer`) or a `tokenizers.Tokenizer`;
            `None`: the ONNX file's folder (where `export_run_models` writes it).
        max_length, stride: the windows the reader was trained with; `None`:
            those in the `tokenizer_config.json` beside the ONNX file, else 384
            and 128.
        intra_op_num_threads: threads per operator; `None`: ONNX Runtime's choice.

    Example:
    >>> reader = OnnxQuestionAnswerer("run/onnx/model.onnx")  # doctest: +SKIP
    >>> QuestionAnsweringPipeline(reader)("Who wrote it?", "Ann wrote it.")  # doctest: +SKIP
    """

    def __init__(self, onnx_path, tokenizer=None, max_length=None, stride=None, intra_op_num_threads=None):
        from tokenizers import Tokenizer

        from tfnlp.serving.fast_tokenizer import load_fast_tokenizer
        from tfnlp.serving.onnx_pipeline import _inference_session, exported_settings

        if not os.path.isfile(os.fspath(onnx_path)):
            raise DataError("No ONNX model here.", path=onnx_path,
                            hint="export one with `tfnlp.export.onnx.export_onnx(question_answerer, path)`.")
        self.session = _inference_session(os.fspath(onnx_path), intra_op_num_threads)
        outputs = {output.name for output in self.session.get_outputs()}
        if outputs != set(_OUTPUTS):
            raise ConfigError(
                f"{onnx_path} has the outputs {sorted(outputs)}, not {list(_OUTPUTS)}: export a QuestionAnswerer."
            )
        self._input_types = {spec.name: spec.type for spec in self.session.get_inputs()}
        folder = os.path.dirname(os.fspath(onnx_path))
        windows = exported_settings(folder)
        self.max_length = windows.get("max_length", 384) if max_length is None else max_length
        self.stride = windows.get("stride", 128) if stride is None else stride
        if not isinstance(tokenizer, Tokenizer):
            tokenizer = load_fast_tokenizer(folder if tokenizer is None else tokenizer, self.max_length)
        self._tokenizer = tokenizer

    def fast_tokenizer(self):
        return self._tokenizer

    def predict_logits(self, features, batch_size=32):
        """Start and end logits of every window, as `QuestionAnswerer.predict_logits`."""
        starts, ends = [None] * len(features), [None] * len(features)
        for indices, inputs in features.batches(batch_size):
            feed = {name: inputs[name].astype(np.int64 if kind == "tensor(int64)" else np.int32)
                    for name, kind in self._input_types.items()}
            start, end = self.session.run(list(_OUTPUTS), feed)
            for row, window in enumerate(indices):
                size = len(features.token_ids[window])
                starts[window], ends[window] = start[row, :size], end[row, :size]
        return starts, ends

