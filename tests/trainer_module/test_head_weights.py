"""Warm start: the head's weights travel from a blessed Model artifact to the next Trainer."""

import os

import numpy as np
import tf_keras as keras

from hubtune.trainer_module import head_weights, model
from tests.conftest import make_config


def _head(classes, seed):
    keras.utils.set_random_seed(seed)
    return model.build_head(16, classes, make_config().head)


def test_head_weights_round_trip_through_the_model_artifact(tmp_path):
    serving_dir = tmp_path / "model" / "Format-Serving"
    serving_dir.mkdir(parents=True)
    trained = _head(3, seed=1)
    head_weights.save_head(trained, str(serving_dir))
    assert os.path.exists(tmp_path / "model" / head_weights.HEAD_WEIGHTS_FILE)
    fresh = _head(3, seed=2)
    assert not all(np.allclose(a, b) for a, b in zip(fresh.get_weights(), trained.get_weights()))
    assert head_weights.load_head(fresh, str(serving_dir)) is True
    for a, b in zip(fresh.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_no_base_model_or_a_changed_head_starts_fresh(tmp_path):
    serving_dir = tmp_path / "model" / "Format-Serving"
    serving_dir.mkdir(parents=True)
    head_weights.save_head(_head(3, seed=1), str(serving_dir))
    other = _head(4, seed=2)  # a class was added: shapes differ
    before = [w.copy() for w in other.get_weights()]
    assert head_weights.load_head(other, str(serving_dir)) is False
    for a, b in zip(other.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    assert head_weights.load_head(other, None) is False
    assert head_weights.load_head(other, str(tmp_path / "elsewhere" / "Format-Serving")) is False
