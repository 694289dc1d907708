"""TFX Tuner entry point: ``tuner_fn(fn_args)``, a KerasTuner search whose trials train the
head on cached embeddings of each candidate backbone.

Every candidate is loaded and embedded once (through the content-addressed embedding
cache, which the Trainer then reuses for the winner); a trial is then a head trained
on those arrays in ``feature_head_loop``'s compiled loop, early-stopped on the
validation split, scored by its best validation loss.  A candidate that fails to load
or embed is skipped with its reason; when every candidate fails the run stops.  The
eval split is never read.
"""

import dataclasses
import time
from typing import Dict, List, Tuple

import keras_tuner
import numpy as np
import tf_keras as keras
from absl import logging
from tfx.v1.components import TunerFnResult

from hubtune import config as config_lib
from hubtune.config import names
from hubtune.trainer_module import (feature_head_loop, hyperparameters, losses, modality, model,
                                    training_inputs)

OBJECTIVE = "val_loss"
PROJECT_NAME = "hubtune_tuner"


class NoUsableBackboneError(RuntimeError):
    """Every candidate backbone failed to load or embed."""


@dataclasses.dataclass
class Candidate:
    """One backbone's cached features of the fit and validation splits, or why it failed."""
    backbone: config_lib.BackboneConfig
    features: Tuple = ()
    embedding: Dict = dataclasses.field(default_factory=dict)
    skipped: str = ""


def embed_candidate(candidate: config_lib.BackboneConfig, inputs, config: config_lib.Config,
                    cache_root: str) -> Candidate:
    try:
        config = dataclasses.replace(config, backbone=candidate)
        features, report = training_inputs.cached_features(
            modality.load_backbone(config), inputs, config, cache_root)
    except Exception as e:  # noqa: BLE001 - any failure skips the candidate, with its reason
        reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
        logging.warning("hubtune: tuner: skipping backbone %s: %s", candidate.handle, reason)
        return Candidate(candidate, skipped=reason)
    return Candidate(candidate, features, report)


class CachedEmbeddingTuner(keras_tuner.engine.base_tuner.BaseTuner):
    """Trials on cached embeddings; keeps a trial table (``trial_table``) for the report."""

    def __init__(self, oracle, config: config_lib.Config, inputs, candidates: List[Candidate],
                 **kwargs):
        super().__init__(oracle=oracle, **kwargs)
        self.config, self.inputs = config, inputs
        self.candidates = {c.backbone.handle: c for c in candidates if not c.skipped}
        self.trial_table: List[Dict] = [
            {"trial": None, "backbone": c.backbone.handle, "input_size": c.backbone.input_size,
             "status": "skipped", "reason": c.skipped} for c in candidates if c.skipped]

    def run_trial(self, trial, *fit_args, **fit_kwargs):
        values = trial.hyperparameters.values
        config = hyperparameters.apply(self.config, values)
        fit, validation = self.candidates[config.backbone.handle].features
        objective = losses.objective_for(fit[1], len(self.inputs.class_names),
                                         config.train.class_weights, config.train.label_smoothing)
        keras.utils.set_random_seed(config.train.seed)
        head = model.build_head(fit[0].shape[1], len(self.inputs.class_names), config.head)
        started = time.perf_counter()
        history = feature_head_loop.train_head(
            head, fit, validation, config.train.head_learning_rate, config.train.head_epochs,
            config.train.batch_size, config.train.head_patience, config.train.seed, None,
            objective)
        best = int(np.argmin(history["val_loss"]))
        metrics = {OBJECTIVE: history["val_loss"][best],
                   "val_accuracy": history["val_accuracy"][best]}
        self.trial_table.append({
            "trial": trial.trial_id, "backbone": config.backbone.handle,
            "input_size": config.backbone.input_size, "status": "completed",
            "settings": {k: v for k, v in values.items() if k != hyperparameters.BACKBONE},
            **metrics, "epochs": len(history["val_loss"]),
            "seconds": time.perf_counter() - started})
        logging.info("hubtune: tuner trial %s: %s -> val_loss %.4f val_accuracy %.4f",
                     trial.trial_id, values, metrics[OBJECTIVE], metrics["val_accuracy"])
        return metrics

    def save_model(self, trial_id, model, step=0):  # noqa: D401 - trials keep no models
        return None

    def load_model(self, trial):
        return None


def tuner_fn(fn_args) -> TunerFnResult:
    """Embeds every candidate, then returns the search over backbone and head settings."""
    config = config_lib.from_custom_config(fn_args.custom_config)
    inputs = training_inputs.read_inputs(fn_args.transform_graph_path, fn_args.train_files,
                                         config.data.validation_percent,
                                         names.XF_KEYS[config.data.modality])
    candidates = [embed_candidate(c, inputs, config, fn_args.working_dir)
                  for c in hyperparameters.candidates(config)]
    usable = [c.backbone.handle for c in candidates if not c.skipped]
    if not usable:
        raise NoUsableBackboneError(
            "no candidate backbone could be loaded and run: "
            + "; ".join(f"{c.backbone.handle}: {c.skipped}" for c in candidates)
            + ". Fix the handles in tune.backbones (or backbone.handle).")
    space = keras_tuner.HyperParameters()
    hyperparameters.define_search_space(space, config.tune, usable)
    oracle = keras_tuner.oracles.RandomSearchOracle(
        objective=keras_tuner.Objective(OBJECTIVE, "min"), max_trials=config.tune.trials,
        hyperparameters=space, allow_new_entries=False, seed=config.train.seed)
    tuner = CachedEmbeddingTuner(oracle, config, inputs, candidates,
                                 directory=fn_args.working_dir, project_name=PROJECT_NAME,
                                 overwrite=True)
    return TunerFnResult(tuner=tuner, fit_kwargs={})
