"""A BERT encoder in tf_keras, loadable from a Hugging Face BERT state dict.

``build_bert_encoder(BertShape)`` makes the network: token, position and segment
embeddings, then ``num_layers`` post-LayerNorm transformer layers, each a Keras layer
named ``transformer_layer_<i>`` (so fine-tuning can unfreeze the top layers by layer,
not by variable order).  Inputs are the TF-Hub BERT encoder's ``input_word_ids`` /
``input_mask`` / ``input_type_ids`` ([batch, seq] int32); the output is the sequence
output [batch, seq, hidden].  ``load_hf_weights`` copies a ``BertModel`` state dict
(numpy arrays by the Hugging Face names, e.g. from a safetensors file) into it.
"""

import dataclasses
import json
import math
from typing import Dict

import numpy as np
import tensorflow as tf
import tf_keras as keras

from hubtune.config import names

LAYER_PREFIX = names.TRANSFORMER_LAYER_PREFIX


@dataclasses.dataclass(frozen=True)
class BertShape:
    """The architecture fields of a Hugging Face BERT ``config.json``."""
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float

    @classmethod
    def from_config_json(cls, path: str) -> "BertShape":
        with open(path) as f:
            c = json.load(f)
        if c.get("hidden_act", "gelu") != "gelu" or c.get("model_type", "bert") != "bert":
            raise ValueError(f"{path}: only BERT with exact GELU is supported (model_type "
                             f"{c.get('model_type')}, hidden_act {c.get('hidden_act')})")
        return cls(c["vocab_size"], c["hidden_size"], c["num_hidden_layers"],
                   c["num_attention_heads"], c["intermediate_size"],
                   c["max_position_embeddings"], c["type_vocab_size"], c["layer_norm_eps"])


class Embeddings(keras.layers.Layer):
    """Token + position + segment embeddings, LayerNorm."""

    def __init__(self, shape: BertShape, **kwargs):
        super().__init__(**kwargs)
        self.words = keras.layers.Embedding(shape.vocab_size, shape.hidden_size, name="word")
        self.positions = keras.layers.Embedding(shape.max_positions, shape.hidden_size,
                                                name="position")
        self.segments = keras.layers.Embedding(shape.type_vocab_size, shape.hidden_size,
                                               name="segment")
        self.norm = keras.layers.LayerNormalization(epsilon=shape.layer_norm_eps, name="norm")

    def call(self, word_ids, type_ids):
        positions = tf.range(tf.shape(word_ids)[1])[tf.newaxis, :]
        return self.norm(self.words(word_ids) + self.positions(positions)
                         + self.segments(type_ids))


class TransformerLayer(keras.layers.Layer):
    """Self-attention and feed-forward, each followed by residual + LayerNorm (BERT)."""

    def __init__(self, shape: BertShape, **kwargs):
        super().__init__(**kwargs)
        self.heads, self.head_size = shape.num_heads, shape.hidden_size // shape.num_heads
        dense = lambda units, name: keras.layers.Dense(units, name=name)  # noqa: E731
        self.query, self.key, self.value = (dense(shape.hidden_size, n)
                                            for n in ("query", "key", "value"))
        self.attention_output = dense(shape.hidden_size, "attention_output")
        self.attention_norm = keras.layers.LayerNormalization(epsilon=shape.layer_norm_eps,
                                                              name="attention_norm")
        self.intermediate = dense(shape.intermediate_size, "intermediate")
        self.output_dense = dense(shape.hidden_size, "output")
        self.output_norm = keras.layers.LayerNormalization(epsilon=shape.layer_norm_eps,
                                                           name="output_norm")

    def _split_heads(self, x):
        batch, length = tf.shape(x)[0], tf.shape(x)[1]
        x = tf.reshape(x, [batch, length, self.heads, self.head_size])
        return tf.transpose(x, [0, 2, 1, 3])

    def call(self, x, mask_bias):
        q, k, v = (self._split_heads(f(x)) for f in (self.query, self.key, self.value))
        scores = tf.matmul(q, k, transpose_b=True) / math.sqrt(self.head_size) + mask_bias
        context = tf.matmul(tf.nn.softmax(scores, axis=-1), v)
        context = tf.transpose(context, [0, 2, 1, 3])
        context = tf.reshape(context, tf.shape(x))
        x = self.attention_norm(x + self.attention_output(context))
        hidden = keras.activations.gelu(self.intermediate(x), approximate=False)
        return self.output_norm(x + self.output_dense(hidden))


