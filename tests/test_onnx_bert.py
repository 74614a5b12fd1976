"""Encoders read out of BERT ONNX exports: the same hidden states as the reference, clear errors otherwise."""

import numpy as np
import onnx
import pytest
import torch
import transformers

from tests.conftest import write_tiny_bert
from tfnlp.errors import ConfigError, PresetError
from tfnlp.models.classifier import EncoderClassifier
from tfnlp.models.encoders import BertEncoder, load_encoder
from tfnlp.models.onnx_bert import read_bert_onnx
from tfnlp.models.students import student_classifier
from tfnlp.presets import resolve_preset

TOKEN_IDS = np.array([[2, 11, 12, 30, 9, 3], [2, 14, 20, 3, 0, 0]])


class _LastHiddenState(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


@pytest.fixture(scope="module")
def exported_bert(tmp_path_factory):
    """A tiny trained-looking BERT (no two parameters equal, so the exporter merges none), its ONNX file and
    its reference hidden states."""
    directory = write_tiny_bert(tmp_path_factory.mktemp("onnx_bert"))
    model = transformers.BertModel.from_pretrained(directory).eval()
    torch.manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    ids, mask = torch.from_numpy(TOKEN_IDS), torch.from_numpy((TOKEN_IDS != 0).astype("int64"))
    with torch.no_grad():
        reference = model(input_ids=ids, attention_mask=mask).last_hidden_state.numpy()
    path = directory / "model.onnx"
    torch.onnx.export(_LastHiddenState(model), (ids, mask), str(path), input_names=["input_ids", "attention_mask"],
                      dynamo=False, dynamic_axes={"input_ids": {0: "batch", 1: "length"},
                                                  "attention_mask": {0: "batch", 1: "length"}})
    return path, reference, {key: value.numpy() for key, value in model.state_dict().items()}


def _hidden_states(encoder, token_ids):
    inputs = {"token_ids": token_ids.astype("int32"), "padding_mask": (token_ids != 0).astype("int32"),
              "segment_ids": np.zeros_like(token_ids, dtype="int32")}
    return np.asarray(encoder(inputs)["sequence_output"])


def test_weights_are_found_through_the_graph(exported_bert):
    path, _, state = exported_bert
    weights, num_heads = read_bert_onnx(path)
    assert num_heads == 2  # transformers 5 writes the head count as -1: it comes from head_dim
    for name, value in state.items():
        if not name.startswith("pooler."):
            np.testing.assert_array_equal(weights[name], value, err_msg=name)


def test_encoder_matches_the_pytorch_reference(exported_bert):
    path, reference, _ = exported_bert
    encoder = load_encoder(path)
    assert (encoder.num_layers, encoder.num_heads, encoder.hidden_dim) == (2, 2, 16)
    mask = TOKEN_IDS != 0
    np.testing.assert_allclose(_hidden_states(encoder, TOKEN_IDS)[mask], reference[mask], atol=1e-4)


def test_packaged_minilm_l3_matches_onnx_runtime():
    import onnxruntime

    path = resolve_preset("minilm-l3-onnx") / "paraphrase-MiniLM-L3-v2.onnx"
    encoder = load_encoder("minilm-l3-onnx")
    assert (encoder.num_layers, encoder.num_heads, encoder.hidden_dim) == (3, 12, 384)
    token_ids = np.array([[101, 2129, 2079, 1045, 25141, 2026, 2924, 9231, 102]])
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outputs = dict(zip([output.name for output in session.get_outputs()],
                       session.run(None, {"input_ids": token_ids, "attention_mask": np.ones_like(token_ids)})))
    last_hidden_state = next(value for value in outputs.values() if value.ndim == 3)
    np.testing.assert_allclose(_hidden_states(encoder, token_ids), last_hidden_state, atol=1e-4)


def test_an_onnx_file_without_bert_weights_is_a_clear_error(tmp_path):
    node = onnx.helper.make_node("Relu", ["x"], ["y"])
    value = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    graph = onnx.helper.make_graph([node], "relu", [value], [onnx.helper.make_tensor_value_info(
        "y", onnx.TensorProto.FLOAT, [1])])
    onnx.save(onnx.helper.make_model(graph), tmp_path / "relu.onnx")
    with pytest.raises(PresetError, match="no BERT embeddings"):
        load_encoder(tmp_path / "relu.onnx")


def test_student_from_a_pretrained_encoder(exported_bert, tiny_bert_dir):
    teacher = EncoderClassifier.from_preset(str(tiny_bert_dir), ["a", "b", "c"], sequence_length=16)
    student = student_classifier(teacher, encoder=load_encoder(exported_bert[0]), copy_head=False)
    assert student.backbone.num_layers == 2 and student.preprocessor is teacher.preprocessor
    logits = student.predict(["i feel happy", "the movie was bad"], verbose=0)
    assert logits.shape == (2, 3)
    other = BertEncoder(vocabulary_size=7, num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32)
    with pytest.raises(ConfigError, match="vocabulary"):
        student_classifier(teacher, encoder=other)
