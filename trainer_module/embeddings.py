"""Frozen-backbone features, computed once per example instead of once per epoch."""

from typing import Tuple

import numpy as np
import tensorflow as tf


def embed(backbone, images: tf.data.Dataset) -> Tuple[np.ndarray, np.ndarray]:
    """(features [n, d], class ids [n]) for a batched (images, class ids) dataset.

    One compiled backbone call per batch, BatchNorm in inference mode; the tf.data
    pipeline decodes the next batches in parallel meanwhile.
    """
    forward = tf.function(lambda x: backbone(x, training=False))
    features, labels = [], []
    for batch_images, batch_labels in images:
        features.append(forward(batch_images).numpy())
        labels.append(batch_labels.numpy())
    if not features:
        raise ValueError("no examples to embed")
    return np.concatenate(features), np.concatenate(labels)
