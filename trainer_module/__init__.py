"""Floor 1: only what runs inside TFX Transform and Trainer, importable by dotted path.

``hubtune.trainer_module.preprocessing_fn`` and ``hubtune.trainer_module.run_fn`` are
what the pipeline names (and ``hubtune.trainer_module.tuner.tuner_fn``, imported only by
the Tuner, which alone needs KerasTuner), so container images need no ``module_file`` wheel.
"""

from hubtune.trainer_module.preprocessing import preprocessing_fn
from hubtune.trainer_module.train_and_export import run_fn

__all__ = ["preprocessing_fn", "run_fn"]
