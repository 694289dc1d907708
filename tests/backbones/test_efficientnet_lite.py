"""The tf_keras EfficientNet-Lite0 with converted weights classifies a known photo."""

import os

import matplotlib
import numpy as np
import tensorflow as tf

from hubtune.backbones import efficientnet_lite, hub_export


GRACE_HOPPER = os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")


MILITARY_UNIFORM = 652  # ImageNet class index of "military uniform"


def _grace_hopper(size: int = 224) -> tf.Tensor:
    image = tf.io.decode_jpeg(open(GRACE_HOPPER, "rb").read(), channels=3)
    return tf.image.resize(tf.cast(image, tf.float32) / 255.0, (size, size))[None]


def test_converted_weights_classify_a_known_image():
    model = hub_export.build_efficientnet_lite0(weights="imagenet", include_top=True)
    probs = tf.nn.softmax(model(_grace_hopper(), training=False))[0].numpy()
    assert int(np.argmax(probs)) == MILITARY_UNIFORM
    assert probs[MILITARY_UNIFORM] > 0.3


def test_random_weights_do_not():
    model = hub_export.build_efficientnet_lite0(weights="random", include_top=True)
    probs = tf.nn.softmax(model(_grace_hopper(), training=False))[0].numpy()
    assert probs.max() < 0.3


def test_torch_names_map_to_checkpoint_keys():
    assert efficientnet_lite.torch_name("blocks.3.expand_conv") == "_blocks.3._expand_conv"
    assert efficientnet_lite.torch_name("conv_stem") == "_conv_stem"
