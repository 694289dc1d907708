"""The exported SavedModel and its serving signatures.

Every signature applies the same preprocessing as training (Transform's graph via
``tft_layer``, then ``preprocessing.decode_images`` for images; a text model tokenizes
inside its own graph) and returns ``scores``, ``class_ids`` and ``classes`` (the label as
it appears in the data).  ``serving_default`` takes serialized tf.Examples; the raw-input
signature (``serving_images`` or ``serving_text``) takes strings [batch].
"""

import hashlib
import os
from typing import Dict, List

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

from hubtune import config as config_lib
from hubtune.config import names
from hubtune.trainer_module import preprocessing


class ServingModule(tf.Module):
    """Holds the classifier, Transform's layer and class names for tf.saved_model.save."""

    def __init__(self, classifier: keras.Model, tf_transform_output: tft.TFTransformOutput,
                 config: config_lib.Config):
        super().__init__(name="hubtune_serving")
        # The same layers in a model without the training optimizer: its slots (Adam's two
        # moments of every fine-tuned variable) would otherwise be exported too.
        self.classifier = keras.Model(classifier.inputs, classifier.outputs,
                                      name="serving_classifier")
        self.tft_layer = tf_transform_output.transform_features_layer()
        self._data = config.data
        self._text = config.data.modality == config_lib.TEXT
        self._input_size = config.backbone.input_size
        # Saved with the model, for tools that feed the classifier directly.
        self.input_size = tf.Variable(config.backbone.input_size, trainable=False,
                                      dtype=tf.int32, name="input_size")
        self._raw_spec = tf_transform_output.raw_feature_spec()
        self._class_names = tf.constant(class_names(tf_transform_output))

    def predict_encoded(self, encoded: tf.Tensor) -> Dict[str, tf.Tensor]:
        """Transformed inputs (encoded images, or texts) -> the outputs every signature has."""
        inputs = (encoded if self._text
                  else preprocessing.decode_images(encoded, self._input_size))
        logits = self.classifier(inputs, training=False)
        scores = tf.nn.softmax(logits, axis=-1)
        class_ids = tf.argmax(scores, axis=-1, output_type=tf.int64)
        return {names.SCORES_OUTPUT: scores,
                names.CLASS_IDS_OUTPUT: class_ids,
                names.CLASSES_OUTPUT: tf.gather(self._class_names, class_ids)}

    def transform_input(self, raw: tf.Tensor) -> tf.Tensor:
        """The raw image (or text) feature through Transform's graph."""
        key = self._data.input_key
        return self.tft_layer({key: raw})[names.XF_KEYS[self._data.modality]]

    def parse_raw(self, serialized: tf.Tensor, with_label: bool) -> Dict[str, tf.Tensor]:
        keys = [self._data.input_key] + ([self._data.label_key] if with_label else [])
        return tf.io.parse_example(serialized, {k: self._raw_spec[k] for k in keys})

    def raw_feature(self, values: tf.Tensor) -> tf.Tensor:
        """Strings [batch] as the raw feature's tensor: dense in its shape, or sparse."""
        spec = self._raw_spec[self._data.input_key]
        if isinstance(spec, tf.io.FixedLenFeature):
            return tf.reshape(values, [-1] + list(spec.shape))
        return tf.sparse.from_dense(tf.reshape(values, [-1, 1]))  # "" is no value, as in data

    def serve_raw(self, values: tf.Tensor) -> Dict[str, tf.Tensor]:
        """The raw-input signature: encoded images or texts, as clients send them."""
        if self._data.format == "float_pixels":
            # Transform turns float pixels into exactly such encoded bytes.
            return self.predict_encoded(values)
        return self.predict_encoded(self.transform_input(self.raw_feature(values)))

    def signatures(self):
        examples_spec = tf.TensorSpec([None], tf.string, name=names.EXAMPLES_INPUT)
        raw_signature, raw_input = names.RAW_SIGNATURES[self._data.modality]
        raw_spec = tf.TensorSpec([None], tf.string, name=raw_input)

        @tf.function(input_signature=[examples_spec])
        def serve_examples(examples):
            raw = self.parse_raw(examples, with_label=False)[self._data.input_key]
            return self.predict_encoded(self.transform_input(raw))

        @tf.function(input_signature=[raw_spec])
        def serve_raw(values):
            return self.serve_raw(values)

        @tf.function(input_signature=[examples_spec])
        def transform_features(examples):
            return self.tft_layer(self.parse_raw(examples, with_label=True))

        return {
            names.SERVING_EXAMPLES_SIGNATURE: serve_examples.get_concrete_function(),
            raw_signature: serve_raw.get_concrete_function(),
            names.TRANSFORM_SIGNATURE: transform_features.get_concrete_function(),
        }


def class_names(tf_transform_output: tft.TFTransformOutput) -> List[str]:
    """Class names in class-id order, as they appear in the data."""
    return [v.decode() if isinstance(v, bytes) else v
            for v in tf_transform_output.vocabulary_by_name(names.LABEL_VOCAB)]


def export_serving_model(classifier: keras.Model, tf_transform_output: tft.TFTransformOutput,
                         config: config_lib.Config, export_dir: str) -> None:
    module = ServingModule(classifier, tf_transform_output, config)
    tf.saved_model.save(module, export_dir, signatures=module.signatures())


def saved_model_identity(path: str) -> str:
    """Graph *and* weights of a SavedModel, as a hex string.

    The fingerprint's ``saved_model_checksum`` covers saved_model.pb only, so two
    exports of one graph with different weights (``--weights random`` vs ``imagenet``,
    or a retrained backbone) would look alike; ``checkpoint_hash`` covers the
    variables.  SavedModels without fingerprint.pb (TF < 2.12) are hashed from
    saved_model.pb and variables.index, which holds a checksum of every variable.
    """
    try:
        fingerprint = tf.saved_model.experimental.read_fingerprint(path)
        return f"{fingerprint.saved_model_checksum:x}-{fingerprint.checkpoint_hash:x}"
    except Exception:  # noqa: BLE001 - no fingerprint.pb: hash the files themselves
        digest = hashlib.sha256()
        for name in ("saved_model.pb", os.path.join("variables", "variables.index")):
            with tf.io.gfile.GFile(os.path.join(path, name), "rb") as f:
                digest.update(f.read())
        return digest.hexdigest()[:32]
