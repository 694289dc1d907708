"""The training objective: cross-entropy with optional class weights and label smoothing.

Both only shape the gradients.  Every loss a choice is made on (early stopping, the
phase-2 rollback, the Tuner's objective) and every loss reported is plain, unweighted
cross-entropy on the validation split, so runs with other settings compare fairly.
"""

import dataclasses

import numpy as np
import tensorflow as tf


@dataclasses.dataclass
class Objective:
    """What shapes the gradients only: per-class weights, label smoothing."""
    class_weights: np.ndarray
    label_smoothing: float


def class_weights(labels: np.ndarray, num_classes: int, mode: str) -> np.ndarray:
    """float32 [num_classes]: ones for ``none``; for ``auto`` n / (k * n_c) over the classes
    present (Keras' and scikit-learn's "balanced"), 1 for a class absent from ``labels``."""
    weights = np.ones(num_classes, np.float32)
    if mode == "auto":
        counts = np.bincount(labels.astype(np.int64), minlength=num_classes)
        present = counts > 0
        weights[present] = len(labels) / (present.sum() * counts[present])
    return weights


def objective_for(labels: np.ndarray, num_classes: int, class_weights_mode: str,
                  label_smoothing: float) -> Objective:
    return Objective(class_weights(labels, num_classes, class_weights_mode), label_smoothing)


def training_loss(labels: tf.Tensor, logits: tf.Tensor, weights: tf.Tensor,
                  label_smoothing: float) -> tf.Tensor:
    """Per-example loss [batch]: class weight x cross-entropy against targets smoothed
    towards uniform, (1 - e) * CE(y) + e * mean_k(-log p_k)."""
    log_probs = tf.nn.log_softmax(logits)
    nll = -tf.gather(log_probs, labels, batch_dims=1)
    if label_smoothing:
        nll = (1.0 - label_smoothing) * nll - label_smoothing * tf.reduce_mean(log_probs, -1)
    return tf.gather(weights, labels) * nll
