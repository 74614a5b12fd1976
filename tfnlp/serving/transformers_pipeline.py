"""The transformers (PyTorch) text-classification pipeline, wrapped for `PerformanceBenchmark`.

The reference the chapter measures the optimised models against. Needs torch and
transformers; give it a folder written by `tfnlp.export.hf_bert.export_hf_bert`.
"""

import os

from tfnlp.errors import DataError
from tfnlp.serving.pipelines import path_size_mb


class TorchTextClassificationPipeline:
    """`transformers.pipeline("text-classification")` on CPU, with the size of its weights file.

    Args:
        directory: a Hugging Face model folder (config, weights, tokenizer).
        num_threads: PyTorch intra-op threads; `None` keeps PyTorch's default.
        batch_size: texts per forward pass when given a list.

    Example:
    >>> pipeline = TorchTextClassificationPipeline("run/transformers")  # doctest: +SKIP
    >>> pipeline("what is my pin")  # doctest: +SKIP
    [{'label': 'pin_change', 'score': 0.91}]
    """

    def __init__(self, directory, num_threads=None, batch_size=64):
        import torch
        import transformers

        self.directory = os.fspath(directory)
        if not os.path.isfile(os.path.join(self.directory, "config.json")):
            raise DataError("No Hugging Face model here (no config.json).", path=self.directory,
                            hint="write one with `tfnlp.export.hf_bert.export_hf_bert(classifier, directory)`.")
        if num_threads is not None:
            torch.set_num_threads(num_threads)
        self.pipeline = transformers.pipeline("text-classification", model=self.directory, device="cpu")
        config = self.pipeline.model.config
        self.label_names = [config.id2label[index] for index in range(config.num_labels)]
        self.batch_size = batch_size

    def __call__(self, texts):
        """`pipeline("text")` -> `[{"label", "score"}]`; a list gives one result per text."""
        if isinstance(texts, str):
            return self.pipeline(texts, truncation=True)
        return self.pipeline(list(texts), truncation=True, batch_size=self.batch_size)

    def size_mb(self):
        """Size in MiB of the weights file (`model.safetensors`)."""
        return path_size_mb(os.path.join(self.directory, "model.safetensors"))
