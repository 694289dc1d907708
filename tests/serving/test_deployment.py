"""TF Serving deployment assets: they parse, and agree with the config and the pins."""

import os
import re

import pytest
import yaml
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from hubtune.config import serving_defaults
from hubtune.serving import deployment
from hubtune.serving.tf_serving_protos import BatchingParameters, MonitoringConfig
from tests.conftest import REPO, make_config


def pinned(package: str) -> str:
    text = open(os.path.join(REPO, "requirements", "requirements.txt")).read()
    return re.search(rf"^{package}==(\S+)$", text, re.M).group(1)


@pytest.fixture(params=["local", "gcs"])
def assets(request, tmp_path):
    base = str(tmp_path / "serving") if request.param == "local" else "gs://bucket/models"
    config = make_config(serving={"model_name": "cells", "base_dir": base})
    written = deployment.write_assets(config, str(tmp_path / "assets"))
    return config, written


def test_config_files_parse_as_tf_serving_protos(assets):
    config, written = assets
    server = text_format.Parse(open(written["models.config"]).read(),
                               model_server_config_pb2.ModelServerConfig())
    [model] = server.model_config_list.config
    assert model.name == "cells" and model.model_platform == "tensorflow"
    assert model.model_version_policy.latest.num_versions == 2
    expected_base = ("gs://bucket/models/cells" if config.serving.base_dir.startswith("gs://")
                     else "/models/cells")
    assert model.base_path == expected_base
    batching = text_format.Parse(open(written["batching_parameters.txt"]).read(),
                                 BatchingParameters())
    assert batching.max_batch_size.value == serving_defaults.BATCHING["max_batch_size"]
    monitoring = text_format.Parse(open(written["monitoring.config"]).read(), MonitoringConfig())
    assert monitoring.prometheus_config.enable
    assert monitoring.prometheus_config.path == serving_defaults.PROMETHEUS_PATH


def test_image_matches_the_pinned_stack(assets):
    _, written = assets
    compose = yaml.safe_load(open(written["docker-compose.yml"]))
    image = compose["services"]["tf-serving"]["image"]
    name, tag = image.split(":")
    assert name == "tensorflow/serving"
    assert tag == pinned("tensorflow-serving-api")
    assert tag.split(".")[:2] == pinned("tensorflow").split(".")[:2]
    deployment_yaml = yaml.safe_load(open(written["kubernetes/deployment.yaml"]))
    assert deployment_yaml["spec"]["template"]["spec"]["containers"][0]["image"] == image


def test_ports_paths_and_names_agree(assets):
    config, written = assets
    compose = yaml.safe_load(open(written["docker-compose.yml"]))["services"]["tf-serving"]
    assert compose["ports"] == ["8500:8500", "8501:8501"]
    args = compose["command"]
    assert "--port=8500" in args and "--rest_api_port=8501" in args
    for flag, name in (("--model_config_file", "models.config"),
                       ("--batching_parameters_file", "batching_parameters.txt"),
                       ("--monitoring_config_file", "monitoring.config")):
        assert f"{flag}=/config/{name}" in args and name in written
    if config.serving.base_dir.startswith("gs://"):
        assert not any(v.endswith(":/models:ro") for v in compose["volumes"])
        assert "kubernetes/persistentvolumeclaim.yaml" not in written
    else:
        assert f"{config.serving.base_dir}:/models:ro" in compose["volumes"]
        assert "kubernetes/persistentvolumeclaim.yaml" in written

    deploy = yaml.safe_load(open(written["kubernetes/deployment.yaml"]))
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == args
    assert container["readinessProbe"]["httpGet"] == {"path": "/v1/models/cells", "port": 8501}
    assert {p["containerPort"] for p in container["ports"]} == {8500, 8501}
    configmap = yaml.safe_load(open(written["kubernetes/configmap.yaml"]))
    assert configmap["data"]["models.config"] == open(written["models.config"]).read()
    assert {v["configMap"]["name"] for v in deploy["spec"]["template"]["spec"]["volumes"]
            if "configMap" in v} == {configmap["metadata"]["name"]}
    service = yaml.safe_load(open(written["kubernetes/service.yaml"]))
    assert service["spec"]["selector"] == deploy["spec"]["selector"]["matchLabels"]
    hpa = yaml.safe_load(open(written["kubernetes/hpa.yaml"]))
    assert hpa["spec"]["scaleTargetRef"]["name"] == deploy["metadata"]["name"]
