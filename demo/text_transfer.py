"""What transfer buys on text: hubtune's head on frozen encoder embeddings of reviews.

The same head and phase-1 recipe as the pipeline (``transfer_comparison``'s
``frozen_head_predictions``: validation share of train by content hash, early
stopping on it) on the sentence embeddings of the configured text encoder (either
TF-Hub contract, loaded as the Trainer loads it): the pretrained MiniLM, or the same
architecture randomly initialised.  Scored once on the test split, with accuracy and
macro-F1.
"""

import dataclasses
import time
from typing import Dict, List, Tuple

import numpy as np
import tensorflow as tf

from hubtune import config as config_lib
from hubtune.demo import drugreview, transfer_comparison
from hubtune.trainer_module import embedding_cache, modality

EMBED_BATCH = 32


def embed_texts(config: config_lib.Config, texts: List[str]) -> Tuple[np.ndarray, float]:
    """(embeddings [n, dim], texts per second) of the configured text encoder, in batches."""
    layer = modality.load_backbone(config)
    forward = tf.function(lambda batch: layer(batch, training=False))
    forward(tf.constant(texts[:2]))  # traced once, outside the timing
    started = time.perf_counter()
    features = np.concatenate([forward(tf.constant(texts[i:i + EMBED_BATCH])).numpy()
                               for i in range(0, len(texts), EMBED_BATCH)])
    return features, len(texts) / (time.perf_counter() - started)


def frozen_head_scores(config: config_lib.Config,
                       train: Tuple[List[str], List[str]], test: Tuple[List[str], List[str]],
                       log_dir: str) -> Tuple[drugreview.Scores, float]:
    """(test accuracy / macro-F1 of the head on frozen embeddings, texts/s)."""
    classes = sorted(set(train[1]))
    index = {c: i for i, c in enumerate(classes)}
    features, speed = embed_texts(config, train[0] + test[0])
    x, test_x = features[:len(train[0])], features[len(train[0]):]
    y = np.array([index[label] for label in train[1]])
    predicted = transfer_comparison.frozen_head_predictions(
        (x, y, embedding_cache.image_keys([t.encode() for t in train[0]])), test_x,
        len(classes), config, log_dir)
    return drugreview.score(test[1], [classes[i] for i in predicted], {}), speed


def compare(configs: Dict[str, config_lib.Config],
            log_dir: str) -> Dict[str, Tuple[drugreview.Scores, float]]:
    """{label: (scores, texts/s)} for each configured text encoder, on the drug reviews."""
    train, test = drugreview.reviews("train"), drugreview.reviews("test")
    return {label: frozen_head_scores(config, train, test, f"{log_dir}/{n}")
            for n, (label, config) in enumerate(configs.items())}


def with_encoder(config: config_lib.Config, handle: str,
                 preprocessor: str = "") -> config_lib.Config:
    """``config`` with another text encoder (and its preprocessor, for a BERT encoder)."""
    backbone = dataclasses.replace(config.backbone, handle=handle, preprocessor=preprocessor)
    return dataclasses.replace(config, backbone=backbone)
