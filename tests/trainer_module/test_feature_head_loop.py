"""The compiled head loop on cached features: learns, keeps the best epoch, matches Keras fit."""

import glob

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from hubtune.trainer_module import phases
from hubtune.trainer_module import model as model_lib
from tests.conftest import make_config


CENTERS = np.random.default_rng(99).normal(0, 3, (3, 8))


def _clusters(n, seed=0):
    """Three Gaussian clusters around fixed centers (train and eval share the centers)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centers, dim = CENTERS, CENTERS.shape[1]
    return (centers[labels] + rng.normal(0, 1, (n, dim))).astype(np.float32), labels


def test_compiled_head_loop_learns_and_keeps_the_best_epoch(tmp_path):
    keras.utils.set_random_seed(0)
    config = make_config(head={"hidden_units": [16], "dropout": 0.1})
    train, evaluation = _clusters(300), _clusters(100, seed=1)
    head = model_lib.build_head(8, 3, config.head)
    result = phases.fit_head_on_features(
        phases.PHASE_HEAD, head, train, evaluation, 1e-2, 15, 32, 2, 0, str(tmp_path))
    assert 1 <= result.epochs_run <= 15
    assert set(result.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert max(result.history["val_accuracy"]) > 0.9
    final = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
        evaluation[1], head(evaluation[0], training=False))
    assert float(final) == pytest.approx(result.best_val_loss, rel=1e-4)
    for sub in ("train", "validation"):
        assert glob.glob(str(tmp_path / phases.PHASE_HEAD / sub / "events.out.tfevents.*"))


def test_compiled_loop_matches_keras_fit_quality(tmp_path):
    """Same head, data and optimizer: the compiled loop and Keras fit reach the same accuracy."""
    config = make_config(head={"hidden_units": [16], "dropout": 0.0})
    train, evaluation = _clusters(400, seed=3), _clusters(200, seed=4)
    accuracies = []
    for compiled in (True, False):
        keras.utils.set_random_seed(0)
        head = model_lib.build_head(8, 3, config.head)
        if compiled:
            result = phases.fit_head_on_features(
                "compiled", head, train, evaluation, 1e-2, 8, 32, 8, 0, str(tmp_path))
        else:
            ds = lambda xy: tf.data.Dataset.from_tensor_slices(xy).batch(32)  # noqa: E731
            result = phases.fit_phase("keras", head, head.trainable_variables, 1e-2, 8,
                                      ds(train).shuffle(400, seed=0), ds(evaluation),
                                      str(tmp_path), 8)
        accuracies.append(result.history["val_accuracy"][-1])
    assert abs(accuracies[0] - accuracies[1]) <= 0.01, accuracies
