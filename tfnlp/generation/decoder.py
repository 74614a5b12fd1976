"""A lean key/value-cached decode step over a keras-hub causal LM's own weights.

keras-hub's `call_with_cache` rebuilds a stacked cache tensor, recomputes rotary
tables and masks in every layer and repeats grouped keys/values for every query
head: ~62 ms per SmolLM2 token on 2 cores, against ~32 ms in PyTorch. The decode
step here computes the same function with fewer, larger operations:

- the cache lives in one variable per layer for keys and one for values, laid out
  `(batch, key_value_heads, capacity, head_dim)`, updated in place;
- grouped-query attention reshapes the queries onto the key/value heads instead
  of repeating keys and values;
- rotary tables (keras-hub's own frequencies, Llama 3 scaling included) and the
  causal mask are computed once per step, not once per layer;
- hidden states stay 2-D `(batch * length, hidden)`, so every projection is one
  plain matmul over the layers' variables (no copies), and the one-token step has
  only static reshapes: no shape arithmetic, about half the ops of a 3-D step;
- a Llama layer's query/key/value kernels, and its gate/up kernels, are copied
  side by side (refreshed at every `start`), so a step runs 4 matmuls per layer,
  not 7: fewer, larger matmuls use the threads better;
- norms are keras-hub's own layers, called as they are.

It reads the backbone's variables at every call (the fused copies at every `start`),
so fine-tuning the model is seen.

Example:
>>> decoder = CachedDecoder(load_causal_lm("smollm2-135m"))  # doctest: +SKIP
>>> logits = decoder.start([[504, 3575, 282, 4649, 314]], max_length=16)  # doctest: +SKIP
>>> logits = decoder.step([logits[0].argmax()])  # doctest: +SKIP
"""

import math
import weakref

import numpy as np
import tensorflow as tf

from tfnlp.errors import ConfigError

# Cache capacities are rounded up to this many positions, so that prompts of
# different lengths share one traced step function.
_CAPACITY_STEP = 128
# Caches (and their traced functions) kept per model, most recently used last.
_MAX_CACHES = 4


def _supported_architecture(backbone):
    from keras_hub.models import GPT2Backbone, LlamaBackbone

    if isinstance(backbone, LlamaBackbone):
        return "llama"
    if isinstance(backbone, GPT2Backbone):
        return "gpt2"
    raise ValueError(
        f"tfnlp's cached decoder supports Llama and GPT-2 backbones; received "
        f"{type(backbone).__name__}. Use the model's own `generate()` for it."
    )


def _check_output_embedding(backbone):
    if getattr(backbone.token_embedding, "logit_soft_cap", None) is not None:
        raise ValueError("Logit soft-capping is not supported by tfnlp's cached decoder; use the model's `generate()`.")


