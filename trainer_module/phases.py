"""The two training phases: the head on a frozen backbone, then fine-tuning its top.

``fit_phase`` (Keras ``fit``) takes any model and the variables it may update (phase
2, and phase 1 on images); phase 1 on cached embeddings uses ``feature_head_loop``'s
compiled loop.  Both return a ``PhaseResult``.
"""

import dataclasses
import logging
import os
from typing import Dict, List, Optional, Sequence, Tuple

import tensorflow as tf
import tf_keras as keras

from hubtune import config as config_lib
from hubtune.trainer_module import feature_head_loop, losses
from hubtune.trainer_module import model as model_lib

PHASE_HEAD = "phase1_head"
PHASE_FINETUNE = "phase2_finetune"
LOGGER = logging.getLogger("hubtune")


@dataclasses.dataclass
class PhaseResult:
    phase: str
    epochs_run: int
    history: Dict[str, List[float]]
    trained_variables: int
    kept: bool = True  # False when phase 2 did not beat phase 1 and was rolled back

    @property
    def best_val_loss(self) -> float:
        return min(self.history["val_loss"])


class EpochLogger(keras.callbacks.Callback):
    """One log line per epoch, labelled with the phase (the CLI shows these)."""

    def __init__(self, phase: str, epochs: int):
        super().__init__()
        self.phase, self.epochs = phase, epochs

    def on_epoch_end(self, epoch, logs=None):
        metrics = " ".join(f"{k} {v:.4f}" for k, v in sorted((logs or {}).items()))
        LOGGER.info("%s epoch %d/%d: %s", self.phase, epoch + 1, self.epochs, metrics)


def choose_strategy() -> tf.distribute.Strategy:
    """MirroredStrategy when several GPUs are visible, else the default strategy."""
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def compile_for(model: keras.Model, learning_rate: float) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )


def fit_phase(phase: str, model: model_lib.SelectiveTrainingModel,
              variables: Sequence[tf.Variable], learning_rate: float, epochs: int,
              train_ds: tf.data.Dataset, validation_ds: tf.data.Dataset, log_dir: str,
              patience: int, objective: Optional[losses.Objective] = None) -> PhaseResult:
    """Trains ``variables`` of ``model``; early-stops on validation loss, keeps the best
    weights."""
    model.variables_to_train = list(variables)
    model.objective = objective
    compile_for(model, learning_rate)
    callbacks = [
        keras.callbacks.TensorBoard(log_dir=os.path.join(log_dir, phase)),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                      restore_best_weights=True),
        EpochLogger(phase, epochs),
    ]
    history = model.fit(train_ds, validation_data=validation_ds, epochs=epochs,
                        callbacks=callbacks, verbose=0)
    return PhaseResult(phase=phase, epochs_run=len(history.epoch),
                       history={k: [float(v) for v in vals] for k, vals in history.history.items()},
                       trained_variables=len(variables))


def fit_head_on_features(phase: str, head: keras.Model, train: tuple, validation: tuple,
                         learning_rate: float, epochs: int, batch_size: int, patience: int,
                         seed: int, log_dir: str,
                         objective: Optional[losses.Objective] = None) -> PhaseResult:
    """Phase 1 on cached (features, labels) arrays, in ``feature_head_loop``'s compiled loop."""
    history = feature_head_loop.train_head(head, train, validation, learning_rate, epochs,
                                           batch_size, patience, seed,
                                           os.path.join(log_dir, phase), objective)
    epochs_run = len(history["loss"])
    for epoch in range(epochs_run):
        LOGGER.info("%s epoch %d/%d: %s", phase, epoch + 1, epochs, " ".join(
            f"{k} {history[k][epoch]:.4f}" for k in sorted(history)))
    return PhaseResult(phase=phase, epochs_run=epochs_run, history=history,
                       trained_variables=len(head.trainable_variables))


def train_two_phases(classifier: model_lib.SelectiveTrainingModel,
                     head: model_lib.SelectiveTrainingModel, backbone: keras.layers.Layer,
                     images: Tuple[tf.data.Dataset, tf.data.Dataset],
                     train: config_lib.TrainConfig, log_dir: str,
                     features: Optional[Tuple[Tuple, Tuple]] = None,
                     objective: Optional[losses.Objective] = None) -> List[PhaseResult]:
    """Phase 1 trains the head only; phase 2 also the top ``finetune_fraction`` of the backbone.

    ``images`` are (fit, validation) datasets: every early stop and the rollback look
    at the validation split only.  With ``features`` (((x, y), (x, y)) arrays of
    frozen-backbone embeddings computed once), phase 1 trains the bare head on them in
    one compiled loop; otherwise it runs the frozen backbone on every image every epoch.
    """
    if features:
        results = [fit_head_on_features(
            PHASE_HEAD, head, features[0], features[1], train.head_learning_rate,
            train.head_epochs, train.batch_size, train.head_patience, train.seed,
            log_dir, objective)]
    else:
        results = [fit_phase(PHASE_HEAD, classifier, head.trainable_variables,
                             train.head_learning_rate, train.head_epochs, images[0], images[1],
                             log_dir, train.head_patience, objective)]
    top = model_lib.top_backbone_variables(backbone, train.finetune_fraction)
    if top and train.finetune_epochs > 0:
        before = classifier.get_weights()
        finetune = fit_phase(
            PHASE_FINETUNE, classifier, list(head.trainable_variables) + top,
            train.phase2_learning_rate, train.finetune_epochs,
            images[0], images[1], log_dir, train.finetune_patience, objective)
        if finetune.best_val_loss >= results[0].best_val_loss:
            # Fine-tuning must not make the model worse than the frozen-backbone one.
            classifier.set_weights(before)
            finetune.kept = False
            LOGGER.info("%s: best validation loss %.4f did not beat phase 1's %.4f; kept the "
                        "phase-1 weights", PHASE_FINETUNE, finetune.best_val_loss,
                        results[0].best_val_loss)
        results.append(finetune)
    return results
