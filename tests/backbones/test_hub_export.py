"""The exported TF-Hub feature vector: loads in hub.KerasLayer, replaced atomically."""

import os

import matplotlib
import numpy as np
import tensorflow as tf
import tensorflow_hub as hub

from hubtune.backbones import efficientnet_lite, hub_export


GRACE_HOPPER = os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")


def _grace_hopper(size: int = 224) -> tf.Tensor:
    image = tf.io.decode_jpeg(open(GRACE_HOPPER, "rb").read(), channels=3)
    return tf.image.resize(tf.cast(image, tf.float32) / 255.0, (size, size))[None]


def test_exported_feature_vector_loads_in_hub_keras_layer(lite0_backbone):
    layer = hub.KerasLayer(lite0_backbone, trainable=True)
    images = _grace_hopper(160)
    features = layer(images, training=False)
    assert features.shape == (1, efficientnet_lite.FEATURE_DIM)
    reference = hub_export.build_efficientnet_lite(weights="imagenet")(images, training=False)
    np.testing.assert_allclose(features.numpy(), reference.numpy(), rtol=1e-4, atol=1e-4)
    # Trainable variables and a training argument, as a fine-tunable hub module has.
    assert len(layer.trainable_variables) > 100
    assert len(layer.non_trainable_variables) > 0  # BatchNorm statistics
    assert hub.keras_layer.func_has_training_argument(layer._func)


def test_export_replaces_atomically(tmp_path):
    out = tmp_path / "bb"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    hub_export.export_efficientnet_lite(str(out), weights="random")
    assert (out / "saved_model.pb").exists()
    assert not (out / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bb"]
