"""The gate's outputs: ``gate.json`` for scripts and ``gate.md`` for a pull-request comment."""

import dataclasses
import json
import os
from typing import Dict, List, Optional

from hubtune.components.atomic_pusher import TFLITE_DIR
from hubtune.edge import edge_metadata
from hubtune.gate.evaluation import GateResult
from hubtune.pipeline import evaluator_config
from hubtune.runs import formatting, mlmd

JSON_NAME = "gate.json"
MARKDOWN_NAME = "gate.md"
METRIC_LABELS = {evaluator_config.ACCURACY_METRIC: "accuracy",
                 evaluator_config.LOSS_METRIC: "loss (cross-entropy)",
                 evaluator_config.COUNT_METRIC: "examples"}


def to_dict(result: GateResult) -> Dict:
    return {
        "passed": result.passed,
        "candidate": dataclasses.asdict(result.candidate),
        "baseline": dataclasses.asdict(result.baseline) if result.baseline else None,
        "eval_data": result.eval_data,
        "thresholds": result.thresholds,
        "checks": [dict(dataclasses.asdict(c), margin=c.margin) for c in result.checks],
        "metrics": result.metrics,
        "baseline_metrics": result.baseline_metrics,
        "notes": result.notes,
        "tflite": tflite_variants(result.candidate.path),
    }


def tflite_variants(model_path: str) -> Optional[Dict]:
    """The candidate's TFLite variants (size, accuracy, drop, latency) when it is a pushed
    version with a tflite/ folder; None otherwise."""
    folder = os.path.join(model_path, TFLITE_DIR)
    if not os.path.exists(os.path.join(folder, edge_metadata.METADATA_FILE)):
        return None
    return edge_metadata.read(folder)["variants"]


def _fmt(value: Optional[float], signed: bool = False, metric: str = "") -> str:
    return formatting.format_value(value, metric, signed)


def class_slices(metrics: Dict[str, Dict[str, float]]) -> List[str]:
    return sorted(s for s in metrics if s != mlmd.OVERALL)


def to_markdown(result: GateResult) -> str:
    verdict = "✅ PASSED" if result.passed else "❌ FAILED"
    lines = [f"## hubtune gate: {verdict}", ""]
    base = result.baseline
    lines += [f"- candidate: `{result.candidate.path}` ({result.candidate.source})",
              f"- baseline: `{base.path}` ({base.source})" if base else "- baseline: none",
              f"- eval data: `{result.eval_data}`"]
    lines += [f"- note: {n}" for n in result.notes]
    lines += ["", "| metric | candidate | baseline | change |", "|---|---:|---:|---:|"]
    overall = result.metrics.get(mlmd.OVERALL, {})
    base_overall = result.baseline_metrics.get(mlmd.OVERALL, {})
    for key, label in METRIC_LABELS.items():
        if key in overall:
            b = base_overall.get(key)
            change = None if b is None else overall[key] - b
            lines.append(f"| {label} | {_fmt(overall[key], metric=key)} | "
                         f"{_fmt(b, metric=key)} | {_fmt(change, True, key)} |")
    acc = evaluator_config.ACCURACY_METRIC
    slices = class_slices(result.metrics)
    if slices:
        lines += ["", "Per-class accuracy:", "", "| class | examples | candidate | baseline |",
                  "|---|---:|---:|---:|"]
        for name in slices:
            m, b = result.metrics[name], result.baseline_metrics.get(name, {})
            count = _fmt(m.get(evaluator_config.COUNT_METRIC), metric=evaluator_config.COUNT_METRIC)
            lines.append(f"| {name.split('=', 1)[-1]} | {count} | "
                         f"{_fmt(m.get(acc))} | {_fmt(b.get(acc))} |")
    lines += ["", "| check | value | bound | margin | result |", "|---|---:|---:|---:|---|"]
    for c in result.checks:
        signed = c.name == "max_accuracy_drop"
        lines.append(f"| {c.name} ({METRIC_LABELS.get(c.metric, c.metric)}"
                     f"{' change' if signed else ''}) | {_fmt(c.value, signed)} | "
                     f"{_fmt(c.bound, signed)} | {_fmt(c.margin, True)} | "
                     f"{'pass' if c.passed else '**FAIL**'} |")
    for c in result.failures:
        short = -(c.margin or 0.0)
        lines += ["", f"**{c.name} failed**: {_fmt(c.value, c.name != 'min_accuracy')} against a "
                  f"bound of {_fmt(c.bound, c.name != 'min_accuracy')}, short by {short:.4f}."]
    variants = tflite_variants(result.candidate.path) or {}
    if variants:
        lines += ["", "| TFLite variant | size | accuracy | drop | p50 latency |",
                  "|---|---:|---:|---:|---:|"]
        lines += [f"| {name} | {v['size_bytes'] / 1e6:.2f} MB | {v['accuracy']:.4f} | "
                  f"{v['drop']:+.4f} | {v['p50_ms']:.1f} ms |" for name, v in variants.items()]
    return "\n".join(lines) + "\n"


def write(result: GateResult, out_dir: str) -> Dict[str, str]:
    os.makedirs(out_dir, exist_ok=True)
    paths = {"json": os.path.join(out_dir, JSON_NAME),
             "markdown": os.path.join(out_dir, MARKDOWN_NAME)}
    with open(paths["json"], "w") as f:
        json.dump(to_dict(result), f, indent=1)
    with open(paths["markdown"], "w") as f:
        f.write(to_markdown(result))
    return paths
