"""Frozen-backbone features, computed once per example instead of once per epoch."""

import weakref
from typing import Tuple

import numpy as np
import tensorflow as tf

_FORWARD = weakref.WeakKeyDictionary()  # backbone -> {image shape: compiled inference call}


def _forward(backbone, image_shape):
    """One traced inference function per backbone and image size, for any batch size."""
    per_shape = _FORWARD.setdefault(backbone, {})
    if image_shape not in per_shape:
        per_shape[image_shape] = tf.function(
            tf.autograph.experimental.do_not_convert(lambda x: backbone(x, training=False)),
            input_signature=[tf.TensorSpec([None, *image_shape], tf.float32)])
    return per_shape[image_shape]


def embed(backbone, images: tf.data.Dataset) -> Tuple[np.ndarray, np.ndarray]:
    """(features [n, d], class ids [n]) for a batched (images, class ids) dataset.

    One compiled backbone call per batch, BatchNorm in inference mode; the tf.data
    pipeline decodes the next batches in parallel meanwhile.
    """
    features, labels = [], []
    for batch_images, batch_labels in images:
        forward = _forward(backbone, tuple(batch_images.shape[1:]))
        features.append(forward(batch_images).numpy())
        labels.append(batch_labels.numpy())
    if not features:
        raise ValueError("no examples to embed")
    return np.concatenate(features), np.concatenate(labels)
