"""Range and consistency checks of a Config's values (no file system)."""

import re
from typing import Sequence

from hubtune.config.sections import (ALL_SECTIONS, CLASS_WEIGHT_CHOICES, DATA_FORMATS,
                                     FLIP_VIEWS, IMAGE_ONLY_FORMATS, MODEL_NAME_PATTERN, SPAN, TEXT,
                                     TEXT_ONLY_FORMATS,
                                     TFLITE_VARIANTS, Config,
                                     ConfigError)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def validate_values(c: Config, sections: Sequence[str] = ALL_SECTIONS) -> None:
    """Range and consistency checks that need no file system."""
    if set(sections) == set(ALL_SECTIONS):
        _require(bool(c.pipeline_name.strip()), "'pipeline_name' must not be empty")
        _require(bool(c.pipeline_root), "'pipeline_root' must not be empty")
    for name in sections:
        _SECTION_VALIDATORS[name](c)


def _validate_data(c: Config) -> None:
    d = c.data
    _require(d.format in DATA_FORMATS,
             f"'data.format' must be one of {', '.join(DATA_FORMATS)}, got '{d.format}'")
    _require(bool(d.train), "'data.train' is required: a file pattern or folder of training data")
    _require(1 <= d.eval_percent <= 50, "'data.eval_percent' must be between 1 and 50")
    _require(1 <= d.validation_percent <= 50,
             "'data.validation_percent' must be between 1 and 50 (the share of train held out "
             "for early stopping and tuning)")
    _validate_modality(d)
    _require(bool(d.label_key), "'data.label_key' must not be empty")
    _require(d.input_key != d.label_key,
             f"'data.{d.modality}_key' and 'data.label_key' must differ")
    p = d.pixels
    _require(p.height > 0 and p.width > 0, "'data.pixels.height' and 'width' must be positive")
    _require(p.channels in (1, 3), "'data.pixels.channels' must be 1 or 3")
    _require(p.max_value > p.min_value, "'data.pixels.max_value' must exceed 'min_value'")
    _require(d.span_window >= 1, "'data.span_window' must be at least 1")
    _require(d.max_image_pixels > 0, "'data.max_image_pixels' must be positive")
    _require(0 < d.max_label_drift <= 1, "'data.max_label_drift' must be in (0, 1]: the "
             "largest L-infinity distance between two label distributions that passes")
    spans = [k for k in ("train", "eval") if SPAN in (getattr(d, k) or "")]
    _require(not d.eval or len(spans) in (0, 2),
             "'data.train' and 'data.eval' must both contain {SPAN} or neither")
    _require(d.span_window == 1 or spans, "'data.span_window' > 1 needs {SPAN} in 'data.train'")


def _validate_modality(d) -> None:
    """Exactly one of image_key and text_key; a format that carries that modality."""
    _require(not (d.text_key and d.image_key),
             f"set only one of 'data.image_key' ({d.image_key!r}) and 'data.text_key' "
             f"({d.text_key!r}): the one set names the model's input, and so its modality")
    _require(bool(d.text_key or d.image_key),
             "set 'data.image_key' (images) or 'data.text_key' (text): neither is set")
    if d.modality == TEXT:
        _require(d.format not in IMAGE_ONLY_FORMATS,
                 f"'data.format' {d.format} holds images, but 'data.text_key' is set: text "
                 f"data is tfrecord (a bytes feature of UTF-8 text) or csv")
    else:
        _require(d.format not in TEXT_ONLY_FORMATS,
                 f"'data.format' {d.format} is for text: set 'data.text_key' to the text "
                 "column (and unset data.image_key)")


def _validate_backbone(c: Config) -> None:
    _require(bool(c.backbone.handle) or bool(c.tune.backbones),
             "'backbone.handle' is required (or candidates in 'tune.backbones'): a TF-Hub URL, "
             "a local SavedModel directory or a gs:// path (try `hubtune backbone export`)")
    _require(32 <= c.backbone.input_size <= 1024, "'backbone.input_size' must be 32..1024")
    _require(c.backbone.flip_views in FLIP_VIEWS,
             f"'backbone.flip_views' must be one of {FLIP_VIEWS} (views averaged per image)")
    _require(8 <= c.backbone.max_seq_length <= 512,
             "'backbone.max_seq_length' must be 8..512 word pieces")
    if c.data.modality != TEXT:
        _require(not c.backbone.preprocessor,
                 "'backbone.preprocessor' is a text model's preprocessor, but the data are "
                 "images (data.image_key): remove it, or set data.text_key")
    else:
        _require(c.backbone.flip_views == 1,
                 "'backbone.flip_views' averages image features over flipped views, but the "
                 "data are text (data.text_key): remove it")
        _require(not c.tune.backbones,
                 "'tune.backbones' chooses among image backbones; for text, tune the head "
                 "with 'tune.max_trials' and set one encoder in 'backbone.handle'")


def _validate_head(c: Config) -> None:
    _require(all(u > 0 for u in c.head.hidden_units), "'head.hidden_units' must be positive")
    _require(0.0 <= c.head.dropout < 1.0, "'head.dropout' must be in [0, 1)")


