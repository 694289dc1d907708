"""``hubtune gate``: the pipeline's Evaluator, run on its own for CI.

The gate runs TFX's own Evaluator executor with the EvalConfig that
``hubtune.pipeline.evaluator_config`` builds for the pipeline, so a model passes the gate
exactly when the pipeline would bless it: one definition of the gate, not two.
"""

import dataclasses
import glob
import os
import shutil
import tempfile
from typing import Dict, List, Optional, Tuple

import tensorflow as tf
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import json_utils, proto_utils

from hubtune import config as config_lib
from hubtune.pipeline import evaluator_config
from hubtune.pipeline.scratch_dir import scratch_dir
from hubtune.runs import mlmd
from hubtune.trainer_module import export

LATEST_BLESSED = "latest-blessed"
NO_BASELINE = "none"
EVAL_SPLIT = "eval"

PASSED, FAILED, ERROR = 0, 1, 2  # exit codes


class GateError(RuntimeError):
    """The gate could not evaluate (missing model, bad data, bad config): exit code 2."""


@dataclasses.dataclass
class ModelRef:
    """Which model was evaluated: its SavedModel path and, if known, its ML Metadata id."""
    path: str
    source: str  # "pipeline root", "path" or "latest blessed"
    artifact_id: Optional[int] = None
    fingerprint: Optional[str] = None


@dataclasses.dataclass
class Check:
    name: str
    metric: str
    value: Optional[float]
    bound: float
    passed: bool

    @property
    def margin(self) -> Optional[float]:
        return None if self.value is None else self.value - self.bound


@dataclasses.dataclass
class GateResult:
    passed: bool
    candidate: ModelRef
    baseline: Optional[ModelRef]
    metrics: Dict[str, Dict[str, float]]  # slice -> metric -> value
    baseline_metrics: Dict[str, Dict[str, float]]
    checks: List[Check]
    thresholds: Dict[str, float]
    eval_data: str
    notes: List[str] = dataclasses.field(default_factory=list)

    @property
    def failures(self) -> List[Check]:
        return [c for c in self.checks if not c.passed]


def _fingerprint(saved_model_dir: str) -> Optional[str]:
    """The model's identity (graph and weights), or None when it cannot be read."""
    try:
        return export.saved_model_identity(saved_model_dir)
    except Exception:  # noqa: BLE001 - an unreadable model is reported by the evaluation
        return None


def _require_saved_model(path: str, what: str) -> str:
    if not tf.io.gfile.exists(os.path.join(path, "saved_model.pb")):
        raise GateError(f"{what} {path} is not a SavedModel (no saved_model.pb there); pass the "
                        "folder that holds saved_model.pb, e.g. a pushed version folder")
    return path


def _serving_dir(model_uri: str) -> str:
    return os.path.join(model_uri, "Format-Serving")


def resolve_candidate(config: config_lib.Config, candidate: Optional[str]) -> ModelRef:
    """The given SavedModel, or the latest model the pipeline's Trainer produced."""
    if candidate:
        path = _require_saved_model(candidate, "candidate")
        return ModelRef(path, "path", fingerprint=_fingerprint(path))
    model = _latest(config, mlmd.latest_model)
    if model is None:
        raise GateError(f"no trained model in the pipeline root {config.pipeline_root}: run "
                        "`hubtune run` first or pass --candidate PATH")
    path = _require_saved_model(_serving_dir(model.uri), "the latest trained model")
    return ModelRef(path, "pipeline root", model.id, _fingerprint(path))


def resolve_baseline(config: config_lib.Config, baseline: str) -> Optional[ModelRef]:
    """``latest-blessed`` (the pipeline's own baseline), ``none``, or a SavedModel path."""
    if baseline == NO_BASELINE:
        return None
    if baseline != LATEST_BLESSED:
        path = _require_saved_model(baseline, "baseline")
        return ModelRef(path, "path", fingerprint=_fingerprint(path))
    model = _latest(config, mlmd.latest_blessed_model)
    if model is None:
        return None  # as in the pipeline: no blessed model yet, value thresholds only
    path = _serving_dir(model.uri)
    return ModelRef(path, "latest blessed", model.id, _fingerprint(path))


def _latest(config: config_lib.Config, finder):
    if not os.path.exists(config.metadata_path):
        return None
    return finder(mlmd.open_store(config.metadata_path))


def _model_artifact(ref: ModelRef, staging: str, name: str) -> standard_artifacts.Model:
    """A Model artifact whose serving path (``<uri>/Format-Serving``) is ``ref.path``."""
    uri = os.path.join(staging, name)
    os.makedirs(uri)
    os.symlink(os.path.abspath(ref.path), _serving_dir(uri))
    artifact = standard_artifacts.Model()
    artifact.uri = uri
    artifact.id = ref.artifact_id or 0
    return artifact


