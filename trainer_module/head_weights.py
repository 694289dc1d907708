"""Optional warm start: the head begins from the last blessed model's head weights.

``run_fn`` saves the trained head's weights beside the serving SavedModel (in the
Model artifact, which the Pusher does not copy), together with the class names its
outputs stand for; with ``train.warm_start`` the pipeline hands the latest blessed
Model to the Trainer as ``base_model``.  The saved head is used only when it was
trained on the same classes: in another order its output units are permuted to this
run's class order; for a different class set the head starts fresh.
"""

import io
import os
from typing import List, Optional

import numpy as np
import tensorflow as tf
from absl import logging

HEAD_WEIGHTS_FILE = "head_weights.npz"
CLASSES_KEY = "classes"


def _weights_path(serving_model_dir: str) -> str:
    """``<model artifact>/head_weights.npz`` for ``<model artifact>/Format-Serving``."""
    return os.path.join(os.path.dirname(serving_model_dir.rstrip("/")), HEAD_WEIGHTS_FILE)


def save_head(head, class_names: List[str], serving_model_dir: str) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, *head.get_weights(), **{CLASSES_KEY: np.array(class_names, dtype=str)})
    with tf.io.gfile.GFile(_weights_path(serving_model_dir), "wb") as f:
        f.write(buffer.getvalue())


def _read(path: str):
    with tf.io.gfile.GFile(path, "rb") as f:
        saved = np.load(io.BytesIO(f.read()))
        weights = [saved[f"arr_{i}"] for i in range(len(saved.files) - (CLASSES_KEY in saved))]
        classes = [str(c) for c in saved[CLASSES_KEY]] if CLASSES_KEY in saved else None
    return weights, classes


def _in_class_order(weights: list, saved: List[str], wanted: List[str]) -> list:
    """The saved weights with the output layer's units reordered from ``saved`` to ``wanted``
    (the output layer is the last kernel and bias)."""
    order = [saved.index(name) for name in wanted]
    return weights[:-2] + [weights[-2][:, order], weights[-1][order]]


def load_head(head, class_names: List[str], base_model: Optional[str]) -> bool:
    """Sets the head's weights from the base model's; False (and why, in the log) if it cannot."""
    if not base_model:
        logging.info("hubtune: warm start: no blessed model yet, the head starts fresh")
        return False
    path = _weights_path(base_model)
    if not tf.io.gfile.exists(path):
        logging.warning("hubtune: warm start: %s has no saved head weights; starting fresh", path)
        return False
    weights, saved_classes = _read(path)
    if saved_classes is None or sorted(saved_classes) != sorted(class_names):
        logging.warning("hubtune: warm start: the blessed head was trained on classes %s, this "
                        "run has %s; starting fresh", saved_classes, class_names)
        return False
    weights = _in_class_order(weights, saved_classes, class_names)
    current = head.get_weights()
    if [w.shape for w in weights] != [w.shape for w in current]:
        logging.warning("hubtune: warm start: the blessed head's shapes %s differ from this "
                        "head's %s (head config changed); starting fresh",
                        [w.shape for w in weights], [w.shape for w in current])
        return False
    head.set_weights(weights)
    logging.info("hubtune: warm start: head initialised from %s (classes %s)", path,
                 "reordered" if saved_classes != list(class_names) else "in the same order")
    return True
