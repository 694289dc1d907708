"""SchemaGen that pins the label's domain to the values seen in training, and keeps free
text free.

TFDV infers a string domain for string labels but none for integer labels, so an
eval example labelled 11 in a 0..9 task would pass validation.  This executor
bounds integer labels to the training range, so ExampleValidator reports labels
outside the schema for both kinds.

TFDV also infers a string domain (an enum) for any string feature with at most 100
distinct values in train, text included: with a small train split, every eval review
would then be an "unexpected string value" and block the run.  The text feature is
free text, so its inferred domain is removed.
"""

import os
from typing import Any, Dict, List

from tfx import types
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.components.schema_gen import executor as schema_gen_executor
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.utils import io_utils, json_utils

from hubtune.components import blocking_example_validator

LABEL_KEY_PROPERTY = "label_key"
TEXT_KEY_PROPERTY = "text_key"
TRAIN_SPLIT = blocking_example_validator.TRAIN_SPLIT


def pin_int_label_domain(schema: schema_pb2.Schema, stats, label_key: str) -> bool:
    """Sets an int label's domain to [min, max] of the training statistics."""
    feature = next((f for f in schema.feature if f.name == label_key), None)
    if feature is None or feature.type != schema_pb2.INT:
        return False
    for dataset in stats.datasets:
        for fs in dataset.features:
            name = fs.path.step[-1] if fs.path.step else fs.name
            if name == label_key and fs.HasField("num_stats"):
                feature.int_domain.min = int(fs.num_stats.min)
                feature.int_domain.max = int(fs.num_stats.max)
                feature.int_domain.is_categorical = True
                return True
    return False


def clear_text_domain(schema: schema_pb2.Schema, text_key: str) -> bool:
    """Removes the string domain TFDV inferred for the free-text feature, if any."""
    feature = next((f for f in schema.feature if f.name == text_key), None)
    if feature is None or feature.WhichOneof("domain_info") not in ("domain", "string_domain"):
        return False
    named = feature.domain
    feature.ClearField(feature.WhichOneof("domain_info"))
    shared = {f.domain for f in schema.feature if f.WhichOneof("domain_info") == "domain"}
    if named and named not in shared:
        kept = [d for d in schema.string_domain if d.name != named]
        del schema.string_domain[:]
        schema.string_domain.extend(kept)
    return True


class Executor(schema_gen_executor.Executor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        super().Do(input_dict, output_dict, exec_properties)
        label_key = exec_properties[LABEL_KEY_PROPERTY]
        schema_path = os.path.join(
            artifact_utils.get_single_uri(output_dict[standard_component_specs.SCHEMA_KEY]),
            schema_gen_executor.DEFAULT_FILE_NAME)
        schema = io_utils.SchemaReader().read(schema_path)
        stats_artifact = artifact_utils.get_single_instance(
            input_dict[standard_component_specs.STATISTICS_KEY])
        stats = blocking_example_validator.split_statistics(stats_artifact, TRAIN_SPLIT)
        pinned = pin_int_label_domain(schema, stats, label_key)
        cleared = clear_text_domain(schema, exec_properties.get(TEXT_KEY_PROPERTY) or "")
        if pinned or cleared:
            io_utils.write_pbtxt_file(schema_path, schema)


class LabelSchemaGenSpec(standard_component_specs.SchemaGenSpec):
    PARAMETERS = dict(standard_component_specs.SchemaGenSpec.PARAMETERS,
                      **{LABEL_KEY_PROPERTY: standard_component_specs.ExecutionParameter(type=str),
                         TEXT_KEY_PROPERTY: standard_component_specs.ExecutionParameter(
                             type=str, optional=True)})


class LabelSchemaGen(base_component.BaseComponent):
    """SchemaGen inferring from the train split only, with the label domain pinned and the
    text feature (``text_key``, "" for images) left without a domain."""

    SPEC_CLASS = LabelSchemaGenSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, statistics: types.BaseChannel, label_key: str, text_key: str = ""):
        super().__init__(spec=LabelSchemaGenSpec(
            statistics=statistics,
            infer_feature_shape=1,
            exclude_splits=json_utils.dumps(["eval"]),
            label_key=label_key,
            text_key=text_key,
            schema=types.Channel(type=standard_artifacts.Schema)))
