"""Image sizes from encoded headers: every format decode_image reads, bombs refused
before anything decodes them."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from hubtune.serving import image_limits
from tests.conftest import example, jpeg_bytes, png_bomb, png_bytes


def _pil(fmt: str, width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize("encoded, size", [
    (png_bytes(np.zeros((7, 13, 3))), (13, 7)),
    (jpeg_bytes(np.zeros((21, 9, 3))), (9, 21)),
    (_pil("GIF", 31, 5), (31, 5)),
    (_pil("BMP", 6, 17), (6, 17)),
    (_pil("JPEG", 300, 40), (300, 40)),
])
def test_dimensions_come_from_the_header_of_each_format(encoded, size):
    assert image_limits.image_dimensions(encoded) == size
    decoded = tf.io.decode_image(encoded, expand_animations=False)
    assert tuple(decoded.shape[1::-1]) == size  # what decoding would give


def test_a_decompression_bomb_is_refused_from_its_header():
    bomb = png_bomb(4000, 3000)
    assert len(bomb) < 100_000  # kilobytes on the wire, 12 megapixels once decoded
    with pytest.raises(image_limits.ImageTooLarge, match="4000x3000 = 12,000,000 pixels"):
        image_limits.check_pixels(bomb, 10_000_000, "upload.png")
    image_limits.check_pixels(bomb, 12_000_000)  # at the cap: allowed


def test_images_inside_tf_examples_are_found_and_checked():
    bomb = png_bomb(2000, 2000)
    serialized = example({"image": bomb, "label": 1}).SerializeToString()
    assert image_limits.images_in_example(serialized) == [bomb]
    with pytest.raises(image_limits.ImageTooLarge, match=r"input 'examples'\[1\]"):
        image_limits.check_request_strings([png_bytes(np.zeros((4, 4, 3))), serialized],
                                           1_000_000, "examples")


def test_bytes_that_are_no_image_are_left_to_the_model():
    assert image_limits.image_dimensions(b"hello") is None
    image_limits.check_request_strings([b"hello", b""], 1, "images")
