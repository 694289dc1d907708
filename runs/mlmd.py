"""Reading a pipeline run's outcome from ML Metadata and the Evaluator's output."""

import dataclasses
import json
import os
import re
from typing import Dict, List, Optional, Tuple

import ml_metadata as mlmd
import tensorflow_model_analysis as tfma
from ml_metadata.proto import metadata_store_pb2
from tfx.components.evaluator import constants as evaluator_constants
from tfx.orchestration import metadata as tfx_metadata

from hubtune.components import blocking_example_validator, validated_span_window
from hubtune.pipeline import evaluator_config
from hubtune.components import edge_exporter, trial_table_tuner
from hubtune.pipeline.pipeline import (EDGE_EXPORTER_ID, EVALUATOR_ID, INFRA_VALIDATOR_ID,
                                       PUSHER_ID, TRAINER_ID, TUNER_ID)

OVERALL = "overall"
STATE_NAMES = {v: k for k, v in metadata_store_pb2.Execution.State.items()}
EXAMPLE_GEN_NODES = ("ImportExampleGen", "ImageFolderExampleGen", "CsvExampleGen")
_EXECUTION_RESULT = "__execution_result__"
_ERROR_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception): ", re.MULTILINE)


class MetadataError(LookupError):
    """ML Metadata does not hold what was asked for (no runs, unknown run id)."""


def open_store(sqlite_path: str) -> mlmd.MetadataStore:
    return mlmd.MetadataStore(tfx_metadata.sqlite_metadata_connection_config(sqlite_path))


@dataclasses.dataclass
class ComponentRun:
    node_id: str
    state: str
    seconds: float


@dataclasses.dataclass
class RunOutcome:
    run_id: str
    components: List[ComponentRun]
    blessed: Optional[bool] = None
    metrics: Dict[str, Dict[str, float]] = dataclasses.field(default_factory=dict)
    baseline_metrics: Dict[str, Dict[str, float]] = dataclasses.field(default_factory=dict)
    failed_checks: List[str] = dataclasses.field(default_factory=list)
    pushed_path: Optional[str] = None
    model_uri: Optional[str] = None
    evaluation_uri: Optional[str] = None
    started_ms: int = 0
    span: Optional[int] = None
    baseline_model_uri: Optional[str] = None
    pushed_version: Optional[str] = None
    errors: Dict[str, str] = dataclasses.field(default_factory=dict)  # node -> message
    uris: Dict[str, str] = dataclasses.field(default_factory=dict)  # "Node/Type" -> uri
    servable: Optional[bool] = None  # the InfraBlessing: served in a fresh server before push
    servable_reason: str = ""
    tflite_blessed: Optional[bool] = None  # every TFLite variant within its accuracy drop
    tflite_reason: str = ""
    tflite_variants: List[Dict] = dataclasses.field(default_factory=list)  # VariantResult dicts
    tuned: Dict = dataclasses.field(default_factory=dict)  # the Tuner's best values (backbone...)
    trial_table: List[Dict] = dataclasses.field(default_factory=list)  # trials and skipped ones

    @property
    def accuracy(self) -> Optional[float]:
        return self.metrics.get(OVERALL, {}).get(evaluator_config.ACCURACY_METRIC)

    @property
    def baseline_accuracy(self) -> Optional[float]:
        return self.baseline_metrics.get(OVERALL, {}).get(evaluator_config.ACCURACY_METRIC)


def _slice_name(slice_key) -> str:
    parts = []
    for single in slice_key.single_slice_keys:
        value = single.WhichOneof("kind")
        raw = getattr(single, value) if value else ""
        parts.append(f"{single.column}={raw.decode() if isinstance(raw, bytes) else raw}")
    return ", ".join(parts) or OVERALL


def evaluation_metrics(evaluation_uri: str) -> Dict[str, Dict[str, Dict[str, float]]]:
    """{model name ('candidate' or 'baseline'): {slice: {metric: value}}} (diffs left out)."""
    out: Dict[str, Dict[str, Dict[str, float]]] = {}
    for per_slice in tfma.load_metrics(evaluation_uri):
        name = _slice_name(per_slice.slice_key)
        for kv in per_slice.metric_keys_and_values:
            if kv.key.is_diff:
                continue
            if not kv.value.HasField("double_value"):
                continue
            model = "baseline" if kv.key.model_name == "baseline" else "candidate"
            out.setdefault(model, {}).setdefault(name, {})[kv.key.name] = \
                kv.value.double_value.value
    return out


@dataclasses.dataclass
class ThresholdFailure:
    metric: str
    is_change: bool  # True: the change vs the baseline failed; False: the value itself
    value: float
    bound: float

    def describe(self) -> str:
        what = "change vs baseline" if self.is_change else "value"
        return (f"{self.metric} {what} {self.value:+.4f} is below the bound {self.bound:+.4f} "
                f"by {self.bound - self.value:.4f}") if self.is_change else (
                f"{self.metric} {what} {self.value:.4f} is below the bound {self.bound:.4f} "
                f"by {self.bound - self.value:.4f}")


