"""Rewrites of tf2onnx graphs: fewer nodes for ONNX Runtime, weights where dynamic quantization finds them.

A one-query forward pass of a small encoder is dominated by per-node overhead
(a 3-layer MiniLM exported by tf2onnx has ~390 nodes for ~30 matrix products),
so each fused pattern counts.
"""

from collections import defaultdict

import numpy as np
from onnx import helper, numpy_helper


def fuse_layer_norms(graph):
    """Replace each Keras layer normalization, as tf2onnx writes it, by one `LayerNormalization` (opset 17).

    tf2onnx turns `LayerNormalization` (TF's moments + batch-norm formula) into 13
    nodes: `GlobalAveragePool` mean and variance, `Sqrt`, `Reciprocal`, `Neg` and
    five `Mul`/`Add`. `GlobalAveragePool` reduces every axis from 2 on, which is
    what `LayerNormalization(axis=2)` normalises. Returns the number fused.
    """
    view = _GraphView(graph)
    return _replace_patterns(graph, [view.layer_norm(node) for node in graph.node if node.op_type == "Add"])


def unflatten_dense_products(graph):
    """Replace each tf2onnx tensordot (flatten, `MatMul`, reshape back) by one `MatMul` on the unflattened input.

    A Keras `Dense` on a 3-D input becomes `Reshape(x, [-1, K])`, `MatMul(., W)`
    and a `Reshape` to `shape(x)[:-1] + [O]` computed at run time (`Shape`,
    `Cast`, `Gather`, `Concat`, `Cast`): 8 nodes for what ONNX's broadcasting
    `MatMul(x, W)` does in one. Returns the number replaced.
    """
    view = _GraphView(graph)
    return _replace_patterns(graph, [view.tensordot(node) for node in graph.node if node.op_type == "Reshape"])


def _replace_patterns(graph, matches):
    """Put each match's new node where its pattern's last node was, drop the pattern; returns how many."""
    matches = [match for match in matches if match]
    removed = {id(node) for pattern, _ in matches for node in pattern}
    replacement = {id(pattern[-1]): new for pattern, new in matches}
    nodes = [replacement.get(id(node), node) for node in graph.node
             if id(node) not in removed or id(node) in replacement]
    del graph.node[:]
    graph.node.extend(nodes)
    drop_unused_initializers(graph)
    return len(matches)


def fold_constant_shapes(graph):
    """Replace each `Shape` of a constant by the constant shape; returns the number folded.

    tf2onnx keeps a copy of each attention kernel only to take its shape: folding
    drops those copies (a 3-layer MiniLM: 6.75 MB) and their nodes.
    """
    weights = {tensor.name: tensor for tensor in graph.initializer}
    folded = [node for node in graph.node if node.op_type == "Shape" and node.input[0] in weights]
    for node in folded:
        shape = np.array(weights[node.input[0]].dims, dtype=np.int64)
        start = next((attribute.i for attribute in node.attribute if attribute.name == "start"), 0)
        end = next((attribute.i for attribute in node.attribute if attribute.name == "end"), len(shape))
        graph.initializer.append(numpy_helper.from_array(shape[start:end], node.output[0]))
    folded_ids = {id(node) for node in folded}
    kept = [node for node in graph.node if id(node) not in folded_ids]
    del graph.node[:]
    graph.node.extend(kept)
    drop_unused_initializers(graph)
    return len(folded)


