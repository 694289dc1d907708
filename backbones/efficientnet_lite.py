"""EfficientNet-Lite0/1/2 in tf_keras, and loading their ImageNet weights from PyTorch.

Lite variants drop squeeze-excitation, use ReLU6 and fix the stem (32) and head
(1280) widths; Lite1 and Lite2 scale Lite0's stage widths and repeats (the first and
last stage keep their repeats, as in the reference ``efficientnet_lite_builder``).

Layer names follow the PyTorch checkpoint's parameter prefixes, so the weight
mapping is a name lookup, not a positional guess (Keras names may not start with
"_", so ``blocks.3.expand_conv`` stands for ``_blocks.3._expand_conv``).
"""

import dataclasses
import math
from typing import Dict, Optional

import numpy as np
import tf_keras as keras

# (repeats, kernel, stride, expand_ratio, output_filters) per stage.
LITE0_STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
STEM_FILTERS = 32
HEAD_FILTERS = 1280
NUM_IMAGENET_CLASSES = 1000
BATCH_NORM_EPSILON = 1e-3
FEATURE_DIM = HEAD_FILTERS
FILTER_DIVISOR = 8


@dataclasses.dataclass(frozen=True)
class Variant:
    """Width and depth multipliers of a Lite variant, and its native input size."""
    width: float
    depth: float
    input_size: int


VARIANTS = {
    "efficientnet-lite0": Variant(1.0, 1.0, 224),
    "efficientnet-lite1": Variant(1.0, 1.1, 240),
    "efficientnet-lite2": Variant(1.1, 1.2, 260),
}


def round_filters(filters: int, width: float) -> int:
    """The reference implementation's rounding: to a multiple of 8, never 10 % below."""
    scaled = filters * width
    rounded = max(FILTER_DIVISOR, int(scaled + FILTER_DIVISOR / 2) // FILTER_DIVISOR
                  * FILTER_DIVISOR)
    return rounded + FILTER_DIVISOR if rounded < 0.9 * scaled else rounded


def scaled_stages(variant: Variant):
    """LITE0_STAGES with the variant's repeats and output filters."""
    last = len(LITE0_STAGES) - 1
    return tuple((repeats if i in (0, last) else int(math.ceil(variant.depth * repeats)),
                  kernel, stride, expand, round_filters(filters, variant.width))
                 for i, (repeats, kernel, stride, expand, filters) in enumerate(LITE0_STAGES))


def _bn(name: str):
    return keras.layers.BatchNormalization(epsilon=BATCH_NORM_EPSILON, name=name)


def _relu6(x):
    return keras.layers.ReLU(6.0)(x)


def _block(x, index: int, in_filters: int, kernel: int, stride: int, expand: int,
           out_filters: int):
    prefix = f"blocks.{index}."
    inputs = x
    filters = in_filters * expand
    if expand != 1:
        x = keras.layers.Conv2D(filters, 1, padding="same", use_bias=False,
                                name=prefix + "expand_conv")(x)
        x = _relu6(_bn(prefix + "bn0")(x))
    x = keras.layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False,
                                     name=prefix + "depthwise_conv")(x)
    x = _relu6(_bn(prefix + "bn1")(x))
    x = keras.layers.Conv2D(out_filters, 1, padding="same", use_bias=False,
                            name=prefix + "project_conv")(x)
    x = _bn(prefix + "bn2")(x)
    if stride == 1 and in_filters == out_filters:
        x = keras.layers.Add()([x, inputs])
    return x


def build_efficientnet_lite(name: str = "efficientnet-lite0", include_top: bool = False,
                            input_size: Optional[int] = None) -> keras.Model:
    """Images as floats in [0, 1], [batch, h, w, 3] -> pooled features or logits."""
    if name not in VARIANTS:
        raise ValueError(f"unknown EfficientNet-Lite variant {name!r}; one of {sorted(VARIANTS)}")
    images = keras.Input(shape=(input_size, input_size, 3), name="images")
    # The checkpoint was trained on RGB 0..255 normalised as (x - 127) / 128.
    x = keras.layers.Rescaling(255.0 / 128.0, offset=-127.0 / 128.0, name="normalize")(images)
    x = keras.layers.Conv2D(STEM_FILTERS, 3, strides=2, padding="same", use_bias=False,
                            name="conv_stem")(x)
    x = _relu6(_bn("bn0")(x))
    in_filters, index = STEM_FILTERS, 0
    for repeats, kernel, stride, expand, out_filters in scaled_stages(VARIANTS[name]):
        for r in range(repeats):
            x = _block(x, index, in_filters, kernel, stride if r == 0 else 1, expand,
                       out_filters)
            in_filters, index = out_filters, index + 1
    x = keras.layers.Conv2D(HEAD_FILTERS, 1, padding="same", use_bias=False,
                            name="conv_head")(x)
    x = _relu6(_bn("bn1")(x))
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if include_top:
        x = keras.layers.Dense(NUM_IMAGENET_CLASSES, name="fc")(x)
    return keras.Model(images, x, name=name.replace("-", "_"))


def torch_name(keras_name: str) -> str:
    """``blocks.3.expand_conv`` -> ``_blocks.3._expand_conv``."""
    return ".".join(p if p.isdigit() else "_" + p for p in keras_name.split("."))


def _keras_weights_for(layer, state: Dict[str, np.ndarray]):
    name = torch_name(layer.name)
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        # torch (C, 1, kh, kw) -> keras (kh, kw, C, 1)
        return [state.pop(name + ".weight").transpose(2, 3, 0, 1)]
    if isinstance(layer, keras.layers.Conv2D):
        # torch (out, in, kh, kw) -> keras (kh, kw, in, out)
        return [state.pop(name + ".weight").transpose(2, 3, 1, 0)]
    if isinstance(layer, keras.layers.BatchNormalization):
        weights = [state.pop(name + suffix) for suffix in
                   (".weight", ".bias", ".running_mean", ".running_var")]
        state.pop(name + ".num_batches_tracked", None)
        return weights
    if isinstance(layer, keras.layers.Dense):
        return [state.pop(name + ".weight").T, state.pop(name + ".bias")]
    return None


def load_torch_weights(model: keras.Model, state_dict: Dict[str, np.ndarray]) -> None:
    """Copies checkpoint tensors into ``model``; fails on any missing or shape mismatch."""
    state = dict(state_dict)
    for layer in model.layers:
        try:
            weights = _keras_weights_for(layer, state)
        except KeyError as e:
            raise ValueError(f"checkpoint has no tensor {e} for layer {layer.name}") from e
        if weights is not None:
            layer.set_weights(weights)
    leftover = sorted(k for k in state if not k.endswith("num_batches_tracked"))
    if not any(isinstance(l, keras.layers.Dense) for l in model.layers):
        leftover = [k for k in leftover if not k.startswith("_fc.")]
    if leftover:
        raise ValueError(f"checkpoint tensors not used by the model: {leftover[:5]}")
