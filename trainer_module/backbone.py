"""Loading a backbone: any TF-Hub image feature vector, by handle.

``load_backbone`` is the one way a backbone enters a model: ``hub.KerasLayer`` on a
hub URL, a local directory or a gs:// path.  TF-Hub resolves URLs through
``TFHUB_CACHE_DIR`` when it is set, so offline clusters point it at a
pre-populated cache.  Text encoders tokenize inside their graph with TF Text ops,
registered by importing ``tensorflow_text`` here.  (Exporting backbones is
``hubtune.backbones``' job.)
"""

import hashlib
import os

import tensorflow_hub as hub
import tensorflow_text  # noqa: F401 - registers TF Text's ops: text backbones tokenize in-graph

BACKBONE_LAYER_NAME = "backbone"


def load_backbone(handle: str) -> hub.KerasLayer:
    """A trainable hub layer: [batch, h, w, 3] floats in [0, 1] -> [batch, features].

    Trainable so that fine-tuning can update its top variables; which ones
    actually change is decided by the training step, not by this flag.
    """
    return hub.KerasLayer(handle, trainable=True, name=BACKBONE_LAYER_NAME)


def hub_cache_path(handle: str, cache_dir: str) -> str:
    """Where TF-Hub looks for ``handle`` inside ``TFHUB_CACHE_DIR`` (sha1 of the handle).

    Copy a model there to make a hub URL handle resolve offline.
    """
    return os.path.join(cache_dir, hashlib.sha1(handle.encode("utf8")).hexdigest())
