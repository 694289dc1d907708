"""Loading backbones by handle, offline through TFHUB_CACHE_DIR."""

import pytest
import tensorflow as tf

from hubtune.trainer_module import backbone


def test_url_handles_resolve_offline_through_tfhub_cache_dir(tmp_path, tiny_backbone,
                                                             monkeypatch):
    import shutil
    handle = "https://tfhub.dev/hubtune-tests/tiny-feature-vector/1"
    cache = tmp_path / "hub_cache"
    shutil.copytree(tiny_backbone, backbone.hub_cache_path(handle, str(cache)))
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(cache))
    layer = backbone.load_backbone(handle)  # no network here: only the cache can answer
    assert layer(tf.zeros([2, 16, 16, 3]), training=False).shape == (2, 16)


def _views(images, count=4):
    """The flips of the image (4), and of its transpose too (8), written out by hand."""
    squares = [images, tf.transpose(images, [0, 2, 1, 3])][:count // 4]
    return [v for s in squares
            for v in (s, tf.reverse(s, [2]), tf.reverse(s, [1]), tf.reverse(s, [1, 2]))]


@pytest.mark.parametrize("views", [4, 8])
def test_flip_averaged_features_are_the_mean_over_the_views(tiny_backbone, views):
    plain = backbone.load_backbone(tiny_backbone)
    averaged = backbone.load_backbone(tiny_backbone, flip_views=views)
    images = tf.random.stateless_uniform([3, 16, 16, 3], seed=[1, 2])
    features = averaged(images, training=False)
    expected = tf.reduce_mean(
        tf.stack([plain(v, training=False) for v in _views(images, views)]), 0)
    assert features.shape == (3, 16)
    tf.debugging.assert_near(features, expected, atol=1e-5)
    # No view changes them, while the plain backbone's features do change.
    for view in _views(images, views)[1:]:
        tf.debugging.assert_near(averaged(view, training=False), features, atol=1e-5)
    assert float(tf.reduce_max(tf.abs(plain(_views(images)[1]) - plain(images)))) > 1e-3
    if views == 8:  # the transposes count: 8 views are not the mean of the 4 flips
        four = backbone.load_backbone(tiny_backbone, flip_views=4)(images, training=False)
        assert float(tf.reduce_max(tf.abs(four - features))) > 1e-4
    # Fine-tuning sees the same variables, in the same order.
    assert [v.name.split("/")[-1] for v in averaged.trainable_variables] == \
        [v.name.split("/")[-1] for v in plain.trainable_variables]


@pytest.mark.parametrize("views", [4, 8])
def test_in_training_each_image_is_one_view_at_random(tiny_backbone, views):
    plain = backbone.load_backbone(tiny_backbone)
    averaged = backbone.load_backbone(tiny_backbone, flip_views=views)
    images = tf.random.stateless_uniform([64, 16, 16, 3], seed=[3, 4])
    per_view = tf.stack([plain(v, training=False) for v in _views(images, views)], axis=1)
    trained = averaged(images, training=True)
    distance = tf.reduce_max(tf.abs(per_view - trained[:, None]), axis=-1)  # [b, views]
    assert float(tf.reduce_max(tf.reduce_min(distance, axis=1))) < 1e-5  # each row is a view
    chosen = tf.argmin(distance, axis=1).numpy()
    assert len(set(chosen)) >= views - 1  # at random: 64 images do not all take one view


def test_only_4_or_8_views_are_averaged(tiny_backbone):
    with pytest.raises(ValueError, match="views must be one of"):
        backbone.load_backbone(tiny_backbone, flip_views=2)


def test_a_classifier_passes_the_training_phase_to_the_flip_averaging(tiny_backbone):
    from hubtune.config import sections
    from hubtune.trainer_module import model
    averaged = backbone.load_backbone(tiny_backbone, flip_views=4)
    head = model.build_head(16, 2, sections.HeadConfig(hidden_units=[], dropout=0.0))
    classifier = model.build_classifier(averaged, head, 16)
    images = tf.random.stateless_uniform([32, 16, 16, 3], seed=[5, 6])
    inference = classifier(images, training=False)
    tf.debugging.assert_near(inference, head(averaged(images, training=False)), atol=1e-5)
    assert float(tf.reduce_max(tf.abs(classifier(images, training=True) - inference))) > 1e-4


def test_the_flip_averaging_layer_round_trips_through_its_keras_config(tiny_backbone):
    averaged = backbone.load_backbone(tiny_backbone, flip_views=8)
    images = tf.random.stateless_uniform([2, 16, 16, 3], seed=[7, 8])
    rebuilt = backbone.FlipAveragedBackbone.from_config(averaged.get_config())
    assert (rebuilt.name, rebuilt.views) == (averaged.name, 8)
    tf.debugging.assert_near(rebuilt(images, training=False), averaged(images, training=False),
                             atol=1e-6)
