"""Image sizes read from the encoded header, before anything decodes the image.

A PNG "decompression bomb" of a few kilobytes can decode to gigabytes, so the server,
the data validator and ``hubtune predict`` check width x height against a pixel cap
from the header alone.  Formats ``tf.io.decode_image`` reads: PNG, JPEG, GIF, BMP.
"""

import struct
import warnings
from typing import Iterable, List, Optional, Tuple

import tensorflow as tf

_PNG = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (they carry the size); C4, C8 and CC are other segments.
_JPEG_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


class ImageTooLarge(ValueError):
    """An image whose header declares more pixels than the cap."""


def _jpeg_dimensions(data: bytes) -> Optional[Tuple[int, int]]:
    pos = 2
    while pos + 9 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return width, height
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length field
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        pos += 2 + length
    return None


def image_dimensions(data: bytes) -> Optional[Tuple[int, int]]:
    """(width, height) from a PNG, JPEG, GIF or BMP header; None for anything else."""
    if data.startswith(_PNG) and len(data) >= 24 and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    if data.startswith(b"\xff\xd8"):
        return _jpeg_dimensions(data)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data.startswith(b"BM") and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return abs(width), abs(height)
    return None


def check_pixels(data: bytes, max_pixels: int, what: str = "image") -> None:
    """Raises ImageTooLarge when the header declares more than ``max_pixels`` pixels."""
    size = image_dimensions(data)
    if size is not None and size[0] * size[1] > max_pixels:
        raise ImageTooLarge(f"{what} is {size[0]}x{size[1]} = {size[0] * size[1]:,} pixels, "
                            f"over the limit of {max_pixels:,} (checked from its header, "
                            "before decoding)")


def images_in_example(serialized: bytes) -> List[bytes]:
    """The bytes values of a serialized tf.Example that are images (by their header)."""
    try:
        with warnings.catch_warnings():  # protobuf warns on bytes that are no message
            warnings.simplefilter("ignore")
            example = tf.train.Example.FromString(serialized)
    except Exception:  # noqa: BLE001 - not an Example: the model will say what is wrong
        return []
    return [value for feature in example.features.feature.values()
            for value in feature.bytes_list.value if image_dimensions(value) is not None]


def check_request_strings(values: Iterable[bytes], max_pixels: int, input_name: str) -> None:
    """Checks every image a string input carries: encoded images, or images inside
    serialized tf.Examples."""
    for i, value in enumerate(values):
        if not isinstance(value, bytes):
            continue
        for image in [value] if image_dimensions(value) else images_in_example(value):
            check_pixels(image, max_pixels, f"input '{input_name}'[{i}]")
