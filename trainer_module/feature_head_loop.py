"""Phase 1 on cached embeddings: every head epoch inside one compiled TensorFlow loop.

On cached features a head epoch is a few milliseconds of math, so Keras' per-epoch
machinery (callbacks, iterator set-up, metric resets) would dominate it.  Here
shuffling, batches, evaluation and early stopping with best-weight restore all run
in one ``tf.function`` call; TensorBoard scalars are written from the returned
history afterwards.  ``phases.fit_head_on_features`` wraps it as a training phase.
"""

import math
import os
from typing import Dict, List, Optional

import numpy as np
import tensorflow as tf
import tf_keras as keras

from hubtune.trainer_module import losses

VALIDATION_CHUNK = 4096  # validation features scored per step (bounds memory)
HISTORY_COLUMNS = ("loss", "accuracy", "val_loss", "val_accuracy")


def _write_tensorboard(log_dir: str, history: np.ndarray) -> None:
    """Same layout and tags as Keras' TensorBoard callback: train/ and validation/."""
    for subdir, columns in (("train", (0, 1)), ("validation", (2, 3))):
        writer = tf.summary.create_file_writer(os.path.join(log_dir, subdir))
        with writer.as_default():
            for epoch, row in enumerate(history):
                tf.summary.scalar("epoch_loss", row[columns[0]], step=epoch)
                tf.summary.scalar("epoch_accuracy", row[columns[1]], step=epoch)
        writer.close()


class _HeadLoop:
    """The head, its optimizer and a copy of the best weights; steps that AutoGraph skips."""

    def __init__(self, head: keras.Model, learning_rate: float, objective: losses.Objective):
        self.head = head
        self.class_weights = tf.constant(objective.class_weights, tf.float32)
        self.label_smoothing = objective.label_smoothing
        self.variables = head.trainable_variables
        self.optimizer = keras.optimizers.Adam(learning_rate)
        self.optimizer.build(self.variables)
        self.best = [tf.Variable(v, trainable=False) for v in self.variables]
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction=keras.losses.Reduction.SUM)

    # Only the epoch loops need AutoGraph; converting Keras' own call paths costs seconds.
    @tf.autograph.experimental.do_not_convert
    def score(self, logits, labels):
        hits = tf.cast(tf.equal(tf.argmax(logits, axis=-1), labels), tf.float32)
        return self.loss_fn(labels, logits), tf.reduce_sum(hits)

    @tf.autograph.experimental.do_not_convert
    def train_step(self, x, y):
        with tf.GradientTape() as tape:
            logits = self.head(x, training=True)
            objective = tf.reduce_mean(losses.training_loss(y, logits, self.class_weights,
                                                            self.label_smoothing))
        batch_loss, hits = self.score(logits, y)
        gradients = tape.gradient(objective, self.variables)
        self.optimizer.apply_gradients(zip(gradients, self.variables))
        return batch_loss, hits

    @tf.autograph.experimental.do_not_convert
    def validation_chunk(self, x, y):
        return self.score(self.head(x, training=False), y)

    @tf.autograph.experimental.do_not_convert
    def keep_best(self):
        for b, v in zip(self.best, self.variables):
            b.assign(v)

    def restore_best(self) -> None:
        for b, v in zip(self.best, self.variables):
            v.assign(b)


def _epoch_loop(loop: _HeadLoop, train: tuple, validation: tuple, epochs: int,
                batch_size: int, patience: int, seed: int):
    """The compiled function running every epoch; returns [epochs run, 4] history rows."""
    x_train, y_train = tf.constant(train[0], tf.float32), tf.constant(train[1], tf.int64)
    x_val, y_val = tf.constant(validation[0], tf.float32), tf.constant(validation[1], tf.int64)
    n, n_val = len(train[1]), len(validation[1])
    steps = math.ceil(n / batch_size)

    @tf.function
    def train_all_epochs():
        history = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
        best_loss, wait = tf.constant(np.inf, tf.float32), tf.constant(0)
        for epoch in tf.range(epochs):
            order = tf.random.shuffle(tf.range(n), seed=seed)
            loss_sum, hit_sum = tf.constant(0.0), tf.constant(0.0)
            for step in tf.range(steps):
                idx = order[step * batch_size:tf.minimum((step + 1) * batch_size, n)]
                batch_loss, hits = loop.train_step(tf.gather(x_train, idx),
                                                   tf.gather(y_train, idx))
                loss_sum += batch_loss
                hit_sum += hits
            val_loss, val_hits = tf.constant(0.0), tf.constant(0.0)
            for start in tf.range(0, n_val, VALIDATION_CHUNK):
                end = start + VALIDATION_CHUNK
                chunk_loss, chunk_hits = loop.validation_chunk(x_val[start:end],
                                                               y_val[start:end])
                val_loss += chunk_loss
                val_hits += chunk_hits
            val_loss /= n_val
            history = history.write(epoch, tf.stack(
                [loss_sum / n, hit_sum / n, val_loss, val_hits / n_val]))
            if val_loss < best_loss:
                best_loss, wait = val_loss, 0
                loop.keep_best()
            else:
                wait += 1
            if wait >= patience:
                break
        return history.stack()

    return train_all_epochs


def train_head(head: keras.Model, train: tuple, validation: tuple, learning_rate: float,
               epochs: int, batch_size: int, patience: int, seed: int,
               log_dir: Optional[str], objective: Optional[losses.Objective] = None
               ) -> Dict[str, List[float]]:
    """Trains ``head`` on (features, labels) arrays and keeps the weights of the best
    validation loss, as Keras' EarlyStopping(restore_best_weights) does.  Returns the
    per-epoch history (``HISTORY_COLUMNS``: plain cross-entropy and accuracy); TensorBoard
    scalars go to ``log_dir`` unless it is None."""
    objective = objective or losses.Objective(np.ones(head.output_shape[-1], np.float32), 0.0)
    loop = _HeadLoop(head, learning_rate, objective)
    rows = _epoch_loop(loop, train, validation, epochs, batch_size, patience, seed)().numpy()
    loop.restore_best()
    if log_dir:
        _write_tensorboard(log_dir, rows)
    return {name: [float(v) for v in rows[:, i]] for i, name in enumerate(HISTORY_COLUMNS)}
