"""hubtune's one configuration: typed sections, YAML loading, ``--set`` overrides.

Everything a user changes lives here, validated once before anything runs.  The
same class is rebuilt inside Transform and the Trainer from ``custom_config``, so
no key is spelled twice across modules.
"""

import dataclasses
import difflib
import glob
import os
import typing
from typing import Any, Dict, List, Optional, Sequence

import yaml

DATA_FORMATS = ("tfrecord", "image_folder", "float_pixels")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
CUSTOM_CONFIG_KEY = "hubtune_config"
# What each TFX component receives: only the sections it uses, so that changing,
# say, an eval threshold does not invalidate the Trainer's cache.
TRANSFORM_SECTIONS = ("data",)
TRAINER_SECTIONS = ("data", "backbone", "head", "train")
ALL_SECTIONS = ("data", "backbone", "head", "train", "eval", "serving")
EMBEDDING_CACHE_DIR = "embedding_cache"
# In-process DirectRunner: on the demo data (2 cores) the whole pipeline took 221 s against
# 284 s with multi_processing workers, whose start-up cost each Beam component ~15 s
# (benchmarks/RESULTS.md). Large data: multi_processing, or DataflowRunner remotely.
DEFAULT_BEAM_ARGS = ("--direct_running_mode=in_memory", "--direct_num_workers=1")


class ConfigError(ValueError):
    """A configuration problem, phrased for the person who wrote the YAML."""


@dataclasses.dataclass
class PixelConfig:
    """Shape and value range of ``float_pixels`` data (a flat float list per image)."""
    height: int = 28
    width: int = 28
    channels: int = 1
    min_value: float = 0.0
    max_value: float = 1.0


@dataclasses.dataclass
class DataConfig:
    format: str = "tfrecord"
    train: str = ""
    eval: Optional[str] = None
    eval_percent: int = 25          # hash split of `train` when `eval` is not given
    image_key: str = "image"
    label_key: str = "label"
    pixels: PixelConfig = dataclasses.field(default_factory=PixelConfig)
    span_window: int = 1            # with {SPAN} in train/eval: train on the last N spans


SPAN = "{SPAN}"


@dataclasses.dataclass
class BackboneConfig:
    handle: str = ""
    input_size: int = 224


@dataclasses.dataclass
class HeadConfig:
    hidden_units: List[int] = dataclasses.field(default_factory=lambda: [128])
    dropout: float = 0.2


@dataclasses.dataclass
class AugmentationConfig:
    """Train-time image augmentation, applied on the fly (strength 0 disables)."""
    flip: bool = True
    rotation: float = 0.05          # fraction of a full turn
    zoom: float = 0.1               # fraction of the image size
    contrast: float = 0.1


@dataclasses.dataclass
class TrainConfig:
    batch_size: int = 32
    head_epochs: int = 5
    head_learning_rate: float = 1e-3
    finetune_epochs: int = 3
    finetune_fraction: float = 0.2   # top fraction of backbone variables; 0 skips phase 2
    finetune_lr_factor: float = 0.1  # phase-2 learning rate = head_learning_rate * this
    early_stopping_patience: int = 2
    seed: int = 42
    cache_embeddings: bool = True    # phase 1 on frozen features computed once (no augmentation)
    embedding_cache_dir: str = ""    # shared across runs; "" = <pipeline_root>/embedding_cache
    warm_start: bool = False         # head starts from the last blessed model's head
    augmentation: AugmentationConfig = dataclasses.field(default_factory=AugmentationConfig)


@dataclasses.dataclass
class EvalConfig:
    min_accuracy: float = 0.5
    max_accuracy_drop: float = 0.02


@dataclasses.dataclass
class ServingConfig:
    model_name: str = "hubtune"
    base_dir: str = "serving_models"


@dataclasses.dataclass
class KubeflowConfig:
    """Where and how the compiled pipeline runs on Kubeflow Pipelines / Vertex AI."""
    image: str = ""                  # the pipeline image built from kubeflow/Dockerfile
    pipeline_root: str = ""          # gs://bucket/path (replaces pipeline_root remotely)
    serving_dir: str = ""            # gs://bucket/path (replaces serving.base_dir remotely)
    beam_args: List[str] = dataclasses.field(default_factory=lambda: list(DEFAULT_BEAM_ARGS))
    display_name: str = ""
    trainer_cpu: float = 0.0         # 0 = the orchestrator's default
    trainer_memory_gb: float = 0.0
    trainer_gpu_type: str = "NVIDIA_TESLA_T4"
    trainer_gpu_count: int = 0
    kfp_host: str = ""               # e.g. http://localhost:8080 (kubectl port-forward)
    vertex_project: str = ""
    vertex_region: str = "us-central1"
    service_account: str = ""


