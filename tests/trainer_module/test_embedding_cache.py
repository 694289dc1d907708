"""The content-addressed embedding cache: reuse, stale keys, broken parts."""

import glob
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from hubtune.config import names
from hubtune.trainer_module import backbone as backbone_lib
from hubtune.trainer_module import data, embedding_cache, export, feature_extraction
from tests.conftest import REPO, export_tiny_backbone, make_config, png_bytes, random_images


SIZE = 32


SPEC = {names.IMAGE_XF: tf.io.FixedLenFeature([], tf.string),
        names.LABEL_XF: tf.io.FixedLenFeature([], tf.int64)}


def write_transformed(path: str, images, labels) -> str:
    """A GZIP TFRecord file shaped like Transform's output (encoded image, class id)."""
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for image, label in zip(images, labels):
            ex = tf.train.Example(features=tf.train.Features(feature={
                names.IMAGE_XF: tf.train.Feature(bytes_list=tf.train.BytesList(
                    value=[png_bytes(image)])),
                names.LABEL_XF: tf.train.Feature(int64_list=tf.train.Int64List(
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
    ds = data.image_dataset(files, "train", SPEC, config, training=False)
    return feature_extraction.embed(backbone, ds)


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


def test_a_changed_backbone_size_or_flip_averaging_never_reuses_stale_features(tiny_backbone,
                                                                               tmp_path):
    other = export_tiny_backbone(str(tmp_path / "other"), seed=1)
    keys = {embedding_cache.cache_key(tiny_backbone, SIZE),
            embedding_cache.cache_key(other, SIZE),
            embedding_cache.cache_key(tiny_backbone, 64),
            embedding_cache.cache_key(tiny_backbone, SIZE, flip_views=4),
            embedding_cache.cache_key(tiny_backbone, SIZE, flip_views=8)}
    assert len(keys) == 5
    # The same SavedModel copied elsewhere is the same backbone.
    copy = str(tmp_path / "copy")
    shutil.copytree(tiny_backbone, copy)
    assert embedding_cache.cache_key(copy, SIZE) == embedding_cache.cache_key(tiny_backbone, SIZE)


def _same_graph_two_weights(tmp_path):
    """The tiny backbone exported by two fresh processes with different seeds: the same
    saved_model.pb, different weights (as `--weights random` vs `imagenet` would be)."""
    paths = []
    for seed in (0, 1):
        path = str(tmp_path / f"seed{seed}")
        subprocess.run([sys.executable, "-c", "from tests.conftest import export_tiny_backbone; "
                        f"export_tiny_backbone({path!r}, seed={seed})"],
                       check=True, cwd=REPO, capture_output=True, timeout=300)
        paths.append(path)
    return paths


def test_the_key_covers_the_weights_not_only_the_graph(tmp_path):
    first, second = _same_graph_two_weights(tmp_path)
    graph = [tf.saved_model.experimental.read_fingerprint(p).saved_model_checksum
             for p in (first, second)]
    assert graph[0] == graph[1]  # the case the graph checksum alone cannot tell apart
    assert embedding_cache.cache_key(first, SIZE) != embedding_cache.cache_key(second, SIZE)
    assert export.saved_model_identity(first) != export.saved_model_identity(second)


def test_the_key_changes_with_the_decode_step(tiny_backbone, monkeypatch):
    before = embedding_cache.cache_key(tiny_backbone, SIZE)

    def decode_image(encoded, input_size):  # e.g. a different resize method
        return tf.image.resize(tf.io.decode_image(encoded, channels=3), [input_size] * 2,
                               method="area") / 255.0

    monkeypatch.setattr(embedding_cache.preprocessing, "decode_image", decode_image)
    assert embedding_cache.cache_key(tiny_backbone, SIZE) != before


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


def test_a_lookup_loads_only_the_rows_it_asks_for(tmp_path):
    """Two runs' parts on disk; a new run that needs five keys holds five rows in memory."""
    root, key = str(tmp_path / "cache"), "k"
    features = np.arange(20 * 3, dtype=np.float32).reshape(20, 3)
    keys = np.arange(1, 21, dtype=np.uint64)
    writer = embedding_cache.EmbeddingCache(root, key)
    writer.add(keys[:10], features[:10])
    writer.add(keys[10:], features[10:])
    assert len(glob.glob(os.path.join(root, key, "part-*.npz"))) == 2
    reader = embedding_cache.EmbeddingCache(root, key)
    wanted = keys[[12, 3, 17, 0, 5]]
    rows = reader.lookup(wanted)
    assert len(reader.keys) == 5 and reader.features.shape == (5, 3)
    np.testing.assert_array_equal(reader.features[rows], features[[12, 3, 17, 0, 5]])
    assert (reader.lookup(np.array([99], np.uint64)) == -1).all()
