"""TFX's standard Tuner, whose executor also writes the trial table the report shows.

TFX's executor keeps only completed trials' scores and values (``tuner_results``).  The
table adds each trial's validation accuracy, epochs and seconds, and the candidate
backbones that were skipped with their reasons (``trainer_module.tuner`` collects them
as ``tuner.trial_table``).  Everything else is TFX's: the same spec, ``tuner_fn``,
``best_hyperparameters`` output, and the Trainer's ``hyperparameters`` input.
"""

import json
import os
from typing import Any, Dict, List

from tfx import types
from tfx.components.tuner import executor as tuner_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils
from tfx.v1.components import Tuner

TRIAL_TABLE_FILE = "trial_table.json"


class TrialTableExecutor(tuner_executor.Executor):
    """TFX's Tuner executor, plus ``trial_table.json`` in the tuner_results artifact."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        if tuner_executor.get_tune_args(exec_properties):
            raise ValueError("TuneArgs is not supported by this Tuner's Executor.")
        tuner = tuner_executor.search(input_dict, exec_properties, self._get_tmp_dir())
        tuner_executor.write_best_hyperparameters(tuner, output_dict)
        results_dir = artifact_utils.get_single_uri(
            output_dict[standard_component_specs.TUNER_RESULTS_KEY])
        io_utils.write_string_file(os.path.join(results_dir, TRIAL_TABLE_FILE),
                                   json.dumps(getattr(tuner, "trial_table", []), indent=1))


class TrialTableTuner(Tuner):
    """``tfx.components.Tuner`` with ``TrialTableExecutor``."""
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(TrialTableExecutor)
