"""TFX Trainer entry point: ``run_fn(fn_args)`` (generic Trainer), and the steps it hands
off to: read the splits, build the classifier, embed once, train both phases, export."""

import dataclasses
import json
import os
import time
from typing import Dict, List, Optional, Tuple

import tensorflow_transform as tft
import tf_keras as keras
from absl import logging

from hubtune import config as config_lib
from hubtune.config import names
from hubtune.trainer_module import backbone as backbone_lib
from hubtune.trainer_module import (data, embedding_cache, export, head_weights, model, phases,
                                    warmup_requests)

SPLITS = ("train", "eval")


@dataclasses.dataclass
class TrainingInputs:
    """What Transform handed over: files per split, their counts, the classes."""
    files: Dict[str, List[str]]
    counts: Dict[str, int]
    class_names: List[str]
    feature_spec: Dict
    tf_transform_output: tft.TFTransformOutput


def read_inputs(fn_args) -> TrainingInputs:
    """The transformed splits and class names; refuses fewer than 2 classes or an empty split."""
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    class_names = export.class_names(tf_transform_output)
    if len(class_names) < 2:
        raise ValueError(f"the training data has {len(class_names)} class(es) {class_names}: "
                         "a classifier needs at least 2 labels")
    files = {"train": fn_args.train_files, "eval": fn_args.eval_files}
    counts = {split: data.count_examples(f, split) for split, f in files.items()}
    for split, n in counts.items():
        if n == 0:
            raise data.EmptySplitError(f"the {split} split is empty after Transform")
    logging.info("hubtune: %s examples, classes %s", counts, class_names)
    return TrainingInputs(files, counts, class_names,
                          tf_transform_output.transformed_feature_spec(), tf_transform_output)


def embed_splits(backbone, inputs: TrainingInputs, config: config_lib.Config,
                 model_run_dir: str) -> Tuple[Tuple, Dict]:
    """Frozen-backbone features of both splits from the embedding cache (computing only the
    missing ones): (((x, y), (x, y)), what was embedded and how long it took)."""
    store = embedding_cache.EmbeddingCache(
        config.train.embedding_cache_dir or os.path.join(model_run_dir, "embedding_cache"),
        embedding_cache.cache_key(config.backbone.handle, config.backbone.input_size))
    arrays, report = [], {}
    for split in SPLITS:
        started = time.perf_counter()
        feats, labels, embedded = embedding_cache.embed_split(
            backbone, store, inputs.files[split], split, inputs.feature_spec, config)
        arrays.append((feats, labels))
        report[split] = {"examples": len(labels), "embedded": embedded,
                         "seconds": time.perf_counter() - started}
    return tuple(arrays), report


def write_history(model_run_dir: str, inputs: TrainingInputs, embedding: Dict,
                  warm_started: bool, results: List[phases.PhaseResult]) -> None:
    os.makedirs(model_run_dir, exist_ok=True)
    with open(os.path.join(model_run_dir, names.TRAINING_HISTORY_FILE), "w") as f:
        json.dump({"classes": inputs.class_names, "examples": inputs.counts,
                   "embedding": embedding, "warm_started": bool(warm_started),
                   "phases": [r.__dict__ for r in results]}, f, indent=1)


def export_model(classifier, head, inputs: TrainingInputs, config: config_lib.Config,
                 serving_model_dir: str) -> None:
    """The serving SavedModel, the head's weights beside it, and warmup requests."""
    export.export_serving_model(classifier, inputs.tf_transform_output, config,
                                serving_model_dir)
    head_weights.save_head(head, inputs.class_names, serving_model_dir)
    warmup_requests.write_warmup_requests(
        serving_model_dir,
        data.first_images(inputs.files["eval"], "eval", warmup_requests.WARMUP_EXAMPLES),
        config.data)
    logging.info("hubtune: exported %s with signatures %s, %s", serving_model_dir,
                 names.SERVING_EXAMPLES_SIGNATURE, names.SERVING_IMAGES_SIGNATURE)


def run_fn(fn_args) -> None:
    """Builds the classifier, trains both phases, exports the serving SavedModel.

    The hubtune config arrives through ``fn_args.custom_config``.  TensorBoard logs
    and ``training_history.json`` go to ``fn_args.model_run_dir``.
    """
    config = config_lib.from_custom_config(fn_args.custom_config)
    inputs = read_inputs(fn_args)
    images = tuple(data.image_dataset(inputs.files[split], split, inputs.feature_spec, config,
                                      training=split == "train") for split in SPLITS)
    keras.utils.set_random_seed(config.train.seed)  # head init, dropout, shuffling
    with phases.choose_strategy().scope():
        backbone = backbone_lib.load_backbone(config.backbone.handle)
        size = config.backbone.input_size
        head = model.build_head(model.feature_dim(backbone, size), len(inputs.class_names),
                                config.head)
        classifier = model.build_classifier(backbone, head, size)
        warm_started = (config.train.warm_start
                        and head_weights.load_head(head, inputs.class_names, fn_args.base_model))
        cached: Optional[Tuple] = None
        embedding: Dict = {}
        if config.train.cache_embeddings:
            cached, embedding = embed_splits(backbone, inputs, config, fn_args.model_run_dir)
        results = phases.train_two_phases(classifier, head, backbone, images, config.train,
                                          fn_args.model_run_dir, features=cached)
    write_history(fn_args.model_run_dir, inputs, embedding, warm_started, results)
    export_model(classifier, head, inputs, config, fn_args.serving_model_dir)