class CachedDecoder:
    """Prefill a prompt, then decode one token per call, with a key/value cache.

    Args:
        causal_lm: a keras-hub `CausalLM` with a Llama (SmolLM2, Llama 3) or
            GPT-2 backbone, e.g. from `tfnlp.models.load_causal_lm`.

    Use `decoder_for(causal_lm)` to share one decoder (and its traced
    functions) per model.
    """

    def __init__(self, causal_lm):
        backbone = causal_lm.backbone
        self.architecture = _supported_architecture(backbone)
        _check_output_embedding(backbone)
        self.backbone = backbone
        self.lora_layout = _lora_layout(backbone)
        self.vocabulary_size = int(backbone.vocabulary_size)
        first = backbone.transformer_layers[0]._self_attention_layer
        if self.architecture == "llama":
            self.num_heads = int(backbone.num_query_heads)
            self.num_key_value_heads = int(backbone.num_key_value_heads)
            self._rotary_inverse_frequency = first.rotary_embedding_layer._get_inverse_freq(
                backbone.hidden_dim // self.num_heads
            )
            self.max_positions = None
        else:
            self.num_heads = self.num_key_value_heads = int(backbone.num_heads)
            self.max_positions = int(backbone.max_sequence_length)
        self.head_dim = int(backbone.hidden_dim) // self.num_heads
        self._fused = _FusedProjections(backbone) if self.architecture == "llama" else None
        self._caches = {}  # (batch, capacity) -> _Cache, least recently used first
        self._cache = None
        self.position = 0

    # --- public API ----------------------------------------------------------------------

    def start(self, token_ids, max_length, copies=1):
        """Run the prompt(s) through the model; returns the next-token logits.

        Args:
            token_ids: `(batch, length)` ids, the same prompt length in every row.
            max_length: the most positions (prompt + new tokens) this run needs.
            copies: decode `copies` rows per prompt (beam search's beams): the
                prompt is run once, then its cache rows are copied.

        Returns:
            float32 NumPy logits `(batch * copies, vocabulary_size)` for the token
            after the prompt.
        """
        token_ids = np.asarray(token_ids, dtype="int32")
        if token_ids.ndim != 2 or token_ids.shape[1] == 0:
            raise ValueError(f"`token_ids` must be a non-empty (batch, length) array; got shape {token_ids.shape}.")
        if max_length < token_ids.shape[1]:
            raise ValueError(f"max_length={max_length} is shorter than the prompt ({token_ids.shape[1]} tokens).")
        if self.max_positions is not None and max_length > self.max_positions:
            raise ConfigError(
                f"The prompt plus new tokens need {max_length} positions; this model has "
                f"{self.max_positions} positions. Shorten the prompt or ask for fewer new tokens."
            )
        if self._fused is not None:
            self._fused.refresh()
        cache = self._cache_for(token_ids.shape[0], max_length)
        logits = cache.prefill(tf.constant(token_ids), tf.constant(0, "int32")).numpy()
        if copies > 1:
            copied = self._cache_for(token_ids.shape[0] * copies, max_length)
            copied.copy_rows(cache.keys + cache.values, tf.constant(copies))
            cache, logits = copied, np.repeat(logits, copies, axis=0)
        self._cache = cache
        self.position = token_ids.shape[1]
        return logits

    def step(self, token_ids):
        """Feed one new token per row; returns the logits of the token after it."""
        if self._cache is None:
            raise RuntimeError("Call `start(prompt_ids, max_length)` before `step`.")
        if self.position >= self._cache.capacity:
            raise ValueError(f"The cache holds {self._cache.capacity} positions; all are used.")
        token_ids = np.asarray(token_ids, dtype="int32").reshape(-1, 1)
        logits = self._cache.step(tf.constant(token_ids), tf.constant(self.position, "int32"))
        self.position += 1
        return logits.numpy()

    def reorder(self, rows):
        """Make cache row `i` a copy of row `rows[i]` (beam search keeps its best beams)."""
        rows = np.asarray(rows, dtype="int32")
        if not np.array_equal(rows, np.arange(rows.size)):
            self._cache.reorder(tf.constant(rows))

    # --- caches ----------------------------------------------------------------------------

    def _cache_for(self, batch_size, max_length):
        capacity = _CAPACITY_STEP * math.ceil(max_length / _CAPACITY_STEP)
        if self.max_positions is not None:
            capacity = min(capacity, self.max_positions)
        key = (batch_size, capacity)
        cache = self._caches.pop(key, None) or _Cache(self, batch_size, capacity)
        self._caches[key] = cache
        while len(self._caches) > _MAX_CACHES:
            self._caches.pop(next(iter(self._caches)))
        return cache

    # --- the forward pass ------------------------------------------------------------------
    # Hidden states stay 2-D, `(batch * length, hidden)`: every projection is one plain
    # matmul, and in the one-token step (`length` the Python int 1) every reshape has a
    # static shape, so the step graph holds no shape arithmetic at all.

    def forward(self, token_ids, start, keys, values):
        """Next-token logits after `token_ids` at positions `start...`; writes their keys/values into the cache."""
        length = token_ids.shape[1] or tf.shape(token_ids)[1]
        backbone = self.backbone
        x = tf.gather(_tensor(backbone.token_embedding.embeddings), tf.reshape(token_ids, (-1,)))
        if self.architecture == "gpt2":
            positions = _tensor(backbone.position_embedding.position_embeddings)[start : start + length]
            x = x + _per_row(positions, length, tf.shape(token_ids)[0])
            rotary = None
        else:
            rotary = self._rotary_tables(start, length, tf.shape(token_ids)[0])
        mask = self._attention_bias(start, length, keys[0].shape[2])
        block = self._llama_block if self.architecture == "llama" else self._gpt2_block
        for index, (layer, key_cache, value_cache) in enumerate(zip(backbone.transformer_layers, keys, values)):
            x = block(index, layer, x, length, start, mask, rotary, key_cache, value_cache)
        if length != 1:
            x = tf.reshape(x, (-1, length, x.shape[-1]))[:, -1]
        return self._logits(backbone.layer_norm(x))

    def _logits(self, x):
        """`(batch, hidden)` -> `(batch, vocabulary)`: the (tied or own) output embedding, without a copy."""
        embedding = self.backbone.token_embedding
        x = tf.cast(x, "float32")
        if embedding.tie_weights:
            return tf.matmul(x, _tensor(embedding.embeddings), transpose_b=True)
        return tf.matmul(x, _tensor(embedding.reverse_embeddings))

    def _rotary_tables(self, start, length, batch):
        """cos and sin `(rows, 1, head_dim)` for `(rows, heads, head_dim)` states, as keras-hub computes them."""
        positions = tf.cast(tf.range(length) + start, "float32")
        frequencies = positions[:, None] * tf.cast(self._rotary_inverse_frequency, "float32")[None, :]
        angles = _per_row(tf.concat([frequencies, frequencies], axis=-1), length, batch)[:, None, :]
        return tf.cos(angles), tf.sin(angles)

    @staticmethod
    def _attention_bias(start, length, capacity):
        """`(length, capacity)`: 0 where query `start + i` may see key `j` (j <= start + i), else -inf-ish."""
        queries = tf.range(length)[:, None] + start
        keys = tf.range(capacity)[None, :]
        return tf.where(keys <= queries, 0.0, -1e9)

    def _rotate(self, x, heads, rotary):
        """keras-hub's (and Hugging Face's) rotate-half rotary embedding of `(rows, heads * head_dim)` states."""
        cos, sin = rotary
        x = tf.reshape(x, (-1, heads, self.head_dim))
        first, second = tf.split(x, 2, axis=-1)
        return tf.reshape(x * cos + tf.concat([-second, first], axis=-1) * sin, (-1, heads * self.head_dim))

    def _heads_first(self, x, length, heads):
        """`(batch * length, heads * head_dim)` -> `(batch, heads, length, head_dim)`."""
        if length == 1:
            return tf.reshape(x, (-1, heads, 1, self.head_dim))
        return tf.transpose(tf.reshape(x, (-1, length, heads, self.head_dim)), (0, 2, 1, 3))

    def _attention(self, query, key, value, length, start, mask, key_cache, value_cache):
        """Cached scaled dot-product attention over 2-D query/key/value states; returns `(rows, heads * head_dim)`."""
        kv_heads, groups, head_dim = self.num_key_value_heads, self.num_heads // self.num_key_value_heads, self.head_dim
        key_cache[:, :, start : start + length, :].assign(self._heads_first(key, length, kv_heads))
        value_cache[:, :, start : start + length, :].assign(self._heads_first(value, length, kv_heads))
        # Query head h reads key/value head h // groups (keras-hub repeats them so): queries
        # are laid out (batch, kv_heads, groups * length, head_dim) against the cache.
        if length == 1:
            query = tf.reshape(query, (-1, kv_heads, groups, head_dim))
        else:
            query = tf.reshape(query, (-1, length, kv_heads, groups, head_dim))
            query = tf.reshape(tf.transpose(query, (0, 2, 3, 1, 4)), (-1, kv_heads, groups * length, head_dim))
        scores = tf.matmul(query, key_cache, transpose_b=True) * (1.0 / math.sqrt(head_dim))
        if length == 1:
            weights = tf.nn.softmax(scores + mask, axis=-1)
            return tf.reshape(tf.matmul(weights, value_cache), (-1, self.num_heads * head_dim))
        capacity = key_cache.shape[2]
        scores = tf.reshape(scores, (-1, kv_heads, groups, length, capacity)) + mask
        weights = tf.reshape(tf.nn.softmax(scores, axis=-1), (-1, kv_heads, groups * length, capacity))
        output = tf.matmul(weights, value_cache)  # (batch, kv_heads, groups * length, head_dim)
        output = tf.reshape(output, (-1, kv_heads, groups, length, head_dim))
        return tf.reshape(tf.transpose(output, (0, 3, 1, 2, 4)), (-1, self.num_heads * head_dim))

    def _llama_block(self, index, layer, x, length, start, mask, rotary, key_cache, value_cache):
        attention = layer._self_attention_layer
        h = layer._self_attention_layernorm(x)
        query_width, key_width = self.num_heads * self.head_dim, self.num_key_value_heads * self.head_dim
        query, key, value = tf.split(tf.matmul(h, self._fused.qkv[index]), [query_width, key_width, key_width], 1)
        h = self._attention(self._rotate(query, self.num_heads, rotary),
                            self._rotate(key, self.num_key_value_heads, rotary),
                            value, length, start, mask, key_cache, value_cache)
        x = x + _dense(h, attention._output_dense)
        h = layer._feedforward_layernorm(x)
        gate, up = tf.split(tf.matmul(h, self._fused.gate_up[index]), 2, axis=1)
        return x + _dense(up * layer.activation(gate), layer._feedforward_output_dense)

    def _gpt2_block(self, index, layer, x, length, start, mask, rotary, key_cache, value_cache):
        attention = layer._self_attention_layer
        h = layer._self_attention_layer_norm(x)
        query, key, value = (
            _dense(h, dense) for dense in (attention._query_dense, attention._key_dense, attention._value_dense)
        )
        h = self._attention(query, key, value, length, start, mask, key_cache, value_cache)
        x = x + _dense(h, attention._output_dense)
        h = layer._feedforward_layer_norm(x)
        return x + _dense(_dense(h, layer._feedforward_intermediate_dense), layer._feedforward_output_dense)


