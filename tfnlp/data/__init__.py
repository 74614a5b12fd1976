"""Data: readers for common file formats and the registry of named data sets."""

from tfnlp.data.readers import (
    read_conll,
    read_json,
    read_jsonl,
    read_squad,
    read_table,
    read_text_label,
    select_columns,
    validate_texts,
)
from tfnlp.data.registry import (
    DatasetDict,
    DatasetInfo,
    dataset_info,
    encode_labels,
    list_datasets,
    load_dataset,
    resolve_data_dir,
)
