"""``hubtune status``: recent runs, the latest blessed model and what is being served."""

import dataclasses
import os
from typing import Dict, List, Optional

from hubtune import config as config_lib
from hubtune.pipeline.pipeline import VALIDATOR_ID
from hubtune.trainer_module.hyperparameters import BACKBONE as TUNED_BACKBONE_KEY
from hubtune.runs import formatting, mlmd
from hubtune.runs.run_details import read_anomalies
from hubtune.serving import model_store


@dataclasses.dataclass
class RunStatus:
    run_id: str
    started: str
    span: Optional[int]
    components: List[Dict]  # node_id, state, seconds
    blessed: Optional[bool]
    accuracy: Optional[float]
    pushed_version: Optional[str]
    servable: Optional[bool]  # the InfraValidator's verdict (None: not reached)
    servable_reason: str
    tflite_reason: str      # why the TFLite gate blocked the push ("" when it did not)
    tflite_variants: List[Dict]
    anomalies: List[str]  # TFDV anomalies and the data validator's error, if any
    tuned_backbone: str = ""  # the backbone the Tuner chose ("" without a Tuner)


@dataclasses.dataclass
class Status:
    pipeline_root: str
    runs: List[RunStatus]
    latest_blessed: Optional[Dict]  # run_id, model_uri, metrics (overall + per class)
    served_versions: List[str]
    serving_dir: str


def served_versions(serving_dir: str) -> List[str]:
    """Complete numbered versions TF Serving would see (half-written ones are hidden)."""
    return [str(v) for v, path in sorted(model_store.version_dirs(serving_dir).items())
            if os.path.exists(os.path.join(path, "saved_model.pb"))]


def _run_status(outcome: mlmd.RunOutcome) -> RunStatus:
    anomalies = [f"{split}: {line}" for split, lines in
                 read_anomalies(outcome.uris.get(f"{VALIDATOR_ID}/ExampleAnomalies")).items()
                 for line in lines]
    if VALIDATOR_ID in outcome.errors:
        anomalies.append(outcome.errors[VALIDATOR_ID])
    return RunStatus(
        run_id=outcome.run_id, started=formatting.started_text(outcome.started_ms),
        span=outcome.span,
        components=[dataclasses.asdict(c) for c in outcome.components],
        blessed=outcome.blessed, accuracy=outcome.accuracy,
        pushed_version=outcome.pushed_version, servable=outcome.servable,
        servable_reason=outcome.servable_reason,
        tflite_reason=outcome.tflite_reason if outcome.tflite_blessed is False else "",
        tflite_variants=outcome.tflite_variants, anomalies=anomalies,
        tuned_backbone=outcome.tuned.get(TUNED_BACKBONE_KEY, ""))


def collect(config: config_lib.Config, limit: int = 5) -> Status:
    """Reads the last ``limit`` runs (newest first) from the pipeline's ML Metadata."""
    if not os.path.exists(config.metadata_path):
        raise mlmd.MetadataError(f"no ML Metadata at {config.metadata_path}: the pipeline has "
                                 "not run with this config yet (`hubtune run --config ...`)")
    ids = mlmd.run_ids(mlmd.open_store(config.metadata_path))
    shown, latest_blessed = [], None
    for run_id in reversed(ids):  # newest first; stop once both are found
        outcome = mlmd.run_outcome(config.metadata_path, run_id)
        if len(shown) < limit:
            shown.append(outcome)
        if latest_blessed is None and outcome.blessed:
            latest_blessed = outcome
        if len(shown) >= limit and latest_blessed is not None:
            break
    blessed = None if latest_blessed is None else {
        "run_id": latest_blessed.run_id, "model_uri": latest_blessed.model_uri,
        "pushed_version": latest_blessed.pushed_version, "metrics": latest_blessed.metrics}
    return Status(pipeline_root=config.pipeline_root,
                  runs=[_run_status(o) for o in shown], latest_blessed=blessed,
                  served_versions=served_versions(config.serving_model_dir),
                  serving_dir=config.serving_model_dir)


def _decision(run: RunStatus) -> str:
    if run.blessed and run.servable is False:
        return f"blessed, NOT servable ({run.servable_reason}): not pushed"
    if run.blessed and run.tflite_reason:
        return f"blessed, TFLite blocked ({run.tflite_reason}): not pushed"
    if run.blessed:
        return "blessed" + (f", pushed v{run.pushed_version}" if run.pushed_version else "")
    if run.blessed is False:
        return "NOT blessed"
    return "stopped" if any(c["state"] == "FAILED" for c in run.components) else "-"


