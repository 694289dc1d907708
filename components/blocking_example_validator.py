"""ExampleValidator that *blocks* the run: anomalies or unreadable examples stop it.

TFX's ExampleValidator only records anomalies and lets Transform and the Trainer
go on.  This component runs the same TFDV validation, then also reads every
example to check that its image decodes (or that float pixels have the
configured length, or that its text is one UTF-8 string) and that no split is
empty.  With a curated schema (``data.schema``)
and the statistics of the last validated run (``previous_statistics``), it also runs
TFDV's drift comparator on the label distribution of the train split (an L-infinity
threshold, ``data.max_label_drift``).  Any problem raises
``DataValidationError`` listing each one, so nothing downstream runs.
"""

import copy
import dataclasses
import os
from typing import Any, Dict, List, Optional, Tuple

import tensorflow as tf
from absl import logging
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2
from tfx import types
from tfx.components.example_validator import executor as validator_executor
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ExecutionParameter
from tfx.utils import io_utils, json_utils

from hubtune import config as config_lib
from hubtune.serving import image_limits

EXAMPLES_KEY = "examples"
PREVIOUS_STATISTICS_KEY = "previous_statistics"
DATA_CONFIG_KEY = "data_config"
MAX_LISTED_EXAMPLES = 10
TRAIN_SPLIT = "train"
STATISTICS_FILE_NAME = "FeatureStats.pb"  # StatisticsGen's file in each split folder
DRIFT_ANOMALY_PREFIX = "COMPARATOR_"      # TFDV's drift/skew comparator anomaly types


class DataValidationError(RuntimeError):
    """The data failed validation; the message lists every problem found."""


def describe_anomalies(split: str, anomalies: anomalies_pb2.Anomalies) -> List[str]:
    lines = []
    for feature, info in sorted(anomalies.anomaly_info.items()):
        kinds = ", ".join(anomalies_pb2.AnomalyInfo.Type.Name(r.type) for r in info.reason)
        lines.append(f"split '{split}', feature '{feature}' [{kinds}]: "
                     f"{info.description or info.short_description}")
    if anomalies.HasField("dataset_anomaly_info"):
        info = anomalies.dataset_anomaly_info
        lines.append(f"split '{split}', dataset: {info.description or info.short_description}")
    return lines


def split_statistics(artifact: types.Artifact,
                     split: str) -> statistics_pb2.DatasetFeatureStatisticsList:
    """One split's statistics from a StatisticsGen output artifact."""
    return tfdv.load_stats_binary(os.path.join(
        artifact_utils.get_split_uri([artifact], split), STATISTICS_FILE_NAME))


def label_drift_problems(current: statistics_pb2.DatasetFeatureStatisticsList,
                         previous: statistics_pb2.DatasetFeatureStatisticsList,
                         schema: schema_pb2.Schema, data: config_lib.DataConfig) -> List[str]:
    """TFDV's drift comparator on the label (the schema's own comparators apply as well)."""
    schema = copy.deepcopy(schema)
    label = tfdv.get_feature(schema, data.label_key)
    label.drift_comparator.infinity_norm.threshold = data.max_label_drift
    anomalies = tfdv.validate_statistics(current, schema, previous_statistics=previous)
    drift = anomalies_pb2.Anomalies()
    for feature, info in anomalies.anomaly_info.items():
        reasons = [r for r in info.reason if anomalies_pb2.AnomalyInfo.Type.Name(
            r.type).startswith(DRIFT_ANOMALY_PREFIX)]
        if reasons:
            drift.anomaly_info[feature].reason.extend(reasons)
            drift.anomaly_info[feature].description = " ".join(r.description for r in reasons)
    return [line + " (against the last validated run's train split; if the change is "
            "intended, re-run with a larger data.max_label_drift)"
            for line in describe_anomalies(TRAIN_SPLIT, drift)]


def _label_values(example: tf.train.Example, label_key: str) -> List[str]:
    feature = example.features.feature.get(label_key)
    if feature is None:
        return []
    return [v.decode(errors="replace") if isinstance(v, bytes) else str(v)
            for v in list(feature.bytes_list.value) or list(feature.int64_list.value)]


def _example_label(example: tf.train.Example, label_key: str) -> str:
    if label_key not in example.features.feature:
        return "<no label>"
    return ", ".join(_label_values(example, label_key)) or "<empty label>"


