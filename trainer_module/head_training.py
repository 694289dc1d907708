"""Phase 1 on cached embeddings: every head epoch inside one compiled TensorFlow loop.

On cached features a head epoch is a few milliseconds of math, so Keras' per-epoch
machinery (callbacks, iterator set-up, metric resets) would dominate it.  Here
shuffling, batches, evaluation and early stopping with best-weight restore all run
in one ``tf.function`` call; TensorBoard scalars and epoch log lines are written
from the returned history afterwards.
"""

import math
import os

import numpy as np
import tensorflow as tf
import tf_keras as keras

from trainer_module.phases import LOGGER, PhaseResult

EVAL_CHUNK = 4096  # eval features scored per step (bounds memory on large eval sets)


def _write_tensorboard(log_dir: str, history: np.ndarray) -> None:
    """Same layout and tags as Keras' TensorBoard callback: train/ and validation/."""
    for subdir, columns in (("train", (0, 1)), ("validation", (2, 3))):
        writer = tf.summary.create_file_writer(os.path.join(log_dir, subdir))
        with writer.as_default():
            for epoch, row in enumerate(history):
                tf.summary.scalar("epoch_loss", row[columns[0]], step=epoch)
                tf.summary.scalar("epoch_accuracy", row[columns[1]], step=epoch)
        writer.close()


def fit_head_on_features(phase: str, head: keras.Model, train: tuple, evaluation: tuple,
                         learning_rate: float, epochs: int, batch_size: int, patience: int,
                         seed: int, log_dir: str) -> PhaseResult:
    """Trains ``head`` on (features, labels) arrays; keeps the weights of the best eval loss."""
    x_train = tf.constant(train[0], tf.float32)
    y_train = tf.constant(train[1], tf.int64)
    x_eval = tf.constant(evaluation[0], tf.float32)
    y_eval = tf.constant(evaluation[1], tf.int64)
    n, n_eval = len(train[1]), len(evaluation[1])
    steps = math.ceil(n / batch_size)
    variables = head.trainable_variables
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(variables)
    best = [tf.Variable(v, trainable=False) for v in variables]
    loss_fn = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction=keras.losses.Reduction.SUM)

    # Only the loops need AutoGraph; converting Keras' own call paths costs seconds.
    @tf.autograph.experimental.do_not_convert
    def score(logits, labels):
        hits = tf.cast(tf.equal(tf.argmax(logits, axis=-1), labels), tf.float32)
        return loss_fn(labels, logits), tf.reduce_sum(hits)

    @tf.autograph.experimental.do_not_convert
    def train_step(x, y):
        with tf.GradientTape() as tape:
            batch_loss, hits = score(head(x, training=True), y)
            mean_loss = batch_loss / tf.cast(tf.shape(y)[0], tf.float32)
        optimizer.apply_gradients(zip(tape.gradient(mean_loss, variables), variables))
        return batch_loss, hits

    @tf.autograph.experimental.do_not_convert
    def eval_chunk(x, y):
        return score(head(x, training=False), y)

    @tf.autograph.experimental.do_not_convert
    def keep_best():
        for b, v in zip(best, variables):
            b.assign(v)

    @tf.function
    def train_all_epochs():
        history = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
        best_loss, wait = tf.constant(np.inf, tf.float32), tf.constant(0)
        for epoch in tf.range(epochs):
            order = tf.random.shuffle(tf.range(n), seed=seed)
            loss_sum, hit_sum = tf.constant(0.0), tf.constant(0.0)
            for step in tf.range(steps):
                idx = order[step * batch_size:tf.minimum((step + 1) * batch_size, n)]
                batch_loss, hits = train_step(tf.gather(x_train, idx), tf.gather(y_train, idx))
                loss_sum += batch_loss
                hit_sum += hits
            val_loss, val_hits = tf.constant(0.0), tf.constant(0.0)
            for start in tf.range(0, n_eval, EVAL_CHUNK):
                chunk_loss, chunk_hits = eval_chunk(x_eval[start:start + EVAL_CHUNK],
                                                    y_eval[start:start + EVAL_CHUNK])
                val_loss += chunk_loss
                val_hits += chunk_hits
            val_loss /= n_eval
            history = history.write(epoch, tf.stack(
                [loss_sum / n, hit_sum / n, val_loss, val_hits / n_eval]))
            if val_loss < best_loss:
                best_loss, wait = val_loss, 0
                keep_best()
            else:
                wait += 1
            if wait >= patience:
                break
        return history.stack()

    rows = train_all_epochs().numpy()
    for b, v in zip(best, variables):  # restore the best epoch, as EarlyStopping does
        v.assign(b)
    _write_tensorboard(os.path.join(log_dir, phase), rows)
    for epoch, (loss, acc, val_loss, val_acc) in enumerate(rows):
        LOGGER.info("%s epoch %d/%d: accuracy %.4f loss %.4f val_accuracy %.4f val_loss %.4f",
                    phase, epoch + 1, epochs, acc, loss, val_acc, val_loss)
    history = {name: [float(v) for v in rows[:, i]]
               for i, name in enumerate(("loss", "accuracy", "val_loss", "val_accuracy"))}
    return PhaseResult(phase=phase, epochs_run=len(rows), history=history,
                       trained_variables=len(variables))