def format_table(status: Status) -> str:
    """The human-readable view."""
    lines = [f"pipeline root {status.pipeline_root}", "", "recent runs (newest first):"]
    for run in status.runs:
        acc = "" if run.accuracy is None else f"  accuracy {run.accuracy:.4f}"
        span = "" if run.span is None else f"  span {run.span}"
        lines.append(f"  {run.run_id}  {run.started}{span}  {_decision(run)}{acc}")
        if run.tuned_backbone:
            lines.append(f"      backbone chosen by the Tuner: {run.tuned_backbone}")
        for c in run.components:
            lines.append(f"      {c['node_id']:<32} {c['state']:<9} {c['seconds']:7.1f} s")
        lines += [f"      {line}" for line in tflite_lines(run.tflite_variants)]
        for anomaly in run.anomalies:
            lines.append(f"      anomaly: {anomaly.splitlines()[0]}")
            lines += [f"               {more}" for more in anomaly.splitlines()[1:6]]
    lines.append("")
    if status.latest_blessed:
        b = status.latest_blessed
        lines.append(f"latest blessed model: {b['model_uri']} (run {b['run_id']})")
        for name, metrics in sorted(b["metrics"].items()):
            shown = ", ".join(f"{k} {v:.4f}" if not float(v).is_integer() else f"{k} {int(v)}"
                              for k, v in sorted(metrics.items()))
            lines.append(f"    {name}: {shown}")
    else:
        lines.append("latest blessed model: none yet")
    served = ", ".join(status.served_versions) or "none"
    lines.append(f"versions in the serving directory {status.serving_dir}: {served}")
    return "\n".join(lines)


def tflite_lines(variants: List[Dict]) -> List[str]:
    """One line per TFLite variant: size, accuracy, drop against the SavedModel, latency."""
    return [f"TFLite {v['variant']:<8} {v['size_bytes'] / 1e6:6.2f} MB  accuracy "
            f"{v['accuracy']:.4f}  drop {v['drop']:+.4f}  p50 {v['p50_ms']:.1f} ms"
            for v in variants]


def tuner_lines(outcome: mlmd.RunOutcome) -> List[str]:
    """The Tuner's choice (on the validation split) and the candidates it skipped."""
    if not outcome.tuned:
        return []
    trials = [t for t in outcome.trial_table if t["status"] == "completed"]
    settings = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                         for k, v in sorted(outcome.tuned.items()) if k != TUNED_BACKBONE_KEY)
    lines = [f"Tuner: {len(trials)} trials on cached embeddings; chose backbone "
             f"{outcome.tuned.get(TUNED_BACKBONE_KEY)} ({settings})"]
    lines += [f"Tuner skipped {t['backbone']}: {t['reason']}" for t in outcome.trial_table
              if t["status"] == "skipped"]
    return lines


def outcome_lines(outcome: mlmd.RunOutcome, serving_dir: str) -> List[str]:
    """What ``hubtune run`` prints when a run ends: component times, accuracy, decision."""
    lines = [f"run {outcome.run_id}"]
    lines += [f"  {c.node_id:<32} {c.state:<10} {c.seconds:7.1f} s" for c in outcome.components]
    if outcome.accuracy is not None:
        base = (f" (baseline {outcome.baseline_accuracy:.4f})"
                if outcome.baseline_accuracy is not None else " (no baseline yet)")
        lines.append(f"eval accuracy: {outcome.accuracy:.4f}{base}")
    lines += tuner_lines(outcome)
    lines += tflite_lines(outcome.tflite_variants)
    if outcome.blessed and outcome.tflite_blessed is False:
        lines.append("blessed: yes, but the TFLite gate blocked the push - nothing was pushed "
                     f"({serving_dir} untouched): {outcome.tflite_reason}")
    elif outcome.blessed and outcome.servable is False:
        lines.append("blessed: yes, but NOT servable - nothing was pushed "
                     f"({serving_dir} untouched): {outcome.servable_reason}")
    elif outcome.blessed:
        lines.append(f"blessed: yes; served in a fresh server; pushed to {outcome.pushed_path}")
    elif outcome.blessed is False:
        lines.append("blessed: NO - the serving directory was left untouched "
                     f"({serving_dir}). Failed checks:")
        lines += [f"  - {line}" for line in outcome.failed_checks]
    return lines
