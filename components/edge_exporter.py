"""EdgeExporter: TFLite variants of the Trainer's model, each measured on the eval split.

A custom component rather than more Trainer code: conversion and its accuracy check
need the exported SavedModel (the Trainer's output), calibration images from the train
split and the raw eval split, and their own cache (changing ``tflite.*`` re-converts
without re-training).  It writes ``<variant>.tflite``, ``labels.txt`` and the metadata
sidecar into a ``TFLiteModels`` artifact whose ``blessed`` property says whether every
variant stays within ``tflite.max_accuracy_drop`` of the SavedModel; the Pusher then
pushes the version with its ``tflite/`` folder, or nothing at all.
"""

import dataclasses
import json
import os
from typing import Any, Dict, List

import tensorflow as tf
from absl import logging
from tfx import types
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.types import artifact_utils, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter
from tfx.utils import json_utils, path_utils

from hubtune import config as config_lib
from hubtune.components import candidate_inputs
from hubtune.edge import edge_metadata, tflite_export, variant_check

TFLITE_MODELS_KEY = "tflite_models"
DATA_CONFIG_KEY, TFLITE_CONFIG_KEY, MODEL_NAME_KEY = "data_config", "tflite_config", "model_name"
BLESSED_KEY, REASON_KEY, VARIANTS_KEY = "blessed", "reason", "variants"
CALIBRATION_SEED = 42


class TFLiteModels(types.Artifact):
    """A folder of ``<variant>.tflite`` files, labels.txt and metadata.json."""
    TYPE_NAME = "hubtune.TFLiteModels"  # KFP v2 needs "<namespace>.<Name>" for custom types


def split_records(examples: types.Artifact, split: str) -> tf.data.Dataset:
    files = sorted(tf.io.gfile.glob(os.path.join(
        artifact_utils.get_split_uri([examples], split), "*")))
    return tf.data.TFRecordDataset(files, compression_type="GZIP")


def calibration_records(examples: types.Artifact, count: int) -> List[bytes]:
    """``count`` train examples, a seeded sample (never eval)."""
    dataset = split_records(examples, "train").shuffle(4 * count, seed=CALIBRATION_SEED)
    return [r.numpy() for r in dataset.take(count)]


def is_blessed(artifact: types.Artifact) -> bool:
    return artifact.get_int_custom_property(BLESSED_KEY) == 1


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        out = artifact_utils.get_single_instance(output_dict[TFLITE_MODELS_KEY])
        if candidate_inputs.evaluator_refused(input_dict):
            out.set_int_custom_property(BLESSED_KEY, 0)
            out.set_string_custom_property(REASON_KEY, candidate_inputs.SKIPPED)
            return
        data = config_lib.data_from_dict(json_utils.loads(exec_properties[DATA_CONFIG_KEY]))
        tflite = config_lib.TFLiteConfig(**json_utils.loads(exec_properties[TFLITE_CONFIG_KEY]))
        model_artifact = artifact_utils.get_single_instance(
            input_dict[standard_component_specs.MODEL_KEY])
        examples = artifact_utils.get_single_instance(
            input_dict[standard_component_specs.EXAMPLES_KEY])
        model = tflite_export.HubtuneModel(path_utils.serving_model_path(model_artifact.uri))
        eval_records = [r.numpy() for r in split_records(examples, "eval")]
        calibration = tflite_export.pixels_from_records(
            calibration_records(examples, tflite.calibration_examples), data, model.input_size)
        results = variant_check.export_and_measure(
            model, tflite.variants, out.uri,
            tflite_export.pixels_from_records(eval_records, data, model.input_size),
            tflite_export.labels_of(eval_records, data.label_key, model.class_names), calibration,
            tflite.int8_float_layers)
        edge_metadata.write(out.uri, edge_metadata.build(
            exec_properties[MODEL_NAME_KEY], "", model.input_size, tflite_export.LABELS_FILE,
            model.class_names, {r.variant: r.to_dict() for r in results}))
        problems = variant_check.drop_problems(results, tflite.max_accuracy_drop)
        out.set_int_custom_property(BLESSED_KEY, int(not problems))
        out.set_string_custom_property(REASON_KEY, "; ".join(problems))
        out.set_string_custom_property(VARIANTS_KEY, json.dumps([r.to_dict() for r in results]))
        for line in problems or [f"TFLite {r.variant}: accuracy {r.accuracy:.4f}, drop "
                                 f"{r.drop:.4f}" for r in results]:
            logging.info(line)


class EdgeExporterSpec(ComponentSpec):
    PARAMETERS = {DATA_CONFIG_KEY: ExecutionParameter(type=str),
                  TFLITE_CONFIG_KEY: ExecutionParameter(type=str),
                  MODEL_NAME_KEY: ExecutionParameter(type=str)}
    INPUTS = candidate_inputs.INPUTS
    OUTPUTS = {TFLITE_MODELS_KEY: ChannelParameter(type=TFLiteModels)}


class EdgeExporter(base_component.BaseComponent):
    """Converts the Trainer's model to the configured TFLite variants and gates their accuracy."""

    SPEC_CLASS = EdgeExporterSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, model: types.BaseChannel, examples: types.BaseChannel,
                 config: config_lib.Config, model_blessing: types.BaseChannel = None):
        data = {k: v for k, v in dataclasses.asdict(config.data).items()
                if k not in config_lib.VALIDATION_ONLY_DATA_KEYS}
        super().__init__(spec=EdgeExporterSpec(
            model=model, examples=examples, model_blessing=model_blessing,
            data_config=json_utils.dumps(data),
            tflite_config=json_utils.dumps(dataclasses.asdict(config.tflite)),
            model_name=config.serving.model_name,
            tflite_models=types.Channel(type=TFLiteModels)))
