"""Loading backbones by handle, offline through TFHUB_CACHE_DIR."""

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


def _views(images):
    return [images, tf.reverse(images, [2]), tf.reverse(images, [1]), tf.reverse(images, [1, 2])]


def test_flip_averaged_features_are_the_mean_over_the_four_flips(tiny_backbone):
    plain = backbone.load_backbone(tiny_backbone)
    averaged = backbone.load_backbone(tiny_backbone, average_flips=True)
    images = tf.random.stateless_uniform([3, 16, 16, 3], seed=[1, 2])
    features = averaged(images, training=False)
    expected = tf.reduce_mean(tf.stack([plain(v, training=False) for v in _views(images)]), 0)
    assert features.shape == (3, 16)
    tf.debugging.assert_near(features, expected, atol=1e-5)
    # No flip changes them, while the plain backbone's features do change.
    for view in _views(images)[1:]:
        tf.debugging.assert_near(averaged(view, training=False), features, atol=1e-5)
    assert float(tf.reduce_max(tf.abs(plain(_views(images)[1]) - plain(images)))) > 1e-3
    # Fine-tuning sees the same variables, in the same order.
    assert [v.name.split("/")[-1] for v in averaged.trainable_variables] == \
        [v.name.split("/")[-1] for v in plain.trainable_variables]


def test_in_training_each_image_is_one_view_flipped_at_random(tiny_backbone):
    plain = backbone.load_backbone(tiny_backbone)
    averaged = backbone.load_backbone(tiny_backbone, average_flips=True)
    images = tf.random.stateless_uniform([64, 16, 16, 3], seed=[3, 4])
    per_view = tf.stack([plain(v, training=False) for v in _views(images)], axis=1)  # [b, 4, d]
    trained = averaged(images, training=True)
    distance = tf.reduce_max(tf.abs(per_view - trained[:, None]), axis=-1)  # [b, 4]
    assert float(tf.reduce_max(tf.reduce_min(distance, axis=1))) < 1e-5  # each row is a view
    chosen = tf.argmin(distance, axis=1).numpy()
    assert len(set(chosen)) >= 3  # at random: 64 images do not all take the same view


def test_a_classifier_passes_the_training_phase_to_the_flip_averaging(tiny_backbone):
    from hubtune.config import sections
    from hubtune.trainer_module import model
    averaged = backbone.load_backbone(tiny_backbone, average_flips=True)
    head = model.build_head(16, 2, sections.HeadConfig(hidden_units=[], dropout=0.0))
    classifier = model.build_classifier(averaged, head, 16)
    images = tf.random.stateless_uniform([32, 16, 16, 3], seed=[5, 6])
    inference = classifier(images, training=False)
    tf.debugging.assert_near(inference, head(averaged(images, training=False)), atol=1e-5)
    assert float(tf.reduce_max(tf.abs(classifier(images, training=True) - inference))) > 1e-4


def test_the_flip_averaging_layer_round_trips_through_its_keras_config(tiny_backbone):
    averaged = backbone.load_backbone(tiny_backbone, average_flips=True)
    images = tf.random.stateless_uniform([2, 16, 16, 3], seed=[7, 8])
    rebuilt = backbone.FlipAveragedBackbone.from_config(averaged.get_config())
    assert rebuilt.name == averaged.name
    tf.debugging.assert_near(rebuilt(images, training=False), averaged(images, training=False),
                             atol=1e-6)
