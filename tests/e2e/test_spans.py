"""Scheduled retraining on arriving spans, run for real with the LocalDagRunner.

ELPV images split into spans (``span-{SPAN}`` folders) and a rolling window of
two spans and warm start: each run picks up the newest span, is compared with the latest
blessed model, and pushes a new version; a bad span stops its run without
touching serving, and the next good span trains again.  The embedding cache
embeds only images it has not seen with this backbone.  Every bless threshold sits above
the majority-class rate of that run's eval data.  The runs are a module fixture, so each
test also runs alone (``-k``); about a minute per pipeline run on 2 cores.
"""

import collections
import json
import os

import pytest
import tensorflow as tf

from hubtune.config import names
from hubtune.demo import elpv
from hubtune.demo import spans as spans_demo
from hubtune.pipeline.local_runner import PipelineRunError
from hubtune.runs import local_run, mlmd

pytestmark = pytest.mark.e2e

SUBSET = 240  # images: 3 spans of ~60 train / 20 eval
BLESS_MARGIN = 0.02  # each run's bless threshold sits this far above its eval majority rate
BASE_SETTINGS = ["backbone.input_size=96", "train.batch_size=16",
                 "train.finetune_epochs=1", "train.finetune_fraction=0.2",
                 "eval.max_accuracy_drop=1.0", "data.span_window=2", "train.warm_start=true",
                 "train.class_weights=auto", "data.validation_percent=25",
                 # 20 eval images per span: one image is 0.05 of accuracy, so the TFLite gate
                 # would block on chance; that gate is tested in test_local_pipeline.
                 "tflite.max_accuracy_drop=1.0"]


def versions(config):
    return sorted(v for v in os.listdir(config.serving_model_dir) if v.isdigit())


def history(outcome):
    path = os.path.join(outcome.uris["Trainer/ModelRun"], names.TRAINING_HISTORY_FILE)
    return json.load(open(path))


def embedding_counts(outcome):
    h = history(outcome)
    return h["examples"], h["embedding"]


def majority(rows) -> float:
    labels = collections.Counter(elpv.label_of(probability) for _, probability, _ in rows)
    return max(labels.values()) / len(rows)


def settings(eval_rows) -> list:
    """A bless threshold that always answering the majority class would not reach."""
    return BASE_SETTINGS + [f"eval.min_accuracy={round(majority(eval_rows) + BLESS_MARGIN, 4)}"]


@pytest.fixture(scope="module")
def spans(tmp_path_factory):
    """The data of three spans; span k's run uses ``settings(parts[k - 1][1])``."""
    work = str(tmp_path_factory.mktemp("spans"))
    data_dir = os.path.join(work, "data-spans")
    train, evaluation = elpv.stratified_split(elpv.elpv_records(), limit=SUBSET)
    parts = list(zip(spans_demo.slices(train, 3), spans_demo.slices(evaluation, 3)))
    return work, data_dir, parts


def _corrupt_span_3(data_dir: str):
    """Span 3 with one undecodable image; returns its records and the good image bytes."""
    train_file = os.path.join(spans_demo.span_folder(data_dir, 3), "train", "elpv-train.tfrecord")
    records = [tf.train.Example.FromString(r.numpy())
               for r in tf.data.TFRecordDataset([train_file])]
    good_bytes = records[1].features.feature["image"].bytes_list.value[0]
    records[1].features.feature["image"].bytes_list.value[0] = b"\x89PNG\r\n\x1a\n cut"
    with tf.io.TFRecordWriter(train_file) as writer:
        for ex in records:
            writer.write(ex.SerializeToString())
    return records, good_bytes


def _fixed_span_4(data_dir: str, records, good_bytes) -> None:
    """Span 3's data with the image repaired, arriving as span 4."""
    records[1].features.feature["image"].bytes_list.value[0] = good_bytes
    span4 = os.path.join(spans_demo.span_folder(data_dir, 4), "train")
    os.makedirs(span4)
    with tf.io.TFRecordWriter(os.path.join(span4, "elpv-train.tfrecord")) as writer:
        for ex in records:
            writer.write(ex.SerializeToString())
    os.makedirs(os.path.join(spans_demo.span_folder(data_dir, 4), "eval"))
    os.link(os.path.join(spans_demo.span_folder(data_dir, 3), "eval", "elpv-eval.tfrecord"),
            os.path.join(spans_demo.span_folder(data_dir, 4), "eval", "elpv-eval.tfrecord"))


