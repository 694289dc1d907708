"""The tf_keras EfficientNet-Lite0/1/2 with converted weights classify a known photo."""

import os

import matplotlib
import numpy as np
import pytest
import tensorflow as tf

from hubtune.backbones import efficientnet_lite, hub_export
from hubtune.config import names


GRACE_HOPPER = os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")


MILITARY_UNIFORM = 652  # ImageNet class index of "military uniform"


def _grace_hopper(size: int = 224) -> tf.Tensor:
    image = tf.io.decode_jpeg(open(GRACE_HOPPER, "rb").read(), channels=3)
    return tf.image.resize(tf.cast(image, tf.float32) / 255.0, (size, size))[None]


@pytest.mark.parametrize("model", names.OFFLINE_BACKBONES)
def test_converted_weights_classify_a_known_image(model):
    network = hub_export.build_efficientnet_lite(model, weights="imagenet", include_top=True)
    size = hub_export.native_input_size(model)
    probs = tf.nn.softmax(network(_grace_hopper(size), training=False))[0].numpy()
    top, runner_up = np.argsort(-probs)[:2]
    assert top == MILITARY_UNIFORM
    # Lite0 and Lite1 give it ~0.5, Lite2 0.22; random weights spread theirs (below).
    assert probs[top] > 0.15 and probs[top] > 3 * probs[runner_up]


def test_random_weights_do_not():
    model = hub_export.build_efficientnet_lite(weights="random", include_top=True)
    probs = tf.nn.softmax(model(_grace_hopper(), training=False))[0].numpy()
    top, runner_up = np.sort(probs)[::-1][:2]
    assert top < 0.15 or top < 3 * runner_up


def test_every_offline_backbone_is_a_variant():
    assert set(names.OFFLINE_BACKBONES) == set(efficientnet_lite.VARIANTS)


def test_scaled_stages_follow_the_reference_rounding():
    """Lite2 (width 1.1, depth 1.2): the checkpoint's 21 blocks, output widths from 16 to 352."""
    stages = efficientnet_lite.scaled_stages(efficientnet_lite.VARIANTS["efficientnet-lite2"])
    assert [s[0] for s in stages] == [1, 3, 3, 4, 4, 5, 1]
    assert [s[-1] for s in stages] == [16, 24, 48, 88, 120, 208, 352]


def test_unknown_variant_is_named():
    with pytest.raises(ValueError, match="efficientnet-lite9"):
        efficientnet_lite.build_efficientnet_lite("efficientnet-lite9")


def test_torch_names_map_to_checkpoint_keys():
    assert efficientnet_lite.torch_name("blocks.3.expand_conv") == "_blocks.3._expand_conv"
    assert efficientnet_lite.torch_name("conv_stem") == "_conv_stem"
