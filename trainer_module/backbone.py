"""Loading a backbone: any TF-Hub image feature vector or text encoder, by handle.

``load_backbone`` is the one way a backbone enters a model: ``hub.KerasLayer`` on a
hub URL, a local directory or a gs:// path.  TF-Hub resolves URLs through
``TFHUB_CACHE_DIR`` when it is set, so offline clusters point it at a
pre-populated cache.  Text encoders tokenize inside their graph with TF Text ops,
registered by importing ``tensorflow_text`` here.  (Exporting backbones is
``hubtune.backbones``' job.)
"""

import hashlib
import os

import tensorflow as tf
import tensorflow_hub as hub
import tensorflow_text  # noqa: F401 - registers TF Text's ops: text backbones tokenize in-graph
import tf_keras as keras

from hubtune import config as config_lib

BACKBONE_LAYER_NAME = "backbone"
PREPROCESSOR_FUNCTIONS = ("tokenize", "bert_pack_inputs")  # the TF-Hub BERT preprocessor
POOLED_OUTPUT = "pooled_output"                            # the TF-Hub BERT encoder's


def load_backbone(handle: str, flip_views: int = 1) -> keras.layers.Layer:
    """A trainable hub layer: [batch, h, w, 3] floats in [0, 1] -> [batch, features]
    (averaged over ``flip_views`` flipped views of each image when that is 4 or 8).

    Trainable so that fine-tuning can update its top variables; which ones
    actually change is decided by the training step, not by this flag.
    """
    if flip_views > 1:
        return FlipAveragedBackbone(hub.KerasLayer(handle, trainable=True, name="features"),
                                    views=flip_views)
    return hub.KerasLayer(handle, trainable=True, name=BACKBONE_LAYER_NAME)