@dataclasses.dataclass
class Config:
    pipeline_name: str = "hubtune"
    pipeline_root: str = "pipeline_root"
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    backbone: BackboneConfig = dataclasses.field(default_factory=BackboneConfig)
    head: HeadConfig = dataclasses.field(default_factory=HeadConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)
    serving: ServingConfig = dataclasses.field(default_factory=ServingConfig)
    beam_args: List[str] = dataclasses.field(default_factory=lambda: list(DEFAULT_BEAM_ARGS))
    kubeflow: KubeflowConfig = dataclasses.field(default_factory=KubeflowConfig)

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.pipeline_root, "metadata.sqlite")

    @property
    def serving_model_dir(self) -> str:
        """Where TF Serving's model base path points: ``<base_dir>/<model_name>``."""
        return os.path.join(self.serving.base_dir, self.serving.model_name)

    @property
    def embedding_cache_path(self) -> str:
        return self.train.embedding_cache_dir or os.path.join(self.pipeline_root,
                                                              EMBEDDING_CACHE_DIR)

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------- building


def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _coerce(value: Any, tp, key: str):
    """Checks ``value`` against the field type ``tp``; ints are accepted for floats."""
    origin = typing.get_origin(tp)
    if origin is typing.Union:  # Optional[X]
        if value is None:
            return None
        (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
        return _coerce(value, inner, key)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"'{key}' must be a mapping of keys, got {value!r}")
        return _build(tp, value, key + ".")
    if origin in (list, List):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"'{key}' must be a list, got {value!r}")
        (inner,) = typing.get_args(tp)
        return [_coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, bool) or not isinstance(value, tp):
        raise ConfigError(f"'{key}' must be {_type_name(tp)}, got {value!r}")
    return value


