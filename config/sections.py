"""The typed sections of hubtune's one configuration, with their defaults.

Each dataclass is one YAML section; ``example.yaml`` beside this file annotates
every key.  Loading and checking live in ``loading`` and ``validation``.
"""

import dataclasses
import os
from typing import Any, Dict, List, Optional

from hubtune.config.serving_defaults import DEFAULT_MAX_IMAGE_PIXELS

DATA_FORMATS = ("tfrecord", "image_folder", "float_pixels", "csv")
IMAGE, TEXT = "image", "text"            # the modalities: data.image_key or data.text_key
IMAGE_ONLY_FORMATS = ("image_folder", "float_pixels")
TEXT_ONLY_FORMATS = ("csv",)
DEFAULT_IMAGE_KEY = "image"
DEFAULT_MAX_SEQ_LENGTH = 128
FLIP_VIEWS = (1, 4, 8)                   # backbone.flip_views: the views averaged per image
# Keys a release renamed -> what to write instead (the unknown-key error says so).
RENAMED_KEYS = {"average_flips": "flip_views: 4 (for true) or 1 (for false)"}
# Texts are cut to max_seq_length x this many bytes before tokenizing: far more than the
# word pieces kept need, and a 1 MB text costs no more than a long review.
TEXT_BYTES_PER_TOKEN = 32
# Keys that hold local paths (section, key): relative values are resolved against the YAML
# file's folder when they come from the file, against the working directory from --set.
PATH_KEYS = ((None, "pipeline_root"), ("data", "train"), ("data", "eval"),
             ("data", "schema"), ("backbone", "handle"), ("backbone", "preprocessor"),
             ("serving", "base_dir"),
             ("train", "embedding_cache_dir"))
# A model name TF Serving accepts and that stays inside serving.base_dir.
MODEL_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]*"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
CUSTOM_CONFIG_KEY = "hubtune_config"
# What each TFX component receives: only the sections it uses, so that changing,
# say, an eval threshold does not invalidate the Trainer's cache.
TRANSFORM_SECTIONS = ("data",)
TRAINER_SECTIONS = ("data", "backbone", "head", "train", "tune")
# Data keys only the data gate reads: not sent to Transform or the Trainer (their caches hold).
VALIDATION_ONLY_DATA_KEYS = ("schema", "max_label_drift")
# With a frozen schema, the largest L-infinity distance between the label distributions of
# this run's and the last validated run's train split (TFDV drift comparator) that passes.
DEFAULT_MAX_LABEL_DRIFT = 0.15
ALL_SECTIONS = ("data", "backbone", "head", "train", "tune", "eval", "serving", "tflite")
EMBEDDING_CACHE_DIR = "embedding_cache"
# No options: Beam's in-process DirectRunner (in_memory, 1 worker).  On the demo data (2
# cores) the whole pipeline took 221 s against 284 s with multi_processing workers, whose
# start-up cost each Beam component ~15 s (benchmarks/RESULTS.md).  Large data:
# multi_processing, or DataflowRunner remotely.  Spelling the defaults out would cost too:
# given any option, each TFX Beam executor packages TFX as an sdist for remote workers
# (~1.4 s and 50 MB each), which the in-process runner never reads.
DEFAULT_BEAM_ARGS = ()


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
    validation_percent: int = 15    # of train, for every choice (early stopping, tuning)
    # Exactly one of image_key and text_key: it names the input feature (or CSV column), and
    # the modality follows.  Unset (None) with no text_key, image_key is "image".
    image_key: Optional[str] = None
    text_key: str = ""              # a string feature (tfrecord) or CSV column of UTF-8 text
    label_key: str = "label"
    pixels: PixelConfig = dataclasses.field(default_factory=PixelConfig)
    span_window: int = 1            # with {SPAN} in train/eval: train on the last N spans
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS  # larger images (by header) are refused
    schema: Optional[str] = None    # the curated schema (`hubtune schema freeze`); None: inferred
    max_label_drift: float = DEFAULT_MAX_LABEL_DRIFT  # with `schema`: L-inf label drift allowed

    def __post_init__(self):
        if self.image_key is None and not self.text_key:
            self.image_key = DEFAULT_IMAGE_KEY

    @property
    def modality(self) -> str:
        return TEXT if self.text_key else IMAGE

    @property
    def input_key(self) -> str:
        """The raw feature the model reads: the text or the image."""
        return self.text_key if self.text_key else (self.image_key or "")


SPAN = "{SPAN}"


