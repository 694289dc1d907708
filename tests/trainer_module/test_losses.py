"""Class weights and label smoothing shape the gradients; reported losses stay plain."""

import numpy as np
import tensorflow as tf
import tf_keras as keras

from hubtune.trainer_module import feature_head_loop, losses, model
from hubtune import config as config_lib


def test_auto_weights_balance_the_classes():
    labels = np.array([0] * 90 + [1] * 10)
    weights = losses.class_weights(labels, 3, "auto")
    # n / (k * n_c) over the 2 classes present; the absent class keeps 1.
    np.testing.assert_allclose(weights, [100 / (2 * 90), 100 / (2 * 10), 1.0], rtol=1e-6)
    assert (weights[labels] .sum()) == np.float32(100)  # total weight unchanged
    np.testing.assert_array_equal(losses.class_weights(labels, 3, "none"), [1, 1, 1])


def test_smoothed_loss_equals_cross_entropy_against_smoothed_targets():
    logits = tf.constant([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0]])
    labels = tf.constant([0, 2], tf.int64)
    eps = 0.2
    targets = tf.one_hot(labels, 3) * (1 - eps) + eps / 3
    expected = keras.losses.categorical_crossentropy(targets, logits, from_logits=True)
    got = losses.training_loss(labels, logits, tf.ones([3]), eps)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5)
    plain = losses.training_loss(labels, logits, tf.constant([1.0, 1.0, 3.0]), 0.0)
    ce = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    np.testing.assert_allclose(plain.numpy(), ce.numpy() * [1.0, 3.0], rtol=1e-5)


def _imbalanced(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(np.int64)
    x = rng.normal(size=(n, 8)).astype(np.float32) + y[:, None] * 0.8
    return x, y


def test_auto_weights_raise_minority_recall():
    (x, y), (xv, yv) = _imbalanced(), _imbalanced(seed=1)
    recalls = {}
    for mode in ("none", "auto"):
        keras.utils.set_random_seed(0)
        head = model.build_head(8, 2, config_lib.HeadConfig(hidden_units=[], dropout=0.0))
        objective = losses.objective_for(y, 2, mode, 0.0)
        feature_head_loop.train_head(head, (x, y), (xv, yv), 0.05, 30, 32, 30, 0, None,
                                     objective)
        predicted = np.argmax(head(xv).numpy(), -1)
        recalls[mode] = (predicted[yv == 1] == 1).mean()
    assert recalls["auto"] > recalls["none"] + 0.2, recalls


def test_reported_validation_loss_is_plain_cross_entropy():
    (x, y), (xv, yv) = _imbalanced(), _imbalanced(seed=1)
    keras.utils.set_random_seed(0)
    head = model.build_head(8, 2, config_lib.HeadConfig(hidden_units=[], dropout=0.0))
    history = feature_head_loop.train_head(head, (x, y), (xv, yv), 0.05, 5, 32, 5, 0, None,
                                           losses.objective_for(y, 2, "auto", 0.3))
    best = min(history["val_loss"])
    ce = keras.losses.sparse_categorical_crossentropy(yv, head(xv), from_logits=True)
    np.testing.assert_allclose(float(np.mean(ce.numpy())), best, rtol=1e-4)
