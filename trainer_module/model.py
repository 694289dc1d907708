"""The classifier: a frozen-or-partly-trainable hub backbone plus a custom head.

``SelectiveTrainingModel`` applies gradients only to the variables chosen for the
current phase: ``fit()`` cannot unfreeze just part of a ``hub.KerasLayer``.  The
backbone is always called with ``training=False``, so BatchNorm keeps its
ImageNet statistics (inference mode) even while its top layers fine-tune.
"""

import math
import re
from typing import List, Optional, Sequence

import tensorflow as tf
import tf_keras as keras

from hubtune import config as config_lib
from hubtune.trainer_module import losses

FEATURES_INPUT = "features"
TRANSFORMER_LAYER = re.compile(r"(?:^|/)transformer(?:_|/)layer_(\d+)/")


class _Selection:
    """Plain holder, so Keras does not track the selected variables (or the class-weight
    array) a second time."""

    def __init__(self, variables: Sequence[tf.Variable] = (), objective=None):
        self.variables = list(variables)
        self.objective = objective


class SelectiveTrainingModel(keras.Model):
    """A functional model whose train step updates only ``variables_to_train``.

    With an ``objective`` (``losses.Objective``: class weights, label
    smoothing) the gradients follow ``losses.training_loss``; the compiled loss, which
    Keras reports and validates on, stays plain cross-entropy.
    """

    @property
    def objective(self):
        return getattr(self, "_objective", _Selection()).objective

    @objective.setter
    def objective(self, objective) -> None:
        self._objective = _Selection(objective=objective)

    @property
    def variables_to_train(self) -> List[tf.Variable]:
        return getattr(self, "_selection", _Selection()).variables

    @variables_to_train.setter
    def variables_to_train(self, variables: Sequence[tf.Variable]) -> None:
        self._selection = _Selection(variables)

    def train_step(self, data):
        x, y = data[0], data[1]
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred)
            objective = self.objective
            if objective is not None:
                loss = tf.reduce_mean(losses.training_loss(
                    tf.cast(tf.reshape(y, [-1]), tf.int64), y_pred,
                    tf.constant(objective.class_weights, tf.float32),
                    objective.label_smoothing))
        variables = self.variables_to_train
        if not variables:
            raise ValueError("no variables selected for training")
        gradients = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return self.compute_metrics(x, y, y_pred, None)


def build_head(feature_dim: int, num_classes: int, head: config_lib.HeadConfig,
               name: str = "head") -> SelectiveTrainingModel:
    """Features [batch, feature_dim] -> logits [batch, num_classes]."""
    features = keras.Input(shape=(feature_dim,), name=FEATURES_INPUT)
    x = features
    for i, units in enumerate(head.hidden_units):
        x = keras.layers.Dropout(head.dropout, name=f"dropout_{i}")(x)
        x = keras.layers.Dense(units, activation="relu", name=f"dense_{i}")(x)
    x = keras.layers.Dropout(head.dropout, name="dropout_logits")(x)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    return SelectiveTrainingModel(features, logits, name=name)


def build_classifier(backbone: keras.layers.Layer, head: keras.Model,
                     input_size: int) -> SelectiveTrainingModel:
    """Images [batch, size, size, 3] in [0, 1] -> logits, BatchNorm in inference mode."""
    images = keras.Input(shape=(input_size, input_size, 3), name="images")
    if getattr(backbone, "takes_training_phase", False):  # keeps its own BatchNorm frozen
        features = backbone(images)
    else:
        features = backbone(images, training=False)
    return SelectiveTrainingModel(images, head(features), name="classifier")


def build_text_classifier(encoder: keras.layers.Layer,
                          head: keras.Model) -> SelectiveTrainingModel:
    """Texts [batch] (strings) -> logits; the encoder's dropout stays off."""
    texts = keras.Input(shape=(), dtype=tf.string, name="texts")
    return SelectiveTrainingModel(texts, head(encoder(texts, training=False)),
                                  name="classifier")


def transformer_layer_index(variable_name: str) -> Optional[int]:
    """The transformer layer a variable belongs to (hubtune's BERT encoders and TF-Hub's
    name them ``transformer_layer_<i>/`` and ``transformer/layer_<i>/``), else None."""
    match = TRANSFORMER_LAYER.search(variable_name)
    return int(match.group(1)) if match else None


def top_backbone_variables(backbone: keras.layers.Layer, fraction: float) -> List[tf.Variable]:
    """The backbone's top ``fraction``, the variables fine-tuning trains.

    A transformer encoder is cut by layer: its top ``ceil(fraction x layers)`` transformer
    layers, whole (never the embeddings).  Other backbones by variable order: TF-Hub and
    Keras SavedModels list variables in creation order, input to output.
    """
    variables = list(backbone.trainable_variables)
    layers = [transformer_layer_index(v.name) for v in variables]
    if any(i is not None for i in layers):
        total = max(i for i in layers if i is not None) + 1
        first = total - min(total, math.ceil(fraction * total))
        return [v for v, i in zip(variables, layers) if i is not None and i >= first]
    count = min(len(variables), math.ceil(fraction * len(variables)))
    return variables[len(variables) - count:] if count else []


def feature_dim(backbone: keras.layers.Layer, input_size: int) -> int:
    """Width of the backbone's feature vector, found by running it once."""
    probe = tf.zeros([1, input_size, input_size, 3])
    return int(backbone(probe, training=False).shape[-1])
