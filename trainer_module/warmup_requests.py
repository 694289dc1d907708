"""TF Serving warmup requests: PredictionLog records in ``assets.extra``.

TF Serving (and ``hubtune serve``) replays them after loading a version and
before reporting it AVAILABLE, so the first real request does not pay for
graph tracing and kernel initialisation.
"""

import os
from typing import List

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

from hubtune import config as config_lib
from hubtune.config import names

WARMUP_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"
WARMUP_EXAMPLES = 4


def raw_example(encoded: bytes, data: config_lib.DataConfig) -> tf.train.Example:
    """A tf.Example in the raw data's format holding one image or text (as
    ``serving_default`` takes)."""
    if data.format == "float_pixels":
        p = data.pixels
        pixels = tf.io.decode_png(encoded, channels=p.channels).numpy().astype(np.float32)
        values = pixels.reshape(-1) / 255.0 * (p.max_value - p.min_value) + p.min_value
        feature = tf.train.Feature(float_list=tf.train.FloatList(value=values.tolist()))
    else:
        feature = tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded]))
    return tf.train.Example(features=tf.train.Features(feature={data.input_key: feature}))


def _log(signature: str, input_name: str, values: List[bytes]) -> prediction_log_pb2.PredictionLog:
    request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(signature_name=signature))
    request.inputs[input_name].CopyFrom(tf.make_tensor_proto(values, dtype=tf.string))
    return prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request))


def warmup_logs(images: List[bytes], data: config_lib.DataConfig) -> List[prediction_log_pb2.PredictionLog]:
    """One single-input request per image (or text) for each signature, and one batched
    request each."""
    raw_signature, raw_input = names.RAW_SIGNATURES[data.modality]
    examples = [raw_example(im, data).SerializeToString() for im in images]
    logs = []
    for image, example in zip(images, examples):
        logs.append(_log(raw_signature, raw_input, [image]))
        logs.append(_log(names.SERVING_EXAMPLES_SIGNATURE, names.EXAMPLES_INPUT, [example]))
    logs.append(_log(raw_signature, raw_input, images))
    logs.append(_log(names.SERVING_EXAMPLES_SIGNATURE, names.EXAMPLES_INPUT, examples))
    return logs


def write_warmup_requests(export_dir: str, images: List[bytes], data: config_lib.DataConfig) -> str:
    path = os.path.join(export_dir, WARMUP_DIR, WARMUP_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path) as writer:
        for log in warmup_logs(images, data):
            writer.write(log.SerializeToString())
    return path


def read_warmup_requests(model_dir: str) -> List[prediction_log_pb2.PredictionLog]:
    path = os.path.join(model_dir, WARMUP_DIR, WARMUP_FILE)
    if not tf.io.gfile.exists(path):
        return []
    return [prediction_log_pb2.PredictionLog.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(path)]
