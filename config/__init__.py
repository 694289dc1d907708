"""Floor 0: hubtune's one configuration. Imports nothing else of hubtune.

``sections`` holds the typed dataclasses (one per YAML section; ``example.yaml``
beside them annotates every key), ``loading`` builds them from YAML, ``--set``
overrides and TFX ``custom_config``, ``validation`` checks values and ``paths`` the
files a config names.  ``names`` holds the names every stage shares (features,
signatures, files) and ``serving_defaults`` the serving constants.
"""

import os

from hubtune.config.loading import (apply_overrides, data_from_dict, from_custom_config,
                                    from_dict, load, to_custom_config)
from hubtune.config.paths import check_paths, data_files, image_folder_pattern, is_remote
from hubtune.config.sections import (ALL_SECTIONS, CUSTOM_CONFIG_KEY, DATA_FORMATS,
                                     DEFAULT_BEAM_ARGS, EMBEDDING_CACHE_DIR, IMAGE,
                                     IMAGE_EXTENSIONS, TEXT, TEXT_BYTES_PER_TOKEN,
                                     PATH_KEYS, SPAN, TRAINER_SECTIONS, TRANSFORM_SECTIONS,
                                     AugmentationConfig, BackboneConfig, Config, ConfigError,
                                     DataConfig, HeadConfig, KubeflowConfig, PixelConfig,
                                     ServingConfig, TFLITE_VARIANTS, TFLiteConfig,
                                     VALIDATION_ONLY_DATA_KEYS,
                                     ThresholdsConfig, TrainConfig, TuneConfig)
from hubtune.config.validation import validate_values

# The annotated reference of every key (installed with the package).
EXAMPLE_YAML = os.path.join(os.path.dirname(__file__), "example.yaml")

__all__ = [
    "apply_overrides", "data_from_dict", "from_custom_config", "from_dict", "load",
    "to_custom_config", "check_paths", "data_files", "image_folder_pattern", "is_remote",
    "ALL_SECTIONS", "CUSTOM_CONFIG_KEY", "DATA_FORMATS", "DEFAULT_BEAM_ARGS",
    "EMBEDDING_CACHE_DIR", "IMAGE", "IMAGE_EXTENSIONS", "TEXT", "TEXT_BYTES_PER_TOKEN",
    "PATH_KEYS", "SPAN", "TRAINER_SECTIONS",
    "TRANSFORM_SECTIONS",
    "AugmentationConfig", "BackboneConfig", "Config", "ConfigError", "DataConfig", "HeadConfig",
    "KubeflowConfig", "PixelConfig", "ServingConfig", "TFLITE_VARIANTS", "TFLiteConfig",
    "ThresholdsConfig", "TrainConfig", "TuneConfig", "VALIDATION_ONLY_DATA_KEYS",
    "validate_values", "EXAMPLE_YAML",
]
