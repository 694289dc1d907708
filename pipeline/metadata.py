"""Reading a pipeline run's outcome from ML Metadata and the Evaluator's output."""

import dataclasses
from typing import Dict, List, Optional, Tuple

import ml_metadata as mlmd
import tensorflow_model_analysis as tfma
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata as tfx_metadata

from pipeline import eval_config

OVERALL = "overall"
STATE_NAMES = {v: k for k, v in metadata_store_pb2.Execution.State.items()}


def connection_config(sqlite_path: str) -> metadata_store_pb2.ConnectionConfig:
    return tfx_metadata.sqlite_metadata_connection_config(sqlite_path)


def open_store(sqlite_path: str) -> mlmd.MetadataStore:
    return mlmd.MetadataStore(connection_config(sqlite_path))


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

    @property
    def accuracy(self) -> Optional[float]:
        return self.metrics.get(OVERALL, {}).get(eval_config.ACCURACY_METRIC)

    @property
    def baseline_accuracy(self) -> Optional[float]:
        return self.baseline_metrics.get(OVERALL, {}).get(eval_config.ACCURACY_METRIC)


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


def failed_checks(evaluation_uri: str) -> List[str]:
    """The thresholds the candidate failed, one readable line each."""
    result = tfma.load_validation_result(evaluation_uri)
    lines = []
    for per_slice in result.metric_validations_per_slice:
        for failure in per_slice.failures:
            threshold = failure.metric_threshold
            if threshold.HasField("change_threshold"):
                bound = (f"change vs baseline >= "
                         f"{threshold.change_threshold.absolute.value:+.4f}")
            else:
                bound = f">= {threshold.value_threshold.lower_bound.value:.4f}"
            what = "change" if failure.metric_key.is_diff else "value"
            lines.append(f"{failure.metric_key.name} {what} {failure.metric_value.double_value.value:.4f}"
                         f" failed threshold {bound}")
    return lines


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
        raise ValueError(f"no pipeline run '{run_id}' in ML Metadata")
    executions = sorted(store.get_executions_by_context(ctx.id),
                        key=lambda e: (e.create_time_since_epoch, e.id))
    return [(_node_id(store, e.id), e) for e in executions]


def run_outcome(sqlite_path: str, run_id: Optional[str] = None) -> RunOutcome:
    """Component states and times, the blessing, metrics and push of one run (latest by default)."""
    store = open_store(sqlite_path)
    ids = run_ids(store)
    if not ids:
        raise ValueError(f"no pipeline runs recorded in {sqlite_path}")
    run_id = run_id or ids[-1]
    outcome = RunOutcome(run_id=run_id, components=[])
    for node_id, execution in _run_executions(store, run_id):
        seconds = max(0.0, (execution.last_update_time_since_epoch
                            - execution.create_time_since_epoch) / 1000.0)
        outcome.components.append(ComponentRun(
            node_id, STATE_NAMES.get(execution.last_known_state, "?"), seconds))
        for artifact in _outputs(store, execution.id):
            props = artifact.custom_properties
            if node_id == "Trainer" and artifact.type == "Model":
                outcome.model_uri = artifact.uri
            elif node_id == "Evaluator" and artifact.type == "ModelBlessing":
                outcome.blessed = bool(props["blessed"].int_value) if "blessed" in props else None
            elif node_id == "Evaluator" and artifact.type == "ModelEvaluation":
                outcome.evaluation_uri = artifact.uri
            elif node_id == "Pusher" and artifact.type == "PushedModel":
                if "pushed" in props and props["pushed"].int_value:
                    outcome.pushed_path = props["pushed_destination"].string_value
    if outcome.evaluation_uri:
        metrics = evaluation_metrics(outcome.evaluation_uri)
        outcome.metrics = metrics.get("candidate", {})
        outcome.baseline_metrics = metrics.get("baseline", {})
        outcome.failed_checks = failed_checks(outcome.evaluation_uri)
    return outcome
