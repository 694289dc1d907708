"""Frozen-backbone features, computed once per example instead of once per epoch."""

import weakref
from typing import Tuple

import numpy as np
import tensorflow as tf

_FORWARD = weakref.WeakKeyDictionary()  # backbone -> {input spec: compiled inference call}


def _forward(backbone, input_shape, dtype=tf.float32):
    """One traced inference function per backbone and input shape (an image size, or () for
    texts) and dtype, for any batch size."""
    per_shape = _FORWARD.setdefault(backbone, {})
    if (input_shape, dtype) not in per_shape:
        per_shape[(input_shape, dtype)] = tf.function(
            tf.autograph.experimental.do_not_convert(lambda x: backbone(x, training=False)),
            input_signature=[tf.TensorSpec([None, *input_shape], dtype)])
    return per_shape[(input_shape, dtype)]


def embed(backbone, images: tf.data.Dataset) -> Tuple[np.ndarray, np.ndarray]:
    """(features [n, d], class ids [n]) for a batched (images or texts, class ids) dataset.

    One compiled backbone call per batch, BatchNorm in inference mode; the tf.data
    pipeline decodes the next batches in parallel meanwhile.
    """
    features, labels = [], []
    for batch_images, batch_labels in images:
        forward = _forward(backbone, tuple(batch_images.shape[1:]), batch_images.dtype)
        features.append(forward(batch_images).numpy())
        labels.append(batch_labels.numpy())
    if not features:
        raise ValueError("no examples to embed")
    return np.concatenate(features), np.concatenate(labels)