def gemms_as_matmuls(graph):
    """Rewrite each `Gemm(A, W[, C])` with constant `W` (and `C`) as `MatMul(A, alpha * W) [+ beta * C]`, in place.

    ONNX Runtime's dynamic quantization handles `MatMul`, not `Gemm`, and
    tf2onnx writes 2-D dense layers as `Gemm`: without this they stay float.
    """
    weights = {tensor.name: tensor for tensor in graph.initializer}
    nodes = []
    for node in graph.node:
        if node.op_type != "Gemm":
            nodes.append(node)
            continue
        attributes = {attribute.name: helper.get_attribute_value(attribute) for attribute in node.attribute}
        beta = attributes.get("beta", 1.0)
        has_bias = len(node.input) > 2 and bool(node.input[2]) and beta != 0
        constant = node.input[1] in weights and (not has_bias or node.input[2] in weights)
        if not constant or attributes.get("transA", 0):
            nodes.append(node)
            continue
        kernel = numpy_helper.to_array(weights[node.input[1]])
        kernel = (kernel.T if attributes.get("transB", 0) else kernel) * attributes.get("alpha", 1.0)
        output = node.output[0]  # output names are unique; node names may be empty
        graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(kernel), f"{output}_kernel"))
        product = f"{output}_product" if has_bias else output
        nodes.append(helper.make_node("MatMul", [node.input[0], f"{output}_kernel"], [product]))
        if has_bias:
            bias = numpy_helper.to_array(weights[node.input[2]]) * beta
            graph.initializer.append(numpy_helper.from_array(bias, f"{output}_bias"))
            nodes.append(helper.make_node("Add", [product, f"{output}_bias"], [output]))
    del graph.node[:]
    graph.node.extend(nodes)
    drop_unused_initializers(graph)


def drop_unused_initializers(graph):
    """Remove the initializers no node (in loop bodies and branches too) and no graph output reads."""
    used = _names_used(graph) | {output.name for output in graph.output}
    kept = [tensor for tensor in graph.initializer if tensor.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)


def _names_used(graph):
    names = set()
    for node in graph.node:
        names.update(node.input)
        for attribute in node.attribute:
            subgraphs = list(attribute.graphs) + ([attribute.g] if attribute.HasField("g") else [])
            for subgraph in subgraphs:
                names |= _names_used(subgraph)
    return names


