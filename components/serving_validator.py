"""InfraValidator without Docker: the candidate served by a fresh ``hubtune serve``
before the Pusher may push it.

TFX's InfraValidator needs Docker or Kubernetes to start TF Serving; this component
keeps its contract (an ``InfraBlessing`` with the ``blessed`` property and an
``INFRA_BLESSED`` / ``INFRA_NOT_BLESSED`` file, which the standard Pusher checks) and
does the serving check of ``serving.serving_check`` with requests built from eval
examples.  A model the Evaluator did not bless is not started (nothing would push it).
On Kubeflow the pipeline compiles TFX's own InfraValidator with the TF Serving image.
"""

import dataclasses
import os
from typing import Any, Dict, List

import tensorflow as tf
from absl import logging
from tfx import types
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter
from tfx.utils import io_utils, json_utils, path_utils

from hubtune import config as config_lib
from hubtune.components import candidate_inputs
from hubtune.config.serving_defaults import SERVING_CHECK_EXAMPLES
from hubtune.serving import serving_check

DATA_CONFIG_KEY = "data_config"
EVAL_SPLIT = "eval"
# TFX's InfraBlessing contract (tfx/components/infra_validator/executor.py).
BLESSED_KEY = "blessed"
BLESSED_FILE, NOT_BLESSED_FILE = "INFRA_BLESSED", "INFRA_NOT_BLESSED"
REASON_KEY = "reason"
CHECKED_FILE = "checks.txt"


def eval_records(examples: types.Artifact, limit: int) -> List[bytes]:
    """The first ``limit`` serialized examples of the eval split."""
    files = sorted(tf.io.gfile.glob(os.path.join(
        artifact_utils.get_split_uri([examples], EVAL_SPLIT), "*")))
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").take(limit)
    return [record.numpy() for record in dataset]


def mark(blessing: types.Artifact, result: serving_check.CheckResult) -> None:
    """Writes the InfraBlessing as TFX's InfraValidator does, plus the reason and checks."""
    io_utils.write_string_file(
        os.path.join(blessing.uri, BLESSED_FILE if result.blessed else NOT_BLESSED_FILE), "")
    io_utils.write_string_file(os.path.join(blessing.uri, CHECKED_FILE),
                               "\n".join(result.checked + [result.reason]).strip() + "\n")
    blessing.set_int_custom_property(BLESSED_KEY, int(result.blessed))
    if result.reason:
        blessing.set_string_custom_property(REASON_KEY, result.reason)


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        blessing = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.BLESSING_KEY])
        if candidate_inputs.evaluator_refused(input_dict):
            mark(blessing, serving_check.CheckResult(False, candidate_inputs.SKIPPED))
            return
        model = artifact_utils.get_single_instance(input_dict[standard_component_specs.MODEL_KEY])
        data = config_lib.data_from_dict(json_utils.loads(exec_properties[DATA_CONFIG_KEY]))
        records = eval_records(artifact_utils.get_single_instance(
            input_dict[standard_component_specs.EXAMPLES_KEY]), SERVING_CHECK_EXAMPLES)
        result = serving_check.check_candidate(
            path_utils.serving_model_path(model.uri),
            serving_check.requests_from_examples(records, data))
        logging.info("serving check: %s", "INFRA_BLESSED" if result.blessed
                     else f"INFRA_NOT_BLESSED: {result.reason}")
        mark(blessing, result)


class ServingValidatorSpec(ComponentSpec):
    PARAMETERS = {DATA_CONFIG_KEY: ExecutionParameter(type=str)}
    INPUTS = candidate_inputs.INPUTS
    OUTPUTS = {standard_component_specs.BLESSING_KEY: ChannelParameter(
        type=standard_artifacts.InfraBlessing)}


class ServingValidator(base_component.BaseComponent):
    """The candidate in a fresh local server, over REST and gRPC; writes an InfraBlessing."""

    SPEC_CLASS = ServingValidatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, model: types.BaseChannel, examples: types.BaseChannel,
                 data: config_lib.DataConfig, model_blessing: types.BaseChannel = None):
        super().__init__(spec=ServingValidatorSpec(
            model=model, examples=examples, model_blessing=model_blessing,
            data_config=json_utils.dumps(dataclasses.asdict(data)),
            blessing=types.Channel(type=standard_artifacts.InfraBlessing)))