def threshold_failures(evaluation_uri: str) -> List[ThresholdFailure]:
    """The thresholds TFMA's validation says the candidate failed."""
    result = tfma.load_validation_result(evaluation_uri)
    failures = []
    for per_slice in result.metric_validations_per_slice:
        for failure in per_slice.failures:
            threshold = failure.metric_threshold
            is_change = failure.metric_key.is_diff
            bound = (threshold.change_threshold.absolute.value if is_change
                     else threshold.value_threshold.lower_bound.value)
            failures.append(ThresholdFailure(failure.metric_key.name, is_change,
                                             failure.metric_value.double_value.value, bound))
    return failures


def failed_checks(evaluation_uri: str) -> List[str]:
    """The thresholds the candidate failed, one readable line each."""
    return [f.describe() for f in threshold_failures(evaluation_uri)]


def _node_id(store: mlmd.MetadataStore, execution_id: int) -> str:
    for ctx in store.get_contexts_by_execution(execution_id):
        if ctx.type == "node":
            return ctx.name.split(".", 1)[-1]
    return "?"


def _outputs(store: mlmd.MetadataStore, execution_id: int) -> List[metadata_store_pb2.Artifact]:
    events = store.get_events_by_execution_ids([execution_id])
    ids = [e.artifact_id for e in events if e.type in (metadata_store_pb2.Event.OUTPUT,
                                                       metadata_store_pb2.Event.DECLARED_OUTPUT)]
    return store.get_artifacts_by_id(ids) if ids else []


def run_ids(store: mlmd.MetadataStore) -> List[str]:
    """Pipeline run ids, oldest first."""
    runs = store.get_contexts_by_type("pipeline_run")
    return [c.name for c in sorted(runs, key=lambda c: (c.create_time_since_epoch, c.id))]


def _run_executions(store, run_id: str) -> List[Tuple[str, metadata_store_pb2.Execution]]:
    ctx = store.get_context_by_type_and_name("pipeline_run", run_id)
    if ctx is None:
        raise MetadataError(f"no pipeline run '{run_id}' in ML Metadata")
    executions = sorted(store.get_executions_by_context(ctx.id),
                        key=lambda e: (e.create_time_since_epoch, e.id))
    return [(_node_id(store, e.id), e) for e in executions]


def execution_error(execution: metadata_store_pb2.Execution) -> Optional[str]:
    """The exception message TFX recorded for a failed execution (traceback stripped)."""
    if _EXECUTION_RESULT not in execution.custom_properties:
        return None
    result = json.loads(execution.custom_properties[_EXECUTION_RESULT].string_value)
    message = result.get("resultMessage", "")
    starts = [m.start() for m in _ERROR_LINE.finditer(message)]
    return message[starts[-1]:].strip() if starts else message.strip() or None


def _failure_report(sqlite_path: str, node_id: str, execution_id: int) -> Optional[str]:
    """The message a failed data validation left beside its outputs (ML Metadata is in the root)."""
    path = blocking_example_validator.failure_report_path(
        os.path.join(os.path.dirname(sqlite_path), node_id), execution_id)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return f.read().strip()


def node_outputs(store: mlmd.MetadataStore, node_ids: Tuple[str, ...],
                 type_name: str) -> List[metadata_store_pb2.Artifact]:
    """Artifacts of ``type_name`` that the given pipeline nodes produced, oldest first."""
    found = []
    for ctx in store.get_contexts_by_type("node"):
        if ctx.name.split(".", 1)[-1] not in node_ids:
            continue
        for execution in store.get_executions_by_context(ctx.id):
            found += [a for a in _outputs(store, execution.id) if a.type == type_name]
    return sorted({a.id: a for a in found}.values(), key=lambda a: a.id)


def latest_model(store: mlmd.MetadataStore) -> Optional[metadata_store_pb2.Artifact]:
    """The Trainer's most recent Model artifact."""
    models = node_outputs(store, (TRAINER_ID,), "Model")
    return models[-1] if models else None


def latest_blessed_model(store: mlmd.MetadataStore) -> Optional[metadata_store_pb2.Artifact]:
    """The Model of the most recent blessing (what the pipeline's resolver compares against)."""
    for blessing in reversed(node_outputs(store, (EVALUATOR_ID,), "ModelBlessing")):
        props = blessing.custom_properties
        if "blessed" in props and props["blessed"].int_value == 1:
            [model] = store.get_artifacts_by_id([props["current_model_id"].int_value])
            return model
    return None


def latest_examples(store: mlmd.MetadataStore) -> Optional[metadata_store_pb2.Artifact]:
    """ExampleGen's most recent Examples that passed data validation (a rejected span's
    examples, e.g. with undecodable images, are not what a model should be judged on)."""
    examples = node_outputs(store, EXAMPLE_GEN_NODES, "Examples")
    passed = validated_span_window.validated_ids(store, [a.id for a in examples])
    examples = [a for a in examples if a.id in passed]
    return examples[-1] if examples else None


