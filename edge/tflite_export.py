"""TFLite models from a hubtune SavedModel: float16, int8 and dynamic-range variants.

The contract is Model Maker's for image classifiers, so a mobile app or the Task
Library can use the file: input RGB pixels already resized to ``input_size``, uint8
``[1, H, W, 3]`` in 0..255 for every variant (scaling to [0, 1] happens inside the
model); output float32 ``scores`` ``[1, num_classes]`` in the class order of
``labels.txt``.  Decoding and resizing are the app's job.

Every variant is converted from a SavedModel (never via .h5, which is where Hub-based
models fail to convert, tensorflow/hub#401): the classifier the pipeline exported,
wrapped in a small module with the edge signature and saved again.

int8 is post-training quantization calibrated on train images, with TFLite's selective
quantization against the accuracy loss it is known for (tensorflow/tensorflow#40000):
TFLite's QuantizationDebugger measures each layer's quantization error (RMSE / scale) on
calibration images, and the ``float_layers`` worst layers stay float (all other
weights and activations int8).  With ``float_layers`` 0 everything TFLite can quantize
is int8.
"""

import csv
import io
import os
import tempfile
from typing import Callable, List, Optional

import numpy as np
import tensorflow as tf

from hubtune import config as config_lib
from hubtune.config import names
from hubtune.trainer_module import preprocessing

VARIANTS = config_lib.TFLITE_VARIANTS
FLOAT32 = "float32"  # unoptimised: the benchmark's reference, not a variant the pipeline ships
DEFAULT_INT8_FLOAT_LAYERS = config_lib.TFLiteConfig.int8_float_layers
DEBUG_IMAGES = 40  # calibration images the quantization debugger measures layer errors on
SCORE_BATCH = 64  # images per SavedModel call when scoring a split
LABELS_FILE = "labels.txt"
SIGNATURE = "serving_default"
INPUT_NAME, OUTPUT_NAME = "image", names.SCORES_OUTPUT
ASSETS_LABEL_VOCAB = os.path.join("assets", names.LABEL_VOCAB)  # Transform's, saved with the model


class EdgeExportError(ValueError):
    """Input the export cannot use; the message names it and the fix."""


class HubtuneModel:
    """A hubtune SavedModel: its classifier (on [0, 1] float pixels), input size and classes."""

    def __init__(self, model_dir: str):
        vocab = os.path.join(model_dir, ASSETS_LABEL_VOCAB)
        if not tf.io.gfile.exists(os.path.join(model_dir, "saved_model.pb")):
            raise EdgeExportError(f"{model_dir}: no saved_model.pb; pass a SavedModel folder "
                                  "(e.g. a pushed version <base_dir>/<model_name>/<version>)")
        self.loaded = tf.saved_model.load(model_dir)
        if not (hasattr(self.loaded, "classifier") and hasattr(self.loaded, "input_size")
                and tf.io.gfile.exists(vocab)):
            raise EdgeExportError(
                f"{model_dir} is not a hubtune SavedModel (it needs the 'classifier' and "
                f"'input_size' objects and {ASSETS_LABEL_VOCAB}); export one with `hubtune run`")
        self.path = model_dir
        self.input_size = int(self.loaded.input_size.numpy())
        with tf.io.gfile.GFile(vocab) as f:
            self.class_names = [line.rstrip("\n") for line in f]

    def scores(self, pixels: np.ndarray) -> np.ndarray:
        """SavedModel scores for uint8 pixels [n, size, size, 3], as the edge model sees them,
        ``SCORE_BATCH`` images per call (one call on a whole eval split can exhaust memory)."""
        return np.concatenate([self._batch_scores(pixels[i:i + SCORE_BATCH])
                               for i in range(0, len(pixels), SCORE_BATCH)])

    def _batch_scores(self, pixels: np.ndarray) -> np.ndarray:
        logits = self.loaded.classifier(tf.cast(pixels, tf.float32) / 255.0, training=False)
        return tf.nn.softmax(logits, axis=-1).numpy()


def _edge_module(model: HubtuneModel) -> tf.Module:
    """The edge signature around the classifier: uint8 pixels in, float32 scores out."""
    size = model.input_size
    module = tf.Module()
    module.classifier = model.loaded.classifier

    @tf.function(input_signature=[tf.TensorSpec([1, size, size, 3], tf.uint8, name=INPUT_NAME)])
    def classify(image):
        logits = module.classifier(tf.cast(image, tf.float32) / 255.0, training=False)
        return {OUTPUT_NAME: tf.nn.softmax(logits, axis=-1)}

    module.classify = classify
    return module


def _saved_edge_model(model: HubtuneModel, workdir: str) -> str:
    module = _edge_module(model)
    saved = os.path.join(workdir, "edge_saved_model")
    tf.saved_model.save(module, saved, signatures={SIGNATURE: module.classify})
    return saved


