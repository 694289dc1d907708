"""The Tuner's search space, and the config its values give the Trainer."""

import keras_tuner
import pytest

from hubtune import config as config_lib
from hubtune.trainer_module import hyperparameters


def _config(**tune):
    return config_lib.from_dict({
        "data": {"train": "t"},
        "backbone": {"handle": "/b/lite0", "input_size": 224},
        "tune": {"backbones": [{"handle": "/b/lite0", "input_size": 224},
                               {"handle": "/b/lite2", "input_size": 260}], **tune}})


def test_search_space_spans_the_config():
    config = _config(hidden_units=[[], [64, 32]], label_smoothing=[0.0, 0.2])
    hp = keras_tuner.HyperParameters()
    hyperparameters.define_search_space(hp, config.tune, ["/b/lite0", "/b/lite2"])
    space = {p.name: p for p in hp.space}
    assert space["backbone"].values == ["/b/lite0", "/b/lite2"]
    assert space["hidden_units"].values == ["none", "64-32"]
    assert space["head_learning_rate"].sampling == "log"
    assert space["label_smoothing"].values == [0.0, 0.2]


def test_values_become_the_trainers_config():
    config = _config()
    tuned = hyperparameters.apply(config, {"backbone": "/b/lite2", "hidden_units": "512-128",
                                           "dropout": 0.25, "head_learning_rate": 0.003,
                                           "label_smoothing": 0.1})
    assert (tuned.backbone.handle, tuned.backbone.input_size) == ("/b/lite2", 260)
    assert tuned.head.hidden_units == [512, 128] and tuned.head.dropout == 0.25
    assert tuned.train.head_learning_rate == 0.003 and tuned.train.label_smoothing == 0.1
    assert hyperparameters.apply(config, None) is config
    assert hyperparameters.apply(config, {"hidden_units": "none"}).head.hidden_units == []


def test_a_backbone_outside_the_candidates_is_refused():
    with pytest.raises(ValueError, match="/b/other.*re-run the Tuner"):
        hyperparameters.apply(_config(), {"backbone": "/b/other"})


def test_tfx_hyperparameters_config_carries_values():
    hp = keras_tuner.HyperParameters()
    hp.Fixed("dropout", 0.4)
    assert hyperparameters.values_of(hp.get_config()) == {"dropout": 0.4}


def test_tuning_is_on_with_backbones_or_trials():
    assert _config().tune.enabled and _config().tune.trials == 12
    plain = config_lib.from_dict({"data": {"train": "t"}, "backbone": {"handle": "/b"}})
    assert not plain.tune.enabled
    assert hyperparameters.candidates(plain) == [plain.backbone]
