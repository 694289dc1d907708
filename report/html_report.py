"""``hubtune report``: one self-contained HTML page (plots embedded) for a pipeline run."""

import base64
import html
from typing import Iterable, List, Optional, Sequence

from hubtune import config as config_lib
from hubtune.pipeline import evaluator_config
from hubtune.report import plots
from hubtune.runs import formatting, mlmd, run_details
from hubtune.runs.run_details import RunDetails

TEXT_SHOWN = 300  # characters of a misclassified text shown

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1050px;color:#222}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0} td,th{border:1px solid #ddd;padding:4px 10px}
th{background:#f4f4f4;text-align:left} td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#137333;font-weight:600} .bad{color:#b3261e;font-weight:600} .muted{color:#666}
img{max-width:100%} code{background:#f4f4f4;padding:1px 4px}
"""


def _esc(value) -> str:
    return html.escape(str(value))


def _num(value: Optional[float], metric: str = "") -> str:
    return formatting.format_value(value, metric)


def _table(header: Sequence[str], rows: Iterable[Sequence], numeric: Sequence[int] = ()) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(f"<td class='num'>{cell}</td>" if i in numeric else f"<td>{cell}</td>"
                        for i, cell in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _image(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode()
    return f"<img alt='{_esc(alt)}' src='data:image/png;base64,{data}'>"


def _summary(details: RunDetails, config: config_lib.Config) -> str:
    o = details.outcome
    started = formatting.started_text(o.started_ms)
    if o.blessed:
        verdict = "<span class='ok'>BLESSED</span>"
    elif o.blessed is False:
        verdict = "<span class='bad'>NOT BLESSED</span>"
    else:
        verdict = "<span class='bad'>NO DECISION</span> (the run stopped before the Evaluator)"
    items = [f"run <code>{_esc(o.run_id)}</code>, started {started}",
             f"pipeline <code>{_esc(config.pipeline_name)}</code>, root "
             f"<code>{_esc(config.pipeline_root)}</code>",
             f"backbone <code>{_esc(config.backbone.handle)}</code> at "
             f"{config.backbone.input_size}×{config.backbone.input_size}",
             f"decision: {verdict}"]
    if o.span is not None:
        items.insert(1, f"data span {o.span}")
    if o.accuracy is not None:
        items.append(f"eval accuracy {_num(o.accuracy)}")
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _components(details: RunDetails) -> str:
    o = details.outcome
    rows = [(_esc(c.node_id), _esc(c.state), f"{c.seconds:.1f}") for c in o.components]
    out = _table(("component", "state", "seconds"), rows, numeric=(2,))
    for node, error in o.errors.items():
        out += f"<p class='bad'>{_esc(node)} failed:</p><pre>{_esc(error)}</pre>"
    return out


def _training(details: RunDetails) -> str:
    if not details.history:
        return "<p class='muted'>No training history (the Trainer did not run in this run).</p>"
    phases = details.history["phases"]
    rows = []
    for p in phases:
        h = p["history"]
        rows.append((_esc(p["phase"]), p["epochs_run"], p["trained_variables"],
                     _num(min(h["val_loss"])) if h.get("val_loss") else "–",
                     _num(max(h["val_accuracy"])) if h.get("val_accuracy") else "–",
                     "kept" if p.get("kept", True) else "rolled back (did not beat phase 1)"))
    counts = ", ".join(f"{k} {v}" for k, v in details.history.get("examples", {}).items())
    share = details.history.get("validation_percent")
    carved = (f" (the validation split is {share} % of the train split, held out by content "
              "hash; every early stop and the phase-2 rollback use it, never the eval split)"
              if share else "")
    return (f"<p>Train split: {_esc(counts)}{carved}. "
            f"Classes: {_esc(', '.join(details.class_names))}.</p>"
            + _table(("phase", "epochs", "trained variables", "best validation loss",
                      "best validation accuracy", "result"), rows, numeric=(1, 2, 3, 4))
            + _image(plots.training_curves(phases), "training curves"))


def _evaluation(details: RunDetails) -> str:
    o = details.outcome
    if not o.metrics:
        return "<p class='muted'>No evaluation (the run stopped before the Evaluator).</p>"
    acc, loss = evaluator_config.ACCURACY_METRIC, evaluator_config.LOSS_METRIC
    rows = []
    for name in [mlmd.OVERALL] + sorted(s for s in o.metrics if s != mlmd.OVERALL):
        m, b = o.metrics[name], o.baseline_metrics.get(name, {})
        change = (m.get(acc) - b[acc]) if acc in b and acc in m else None
        count = _num(m.get(evaluator_config.COUNT_METRIC), evaluator_config.COUNT_METRIC)
        rows.append((_esc(name), count, _num(m.get(acc)),
                     _num(b.get(acc)), "–" if change is None else f"{change:+.4f}",
                     _num(m.get(loss))))
    out = _table(("slice", "examples", "accuracy", "baseline accuracy", "change", "loss"),
                 rows, numeric=(1, 2, 3, 4, 5))
    if details.confusion is not None:
        out += _class_scores(details) + "<h3>Confusion matrix (overall)</h3>" + _image(
            plots.confusion_matrix(details.confusion, details.class_names), "confusion matrix")
    if details.misclassified:
        out += "<h3>Misclassified eval texts (a few)</h3>" + _table(
            ("text", "label", "predicted", "score"),
            [(_esc(m.text if len(m.text) <= TEXT_SHOWN else m.text[:TEXT_SHOWN] + "…"),
              _esc(m.label), _esc(m.predicted), _num(m.score)) for m in details.misclassified],
            numeric=(3,))
    return out


def _class_scores(details: RunDetails) -> str:
    scores = run_details.class_scores(details.confusion, details.class_names)
    rows = [(_esc(s.name), _num(s.precision), _num(s.recall), _num(s.f1), s.support)
            for s in scores]
    macro = sum(s.f1 for s in scores) / len(scores) if scores else 0.0
    return ("<h3>Per class (overall)</h3>"
            + _table(("class", "precision", "recall", "F1", "eval examples"), rows,
                     numeric=(1, 2, 3, 4))
            + f"<p>macro-F1 {macro:.4f}</p>")


def _data(details: RunDetails, config: config_lib.Config) -> str:
    if not details.statistics:
        return "<p class='muted'>No statistics recorded for this run.</p>"
    rows, label_counts = [], {}
    for split in details.statistics:
        for f in split.features:
            rows.append((_esc(split.split), split.examples, _esc(f.name), f.kind, f.missing,
                         _esc(f.detail)))
            if f.name == config.data.label_key and f.counts:
                label_counts[split.split] = f.counts
    out = _table(("split", "examples", "feature", "type", "missing", "summary"), rows,
                 numeric=(1, 4))
    if label_counts:
        out += _image(plots.label_distribution(label_counts), "label distribution")
    found = {split: lines for split, lines in details.anomalies.items() if lines}
    if found:
        out += "<h3 class='bad'>Anomalies</h3>" + "".join(
            f"<p>{_esc(split)}:</p><ul>" + "".join(f"<li>{_esc(a)}</li>" for a in lines) + "</ul>"
            for split, lines in found.items())
    elif details.anomalies:
        out += "<p class='ok'>No anomalies: the data matches the schema.</p>"
    return out


def _decision(details: RunDetails, config: config_lib.Config) -> str:
    o = details.outcome
    g = config.eval
    lines: List[str] = [f"Thresholds: accuracy ≥ {g.min_accuracy:.4f}; at most "
                        f"{g.max_accuracy_drop:.4f} below the baseline."]
    if o.baseline_model_uri:
        lines.append(f"Baseline: the latest blessed model <code>{_esc(o.baseline_model_uri)}"
                     f"</code> (accuracy {_num(o.baseline_accuracy)}).")
    elif o.blessed is not None:
        lines.append("Baseline: none (no blessed model yet): value threshold only.")
    if o.blessed:
        lines.append("<span class='ok'>Blessed</span>: every threshold passed.")
    elif o.blessed is False:
        lines.append("<span class='bad'>Not blessed</span>:")
        lines += [f"&nbsp;&nbsp;• {_esc(c)}" for c in o.failed_checks]
    if o.servable is False:
        lines.append(f"<span class='bad'>Not servable</span> (InfraValidator): "
                     f"{_esc(o.servable_reason)}")
    if o.tflite_blessed is False:
        lines.append(f"<span class='bad'>TFLite gate</span>: {_esc(o.tflite_reason)}")
    if o.pushed_path:
        lines.append(f"Pushed version <b>{_esc(o.pushed_version)}</b> to "
                     f"<code>{_esc(o.pushed_path)}</code>.")
    else:
        lines.append(f"Nothing pushed; the serving directory <code>"
                     f"{_esc(config.serving_model_dir)}</code> was left untouched.")
    return "<p>" + "<br>".join(lines) + "</p>"


def _tflite(details: RunDetails, config: config_lib.Config) -> str:
    variants = details.outcome.tflite_variants
    if not variants:
        return "<p>No TFLite variants in this run (<code>tflite.variants</code>).</p>"
    rows = [(v["variant"], f"{v['size_bytes'] / 1e6:.2f} MB", _num(v["accuracy"]),
             _num(v["saved_model_accuracy"]), f"{v['drop']:+.4f}", _num(v["agreement"]),
             f"{v['p50_ms']:.1f} ms") for v in variants]
    return (f"<p>Each variant on the eval split, against the SavedModel on the same uint8 "
            f"pixels; allowed drop {config.tflite.max_accuracy_drop:.4f}.</p>"
            + _table(["variant", "size", "accuracy", "SavedModel", "drop",
                      "class agreement", "p50 latency (2 threads)"], rows, numeric=range(1, 7)))


def _settings(settings: dict) -> str:
    return ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                     for k, v in sorted(settings.items()))


def _tuning(details: RunDetails) -> str:
    table = details.outcome.trial_table
    if not table:
        return ("<p>No Tuner in this run (<code>tune.backbones</code>, "
                "<code>tune.max_trials</code>).</p>")
    rows = []
    for t in sorted(table, key=lambda t: (t["status"] != "completed", t.get("val_loss", 0))):
        if t["status"] != "completed":
            rows.append(("–", _esc(t["backbone"]), t["input_size"],
                         f"<span class='bad'>skipped: {_esc(t['reason'])}</span>",
                         "–", "–", "–", "–"))
            continue
        rows.append((_esc(t["trial"]), _esc(t["backbone"]), t["input_size"],
                     _esc(_settings(t["settings"])), _num(t["val_loss"]),
                     _num(t["val_accuracy"]), t["epochs"], f"{t['seconds']:.2f}"))
    chosen = details.outcome.tuned
    return (f"<p>TFX Tuner: heads trained on cached embeddings, objective validation loss. "
            f"Chosen: <code>{_esc(_settings(chosen))}</code>.</p>"
            + _table(("trial", "backbone", "input size", "settings", "validation loss",
                      "validation accuracy", "epochs", "seconds"), rows,
                     numeric=(2, 4, 5, 6, 7)))


def render(details: RunDetails, config: config_lib.Config) -> str:
    sections = [("summary", "Summary", _summary(details, config)),
                ("decision", "Blessing decision and push", _decision(details, config)),
                ("components", "Components", _components(details)),
                ("tuning", "Tuner trials", _tuning(details)),
                ("training", "Training (both phases)", _training(details)),
                ("evaluation", "Evaluation", _evaluation(details)),
                ("tflite", "TFLite variants", _tflite(details, config)),
                ("data", "Data statistics and anomalies", _data(details, config))]
    body = "".join(f"<section id='{sid}'><h2>{_esc(title)}</h2>{content}</section>"
                   for sid, title, content in sections)
    title = f"hubtune run {details.outcome.run_id}"
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_esc(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{_esc(title)}</h1>{body}</body></html>")
