"""The registry of named data sets: their files, splits, columns and labels, and their hub names for online use.

`load_dataset(name)` reads a data set from local files (see `resolve_data_dir`) or, when they are not found and
the `datasets` package can go online, from the Hugging Face hub, and returns the same columns either way.
"""

import dataclasses
import difflib
import functools
import logging
import os
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from tfnlp.data.readers import (
    read_conll,
    read_json,
    read_squad,
    read_table,
    read_text_label,
    select_columns,
    validate_texts,
)
from tfnlp.errors import DataError

logger = logging.getLogger(__name__)

# <repo root>/../shared/data, where the repo root is the folder holding the `tfnlp` package.
_SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
_OFFLINE_VARIABLES = ("TFNLP_OFFLINE", "HF_DATASETS_OFFLINE")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What tfnlp knows about a named data set.

    Attributes:
        name: the registry name, e.g. "emotion".
        folder: the data set's folder inside the data directory.
        splits: split name -> file name, or (file name, key) for a JSON file holding several splits.
        task: "text-classification", "text-pair-regression", "token-classification", "question-answering" or
            "summarization".
        text_columns: the input text columns.
        label_column: the target column, or None.
        label_names: the class names in id order (ids are what `load_dataset` returns), or None.
        hub_id, hub_config: the Hugging Face hub name and config used when the local files are missing.
        tfds_name: the TensorFlow Datasets name, or None.
        license: the data's licence.
        description: one line about the data set.
        reader: reads one split file, `reader(path)` or `reader(path, key)`, into the columns below with
            class names as labels.
        hub_converter: turns one hub split into the same columns as `reader`.
        first_line: the line number of the first row in the split files, for error messages; None when rows do
            not map to lines.
    """

    name: str
    folder: str
    splits: dict
    task: str
    text_columns: tuple
    label_column: str | None
    label_names: tuple | None
    hub_id: str
    hub_config: str | None
    tfds_name: str | None
    license: str
    description: str
    reader: Callable = dataclasses.field(repr=False)
    hub_converter: Callable = dataclasses.field(repr=False)
    first_line: int | None = None


class DatasetDict(dict):
    """The splits of a named data set: split name -> DataFrame, with the data set's `DatasetInfo` as `.info`."""

    def __init__(self, splits, info):
        super().__init__(splits)
        self.info = info

    def __repr__(self):
        rows = ", ".join(f"{split}: {len(frame)} rows" for split, frame in self.items())
        return f"DatasetDict({self.info.name!r}, {rows})"


def list_datasets():
    """Returns the names of the registered data sets.

    Example:
    >>> "emotion" in list_datasets()
    True
    """
    return list(_REGISTRY)


def dataset_info(name):
    """Returns the `DatasetInfo` of a registered data set.

    Example:
    >>> dataset_info("emotion").label_names[:2]
    ('sadness', 'joy')
    """
    if name not in _REGISTRY:
        raise DataError(
            f"unknown data set {name!r}{_suggestion(name, _REGISTRY)}; the known data sets are "
            f"{', '.join(_REGISTRY)}",
            hint="use one of the known names, or read your own files with tfnlp.data.read_table, read_json, ...",
        )
    return _REGISTRY[name]


def resolve_data_dir(data_dir=None):
    """Returns the data directory: the first that exists of `data_dir`, $TFNLP_DATA_DIR, ../shared/data
    (beside the repository) and ./data; None if there is none.

    An explicit `data_dir` that does not exist raises DataError rather than falling back to another folder.

    Example:
    >>> resolve_data_dir()
    PosixPath('/work/shared/data')
    """
    if data_dir is not None and not Path(data_dir).is_dir():
        raise DataError(
            "data directory not found", data_dir, hint="pass the folder that holds the data sets' folders"
        )
    return next((directory for directory in _search_dirs(data_dir) if directory.is_dir()), None)