def build_bert_encoder(shape: BertShape, name: str = "bert_encoder") -> keras.Model:
    """[batch, seq] int32 word ids, mask, type ids -> sequence output [batch, seq, hidden]."""
    word_ids, mask, type_ids = (keras.Input(shape=(None,), dtype=tf.int32, name=n)
                                for n in ("input_word_ids", "input_mask", "input_type_ids"))
    x = Embeddings(shape, name="embeddings")(word_ids, type_ids)
    # Padding positions get -10000 before the softmax (the reference BERT's bias).
    mask_bias = (1.0 - tf.cast(mask, tf.float32)[:, tf.newaxis, tf.newaxis, :]) * -10000.0
    for i in range(shape.num_layers):
        x = TransformerLayer(shape, name=f"{LAYER_PREFIX}{i}")(x, mask_bias)
    return keras.Model([word_ids, mask, type_ids], x, name=name)


def _linear(layer: keras.layers.Dense, state: Dict[str, np.ndarray], prefix: str) -> None:
    layer.set_weights([state[f"{prefix}.weight"].T, state[f"{prefix}.bias"]])


def _norm(layer: keras.layers.LayerNormalization, state, prefix: str) -> None:
    layer.set_weights([state[f"{prefix}.weight"], state[f"{prefix}.bias"]])


def load_hf_weights(encoder: keras.Model, state: Dict[str, np.ndarray]) -> None:
    """Copies a Hugging Face ``BertModel`` state dict into ``build_bert_encoder``'s network;
    every encoder tensor must be present (a ``bert.`` prefix is accepted)."""
    state = {k[len("bert."):] if k.startswith("bert.") else k: np.asarray(v, np.float32)
             for k, v in state.items()}
    emb = encoder.get_layer("embeddings")
    emb.words.set_weights([state["embeddings.word_embeddings.weight"]])
    emb.positions.set_weights([state["embeddings.position_embeddings.weight"]])
    emb.segments.set_weights([state["embeddings.token_type_embeddings.weight"]])
    _norm(emb.norm, state, "embeddings.LayerNorm")
    layers = [layer for layer in encoder.layers if layer.name.startswith(LAYER_PREFIX)]
    for i, layer in enumerate(layers):
        p = f"encoder.layer.{i}"
        for dense, name in ((layer.query, "query"), (layer.key, "key"), (layer.value, "value")):
            _linear(dense, state, f"{p}.attention.self.{name}")
        _linear(layer.attention_output, state, f"{p}.attention.output.dense")
        _norm(layer.attention_norm, state, f"{p}.attention.output.LayerNorm")
        _linear(layer.intermediate, state, f"{p}.intermediate.dense")
        _linear(layer.output_dense, state, f"{p}.output.dense")
        _norm(layer.output_norm, state, f"{p}.output.LayerNorm")
    if f"encoder.layer.{len(layers)}.output.dense.weight" in state:
        raise ValueError(f"the state dict has more than {len(layers)} transformer layers")


def masked_mean(sequence_output: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Mean of the token vectors where ``mask`` is 1 (sentence-transformers' mean pooling);
    an all-padding row gives zeros."""
    weights = tf.cast(mask, sequence_output.dtype)[:, :, tf.newaxis]
    total = tf.reduce_sum(sequence_output * weights, axis=1)
    return total / tf.maximum(tf.reduce_sum(weights, axis=1), 1e-9)
