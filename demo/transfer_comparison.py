"""What transfer bought: the same head on frozen pretrained vs random backbone features.

Each backbone's features of the train and eval images come from the pipeline's
embedding cache (a frozen backbone gives the same features every epoch; the
Trainer has already embedded the train split with the pipeline's backbone), and
only images the cache lacks are embedded, once.  Then the configured head trains
on those features, early-stopped on the validation share of train; eval is only
scored.
"""

import dataclasses
import os
from typing import Dict, List, Tuple

import numpy as np
import tensorflow as tf

from hubtune import config as config_lib
from hubtune.runs import mlmd
from hubtune.trainer_module import backbone as backbone_lib
from hubtune.trainer_module import model as model_lib
from hubtune.trainer_module import (embedding_cache, feature_extraction, hyperparameters, losses,
                                    phases, preprocessing, validation_split)

EMBED_BATCH = 64


def read_split(pattern: str, config: config_lib.Config) -> Tuple[List[bytes], List[str]]:
    images, labels = [], []
    files = config_lib.data_files(pattern, config.data.format)
    for record in tf.data.TFRecordDataset(files):
        ex = tf.train.Example.FromString(record.numpy())
        images.append(ex.features.feature[config.data.image_key].bytes_list.value[0])
        label = ex.features.feature[config.data.label_key]
        labels.append((label.bytes_list.value[0].decode() if label.bytes_list.value
                       else str(label.int64_list.value[0])))
    return images, labels


def embed(handle: str, images: List[bytes], config: config_lib.Config) -> Tuple[np.ndarray, int]:
    """(features, how many images ran through the backbone now), through the pipeline's
    embedding cache: the Trainer already embedded the train split with the same
    backbone, size and decode step, so only the rest is computed (and cached)."""
    size, views = config.backbone.input_size, config.backbone.flip_views
    store = embedding_cache.EmbeddingCache(config.embedding_cache_path,
                                           embedding_cache.cache_key(handle, size, views))

    def embed_missing(missing: np.ndarray) -> np.ndarray:
        ds = (tf.data.Dataset.from_tensor_slices([i for i, m in zip(images, missing) if m])
              .map(lambda e: (preprocessing.decode_image(e, size), 0),
                   num_parallel_calls=tf.data.AUTOTUNE)
              .batch(EMBED_BATCH).prefetch(tf.data.AUTOTUNE))
        return feature_extraction.embed(backbone_lib.load_backbone(handle, views), ds)[0]

    return embedding_cache.features_of(store, embedding_cache.image_keys(images), embed_missing)


@dataclasses.dataclass
class Comparison:
    """One backbone's head-only eval accuracy, and how many images it embedded now."""
    accuracy: float
    embedded: int
    images: int


def head_accuracy(handle: str, config: config_lib.Config, train, evaluation,
                  log_dir: str) -> Comparison:
    """Eval accuracy of the configured head trained on frozen ``handle`` features.

    As in the pipeline, the head early-stops on the validation share of train (the same
    content-hash rule), so the eval split is only scored, never chosen on.
    """
    classes = sorted(set(train[1]))
    index = {c: i for i, c in enumerate(classes)}
    embedded: List[int] = []

    def arrays(split):
        features, computed = embed(handle, split[0], config)
        embedded.append(computed)
        labels = np.array([index.get(label, -1) for label in split[1]])
        keep = labels >= 0
        return features[keep], labels[keep]

    (x, y), (eval_x, eval_y) = arrays(train), arrays(evaluation)
    predicted = frozen_head_predictions((x, y, embedding_cache.image_keys(train[0])), eval_x,
                                        len(classes), config, log_dir)
    return Comparison(float(np.mean(predicted == eval_y)), sum(embedded),
                      len(train[0]) + len(evaluation[0]))


def frozen_head_predictions(train: Tuple[np.ndarray, np.ndarray, np.ndarray],
                            evaluation_features: np.ndarray, num_classes: int,
                            config: config_lib.Config, log_dir: str) -> np.ndarray:
    """Class ids the configured head predicts for ``evaluation_features`` after training on
    ``train`` (features, class ids, content keys), as in the pipeline's phase 1: the
    validation share of train by the same content-hash rule, early stopping and the best
    weights on it, the configured class weights and label smoothing."""
    x, y, keys = train
    tf.keras.utils.set_random_seed(config.train.seed)
    held_out = validation_split.validation_mask(keys, y, config.data.validation_percent)
    head = model_lib.build_head(x.shape[-1], num_classes, config.head)
    t = config.train
    objective = losses.objective_for(y[~held_out], num_classes, t.class_weights,
                                     t.label_smoothing)
    phases.fit_head_on_features(
        f"compare_{os.path.basename(log_dir)}", head, (x[~held_out], y[~held_out]),
        (x[held_out], y[held_out]), t.head_learning_rate, t.head_epochs, t.batch_size,
        t.head_patience, t.seed, log_dir, objective)
    return np.argmax(head(evaluation_features, training=False).numpy(), axis=-1)


def best_trials(trial_table) -> Dict[str, Dict]:
    """{backbone handle: its completed trial with the lowest validation loss}."""
    best: Dict[str, Dict] = {}
    for trial in trial_table:
        handle = trial["backbone"]
        if trial["status"] == "completed" and (
                handle not in best or trial["val_loss"] < best[handle]["val_loss"]):
            best[handle] = trial
    return best


def candidate_configs(config: config_lib.Config,
                      outcome: mlmd.RunOutcome) -> Dict[str, config_lib.Config]:
    """{label: config} of each pretrained backbone the run tried: every Tuner candidate with
    the settings of its best trial (by validation loss), else the configured backbone."""
    best = best_trials(outcome.trial_table)
    if not best:
        return {f"pretrained backbone at {config.backbone.input_size} px": config}
    return {
        f"{os.path.basename(handle.rstrip('/'))} at {trial['input_size']} px":
            hyperparameters.apply(config, dict(trial["settings"],
                                               **{hyperparameters.BACKBONE: handle}))
        for handle, trial in best.items()}


def compare(configs: Dict[str, config_lib.Config], log_dir: str) -> Dict[str, Comparison]:
    """{label: the head on that config's frozen backbone}; each with its own head settings."""
    results = {}
    for number, (label, config) in enumerate(configs.items()):
        train = read_split(config.data.train, config)
        evaluation = read_split(config.data.eval, config)
        results[label] = head_accuracy(config.backbone.handle, config, train, evaluation,
                                       os.path.join(log_dir, str(number)))
    return results
