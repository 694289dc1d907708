"""The TFX Tuner in the real pipeline: candidate backbones compared on cached embeddings,
on the validation split carved from train; the eval split never reaches the Tuner or the
Trainer.

One tuned run on a small ELPV subset (two usable backbones and one that cannot load) is
shared by the tests of this module.
"""

import dataclasses
import json
import os

import pytest
from tfx.components.trainer import fn_args_utils
from tfx.types import artifact_utils

from hubtune import config as config_lib
from hubtune.config import names
from hubtune.demo import elpv
from hubtune.runs import mlmd
from hubtune.trainer_module import tuner as tuner_module
from tests.conftest import export_tiny_backbone, run_hubtune

pytestmark = pytest.mark.e2e

SUBSET = 120
TRIALS = 4
SETTINGS = ["backbone.input_size=64", "train.batch_size=16", "train.head_epochs=30",
            "train.finetune_epochs=1", "train.finetune_fraction=0.2", "tflite.variants=[]",
            "eval.min_accuracy=0.0", f"tune.max_trials={TRIALS}"]


@pytest.fixture(scope="module")
def tuned_run(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("tuning"))
    tiny = export_tiny_backbone(os.path.join(workdir, "tiny"))
    broken = os.path.join(workdir, "not_a_model")
    os.makedirs(broken)
    lite0 = elpv.prepare_backbone(os.path.join(workdir, "backbones", "efficientnet_lite0"))
    candidates = (f"tune.backbones=[{{handle: {lite0}, input_size: 64}}, "
                  f"{{handle: {tiny}, input_size: 64}}, {{handle: {broken}, input_size: 64}}]")
    config = elpv.demo_config(workdir, limit=SUBSET, overrides=SETTINGS + [candidates])
    path = os.path.join(workdir, "config.yaml")
    elpv.write_config(config, path)
    result = run_hubtune("run", "--config", path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return config, result.stdout, mlmd.run_outcome(config.metadata_path), (lite0, tiny, broken)


def _history(outcome):
    with open(os.path.join(outcome.uris["Trainer/ModelRun"], names.TRAINING_HISTORY_FILE)) as f:
        return json.load(f)


def test_trials_compare_backbones_and_skip_the_one_that_fails(tuned_run):
    config, stdout, outcome, (lite0, tiny, broken) = tuned_run
    assert {c.node_id: c.state for c in outcome.components}["Tuner"] == "COMPLETE"
    completed = [t for t in outcome.trial_table if t["status"] == "completed"]
    [skipped] = [t for t in outcome.trial_table if t["status"] == "skipped"]
    assert len(completed) == TRIALS
    assert {t["backbone"] for t in completed} <= {lite0, tiny}
    assert skipped["backbone"] == broken and "saved_model.pb" in skipped["reason"]
    for trial in completed:
        assert 0 < trial["val_loss"] and 0 <= trial["val_accuracy"] <= 1
        assert 1 <= trial["epochs"] <= 30 and trial["seconds"] > 0
    best = min(completed, key=lambda t: t["val_loss"])
    assert outcome.tuned["backbone"] == best["backbone"]
    assert f"chose backbone {best['backbone']}" in stdout
    assert f"Tuner skipped {broken}" in stdout


def test_trainer_trains_what_the_tuner_chose(tuned_run):
    config, _, outcome, _ = tuned_run
    history = _history(outcome)
    assert history["backbone"]["handle"] == outcome.tuned["backbone"]
    assert history["head"]["dropout"] == pytest.approx(outcome.tuned["dropout"])
    assert history["head_learning_rate"] == pytest.approx(outcome.tuned["head_learning_rate"])
    # The Tuner embedded the winner's images; the Trainer's phase 1 reused every one.
    assert history["embedding"]["embedded"] == 0
    assert outcome.blessed is not None  # evaluated (no threshold asserted on 29 images)


def test_metadata_links_tuner_to_trainer(tuned_run):
    """ML Metadata: Tuner -> best_hyperparameters -> Trainer, in this run."""
    config, _, outcome, _ = tuned_run
    store = mlmd.open_store(config.metadata_path)
    [hyperparameters] = [a for a in store.get_artifacts_by_type("HyperParameters")
                         if a.uri == outcome.uris["Tuner/HyperParameters"]]
    by_execution = {e.id: node for node, e in mlmd._run_executions(store, outcome.run_id)}
    events = store.get_events_by_artifact_ids([hyperparameters.id])
    produced = {by_execution.get(e.execution_id) for e in events if e.type == e.OUTPUT}
    consumed = {by_execution.get(e.execution_id) for e in events if e.type == e.INPUT}
    assert produced == {"Tuner"} and consumed == {"Trainer"}


def test_eval_split_never_reaches_tuner_or_trainer(tuned_run):
    """Transform writes the train split only, and that is all the Tuner and the Trainer get:
    the eval split exists for the Evaluator alone."""
    config, _, outcome, _ = tuned_run
    store = mlmd.open_store(config.metadata_path)
    raw = [a for a in store.get_artifacts_by_type("Examples")
           if a.uri == outcome.uris["ImportExampleGen/Examples"]][0]
    transformed = [a for a in store.get_artifacts_by_type("Examples")
                   if a.uri == outcome.uris["Transform/Examples"]][0]
    assert sorted(artifact_utils.decode_split_names(
        raw.properties["split_names"].string_value)) == ["eval", "train"]
    assert artifact_utils.decode_split_names(
        transformed.properties["split_names"].string_value) == ["train"]
    assert not os.path.exists(os.path.join(transformed.uri, "Split-eval"))
    for node in ("Tuner", "Trainer"):
        inputs = _examples_inputs(store, outcome, node)
        assert inputs == {transformed.id}, node


def _examples_inputs(store, outcome, node_id):
    """Ids of the Examples artifacts ``node_id`` read in this run."""
    ids = set()
    for node, execution in mlmd._run_executions(store, outcome.run_id):
        if node != node_id:
            continue
        events = [e for e in store.get_events_by_execution_ids([execution.id])
                  if e.type == e.INPUT]
        ids |= {a.id for a in store.get_artifacts_by_id([e.artifact_id for e in events])
                if a.type == "Examples"}
    return ids


def test_split_sizes_are_recorded(tuned_run):
    config, _, outcome, _ = tuned_run
    history = _history(outcome)
    counts = history["examples"]
    assert history["validation_percent"] == config.data.validation_percent
    total = counts["fit"] + counts["validation"]
    assert 0.05 < counts["validation"] / total < 0.3


def test_every_candidate_failing_stops_with_the_reasons(tuned_run, tmp_path):
    """tuner_fn on this run's Transform output, every candidate unusable: a clear error."""
    config, _, outcome, (_, _, broken) = tuned_run
    missing = str(tmp_path / "missing")
    bad = dataclasses.replace(config, tune=dataclasses.replace(config.tune, backbones=[
        config_lib.BackboneConfig(broken, 64), config_lib.BackboneConfig(missing, 64)]))
    examples = _artifact(config, outcome.uris["Transform/Examples"], "Examples")
    graph = _artifact(config, outcome.uris["Transform/TransformGraph"], "TransformGraph")
    fn_args = fn_args_utils.get_common_fn_args(
        {"examples": [examples], "transform_graph": [graph]},
        {"train_args": '{"splits": ["train"]}', "eval_args": '{"splits": ["train"]}',
         "custom_config": json.dumps(config_lib.to_custom_config(
             bad, config_lib.TRAINER_SECTIONS))},
        working_dir=str(tmp_path / "work"))
    with pytest.raises(tuner_module.NoUsableBackboneError) as error:
        tuner_module.tuner_fn(fn_args)
    assert broken in str(error.value) and missing in str(error.value)


def _artifact(config, uri, type_name):
    from tfx.types import standard_artifacts
    store = mlmd.open_store(config.metadata_path)
    [proto] = [a for a in store.get_artifacts_by_type(type_name) if a.uri == uri]
    artifact = getattr(standard_artifacts, type_name)()
    artifact.set_mlmd_artifact(proto)
    return artifact