def check_text(feature: tf.train.Feature, data: config_lib.DataConfig) -> str:
    """'' when the text feature holds at most one UTF-8 string (none: the empty text)."""
    values = feature.bytes_list.value
    if feature.HasField("int64_list") or feature.HasField("float_list"):
        return f"'{data.text_key}' holds numbers, not text"
    if len(values) > 1:
        return f"'{data.text_key}' holds {len(values)} strings; it must hold one text"
    try:
        b"".join(values).decode("utf-8")
    except UnicodeDecodeError as e:
        return (f"'{data.text_key}' is not UTF-8 (byte {e.start}: "
                f"{b''.join(values)[e.start:e.start + 4]!r}); re-encode the text as UTF-8")
    return ""


def check_example(example: tf.train.Example, data: config_lib.DataConfig) -> str:
    """'' when the example's image (or text) is usable, else what is wrong with it."""
    if data.modality == config_lib.TEXT:
        if data.text_key not in example.features.feature:
            return f"no '{data.text_key}' feature"
        return check_text(example.features.feature[data.text_key], data)
    feature = example.features.feature.get(data.image_key)
    if feature is None:
        return f"no '{data.image_key}' feature"
    if data.format == "float_pixels":
        p = data.pixels
        expected = p.height * p.width * p.channels
        values = feature.float_list.value
        if len(values) != expected:
            return (f"'{data.image_key}' has {len(values)} floats, expected {expected} "
                    f"({p.height}x{p.width}x{p.channels}); fix data.pixels or the data")
        return ""
    if len(feature.bytes_list.value) != 1:
        return f"'{data.image_key}' must hold exactly one encoded image"
    try:
        image_limits.check_pixels(feature.bytes_list.value[0], data.max_image_pixels, "image")
    except image_limits.ImageTooLarge as e:
        return f"{e}; shrink it or raise data.max_image_pixels"
    try:
        tf.io.decode_image(feature.bytes_list.value[0], expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as e:
        return f"image does not decode ({e.message.splitlines()[0]})"
    return ""


def _capped(problems: List[str], split: str) -> List[str]:
    if len(problems) <= MAX_LISTED_EXAMPLES:
        return problems
    extra = len(problems) - MAX_LISTED_EXAMPLES
    return problems[:MAX_LISTED_EXAMPLES] + [f"... and {extra} more in split '{split}'"]


def scan_split(files: List[str], split: str,
               data: config_lib.DataConfig) -> Tuple[List[str], Dict[str, List[int]]]:
    """(problems with a split's examples: emptiness, then each unreadable example;
    {label: indices of the examples that carry it})."""
    problems, labels, count = [], {}, 0
    for index, record in enumerate(tf.data.TFRecordDataset(files, compression_type="GZIP")):
        count += 1
        example = tf.train.Example.FromString(record.numpy())
        for label in _label_values(example, data.label_key):
            labels.setdefault(label, []).append(index)
        problem = check_example(example, data)
        if problem:
            problems.append(f"split '{split}', example #{index} (label "
                            f"'{_example_label(example, data.label_key)}'): {problem}")
    if count == 0:
        return [f"split '{split}' has no examples: check data.{split} (or data.eval_percent)"], {}
    return _capped(problems, split), labels


def check_split_examples(files: List[str], split: str,
                         data: config_lib.DataConfig) -> List[str]:
    """Problems with a split's examples (``scan_split`` without the labels)."""
    return scan_split(files, split, data)[0]


def unseen_labels(labels_by_split: Dict[str, Dict[str, List[int]]],
                  train_split: str = TRAIN_SPLIT) -> List[str]:
    """Labels of other splits that the train split never has: Transform's vocabulary has no
    class for them (class id -1: a crash on CPU, NaN on GPU), so they are named here."""
    known = set(labels_by_split.get(train_split, {}))
    problems = []
    for split, labels in sorted(labels_by_split.items()):
        if split == train_split:
            continue
        for label, indices in sorted(labels.items()):
            if label not in known:
                shown = ", ".join(f"#{i}" for i in indices[:MAX_LISTED_EXAMPLES])
                more = f" and {len(indices) - MAX_LISTED_EXAMPLES} more" \
                    if len(indices) > MAX_LISTED_EXAMPLES else ""
                problems.append(f"split '{split}', examples {shown}{more}: label '{label}' "
                                f"never occurs in the {train_split} split, so the model has "
                                "no class for it; add training examples of it or remove them")
    return problems


FAILURES_DIR = "failures"


def failure_report_path(node_dir: str, execution_id) -> str:
    """Where a failed validation leaves its message: TFX deletes a failed execution's outputs and
    does not record its exception in ML Metadata, so ``hubtune status`` reads it here."""
    return os.path.join(node_dir, FAILURES_DIR, f"{execution_id}.txt")


class Executor(validator_executor.Executor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]):
        result = super().Do(input_dict, output_dict, exec_properties)
        data = config_lib.data_from_dict(json_utils.loads(exec_properties[DATA_CONFIG_KEY]))
        anomalies_artifact = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.ANOMALIES_KEY])
        problems: List[str] = []
        for split in artifact_utils.decode_split_names(anomalies_artifact.split_names):
            path = os.path.join(artifact_utils.get_split_uri([anomalies_artifact], split),
                                validator_executor.DEFAULT_FILE_NAME)
            anomalies = anomalies_pb2.Anomalies()
            anomalies.ParseFromString(io_utils.read_bytes_file(path))
            problems += describe_anomalies(split, anomalies)
        examples = artifact_utils.get_single_instance(input_dict[EXAMPLES_KEY])
        labels_by_split = {}
        for split in artifact_utils.decode_split_names(examples.split_names):
            files = tf.io.gfile.glob(os.path.join(
                artifact_utils.get_split_uri([examples], split), "*"))
            split_problems, labels_by_split[split] = scan_split(files, split, data)
            problems += split_problems
        problems += unseen_labels(labels_by_split)
        problems += self._drift(input_dict, data)
        if problems:
            error = DataValidationError(
                "data validation failed; nothing was trained or pushed:\n  - "
                + "\n  - ".join(problems)
                + "\nFix the data (or, for an intended change, the schema) and re-run.")
            # Output URIs are <pipeline_root>/<node id>/<output key>/<execution id>.
            output_dir = anomalies_artifact.uri.rstrip("/")
            report = failure_report_path(os.path.dirname(os.path.dirname(output_dir)),
                                         os.path.basename(output_dir))
            io_utils.write_string_file(report, f"{type(error).__name__}: {error}")
            raise error
        return result

    @staticmethod
    def _drift(input_dict: Dict[str, List[types.Artifact]],
               data: config_lib.DataConfig) -> List[str]:
        previous = input_dict.get(PREVIOUS_STATISTICS_KEY) or []
        if not data.schema or not previous:
            return []  # an inferred schema, or the first validated run: nothing to compare
        [current] = input_dict[standard_component_specs.STATISTICS_KEY]
        logging.info("label drift: %s against the last validated statistics %s",
                     current.uri, previous[0].uri)
        schema = io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(
            artifact_utils.get_single_uri(input_dict[standard_component_specs.SCHEMA_KEY])))
        return label_drift_problems(split_statistics(current, TRAIN_SPLIT),
                                    split_statistics(previous[0], TRAIN_SPLIT), schema, data)