def _record_tflite(outcome: RunOutcome, props) -> None:
    if edge_exporter.BLESSED_KEY in props:
        outcome.tflite_blessed = bool(props[edge_exporter.BLESSED_KEY].int_value)
    if edge_exporter.REASON_KEY in props:
        outcome.tflite_reason = props[edge_exporter.REASON_KEY].string_value
    if edge_exporter.VARIANTS_KEY in props:
        outcome.tflite_variants = json.loads(props[edge_exporter.VARIANTS_KEY].string_value)


def _read_json(path: str):
    with open(path) as f:
        return json.load(f)


def _record_tuner(outcome: RunOutcome) -> None:
    """The Tuner's best values (TFX's best_hyperparameters file) and its trial table."""
    best_dir = outcome.uris.get(f"{TUNER_ID}/HyperParameters")
    if best_dir and os.path.isdir(best_dir) and os.listdir(best_dir):
        [name] = os.listdir(best_dir)  # TFX writes one file; the Trainer reads the only one
        outcome.tuned = _read_json(os.path.join(best_dir, name)).get("values", {})
    results_dir = outcome.uris.get(f"{TUNER_ID}/TunerResults")
    table = results_dir and os.path.join(results_dir, trial_table_tuner.TRIAL_TABLE_FILE)
    if table and os.path.isfile(table):
        outcome.trial_table = _read_json(table)


def _record_output(outcome: RunOutcome, node_id: str, artifact) -> None:
    """Copies what one output artifact says about the run into ``outcome``."""
    props = artifact.custom_properties
    outcome.uris[f"{node_id}/{artifact.type}"] = artifact.uri
    if node_id in EXAMPLE_GEN_NODES and artifact.type == "Examples" and "span" in props:
        outcome.span = props["span"].int_value
    elif node_id == TRAINER_ID and artifact.type == "Model":
        outcome.model_uri = artifact.uri
    elif node_id == EVALUATOR_ID and artifact.type == "ModelBlessing":
        outcome.blessed = bool(props["blessed"].int_value) if "blessed" in props else None
        if evaluator_constants.ARTIFACT_PROPERTY_BASELINE_MODEL_URI_KEY in props:
            outcome.baseline_model_uri = props[
                evaluator_constants.ARTIFACT_PROPERTY_BASELINE_MODEL_URI_KEY].string_value
    elif node_id == EVALUATOR_ID and artifact.type == "ModelEvaluation":
        outcome.evaluation_uri = artifact.uri
    elif node_id == INFRA_VALIDATOR_ID and artifact.type == "InfraBlessing":
        outcome.servable = bool(props["blessed"].int_value) if "blessed" in props else None
        outcome.servable_reason = props["reason"].string_value if "reason" in props else ""
    elif node_id == EDGE_EXPORTER_ID and artifact.type == edge_exporter.TFLiteModels.TYPE_NAME:
        _record_tflite(outcome, props)
    elif node_id == PUSHER_ID and artifact.type == "PushedModel":
        if "pushed" in props and props["pushed"].int_value:
            outcome.pushed_path = props["pushed_destination"].string_value
            outcome.pushed_version = props["pushed_version"].string_value


def _record_execution(outcome: RunOutcome, store, sqlite_path: str, node_id: str,
                      execution) -> None:
    seconds = max(0.0, (execution.last_update_time_since_epoch
                        - execution.create_time_since_epoch) / 1000.0)
    outcome.started_ms = outcome.started_ms or execution.create_time_since_epoch
    outcome.components.append(ComponentRun(
        node_id, STATE_NAMES.get(execution.last_known_state, "?"), seconds))
    if execution.last_known_state == metadata_store_pb2.Execution.FAILED:
        error = execution_error(execution) or _failure_report(sqlite_path, node_id,
                                                              execution.id)
        if error:
            outcome.errors[node_id] = error
    for artifact in _outputs(store, execution.id):
        _record_output(outcome, node_id, artifact)


def run_outcome(sqlite_path: str, run_id: Optional[str] = None) -> RunOutcome:
    """Component states and times, the blessing, metrics and push of one run (latest by default)."""
    store = open_store(sqlite_path)
    ids = run_ids(store)
    if not ids:
        raise MetadataError(f"no pipeline runs recorded in {sqlite_path}")
    run_id = run_id or ids[-1]
    if run_id not in ids:
        raise MetadataError(f"no pipeline run '{run_id}' in {sqlite_path}; runs: {', '.join(ids)}")
    outcome = RunOutcome(run_id=run_id, components=[])
    for node_id, execution in _run_executions(store, run_id):
        _record_execution(outcome, store, sqlite_path, node_id, execution)
    _record_tuner(outcome)
    if outcome.evaluation_uri:
        metrics = evaluation_metrics(outcome.evaluation_uri)
        outcome.metrics = metrics.get("candidate", {})
        outcome.baseline_metrics = metrics.get("baseline", {})
        outcome.failed_checks = failed_checks(outcome.evaluation_uri)
    return outcome
