"""Everything worth showing about one pipeline run, read from ML Metadata and its artifacts.

``hubtune report`` renders it as HTML; ``hubtune status`` summarises several runs.
"""

import dataclasses
import glob
import json
import os
from typing import Dict, List, Optional

import numpy as np
import tensorflow as tf
import tensorflow_model_analysis as tfma
from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2

from hubtune import config as config_lib
from hubtune.config import names
from hubtune.config.names import TRAINING_HISTORY_FILE
from hubtune.pipeline.pipeline import VALIDATOR_ID
from hubtune.runs import mlmd

CONFUSION_PLOT = "multi_class_confusion_matrix_plot"
EVAL_SPLIT = "eval"
MISCLASSIFIED_SHOWN = 5      # eval texts the report shows that the candidate got wrong
MISCLASSIFIED_SCANNED = 512  # of the eval split's first texts
MISCLASSIFIED_BATCH = 32
BINARY_VALUE = "__BYTES_VALUE__"


@dataclasses.dataclass
class FeatureSummary:
    name: str
    kind: str  # "string", "bytes", "int" or "float"
    missing: int
    detail: str  # top values, sizes or range
    counts: Dict[str, float] = dataclasses.field(default_factory=dict)  # value -> count


@dataclasses.dataclass
class SplitStatistics:
    split: str
    examples: int
    features: List[FeatureSummary]


@dataclasses.dataclass
class RunDetails:
    outcome: mlmd.RunOutcome
    history: Optional[Dict] = None  # training_history.json written by run_fn
    statistics: List[SplitStatistics] = dataclasses.field(default_factory=list)
    anomalies: Dict[str, List[str]] = dataclasses.field(default_factory=dict)  # split -> lines
    confusion: Optional[np.ndarray] = None  # [actual, predicted] counts, overall slice
    class_names: List[str] = dataclasses.field(default_factory=list)
    misclassified: List["Misclassified"] = dataclasses.field(default_factory=list)  # text runs


@dataclasses.dataclass
class Misclassified:
    """An eval text the candidate got wrong: what it says, its label, the answer."""
    text: str
    label: str
    predicted: str
    score: float


@dataclasses.dataclass
class ClassScores:
    name: str
    precision: float
    recall: float
    f1: float
    support: int


def class_scores(confusion: np.ndarray, class_names: List[str]) -> List[ClassScores]:
    """Per-class precision, recall and F1 from an [actual, predicted] confusion matrix
    (0 where a class was never predicted or never occurs)."""
    hits = np.diag(confusion)
    predicted, actual = confusion.sum(axis=0), confusion.sum(axis=1)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, actual, out=np.zeros_like(hits), where=actual > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(hits), where=total > 0)
    return [ClassScores(name, float(p), float(r), float(f), int(n))
            for name, p, r, f, n in zip(class_names, precision, recall, f1, actual)]


def _label_text(feature) -> str:
    values = list(feature.bytes_list.value) or list(feature.int64_list.value)
    return ", ".join(v.decode(errors="replace") if isinstance(v, bytes) else str(v)
                     for v in values)


def misclassified_texts(model_uri: str, examples_uri: str, data: config_lib.DataConfig,
                        limit: int = MISCLASSIFIED_SHOWN,
                        scanned: int = MISCLASSIFIED_SCANNED) -> List[Misclassified]:
    """The first ``limit`` of the eval split's first ``scanned`` texts that the Trainer's
    model classifies wrongly (its ``serving_default`` on the raw tf.Examples)."""
    split = _split_dirs(examples_uri).get(EVAL_SPLIT)
    if not split:
        return []
    records = [r.numpy() for r in tf.data.TFRecordDataset(
        sorted(glob.glob(os.path.join(split, "*"))), compression_type="GZIP").take(scanned)]
    serve = tf.saved_model.load(os.path.join(model_uri, "Format-Serving")).signatures[
        names.SERVING_EXAMPLES_SIGNATURE]
    wrong = []
    for start in range(0, len(records), MISCLASSIFIED_BATCH):
        batch = records[start:start + MISCLASSIFIED_BATCH]
        out = serve(examples=tf.constant(batch))
        for record, cls, scores in zip(batch, out[names.CLASSES_OUTPUT].numpy(),
                                       out[names.SCORES_OUTPUT].numpy()):
            features = tf.train.Example.FromString(record).features.feature
            label, predicted = _label_text(features[data.label_key]), cls.decode()
            if label != predicted:
                text = b"".join(features[data.text_key].bytes_list.value)
                wrong.append(Misclassified(text.decode(errors="replace"), label, predicted,
                                           float(scores.max())))
            if len(wrong) == limit:
                return wrong
    return wrong


def _split_dirs(uri: Optional[str]) -> Dict[str, str]:
    if not uri:
        return {}
    return {os.path.basename(d)[len("Split-"):]: d
            for d in sorted(glob.glob(os.path.join(uri, "Split-*")))}


