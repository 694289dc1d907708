"""Cached embeddings: keyed reuse across runs, and the compiled phase-1 head loop."""

import glob
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tests.conftest import export_tiny_backbone, make_config, png_bytes, random_images
from trainer_module import backbone as backbone_lib
from trainer_module import embedding_cache, embeddings, features, head_training, training
from trainer_module import model as model_lib
from trainer_module import data

SIZE = 32
SPEC = {features.IMAGE_XF: tf.io.FixedLenFeature([], tf.string),
        features.LABEL_XF: tf.io.FixedLenFeature([], tf.int64)}


def write_transformed(path: str, images, labels) -> str:
    """A GZIP TFRecord file shaped like Transform's output (encoded image, class id)."""
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for image, label in zip(images, labels):
            ex = tf.train.Example(features=tf.train.Features(feature={
                features.IMAGE_XF: tf.train.Feature(bytes_list=tf.train.BytesList(
                    value=[png_bytes(image)])),
                features.LABEL_XF: tf.train.Feature(int64_list=tf.train.Int64List(
                    value=[int(label)]))}))
            writer.write(ex.SerializeToString())
    return path


@pytest.fixture
def split_files(tmp_path):
    images = random_images(20, size=24, seed=1)
    labels = np.arange(20) % 2
    old = write_transformed(str(tmp_path / "span1.gz"), images[:12], labels[:12])
    new = write_transformed(str(tmp_path / "span2.gz"), images[12:], labels[12:])
    return old, new


def direct_features(backbone, files, config):
    ds = data.image_dataset(files, "train", SPEC, config, training=False, cache=False)
    return embeddings.embed(backbone, ds)


def test_cache_reuses_examples_and_embeds_only_new_ones(tiny_backbone, split_files, tmp_path):
    config = make_config(backbone={"handle": tiny_backbone, "input_size": SIZE},
                         train={"batch_size": 5})
    backbone = backbone_lib.load_backbone(tiny_backbone)
    key = embedding_cache.cache_key(tiny_backbone, SIZE)
    root = str(tmp_path / "cache")
    old, new = split_files

    first = embedding_cache.embed_split(backbone, embedding_cache.EmbeddingCache(root, key),
                                        [old], "train", SPEC, config)
    assert first[2] == 12
    want, want_labels = direct_features(backbone, [old], config)
    np.testing.assert_allclose(first[0], want, atol=1e-5)
    np.testing.assert_array_equal(first[1], want_labels)

    # A later run (fresh process state) over the old span plus a new one embeds only the new.
    feats, labels, embedded = embedding_cache.embed_split(
        backbone, embedding_cache.EmbeddingCache(root, key), [old, new], "train", SPEC, config)
    assert embedded == 8
    want, want_labels = direct_features(backbone, [old, new], config)
    np.testing.assert_allclose(feats, want, atol=1e-5)
    np.testing.assert_array_equal(labels, want_labels)
    again = embedding_cache.embed_split(backbone, embedding_cache.EmbeddingCache(root, key),
                                        [old, new], "train", SPEC, config)
    assert again[2] == 0
    np.testing.assert_array_equal(again[0], feats)
    assert not glob.glob(os.path.join(root, key, ".*incomplete"))


def test_a_changed_backbone_or_size_never_reuses_stale_features(tiny_backbone, tmp_path):
    other = export_tiny_backbone(str(tmp_path / "other"), seed=1)
    keys = {embedding_cache.cache_key(tiny_backbone, SIZE),
            embedding_cache.cache_key(other, SIZE),
            embedding_cache.cache_key(tiny_backbone, 64)}
    assert len(keys) == 3
    # The same SavedModel copied elsewhere is the same backbone.
    copy = str(tmp_path / "copy")
    shutil.copytree(tiny_backbone, copy)
    assert embedding_cache.cache_key(copy, SIZE) == embedding_cache.cache_key(tiny_backbone, SIZE)


def test_unreadable_and_half_written_parts_are_ignored(tiny_backbone, split_files, tmp_path):
    config = make_config(backbone={"handle": tiny_backbone, "input_size": SIZE})
    backbone = backbone_lib.load_backbone(tiny_backbone)
    key = embedding_cache.cache_key(tiny_backbone, SIZE)
    root = str(tmp_path / "cache")
    folder = os.path.join(root, key)
    os.makedirs(folder)
    with open(os.path.join(folder, "part-broken.npz"), "wb") as f:
        f.write(b"not an npz")
    np.savez(os.path.join(folder, ".part-x.npz.incomplete"), keys=np.zeros(1, np.uint64),
             features=np.zeros((1, 16), np.float32))
    old, _ = split_files
    feats, _, embedded = embedding_cache.embed_split(
        backbone, embedding_cache.EmbeddingCache(root, key), [old], "train", SPEC, config)
    assert embedded == 12
    np.testing.assert_allclose(feats, direct_features(backbone, [old], config)[0], atol=1e-5)


CENTERS = np.random.default_rng(99).normal(0, 3, (3, 8))


def _clusters(n, seed=0):
    """Three Gaussian clusters around fixed centers (train and eval share the centers)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centers, dim = CENTERS, CENTERS.shape[1]
    return (centers[labels] + rng.normal(0, 1, (n, dim))).astype(np.float32), labels


def test_compiled_head_loop_learns_and_keeps_the_best_epoch(tmp_path):
    keras.utils.set_random_seed(0)
    config = make_config(head={"hidden_units": [16], "dropout": 0.1})
    train, evaluation = _clusters(300), _clusters(100, seed=1)
    head = model_lib.build_head(8, 3, config.head)
    result = head_training.fit_head_on_features(
        training.PHASE_HEAD, head, train, evaluation, 1e-2, 15, 32, 2, 0, str(tmp_path))
    assert 1 <= result.epochs_run <= 15
    assert set(result.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert max(result.history["val_accuracy"]) > 0.9
    final = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
        evaluation[1], head(evaluation[0], training=False))
    assert float(final) == pytest.approx(result.best_val_loss, rel=1e-4)
    for sub in ("train", "validation"):
        assert glob.glob(str(tmp_path / training.PHASE_HEAD / sub / "events.out.tfevents.*"))


def test_compiled_loop_matches_keras_fit_quality(tmp_path):
    """Same head, data and optimizer: the compiled loop and Keras fit reach the same accuracy."""
    config = make_config(head={"hidden_units": [16], "dropout": 0.0})
    train, evaluation = _clusters(400, seed=3), _clusters(200, seed=4)
    accuracies = []
    for compiled in (True, False):
        keras.utils.set_random_seed(0)
        head = model_lib.build_head(8, 3, config.head)
        if compiled:
            result = head_training.fit_head_on_features(
                "compiled", head, train, evaluation, 1e-2, 8, 32, 8, 0, str(tmp_path))
        else:
            ds = lambda xy: tf.data.Dataset.from_tensor_slices(xy).batch(32)  # noqa: E731
            result = training.fit_phase("keras", head, head.trainable_variables, 1e-2, 8,
                                        ds(train).shuffle(400, seed=0), ds(evaluation),
                                        str(tmp_path), 8)
        accuracies.append(result.history["val_accuracy"][-1])
    assert abs(accuracies[0] - accuracies[1]) <= 0.01, accuracies