def load_dataset(name, split=None, data_dir=None):
    """Loads a registered data set as DataFrames, from local files or else from the Hugging Face hub.

    Local files are looked for in `data_dir` if given, else in $TFNLP_DATA_DIR, ../shared/data and ./data. Class
    labels come as int32 ids into `info.label_names`.

    Args:
        name: a name from `list_datasets()`.
        split: one split to load; by default, all of them.
        data_dir: the folder holding the data set's folder (e.g. `emotion/`).

    Returns:
        A `DatasetDict` (split -> DataFrame, with `.info`), or a DataFrame when `split` is given.

    Example:
    >>> emotion = load_dataset("emotion")
    >>> emotion["train"].columns.tolist(), emotion.info.label_names[0]
    (['text', 'label'], 'sadness')
    >>> validation = load_dataset("emotion", split="validation", data_dir="../shared/data")
    """
    info = dataset_info(name)
    splits = _requested_splits(info, split)
    folder = _local_folder(info, splits, data_dir)
    if folder is not None:
        frames = {each: _load_local(info, folder, each) for each in splits}
    elif _offline_reason() is None:
        frames = {each: _load_hub(info, each) for each in splits}
    else:
        raise _not_found_error(info, splits, data_dir)
    return frames[split] if split else DatasetDict(frames, info)


def encode_labels(values, label_names, path=None, first_line=1):
    """Returns the int32 ids of class names `values` in `label_names`.

    Args:
        values: class names, one per row.
        label_names: the class names in id order.
        path: the file the values come from, for the message of an unknown label.
        first_line: the file's line number of the first value, or None when values do not map to lines.

    Example:
    >>> encode_labels(["joy", "sadness"], ("sadness", "joy"))
    array([1, 0], dtype=int32)
    """
    ids = {name: index for index, name in enumerate(label_names)}
    values = list(values)
    codes = np.fromiter((ids.get(value, -1) for value in values), dtype=np.int32, count=len(values))
    unknown = codes < 0
    if unknown.any():
        row = int(np.argmax(unknown))
        line = None if first_line is None else first_line + row
        raise _unknown_label_error(values[row], f"row {row + 1}", label_names, path, line)
    return codes


def _search_dirs(data_dir):
    if data_dir is not None:
        return [Path(data_dir).resolve()]
    environment = [Path(os.environ["TFNLP_DATA_DIR"])] if os.environ.get("TFNLP_DATA_DIR") else []
    return [directory.resolve() for directory in [*environment, _SHARED_DATA, Path("data")]]


def _requested_splits(info, split):
    if split is None:
        return list(info.splits)
    if split not in info.splits:
        raise DataError(
            f"data set {info.name!r} has no split {split!r}{_suggestion(split, info.splits)}; its splits are "
            f"{', '.join(info.splits)}",
            hint="pass one of those splits, or split=None for all of them",
        )
    return [split]


def _split_file(info, split):
    """Returns the (file name, key or None) of a split."""
    spec = info.splits[split]
    return (spec, None) if isinstance(spec, str) else spec


def _local_folder(info, splits, data_dir):
    for directory in _search_dirs(data_dir):
        folder = directory / info.folder
        if all((folder / _split_file(info, split)[0]).is_file() for split in splits):
            return folder
    return None


def _load_local(info, folder, split):
    file_name, key = _split_file(info, split)
    path = folder / file_name
    frame = info.reader(path) if key is None else info.reader(path, key)
    return _prepare(frame, info, path, info.first_line)


def _load_hub(info, split):
    import datasets  # optional: only for online loading

    logger.info("Local files of %r not found; loading %s from the Hugging Face hub", info.name, info.hub_id)
    source = f"{info.hub_id} [{split}]"
    try:
        data = datasets.load_dataset(info.hub_id, info.hub_config, split=split)
    except Exception as error:  # network, authentication, hub layout: all end the same way for the user
        raise DataError(
            f"could not load from the Hugging Face hub: {error}",
            source,
            hint=f"check the network, or use local files: data_dir= pointing at the folder that holds "
            f"'{info.folder}/'",
        ) from error
    return _prepare(info.hub_converter(data), info, source, first_line=None)


