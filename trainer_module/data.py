"""tf.data input from Transform's output: encoded images decoded on the fly, or texts
as they are (the text model tokenizes in its graph).

Steps per epoch come from the data itself (a finite dataset per epoch), never
from a hard-coded dataset size.
"""

from typing import Iterable, List, Optional, Tuple

import numpy as np
import tensorflow as tf
import tf_keras as keras

from hubtune import config as config_lib
from hubtune.config import names
from hubtune.trainer_module import preprocessing

AUTOTUNE = tf.data.AUTOTUNE
SHUFFLE_BUFFER = 2048  # encoded records, not decoded images
KEY_BATCH = 512


class EmptySplitError(ValueError):
    """A split the Trainer needs holds no examples."""


def expand_patterns(patterns: Iterable[str]) -> List[str]:
    files: List[str] = []
    for pattern in patterns:
        files.extend(sorted(tf.io.gfile.glob(pattern)))
    return files


def build_augmenter(aug: config_lib.AugmentationConfig, seed: int):
    """Random flip/rotation/zoom/contrast layers, or None when all are off."""
    layers = []
    if aug.flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed))
    if aug.rotation:
        layers.append(keras.layers.RandomRotation(aug.rotation, fill_mode="reflect", seed=seed))
    if aug.zoom:
        layers.append(keras.layers.RandomZoom(aug.zoom, fill_mode="reflect", seed=seed))
    if aug.contrast:
        layers.append(keras.layers.RandomContrast(aug.contrast, seed=seed))
    return keras.Sequential(layers, name="augmentation") if layers else None


def transformed_records(file_patterns: Iterable[str], split: str) -> tf.data.Dataset:
    files = expand_patterns(file_patterns)
    if not files:
        raise EmptySplitError(f"the {split} split has no transformed example files "
                              f"(looked in {list(file_patterns)})")
    return tf.data.TFRecordDataset(files, compression_type="GZIP", num_parallel_reads=AUTOTUNE)


def _selected(records: tf.data.Dataset, select: np.ndarray) -> tf.data.Dataset:
    """The records whose entry in ``select`` (a boolean per record, in order) is True."""
    keep = tf.constant(select, tf.bool)
    return records.enumerate().filter(lambda i, _: keep[i]).map(lambda _, record: record)


def input_dataset(file_patterns: Iterable[str], split: str, feature_spec,
                  config: config_lib.Config, training: bool,
                  select: Optional[np.ndarray] = None) -> tf.data.Dataset:
    """(model inputs, class ids) batches of the configured modality (``image_dataset`` or
    ``text_dataset``)."""
    if config.data.modality == config_lib.TEXT:
        return text_dataset(file_patterns, split, config, training, select)
    return image_dataset(file_patterns, split, feature_spec, config, training, select)


def _records(file_patterns: Iterable[str], split: str, config: config_lib.Config,
             training: bool, select: Optional[np.ndarray]) -> tf.data.Dataset:
    ds = transformed_records(file_patterns, split)
    if select is not None:
        ds = _selected(ds, select)
    if training:
        ds = ds.shuffle(SHUFFLE_BUFFER, seed=config.train.seed, reshuffle_each_iteration=True)
    return ds


def text_dataset(file_patterns: Iterable[str], split: str, config: config_lib.Config,
                 training: bool, select: Optional[np.ndarray] = None) -> tf.data.Dataset:
    """(texts [b] as strings, class ids [b]) batches; ``training`` shuffles."""
    spec = {names.TEXT_XF: tf.io.FixedLenFeature([], tf.string),
            names.LABEL_XF: tf.io.FixedLenFeature([], tf.int64)}
    ds = _records(file_patterns, split, config, training, select).batch(config.train.batch_size)
    parsed = ds.map(lambda r: tf.io.parse_example(r, spec), num_parallel_calls=AUTOTUNE)
    return parsed.map(lambda p: (p[names.TEXT_XF], p[names.LABEL_XF])).prefetch(AUTOTUNE)


def image_dataset(file_patterns: Iterable[str], split: str, feature_spec, config: config_lib.Config,
                  training: bool, select: Optional[np.ndarray] = None) -> tf.data.Dataset:
    """(images [b, s, s, 3] in [0, 1], class ids [b]) batches, streamed from the files.

    Every epoch reads the records again and decodes them on the fly, in parallel and ahead
    of the model, so memory holds a few batches of decoded images whatever the data size.
    ``training`` shuffles the still-encoded records (a bounded buffer) and augments;
    ``select`` (a boolean per record, in record order) keeps only those records.
    """
    size = config.backbone.input_size
    spec = {names.IMAGE_XF: feature_spec[names.IMAGE_XF],
            names.LABEL_XF: feature_spec[names.LABEL_XF]}

    def parse(record):
        parsed = tf.io.parse_single_example(record, spec)
        image = preprocessing.decode_image(tf.reshape(parsed[names.IMAGE_XF], []), size)
        return image, tf.reshape(parsed[names.LABEL_XF], [])

    ds = _records(file_patterns, split, config, training, select)
    ds = ds.map(parse, num_parallel_calls=AUTOTUNE).batch(config.train.batch_size)
    augmenter = build_augmenter(config.train.augmentation, config.train.seed) if training else None
    if augmenter is not None:
        ds = ds.map(lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=AUTOTUNE)
    return ds.prefetch(AUTOTUNE)


def example_keys(file_patterns: Iterable[str], split: str,
                 xf_key: str = names.IMAGE_XF) -> Tuple[np.ndarray, np.ndarray]:
    """(uint64 fingerprints of the encoded images (or texts: ``xf_key``), class ids), in
    record order; no decoding."""
    spec = {xf_key: tf.io.FixedLenFeature([], tf.string),
            names.LABEL_XF: tf.io.FixedLenFeature([], tf.int64)}

    def keys_and_labels(records):
        parsed = tf.io.parse_example(records, spec)
        keys = tf.bitcast(tf.fingerprint(parsed[xf_key]), tf.uint64)
        return keys, parsed[names.LABEL_XF]

    ds = transformed_records(file_patterns, split).batch(KEY_BATCH).map(
        keys_and_labels, num_parallel_calls=AUTOTUNE)
    keys, labels = [], []
    for k, lab in ds.prefetch(AUTOTUNE):
        keys.append(k.numpy())
        labels.append(lab.numpy())
    if not keys:
        raise EmptySplitError(f"the {split} split is empty after Transform")
    return np.concatenate(keys), np.concatenate(labels)


def first_inputs(file_patterns: Iterable[str], split: str, count: int,
                 select: Optional[np.ndarray] = None,
                 xf_key: str = names.IMAGE_XF) -> List[bytes]:
    """The encoded image bytes (or texts: ``xf_key``) of a split's first ``count``
    transformed examples (of those ``select``-ed, a boolean per record, when given)."""
    spec = {xf_key: tf.io.FixedLenFeature([], tf.string)}
    records = transformed_records(file_patterns, split)
    if select is not None:
        records = _selected(records, select)
    return [tf.io.parse_single_example(r, spec)[xf_key].numpy()
            for r in records.take(count)]