def _examples_artifact(config: config_lib.Config, eval_data: Optional[str],
                       staging: str) -> Tuple[standard_artifacts.Examples, str]:
    """Raw tf.Examples: a TFRecord glob, or the eval split of the pipeline's latest ExampleGen."""
    artifact = standard_artifacts.Examples()
    artifact.split_names = artifact_utils.encode_split_names([EVAL_SPLIT])
    if eval_data:
        files = sorted(glob.glob(eval_data))
        if not files:
            raise GateError(f"--eval-data {eval_data} matches no files; give a glob of TFRecord "
                            "files of raw tf.Examples")
        artifact.uri = os.path.join(staging, "examples")
        split_dir = os.path.join(artifact.uri, f"Split-{EVAL_SPLIT}")
        os.makedirs(split_dir)
        for i, path in enumerate(files):
            name = f"{i:05d}-{os.path.basename(path)}"  # unique even for equal basenames
            os.symlink(os.path.abspath(path), os.path.join(split_dir, name))
        return artifact, eval_data
    examples = _latest(config, mlmd.latest_examples)
    if examples is None:
        raise GateError(f"no examples in the pipeline root {config.pipeline_root}: run "
                        "`hubtune run` first or pass --eval-data GLOB")
    artifact.uri = examples.uri
    described = os.path.join(examples.uri, f"Split-{EVAL_SPLIT}")
    if not glob.glob(os.path.join(described, "*")):
        raise GateError(f"the eval split {described} is empty or missing")
    return artifact, described


def _checks(config: config_lib.Config, metrics, baseline_metrics,
            failures: List[mlmd.ThresholdFailure]) -> List[Check]:
    """The configured thresholds, each with its value and TFMA's verdict."""
    name = evaluator_config.ACCURACY_METRIC
    failed = {(f.metric, f.is_change) for f in failures}
    value = metrics.get(mlmd.OVERALL, {}).get(name)
    checks = [Check("min_accuracy", name, value, config.eval.min_accuracy,
                    (name, False) not in failed)]
    base = baseline_metrics.get(mlmd.OVERALL, {}).get(name)
    if base is not None:
        change = None if value is None else value - base
        checks.append(Check("max_accuracy_drop", name, change, -config.eval.max_accuracy_drop,
                            (name, True) not in failed))
    return checks


def evaluate(config: config_lib.Config, candidate: Optional[str] = None,
             baseline: str = LATEST_BLESSED, eval_data: Optional[str] = None,
             work_dir: Optional[str] = None) -> GateResult:
    """Runs the Evaluator executor on candidate (and baseline); raises GateError if it cannot."""
    candidate_ref = resolve_candidate(config, candidate)
    baseline_ref = resolve_baseline(config, baseline)
    staging = tempfile.mkdtemp(prefix="hubtune-gate-", dir=work_dir)
    try:
        examples, described = _examples_artifact(config, eval_data, staging)
        inputs = {"examples": [examples],
                  "model": [_model_artifact(candidate_ref, staging, "candidate")]}
        if baseline_ref:
            inputs["baseline_model"] = [_model_artifact(baseline_ref, staging, "baseline")]
        evaluation = standard_artifacts.ModelEvaluation()
        evaluation.uri = os.path.join(staging, "evaluation")
        blessing = standard_artifacts.ModelBlessing()
        blessing.uri = os.path.join(staging, "blessing")
        for artifact in (evaluation, blessing):
            os.makedirs(artifact.uri)
        properties = {
            "eval_config": proto_utils.proto_to_json(evaluator_config.build_eval_config(config)),
            "example_splits": json_utils.dumps([EVAL_SPLIT]),
        }
        context = base_beam_executor.BaseBeamExecutor.Context(
            beam_pipeline_args=list(config.beam_args), tmp_dir=os.path.join(staging, "tmp"),
            unique_id="hubtune-gate")
        try:
            with scratch_dir():
                evaluator_executor.Executor(context).Do(
                    inputs, {"evaluation": [evaluation], "blessing": [blessing]}, properties)
        except Exception as e:  # noqa: BLE001 - any evaluation failure is exit code 2
            raise GateError(f"evaluation failed on {described}: {type(e).__name__}: {e}") from e
        metrics = mlmd.evaluation_metrics(evaluation.uri)
        failures = mlmd.threshold_failures(evaluation.uri)
        blessed = os.path.exists(os.path.join(blessing.uri, "BLESSED"))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    candidate_metrics = metrics.get("candidate", {})
    baseline_metrics = metrics.get("baseline", {})
    if not candidate_metrics:
        raise GateError(f"the evaluation of {candidate_ref.path} produced no metrics")
    notes = [] if baseline_ref or baseline == NO_BASELINE else [
        "no blessed model in the pipeline root yet: value thresholds only"]
    return GateResult(
        passed=blessed, candidate=candidate_ref, baseline=baseline_ref,
        metrics=candidate_metrics, baseline_metrics=baseline_metrics,
        checks=_checks(config, candidate_metrics, baseline_metrics, failures),
        thresholds={"min_accuracy": config.eval.min_accuracy,
                    "max_accuracy_drop": config.eval.max_accuracy_drop},
        eval_data=described, notes=notes)
