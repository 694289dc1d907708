"""The Trainer's input pipeline: streamed from Transform's output, never cached whole."""

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import graph_pb2

from hubtune.trainer_module import data
from tests.conftest import make_config, random_images
from tests.trainer_module.test_embedding_cache import SPEC, write_transformed


def _op_types(ds: tf.data.Dataset) -> set:
    graph = graph_pb2.GraphDef.FromString(
        tf.raw_ops.DatasetToGraphV2(input_dataset=ds._variant_tensor).numpy())
    return {node.op for node in graph.node}


def test_decoded_images_are_streamed_not_cached(tmp_path):
    images = random_images(40, size=16)
    labels = [i % 2 for i in range(40)]
    path = write_transformed(str(tmp_path / "train.gz"), images, labels)
    config = make_config(backbone={"input_size": 32}, train={"batch_size": 8})
    for training in (True, False):
        ds = data.image_dataset([path], "train", SPEC, config, training=training)
        ops = _op_types(ds)
        assert not {op for op in ops if op.startswith("Cache")}, ops
        epochs = [sorted(np.concatenate([y.numpy() for _, y in ds]).tolist())
                  for _ in range(2)]
        assert epochs[0] == epochs[1] == sorted(labels)  # every record, every epoch
    batch, _ = next(iter(ds))
    assert batch.shape == (8, 32, 32, 3) and batch.dtype == tf.float32
