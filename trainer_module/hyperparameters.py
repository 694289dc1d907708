"""The Tuner's search space and what its chosen values mean for a Config.

``define_search_space`` declares KerasTuner hyperparameters from the ``tune`` section;
``apply`` turns a values dict (a trial's, or the Trainer's ``fn_args.hyperparameters``
from the Tuner's ``best_hyperparameters``) into the Config the trial or the Trainer
runs with.  KerasTuner values are scalars, so head layer widths travel as a label
("512-128"; "none" for no hidden layer).
"""

import dataclasses
from typing import Any, Dict, List, Optional, Sequence

from hubtune import config as config_lib

BACKBONE = "backbone"
HIDDEN_UNITS = "hidden_units"
DROPOUT = "dropout"
HEAD_LEARNING_RATE = "head_learning_rate"
LABEL_SMOOTHING = "label_smoothing"
NO_HIDDEN_LAYER = "none"


def units_label(units: Sequence[int]) -> str:
    return "-".join(str(u) for u in units) or NO_HIDDEN_LAYER


def parse_units(label: str) -> List[int]:
    return [] if label == NO_HIDDEN_LAYER else [int(u) for u in label.split("-")]


def candidates(config: config_lib.Config) -> List[config_lib.BackboneConfig]:
    """The backbones the Tuner compares: ``tune.backbones``, else the backbone section."""
    return list(config.tune.backbones) or [config.backbone]


def define_search_space(hp, tune: config_lib.TuneConfig, handles: Sequence[str]) -> None:
    """Declares the hyperparameters on a ``keras_tuner.HyperParameters``."""
    hp.Choice(BACKBONE, list(handles))
    hp.Choice(HIDDEN_UNITS, [units_label(u) for u in tune.hidden_units])
    hp.Float(DROPOUT, tune.dropout[0], tune.dropout[1])
    hp.Float(HEAD_LEARNING_RATE, tune.head_learning_rate[0], tune.head_learning_rate[1],
             sampling="log")
    hp.Choice(LABEL_SMOOTHING, list(tune.label_smoothing))


def apply(config: config_lib.Config, values: Optional[Dict[str, Any]]) -> config_lib.Config:
    """``config`` with the tuned values in place (unchanged without values)."""
    if not values:
        return config
    by_handle = {c.handle: c for c in candidates(config)}
    backbone = config.backbone
    if BACKBONE in values:
        if values[BACKBONE] not in by_handle:
            raise ValueError(f"the tuned backbone {values[BACKBONE]!r} is not among the "
                             f"candidates {sorted(by_handle)}: re-run the Tuner")
        backbone = by_handle[values[BACKBONE]]
    head = dataclasses.replace(
        config.head,
        hidden_units=parse_units(values.get(HIDDEN_UNITS, units_label(config.head.hidden_units))),
        dropout=float(values.get(DROPOUT, config.head.dropout)))
    train = dataclasses.replace(
        config.train,
        head_learning_rate=float(values.get(HEAD_LEARNING_RATE, config.train.head_learning_rate)),
        label_smoothing=float(values.get(LABEL_SMOOTHING, config.train.label_smoothing)))
    return dataclasses.replace(config, backbone=backbone, head=head, train=train)


def values_of(hyperparameters: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The values of a ``HyperParameters.get_config()`` dict (TFX's fn_args.hyperparameters)."""
    if not hyperparameters:
        return None
    return hyperparameters.get("values", hyperparameters)