def _converter(saved: str, optimize: bool = True) -> tf.lite.TFLiteConverter:
    converter = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=[SIGNATURE])
    converter.optimizations = [tf.lite.Optimize.DEFAULT] if optimize else []
    return converter


def _debug_data(calibration: np.ndarray) -> Callable:
    return lambda: ([image[np.newaxis]] for image in calibration[:DEBUG_IMAGES])


def worst_layers(debugger, count: int) -> List[str]:
    """The ``count`` tensors with the largest quantization error (RMSE / scale)."""
    buffer = io.StringIO()
    debugger.layer_statistics_dump(buffer)
    buffer.seek(0)
    rows = list(csv.DictReader(buffer))
    error = {r["tensor_name"]: float(r["mean_squared_error"]) ** 0.5
             / max(float(r["scale"]), 1e-12) for r in rows}
    return sorted(error, key=lambda name: -error[name])[:count]


def _int8(saved: str, calibration: np.ndarray, float_layers: int) -> bytes:
    def converter():
        c = _converter(saved)
        c.representative_dataset = _representative(calibration)
        return c
    if float_layers == 0:
        return converter().convert()
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter(), debug_dataset=_debug_data(calibration))
    debugger.run()
    keep_float = worst_layers(debugger, float_layers)
    return tf.lite.experimental.QuantizationDebugger(
        converter=converter(), debug_dataset=_debug_data(calibration),
        debug_options=tf.lite.experimental.QuantizationDebugOptions(
            denylisted_nodes=keep_float)).get_nondebug_quantized_model()


def convert(model: HubtuneModel, variant: str, calibration: Optional[np.ndarray] = None,
            float_layers: int = DEFAULT_INT8_FLOAT_LAYERS) -> bytes:
    """One variant as a .tflite flatbuffer.  int8 needs ``calibration``: uint8 pixels
    [n, size, size, 3] from the train split (never eval); ``float_layers``: how many of
    its worst-quantizing layers stay float."""
    if variant not in VARIANTS + (FLOAT32,):
        raise EdgeExportError(f"unknown TFLite variant '{variant}'; choose from "
                              f"{', '.join(VARIANTS)}")
    if variant == "int8" and (calibration is None or len(calibration) == 0):
        raise EdgeExportError("int8 needs calibration images and got none: pass train "
                              "examples (--calibration-data GLOB, or a non-empty train split)")
    with tempfile.TemporaryDirectory(prefix="hubtune-tflite-") as workdir:
        saved = _saved_edge_model(model, workdir)
        if variant == "int8":
            return _int8(saved, calibration, float_layers)
        converter = _converter(saved, optimize=variant != FLOAT32)
        if variant == "float16":
            converter.target_spec.supported_types = [tf.float16]
        return converter.convert()


def _representative(calibration: np.ndarray) -> Callable:
    def samples():
        for image in calibration:
            yield [image[np.newaxis]]
    return samples


def pixels_from_records(records: List[bytes], data: config_lib.DataConfig,
                        size: int) -> np.ndarray:
    """uint8 [n, size, size, 3] from serialized tf.Examples in the model's data format:
    decoded and resized exactly as the served model does, then rounded to 8 bits as an
    app would send them."""
    images = []
    for i, record in enumerate(records):
        feature = tf.train.Example.FromString(record).features.feature.get(data.image_key)
        if data.format == "float_pixels" and feature is not None and feature.float_list.value:
            encoded = preprocessing.pixels_to_png(
                tf.constant([list(feature.float_list.value)], tf.float32), data.pixels)[0]
        elif feature is not None and len(feature.bytes_list.value) == 1:
            encoded = tf.constant(feature.bytes_list.value[0])
        else:
            raise EdgeExportError(f"example #{i} has no image in '{data.image_key}' in the "
                                  f"'{data.format}' format the model was trained on")
        decoded = preprocessing.decode_image(encoded, size)
        images.append(np.round(decoded.numpy() * 255.0).astype(np.uint8))
    return np.stack(images) if images else np.zeros([0, size, size, 3], np.uint8)


def labels_of(records: List[bytes], label_key: str, class_names: List[str]) -> np.ndarray:
    """Class ids of the examples' labels (in the model's class order)."""
    index = {name: i for i, name in enumerate(class_names)}
    ids = []
    for record in records:
        feature = tf.train.Example.FromString(record).features.feature[label_key]
        value = (feature.bytes_list.value[0].decode() if feature.bytes_list.value
                 else str(feature.int64_list.value[0]))
        ids.append(index.get(value, -1))
    return np.array(ids)


def write_labels(out_dir: str, class_names: List[str]) -> str:
    path = os.path.join(out_dir, LABELS_FILE)
    with tf.io.gfile.GFile(path, "w") as f:
        f.write("".join(f"{name}\n" for name in class_names))
    return path
