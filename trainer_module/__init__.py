"""What runs inside TFX Transform and Trainer, importable by dotted path.

``trainer_module.preprocessing_fn`` and ``trainer_module.run_fn`` are what the
pipeline names, so container images need no ``module_file`` wheel.
"""

import os

# TF 2.16 ships Keras 3; TFX 1.16, TF-Hub and TFMA need Keras 2 (tf_keras).
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from trainer_module.preprocessing import preprocessing_fn  # noqa: E402,F401
from trainer_module.trainer import run_fn  # noqa: E402,F401
