"""Optional warm start: the head begins from the last blessed model's head weights.

``run_fn`` saves the trained head's weights beside the serving SavedModel (in the
Model artifact, which the Pusher does not copy); with ``train.warm_start`` the
pipeline hands the latest blessed Model to the Trainer as ``base_model``.
"""

import io
import os
from typing import Optional

import numpy as np
import tensorflow as tf
from absl import logging

HEAD_WEIGHTS_FILE = "head_weights.npz"


def _weights_path(serving_model_dir: str) -> str:
    """``<model artifact>/head_weights.npz`` for ``<model artifact>/Format-Serving``."""
    return os.path.join(os.path.dirname(serving_model_dir.rstrip("/")), HEAD_WEIGHTS_FILE)


def save_head(head, serving_model_dir: str) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, *head.get_weights())
    with tf.io.gfile.GFile(_weights_path(serving_model_dir), "wb") as f:
        f.write(buffer.getvalue())


def load_head(head, base_model: Optional[str]) -> bool:
    """Sets the head's weights from the base model's; False (and why, in the log) if it cannot."""
    if not base_model:
        logging.info("hubtune: warm start: no blessed model yet, the head starts fresh")
        return False
    path = _weights_path(base_model)
    if not tf.io.gfile.exists(path):
        logging.warning("hubtune: warm start: %s has no saved head weights; starting fresh", path)
        return False
    with tf.io.gfile.GFile(path, "rb") as f:
        saved = np.load(io.BytesIO(f.read()))
        weights = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    current = head.get_weights()
    if [w.shape for w in weights] != [w.shape for w in current]:
        logging.warning("hubtune: warm start: the blessed head's shapes %s differ from this "
                        "head's %s (classes or head config changed); starting fresh",
                        [w.shape for w in weights], [w.shape for w in current])
        return False
    head.set_weights(weights)
    logging.info("hubtune: warm start: head initialised from %s", path)
    return True
