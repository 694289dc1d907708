"""The demo's what-transfer-bought comparison reads the Trainer's embedding cache."""

import numpy as np
import tensorflow as tf

from hubtune.demo import transfer_comparison
from hubtune.runs import mlmd
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

    first = transfer_comparison.compare({"tiny": config}, str(tmp_path / "logs"))
    assert first["tiny"].embedded == N_EVAL and first["tiny"].images == N_TRAIN + N_EVAL
    assert first["tiny"].accuracy >= 0.9  # one class is half of eval
    # The comparison's features of the train images are the Trainer's.
    raw_train, _ = transfer_comparison.read_split(config.data.train, config)
    features, computed = transfer_comparison.embed(tiny_backbone, raw_train, config)
    assert computed == 0
    np.testing.assert_array_equal(features, trainer_features)

    again = transfer_comparison.compare({"tiny": config}, str(tmp_path / "logs2"))
    assert again["tiny"].embedded == 0 and again["tiny"].accuracy == first["tiny"].accuracy


def test_each_tuner_candidate_is_compared_with_its_best_trials_settings():
    config = make_config(tune={"backbones": [{"handle": "/b/lite0", "input_size": 224},
                                             {"handle": "/b/lite2", "input_size": 260}]})
    trial = {"status": "completed", "input_size": 224, "backbone": "/b/lite0"}
    table = [
        dict(trial, val_loss=0.5, settings={"hidden_units": "128", "dropout": 0.1}),
        dict(trial, val_loss=0.4, settings={"hidden_units": "none", "dropout": 0.2}),
        dict(trial, backbone="/b/lite2", input_size=260, val_loss=0.6,
             settings={"hidden_units": "512-128", "head_learning_rate": 0.003}),
        {"status": "skipped", "backbone": "/b/broken", "input_size": 224, "reason": "x"}]
    configs = transfer_comparison.candidate_configs(
        config, mlmd.RunOutcome(run_id="r", components=[], trial_table=table))
    assert list(configs) == ["lite0 at 224 px", "lite2 at 260 px"]
    lite0, lite2 = configs.values()
    assert (lite0.backbone.handle, lite0.backbone.input_size) == ("/b/lite0", 224)
    assert lite0.head.hidden_units == [] and lite0.head.dropout == 0.2
    assert lite2.backbone.input_size == 260 and lite2.head.hidden_units == [512, 128]
    assert lite2.train.head_learning_rate == 0.003
    # Without a Tuner: the configured backbone alone.
    assert list(transfer_comparison.candidate_configs(
        config, mlmd.RunOutcome(run_id="r", components=[])).values()) == [config]
