"""What the Trainer and the Tuner read: Transform's train split, divided into the fit and
validation splits (``validation_split``), as image or text datasets or as cached
embeddings.

Neither reads the eval split: the pipeline's Transform writes none, so it is the
Evaluator's alone.
"""

import dataclasses
import os
import time
from typing import Dict, List, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging

from hubtune import config as config_lib
from hubtune.config import names
from hubtune.trainer_module import data, embedding_cache, export, modality, validation_split

TRAIN_SPLIT = "train"
FIT, VALIDATION = "fit", "validation"


@dataclasses.dataclass
class TrainingInputs:
    """Transform's train split: its files, content keys, labels and validation membership."""
    files: List[str]
    keys: np.ndarray
    labels: np.ndarray
    is_validation: np.ndarray
    class_names: List[str]
    feature_spec: Dict
    tf_transform_output: tft.TFTransformOutput

    @property
    def counts(self) -> Dict[str, int]:
        held_out = int(self.is_validation.sum())
        return {FIT: len(self.labels) - held_out, VALIDATION: held_out}

    @property
    def fit_labels(self) -> np.ndarray:
        return self.labels[~self.is_validation]


def read_inputs(transform_output: str, train_files: List[str], validation_percent: int,
                xf_key: str = names.IMAGE_XF) -> TrainingInputs:
    """The train split (examples keyed by their ``xf_key`` feature) and its validation
    share; refuses fewer than 2 classes or an empty split, naming the fix."""
    tf_transform_output = tft.TFTransformOutput(transform_output)
    class_names = export.class_names(tf_transform_output)
    if len(class_names) < 2:
        raise ValueError(f"the training data has {len(class_names)} class(es) {class_names}: "
                         "a classifier needs at least 2 labels")
    keys, labels = data.example_keys(train_files, TRAIN_SPLIT, xf_key)
    is_validation = validation_split.validation_mask(keys, labels, validation_percent)
    if not is_validation.any():
        raise data.EmptySplitError(
            f"the validation split is empty: no class of the {len(labels)} train examples has "
            "2 examples to spare one; add examples or raise data.validation_percent")
    inputs = TrainingInputs(train_files, keys, labels, is_validation, class_names,
                            tf_transform_output.transformed_feature_spec(), tf_transform_output)
    logging.info("hubtune: train split %s (validation_percent %d), classes %s",
                 inputs.counts, validation_percent, class_names)
    return inputs


def input_datasets(inputs: TrainingInputs, config: config_lib.Config
                   ) -> Tuple[tf.data.Dataset, tf.data.Dataset]:
    """(fit, validation) image or text datasets: the fit one shuffled (images augmented)."""
    return (data.input_dataset(inputs.files, FIT, inputs.feature_spec, config, training=True,
                               select=~inputs.is_validation),
            data.input_dataset(inputs.files, VALIDATION, inputs.feature_spec, config,
                               training=False, select=inputs.is_validation))


def cached_features(backbone, inputs: TrainingInputs, config: config_lib.Config,
                    cache_root: str) -> Tuple[Tuple, Dict]:
    """Frozen-backbone features from the embedding cache (computing only the missing ones),
    split: (((x, y) fit, (x, y) validation), what was embedded and how long it took)."""
    store = embedding_cache.EmbeddingCache(
        config.train.embedding_cache_dir or os.path.join(cache_root,
                                                         config_lib.EMBEDDING_CACHE_DIR),
        modality.cache_key(config))
    started = time.perf_counter()
    feats, labels, embedded = embedding_cache.embed_split(
        backbone, store, inputs.files, TRAIN_SPLIT, inputs.feature_spec, config,
        (inputs.keys, inputs.labels))
    held_out = inputs.is_validation
    report = {"examples": len(labels), "embedded": embedded,
              "seconds": time.perf_counter() - started}
    return ((feats[~held_out], labels[~held_out]), (feats[held_out], labels[held_out])), report