class _GraphView:
    """Producers, consumers and constants of a graph, for matching node patterns."""

    def __init__(self, graph):
        self.graph = graph
        self.producer = {output: node for node in graph.node for output in node.output}
        self.consumers = defaultdict(list)
        for node in graph.node:
            for name in node.input:
                self.consumers[name].append(node)
        self.weights = {tensor.name: tensor for tensor in graph.initializer}
        self.outputs = {output.name for output in graph.output}

    def input_from(self, node, op_type):
        """`(producer, other input)` for the first input of a two-input `node` made by an `op_type` node."""
        for index, name in enumerate(node.input[:2]):
            parent = self.producer.get(name)
            if parent is not None and parent.op_type == op_type and len(node.input) == 2:
                return parent, node.input[1 - index]
        return None, None

    def layer_norm(self, output_add):
        """`(pattern nodes, LayerNormalization node)` if `output_add` ends the tf2onnx pattern, else `None`.

        y = x * s + (beta - mean * s), s = gamma / sqrt(var + eps),
        mean = GAP(x), var = GAP((x - mean)^2)
        """
        scaled, shift_name = self.input_from(output_add, "Mul")
        shift = self.producer.get(shift_name)
        if scaled is None or shift is None or shift.op_type != "Add":
            return None
        shift_mul, beta = self.input_from(shift, "Mul")
        neg, scale = self.input_from(shift_mul, "Neg") if shift_mul else (None, None)
        if neg is None or beta not in self.weights or scale not in scaled.input:
            return None
        x = scaled.input[1] if scaled.input[0] == scale else scaled.input[0]
        mean, scale_mul = self.producer.get(neg.input[0]), self.producer.get(scale)
        if not (mean and mean.op_type == "GlobalAveragePool" and mean.input[0] == x and scale_mul
                and scale_mul.op_type == "Mul"):
            return None
        reciprocal, gamma = self.input_from(scale_mul, "Reciprocal")
        sqrt = self._only_parent(reciprocal, "Sqrt")
        eps_add = self._only_parent(sqrt, "Add")
        variance, epsilon = self.input_from(eps_add, "GlobalAveragePool") if eps_add else (None, None)
        square = self._only_parent(variance, "Mul")
        difference = self.producer.get(square.input[0]) if square and square.input[0] == square.input[1] else None
        if (gamma not in self.weights or epsilon not in self.weights or difference is None
                or difference.op_type != "Sub" or list(difference.input) != [x, mean.output[0]]):
            return None
        pattern = [mean, difference, square, variance, eps_add, sqrt, reciprocal, scale_mul, neg, shift_mul, shift,
                   scaled, output_add]
        if not self._self_contained(pattern):
            return None
        name = output_add.output[0]
        for suffix, weight in (("gamma", gamma), ("beta", beta)):
            values = numpy_helper.to_array(self.weights[weight])
            while values.ndim > 1 and values.shape[0] == 1:  # (1, 1, H) -> (H,): the normalised axes only
                values = values[0]
            self.graph.initializer.append(numpy_helper.from_array(values, f"{name}_{suffix}"))
        eps = float(numpy_helper.to_array(self.weights[epsilon]).reshape(-1)[0])
        fused = helper.make_node("LayerNormalization", [x, f"{name}_gamma", f"{name}_beta"], [name],
                                 axis=2, epsilon=eps)
        return pattern, fused

    def tensordot(self, reshape_back):
        """`(pattern nodes, MatMul node)` if `reshape_back` ends a tf2onnx tensordot, else `None`."""
        product = self.producer.get(reshape_back.input[0])
        if product is None or product.op_type != "MatMul" or product.input[1] not in self.weights:
            return None
        flatten = self.producer.get(product.input[0])
        if flatten is None or flatten.op_type != "Reshape" or flatten.input[1] not in self.weights:
            return None
        x = flatten.input[0]
        kernel = numpy_helper.to_array(self.weights[product.input[1]])
        if kernel.ndim != 2 or list(self._constant(flatten.input[1])) != [-1, kernel.shape[0]]:
            return None
        shape_nodes = self._shape_chain(reshape_back.input[1], x, kernel.shape[1])
        if shape_nodes is None:
            return None
        pattern = [flatten, product, *shape_nodes, reshape_back]
        if not self._self_contained(pattern):
            return None
        return pattern, helper.make_node("MatMul", [x, product.input[1]], list(reshape_back.output))

    def _shape_chain(self, name, x, units):
        """The nodes computing `shape(x)[:-1] + [units]` into `name` (`Shape`, `Gather`, `Concat`, casts)."""
        nodes = []
        node = self._skip_casts(name, nodes)
        if node is None or node.op_type != "Concat" or len(node.input) != 2 or node.input[1] not in self.weights:
            return None
        if list(self._constant(node.input[1])) != [units]:
            return None
        nodes.append(node)
        gather = self._skip_casts(node.input[0], nodes)
        if gather is None or gather.op_type != "Gather" or gather.input[1] not in self.weights:
            return None
        indices = list(self._constant(gather.input[1]))
        nodes.append(gather)
        shape = self._skip_casts(gather.input[0], nodes)
        if shape is None or shape.op_type != "Shape" or shape.input[0] != x or shape.attribute:
            return None
        if not indices or indices != list(range(len(indices))):  # all of x's dimensions but the last
            return None
        return nodes + [shape]

    def _self_contained(self, pattern):
        """Whether only `pattern` reads the values it computes before its last node (else fusing loses them)."""
        inner = {name for node in pattern for name in node.output} - set(pattern[-1].output)
        return not inner & self.outputs and all(user in pattern for name in inner for user in self.consumers[name])

    def _skip_casts(self, name, casts):
        """The first non-`Cast` producer up from `name`; the casts passed go into `casts`."""
        node = self.producer.get(name)
        while node is not None and node.op_type == "Cast":
            casts.append(node)
            node = self.producer.get(node.input[0])
        return node

    def _constant(self, name):
        return numpy_helper.to_array(self.weights[name]).reshape(-1)

    def _only_parent(self, node, op_type):
        """The `op_type` producer of a one-input `node`'s input, else `None`."""
        if node is None or len(node.input) != 1:
            return None
        parent = self.producer.get(node.input[0])
        return parent if parent is not None and parent.op_type == op_type else None
