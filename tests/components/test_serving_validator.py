"""ServingValidator (the InfraValidator stand-in) and the Pusher that requires its blessing:
real executors, a real exported model, a real `hubtune serve` process."""

import json
import os
import shutil

import tensorflow as tf
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from hubtune.components import atomic_pusher, serving_validator
from hubtune.trainer_module import warmup_requests
from tests.conftest import make_config


def _artifacts(tmp_path, model_dir, serving_images):
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    shutil.copytree(model_dir, os.path.join(model.uri, "Format-Serving"))
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    examples.split_names = json.dumps(["train", "eval"])
    os.makedirs(os.path.join(examples.uri, "Split-eval"))
    data = make_config().data
    with tf.io.TFRecordWriter(os.path.join(examples.uri, "Split-eval", "data.gz"),
                              options="GZIP") as writer:
        for image in serving_images:
            writer.write(warmup_requests.raw_example(image, data).SerializeToString())
    evaluation = standard_artifacts.ModelBlessing()
    evaluation.uri = str(tmp_path / "evaluation")
    evaluation.set_int_custom_property("blessed", 1)
    return model, examples, evaluation


def _validate(tmp_path, model, examples, evaluation):
    blessing = standard_artifacts.InfraBlessing()
    blessing.uri = str(tmp_path / "infra_blessing")
    os.makedirs(blessing.uri)
    serving_validator.Executor().Do(
        {"model": [model], "examples": [examples], "model_blessing": [evaluation]},
        {"blessing": [blessing]},
        {serving_validator.DATA_CONFIG_KEY: json.dumps(
            {"train": "x", "format": "tfrecord", "image_key": "image", "label_key": "label"})})
    return blessing


def _push(tmp_path, model, evaluation, blessing) -> str:
    base = str(tmp_path / "serving")
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / "pushed")
    os.makedirs(pushed.uri)
    destination = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=base))
    atomic_pusher.Executor().Do(
        {"model": [model], "model_blessing": [evaluation], "infra_blessing": [blessing]},
        {"pushed_model": [pushed]}, {"push_destination": proto_utils.proto_to_json(destination)})
    return base


def test_a_model_that_serves_is_infra_blessed_and_pushed(tmp_path, model_versions,
                                                         serving_images):
    model, examples, evaluation = _artifacts(tmp_path, model_versions[0], serving_images)
    blessing = _validate(tmp_path, model, examples, evaluation)
    assert blessing.get_int_custom_property("blessed") == 1
    assert set(os.listdir(blessing.uri)) == {"INFRA_BLESSED", "checks.txt"}
    base = _push(tmp_path, model, evaluation, blessing)
    assert len([v for v in os.listdir(base) if v.isdigit()]) == 1


def test_a_model_whose_warmup_fails_is_not_infra_blessed_and_not_pushed(
        tmp_path, model_versions, serving_images):
    model, examples, evaluation = _artifacts(tmp_path, model_versions[0], serving_images)
    warmup = os.path.join(model.uri, "Format-Serving", warmup_requests.WARMUP_DIR,
                          warmup_requests.WARMUP_FILE)
    logs = warmup_requests.warmup_logs(serving_images[:1], make_config().data)
    logs[0].predict_log.request.inputs["wrong_input"].CopyFrom(
        logs[0].predict_log.request.inputs.pop("images"))
    with tf.io.TFRecordWriter(warmup) as writer:
        writer.write(logs[0].SerializeToString())
    blessing = _validate(tmp_path, model, examples, evaluation)
    assert blessing.get_int_custom_property("blessed") == 0
    assert os.path.exists(os.path.join(blessing.uri, "INFRA_NOT_BLESSED"))
    reason = blessing.get_string_custom_property("reason")
    assert "failed to load" in reason and "wrong_input" in reason
    base = _push(tmp_path, model, evaluation, blessing)
    assert not os.path.exists(base) or not [v for v in os.listdir(base) if v.isdigit()]


def test_a_model_the_evaluator_did_not_bless_is_not_started(tmp_path, model_versions,
                                                            serving_images):
    model, examples, evaluation = _artifacts(tmp_path, model_versions[0], serving_images)
    evaluation.set_int_custom_property("blessed", 0)
    blessing = _validate(tmp_path, model, examples, evaluation)
    assert blessing.get_int_custom_property("blessed") == 0
    assert "Evaluator did not bless" in blessing.get_string_custom_property("reason")
