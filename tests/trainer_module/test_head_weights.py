"""Warm start: the head's weights travel from a blessed Model artifact to the next Trainer,
and only onto a head for the same classes (reordered when the class order changed)."""

import os

import numpy as np
import tf_keras as keras

from hubtune.trainer_module import head_weights, model
from tests.conftest import make_config

CLASSES = ["crack", "ok", "scratch"]


def _head(classes, seed):
    keras.utils.set_random_seed(seed)
    return model.build_head(16, classes, make_config().head)


def _saved(tmp_path, classes=CLASSES, seed=1):
    serving_dir = tmp_path / "model" / "Format-Serving"
    serving_dir.mkdir(parents=True)
    trained = _head(len(classes), seed=seed)
    head_weights.save_head(trained, classes, str(serving_dir))
    return trained, str(serving_dir)


def test_head_weights_round_trip_through_the_model_artifact(tmp_path):
    trained, serving_dir = _saved(tmp_path)
    assert os.path.exists(tmp_path / "model" / head_weights.HEAD_WEIGHTS_FILE)
    fresh = _head(3, seed=2)
    assert not all(np.allclose(a, b) for a, b in zip(fresh.get_weights(), trained.get_weights()))
    assert head_weights.load_head(fresh, CLASSES, serving_dir) is True
    for a, b in zip(fresh.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_new_class_order_permutes_the_outputs_to_match(tmp_path):
    trained, serving_dir = _saved(tmp_path)
    reordered = ["scratch", "crack", "ok"]
    fresh = _head(3, seed=2)
    assert head_weights.load_head(fresh, reordered, serving_dir) is True
    features = np.random.default_rng(0).normal(size=(5, 16)).astype(np.float32)
    before = trained(features, training=False).numpy()
    after = fresh(features, training=False).numpy()
    for j, name in enumerate(reordered):  # each output still means the same class
        np.testing.assert_allclose(after[:, j], before[:, CLASSES.index(name)], atol=1e-6)


def test_another_class_set_or_no_base_model_starts_fresh(tmp_path):
    _, serving_dir = _saved(tmp_path)
    for classes in (["crack", "ok", "dent"], ["crack", "ok", "scratch", "dent"]):
        other = _head(len(classes), seed=2)
        before = [w.copy() for w in other.get_weights()]
        assert head_weights.load_head(other, classes, serving_dir) is False
        for a, b in zip(other.get_weights(), before):
            np.testing.assert_array_equal(a, b)
    assert head_weights.load_head(_head(3, seed=2), CLASSES, None) is False
    assert head_weights.load_head(_head(3, seed=2), CLASSES,
                                  str(tmp_path / "elsewhere" / "Format-Serving")) is False