def _feature_summary(feature) -> FeatureSummary:
    name = "/".join(feature.path.step) or feature.name
    kind = feature.WhichOneof("stats")
    if kind == "string_stats":
        s = feature.string_stats
        counts = {v.value: v.frequency for v in s.top_values}
        if BINARY_VALUE in counts:  # TFDV's placeholder for undecodable (image) bytes
            return FeatureSummary(name, "bytes", int(s.common_stats.num_missing),
                                  f"binary (encoded images), {s.avg_length / 1024:.1f} KiB "
                                  "average")
        detail = ", ".join(f"{k}: {int(v)}" for k, v in counts.items())
        return FeatureSummary(name, "string", int(s.common_stats.num_missing),
                              f"{s.unique} unique; {detail}", counts)
    if kind == "bytes_stats":
        s = feature.bytes_stats
        return FeatureSummary(name, "bytes", int(s.common_stats.num_missing),
                              f"{s.avg_num_bytes / 1024:.1f} KiB average, "
                              f"{s.min_num_bytes / 1024:.1f}-{s.max_num_bytes / 1024:.1f} KiB")
    s = feature.num_stats
    counts = {}
    for bucket in s.histograms[0].buckets if s.histograms else []:
        if bucket.sample_count and bucket.high_value - bucket.low_value < 1:
            counts[f"{bucket.low_value:g}"] = bucket.sample_count
    return FeatureSummary(name, "int" if feature.type == feature.INT else "float",
                          int(s.common_stats.num_missing),
                          f"min {s.min:g}, max {s.max:g}, mean {s.mean:.3g}", counts)


def _split_protos(uri: Optional[str], file_name: str, proto_class):
    """(split, parsed proto) for each ``Split-*/<file_name>`` of an artifact."""
    for split, folder in _split_dirs(uri).items():
        path = os.path.join(folder, file_name)
        if os.path.exists(path):
            proto = proto_class()
            proto.ParseFromString(tf.io.gfile.GFile(path, "rb").read())
            yield split, proto


def read_statistics(uri: Optional[str]) -> List[SplitStatistics]:
    """Per split: example count and a one-line summary per feature (StatisticsGen output)."""
    return [SplitStatistics(split, int(dataset.num_examples),
                            [_feature_summary(f) for f in dataset.features])
            for split, stats in _split_protos(uri, "FeatureStats.pb",
                                              statistics_pb2.DatasetFeatureStatisticsList)
            for dataset in stats.datasets]


def read_anomalies(uri: Optional[str]) -> Dict[str, List[str]]:
    """Per split: one line per TFDV anomaly (empty lists when the data was clean)."""
    return {split: [f"{feature}: {info.short_description} ({info.description})"
                    for feature, info in sorted(anomalies.anomaly_info.items())]
            for split, anomalies in _split_protos(uri, "SchemaDiff.pb", anomalies_pb2.Anomalies)}


def read_confusion(evaluation_uri: Optional[str], n_classes: int) -> Optional[np.ndarray]:
    """The candidate's overall confusion matrix (argmax predictions) from TFMA's plots."""
    if not evaluation_uri or n_classes < 1:
        return None
    for plots in tfma.load_plots(evaluation_uri):
        if plots.slice_key.single_slice_keys:
            continue  # overall slice only
        for kv in plots.plot_keys_and_values:
            if kv.key.model_name == "baseline" or kv.key.name != CONFUSION_PLOT:
                continue
            matrix = np.zeros((n_classes, n_classes))
            for entry in kv.value.multi_class_confusion_matrix_at_thresholds.matrices[0].entries:
                matrix[entry.actual_class_id, entry.predicted_class_id] = \
                    entry.num_weighted_examples
            return matrix
    return None


def read_history(model_run_uri: Optional[str]) -> Optional[Dict]:
    path = model_run_uri and os.path.join(model_run_uri, TRAINING_HISTORY_FILE)
    if not path or not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def phase2_outcome(model_run_uri: Optional[str]) -> str:
    """What the Trainer's phase 2 left: "phase 2 kept: fine-tuned", "phase 2 rolled back:
    head", or "head only" (no phase 2 ran)."""
    phases = (read_history(model_run_uri) or {}).get("phases", [])
    if len(phases) < 2:
        return "head only"
    return "phase 2 kept: fine-tuned" if phases[1]["kept"] else "phase 2 rolled back: head"


def run_details(sqlite_path: str, run_id: Optional[str] = None,
                data: Optional[config_lib.DataConfig] = None) -> RunDetails:
    """The run's details; for text data (``data``) also a few misclassified eval texts."""
    outcome = mlmd.run_outcome(sqlite_path, run_id)
    details = RunDetails(outcome=outcome)
    details.history = read_history(outcome.uris.get("Trainer/ModelRun"))
    details.class_names = list(details.history["classes"]) if details.history else []
    details.statistics = read_statistics(outcome.uris.get("StatisticsGen/ExampleStatistics"))
    details.anomalies = read_anomalies(outcome.uris.get(f"{VALIDATOR_ID}/ExampleAnomalies"))
    details.confusion = read_confusion(outcome.evaluation_uri, len(details.class_names))
    examples = next((outcome.uris[f"{node}/Examples"] for node in mlmd.EXAMPLE_GEN_NODES
                     if f"{node}/Examples" in outcome.uris), None)
    if data is not None and data.modality == config_lib.TEXT and outcome.model_uri and examples:
        details.misclassified = misclassified_texts(outcome.model_uri, examples, data)
    return details
