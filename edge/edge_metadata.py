"""The TFLite metadata sidecar, ``metadata.json`` beside the variants and ``labels.txt``.

tflite-support's metadata writer (the TFLite Metadata embedded in the flatbuffer, which the
Task Library reads) pip-installs beside the pinned stack, but its import needs the system
library libusb-1.0 (``ImportError: libusb-1.0.so.0``), which a fresh machine does not have.
So the same facts go in a documented JSON sidecar: the input contract, labels, model name
and version, and each variant's file, size and measured accuracy.
"""

import json
import os
from typing import Dict, List

import tensorflow as tf

METADATA_FILE = "metadata.json"
FORMAT_VERSION = 1


def build(model_name: str, version: str, input_size: int, labels_file: str,
          class_names: List[str], variants: Dict[str, Dict]) -> Dict:
    return {
        "format_version": FORMAT_VERSION,
        "name": model_name,
        "version": version,
        "input": {"shape": [1, input_size, input_size, 3], "dtype": "uint8",
                  "range": [0, 255], "color_space": "RGB",
                  "normalization": "inside the model: x / 255 (send raw pixels)",
                  "preprocessing_by_the_app": f"decode, convert to RGB, resize bilinearly to "
                                              f"{input_size}x{input_size}"},
        "output": {"name": "scores", "shape": [1, len(class_names)], "dtype": "float32",
                   "meaning": "class probabilities in the order of labels_file"},
        "labels_file": labels_file,
        "labels": class_names,
        "variants": variants,
    }


def write(out_dir: str, metadata: Dict) -> str:
    path = os.path.join(out_dir, METADATA_FILE)
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    return path


def read(out_dir: str) -> Dict:
    """The sidecar, checked against the labels file beside it."""
    with tf.io.gfile.GFile(os.path.join(out_dir, METADATA_FILE)) as f:
        metadata = json.load(f)
    with tf.io.gfile.GFile(os.path.join(out_dir, metadata["labels_file"])) as f:
        labels = [line.rstrip("\n") for line in f]
    if labels != metadata["labels"]:
        raise ValueError(f"{out_dir}: {metadata['labels_file']} does not match {METADATA_FILE}")
    return metadata