@dataclasses.dataclass
class BackboneConfig:
    handle: str = ""
    input_size: int = 224            # images: the backbone's square input size
    # Images: 1, 4 or 8.  With 4 or 8, inference (cache, evaluation, serving) averages the
    # features over that many views of each image: 4 is the image and its horizontal,
    # vertical and double flips; 8 adds their transposes (every symmetry of a square).  It
    # costs that many times the backbone; in training each image is one view, at random.
    flip_views: int = 1
    # Text with a TF-Hub BERT encoder: its preprocessing model (strings -> input_word_ids,
    # input_mask, input_type_ids); "" for a text-embedding SavedModel (strings -> vectors).
    preprocessor: str = ""
    max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH  # text: word pieces per text, [CLS]/[SEP] incl.


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
    # Phase 1 on cached embeddings costs milliseconds an epoch: a generous cap, and early
    # stopping on the validation split decides.
    head_epochs: int = 300
    head_patience: int = 15          # phase-1 epochs without validation-loss improvement
    head_learning_rate: float = 1e-3
    finetune_epochs: int = 3
    finetune_fraction: float = 0.2   # top fraction of backbone variables; 0 skips phase 2
    finetune_lr_factor: float = 0.1  # phase-2 learning rate = head_learning_rate * this,
    finetune_learning_rate: float = 0.0  # unless this is set: then phase 2 uses it as is
    finetune_patience: int = 2       # phase-2 epochs without validation-loss improvement
    class_weights: str = "none"      # none | auto (inverse class frequency in the fit split)
    label_smoothing: float = 0.0     # of the training loss; validation loss stays plain
    seed: int = 42
    cache_embeddings: bool = True    # phase 1 on frozen features computed once (no augmentation)
    embedding_cache_dir: str = ""    # shared across runs; "" = <pipeline_root>/embedding_cache
    warm_start: bool = False         # head starts from the last blessed model's head
    augmentation: AugmentationConfig = dataclasses.field(default_factory=AugmentationConfig)

    @property
    def phase2_learning_rate(self) -> float:
        """finetune_learning_rate when set, else head_learning_rate x finetune_lr_factor (a
        tuned head learning rate then moves phase 2's with it)."""
        return self.finetune_learning_rate or self.head_learning_rate * self.finetune_lr_factor


CLASS_WEIGHT_CHOICES = ("none", "auto")


@dataclasses.dataclass
class TuneConfig:
    """The TFX Tuner's search: backbones and head settings, trials on cached embeddings."""
    backbones: List[BackboneConfig] = dataclasses.field(default_factory=list)  # candidates
    max_trials: int = 0              # 0: TRIALS_PER_BACKBONE per candidate when backbones set
    hidden_units: List[List[int]] = dataclasses.field(
        default_factory=lambda: [[], [128], [256], [512, 128]])   # choices
    dropout: List[float] = dataclasses.field(default_factory=lambda: [0.0, 0.5])  # [min, max]
    head_learning_rate: List[float] = dataclasses.field(
        default_factory=lambda: [1e-4, 1e-2])                     # [min, max], log scale
    label_smoothing: List[float] = dataclasses.field(
        default_factory=lambda: [0.0, 0.1])                       # choices

    @property
    def enabled(self) -> bool:
        return bool(self.backbones) or self.max_trials > 0

    @property
    def trials(self) -> int:
        return self.max_trials or TRIALS_PER_BACKBONE * max(1, len(self.backbones))


TRIALS_PER_BACKBONE = 6


@dataclasses.dataclass
class ThresholdsConfig:
    """The Evaluator's blessing thresholds (YAML section ``eval``)."""
    min_accuracy: float = 0.5
    max_accuracy_drop: float = 0.02


@dataclasses.dataclass
class ServingConfig:
    model_name: str = "hubtune"
    base_dir: str = "serving_models"


TFLITE_VARIANTS = ("float16", "int8", "dynamic")


@dataclasses.dataclass
class TFLiteConfig:
    """Edge models converted from the same run, gated on accuracy, pushed inside the version."""
    variants: List[str] = dataclasses.field(default_factory=list)  # of TFLITE_VARIANTS; []: off
    max_accuracy_drop: float = 0.01   # absolute, against the SavedModel on the eval split
    calibration_examples: int = 200   # int8 calibration images, from the train split
    int8_float_layers: int = 3        # int8: the layers that quantize worst stay float


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
    tune: TuneConfig = dataclasses.field(default_factory=TuneConfig)
    eval: ThresholdsConfig = dataclasses.field(default_factory=ThresholdsConfig)
    serving: ServingConfig = dataclasses.field(default_factory=ServingConfig)
    tflite: TFLiteConfig = dataclasses.field(default_factory=TFLiteConfig)
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