def _validate_train(c: Config) -> None:
    t = c.train
    _require(t.batch_size > 0, "'train.batch_size' must be positive")
    _require(t.head_epochs > 0, "'train.head_epochs' must be at least 1")
    _require(t.finetune_epochs >= 0, "'train.finetune_epochs' must be >= 0")
    _require(0.0 <= t.finetune_fraction <= 1.0, "'train.finetune_fraction' must be in [0, 1]")
    _require(0.0 < t.finetune_lr_factor <= 1.0, "'train.finetune_lr_factor' must be in (0, 1]")
    _require(0.0 <= t.finetune_learning_rate < 1.0,
             "'train.finetune_learning_rate' must be in [0, 1) (0: head_learning_rate x "
             "finetune_lr_factor)")
    _require(t.head_learning_rate > 0, "'train.head_learning_rate' must be positive")
    _require(t.head_patience >= 1, "'train.head_patience' must be >= 1")
    _require(t.finetune_patience >= 1, "'train.finetune_patience' must be >= 1")
    _require(t.class_weights in CLASS_WEIGHT_CHOICES,
             f"'train.class_weights' must be one of {', '.join(CLASS_WEIGHT_CHOICES)}, "
             f"got {t.class_weights!r}")
    _require(0.0 <= t.label_smoothing < 1.0, "'train.label_smoothing' must be in [0, 1)")
    a = t.augmentation
    for name in ("rotation", "zoom", "contrast"):
        _require(0.0 <= getattr(a, name) < 1.0, f"'train.augmentation.{name}' must be in [0, 1)")


def _validate_tune(c: Config) -> None:
    t = c.tune
    for i, candidate in enumerate(t.backbones):
        _require(bool(candidate.handle), f"'tune.backbones[{i}].handle' is required")
        _require(32 <= candidate.input_size <= 1024,
                 f"'tune.backbones[{i}].input_size' must be 32..1024")
        _require(candidate.flip_views in FLIP_VIEWS,
                 f"'tune.backbones[{i}].flip_views' must be one of {FLIP_VIEWS}")
    # The Tuner tells candidates apart by handle: one handle at two sizes would be one choice.
    handles = [b.handle for b in t.backbones]
    _require(len(set(handles)) == len(handles),
             "'tune.backbones' lists a handle twice: the Tuner chooses among handles, so "
             "export the backbone to a second folder to compare it at another size")
    _require(t.max_trials >= 0, "'tune.max_trials' must be 0 or more")
    _require(bool(t.hidden_units) and all(u > 0 for units in t.hidden_units for u in units),
             "'tune.hidden_units' must be a non-empty list of layer-width lists ([] = no "
             "hidden layer)")
    for key, low, high in (("dropout", 0.0, 1.0), ("head_learning_rate", 0.0, 1.0)):
        bounds = getattr(t, key)
        _require(len(bounds) == 2 and low <= bounds[0] <= bounds[1] < high
                 and (key == "dropout" or bounds[0] > 0),
                 f"'tune.{key}' must be [min, max] within ({low}, {high})")
    _require(bool(t.label_smoothing) and all(0.0 <= v < 1.0 for v in t.label_smoothing),
             "'tune.label_smoothing' must be a non-empty list of values in [0, 1)")


def _validate_eval(c: Config) -> None:
    _require(0.0 <= c.eval.min_accuracy <= 1.0, "'eval.min_accuracy' must be in [0, 1]")
    _require(0.0 <= c.eval.max_accuracy_drop <= 1.0, "'eval.max_accuracy_drop' must be in [0, 1]")


def _validate_serving(c: Config) -> None:
    _require(re.fullmatch(MODEL_NAME_PATTERN, c.serving.model_name) is not None,
             f"'serving.model_name' must be a name of letters, digits, '.', '_' and '-' "
             f"starting with a letter or digit (it becomes a folder under serving.base_dir), "
             f"got {c.serving.model_name!r}")
    _require(bool(c.serving.base_dir), "'serving.base_dir' must not be empty")


def _validate_tflite(c: Config) -> None:
    t = c.tflite
    unknown = [v for v in t.variants if v not in TFLITE_VARIANTS]
    _require(not unknown, f"'tflite.variants': unknown {', '.join(map(str, unknown))}; choose "
             f"from {', '.join(TFLITE_VARIANTS)}")
    _require(len(set(t.variants)) == len(t.variants), "'tflite.variants' lists a variant twice")
    _require(t.calibration_examples >= 1, "'tflite.calibration_examples' must be at least 1")
    _require(t.int8_float_layers >= 0, "'tflite.int8_float_layers' must be 0 or more")
    _require(not (t.variants and c.data.modality == TEXT),
             "'tflite.variants' converts image models; a text model tokenizes with TF Text "
             "ops that TFLite's builtin ops lack: set tflite.variants to []")


_SECTION_VALIDATORS = {"data": _validate_data, "backbone": _validate_backbone,
                       "head": _validate_head, "train": _validate_train,
                       "tune": _validate_tune,
                       "eval": _validate_eval, "serving": _validate_serving,
                       "tflite": _validate_tflite}
