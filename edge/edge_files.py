"""What ``hubtune tflite export`` and ``hubtune predict --tflite`` do with files: read
calibration TFRecords, write a variant with its labels and metadata, classify images."""

import os
from typing import List, Tuple

import numpy as np
import tensorflow as tf

from hubtune import config as config_lib
from hubtune.edge import edge_metadata, interpreter, tflite_export
from hubtune.trainer_module import preprocessing

GZIP_MAGIC = b"\x1f\x8b"


def read_records(pattern: str, limit: int) -> List[bytes]:
    """Up to ``limit`` serialized records from TFRecord files (plain or GZIP, as ExampleGen
    writes them)."""
    files = sorted(tf.io.gfile.glob(pattern))
    if not files:
        raise tflite_export.EdgeExportError(f"--calibration-data: no files match {pattern}")
    records = []
    for path in files:
        with tf.io.gfile.GFile(path, "rb") as f:
            gzip = f.read(2) == GZIP_MAGIC
        dataset = tf.data.TFRecordDataset(path, compression_type="GZIP" if gzip else "")
        records += [r.numpy() for r in dataset.take(limit - len(records))]
        if len(records) >= limit:
            break
    return records


def export_variant(model_dir: str, variant: str, out_dir: str, calibration_pattern: str = "",
                   data: config_lib.DataConfig = None, limit: int = 200,
                   float_layers: int = tflite_export.DEFAULT_INT8_FLOAT_LAYERS) -> str:
    """Writes ``out_dir/<variant>.tflite``, labels.txt and metadata.json; returns the file."""
    model = tflite_export.HubtuneModel(model_dir)
    data = data or config_lib.DataConfig()
    calibration = None
    if calibration_pattern:
        calibration = tflite_export.pixels_from_records(
            read_records(calibration_pattern, limit), data, model.input_size)
    content = tflite_export.convert(model, variant, calibration, float_layers)
    tf.io.gfile.makedirs(out_dir)
    path = os.path.join(out_dir, f"{variant}.tflite")
    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(content)
    tflite_export.write_labels(out_dir, model.class_names)
    version = os.path.basename(os.path.normpath(model_dir))
    name = os.path.basename(os.path.dirname(os.path.normpath(model_dir)))
    edge_metadata.write(out_dir, edge_metadata.build(
        name, version if version.isdigit() else "", model.input_size, tflite_export.LABELS_FILE,
        model.class_names, {variant: {"file": os.path.basename(path),
                                      "size_bytes": len(content)}}))
    return path


def classify_files(tflite_path: str, images: List[bytes]) -> Tuple[np.ndarray, List[str]]:
    """(scores [n, classes], class names from labels.txt beside the file, or ids)."""
    with tf.io.gfile.GFile(tflite_path, "rb") as f:
        runner = interpreter.make_interpreter(f.read())
    size = int(runner.get_input_details()[0]["shape"][1])
    pixels = np.stack([np.round(preprocessing.decode_image(tf.constant(im), size).numpy()
                                * 255.0).astype(np.uint8) for im in images])
    scores = interpreter.classify(runner, pixels)
    labels_path = os.path.join(os.path.dirname(tflite_path), tflite_export.LABELS_FILE)
    if tf.io.gfile.exists(labels_path):
        with tf.io.gfile.GFile(labels_path) as f:
            names = [line.rstrip("\n") for line in f]
    else:
        names = [str(i) for i in range(scores.shape[1])]
    return scores, names