def _offline_reason():
    """Returns why the hub cannot be used (a sentence), or None when it can."""
    for variable in _OFFLINE_VARIABLES:
        if os.environ.get(variable, "").strip().lower() in ("1", "true", "yes", "on"):
            return f"online loading is off ({variable}={os.environ[variable]})"
    try:
        import datasets  # noqa: F401  (optional: only for online loading)
    except ImportError:
        return "the `datasets` package, needed to download from the hub, is not installed"
    return None


def _not_found_error(info, splits, data_dir):
    files = list(dict.fromkeys(_split_file(info, split)[0] for split in splits))
    searched = "; ".join(_folder_state(directory / info.folder, files) for directory in _search_dirs(data_dir))
    return DataError(
        f"data set {info.name!r} not found: expected {', '.join(files)} in one of: {searched}; and "
        f"{_offline_reason()}",
        hint=f"pass data_dir= (or --data-dir) naming the folder that holds '{info.folder}/', or set "
        f"TFNLP_DATA_DIR to it; or, with network access, `pip install datasets` and leave TFNLP_OFFLINE and "
        f"HF_DATASETS_OFFLINE unset to download {info.hub_id!r} from the Hugging Face hub",
    )


def _folder_state(folder, files):
    if not folder.is_dir():
        return f"{folder} (no such directory)"
    return f"{folder} (missing {', '.join(name for name in files if not (folder / name).is_file())})"


def _prepare(frame, info, source, first_line):
    """Checks the texts and turns labels into ids (or scores): the same for local files and the hub."""
    for column in info.text_columns:
        validate_texts(frame, column, source, first_line)
    label = info.label_column
    if label not in frame.columns:
        return frame  # a test split without labels
    if info.task == "token-classification":
        frame[label] = _encode_tags(frame[label], info.label_names, source)
    elif info.label_names is not None:
        frame[label] = encode_labels(frame[label], info.label_names, source, first_line)
    elif info.task == "text-pair-regression":
        frame[label] = _scores(frame[label], source, first_line)
    return frame


def _encode_tags(column, label_names, source):
    """Returns lists of int ids for lists of tags, one list per sentence."""
    ids = {name: index for index, name in enumerate(label_names)}
    encoded = []
    for number, tags in enumerate(column, start=1):
        unknown = [tag for tag in tags if tag not in ids]
        if unknown:
            raise _unknown_label_error(unknown[0], f"sentence {number}", label_names, source, None)
        encoded.append([ids[tag] for tag in tags])
    return encoded


def _scores(values, source, first_line):
    scores = pd.to_numeric(values, errors="coerce")
    bad = scores.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(
            f"the score {values.iloc[row]!r} at row {row + 1} is not a number",
            source,
            None if first_line is None else first_line + row,
            hint="write a number (such as 3.8) for every scored row",
        )
    return scores.astype("float64")


def _unknown_label_error(value, where, label_names, path, line):
    shown = ", ".join(map(str, label_names[:30]))
    if len(label_names) > 30:
        shown += f", ... ({len(label_names)} in all)"
    return DataError(
        f"unknown label {value!r} at {where}{_suggestion(str(value), label_names)}",
        path,
        line,
        hint=f"use one of the known labels: {shown}",
    )