class FlipAveragedBackbone(keras.layers.Layer):
    """Images -> features that no flip changes: at inference (caching, evaluation, serving)
    the mean of the backbone's features over the views of each image, run as one batch of
    views x batch images.  4 views: the image and its horizontal, vertical and double
    flips; 8: those and their transposes, every symmetry of a square.  In training one
    view per image, at random (flip augmentation at the cost of one pass).  The backbone
    itself always runs in inference mode, so its BatchNorm keeps its pretrained statistics.

    ``build_classifier`` calls it without ``training``, so Keras passes the phase in.
    """

    takes_training_phase = True
    VIEW_COUNTS = (4, 8)

    def __init__(self, features: keras.layers.Layer, views: int = 4, **kwargs):
        super().__init__(name=BACKBONE_LAYER_NAME, **kwargs)
        if views not in self.VIEW_COUNTS:
            raise ValueError(f"views must be one of {self.VIEW_COUNTS}, got {views}")
        self.features, self.views = features, views

    def get_config(self):
        return {**super().get_config(), "features": keras.layers.serialize(self.features),
                "views": self.views}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("name", None)
        features = keras.layers.deserialize(config.pop("features"),
                                            custom_objects={"KerasLayer": hub.KerasLayer})
        return cls(features, **config)

    def call(self, images, training=None):
        if tf.is_tensor(training):
            return tf.cond(training, lambda: self._random_view(images),
                           lambda: self._flip_average(images))
        return self._random_view(images) if training else self._flip_average(images)

    def _random_view(self, images):
        if self.views == 8:  # images are square: each one is transposed or not, at random
            transposed = tf.random.uniform([tf.shape(images)[0], 1, 1, 1]) < 0.5
            images = tf.where(transposed, tf.transpose(images, [0, 2, 1, 3]), images)
        flipped = tf.image.random_flip_up_down(tf.image.random_flip_left_right(images))
        return self.features(flipped, training=False)

    def _flip_average(self, images):
        squares = [images, tf.transpose(images, [0, 2, 1, 3])][:self.views // 4]
        views = tf.concat([v for square in squares for v in (
            square, tf.reverse(square, [2]), tf.reverse(square, [1]),
            tf.reverse(square, [1, 2]))], axis=0)
        features = self.features(views, training=False)
        return tf.reduce_mean(tf.reshape(features, [self.views, tf.shape(images)[0], -1]),
                              axis=0)


def hub_cache_path(handle: str, cache_dir: str) -> str:
    """Where TF-Hub looks for ``handle`` inside ``TFHUB_CACHE_DIR`` (sha1 of the handle).

    Copy a model there to make a hub URL handle resolve offline.
    """
    return os.path.join(cache_dir, hashlib.sha1(handle.encode("utf8")).hexdigest())


class TextEncoder(keras.layers.Layer):
    """Texts [batch] -> features [batch, d], tokenized in the graph.

    Either a TF-Hub text-embedding SavedModel (strings -> vectors), or a TF-Hub BERT
    encoder behind its preprocessor: ``tokenize``, then ``bert_pack_inputs`` with
    ``max_seq_length``, then the encoder's ``pooled_output``.  Texts are first cut to
    ``max_seq_length x TEXT_BYTES_PER_TOKEN`` bytes, so a huge text costs no more than
    what the encoder keeps of it.
    """

    def __init__(self, backbone: config_lib.BackboneConfig, **kwargs):
        super().__init__(name=BACKBONE_LAYER_NAME, **kwargs)
        self.max_bytes = backbone.max_seq_length * config_lib.TEXT_BYTES_PER_TOKEN
        self.encoder = hub.KerasLayer(backbone.handle, trainable=True, name="encoder")
        self.tokenize = self.pack = None
        if backbone.preprocessor:
            preprocessor = hub.load(backbone.preprocessor)
            missing = [f for f in PREPROCESSOR_FUNCTIONS if not hasattr(preprocessor, f)]
            if missing:
                raise ValueError(f"'backbone.preprocessor' {backbone.preprocessor} lacks "
                                 f"{', '.join(missing)}: it must be a TF-Hub BERT "
                                 "preprocessing model (tokenize, bert_pack_inputs)")
            self.preprocessor = preprocessor  # tracked: its vocabulary table is exported too
            self.tokenize = hub.KerasLayer(preprocessor.tokenize, name="tokenize")
            self.pack = hub.KerasLayer(preprocessor.bert_pack_inputs, name="pack",
                                       arguments={"seq_length": backbone.max_seq_length})

    def call(self, texts, training=False):
        texts = tf.strings.substr(tf.reshape(texts, [-1]), 0, self.max_bytes)
        if self.pack is None:
            return self.encoder(texts, training=training)
        outputs = self.encoder(self.pack([self.tokenize(texts)]), training=training)
        return outputs[POOLED_OUTPUT]


def load_text_encoder(backbone: config_lib.BackboneConfig) -> TextEncoder:
    return TextEncoder(backbone)


def backbone_input_kind(handle: str) -> str:
    """What a SavedModel's ``__call__`` (or default signature) takes: 'image' (float
    pixels), 'text' (strings) or 'encoder' (a BERT encoder's int inputs)."""
    path = handle if tf.io.gfile.isdir(handle) else hub.resolve(handle)
    loaded = tf.saved_model.load(path)
    call = getattr(loaded, "__call__", None)
    functions = list(getattr(call, "concrete_functions", None) or [])
    if not functions and "serving_default" in loaded.signatures:
        functions = [loaded.signatures["serving_default"]]
    if not functions:
        raise ValueError(f"{handle} has neither a __call__ nor a serving_default signature")
    specs = tf.nest.flatten(functions[0].structured_input_signature)
    dtypes = {s.dtype for s in specs if isinstance(s, tf.TensorSpec)}
    if tf.string in dtypes:
        return config_lib.TEXT
    return "encoder" if dtypes <= {tf.int32, tf.int64} else config_lib.IMAGE


def check_backbone_modality(config: config_lib.Config) -> None:
    """Refuses, before anything runs, an image backbone for text data or the reverse."""
    if not config.backbone.handle:
        return
    kind = backbone_input_kind(config.backbone.handle)
    b, text = config.backbone, config.data.modality == config_lib.TEXT
    if text and kind == config_lib.IMAGE:
        raise config_lib.ConfigError(
            f"'backbone.handle' {b.handle} takes images, but the data are text "
            f"(data.text_key): use a text-embedding SavedModel or a BERT encoder with "
            "backbone.preprocessor (try `hubtune backbone export --model minilm-l6`)")
    if text and kind == "encoder" and not b.preprocessor:
        raise config_lib.ConfigError(
            f"'backbone.handle' {b.handle} is a BERT encoder (token ids in): set "
            "'backbone.preprocessor' to its TF-Hub preprocessing model")
    if not text and kind != config_lib.IMAGE:
        raise config_lib.ConfigError(
            f"'backbone.handle' {b.handle} takes text, but the data are images "
            "(data.image_key): use an image feature-vector SavedModel, or set data.text_key")
