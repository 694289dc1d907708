"""The demo's what-transfer-bought comparison reads the Trainer's embedding cache."""

import numpy as np
import tensorflow as tf

from hubtune.demo import transfer_comparison
from hubtune.trainer_module import backbone as backbone_lib
from hubtune.trainer_module import embedding_cache
from tests.conftest import example, make_config, png_bytes, random_images
from tests.trainer_module.test_embedding_cache import SPEC, SIZE, write_transformed

N_TRAIN, N_EVAL = 40, 16


def two_class_images(n: int, seed: int):
    """Dark images are class "a", bright ones "b": separable by any conv backbone."""
    images = random_images(n, size=SIZE, seed=seed) // 2
    labels = np.arange(n) % 2
    images[labels == 1] += 120
    return images, labels


def write_raw(path: str, images, labels) -> str:
    with tf.io.TFRecordWriter(path) as writer:
        for image, label in zip(images, labels):
            writer.write(example({"image": png_bytes(image),
                                  "label": b"ab"[label:label + 1]})
                         .SerializeToString())
    return path


def test_the_comparison_embeds_only_what_the_trainer_did_not(tiny_backbone, tmp_path):
    train, evaluation = two_class_images(N_TRAIN, seed=1), two_class_images(N_EVAL, seed=2)
    config = make_config(
        pipeline_root=str(tmp_path / "root"),
        data={"format": "tfrecord", "train": write_raw(str(tmp_path / "train.tfrecord"), *train),
              "eval": write_raw(str(tmp_path / "eval.tfrecord"), *evaluation)},
        backbone={"handle": tiny_backbone, "input_size": SIZE},
        train={"batch_size": 8, "head_epochs": 60, "head_patience": 60})
    # The Trainer's own step fills the cache from Transform-shaped train records.
    store = embedding_cache.EmbeddingCache(config.embedding_cache_path,
                                           embedding_cache.cache_key(tiny_backbone, SIZE))
    trainer_features, _, embedded = embedding_cache.embed_split(
        backbone_lib.load_backbone(tiny_backbone), store,
        [write_transformed(str(tmp_path / "transformed.gz"), *train)], "train", SPEC, config)
    assert embedded == N_TRAIN

    first = transfer_comparison.compare(config, {"tiny": tiny_backbone}, str(tmp_path / "logs"))
    assert first["tiny"].embedded == N_EVAL and first["tiny"].images == N_TRAIN + N_EVAL
    assert first["tiny"].accuracy >= 0.9  # one class is half of eval
    # The comparison's features of the train images are the Trainer's.
    raw_train, _ = transfer_comparison.read_split(config.data.train, config)
    features, computed = transfer_comparison.embed(tiny_backbone, raw_train, config)
    assert computed == 0
    np.testing.assert_array_equal(features, trainer_features)

    again = transfer_comparison.compare(config, {"tiny": tiny_backbone}, str(tmp_path / "logs2"))
    assert again["tiny"].embedded == 0 and again["tiny"].accuracy == first["tiny"].accuracy