class _FusedProjections:
    """Per Llama layer, the query/key/value kernels side by side, and the gate/up kernels: one matmul each.

    They are copies, refreshed from the layers' kernels (LoRA adapters merged in) at every `start`, so a
    model trained between generations is seen; a one-token step then runs 4 matmuls per layer, not 7.
    """

    def __init__(self, backbone):
        self.layers = backbone.transformer_layers
        self.qkv = [tf.Variable(self._qkv(layer), trainable=False) for layer in self.layers]
        self.gate_up = [tf.Variable(self._gate_up(layer), trainable=False) for layer in self.layers]

    @staticmethod
    def _qkv(layer):
        attention = layer._self_attention_layer
        dense = (attention._query_dense, attention._key_dense, attention._value_dense)
        return tf.concat([tf.reshape(_tensor(d.kernel), (d.kernel.shape[0], -1)) for d in dense], axis=1)

    @staticmethod
    def _gate_up(layer):
        return tf.concat([_tensor(layer._feedforward_gate_dense.kernel),
                          _tensor(layer._feedforward_intermediate_dense.kernel)], axis=1)

    @tf.function
    def refresh(self):
        for layer, qkv, gate_up in zip(self.layers, self.qkv, self.gate_up):
            qkv.assign(self._qkv(layer))
            gate_up.assign(self._gate_up(layer))


