"""What differs between the image and the text model, in one place: the backbone and how
it is loaded, the classifier's input, and the embedding cache's key.

Everything else (Transform's label vocabulary, the fit/validation split, both training
phases, the head, the Tuner) is shared; the modality follows from ``data.image_key`` or
``data.text_key``.
"""

import tensorflow as tf
import tf_keras as keras

from hubtune import config as config_lib
from hubtune.trainer_module import backbone as backbone_lib
from hubtune.trainer_module import embedding_cache, model


def is_text(config: config_lib.Config) -> bool:
    return config.data.modality == config_lib.TEXT


def load_backbone(config: config_lib.Config) -> keras.layers.Layer:
    """The configured backbone: images [b, s, s, 3] or texts [b] -> features [b, d]."""
    if is_text(config):
        return backbone_lib.load_text_encoder(config.backbone)
    return backbone_lib.load_backbone(config.backbone.handle, config.backbone.flip_views)


def feature_dim(backbone: keras.layers.Layer, config: config_lib.Config) -> int:
    """Width of the backbone's feature vector, found by running it once."""
    if is_text(config):
        return int(backbone(tf.constant(["a"]), training=False).shape[-1])
    return model.feature_dim(backbone, config.backbone.input_size)


def build_classifier(backbone: keras.layers.Layer, head: keras.Model,
                     config: config_lib.Config) -> model.SelectiveTrainingModel:
    if is_text(config):
        return model.build_text_classifier(backbone, head)
    return model.build_classifier(backbone, head, config.backbone.input_size)


def cache_key(config: config_lib.Config) -> str:
    """The embedding cache folder for this backbone: graph and weights, and the input size
    and flip averaging (images) or the preprocessor and max_seq_length (text)."""
    b = config.backbone
    if is_text(config):
        return embedding_cache.text_cache_key(b.handle, b.preprocessor, b.max_seq_length)
    return embedding_cache.cache_key(b.handle, b.input_size, b.flip_views)