def _build(cls, raw: Dict[str, Any], prefix: str = ""):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in raw.items():
        if name not in fields:
            close = difflib.get_close_matches(name, fields, n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            raise ConfigError(f"unknown config key '{prefix}{name}'{hint}; known keys here: "
                              + ", ".join(prefix + f for f in fields))
        kwargs[name] = _coerce(value, hints[name], prefix + name)
    return cls(**kwargs)


def _parse_override(item: str):
    if "=" not in item:
        raise ConfigError(f"--set takes key=value, got '{item}'")
    key, text = item.split("=", 1)
    try:
        value = yaml.safe_load(text) if text else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {key}: cannot parse value '{text}': {e}") from e
    return key.strip(), value


def apply_overrides(raw: Dict[str, Any], overrides: Sequence[str]) -> Dict[str, Any]:
    """Applies ``a.b.c=value`` overrides (values parsed as YAML) to a raw dict."""
    for item in overrides:
        key, value = _parse_override(item)
        node = raw
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {key}: '{part}' is not a section")
            node = child
        node[parts[-1]] = value
    return raw


def from_dict(raw: Dict[str, Any]) -> Config:
    """Builds and validates a Config (values only; files are checked by check_paths)."""
    if not isinstance(raw, dict):
        raise ConfigError("the config must be a mapping of keys at the top level")
    config = _build(Config, raw)
    validate_values(config)
    return config


def data_from_dict(raw: Dict[str, Any]) -> DataConfig:
    """Rebuilds the ``data`` section alone (what custom components receive)."""
    return _build(DataConfig, raw, "data.")


def _resolve_relative(raw: Dict[str, Any], base_dir: str) -> None:
    """Makes local paths in the YAML relative to the YAML file, not the shell's cwd."""
    def fix(section, key):
        node = raw.get(section) if section else raw
        if isinstance(node, dict) and isinstance(node.get(key), str):
            value = node[key]
            if value and "://" not in value and not os.path.isabs(value):
                node[key] = os.path.normpath(os.path.join(base_dir, value))
    fix(None, "pipeline_root")
    for section, key in (("data", "train"), ("data", "eval"), ("backbone", "handle"),
                         ("serving", "base_dir")):
        fix(section, key)


def load(path: Optional[str], overrides: Sequence[str] = ()) -> Config:
    """Reads a YAML config file, applies ``--set`` overrides, validates values and paths."""
    raw: Dict[str, Any] = {}
    if path:
        if not os.path.isfile(path):
            raise ConfigError(f"config file not found: {path}")
        with open(path) as f:
            try:
                raw = yaml.safe_load(f) or {}
            except yaml.YAMLError as e:
                raise ConfigError(f"{path} is not valid YAML: {e}") from e
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of keys")
        _resolve_relative(raw, os.path.dirname(os.path.abspath(path)))
    config = from_dict(apply_overrides(raw, overrides))
    check_paths(config)
    return config


def to_custom_config(config: Config, sections: Sequence[str]) -> Dict[str, Any]:
    """What crosses into Transform or the Trainer (TFX ``custom_config``)."""
    full = config.to_dict()
    return {CUSTOM_CONFIG_KEY: {name: full[name] for name in sections}}


def from_custom_config(custom_config: Optional[Dict[str, Any]]) -> Config:
    """The Config again (sections not sent keep their defaults and are not validated)."""
    if not custom_config or CUSTOM_CONFIG_KEY not in custom_config:
        raise ConfigError(f"custom_config carries no '{CUSTOM_CONFIG_KEY}': build the "
                          "pipeline with pipeline.pipeline.create_pipeline(config)")
    raw = custom_config[CUSTOM_CONFIG_KEY]
    config = _build(Config, raw)
    validate_values(config, sections=[s for s in ALL_SECTIONS if s in raw])
    return config


# ---------------------------------------------------------------- validation


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
    _require(bool(d.image_key) and bool(d.label_key),
             "'data.image_key' and 'data.label_key' must not be empty")
    _require(d.image_key != d.label_key, "'data.image_key' and 'data.label_key' must differ")
    p = d.pixels
    _require(p.height > 0 and p.width > 0, "'data.pixels.height' and 'width' must be positive")
    _require(p.channels in (1, 3), "'data.pixels.channels' must be 1 or 3")
    _require(p.max_value > p.min_value, "'data.pixels.max_value' must exceed 'min_value'")
    _require(d.span_window >= 1, "'data.span_window' must be at least 1")
    spans = [k for k in ("train", "eval") if SPAN in (getattr(d, k) or "")]
    _require(not d.eval or len(spans) in (0, 2),
             "'data.train' and 'data.eval' must both contain {SPAN} or neither")
    _require(d.span_window == 1 or spans, "'data.span_window' > 1 needs {SPAN} in 'data.train'")


def _validate_backbone(c: Config) -> None:
    _require(bool(c.backbone.handle), "'backbone.handle' is required: a TF-Hub URL, a "
             "local SavedModel directory or a gs:// path (try `hubtune backbone export`)")
    _require(32 <= c.backbone.input_size <= 1024, "'backbone.input_size' must be 32..1024")


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
    _require(t.head_learning_rate > 0, "'train.head_learning_rate' must be positive")
    _require(t.early_stopping_patience >= 1, "'train.early_stopping_patience' must be >= 1")
    a = t.augmentation
    for name in ("rotation", "zoom", "contrast"):
        _require(0.0 <= getattr(a, name) < 1.0, f"'train.augmentation.{name}' must be in [0, 1)")


def _validate_eval(c: Config) -> None:
    _require(0.0 <= c.eval.min_accuracy <= 1.0, "'eval.min_accuracy' must be in [0, 1]")
    _require(0.0 <= c.eval.max_accuracy_drop <= 1.0, "'eval.max_accuracy_drop' must be in [0, 1]")


def _validate_serving(c: Config) -> None:
    _require(bool(c.serving.model_name) and "/" not in c.serving.model_name,
             "'serving.model_name' must be a non-empty name without '/'")
    _require(bool(c.serving.base_dir), "'serving.base_dir' must not be empty")


_SECTION_VALIDATORS = {"data": _validate_data, "backbone": _validate_backbone,
                       "head": _validate_head, "train": _validate_train,
                       "eval": _validate_eval, "serving": _validate_serving}


def is_remote(path: str) -> bool:
    return "://" in path


def image_folder_pattern(folder: str) -> str:
    """The files of an image folder: ``<folder>/<class>/<image>``."""
    return folder.rstrip("/") + "/*/*"


def data_files(pattern: str, data_format: str) -> List[str]:
    """Files a ``data.train``/``data.eval`` value names (a folder means all files in it;
    ``{SPAN}`` matches every span)."""
    pattern = pattern.replace(SPAN, "*")
    if data_format == "image_folder":
        return sorted(p for p in glob.glob(image_folder_pattern(pattern))
                      if p.lower().endswith(IMAGE_EXTENSIONS))
    files = []
    for match in glob.glob(pattern):
        files += glob.glob(os.path.join(match, "*")) if os.path.isdir(match) else [match]
    return sorted(p for p in files if os.path.isfile(p))


def check_paths(c: Config) -> None:
    """Checks that local inputs exist, naming the key and the path when one does not."""
    for key in ("train", "eval"):
        value = getattr(c.data, key)
        if not value or is_remote(value):
            continue
        if c.data.format == "image_folder" and SPAN not in value and not os.path.isdir(value):
            raise ConfigError(f"'data.{key}': folder not found: {value} (image_folder data "
                              "is a folder with one sub-folder of images per class)")
        if not data_files(value, c.data.format):
            what = ("no <class>/<image>.png|jpg files" if c.data.format == "image_folder"
                    else "no files match")
            raise ConfigError(f"'data.{key}': {what}: {value}")
    handle = c.backbone.handle
    if not is_remote(handle):
        if not os.path.isfile(os.path.join(handle, "saved_model.pb")):
            raise ConfigError(f"'backbone.handle': no SavedModel at {handle} (expected "
                              f"{os.path.join(handle, 'saved_model.pb')}); export the demo "
                              "backbone with `hubtune backbone export --out DIR`")