class _Cache:
    """Key/value variables for one (batch, capacity), and the functions traced over them."""

    def __init__(self, decoder, batch_size, capacity):
        shape = (batch_size, decoder.num_key_value_heads, capacity, decoder.head_dim)
        layers = len(decoder.backbone.transformer_layers)
        self.capacity = capacity
        self.keys = [tf.Variable(tf.zeros(shape), trainable=False) for _ in range(layers)]
        self.values = [tf.Variable(tf.zeros(shape), trainable=False) for _ in range(layers)]
        decoder = weakref.proxy(decoder)  # the model's decoder owns its caches, not the reverse

        def forward(token_ids, start):
            return decoder.forward(token_ids, start, self.keys, self.values)

        # Traced once each: any prompt length, and one new token per row.
        self.prefill = tf.function(forward, input_signature=_signature(sequence_length=None))
        self.step = tf.function(forward, input_signature=_signature(sequence_length=1))

        @tf.function
        def reorder(rows):
            for variable in self.keys + self.values:
                variable.assign(tf.gather(variable, rows))

        self.reorder = reorder

        @tf.function
        def copy_rows(source, copies):
            for variable, rows in zip(self.keys + self.values, source):
                variable.assign(tf.repeat(rows, copies, axis=0))

        self.copy_rows = copy_rows


def _signature(sequence_length):
    return (tf.TensorSpec((None, sequence_length), tf.int32), tf.TensorSpec((), tf.int32))


def _tensor(variable):
    return tf.convert_to_tensor(variable)


def _per_row(table, length, batch):
    """`(length, ...)` position-wise values repeated for each of `batch` rows of 2-D states (a no-op for one token)."""
    if length == 1:
        return table
    return tf.tile(table, [batch] + [1] * (len(table.shape) - 1))


def _dense(x, layer):
    """A Keras `Dense` or `EinsumDense` ("bqm,muh->bquh") over 2-D `x` as one matmul, bias and activation included.

    `layer.kernel` is the merged kernel when LoRA is enabled, so adapters are seen.
    """
    y = tf.matmul(x, tf.reshape(_tensor(layer.kernel), (x.shape[-1], -1)))
    if layer.bias is not None:
        y = y + tf.reshape(_tensor(layer.bias), (-1,))
    return layer.activation(y) if layer.activation is not None else y


_DECODERS = weakref.WeakKeyDictionary()


def decoder_for(causal_lm):
    """The `CachedDecoder` of `causal_lm`, made on first use and kept with the model.

    Example:
    >>> decoder_for(causal_lm) is decoder_for(causal_lm)  # doctest: +SKIP
    True
    """
    decoder = _DECODERS.get(causal_lm)
    # Enabling LoRA changes what a layer's `kernel` is (kernel + adapters): steps traced before miss it.
    if decoder is None or decoder.lora_layout != _lora_layout(causal_lm.backbone):
        decoder = _DECODERS[causal_lm] = CachedDecoder(causal_lm)
    return decoder


def _lora_layout(backbone):
    return tuple(getattr(backbone, "_lora_enabled_layers", None) or ())  # indices of the LoRA layers