def _suggestion(value, choices):
    close = difflib.get_close_matches(value, [str(choice) for choice in choices], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _hub_column(data, column):
    return list(data[column])


def _hub_class_names(data, column):
    """Returns the class names of a hub ClassLabel column (hub ids -> names, in the hub's own order)."""
    names = data.features[column].names
    return [names[index] for index in data[column]]


def _hub_has_labels(data):
    return any(label != -1 for label in data["label"])  # GLUE hides its test labels as -1


# ---- One reader (local files) and one converter (hub) per data set, both giving the same columns. ----


def _read_clinc150(path, key):
    # The "plus" config: each split has its out-of-scope queries under "oos_<key>".
    frame = pd.concat([read_json(path, key), read_json(path, f"oos_{key}")], ignore_index=True)
    return frame.set_axis(["text", "label"], axis=1)


def _hub_clinc150(data):
    return pd.DataFrame({"text": _hub_column(data, "text"), "label": _hub_class_names(data, "intent")})


def _hub_emotion(data):
    return pd.DataFrame({"text": _hub_column(data, "text"), "label": _hub_class_names(data, "label")})


def _hub_imdb(data):
    texts = _hub_column(data, "text")
    return pd.DataFrame(
        {
            "id": range(len(texts)),
            "rating": pd.array([pd.NA] * len(texts), dtype="Int64"),  # the hub copy has no ratings
            "label": _hub_class_names(data, "label"),
            "text": texts,
        }
    )


def _read_sst2(path):
    labelled = path.name != "test.tsv"  # GLUE's test file has no labels
    frame = read_table(path, columns={"sentence": "text", "label": "label"} if labelled else {"sentence": "text"})
    if labelled:  # the file has ids 0/1; names keep local files and the hub alike
        frame["label"] = frame["label"].astype(str).replace({"0": "negative", "1": "positive"})
    return frame


def _hub_sst2(data):
    frame = pd.DataFrame({"text": _hub_column(data, "sentence")})
    if _hub_has_labels(data):
        frame["label"] = _hub_class_names(data, "label")
    return frame


def _read_stsb(path):
    columns = {"sentence1": "sentence1", "sentence2": "sentence2"}
    if path.name != "test.tsv":  # GLUE's test file has no scores
        columns["score"] = "label"
    # STS-B has unbalanced double quotes inside sentences: read them as plain characters.
    return read_table(path, columns=columns, quoting=False)


def _hub_stsb(data):
    frame = pd.DataFrame({"sentence1": _hub_column(data, "sentence1"), "sentence2": _hub_column(data, "sentence2")})
    if _hub_has_labels(data):
        frame["label"] = [float(score) for score in data["label"]]
    return frame


def _hub_conll2003(data):
    columns = {"tokens": [list(tokens) for tokens in data["tokens"]]}
    for column in ("pos_tags", "chunk_tags", "ner_tags"):
        names = data.features[column].feature.names
        columns[column] = [[names[index] for index in tags] for tags in data[column]]
    return pd.DataFrame(columns)


def _hub_squad(data):
    frame = pd.DataFrame({column: _hub_column(data, column) for column in ("id", "title", "context", "question")})
    frame["answers"] = [
        {"text": list(answers["text"]), "answer_start": [int(start) for start in answers["answer_start"]]}
        for answers in data["answers"]
    ]
    return frame


def _read_samsum(path):
    return _drop_empty_dialogues(select_columns(read_json(path), ["id", "dialogue", "summary"], path), path)


def _hub_samsum(data):
    frame = pd.DataFrame({column: _hub_column(data, column) for column in ("id", "dialogue", "summary")})
    return _drop_empty_dialogues(frame, "Samsung/samsum")


def _drop_empty_dialogues(frame, source):
    # SAMSum's train split has a known empty dialogue: dropping it (and saying so) beats failing the whole set.
    empty = frame["dialogue"].map(lambda text: not isinstance(text, str) or not text.strip()).to_numpy(dtype=bool)
    if empty.any():
        logger.warning(
            "%s: dropped %d of %d rows with an empty dialogue (ids: %s)",
            source,
            empty.sum(),
            len(frame),
            ", ".join(map(str, frame["id"][empty])),
        )
    return frame[~empty].reset_index(drop=True)


def _hub_cnn_dailymail(data):
    frame = pd.DataFrame({column: _hub_column(data, column) for column in ("article", "highlights", "id")})
    return frame.head(1000)  # the local copy is the first 1,000 validation articles; keep runs comparable


_EMOTIONS = ("sadness", "joy", "love", "anger", "fear", "surprise")
_CONLL_NER_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC")
# The 150 intents and "oos", sorted (the hub's own order differs; its converter maps by name).
_CLINC150_INTENTS = tuple(
    """
    accept_reservations account_blocked alarm application_status apr are_you_a_bot balance bill_balance bill_due
    book_flight book_hotel calculator calendar calendar_update calories cancel cancel_reservation car_rental
    card_declined carry_on change_accent change_ai_name change_language change_speed change_user_name
    change_volume confirm_reservation cook_time credit_limit credit_limit_change credit_score current_location
    damaged_card date definition direct_deposit directions distance do_you_have_pets exchange_rate expiration_date
    find_phone flight_status flip_coin food_last freeze_account fun_fact gas gas_type goodbye greeting how_busy
    how_old_are_you improve_credit_score income ingredient_substitution ingredients_list insurance
    insurance_change interest_rate international_fees international_visa jump_start last_maintenance lost_luggage
    make_call maybe meal_suggestion meaning_of_life measurement_conversion meeting_schedule min_payment mpg
    new_card next_holiday next_song no nutrition_info oil_change_how oil_change_when oos order order_checks
    order_status pay_bill payday pin_change play_music plug_type pto_balance pto_request pto_request_status
    pto_used recipe redeem_rewards reminder reminder_update repeat replacement_card_duration report_fraud
    report_lost_card reset_settings restaurant_reservation restaurant_reviews restaurant_suggestion
    rewards_balance roll_dice rollover_401k routing schedule_maintenance schedule_meeting share_location
    shopping_list shopping_list_update smart_home spelling spending_history sync_device taxes tell_joke text
    thank_you time timer timezone tire_change tire_pressure todo_list todo_list_update traffic transactions
    transfer translate travel_alert travel_notification travel_suggestion uber update_playlist user_name vaccines
    w2 weather what_are_your_hobbies what_can_i_ask_you what_is_your_name what_song where_are_you_from
    whisper_mode who_do_you_work_for who_made_you yes
    """.split()
)

_REGISTRY = {
    info.name: info
    for info in (
        DatasetInfo(
            name="emotion",
            folder="emotion",
            splits={"train": "train.txt", "validation": "val.txt", "test": "test.txt"},
            task="text-classification",
            text_columns=("text",),
            label_column="label",
            label_names=_EMOTIONS,
            hub_id="dair-ai/emotion",
            hub_config="split",
            tfds_name=None,
            license="research and education only",
            description="English tweets labelled with one of six emotions (Saravia et al. 2018).",
            reader=read_text_label,
            hub_converter=_hub_emotion,
            first_line=1,
        ),
        DatasetInfo(
            name="clinc150",
            folder="clinc150",
            splits={
                "train": ("data_oos_plus.json", "train"),
                "validation": ("data_oos_plus.json", "val"),
                "test": ("data_oos_plus.json", "test"),
            },
            task="text-classification",
            text_columns=("text",),
            label_column="label",
            label_names=_CLINC150_INTENTS,
            hub_id="clinc/clinc_oos",
            hub_config="plus",
            tfds_name="clinc_oos",
            license="CC BY 3.0",
            description="Queries to a voice assistant: 150 intents plus out-of-scope 'oos' (Larson et al. 2019).",
            reader=_read_clinc150,
            hub_converter=_hub_clinc150,
        ),
        DatasetInfo(
            name="imdb",
            folder="imdb",
            splits={"train": "imdb_train.csv.gz", "test": "imdb_test.csv.gz"},
            task="text-classification",
            text_columns=("text",),
            label_column="label",
            label_names=("neg", "pos"),
            hub_id="stanfordnlp/imdb",
            hub_config="plain_text",
            tfds_name="imdb_reviews",
            license="cite Maas et al. 2011",
            description="Movie reviews with binary sentiment and their 1-10 ratings (Maas et al. 2011).",
            reader=functools.partial(read_table, columns=["id", "rating", "label", "text"]),
            hub_converter=_hub_imdb,
            first_line=2,
        ),
        DatasetInfo(
            name="sst2",
            folder="glue/SST-2",
            splits={"train": "train.tsv", "validation": "dev.tsv", "test": "test.tsv"},
            task="text-classification",
            text_columns=("text",),
            label_column="label",
            label_names=("negative", "positive"),
            hub_id="nyu-mll/glue",
            hub_config="sst2",
            tfds_name="glue/sst2",
            license="research use",
            description="Stanford Sentiment Treebank sentences with binary sentiment (GLUE); test has no labels.",
            reader=_read_sst2,
            hub_converter=_hub_sst2,
            first_line=2,
        ),
        DatasetInfo(
            name="stsb",
            folder="glue/STS-B",
            splits={"train": "train.tsv", "validation": "dev.tsv", "test": "test.tsv"},
            task="text-pair-regression",
            text_columns=("sentence1", "sentence2"),
            label_column="label",
            label_names=None,
            hub_id="nyu-mll/glue",
            hub_config="stsb",
            tfds_name="glue/stsb",
            license="see glue/STS-B/LICENSE.txt",
            description="Sentence pairs with a 0-5 similarity score (STS benchmark, GLUE); test has no scores.",
            reader=_read_stsb,
            hub_converter=_hub_stsb,
            first_line=2,
        ),
        DatasetInfo(
            name="conll2003",
            folder="conll2003",
            splits={"train": "train.txt", "validation": "valid.txt", "test": "test.txt"},
            task="token-classification",
            text_columns=("tokens",),
            label_column="ner_tags",
            label_names=_CONLL_NER_TAGS,
            hub_id="eriktks/conll2003",
            hub_config=None,
            tfds_name="conll2003",
            license="Reuters-derived, research use only",
            description="English news sentences with IOB2 named-entity tags PER, ORG, LOC, MISC (CoNLL-2003).",
            reader=read_conll,
            hub_converter=_hub_conll2003,
        ),
        DatasetInfo(
            name="squad",
            folder="squad_v1.1",
            splits={"validation": "dev-v1.1.json"},
            task="question-answering",
            text_columns=("question", "context"),
            label_column="answers",
            label_names=None,
            hub_id="rajpurkar/squad",
            hub_config="plain_text",
            tfds_name="squad/v1.1",
            license="CC BY-SA 4.0",
            description="SQuAD v1.1 dev set: questions on Wikipedia paragraphs with extractive answers.",
            reader=read_squad,
            hub_converter=_hub_squad,
        ),
        DatasetInfo(
            name="samsum",
            folder="samsum",
            splits={"train": "train.json", "validation": "val.json", "test": "test.json"},
            task="summarization",
            text_columns=("dialogue",),
            label_column="summary",
            label_names=None,
            hub_id="Samsung/samsum",
            hub_config="samsum",
            tfds_name="samsum",
            license="CC BY-NC-ND 4.0",
            description="Messenger-like dialogues with abstractive summaries (Gliwa et al. 2019).",
            reader=_read_samsum,
            hub_converter=_hub_samsum,
        ),
        DatasetInfo(
            name="cnn_dailymail",
            folder="cnn_dailymail",
            splits={"validation": "cnn_dailymail_validation_subset.csv"},
            task="summarization",
            text_columns=("article",),
            label_column="highlights",
            label_names=None,
            hub_id="abisee/cnn_dailymail",
            hub_config="3.0.0",
            tfds_name="cnn_dailymail",
            license="articles (c) CNN / Daily Mail, research use",
            description="News articles with highlight sentences: the first 1,000 of the 3.0.0 validation split.",
            reader=functools.partial(read_table, columns=["article", "highlights", "id"]),
            hub_converter=_hub_cnn_dailymail,
        ),
    )
}