@pytest.fixture(scope="module")
def span_runs(spans):
    """Spans 1 and 2 arrive and train; a corrupt span 3 stops its run; the repaired data
    arrives as span 4 and trains.  Returns the config, each outcome and the served
    versions after each step."""
    work, data_dir, parts = spans
    runs, served = {}, {}
    for k in (1, 2):
        spans_demo.write_span(data_dir, k, *parts[k - 1])
        config = spans_demo.spans_config(work, data_dir, settings(parts[k - 1][1]))
        runs[k] = local_run.run(config)
        served[k] = versions(config)
    spans_demo.write_span(data_dir, 3, *parts[2])
    records, good_bytes = _corrupt_span_3(data_dir)
    with pytest.raises(PipelineRunError) as failure:
        local_run.run(spans_demo.spans_config(work, data_dir, settings(parts[2][1])))
    runs[3], served[3] = str(failure.value), versions(config)
    _fixed_span_4(data_dir, records, good_bytes)  # span 4's eval data is span 3's
    runs[4] = local_run.run(spans_demo.spans_config(work, data_dir, settings(parts[2][1])))
    served[4] = versions(config)
    return config, runs, served


def test_retraining_on_arriving_spans(spans, span_runs):
    parts = spans[2]
    config, runs, served = span_runs
    first, second, fourth = runs[1], runs[2], runs[4]
    # Every blessed model beats always answering its eval data's majority class.
    for outcome, eval_rows in ((first, parts[0][1]), (second, parts[1][1]),
                               (fourth, parts[2][1])):
        assert outcome.accuracy > majority(eval_rows)
    assert first.span == 1 and first.blessed is True and first.baseline_model_uri is None
    [v1] = served[1]
    assert first.pushed_version == v1
    counts, embedding = embedding_counts(first)
    assert embedding["embedded"] == sum(counts.values()) == len(parts[0][0])
    assert history(first)["warm_started"] is False  # nothing blessed yet

    # Span 2 arrives: trained on the window {1, 2}, compared with v1, pushed as v2.
    assert second.span == 2 and second.blessed is True
    assert second.baseline_model_uri == first.model_uri
    assert second.baseline_accuracy is not None
    assert served[2] == sorted([v1, second.pushed_version])
    counts, embedding = embedding_counts(second)
    # The two-span window: fit and validation together (the eval split is never embedded).
    assert sum(counts.values()) == len(parts[0][0]) + len(parts[1][0])
    # Span 1's images were embedded by the first run; only span 2's are new.
    assert embedding["embedded"] == len(parts[1][0])
    assert history(second)["warm_started"] is True  # the head began from v1's head

    # A bad span 3 (a corrupt image): the run stops, serving is untouched.
    assert "does not decode" in runs[3]
    assert served[3] == served[2]

    # The data is fixed as span 4: the next run trains and pushes again.
    states = {c.node_id: c.state for c in fourth.components}
    assert fourth.span == 4 and states["Trainer"] == "COMPLETE"
    assert fourth.blessed is True and fourth.baseline_model_uri == second.model_uri
    assert len(served[4]) == 3 and fourth.pushed_version in served[4]


def test_a_head_change_retrains_without_embedding_again(spans, span_runs):
    """Same data and backbone, new head config: the Trainer re-runs and embeds nothing."""
    work, data_dir, parts = spans
    config = spans_demo.spans_config(work, data_dir, settings(parts[2][1]) + ["head.dropout=0.3"])
    outcome = local_run.run(config)
    states = {c.node_id: c.state for c in outcome.components}
    assert states["ImportExampleGen"] == "CACHED"
    assert states["Trainer"] == "COMPLETE"
    _, embedding = embedding_counts(outcome)
    assert embedding["embedded"] == 0
    store = mlmd.open_store(config.metadata_path)
    assert len(mlmd.run_ids(store)) == 5
    # In window mode Transform gets the previous run's analyzer cache (so it re-runs, and
    # re-analyses only spans it has not analysed before).
    [transform] = [e for e in store.get_executions() if e.type.endswith("Transform")][-1:]
    inputs = store.get_artifacts_by_id([ev.artifact_id for ev in store.get_events_by_execution_ids(
        [transform.id]) if ev.type == ev.INPUT])
    assert "TransformCache" in {a.type for a in inputs}
