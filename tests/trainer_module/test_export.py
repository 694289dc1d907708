"""Exported signatures: tf.Example and raw-bytes inputs agree with the in-process model."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from tests.conftest import (example, make_config, png_bytes, random_images, run_transform)
from hubtune.config import names
from hubtune.trainer_module import backbone as backbone_lib
from hubtune.trainer_module import export, model, preprocessing

SIZE = 32


def _export(tmp_path, tiny_backbone, config, spec, instances):
    _, out_dir = run_transform(str(tmp_path), spec, instances, config)
    tft_output = tft.TFTransformOutput(out_dir)
    classes = export.class_names(tft_output)
    layer = backbone_lib.load_backbone(tiny_backbone)
    head = model.build_head(model.feature_dim(layer, SIZE), len(classes), config.head)
    classifier = model.build_classifier(layer, head, SIZE)
    export_dir = str(tmp_path / "serving_model")
    export.export_serving_model(classifier, tft_output, config, export_dir)
    return classifier, classes, tf.saved_model.load(export_dir)


def test_example_and_bytes_signatures_agree(tmp_path, tiny_backbone):
    config = make_config(backbone={"input_size": SIZE, "handle": tiny_backbone})
    encoded = [png_bytes(im) for im in random_images(6, size=40)]
    labels = [b"cat", b"dog", b"cat", b"bird", b"dog", b"cat"]
    spec = {"image": tf.io.FixedLenFeature([1], tf.string),
            "label": tf.io.FixedLenFeature([1], tf.string)}
    classifier, classes, loaded = _export(
        tmp_path, tiny_backbone, config, spec,
        [{"image": [e], "label": [l]} for e, l in zip(encoded, labels)])

    serialized = [example({"image": e}).SerializeToString() for e in encoded]
    by_example = loaded.signatures[names.SERVING_EXAMPLES_SIGNATURE](
        examples=tf.constant(serialized))
    by_bytes = loaded.signatures[names.SERVING_IMAGES_SIGNATURE](images=tf.constant(encoded))
    in_process = tf.nn.softmax(classifier(
        preprocessing.decode_images(tf.constant(encoded), SIZE), training=False)).numpy()

    for out in (by_example, by_bytes):
        assert set(out) == {names.SCORES_OUTPUT, names.CLASS_IDS_OUTPUT,
                            names.CLASSES_OUTPUT}
        assert out[names.SCORES_OUTPUT].shape == (6, 3)
        assert out[names.SCORES_OUTPUT].dtype == tf.float32
        assert out[names.CLASS_IDS_OUTPUT].dtype == tf.int64
        assert out[names.CLASSES_OUTPUT].dtype == tf.string
        np.testing.assert_allclose(out[names.SCORES_OUTPUT].numpy(), in_process, atol=1e-5)
        ids = out[names.CLASS_IDS_OUTPUT].numpy()
        assert [c.decode() for c in out[names.CLASSES_OUTPUT].numpy()] == [classes[i] for i in ids]


def test_transform_features_signature_gives_label_ids(tmp_path, tiny_backbone):
    config = make_config(backbone={"input_size": SIZE, "handle": tiny_backbone})
    encoded = [png_bytes(im) for im in random_images(4, size=16)]
    labels = [b"a", b"b", b"b", b"b"]
    spec = {"image": tf.io.FixedLenFeature([1], tf.string),
            "label": tf.io.FixedLenFeature([1], tf.string)}
    _, classes, loaded = _export(tmp_path, tiny_backbone, config, spec,
                                 [{"image": [e], "label": [l]} for e, l in zip(encoded, labels)])
    serialized = [example({"image": e, "label": l}).SerializeToString()
                  for e, l in zip(encoded, labels)]
    out = loaded.signatures[names.TRANSFORM_SIGNATURE](examples=tf.constant(serialized))
    assert [classes[i] for i in out[names.LABEL_XF].numpy().ravel()] == \
        [l.decode() for l in labels]


def test_float_pixel_model_serves_png_bytes_and_examples_alike(tmp_path, tiny_backbone):
    config = make_config(
        backbone={"input_size": SIZE, "handle": tiny_backbone},
        data={"format": "float_pixels", "image_key": "px", "label_key": "y",
              "pixels": {"height": 8, "width": 8, "channels": 1,
                         "min_value": 0.0, "max_value": 1.0}})
    rng = np.random.default_rng(3)
    pixels = rng.uniform(0, 1, (4, 64)).astype(np.float32)
    spec = {"px": tf.io.FixedLenFeature([64], tf.float32), "y": tf.io.FixedLenFeature([1], tf.int64)}
    _, classes, loaded = _export(tmp_path, tiny_backbone, config, spec,
                                 [{"px": p, "y": [i % 2]} for i, p in enumerate(pixels)])
    assert sorted(classes) == ["0", "1"]
    serialized = [example({"px": p.tolist()}).SerializeToString() for p in pixels]
    by_example = loaded.signatures[names.SERVING_EXAMPLES_SIGNATURE](
        examples=tf.constant(serialized))
    as_png = [png_bytes(np.round(p.reshape(8, 8) * 255)) for p in pixels]
    by_bytes = loaded.signatures[names.SERVING_IMAGES_SIGNATURE](images=tf.constant(as_png))
    np.testing.assert_allclose(by_example[names.SCORES_OUTPUT].numpy(),
                               by_bytes[names.SCORES_OUTPUT].numpy(), atol=1e-5)


def test_undecodable_bytes_fail_the_request(tmp_path, tiny_backbone):
    config = make_config(backbone={"input_size": SIZE, "handle": tiny_backbone})
    encoded = [png_bytes(im) for im in random_images(2, size=16)]
    spec = {"image": tf.io.FixedLenFeature([1], tf.string),
            "label": tf.io.FixedLenFeature([1], tf.string)}
    _, _, loaded = _export(tmp_path, tiny_backbone, config, spec,
                           [{"image": [e], "label": [l]} for e, l in zip(encoded, [b"a", b"b"])])
    with pytest.raises(tf.errors.InvalidArgumentError):
        loaded.signatures[names.SERVING_IMAGES_SIGNATURE](images=tf.constant([b"garbage"]))
