"""TFX Trainer entry point: ``run_fn(fn_args)`` (generic Trainer), and the steps it hands
off to: read the train split and carve its validation share, build the classifier, embed
once, train both phases, export."""

import json
import os
from typing import Dict, List, Optional, Tuple

import tf_keras as keras
from absl import logging

from hubtune import config as config_lib
from hubtune.config import names
from hubtune.trainer_module import (data, export, head_weights, hyperparameters, losses,
                                    modality, model, phases, training_inputs, warmup_requests)
from hubtune.trainer_module.training_inputs import TrainingInputs


def write_history(model_run_dir: str, inputs: TrainingInputs, config: config_lib.Config,
                  embedding: Dict, warm_started: bool,
                  results: List[phases.PhaseResult]) -> None:
    """``training_history.json``: classes, split sizes, what was chosen, per-phase history."""
    os.makedirs(model_run_dir, exist_ok=True)
    with open(os.path.join(model_run_dir, names.TRAINING_HISTORY_FILE), "w") as f:
        json.dump({"classes": inputs.class_names, "examples": inputs.counts,
                   "validation_percent": config.data.validation_percent,
                   "modality": config.data.modality,
                   "backbone": _backbone_summary(config),
                   "head": {"hidden_units": config.head.hidden_units,
                            "dropout": config.head.dropout},
                   "head_learning_rate": config.train.head_learning_rate,
                   "class_weights": config.train.class_weights,
                   "label_smoothing": config.train.label_smoothing,
                   "embedding": embedding, "warm_started": bool(warm_started),
                   "phases": [r.__dict__ for r in results]}, f, indent=1)


def _backbone_summary(config: config_lib.Config) -> Dict:
    b = config.backbone
    if config.data.modality == config_lib.TEXT:
        return {"handle": b.handle, "preprocessor": b.preprocessor,
                "max_seq_length": b.max_seq_length}
    return {"handle": b.handle, "input_size": b.input_size}


def export_model(classifier, head, inputs: TrainingInputs, config: config_lib.Config,
                 serving_model_dir: str) -> None:
    """The serving SavedModel, the head's weights beside it, and warmup requests (from the
    validation split: the eval split is the Evaluator's alone)."""
    export.export_serving_model(classifier, inputs.tf_transform_output, config,
                                serving_model_dir)
    head_weights.save_head(head, inputs.class_names, serving_model_dir)
    warmup_requests.write_warmup_requests(
        serving_model_dir,
        data.first_inputs(inputs.files, training_inputs.VALIDATION,
                          warmup_requests.WARMUP_EXAMPLES, select=inputs.is_validation,
                          xf_key=names.XF_KEYS[config.data.modality]),
        config.data)
    logging.info("hubtune: exported %s with signatures %s, %s", serving_model_dir,
                 names.SERVING_EXAMPLES_SIGNATURE,
                 names.RAW_SIGNATURES[config.data.modality][0])


def trainer_config(fn_args) -> config_lib.Config:
    """The config from ``custom_config``, with the Tuner's best hyperparameters when given."""
    config = config_lib.from_custom_config(fn_args.custom_config)
    values = hyperparameters.values_of(getattr(fn_args, "hyperparameters", None))
    if values:
        logging.info("hubtune: hyperparameters from the Tuner: %s", values)
    return hyperparameters.apply(config, values)


def run_fn(fn_args) -> None:
    """Builds the classifier, trains both phases, exports the serving SavedModel.

    The hubtune config arrives through ``fn_args.custom_config``, tuned values through
    ``fn_args.hyperparameters``.  Only ``fn_args.train_files`` are read: every choice is
    made on the validation share of them.  TensorBoard logs and ``training_history.json``
    go to ``fn_args.model_run_dir``.
    """
    config = trainer_config(fn_args)
    inputs = training_inputs.read_inputs(fn_args.transform_graph_path, fn_args.train_files,
                                         config.data.validation_percent,
                                         names.XF_KEYS[config.data.modality])
    datasets = training_inputs.input_datasets(inputs, config)
    objective = losses.objective_for(inputs.fit_labels, len(inputs.class_names),
                                     config.train.class_weights, config.train.label_smoothing)
    keras.utils.set_random_seed(config.train.seed)  # head init, dropout, shuffling
    with phases.choose_strategy().scope():
        backbone = modality.load_backbone(config)
        head = model.build_head(modality.feature_dim(backbone, config),
                                len(inputs.class_names), config.head)
        classifier = modality.build_classifier(backbone, head, config)
        warm_started = (config.train.warm_start
                        and head_weights.load_head(head, inputs.class_names, fn_args.base_model))
        cached: Optional[Tuple] = None
        embedding: Dict = {}
        if config.train.cache_embeddings:
            cached, embedding = training_inputs.cached_features(backbone, inputs, config,
                                                                fn_args.model_run_dir)
        results = phases.train_two_phases(classifier, head, backbone, datasets, config.train,
                                          fn_args.model_run_dir, features=cached,
                                          objective=objective)
    write_history(fn_args.model_run_dir, inputs, config, embedding, warm_started, results)
    export_model(classifier, head, inputs, config, fn_args.serving_model_dir)
