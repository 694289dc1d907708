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

from hubtune.config.names import TRAINING_HISTORY_FILE
from hubtune.pipeline.pipeline import VALIDATOR_ID
from hubtune.runs import mlmd

CONFUSION_PLOT = "multi_class_confusion_matrix_plot"
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


def run_details(sqlite_path: str, run_id: Optional[str] = None) -> RunDetails:
    outcome = mlmd.run_outcome(sqlite_path, run_id)
    details = RunDetails(outcome=outcome)
    details.history = read_history(outcome.uris.get("Trainer/ModelRun"))
    details.class_names = list(details.history["classes"]) if details.history else []
    details.statistics = read_statistics(outcome.uris.get("StatisticsGen/ExampleStatistics"))
    details.anomalies = read_anomalies(outcome.uris.get(f"{VALIDATOR_ID}/ExampleAnomalies"))
    details.confusion = read_confusion(outcome.evaluation_uri, len(details.class_names))
    return details