class BlockingExampleValidatorSpec(standard_component_specs.ExampleValidatorSpec):
    PARAMETERS = dict(standard_component_specs.ExampleValidatorSpec.PARAMETERS,
                      **{DATA_CONFIG_KEY: ExecutionParameter(type=str)})
    INPUTS = dict(standard_component_specs.ExampleValidatorSpec.INPUTS,
                  **{EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
                     PREVIOUS_STATISTICS_KEY: ChannelParameter(
                         type=standard_artifacts.ExampleStatistics, optional=True)})


class BlockingExampleValidator(base_component.BaseComponent):
    """ExampleValidator plus example checks; fails the run on any problem."""

    SPEC_CLASS = BlockingExampleValidatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, statistics: types.BaseChannel, schema: types.BaseChannel,
                 examples: types.BaseChannel, data: config_lib.DataConfig,
                 previous_statistics: Optional[types.BaseChannel] = None):
        super().__init__(spec=BlockingExampleValidatorSpec(
            statistics=statistics, schema=schema, examples=examples,
            previous_statistics=previous_statistics,
            data_config=json_utils.dumps(dataclasses.asdict(data)),
            exclude_splits=json_utils.dumps([]),
            anomalies=types.Channel(type=standard_artifacts.ExampleAnomalies)))
