"""preprocessing_fn through tft_beam for each data format, and the shared decode step."""

import numpy as np
import pytest
import tensorflow as tf

from hubtune.config import names
from hubtune.trainer_module import preprocessing
from tests.conftest import jpeg_bytes, make_config, png_bytes, random_images, run_transform

STRING_1 = tf.io.FixedLenFeature([1], tf.string)
INT_1 = tf.io.FixedLenFeature([1], tf.int64)


def _vocab(out_dir):
    import tensorflow_transform as tft
    return [v.decode() for v in tft.TFTransformOutput(out_dir).vocabulary_by_name(
        names.LABEL_VOCAB)]


def test_encoded_images_pass_through_and_labels_get_a_vocabulary(tmp_path):
    images = random_images(6, size=20)
    encoded = [png_bytes(im) if i % 2 else jpeg_bytes(im) for i, im in enumerate(images)]
    labels = [b"ok", b"defective", b"ok", b"ok", b"defective", b"ok"]
    rows, out_dir = run_transform(
        str(tmp_path), {"image": STRING_1, "label": STRING_1},
        [{"image": [e], "label": [l]} for e, l in zip(encoded, labels)],
        make_config(data={"format": "tfrecord"}))
    vocab = _vocab(out_dir)
    assert sorted(vocab) == ["defective", "ok"]
    for row, raw, label in zip(rows, encoded, labels):
        assert row[names.IMAGE_XF] == raw  # bytes kept encoded, never decoded floats
        assert vocab[row[names.LABEL_XF]] == label.decode()
    raw_bytes = sum(len(e) + len(l) for e, l in zip(encoded, labels))
    transformed_bytes = sum(len(r[names.IMAGE_XF]) + 8 for r in rows)
    assert transformed_bytes <= 2 * raw_bytes


def test_float_pixels_become_png_and_int_labels_strings(tmp_path):
    rng = np.random.default_rng(1)
    pixels = rng.uniform(-0.5, 0.5, size=(5, 28 * 28)).astype(np.float32)
    labels = [7, 3, 7, 10, 3]
    config = make_config(data={"format": "float_pixels", "image_key": "image_floats",
                               "label_key": "image_class",
                               "pixels": {"height": 28, "width": 28, "channels": 1,
                                          "min_value": -0.5, "max_value": 0.5}})
    rows, out_dir = run_transform(
        str(tmp_path),
        {"image_floats": tf.io.FixedLenFeature([784], tf.float32), "image_class": INT_1},
        [{"image_floats": p, "image_class": [l]} for p, l in zip(pixels, labels)], config)
    vocab = _vocab(out_dir)
    assert sorted(vocab) == ["10", "3", "7"]
    for row, p, label in zip(rows, pixels, labels):
        decoded = tf.io.decode_png(row[names.IMAGE_XF]).numpy()
        assert decoded.shape == (28, 28, 1)
        expected = np.round((p + 0.5) * 255).reshape(28, 28, 1)
        assert np.abs(decoded.astype(float) - expected).max() <= 1
        assert vocab[row[names.LABEL_XF]] == str(label)
        assert len(row[names.IMAGE_XF]) < p.nbytes  # smaller than the raw floats


def test_decode_image_handles_gray_rgb_png_jpeg_any_size():
    gray = png_bytes(random_images(1, size=30, channels=1)[0])
    rgb = jpeg_bytes(random_images(1, size=17)[0])
    for encoded in (gray, rgb):
        image = preprocessing.decode_image(tf.constant(encoded), 24)
        assert image.shape == (24, 24, 3)
        assert image.dtype == tf.float32
        assert 0.0 <= float(tf.reduce_min(image)) and float(tf.reduce_max(image)) <= 1.0


def test_decode_image_keeps_gray_values_across_channels():
    gray = np.full((8, 8), 51, np.uint8)
    image = preprocessing.decode_image(tf.constant(png_bytes(gray)), 8).numpy()
    np.testing.assert_allclose(image, 51 / 255.0, atol=1e-3)


def test_corrupt_bytes_fail_to_decode():
    with pytest.raises(tf.errors.InvalidArgumentError):
        preprocessing.decode_image(tf.constant(b"\x89PNG not really"), 8)


def test_class_ids_do_not_depend_on_how_often_each_label_occurs(tmp_path):
    """Spans with the same labels in different proportions get the same class ids."""
    image = png_bytes(random_images(1, size=8)[0])
    vocabularies = []
    for i, counts in enumerate(({"ok": 6, "defective": 1, "scratch": 2},
                                {"ok": 1, "defective": 6, "scratch": 3})):
        labels = [name.encode() for name, n in counts.items() for _ in range(n)]
        _, out_dir = run_transform(str(tmp_path / f"span{i}"),
                                   {"image": STRING_1, "label": STRING_1},
                                   [{"image": [image], "label": [l]} for l in labels],
                                   make_config(data={"format": "tfrecord"}))
        vocabularies.append(_vocab(out_dir))
    assert sorted(vocabularies[0]) == ["defective", "ok", "scratch"]
    assert vocabularies[0] == vocabularies[1]
